#!/usr/bin/env bats
# closewait ports --all-netns: each network namespace has its own
# ip_local_port_range (and tcp_tw_reuse, timestamps). Two namespaces made
# here, with different ranges and TIME_WAIT toward a server in each.

load containers_fixture

# ns_with_range NAME LOW HIGH TW: a namespace (held by a closing server on
# 9000) with that ephemeral range and tcp_tw_reuse=0, and TW connections
# closed by the client (their ends in TIME_WAIT); sets PID.
ns_with_range() {
	fx_bg "$1" - new "$CW" serve --quiet --port 9000
	PID=$FX_PID
	fx_wait_listen "$PID" 9000
	nsenter -t "$PID" -n sysctl -qw net.ipv4.ip_local_port_range="$2 $3" net.ipv4.tcp_tw_reuse=0
	nsenter -t "$PID" -n "$T/cw_clients" 127.0.0.1 9000 "$4" --send hi >/dev/null
	fx_wait_count "$PID" "$4" time-wait "dport = :9000"
}

setup_file() {
	fx_init
	export A B
	ns_with_range a 40000 40199 100
	A=$PID
	ns_with_range b 50000 50399 100
	B=$PID
}

teardown_file() { fx_cleanup; }

# check_ns JSON PID LOW HIGH TW: PID's namespace in JSON's namespaces[],
# against what its range implies: capacity HIGH-LOW+1 ports, MAX-RATE
# capacity/60 s (no reuse), and at --rate 100/s exhaustion after
# (capacity - TW)/100 s (the TIME_WAIT already there expire after that).
check_ns() {
	local j=$1 ino cap ns d
	ino=$(fx_netns_ino "$2")
	cap=$(($4 - $3 + 1))
	ns=$(jq -c --argjson ino "$ino" '.namespaces[] | select(.netns == $ino)' <<<"$j")
	echo "namespace $ino: $ns" >&2
	[ "$(jq .ephemeral.low <<<"$ns")" -eq "$3" ]
	[ "$(jq .ephemeral.high <<<"$ns")" -eq "$4" ]
	[ "$(jq .ephemeral.usable <<<"$ns")" -eq "$cap" ]
	[ "$(jq .tw_reuse <<<"$ns")" -eq 0 ]
	d=$(jq -c '.destinations[] | select(.destination == "127.0.0.1:9000")' <<<"$ns")
	[ "$(jq .capacity <<<"$d")" -eq "$cap" ]
	[ "$(jq .time_wait <<<"$d")" -eq "$5" ]
	[ "$(jq .reuse <<<"$d")" = false ]
	jq -e --argjson c "$cap" '(.rate_max - $c / 60) | fabs <= 0.05' <<<"$d"
	jq -e --argjson c "$cap" --argjson tw "$5" '(.what_if_exhaust_s - ($c - $tw) / 100) | fabs <= 0.05' <<<"$d"
	# at the current rate (the TIME_WAIT just made), the ports left last (capacity - TW) / rate
	jq -e --argjson c "$cap" --argjson tw "$5" '.exhaust_s as $e | .rate_now > 0 and (($e - ($c - $tw) / .rate_now) | fabs <= 0.05 + 0.01 * $e)' <<<"$d"
}

@test "ports --all-netns --json: two namespaces, two ip_local_port_range values, the capacity and exhaustion times each implies" {
	me=$BASHPID
	fd0=$(shell_fds "$me")
	run "$CW" ports --all-netns --rate 100/s --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq .version <<<"$output")" -eq 2 ]
	check_ns "$output" "$A" 40000 40199 100
	check_ns "$output" "$B" 50000 50399 100
	# twice the ports last three times as long at 100/s: 300 left against 100
	w() { jq --argjson ino "$(fx_netns_ino "$1")" '.namespaces[] | select(.netns == $ino) | .destinations[] | select(.destination == "127.0.0.1:9000") | .what_if_exhaust_s' <<<"$output"; }
	awk -v a="$(w "$A")" -v b="$(w "$B")" 'BEGIN { exit !(b > 2.9 * a && b < 3.1 * a) }'
	[ "$(shell_fds "$me")" = "$fd0" ]
}

@test "the fixture leaves nothing behind: processes, /run/netns names" {
	fx_cleanup
	fx_check_gone
}
