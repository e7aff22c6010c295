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
for i in $(seq 1 250); do ss -Htln 'sport = :9000' | grep -q . && break; sleep 0.02; done
base=$(ls /proc/$srv/fd | wc -l)

"$CW" ports --rate 100/s --dest 127.0.0.1:9000 --json >"$dir/p.json"
"$CW" ports --rate 100/s --dest 127.0.0.1:9000 >&2
jq -r '"usable=\(.ephemeral.usable)",
       (.destinations[] | select(.destination=="127.0.0.1:9000") |
        "rate_max=\(.rate_max)", "reuse=\(.reuse)", "what_if=\(.what_if_exhaust_s)")' "$dir/p.json"
case $1 in
exhaust|reuse) "$T/cw_churn" 127.0.0.1 9000 100 15 | sed 's/ /=/' ;;
keepalive) "$T/cw_churn" 127.0.0.1 9000 100 10 --keepalive | sed 's/ /=/' ;;
esac
echo "time_wait=$("$CW" scan --state time-wait --json | jq .sockets_total)"
"$CW" ports --json | jq -r '.destinations[] | select(.destination=="127.0.0.1:9000") | "rate_now=\(.rate_now)"'
for i in $(seq 1 100); do [ "$(ls /proc/$srv/fd | wc -l)" -eq "$base" ] && break; sleep 0.02; done
echo "server_fds_back=$([ "$(ls /proc/$srv/fd | wc -l)" -eq "$base" ] && echo yes || echo no)"
