#!/bin/bash
# ports.bats scenarios, each run in a fresh network namespace (netns-run) so
# that its sysctls and TIME_WAIT sockets touch nothing else. Prints
# key=value lines for the test to check; exits non-zero if a step failed.
set -eu
CW=$CLOSEWAIT T=$CW_TOOLS
dir=$(mktemp -d)
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$dir"' EXIT

# 1000 ephemeral ports; ip_local_port_range, tcp_tw_reuse and tcp_timestamps
# are per network namespace.
sysctl -qw net.ipv4.ip_local_port_range="20000 20999"
case $1 in
exhaust|keepalive) sysctl -qw net.ipv4.tcp_tw_reuse=0 ;;
reuse) sysctl -qw net.ipv4.tcp_tw_reuse=2 net.ipv4.tcp_timestamps=1 ;;
esac
"$CW" serve --quiet --port 9000 & srv=$!
for i in $(seq 1 $((250 * ${CW_TEST_SLACK:-1}))); do ss -Htln 'sport = :9000' | grep -q . && break; sleep 0.02; done
ss -Htln 'sport = :9000' | grep -q . || { echo "ports_scenarios: the server does not listen" >&2; exit 1; }
base=$(ls /proc/$srv/fd | wc -l)

"$CW" ports --rate 100/s --dest 127.0.0.1:9000 --json >"$dir/p.json"
"$CW" ports --rate 100/s --dest 127.0.0.1:9000 >&2
jq -r '"usable=\(.ephemeral.usable)",
       (.destinations[] | select(.destination=="127.0.0.1:9000") |
        "rate_max=\(.rate_max)", "reuse=\(.reuse)", "what_if=\(.what_if_exhaust_s)")' "$dir/p.json"
case $1 in
exhaust)
	# The live prediction: ports while the client runs, once it holds 400
	# ports in TIME_WAIT (4 s in): EXHAUSTED-IN from the current rate (their
	# ages) and the ports still free. The clock of every live_ figure starts
	# just before cw_churn, whose own clock starts at its first connect.
	t0=$(date +%s%3N)
	"$T/cw_churn" 127.0.0.1 9000 100 15 >"$dir/churn" &
	churn=$!
	i=0
	while [ "$(ss -Htan state time-wait '( dport = :9000 )' | wc -l)" -lt 400 ]; do
		i=$((i + 1))
		[ $i -lt 1000 ] || { echo "ports_scenarios: no 400 TIME_WAIT in 20 s" >&2; exit 1; }
		sleep 0.02
	done
	ta=$(date +%s%3N)
	"$CW" ports --json >"$dir/live.json"
	tb=$(date +%s%3N)
	"$CW" ports >&2 # the table (EXHAUSTED-IN), for the log
	wait $churn
	sed 's/ /=/' "$dir/churn"
	echo "live_at_ms=$((ta - t0))"
	echo "live_call_ms=$((tb - ta))"
	jq -r '.destinations[] | select(.destination=="127.0.0.1:9000") |
	       "live_exhaust_s=\(.exhaust_s)", "live_rate_now=\(.rate_now)",
	       "live_time_wait=\(.time_wait)", "live_open=\(.open)"' "$dir/live.json"
	;;
reuse) "$T/cw_churn" 127.0.0.1 9000 100 15 | sed 's/ /=/' ;;
keepalive) "$T/cw_churn" 127.0.0.1 9000 100 10 --keepalive | sed 's/ /=/' ;;
esac
echo "time_wait=$("$CW" scan --state time-wait --json | jq .sockets_total)"
"$CW" ports --json | jq -r '.destinations[] | select(.destination=="127.0.0.1:9000") | "rate_now=\(.rate_now)"'
for i in $(seq 1 $((100 * ${CW_TEST_SLACK:-1}))); do [ "$(ls /proc/$srv/fd | wc -l)" -eq "$base" ] && break; sleep 0.02; done
echo "server_fds_back=$([ "$(ls /proc/$srv/fd | wc -l)" -eq "$base" ] && echo yes || echo no)"
