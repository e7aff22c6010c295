#!/usr/bin/env bats
# closewait trace selects as scan does (S29): --unit, --container, --net
# and --pid each pick one of two leaky servers (tests/tools/cwt_leaky.c,
# frame pointers) that live in network namespaces and cgroups of their own
# (containers_fixture.bash), and --all-netns finds both; a leak's JSON
# names its namespace and workload with scan's fields. Trace itself runs in
# the test's own namespace, each instance in a private mount namespace
# (its own tracefs), --grace 1s --interval 200ms. --all-netns sees the
# whole host (other tests run in parallel): assertions are on this file's
# pids, namespaces and ids only.
#
# S29.

bats_require_minimum_version 1.5.0
load containers_fixture

setup_file() {
	fx_init --cgroups
}

teardown_file() {
	fx_cleanup
}

setup() {
	SHELL_FDS=$(shell_fds $$)
}

teardown() {
	kill_bg
}

# tracing NAME OPTION...: closewait trace in the background, JSON lines in
# $BATS_TEST_TMPDIR/NAME.json, stderr in NAME.err; its pid in TRACERS.
# Returns once it started (its programs attached).
tracing() {
	local name=$1
	shift
	bg unshare -m sh -c \
		'umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug/tracing 2>/dev/null; exec "$@"' \
		trace "$CW" trace --grace 1s --interval 200ms "$@" \
		>"$BATS_TEST_TMPDIR/$name.json" 2>"$BATS_TEST_TMPDIR/$name.err"
	TRACERS="${TRACERS:-} $LAST_PID"
	wait_until "$(slack_ms 10000)" "grep -q '\"event\":\"started\"' '$BATS_TEST_TMPDIR/$name.json'"
}

# leaks NAME [PID]: the leak lines of trace NAME (of PID's sockets only).
leaks() {
	jq -c --argjson pid "${2:-0}" 'select(.event == "leak" and ($pid == 0 or .pid == $pid))' \
		"$BATS_TEST_TMPDIR/$1.json" 2>/dev/null || true
}
nleaks() { leaks "$@" | wc -l; }

@test "--unit, --container, --net NAME, --pid: each reports only its leaky server's leaks, from another network namespace, named as scan names them; --all-netns reports both; without a namespace option, this namespace only" {
	# A: a systemd service in a /run/netns namespace (ip netns exec execs it)
	unit=cw-trace-$FX_RUN.service
	fx_cgroup "system.slice/$unit"
	fx_ipnetns a
	ip netns exec "$FX_NETNS" ip link set lo up
	netns_a=$FX_NETNS
	fx_bg leaky-a "system.slice/$unit" - ip netns exec "$netns_a" "$T/cwt-leaky-fp" 8600 eof
	a=$FX_PID
	# B: a Docker container (systemd cgroup driver) in a namespace of its own
	id=$(fx_hex64)
	fx_cgroup "system.slice/docker-$id.scope"
	fx_bg leaky-b "system.slice/docker-$id.scope" new "$T/cwt-leaky-fp" 8600 never
	b=$FX_PID
	fx_wait_listen "$a" 8600
	fx_wait_listen "$b" 8600
	base_a=$(fd_count "$a")
	base_b=$(fd_count "$b")
	tracing unit --unit "$unit"
	tracing container --container "${id:0:12}"
	tracing net --net "$netns_a"
	tracing pid --pid "$b"
	# every namespace of a busy host holds many leaks: --comm keeps this
	# trace to the leaky servers
	tracing all --all-netns --comm cwt-leaky-fp
	tracing here --comm cwt-leaky-fp
	# one client at a time: the server serves one connection, then accepts
	fx_leak "$a" 8600 1
	fx_leak "$a" 8600 1
	fx_leak "$b" 8600 1
	wait_until "$(slack_ms 20000)" '[ "$(nleaks unit)" -ge 2 ] && [ "$(nleaks container)" -ge 1 ] && [ "$(nleaks net)" -ge 2 ] && [ "$(nleaks pid)" -ge 1 ] && [ "$(nleaks all "$a")" -ge 2 ] && [ "$(nleaks all "$b")" -ge 1 ]'
	# (a census of every namespace of a loaded host can take seconds)
	# one census more: nothing else comes
	sleep 0.5
	for p in $TRACERS; do
		stop_pid "$p"
		[ "$STOP_STATUS" -eq 0 ]
	done
	cat "$BATS_TEST_TMPDIR"/*.json >&2
	[ "$(nleaks unit)" -eq 2 ]
	[ "$(nleaks unit "$a")" -eq 2 ]
	[ "$(nleaks net)" -eq 2 ]
	[ "$(nleaks net "$a")" -eq 2 ]
	[ "$(nleaks container)" -eq 1 ]
	[ "$(nleaks container "$b")" -eq 1 ]
	[ "$(nleaks pid)" -eq 1 ]
	[ "$(nleaks pid "$b")" -eq 1 ]
	[ "$(nleaks all "$a")" -eq 2 ]
	[ "$(nleaks all "$b")" -eq 1 ]
	# this namespace has no leaky server: the others' are not seen
	[ "$(nleaks here)" -eq 0 ]
	run leaks all "$a"
	for l in "${lines[@]}"; do
		[ "$(jq -r .netns <<<"$l")" -eq "$(fx_netns_ino "$a")" ]
		[ "$(jq -r .netns_name <<<"$l")" = "$netns_a" ]
		[ "$(jq -r .systemd_unit <<<"$l")" = "$unit" ]
		[ "$(jq -r .cgroup <<<"$l")" = "${CG_PARENT#"$CG_MOUNT"}/system.slice/$unit" ]
		[ "$(jq -r .container_id <<<"$l")" = null ]
		[ "$(jq -r .why <<<"$l")" = eof-read ]
		[[ "$(jq -r .site <<<"$l")" == "created by accept() in accept_loop (cwt_leaky.c:"*") ← main"* ]]
	done
	run leaks all "$b"
	for l in "${lines[@]}"; do
		[ "$(jq -r .netns <<<"$l")" -eq "$(fx_netns_ino "$b")" ]
		[ "$(jq -r .netns_name <<<"$l")" = null ]
		[ "$(jq -r .container_id <<<"$l")" = "$id" ]
		[ "$(jq -r .container_runtime <<<"$l")" = docker ]
		[ "$(jq -r .systemd_unit <<<"$l")" = null ]
		[ "$(jq -r .why <<<"$l")" = never-read ]
		[[ "$(jq -r .site <<<"$l")" == "created by accept() in accept_loop (cwt_leaky.c:"*") ← main"* ]]
	done
	[ "$(fd_count "$a")" -eq $((base_a + 2)) ]
	[ "$(fd_count "$b")" -eq $((base_b + 1)) ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "usage: --net with --all-netns, a bad container id, a namespace or a process that does not exist (exit 2, nothing traced)" {
	usage_error '--net and --all-netns exclude each other' "$CW" trace --net x --all-netns
	usage_error '--container: "xyz" is not a container id' "$CW" trace --container xyz
	run -2 unshare -m "$CW" trace --net "closewait-test-$FX_RUN-none" --duration 5s
	[[ "$output" == *"--net closewait-test-$FX_RUN-none: no such network namespace"* ]]
	run -2 "$CW" trace --pid 2147483647 --duration 5s
	[[ "$output" == *"--pid 2147483647: no such process"* ]]
}

@test "cleanup: nothing of this file is left" {
	fx_cleanup
	fx_check_gone
}
