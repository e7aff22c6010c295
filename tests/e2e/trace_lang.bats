#!/usr/bin/env bats
# closewait trace (S28) in other languages and other mount namespaces:
# - a CPython server (tests/tools/cwt_pyleak.py): its native frames are the
#   interpreter's, so the report says they are unavailable, and still gives
#   pid, thread, exact age and why;
# - a Go server (tests/tools/goleak, built here: a static binary and a cgo
#   one): the frame-pointer walk gives the goroutine's stack, named with
#   lines; the headline is the Go function that called Accept (Go's runtime,
#   syscall, internal/ and net frames are not);
# - a C server whose binary exists only in its own mount namespace: named
#   through /proc/PID/map_files, with its build-id and file offsets, and the
#   report names it still after the server exited.
# Each trace runs in a private mount namespace whose tracefs is unmounted
# first (trace mounts its own), with --grace 1s --interval 200ms.

bats_require_minimum_version 1.5.0
load census_helpers
load trace_helpers

setup() {
	OUT=$BATS_TEST_TMPDIR/trace.json
	ERR=$BATS_TEST_TMPDIR/trace.err
	SHELL_FDS=$(shell_fds $$)
}

teardown() {
	kill_bg
}

# hidden_server PORT MODE: cwt-leaky-fp run from $hidden, a tmpfs mounted
# in a mount namespace of its own: its binary's path exists only there.
# Sets hidden, srv (its pid) and base (its fd count).
hidden_server() {
	hidden=$BATS_TEST_TMPDIR/hidden
	mkdir "$hidden"
	bg unshare -m --propagation private sh -c \
		'mount -t tmpfs none "$1" && cp "$2" "$1/" && exec "$1/cwt-leaky-fp" "$3" "$4"' \
		x "$hidden" "$T/cwt-leaky-fp" "$1" "$2"
	srv=$LAST_PID
	wait_listen "$1"
	base=$(fd_count "$srv")
}

@test "a CPython server, EOF read and never read (in a thread named acceptor): pid, thread, exact age and why, and 'interpreter: native frames unavailable' instead of the interpreter's frames as the site" {
	bg python3 "$CW_SRC/tests/tools/cwt_pyleak.py" 8600 eof
	eof=$LAST_PID
	bg python3 "$CW_SRC/tests/tools/cwt_pyleak.py" 8601 never acceptor
	never=$LAST_PID
	wait_listen 8600
	wait_listen 8601
	base_eof=$(fd_count "$eof")
	base_never=$(fd_count "$never")
	tracing --comm python3
	"$T/cw_clients" 127.0.0.1 8600 1 --send hello >/dev/null
	"$T/cw_clients" 127.0.0.1 8601 1 --send hello >/dev/null
	wait_until "$(slack_ms 6000)" '[ "$(nleaks)" -ge 2 ]'
	stop_tracer
	[ "$STOP_STATUS" -eq 0 ]
	cat "$OUT" >&2
	run leaks
	[ "${#lines[@]}" -eq 2 ]
	py=$(basename "$(readlink "/proc/$eof/exe")")
	[[ "$py" == python3* ]]
	# the thread that accepted: the main one, or the one named acceptor
	acceptor=$(grep -l '^acceptor$' /proc/"$never"/task/*/comm | cut -d/ -f5)
	[ -n "$acceptor" ]
	[ "$acceptor" -ne "$never" ]
	[ "$(leak_of "$eof" | jq -r .tid)" -eq "$eof" ]
	[ "$(leak_of "$eof" | jq -r .thread)" = python3 ]
	[ "$(leak_of "$never" | jq -r .tid)" -eq "$acceptor" ]
	[ "$(leak_of "$never" | jq -r .thread)" = acceptor ]
	for pid in "$eof" "$never"; do
		l=$(leak_of "$pid")
		[ "$(jq -r .command <<<"$l")" = python3 ]
		[ "$(jq -r .created_by <<<"$l")" = accept ]
		[ "$(jq -r .age_exact <<<"$l")" = true ]
		[ "$(jq -r '.age_min >= 1' <<<"$l")" = true ]
		[ "$(jq -r .stack_truncated <<<"$l")" = true ]
		[ "$(jq -r .stack_note <<<"$l")" = "interpreter: native frames unavailable" ]
		[ "$(jq -r .site <<<"$l")" = "created by accept() in $py cwt_pyleak.py (interpreter: native frames unavailable)" ]
	done
	[ "$(leak_of "$eof" | jq -r .why)" = eof-read ]
	[ "$(leak_of "$never" | jq -r .why)" = never-read ]
	# one site for both, counted by why
	run jq -r 'select(.event == "summary") | .groups[] | .headline' "$OUT"
	[ "${#lines[@]}" -eq 1 ]
	[ "$output" = "2 sockets in CLOSE_WAIT, created by accept() in $py cwt_pyleak.py (interpreter: native frames unavailable), 1 never read after the peer's FIN, 1 read the EOF and not closed" ]
	[ "$(fd_count "$eof")" -eq $((base_eof + 1)) ]
	[ "$(fd_count "$never")" -eq $((base_never + 1)) ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "a CPython command (-c) is named 'python -c', not by its source; the argument of -W or -X is not taken for the script" {
	bg python3 -X utf8 -c "exec(open('$CW_SRC/tests/tools/cwt_pyleak.py').read())" 8602 never
	cmd=$LAST_PID
	bg python3 -W ignore "$CW_SRC/tests/tools/cwt_pyleak.py" 8603 never
	opt=$LAST_PID
	wait_listen 8602
	wait_listen 8603
	base_cmd=$(fd_count "$cmd")
	base_opt=$(fd_count "$opt")
	tracing --comm python3
	"$T/cw_clients" 127.0.0.1 8602 1 --send hello >/dev/null
	"$T/cw_clients" 127.0.0.1 8603 1 --send hello >/dev/null
	wait_until "$(slack_ms 6000)" '[ "$(nleaks)" -ge 2 ]'
	stop_tracer
	[ "$STOP_STATUS" -eq 0 ]
	cat "$OUT" >&2
	py=$(basename "$(readlink "/proc/$cmd/exe")")
	[[ "$py" == python3* ]]
	[ "$(leak_of "$cmd" | jq -r .site)" = "created by accept() in $py -c (interpreter: native frames unavailable)" ]
	[ "$(leak_of "$opt" | jq -r .site)" = "created by accept() in $py cwt_pyleak.py (interpreter: native frames unavailable)" ]
	[ "$(fd_count "$cmd")" -eq $((base_cmd + 1)) ]
	[ "$(fd_count "$opt")" -eq $((base_opt + 1)) ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "on a terminal, a CPython leak's summary names the thread and says the native frames are unavailable, with no interpreter frame" {
	bg python3 "$CW_SRC/tests/tools/cwt_pyleak.py" 8602 never
	srv=$LAST_PID
	wait_listen 8602
	base=$(fd_count "$srv")
	tracing_on_pty 3s --pid "$srv"
	"$T/cw_clients" 127.0.0.1 8602 1 --send hello >/dev/null
	wait "$PTY"
	cat "$OUT" >&2
	grep -q "^  pid $srv (python3) fd [0-9]* .*: CLOSE_WAIT since .*never-read" "$OUT"
	grep -q "^      created .* by thread $srv (python3)" "$OUT"
	grep -q "^      \.\.\. interpreter: native frames unavailable (python3[.0-9]* cwt_pyleak.py)" "$OUT"
	[ "$(grep -c -e '^      at ' -e '^      <- ' "$OUT")" -eq 0 ]
	[ "$(fd_count "$srv")" -eq $((base + 1)) ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

# go_build OUT FILE...: the Go fixture built offline with the standard
# library only, its caches under the test's directory.
go_build() {
	local out=$1
	shift
	if ! command -v go >/dev/null; then
		echo "golang-go missing (scripts/bootstrap installs it in the test profile)" >&2
		return 1
	fi
	(cd "$BATS_TEST_TMPDIR" && env GOCACHE="$BATS_TEST_TMPDIR/gocache" GOPATH="$BATS_TEST_TMPDIR/gopath" \
		GOPROXY=off GOFLAGS= GO111MODULE= "$@" go build -o "$out" \
		"$CW_SRC/tests/tools/goleak/main.go" ${GO_CGO:+"$CW_SRC/tests/tools/goleak/cgo.go"})
}

@test "Go servers, a static build and a cgo one (KeepAlive -1, connections kept): the whole goroutine stack named with lines, the headline main.acceptLoop that called Accept" {
	go_build "$BATS_TEST_TMPDIR/cwt-goleak" CGO_ENABLED=0
	GO_CGO=1 go_build "$BATS_TEST_TMPDIR/cwt-goleak-cgo" CGO_ENABLED=1
	# static: no program interpreter; cgo: the C library's loader
	[ "$(readelf -lW "$BATS_TEST_TMPDIR/cwt-goleak" | grep -c 'Requesting program interpreter')" -eq 0 ]
	[ "$(readelf -lW "$BATS_TEST_TMPDIR/cwt-goleak-cgo" | grep -c 'Requesting program interpreter')" -eq 1 ]
	bg "$BATS_TEST_TMPDIR/cwt-goleak" 8603 never
	static=$LAST_PID
	bg "$BATS_TEST_TMPDIR/cwt-goleak-cgo" 8604 eof
	cgo=$LAST_PID
	wait_listen 8603
	wait_listen 8604
	base_static=$(fd_count "$static")
	base_cgo=$(fd_count "$cgo")
	tracing
	"$T/cw_clients" 127.0.0.1 8603 1 --send hello >/dev/null
	"$T/cw_clients" 127.0.0.1 8604 1 --send hello >/dev/null
	wait_until "$(slack_ms 6000)" '[ "$(leak_of "$static" | wc -l)" -ge 1 ] && [ "$(leak_of "$cgo" | wc -l)" -ge 1 ]'
	stop_tracer
	[ "$STOP_STATUS" -eq 0 ]
	cat "$OUT" >&2
	accept_line=$(grep -n 'l.Accept()' "$CW_SRC/tests/tools/goleak/main.go" | cut -d: -f1)
	main_line=$(grep -n 'acceptLoop(l, ' "$CW_SRC/tests/tools/goleak/main.go" | cut -d: -f1)
	for pid in "$static" "$cgo"; do
		l=$(leak_of "$pid")
		[ "$(jq -r .created_by <<<"$l")" = accept ]
		[ "$(jq -r .site <<<"$l")" = "created by accept() in main.acceptLoop (main.go:$accept_line) ← main.main (main.go:$main_line)" ]
		# the walk reached the goroutine's start: nothing cut
		[ "$(jq -r .stack_truncated <<<"$l")" = false ]
		[ "$(jq -r .stack_note <<<"$l")" = null ]
		[ "$(jq -r '.stack[-1].function' <<<"$l")" = runtime.goexit.abi0 ]
		# Accept's own frames, below the headline, are there and named
		[ "$(jq -r '[.stack[].function] | index("main.acceptLoop") as $i | .[$i - 1]' <<<"$l")" = "net.(*TCPListener).Accept" ]
		[ "$(jq -r '[.stack[] | select(.function == "internal/poll.(*FD).Accept")][0].file' <<<"$l")" = fd_unix.go ]
	done
	[ "$(leak_of "$static" | jq -r .why)" = never-read ]
	[ "$(leak_of "$cgo" | jq -r .why)" = eof-read ]
	# Go did not close them: keepalive off, references kept
	[ "$(owned_in_state close-wait 8603 "$static")" -eq 1 ]
	[ "$(owned_in_state close-wait 8604 "$cgo")" -eq 1 ]
	[ "$(fd_count "$static")" -eq $((base_static + 1)) ]
	[ "$(fd_count "$cgo")" -eq $((base_cgo + 1)) ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "a server whose binary exists only in its own mount namespace: named through /proc/PID/map_files with its build-id and file offsets, and still named after it exited" {
	hidden_server 8605 eof
	# the path the server runs from is not in ours (nor in trace's)
	[ "$(readlink "/proc/$srv/exe")" = "$hidden/cwt-leaky-fp" ]
	[ ! -e "$hidden/cwt-leaky-fp" ]
	tracing --comm cwt-leaky-fp
	"$T/cw_clients" 127.0.0.1 8605 1 --send hello >/dev/null
	wait_until "$(slack_ms 6000)" '[ "$(nleaks)" -ge 1 ]'
	[ "$(fd_count "$srv")" -eq $((base + 1)) ]
	stop_pid "$srv"
	wait_until "$(slack_ms 3000)" "grep -q '\"event\":\"leak_end\"' '$OUT'"
	stop_tracer
	[ "$STOP_STATUS" -eq 0 ]
	cat "$OUT" >&2
	l=$(leaks)
	[ "$(jq -r .pid <<<"$l")" -eq "$srv" ]
	[[ "$(jq -r .site <<<"$l")" == "created by accept() in accept_loop (cwt_leaky.c:"*") ← main (cwt_leaky.c:"*")" ]]
	# the build-id of the file it ran, and the offset in it of the return
	# address into accept_loop (its code's offsets are its addresses)
	id=$(readelf -n "$T/cwt-leaky-fp" | awk '/Build ID/ { print $3 }')
	[ -n "$id" ]
	f=$(jq -c '[.stack[] | select(.function == "accept_loop")][0]' <<<"$l")
	[ "$(jq -r .build_id <<<"$f")" = "$id" ]
	readelf -lW "$T/cwt-leaky-fp" | awk '$1 == "LOAD" && $7 ~ /E/ { exit !($2 == $3) }'
	off=$(jq -r .file_offset <<<"$f")
	[ "$(addr2line -f -e "$T/cwt-leaky-fp" "$(printf '0x%x' $((off - 1)))" | head -n1)" = accept_loop ]
	# after the owner's exit: the leak ended, the summary names the code
	[ "$(jq -r 'select(.event == "leak_end") | .owner_exited' "$OUT")" = true ]
	[[ "$(jq -r 'select(.event == "summary") | .groups[0].site' "$OUT")" == "created by accept() in accept_loop (cwt_leaky.c:"*") ← main (cwt_leaky.c:"*")" ]]
	[ "$(jq -r 'select(.event == "summary") | .groups[0].owner_exited' "$OUT")" -eq 1 ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "without CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE (/proc/PID/map_files refused): a binary only in its own mount namespace named through /proc/PID/root" {
	hidden_server 8606 never
	[ ! -e "$hidden/cwt-leaky-fp" ]
	nocaps=(setpriv --bounding-set -sys_admin,-checkpoint_restore --inh-caps -sys_admin,-checkpoint_restore)
	mapping=$(ls "/proc/$srv/map_files" | head -n1)
	run -1 "${nocaps[@]}" cat "/proc/$srv/map_files/$mapping"
	[[ "$output" == *"Operation not permitted"* ]]
	# tracefs mounted beforehand: mounting it would need CAP_SYS_ADMIN
	bg unshare -m sh -c \
		'mountpoint -q /sys/kernel/tracing || mount -t tracefs none /sys/kernel/tracing; exec "$@"' \
		x "${nocaps[@]}" "$CW" trace --json --comm cwt-leaky-fp --grace 1s --interval 200ms >"$OUT" 2>"$ERR"
	TRACER=$LAST_PID
	wait_until "$(slack_ms 10000)" "grep -q '\"event\":\"started\"' '$OUT'"
	"$T/cw_clients" 127.0.0.1 8606 1 --send hello >/dev/null
	wait_until "$(slack_ms 6000)" '[ "$(nleaks)" -ge 1 ]'
	stop_tracer
	[ "$STOP_STATUS" -eq 0 ]
	cat "$OUT" "$ERR" >&2
	l=$(leaks)
	[ "$(jq -r .pid <<<"$l")" -eq "$srv" ]
	[ "$(jq -r .why <<<"$l")" = never-read ]
	[[ "$(jq -r .site <<<"$l")" == "created by accept() in accept_loop (cwt_leaky.c:"*") ← main (cwt_leaky.c:"*")" ]]
	[ "$(fd_count "$srv")" -eq $((base + 1)) ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}
