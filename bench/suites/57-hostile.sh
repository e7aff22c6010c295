#!/bin/sh
# Slow and hostile clients: the latency of well-behaved clients of
# `closewait serve` alone, then while 5 000 connections trickle a byte a
# second (never idle) and 5 000 never read their replies (closed by
# --write-stall 2s; --max-conns 9000 refuses the excess, reason limit).
# Programs: tests/tools' cwt-hostile (modes ping, trickle, noread). The
# kernel's socket buffers are 8 KiB in this namespace, so the server's own
# queue forms after a few KiB per connection (as in tests/e2e/hostile_clients.bats).
# The server and the well-behaved clients run at nice -10: the hostile
# clients, which in earnest would be on other hosts, share the CPUs here.
#   sh bench/suites/57-hostile.sh BUILD_DIR OUT_DIR [--smoke]
set -eu
. "$(dirname "$0")/../lib.sh"
bench_init "$0" "$@"
H=$BUILD/tests/tools/cwt-hostile
[ -x "$H" ] || die "$H is missing; build with -DCW_BUILD_TESTING=ON"

if [ $SMOKE = 1 ]; then
	PING=10 PER=100 PROCS=2 CALM_MS=1000 RAMP_T=300 RAMP_N=500 MAXC=300 DEADLINE=20
else
	PING=50 PER=2500 PROCS=2 CALM_MS=5000 RAMP_T=2000 RAMP_N=3000 MAXC=9000 DEADLINE=60
fi
HOSTILE=$((PER * PROCS))
sysctl -qw net.ipv4.tcp_wmem="4096 8192 8192" net.ipv4.tcp_rmem="4096 8192 8192"
port=9570
nice -n -10 prlimit --nofile=20000:20000 "$CWRUN" serve --bind 127.0.0.1 --port $port --quiet --stats \
	--max-conns $MAXC --write-stall 2s >"$TMPD/serve.out" 2>&1 &
srv=$!
SERVERS="$SERVERS $srv"
wait_listen $port
rss0=$(rss_kb "$srv")
nice -n -10 "$H" ping --port $port --conns $PING --time $CALM_MS >"$TMPD/calm" || die "the unloaded ping run failed"
calm=$(tail -1 "$TMPD/calm")

nice -n -10 "$H" ping --port $port --conns $PING --time 600000 >"$TMPD/ping" &
ping=$!
SERVERS="$SERVERS $ping"
est() { ss -Htn state established "( sport = :$port )" | wc -l; }
# until N connections are established at the server (deadline $DEADLINE s)
wait_est() {
	i=0
	while [ "$(est)" -ne "$1" ]; do
		i=$((i + 1))
		[ $i -gt $((DEADLINE * 10)) ] && die "$(est) connections established at the server, want $1"
		sleep 0.1
	done
}
wait_est $PING
i=0
while [ $i -lt $PROCS ]; do
	"$H" trickle --port $port --conns $PER --ramp $RAMP_T --time 600000 >"$TMPD/trickle$i" &
	SERVERS="$SERVERS $!"
	i=$((i + 1))
done
wait_est $((PING + HOSTILE))
rss_max=$(rss_kb "$srv")
i=0
while [ $i -lt $PROCS ]; do
	"$H" noread --port $port --conns $PER --bytes 16384 --ramp $RAMP_N --time 600000 >"$TMPD/noread$i" &
	SERVERS="$SERVERS $!"
	i=$((i + 1))
done
# the non-readers all ended (refused or stalled): only the others are left
# established. The noread runs must have connected first.
j=0
while [ "$(cat "$TMPD"/noread* | grep -c '^connected')" -lt $PROCS ]; do
	j=$((j + 1))
	[ $j -gt $((DEADLINE * 10)) ] && die "the non-reading clients did not connect"
	sleep 0.1
done
while [ "$(est)" -ne $((PING + HOSTILE)) ]; do
	r=$(rss_kb "$srv")
	[ "$r" -gt "$rss_max" ] && rss_max=$r
	j=$((j + 1))
	[ $j -gt $((DEADLINE * 20)) ] && die "the non-reading connections were not all closed"
	sleep 0.1
done
kill "$ping"
wait "$ping" || true
loaded=$(tail -1 "$TMPD/ping")
# the clients first: the server then has nothing left to drain
for p in $SERVERS; do [ "$p" = "$srv" ] || kill "$p" 2>/dev/null || true; done
for p in $SERVERS; do [ "$p" = "$srv" ] || wait "$p" 2>/dev/null || true; done
SERVERS=$srv
stop_server "$srv"

for k in errors timeouts ended; do
	[ "$(kv $k "$loaded")" = 0 ] || die "well-behaved clients under load: $k=$(kv $k "$loaded") ($loaded)"
	[ "$(kv $k "$calm")" = 0 ] || die "well-behaved clients alone: $k=$(kv $k "$calm") ($calm)"
done
reason() { awk -v r="$1" '$1 == r { print $2 }' "$TMPD/serve.out"; }
limit=$(reason limit) stall=$(reason write-stall)
peak=$(sed -n 's/.*most queued on one connection: //p' "$TMPD/serve.out")
p99_0=$(fmt "$(calc "$(kv p99_us "$calm") / 1000")" 2)
p99_1=$(fmt "$(calc "$(kv p99_us "$loaded") / 1000")" 2)
p50_0=$(fmt "$(calc "$(kv p50_us "$calm") / 1000")" 2)
p50_1=$(fmt "$(calc "$(kv p50_us "$loaded") / 1000")" 2)
x=$(ratio "$(kv p99_us "$loaded")" "$(kv p99_us "$calm")")
grew=$(fmt "$(calc "($rss_max - $rss0) / 1024")" 1)

goal "p99 of $PING well-behaved clients under $PER x $PROCS trickling + $PER x $PROCS non-reading connections <= 50 ms" \
	"$p99_1 ms" "alone $p99_0 ms" "$x" "limit $limit, write-stall $stall" le "$p99_1" 50
report "server RSS growth under the hostile load" "$grew MiB" "" "" "most queued on one connection: $peak bytes"
summary "well-behaved p99: alone $p99_0 ms, under hostile load $p99_1 ms (x$x)"
summary "closed: limit $limit, write-stall $stall; RSS +$grew MiB; most queued on one connection $peak bytes"

cat <<EOF
## Slow and hostile clients

\`closewait serve --max-conns $MAXC --write-stall 2s\` (RLIMIT_NOFILE 20 000) with $PING
well-behaved clients (tests/tools' cwt-hostile ping: a 32-byte message every 20 ms each,
the latency from send to the whole reply), first alone for $(fmt "$(calc "$CALM_MS / 1000")" 1) s, then while
$HOSTILE connections trickle a byte a second each (opened over $(fmt "$(calc "$RAMP_T / 1000")" 1) s) and
$HOSTILE more send 16 KiB each and never read their replies (opened over $(fmt "$(calc "$RAMP_N / 1000")" 1) s).
Kernel socket buffers 8 KiB in the namespace; the server and the well-behaved clients at nice -10
(the hostile clients share the CPUs with them here). The load phase ends once every non-reading
connection is closed.

| | alone | under hostile load | ratio |
|---|---|---|---|
| p50 | $p50_0 ms | $p50_1 ms | |
| p99 | $p99_0 ms | $p99_1 ms | $x |
| replies | $(kv msgs "$calm") | $(kv msgs "$loaded") | |

Closed by the server: $limit over --max-conns (limit), $stall for stalled output
(write-stall); server RSS grew $grew MiB at most; most queued on one connection:
$peak bytes (out_cap: 256 KiB).
EOF
