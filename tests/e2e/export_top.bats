#!/usr/bin/env bats
# Bounded cardinality: 60 processes with 60 distinct command names (serve
# --leak run through symlinks cwc-00..cwc-59), each holding one CLOSE_WAIT
# socket. With --top 10, closewait export names 10 groups and sums the rest
# into one series labelled other="true"; the sum of all is what scan counts.

load prom_fixture

N=60
TOP=10

setup_file() {
	prom_init
	local i d=$BATS_FILE_TMPDIR/bin
	mkdir -p "$d"
	for i in $(seq 0 $((N - 1))); do
		ln -s "$CW" "$d/$(printf 'cwc-%02d' "$i")"
		prom_bg "leak-$i" $((8700 + i)) "$d/$(printf 'cwc-%02d' "$i")" serve --leak --quiet --port $((8700 + i))
	done
	for i in $(seq 0 $((N - 1))); do wait_listen $((8700 + i)); done
	# each server's fds before its leak
	while read -r pid name port; do echo "$pid $(fd_count "$pid")"; done <"$PROM_DIR/pids" >"$PROM_DIR/fds"
	for i in $(seq 0 $((N - 1))); do
		"$T/cw_clients" 127.0.0.1 $((8700 + i)) 1 --send hello >/dev/null
	done
	wait_until "$(slack_ms 10000)" "[ \"\$(count_state close-wait)\" -eq $N ]"
}

teardown_file() { prom_stop_all; }

# leaker_pids: the pids of the 60 servers (from the fixture's record).
leaker_pids() { awk '$2 ~ /^leak-/ { print $1 }' "$PROM_DIR/pids"; }

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
		leaker_pids | grep -qx "$p"
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

@test "each of the 60 servers still holds its one CLOSE_WAIT socket and one fd more than before; once stopped, nothing of this file is left running or listening" {
	local i=0 pid base
	# one ss -p (it reads every process's fds: 0.5 s on a busy host)
	ss -Htanp state close-wait >"$BATS_TEST_TMPDIR/cw"
	while read -r pid base; do
		[ "$(fd_count "$pid")" -eq $((base + 1)) ]
		[ "$(grep -c "pid=$pid," "$BATS_TEST_TMPDIR/cw")" -eq 1 ]
		i=$((i + 1))
	done <"$PROM_DIR/fds"
	[ "$i" -eq "$N" ]
	prom_stop_all
	prom_check_gone
}
