#!/bin/sh
# C100K: 100 000 concurrent connections to `closewait serve --workers 8
# --idle 300s`, from 8 client processes on 8 source addresses (12 500 each:
# under the 28 232 ephemeral ports per source and destination, and under the
# 20 000 files a process may hold). Two phases, each on a fresh server:
#   A. heartbeats off: server RSS per idle connection (summed over the
#      workers), server CPU while the connections sit idle for 30 s.
#   B. --heartbeat 30s: server CPU per heartbeat over a 30 s window (each
#      connection beats once per 30 s), beside the kernel's cost of a 1-byte
#      write measured by bench/writecost in the same run.
# Each phase ends with every connection closed by the clients; what came
# back is measured, not assumed: each worker's fd count against its value
# before the connections, and each client process's own fd count against its
# start (c100k's fd_ok). The goal row "all closed" is met only if both phases
# got every fd back.
set -eu
. "$(dirname "$0")/../lib.sh"
bench_init "$0" "$@"
for p in c100k writecost; do
	[ -x "$BIN/$p" ] || die "$BIN/$p is missing"
done
"$CW" serve --help | grep -q -- '--workers' || die "closewait serve has no --workers"

if [ $SMOKE = 1 ]; then
	N=2000 W=2 PROCS=2 IDLE_S=1 HB=1s HB_WIN=2 SETTLE=0.5 PAIRS=200
else
	N=100000 W=8 PROCS=8 IDLE_S=30 HB=30s HB_WIN=30 SETTLE=5 PAIRS=1000
fi

# Sum of a /proc figure over the supervisor and its workers.
sum_over() {
	t=0
	for p in $ALLPIDS; do
		t=$((t + $($1 "$p")))
	done
	echo $t
}

# start_workers PORT EXTRA...: sets SUP, WORKERS, ALLPIDS.
start_workers() {
	port=$1
	shift
	log=$TMPD/serve.$port
	"$CWRUN" serve --workers $W --bind 0.0.0.0 --port "$port" --quiet "$@" >"$log" 2>&1 &
	SUP=$!
	SERVERS="$SERVERS $SUP"
	i=0
	until grep -q "^Accepting connections" "$log" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 500 ] && die "serve --workers did not start: $(cat "$log")"
		sleep 0.02
	done
	WORKERS=$(pgrep -P "$SUP" | tr '\n' ' ')
	[ "$(echo $WORKERS | wc -w)" = $W ] || die "expected $W workers, found: $WORKERS"
	ALLPIDS="$SUP $WORKERS"
	for w in $WORKERS; do
		eval "fd0_$w=$(fd_count "$w")"
	done
}

# open_all PORT FIRST_SOURCE: N connections held by c100k; sets HOLD, OPEN_S.
open_all() {
	hold_out=$TMPD/hold.$1
	t0=$(date +%s.%N)
	"$BIN/c100k" --port "$1" --conns $N --procs $PROCS --sources $PROCS --first-source "$2" \
		--counter "$TMPD/hb.$1" >"$hold_out" &
	HOLD=$!
	SERVERS="$SERVERS $HOLD" # a suite that fails part-way still ends its clients
	wait_ready "$hold_out" 300
	OPEN_S=$(calc "$(date +%s.%N) - $t0")
	total=0
	for w in $WORKERS; do
		eval "f0=\$fd0_$w"
		total=$((total + $(fd_count "$w") - f0))
	done
	[ $total = $N ] || die "the workers hold $total connections, expected $N"
}

# close_all: the clients close, then each worker gets 120 s to be back at its
# fd count; stops the server. Sets CLOSED (connections whose server fd came
# back) and CLIENT_FDS (yes when every client process was back at its start).
close_all() {
	kill -USR1 "$HOLD"
	wait "$HOLD" || true # c100k exits 1 when a client process kept an fd: judged below
	SERVERS=$(printf '%s\n' $SERVERS | grep -vx "$HOLD" | tr '\n' ' ')
	grep -q '^closed conns=' "$hold_out" || die "c100k failed: $(cat "$hold_out")"
	CLIENT_FDS=no
	grep -q 'fd_ok=1' "$hold_out" && CLIENT_FDS=yes
	left=0
	for w in $WORKERS; do
		eval "f0=\$fd0_$w"
		fds_back "$w" "$f0" 120 || left=$((left + $(fd_count "$w") - f0))
	done
	CLOSED=$((N - left))
	stop_server "$SUP"
}

# ---- phase A: idle, heartbeats off ----
start_workers 9400 --idle 300s
rss0=$(sum_over rss_kb)
open_all 9400 2
open_a=$OPEN_S
rss1=$(sum_over rss_kb)
per_conn=$(calc "($rss1 - $rss0) * 1024 / $N")
per_worker=""
for w in $WORKERS; do
	eval "f0=\$fd0_$w"
	per_worker="$per_worker $(( $(fd_count "$w") - f0 ))"
done
sleep 1
c0=$(sum_over cpu_ticks)
sleep $IDLE_S
c1=$(sum_over cpu_ticks)
idle_pct=$(calc "($c1 - $c0) * 100 / $HZ / $IDLE_S")
close_all
closed_a=$CLOSED client_a=$CLIENT_FDS
summary "c100k: $N connections open in $(fmt "$open_a" 1) s; $(fmt "$per_conn" 0) B per idle connection; idle CPU $(fmt "$idle_pct" 2)% over ${IDLE_S} s"

# ---- phase B: heartbeats every $HB ----
start_workers 9401 --idle 300s --heartbeat $HB
open_all 9401 20
sleep $SETTLE
h0=$("$BIN/loadgen" --read-counter "$TMPD/hb.9401")
c0=$(sum_over cpu_ticks)
sleep $HB_WIN
c1=$(sum_over cpu_ticks)
h1=$("$BIN/loadgen" --read-counter "$TMPD/hb.9401")
wline=$("$BIN/writecost" --pairs $PAIRS) || die "writecost failed"
close_all
closed_b=$CLOSED client_b=$CLIENT_FDS
beats=$((h1 - h0))
[ $beats -gt 0 ] || die "no heartbeat arrived in ${HB_WIN} s"
hb_us=$(calc "($c1 - $c0) * 1e6 / $HZ / $beats")
wr_us=$(calc "$(kv cpu_ns "$wline") / 1000")
summary "c100k heartbeats: $beats in ${HB_WIN} s; server CPU $(fmt "$hb_us" 2) µs per heartbeat; kernel 1-byte write $(fmt "$wr_us" 2) µs"

echo "## C100K: $N idle connections to serve --workers $W"
echo
echo '```'
echo "closewait serve --workers $W --bind 0.0.0.0 --port P --quiet --idle 300s [--heartbeat $HB]"
echo "bench/c100k --port P --conns $N --procs $PROCS --sources $PROCS   # 127.0.0.2.. (phase B: 127.0.0.20..)"
echo "bench/writecost --pairs $PAIRS"
echo '```'
echo
echo "$PROCS client processes, each from its own source address, $((N / PROCS)) connections each"
echo "(one checked 16-byte exchange, then idle). Server figures are summed over the supervisor"
echo "and its $W workers (VmRSS and utime+stime from /proc). Connections per worker (SO_REUSEPORT"
echo "spread):$per_worker."
echo
echo "| figure | value |"
echo "|---|---:|"
echo "| time to open $N connections (with one exchange each) | $(fmt "$open_a" 1) s |"
echo "| server RSS before / with $N idle | $rss0 kB / $rss1 kB |"
echo "| **user memory per idle connection** | **$(fmt "$per_conn" 0) B** |"
echo "| server CPU while idle, heartbeats off, over ${IDLE_S} s | $(fmt "$idle_pct" 3) % of a core |"
echo "| heartbeats received in ${HB_WIN} s (--heartbeat $HB) | $beats |"
echo "| **server CPU per heartbeat** (timer, 1-byte write, wake-ups) | **$(fmt "$hb_us" 2) µs** |"
echo "| kernel's 1-byte write on loopback, same run (\`writecost\`: CPU per send) | $(fmt "$wr_us" 2) µs |"
echo "| connections whose server fd came back after the clients closed, phase A / B | $closed_a / $closed_b of $N |"
echo "| every client process back at its starting fd count, phase A / B | $client_a / $client_b |"
echo
echo "The heartbeat window starts ${SETTLE} s after the last connection opened; each connection"
echo "beats once per $HB (nothing else is sent), and the window is $HB_WIN s long. On loopback a"
echo "write also runs the receiver's TCP input in the sender's softirq, in both figures."
echo

peer=$(awk '$1 == "mem_libuv" { print $2 }' "$OUT/values.tsv" 2>/dev/null || true)
goal "C100K: user memory per idle connection <= 256 B" "$(fmt "$per_conn" 0) B" \
	"libuv ${peer:+$(fmt "$peer" 0) B (10 000, one process)}" "$(ratio "$per_conn" "${peer:-0}")" \
	"$N connections, $W workers" le "$per_conn" 256
goal "C100K: idle CPU < 1% of a core over ${IDLE_S} s, heartbeats off" "$(fmt "$idle_pct" 3) %" "" "" "" \
	lt "$idle_pct" 1
report "C100K: CPU per heartbeat beside kernel 1-byte write" "$(fmt "$hb_us" 2) µs" \
	"kernel write $(fmt "$wr_us" 2) µs" "$(ratio "$hb_us" "$wr_us")" "$beats heartbeats in ${HB_WIN} s"
all_back() { [ "$closed_a" = "$N" ] && [ "$closed_b" = "$N" ] && [ "$client_a$client_b" = yesyes ]; }
goal "C100K: all $N closed, every worker and client fd count back to start (both phases)" \
	"A: $closed_a, B: $closed_b closed" "" "" "client processes' fds back: A $client_a, B $client_b" all_back
