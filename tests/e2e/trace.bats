#!/usr/bin/env bats
# closewait trace (S28): eBPF tracing of the classic leaky server
# (tests/tools/cwt_leaky.c) built with frame pointers (cwt-leaky-fp) and
# without (cwt-leaky-nofp), and a client pool that keeps connections the
# server closed (cwt-pool). Each trace runs in a private mount namespace
# whose tracefs is unmounted first, so trace mounts its own (and the host's
# mounts stay as they were). Every trace runs with --grace 1s --interval 200ms.

bats_require_minimum_version 1.5.0
load census_helpers
load trace_helpers

GRACE_MS=1000

setup() {
	OUT=$BATS_TEST_TMPDIR/trace.json
	ERR=$BATS_TEST_TMPDIR/trace.err
	SHELL_FDS=$(shell_fds $$)
}

teardown() {
	kill_bg
	[ -z "${SERVER_PID:-}" ] || stop_pid "$SERVER_PID"
}

# ms_of ISO: epoch milliseconds of an ISO 8601 time.
ms_of() { date -d "$1" +%s%3N; }

# leaky NAME PORT MODE: the leaky server NAME listening; sets LEAKY, BASE.
leaky() {
	bg "$T/$1" "$2" "$3"
	LEAKY=$LAST_PID
	wait_listen "$2"
	BASE=$(fd_count "$LEAKY")
}

@test "eof-read leaks of a frame-pointer build: each reported once, why eof-read with the EOF time, the stack naming accept_loop <- main, close_wait_since between the peer's close and 20 ms after" {
	leaky cwt-leaky-fp 8400 eof
	tracing --pid "$LEAKY"
	# cw_clients prints the wall clock just before and just after its close();
	# it waits 300 ms between its message's answer and the close, so that
	# the accept, the server's reads of data and its EOF read fall in
	# different milliseconds
	read -r _ t0 _ < <("$T/cw_clients" 127.0.0.1 8400 1 --send hello --idle 300)
	read -r _ _ t1 < <("$T/cw_clients" 127.0.0.1 8400 1 --send hello --idle 300)
	wait_until "$(slack_ms 6000)" '[ "$(nleaks)" -ge 2 ]'
	# reported once: two more censuses add nothing
	sleep 0.5
	stop_tracer
	[ "$STOP_STATUS" -eq 0 ]
	cat "$OUT" >&2
	run leaks
	[ "${#lines[@]}" -eq 2 ]
	for l in "${lines[@]}"; do
		[ "$(jq -r .pid <<<"$l")" -eq "$LEAKY" ]
		[ "$(jq -r .why <<<"$l")" = eof-read ]
		[ "$(jq -r .created_by <<<"$l")" = accept ]
		[ "$(jq -r .age_exact <<<"$l")" = true ]
		entry=$(ms_of "$(jq -r .close_wait_since <<<"$l")")
		echo "t0 $t0 entry $entry t1 $t1" >&2
		[ "$entry" -ge "$t0" ]
		[ "$entry" -le $((t1 + $(slack_ms 20))) ]
		eof=$(ms_of "$(jq -r .eof_read_at <<<"$l")")
		[ "$eof" -ge "$entry" ]
		[ "$eof" -le $((t1 + $(slack_ms 20))) ]
		# the headline frame: the caller of accept(), which glibc's frameless
		# wrapper hides from the frame-pointer walk (the fix-up)
		[ "$(jq -r '[.stack[] | select(.module | startswith("libc") | not)][0].function' <<<"$l")" = accept_loop ]
		[ "$(jq -r '[.stack[] | select(.module | startswith("libc") | not)][0].file' <<<"$l")" = cwt_leaky.c ]
		[ "$(jq -r '[.stack[] | select(.module | startswith("libc") | not)][1].function' <<<"$l")" = main ]
		[ "$(jq -r .stack_truncated <<<"$l")" = false ]
		[[ "$(jq -r .site <<<"$l")" == "created by accept() in accept_loop (cwt_leaky.c:"*") ← main"* ]]
	done
	[ "$(jq -r 'select(.event == "summary") | .groups[0].headline' "$OUT")" = \
		"$(jq -r 'select(.event == "summary") | "2 sockets in CLOSE_WAIT, " + .groups[0].site + ", 2 read the EOF and not closed"' "$OUT")" ]
	[ "$(owned_in_state close-wait 8400 "$LEAKY")" -eq 2 ]
	[ "$(fd_count "$LEAKY")" -eq $((BASE + 2)) ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "never-read leaks: why never-read, no EOF time, grouped under one site with the count in the headline" {
	leaky cwt-leaky-fp 8401 never
	tracing --pid "$LEAKY"
	for i in 1 2 3; do
		"$T/cw_clients" 127.0.0.1 8401 1 --send hello >/dev/null
	done
	wait_until "$(slack_ms 6000)" '[ "$(nleaks)" -ge 3 ]'
	stop_tracer
	[ "$STOP_STATUS" -eq 0 ]
	cat "$OUT" >&2
	run leaks
	[ "${#lines[@]}" -eq 3 ]
	for l in "${lines[@]}"; do
		[ "$(jq -r .why <<<"$l")" = never-read ]
		[ "$(jq -r .eof_read_at <<<"$l")" = null ]
	done
	run jq -r 'select(.event == "summary") | .groups[] | .headline' "$OUT"
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "3 sockets in CLOSE_WAIT, created by accept() in accept_loop (cwt_leaky.c:"*") ← main"*", 3 never read after the peer's FIN" ]]
	[ "$(fd_count "$LEAKY")" -eq $((BASE + 3)) ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "a client's pool keeping connections the server closed: created by connect() in pool_connect <- main, never-read; a zero-length recv the FIN wakes, and a zero-length read, not taken for the EOF" {
	start_server 8407 --idle 300ms
	tracing --comm cwt-pool
	bg "$T/cwt-pool" 8407 1 --zero-read >"$BATS_TEST_TMPDIR/pool.out"
	pool=$LAST_PID
	wait_until "$(slack_ms 5000)" "grep -q zero-read '$BATS_TEST_TMPDIR/pool.out'"
	wait_until "$(slack_ms 6000)" '[ "$(nleaks)" -ge 1 ]'
	stop_tracer
	[ "$STOP_STATUS" -eq 0 ]
	cat "$OUT" >&2
	run leaks
	[ "${#lines[@]}" -eq 1 ]
	for l in "${lines[@]}"; do
		[ "$(jq -r .pid <<<"$l")" -eq "$pool" ]
		[ "$(jq -r .created_by <<<"$l")" = connect ]
		[ "$(jq -r .why <<<"$l")" = never-read ]
		# the zero-length recv and read returned 0 but left the FIN unread
		[ "$(jq -r .eof_read_at <<<"$l")" = null ]
		[[ "$(jq -r .site <<<"$l")" == "created by connect() in pool_connect (cwt_pool.c:"*") ← main"* ]]
	done
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "a build without frame pointers: the direct caller of accept() from the fix-up, the rest marked truncated" {
	leaky cwt-leaky-nofp 8402 eof
	tracing --pid "$LEAKY"
	"$T/cw_clients" 127.0.0.1 8402 1 --send hello >/dev/null
	wait_until "$(slack_ms 6000)" '[ "$(nleaks)" -ge 1 ]'
	stop_tracer
	[ "$STOP_STATUS" -eq 0 ]
	l=$(leaks)
	echo "$l" >&2
	[ "$(jq -r '[.stack[] | select(.caller_fixup)][0].function' <<<"$l")" = accept_loop ]
	[ "$(jq -r '[.stack[] | select(.module | startswith("libc") | not)][0].function' <<<"$l")" = accept_loop ]
	[ "$(jq -r .stack_truncated <<<"$l")" = true ]
	[[ "$(jq -r .site <<<"$l")" == "created by accept() in accept_loop (cwt_leaky.c:"*") (stack truncated: no frame pointers)" ]]
	[ "$(jq -r .why <<<"$l")" = eof-read ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "--no-eof-times (as on Linux 6.1): said once, no EOF times, why from Recv-Q, the rest unchanged" {
	leaky cwt-leaky-fp 8403 eof
	tracing --no-eof-times --pid "$LEAKY"
	read -r _ t0 t1 < <("$T/cw_clients" 127.0.0.1 8403 1 --send hello)
	bg "$T/cwt-leaky-fp" 8404 never
	never=$LAST_PID
	wait_listen 8404
	"$T/cw_clients" 127.0.0.1 8404 1 --send hello >/dev/null
	wait_until "$(slack_ms 6000)" '[ "$(nleaks)" -ge 1 ]'
	sleep 1.5
	stop_tracer
	[ "$STOP_STATUS" -eq 0 ]
	cat "$ERR" >&2
	[ "$(grep -c 'no EOF read times' "$ERR")" -eq 1 ]
	# --pid: the other server's leak is not this trace's
	run leaks
	[ "${#lines[@]}" -eq 1 ]
	l=${lines[0]}
	[ "$(jq -r .why <<<"$l")" = eof-read ]
	[ "$(jq -r .eof_read_at <<<"$l")" = null ]
	entry=$(ms_of "$(jq -r .close_wait_since <<<"$l")")
	[ "$entry" -ge "$t0" ]
	[ "$entry" -le $((t1 + $(slack_ms 20))) ]
	[[ "$(jq -r .site <<<"$l")" == "created by accept() in accept_loop (cwt_leaky.c:"*") ← main"* ]]
	[ "$(jq -r 'select(.event == "summary") | .eof_read_times' "$OUT")" = false ]
	[ "$(owned_in_state close-wait 8404 "$never")" -eq 1 ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "sockets created before trace started: one already in CLOSE_WAIT (the census's age range), one entering it while traced (its exact entry time); neither has a stack" {
	leaky cwt-leaky-fp 8405 never
	"$T/cw_clients" 127.0.0.1 8405 1 --send hello >/dev/null
	wait_until "$(slack_ms 2000)" '[ "$(owned_in_state close-wait 8405 "$LEAKY")" -eq 1 ]'
	old=$(ss -Htan state close-wait "( sport = :8405 )" | awk '{ print $NF }')
	# the second is accepted now, and closed by its peer once trace runs
	bg "$T/cw_clients" 127.0.0.1 8405 1 --send hello --idle "$(slack_ms 3000)"
	wait_until "$(slack_ms 2000)" '[ "$(owned_in_state established 8405 "$LEAKY")" -eq 1 ]'
	tracing --comm cwt-leaky-fp
	started=$(now_ms)
	wait_until "$(slack_ms 8000)" '[ "$(nleaks)" -ge 2 ]'
	stop_tracer
	[ "$STOP_STATUS" -eq 0 ]
	cat "$OUT" >&2
	run leaks
	[ "${#lines[@]}" -eq 2 ]
	for l in "${lines[@]}"; do
		[ "$(jq -r .pid <<<"$l")" -eq "$LEAKY" ]
		[ "$(jq -r .created_before_trace <<<"$l")" = true ]
		[ "$(jq -r .site <<<"$l")" = "created before trace started" ]
		[ "$(jq -r 'has("stack")' <<<"$l")" = false ]
		[ "$(jq -r .why <<<"$l")" = never-read ]
		if [ "$(jq -r .peer <<<"$l")" = "$old" ]; then
			[ "$(jq -r .age_exact <<<"$l")" = false ]
			[ "$(jq -r .age_source <<<"$l")" = census ]
			[ "$(jq -r .close_wait_since <<<"$l")" = null ]
		else
			[ "$(jq -r .age_exact <<<"$l")" = true ]
			[ "$(jq -r .age_source <<<"$l")" = trace ]
			entry=$(ms_of "$(jq -r .close_wait_since <<<"$l")")
			[ "$entry" -ge "$started" ]
		fi
	done
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "on a terminal: the headline of each site, redrawn, and a summary with the stack at the end" {
	leaky cwt-leaky-fp 8406 eof
	tracing_on_pty 4s --pid "$LEAKY"
	"$T/cw_clients" 127.0.0.1 8406 1 --send hello >/dev/null
	wait "$PTY"
	cat "$OUT" >&2
	grep -q "1 socket in CLOSE_WAIT, created by accept() in accept_loop (cwt_leaky.c:[0-9]*) ← main (cwt_leaky.c:[0-9]*), 1 read the EOF and not closed" "$OUT"
	grep -q "Summary: 1 socket reported in CLOSE_WAIT, 1 site" "$OUT"
	grep -q "<- accept_loop (cwt_leaky.c:[0-9]*) (caller recovered)" "$OUT"
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "without CAP_BPF, CAP_PERFMON or CAP_SYS_ADMIN: exit 2 naming the capability, nothing loaded" {
	run -2 setpriv --bounding-set -bpf,-sys_admin --inh-caps -bpf,-sys_admin "$CW" trace --duration 1s
	[[ "$output" == *"needs CAP_BPF (or root)"* ]]
	run -2 setpriv --bounding-set -perfmon,-sys_admin --inh-caps -perfmon,-sys_admin "$CW" trace --duration 1s
	[[ "$output" == *"needs CAP_PERFMON (or root)"* ]]
	run -2 unshare -m sh -c 'umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug/tracing 2>/dev/null; exec setpriv --bounding-set -sys_admin --inh-caps -sys_admin "$@"' trace "$CW" trace --duration 1s
	[[ "$output" == *"needs CAP_SYS_ADMIN to mount tracefs"* ]]
}

@test "usage: --help, a bad duration, an unknown option, a long --comm" {
	run -0 "$CW" trace --help
	[[ "$output" == *"--grace D"* ]]
	usage_error '--grace: invalid duration "x"' "$CW" trace --grace x
	usage_error 'unknown option' "$CW" trace --bogus
	usage_error '--comm: invalid command name' "$CW" trace --comm a-name-longer-than-15
}
