#!/usr/bin/env bats
# closewait trace --pin (S28): its records pinned on a bpffs while it runs,
# so that scan shows exact CLOSE_WAIT ages (age_source "trace") where the
# kernel's times give a range; the pins removed at SIGTERM and SIGINT; a
# killed instance's pins detected and replaced; scan without CAP_BPF says
# once that they are not readable. Each test has its own bpffs: a mount
# namespace (unshare -m, held by a sleeping process) with a bpffs mounted
# on /sys/fs/bpf, entered with nsenter, so parallel tests cannot collide.

bats_require_minimum_version 1.5.0
load census_helpers
load bpffs_fixture

# the pins of instance NAME, as `ls` lists them in the test's bpffs
pins() { inns ls "$ROOT/${1:-}" 2>/dev/null | sort | paste -sd' ' -; }

# owner_pid NAME: the pid instance NAME's owner map names (its first four
# bytes, little-endian: the map has no BTF, bpftool gives hex bytes)
owner_pid() {
	local -a b
	mapfile -t b < <(inns bpftool map dump pinned "$ROOT/$1/owner" -j | jq -r '.[0].value[0:4][]')
	echo $((b[0] + 256 * b[1] + 65536 * b[2] + 16777216 * b[3]))
}

# scan_json [SETPRIV OPTION...]: scan of port 8500's CLOSE_WAIT sockets in
# the test's namespace, JSON on stdout, stderr in $BATS_TEST_TMPDIR/scan.err.
scan_json() {
	local -a priv=()
	[ $# -eq 0 ] || priv=(setpriv "$@")
	inns ${priv[@]+"${priv[@]}"} "$CW" scan --state close-wait --port 8500 --json \
		2>"$BATS_TEST_TMPDIR/scan.err" || true
}

@test "with --pin, scan --json gives the exact age (age_exact true, age_source trace) of a socket whose age is a range without the pins; without CAP_BPF scan says once that the pins are not readable" {
	# keepalive probes answered after the FIN reset lastack: a range
	leak_server 8500 --keepalive 1:1:2
	pinned t1
	# a second instance, so that "once" means once for all of them
	bg nsenter -t "$HOLDER" -m "$CW" trace --pin t2 --grace 1h --interval 1s --json >/dev/null 2>&1
	second=$LAST_PID
	wait_until "$(slack_ms 10000)" '[ "$(pins t2)" = "owner procs socks" ]'
	out=$("$T/cw_clients" 127.0.0.1 8500 1 --send hello)
	read -r _ c0 c1 <<<"$out"
	wait_until "$(slack_ms 8000)" '[ "$(scan_json "${NOBODY[@]}" | jq -r ".sockets[0].age_exact")" = false ]'
	t0=$(now_ms)
	with=$(scan_json)
	t1=$(now_ms)
	without=$(scan_json "${NOBODY[@]}")
	echo "with pins: $with" >&2
	echo "without: $without" >&2
	cat "$BATS_TEST_TMPDIR/scan.err" >&2
	[ "$(jq -r '.sockets | length' <<<"$without")" -eq 1 ]
	[ "$(jq -r '.sockets[0].age_exact' <<<"$without")" = false ]
	[ "$(jq -r '.sockets[0].age_source' <<<"$without")" = census ]
	[ "$(grep -c 'the pins of closewait trace in /sys/fs/bpf/closewait are not readable without CAP_BPF' "$BATS_TEST_TMPDIR/scan.err")" -eq 1 ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/scan.err")" -eq 1 ]
	[ "$(jq -r '.sockets | length' <<<"$with")" -eq 1 ]
	[ "$(jq -r '.sockets[0].age_exact' <<<"$with")" = true ]
	[ "$(jq -r '.sockets[0].age_source' <<<"$with")" = trace ]
	# the age the trace recorded lies between the clients' close and the scan
	age=$(jq -r '.sockets[0].age_min * 1000 | floor' <<<"$with")
	[ "$(jq -r '.sockets[0].age_max * 1000 | floor' <<<"$with")" -eq "$age" ]
	[ "$age" -ge $((t0 - c1 - 20)) ]
	[ "$age" -le $((t1 - c0 + $(slack_ms 20))) ]
	# the range without the pins holds it (the kernel's view agrees)
	[ "$(jq -r '.sockets[0].lastack_ms' <<<"$with")" -lt "$age" ]
	stop_pid "$TRACER"
	[ "$STOP_STATUS" -eq 0 ]
	stop_pid "$second" INT
	[ "$STOP_STATUS" -eq 0 ]
	# no trace: the range again
	[ "$(scan_json | jq -r '.sockets[0].age_source')" = census ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "the pins and the programs go when trace ends at SIGTERM and at SIGINT" {
	for sig in TERM INT; do
		pinned "t-$sig" --json
		[ "$(pins "t-$sig")" = "owner procs socks" ]
		# its programs, those that use its pinned map (other tests'
		# traces may run beside it)
		map=$(inns bpftool map show pinned "$ROOT/t-$sig/socks" -j | jq .id)
		ids=$(bpftool prog show -j | jq -r --argjson m "$map" '.[] | select(any(.map_ids[]?; . == $m)) | .id')
		[ -n "$ids" ]
		stop_pid "$TRACER" "$sig"
		[ "$STOP_STATUS" -eq 0 ]
		[ -z "$(pins)" ]
		for id in $ids; do
			run -255 bpftool prog show id "$id"
		done
		grep -q '"event":"summary"' "$OUT"
	done
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "a killed instance's pins are stale: scan skips them, a new trace replaces them; a live instance's are refused" {
	leak_server 8500 --keepalive 1:1:2
	pinned t1
	old=$TRACER
	stop_pid "$TRACER" KILL
	[ "$(pins t1)" = "owner procs socks" ]
	"$T/cw_clients" 127.0.0.1 8500 1 --send hello >/dev/null
	wait_until "$(slack_ms 4000)" '[ "$(scan_json | jq -r ".sockets | length")" -eq 1 ]'
	[ "$(scan_json | jq -r '.sockets[0].age_source')" = census ]
	[ ! -s "$BATS_TEST_TMPDIR/scan.err" ]
	pinned t1 --json
	[ "$(pins t1)" = "owner procs socks" ]
	pid=$(owner_pid t1)
	[ "$pid" -eq "$TRACER" ]
	[ "$pid" -ne "$old" ]
	run -1 inns "$CW" trace --pin t1 --duration 1s
	[[ "$output" == *"--pin: /sys/fs/bpf/closewait/t1 is in use by another closewait trace (pid $TRACER)"* ]]
	[ "$(pins t1)" = "owner procs socks" ]
	stop_pid "$TRACER"
	[ "$STOP_STATUS" -eq 0 ]
	[ -z "$(pins)" ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "--pin: an empty name is a usage error; a directory outside a bpf file system is refused" {
	usage_error '--pin: invalid name ""' "$CW" trace --pin ''
	run -1 inns "$CW" trace --pin "$BATS_TEST_TMPDIR/x/y" --duration 1s
	[[ "$output" == *"is not on a bpf file system"* ]]
}
