#!/usr/bin/env bats
# closewait guard reading its sockets' states from the kernel's dump
# (sock_diag, filtered to CLOSE_WAIT) instead of asking each socket, as it
# does for a process that tracks many: --dump-above 0 forces it here. In a
# cgroup of its own the guard has the kernel filter the dump by that cgroup
# too, unless its sockets carry another one (accepted from a listener made
# in another cgroup). Every test runs with --grace 2s --interval 1s.

bats_require_minimum_version 1.5.0
load guard_fixture
load containers_fixture

setup_file() {
	fx_init --cgroups
}

teardown_file() {
	fx_cleanup
}

setup() {
	REPORT=$BATS_TEST_TMPDIR/report.json
	SHELL_FDS=$(shell_fds $$)
}

teardown() {
	kill_bg
}

# in_cgroup REL OPTION... -- PROGRAM ARGS...: as guarded, PROGRAM joining
# $CG_PARENT/REL before the guard runs it.
in_cgroup() {
	local -a GUARD_WRAP=("$FX_DIR/fx-join" "$CG_PARENT/$1" -)
	fx_cgroup "$1"
	shift
	guarded "$@"
}

# summary PID: its summary line, once SIGTERM has made it exit normally.
summary() {
	kill -TERM "$1"
	wait_until "$(slack_ms 3000)" "! kill -0 $1 2>/dev/null"
	jq -c 'select(.event == "summary")' "$REPORT"
}

# leaks_in_time PORT: a first leak (which starts the checker, and whose
# first dump goes unfiltered and reads every state), its report; then three
# more, each reported within grace + interval + 500 ms of the clients closing
# (the clock starts before they do).
leaks_in_time() {
	local t0 limit
	leak "$1" 1
	wait_until "$(slack_ms 6000)" '[ "$(nreports)" -ge 1 ]'
	t0=$(now_ms)
	leak "$1" 3
	limit=$((GRACE_MS + INTERVAL_MS + $(slack_ms 500)))
	wait_until "$((limit - ($(now_ms) - t0)))" '[ "$(nreports)" -ge 4 ]'
	echo "3 more reports after $(($(now_ms) - t0)) ms (limit $limit)" >&2
}

# leak PORT N: N clients that send, get their answer and close.
leak() {
	local i
	for i in $(seq "$2"); do
		"$T/cw_clients" 127.0.0.1 "$1" 1 --send hello >/dev/null
	done
}

@test "--dump-above 0: each leaked socket found in the kernel's dump and reported once, eof-read, created in accept_loop; every check a dump; the netlink socket near the top of the fd limit" {
	guarded --dump-above 0 -- "$T/cwt-leaky" 8210 eof
	wait_listen 8210
	base=$(fd_count "$GUARDED")
	t0=$(now_ms)
	leak 8210 3
	wait_until "$(slack_ms 6000)" '[ "$(nreports)" -ge 3 ]'
	echo "3 reports after $(($(now_ms) - t0)) ms" >&2
	run reports
	[ "${#lines[@]}" -eq 3 ]
	for l in "${lines[@]}"; do
		[ "$(jq -r .why <<<"$l")" = eof-read ]
		[ "$(jq -r '.created[0].function' <<<"$l")" = accept_loop ]
		[ "$(jq -r '.eof[0].function' <<<"$l")" = serve_until_eof ]
		[ "$(jq -r '.close_wait_s' <<<"$l" | cut -d. -f1)" -ge 2 ]
	done
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .peer | sort -u | wc -l)" -eq 3 ]
	# the 3 leaked, the report file and the sock_diag socket, both high
	[ "$(fd_count "$GUARDED")" -eq $((base + 5)) ]
	soft=$(awk '/Max open files/ { print $4 }' "/proc/$GUARDED/limits")
	run find "/proc/$GUARDED/fd" -mindepth 1 -printf '%f\n'
	high=$(printf '%s\n' "${lines[@]}" | awk -v min=$((soft - 32)) '$1 >= min' | wc -l)
	[ "$high" -eq 2 ]
	nl=$(awk 'NR > 1 { n++ } END { print n + 0 }' "/proc/$GUARDED/net/netlink")
	[ "$nl" -ge 1 ]
	run summary "$GUARDED"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$(jq -r .reported <<<"$output")" -eq 3 ]
	[ "$(jq -r .checks <<<"$output")" -ge 2 ]
	[ "$(jq -r .dump_checks <<<"$output")" -eq "$(jq -r .checks <<<"$output")" ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "without --dump-above, a process tracking a few sockets asks each one: no dump" {
	guarded -- "$T/cwt-leaky" 8211 eof
	wait_listen 8211
	leak 8211 2
	wait_until "$(slack_ms 6000)" '[ "$(nreports)" -ge 2 ]'
	run summary "$GUARDED"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$(jq -r .reported <<<"$output")" -eq 2 ]
	[ "$(jq -r .checks <<<"$output")" -ge 2 ]
	[ "$(jq -r .dump_checks <<<"$output")" -eq 0 ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "in a cgroup of its own: the kernel filters the dumps by that cgroup, and each leak is still reported within grace + interval + 500 ms" {
	# another process of the namespace, in another cgroup, leaks too
	fx_cgroup other
	bg "$FX_DIR/fx-join" "$CG_PARENT/other" - "$T/cwt-leaky" 8213 eof
	wait_listen 8213
	leak 8213 5
	in_cgroup svc --dump-above 0 -- "$T/cwt-leaky" 8212 eof
	wait_listen 8212
	[ "$(sed -n 's/^0:://p' "/proc/$GUARDED/cgroup")" = "${CG_PARENT#"$CG_MOUNT"}/svc" ]
	# the first dump finds the first leak in the process's cgroup
	leaks_in_time 8212
	run reports
	[ "${#lines[@]}" -eq 4 ]
	for l in "${lines[@]}"; do
		[ "$(jq -r .local <<<"$l")" = 127.0.0.1:8212 ]
	done
	run summary "$GUARDED"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$(jq -r .dump_checks <<<"$output")" -eq "$(jq -r .checks <<<"$output")" ]
	[ "$(jq -r .filtered_checks <<<"$output")" -ge 3 ]
	# at most the first and every eighth dump go unfiltered
	[ "$(jq -r .filtered_checks <<<"$output")" -ge $(($(jq -r .checks <<<"$output") * 7 / 8 - 1)) ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "a listener made in another cgroup (the accepted sockets carry its cgroup, not the process's): the filter is never used, and each leak is reported within grace + interval + 500 ms" {
	in_cgroup made --dump-above 0 -- "$T/cwt-leaky" 8214 eof
	wait_listen 8214
	# the process moves; its listener, and so every socket it accepts, stays
	# in the cgroup that made it (as with a listener inherited from a
	# service manager)
	fx_cgroup moved
	echo "$GUARDED" >"$CG_PARENT/moved/cgroup.procs"
	[ "$(sed -n 's/^0:://p' "/proc/$GUARDED/cgroup")" = "${CG_PARENT#"$CG_MOUNT"}/moved" ]
	# the first dump finds the first leak in another cgroup than the process's
	leaks_in_time 8214
	run summary "$GUARDED"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$(jq -r .reported <<<"$output")" -eq 4 ]
	[ "$(jq -r .dump_checks <<<"$output")" -ge 3 ]
	[ "$(jq -r .filtered_checks <<<"$output")" -eq 0 ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}
