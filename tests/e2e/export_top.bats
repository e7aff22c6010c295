#!/usr/bin/env bats
# Bounded cardinality: 500 processes with 500 distinct command names
# (cwt-crowd: cwc-000..cwc-499, forks of one program), each holding one
# CLOSE_WAIT socket. With --top 10, closewait export names 10 groups and sums
# the rest into one series labelled other="true"; the sum of all is what scan
# counts. Once by process (command and pid), once by the default grouping.

load prom_fixture

N=500
TOP=10

setup_file() {
	prom_init
	local port
	port=$(prom_port 8700)
	prom_bg crowd "$port" "$T/cwt-crowd" "$port" "$N" cwc-
	wait_until "$(slack_ms 20000)" "grep -qx ready '$PROM_DIR/crowd.log'"
	# the 500 processes holding a leak
	pgrep -P "$PROM_BG" >"$PROM_DIR/children"
	wait_until "$(slack_ms 10000)" "[ \"\$(count_state close-wait)\" -eq $N ]"
}

teardown_file() { prom_stop_all; }

# children_alive: how many of them are still alive.
children_alive() {
	local p n=0
	while read -r p; do
		if prom_alive "$p"; then n=$((n + 1)); fi
	done <"$PROM_DIR/children"
	echo "$n"
}

# check_top FILE LABEL: the exposition FILE names exactly $TOP groups of the
# servers (each by LABEL=, each holding 1) and one other="true" series, and
# nothing else; sets OTHER (its value) and NAMED (the named groups' lines).
check_top() {
	local cw
	cw=$(series "$1" closewait_close_wait_sockets)
	echo "$cw"
	[ "$(wc -l <<<"$cw")" -eq $((TOP + 1)) ]
	NAMED=$(grep -F "$2=\"cwc-" <<<"$cw")
	[ "$(wc -l <<<"$NAMED")" -eq "$TOP" ]
	# each holds its one socket
	[ "$(awk '{ s += $2 } END { print s }' <<<"$NAMED")" -eq "$TOP" ]
	[ "$(grep -c '^closewait_close_wait_sockets{other="true"} ' <<<"$cw")" -eq 1 ]
	OTHER=$(awk '/other="true"/ { print $2 }' <<<"$cw")
	# the other groups' series are summed the same way: one other="true" each
	[ "$(series "$1" closewait_close_wait_recv_queue_bytes | grep -c 'other="true"')" -eq 1 ]
}

@test "--by process --top 10: 10 groups (command and pid) + 1 other; other = the sum of the groups scan sees beyond them; the sum of all = scan's close_wait_total" {
	exp_start "$(prom_port 19848)" --by process --top "$TOP"
	base_exp=$(fd_count "$EXP_PID") # before any scrape
	exp_scrape "$BATS_TEST_TMPDIR/m.prom"
	m=$BATS_TEST_TMPDIR/m.prom
	check_top "$m" command
	[ "$(grep -c 'pid="' <<<"$NAMED")" -eq "$TOP" ]
	run "$CW" scan --json --by process
	[ "$status" -eq 1 ]
	scan=$output
	[ "$(jq .close_wait_total <<<"$scan")" -eq "$N" ]
	named=$(sed 's/.*pid="\([0-9]*\)".*/\1/' <<<"$NAMED" | jq -s -c .)
	rest=$(jq --argjson named "$named" '[.groups[] | select(.pid as $p | $named | index($p) | not) | .close_wait] | add' <<<"$scan")
	[ "$OTHER" -eq "$rest" ]
	[ "$OTHER" -eq $((N - TOP)) ]
	[ "$(series "$m" closewait_close_wait_sockets | awk '{ s += $2 } END { print s }')" -eq "$(jq .close_wait_total <<<"$scan")" ]
	# the named ones are servers of this file
	for p in $(jq -r '.[]' <<<"$named"); do
		grep -qx "$p" "$PROM_DIR/children"
	done
	wait_fds "$EXP_PID" "$base_exp"
}

@test "--top 10 (by auto: a group per command): 10 command groups + 1 other; other = the sum of the rest; the sum of all = scan's close_wait_total" {
	run "$CW" scan --json --state close-wait
	[ "$status" -eq 1 ]
	scan=$output
	units=$(jq '[.sockets[] | select(.systemd_unit != null or .container_id != null)] | length' <<<"$scan")
	[ "$units" -eq 0 ] || skip "the servers run in a systemd unit or a container: auto groups them by it, not by command"
	exp_start "$(prom_port 19848)" --top "$TOP"
	base_exp=$(fd_count "$EXP_PID") # before any scrape
	exp_scrape "$BATS_TEST_TMPDIR/m.prom"
	m=$BATS_TEST_TMPDIR/m.prom
	check_top "$m" command
	# no pid under auto
	[ "$(grep -c 'pid=' <<<"$NAMED")" -eq 0 ]
	named=$(sed 's/.*command="\([^"]*\)".*/\1/' <<<"$NAMED" | jq -R . | jq -s -c .)
	rest=$(jq --argjson named "$named" '[.sockets[] | select(.owners[0].command as $c | $named | index($c) | not)] | length' <<<"$scan")
	[ "$OTHER" -eq "$rest" ]
	[ "$(series "$m" closewait_close_wait_sockets | awk '{ s += $2 } END { print s }')" -eq "$(jq .close_wait_total <<<"$scan")" ]
	[ "$(jq .close_wait_total <<<"$scan")" -eq "$N" ]
	wait_fds "$EXP_PID" "$base_exp"
}

@test "each of the 500 processes still holds its one CLOSE_WAIT socket; once stopped, none of them is left, nothing of this file running or listening" {
	local pid i=0
	# one ss -p (it reads every process's fds)
	ss -Htanp state close-wait >"$BATS_TEST_TMPDIR/cw"
	while read -r pid; do
		[ "$(grep -c "pid=$pid," "$BATS_TEST_TMPDIR/cw")" -eq 1 ]
		i=$((i + 1))
	done <"$PROM_DIR/children"
	[ "$i" -eq "$N" ]
	prom_stop_all
	prom_check_gone
	wait_until "$(slack_ms 5000)" '[ "$(children_alive)" -eq 0 ]'
}
