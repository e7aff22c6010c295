#!/bin/sh
# User memory per idle connection and close latency with many idle
# connections open: closewait serve, the libuv peer and the bare loop, side
# by side. Each server gets IDLE connections from its own c100k holder (one
# checked exchange each, then idle); RSS growth over them is the user-space
# memory an idle connection costs. Then, with those held, closelat measures
# shutdown(SHUT_WR) -> the server's FIN, one connection at a time, in rounds
# that alternate between the servers.
set -eu
. "$(dirname "$0")/../lib.sh"
bench_init "$0" "$@"

if [ $SMOKE = 1 ]; then
	IDLE=500 SAMPLES=200 ROUNDS=1
else
	IDLE=10000 SAMPLES=2000 ROUNDS=5
fi
LIST="closewait libuv bare"
port=9300
for s in $LIST; do
	start_server "$s" $port
	eval "pid_$s=\$SPID port_$s=$port"
	# One short run first, so the buffers a busy server touches are in its RSS
	# before the baseline is taken.
	"$BIN/loadgen" --port $port --conns 1 --time 0.05 --warmup 0 >/dev/null || die "warm-up against $s failed"
	port=$((port + 1))
done
sleep 0.2
for s in $LIST; do
	eval "pid=\$pid_$s p=\$port_$s"
	eval "rss0_$s=$(rss_kb "$pid") fd0_$s=$(fd_count "$pid")"
	"$BIN/c100k" --port "$p" --conns $IDLE --procs 1 >"$TMPD/hold_$s" &
	eval "hold_$s=\$!"
	SERVERS="$SERVERS $!" # a suite that fails part-way still ends its clients
	wait_ready "$TMPD/hold_$s" 60
done
for s in $LIST; do
	eval "pid=\$pid_$s"
	eval "rss1_$s=$(rss_kb "$pid") fd1_$s=$(fd_count "$pid")"
done

for r in $(seq 1 $ROUNDS); do
	for s in $LIST; do
		eval "p=\$port_$s"
		line=$("$BIN/closelat" --port "$p" --samples $SAMPLES --rounds 1 | grep '^round=') ||
			die "closelat against $s failed"
		eval "p99_$s=\"\${p99_$s:-} $(kv p99_us "$line")\" p50_$s=\"\${p50_$s:-} $(kv p50_us "$line")\""
	done
done

ok=1
for s in $LIST; do
	eval "h=\$hold_$s pid=\$pid_$s fd0=\$fd0_$s"
	kill -USR1 "$h"
	wait "$h" || die "the c100k holder of $s failed: $(cat "$TMPD/hold_$s")"
	SERVERS=$(printf '%s\n' $SERVERS | grep -vx "$h" | tr '\n' ' ')
	grep -q 'fd_ok=1' "$TMPD/hold_$s" || die "holder of $s: $(cat "$TMPD/hold_$s")"
	wait_fds "$pid" "$fd0" 30
	stop_server "$pid"
done

echo "## Memory per idle connection and close latency"
echo
echo "$IDLE idle connections per server (\`bench/c100k --port P --conns $IDLE\`: one checked 16-byte"
echo "exchange each, then idle), all three servers at once. Memory = growth of the server's"
echo "VmRSS over them / $IDLE (user-space memory: the kernel's socket memory is not in RSS and"
echo "is the same for all). Close latency (\`bench/closelat --port P --samples $SAMPLES\`): connect,"
echo "one exchange, then the clock runs from the client's shutdown(SHUT_WR) until its read()"
echo "returns 0 (the server saw EOF, closed, and its FIN arrived), one connection at a time,"
echo "with the $IDLE idle connections open; $ROUNDS rounds of $SAMPLES alternating between"
echo "servers, **median of the rounds' p99**. After the holders close, each server's fd count is"
echo "back to its value before (checked)."
echo
echo "| server | RSS before kB | RSS with $IDLE idle kB | bytes per idle connection | fds open with idle | close p50 µs | close p99 µs (median of $ROUNDS) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for s in $LIST; do
	eval "r0=\$rss0_$s r1=\$rss1_$s f1=\$fd1_$s p99s=\$p99_$s p50s=\$p50_$s"
	per=$(calc "($r1 - $r0) * 1024 / $IDLE")
	m99=$(median $p99s)
	m50=$(median $p50s)
	eval "per_$s=$per m99_$s=$m99"
	echo "| $s | $r0 | $r1 | $(fmt "$per" 0) | $f1 | $(fmt "$m50" 1) | $(fmt "$m99" 1) |"
	summary "idle $s: $(fmt "$per" 0) B per connection; close p99 $(fmt "$m99" 1) µs"
done
echo
echo "The close path on the client's FIN (seen with strace): closewait and libuv make read() = 0,"
echo "epoll_ctl(DEL), close(); the bare loop read() = 0, close() (close leaves the epoll set)."
echo

echo "mem_libuv $per_libuv" >>"$OUT/values.tsv" # the C100K suite's peer figure
r=$(ratio "$m99_closewait" "$m99_bare")
goal "close latency p99 with $IDLE idle <= 1.1x bare" "$(fmt "$m99_closewait" 1) µs" \
	"bare $(fmt "$m99_bare" 1) µs; libuv $(fmt "$m99_libuv" 1) µs" "$r" "$(metif le "$r" 1.1)"
r=$(ratio "$per_closewait" "$per_libuv")
goal "memory per idle connection (single process, $IDLE) <= 256 B" "$(fmt "$per_closewait" 0) B" \
	"libuv $(fmt "$per_libuv" 0) B; bare $(fmt "$per_bare" 0) B" "$r" "$(metif le "$per_closewait" 256)"
