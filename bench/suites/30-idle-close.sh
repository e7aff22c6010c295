#!/bin/sh
# User memory per idle connection and close latency with many idle
# connections open: closewait serve, the libuv peer and the bare loop, side
# by side. Each server gets IDLE connections from its own c100k holder (one
# checked exchange each, then idle); RSS growth over them is the user-space
# memory an idle connection costs. Then, with those held, closelat measures
# shutdown(SHUT_WR) -> the server's FIN, one connection at a time, in rounds
# that alternate between the servers. Last, strace watches each server's
# close path while a few more connections close.
set -eu
. "$(dirname "$0")/../lib.sh"
bench_init "$0" "$@"
command -v strace >/dev/null || die "strace is missing (scripts/bootstrap installs it)"

if [ $SMOKE = 1 ]; then
	IDLE=500 SAMPLES=200 ROUNDS=1 TRACED=10
else
	IDLE=10000 SAMPLES=2000 ROUNDS=9 TRACED=50
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

# All servers in one closelat: samples alternate between them. Twice: free
# (scheduled as the kernel likes) and pinned, closelat and the three servers
# on one CPU. The exchange is sequential; across CPUs every close costs
# cross-CPU wake-ups, which in this VM are slow and erratic (round-trip p50
# jumps between about 22 and 55 us with the scheduler's placement), so the
# pinned figure is the one that compares the servers' own close paths.
PIN=$(($(nproc) - 1))
args=""
for s in $LIST; do
	eval "args=\"\$args --port \$port_$s\""
done
"$BIN/closelat" $args --samples $SAMPLES --rounds $ROUNDS >"$TMPD/cl.free" || die "closelat failed"
for s in $LIST; do
	eval "taskset -pc $PIN \$pid_$s >/dev/null"
done
taskset -c $PIN "$BIN/closelat" $args --samples $SAMPLES --rounds $ROUNDS >"$TMPD/cl.pin" ||
	die "closelat (pinned) failed"
for s in $LIST; do
	eval "taskset -pc 0-$PIN \$pid_$s >/dev/null"
done
# rounds FILE PORT KEY: the KEY of every round of one server.
rounds() {
	grep "^round=.* port=$2 " "$1" | while read -r l; do kv "$3" "$l"; done | tr '\n' ' '
}
# close_path FILE: from an strace of a server, for each connection whose
# read returned 0 (the client's FIN), the syscalls the server made on that
# fd up to its close(); prints "COUNT<TAB>SEQUENCE" per sequence seen.
close_path() {
	awk '
	{ sub(/^[0-9]+ +/, "") } # the pid strace -f puts first
	!match($0, /^[a-z0-9_]+\(/) { next }
	{
		name = substr($0, 1, RLENGTH - 1)
		split(substr($0, RLENGTH + 1), a, /, */)
		fd = a[name == "epoll_ctl" ? 3 : 1]
		sub(/\).*/, "", fd)
		if (name ~ /^(read|readv|recv|recvfrom|recvmsg)$/ && $0 ~ /= 0$/) {
			seq[fd] = name "() = 0"
			next
		}
		if (!(fd in seq))
			next
		what = name "("
		if (name == "epoll_ctl") what = what substr(a[2], 11) # EPOLL_CTL_DEL -> DEL
		else if (name == "shutdown") what = what a[2]
		else if (name == "setsockopt") what = what a[3]
		seq[fd] = seq[fd] ", " what ")"
		if (name == "close") {
			n[seq[fd]]++
			delete seq[fd]
		}
	}
	END { for (q in n) printf "%d\t%s\n", n[q], q }' "$1"
}
# Each server traced on its own while closelat closes TRACED connections to
# it (the idle connections still open).
for s in $LIST; do
	eval "pid=\$pid_$s p=\$port_$s"
	err=$TMPD/strace.err
	: >"$err"
	strace -f -p "$pid" -o "$TMPD/trace.$s" 2>"$err" &
	st=$!
	wait_attached "$err" "$s"
	"$BIN/closelat" --port "$p" --samples $TRACED --rounds 1 >/dev/null || die "closelat under strace ($s) failed"
	kill -INT $st
	wait $st || true
	close_path "$TMPD/trace.$s" | sort -rn >"$TMPD/path.$s"
	[ -s "$TMPD/path.$s" ] || die "strace saw no close of $s on a read that returned 0"
done

for s in $LIST; do
	eval "p=\$port_$s"
	for m in free pin; do
		eval "p99_${m}_$s=\$(median $(rounds "$TMPD/cl.$m" "$p" p99_us))"
		eval "p50_${m}_$s=\$(median $(rounds "$TMPD/cl.$m" "$p" p50_us))"
	done
done

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
echo "is the same for all). Close latency (\`bench/closelat --port P1 --port P2 --port P3 --samples"
echo "$SAMPLES --rounds $ROUNDS\`): connect, one exchange, then the clock runs from the client's"
echo "shutdown(SHUT_WR) until its read() returns 0 (the server saw EOF, closed, and its FIN"
echo "arrived), one connection at a time, with the $IDLE idle connections open. Samples alternate"
echo "between the three servers (a slow moment of the shared machine falls on all alike); $ROUNDS"
echo "rounds of $SAMPLES samples per server; **median of the rounds' p50 and p99**. Measured twice:"
echo "free (the scheduler places the processes), and pinned: closelat and the servers on one CPU"
echo "(\`taskset -c $PIN\`). The exchange is sequential; across CPUs each close pays cross-CPU"
echo "wake-ups, which in this VM are slow and erratic, so the pinned figure is the one that"
echo "compares the servers' own close paths (goal row). After the holders close, each server's"
echo "fd count is back to its value before (checked)."
echo
echo "| server | RSS before kB | RSS with $IDLE idle kB | bytes per idle connection | fds open with idle | close p50 / p99 µs, pinned | close p50 / p99 µs, free |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for s in $LIST; do
	eval "r0=\$rss0_$s r1=\$rss1_$s f1=\$fd1_$s"
	eval "a=\$p50_pin_$s b=\$p99_pin_$s c=\$p50_free_$s d=\$p99_free_$s"
	per=$(calc "($r1 - $r0) * 1024 / $IDLE")
	eval "per_$s=$per m99_$s=$b f99_$s=$d"
	echo "| $s | $r0 | $r1 | $(fmt "$per" 0) | $f1 | $(fmt "$a" 1) / $(fmt "$b" 1) | $(fmt "$c" 1) / $(fmt "$d" 1) |"
	summary "idle $s: $(fmt "$per" 0) B per connection; close p99 $(fmt "$b" 1) µs pinned, $(fmt "$d" 1) µs free"
done
echo
# per_round MODE: closewait's p99 / the bare loop's, round by round.
per_round() {
	printf '%s\n%s\n' "$(rounds "$TMPD/cl.$1" "$port_closewait" p99_us)" "$(rounds "$TMPD/cl.$1" "$port_bare" p99_us)" |
		awk 'NR == 1 { n = split($0, a, " ") } NR == 2 { split($0, b, " ")
			for (i = 1; i <= n; i++) printf "%s%.2f", (i > 1 ? " " : ""), (b[i] > 0 ? a[i] / b[i] : 0) }'
}
echo "How much the p99 moves with the shared machine: closewait's p99 / the bare loop's, round by"
echo "round (each round's samples alternate between the servers): pinned $(per_round pin); free"
echo "$(per_round free)."
echo
echo "The close path on the client's FIN, seen by strace in this run (\`strace -f -p PID\` while"
echo "\`closelat --port P --samples $TRACED --rounds 1\` closed $TRACED more connections to that server, the idle"
echo "ones still open): the syscalls the server made on the connection's fd, from the read that"
echo "returned 0 to its close(), and how many of the closes made each sequence."
echo
echo "| server | syscalls on the fd, EOF to close | closes |"
echo "|---|---|---:|"
for s in $LIST; do
	tot=$(awk -F'\t' '{ t += $1 } END { print t + 0 }' "$TMPD/path.$s")
	while IFS='	' read -r k q; do
		echo "| $s | $q | $k of $tot |"
	done <"$TMPD/path.$s"
	summary "close path $s: $(head -1 "$TMPD/path.$s" | cut -f2) ($(head -1 "$TMPD/path.$s" | cut -f1) of $tot)"
done
echo

echo "mem_libuv $per_libuv" >>"$OUT/values.tsv" # the C100K suite's peer figure
r=$(ratio "$m99_closewait" "$m99_bare")
goal "close latency p99 with $IDLE idle <= 1.1x bare" "$(fmt "$m99_closewait" 1) µs" \
	"bare $(fmt "$m99_bare" 1) µs; libuv $(fmt "$m99_libuv" 1) µs" "$r" \
	"pinned to one CPU; free: closewait $(fmt "$f99_closewait" 1), bare $(fmt "$f99_bare" 1), libuv $(fmt "$f99_libuv" 1) µs ($(ratio "$f99_closewait" "$f99_bare"))" \
	le "$r" 1.1
r=$(ratio "$per_closewait" "$per_libuv")
goal "memory per idle connection (single process, $IDLE) <= 256 B" "$(fmt "$per_closewait" 0) B" \
	"libuv $(fmt "$per_libuv" 0) B; bare $(fmt "$per_bare" 0) B" "$r" "" le "$per_closewait" 256
