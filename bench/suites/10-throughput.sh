#!/bin/sh
# Throughput, latency and server CPU per message: ping-pong at 1, 50 and 1000
# connections, 64 B and 4 KiB messages, against closewait serve --quiet, the
# libuv peer, the bare epoll loop and (at 1 connection) the blocking loop.
# All servers run side by side for the whole suite; each run loads one of
# them. The machine is shared, so its speed drifts: a repetition runs every
# server once, back to back, in an order that rotates, and ratios are taken
# within a repetition (paired) before the median over repetitions.
set -eu
. "$(dirname "$0")/../lib.sh"
bench_init "$0" "$@"

if [ $SMOKE = 1 ]; then
	CONNS="1 50" SIZES="64" REPS=1 SECS=0.3 WARM=0.1
else
	CONNS="1 50 1000" SIZES="64 4096" REPS=9 SECS=1 WARM=0.3
fi
SERVERS_ALL="closewait libuv bare blocking"
raw=$OUT/throughput.tsv
: >"$raw"
# At 1 connection the ping-pong is strictly sequential: client and server are
# pinned to one CPU, so each message costs the two processes' work and two
# context switches. Across CPUs each message would cost two cross-CPU
# wake-ups (IPIs), which in this VM are slow and vary with the other tenants
# (measured here: 15 us round trips on one CPU, 40-60 us across, bimodal when
# the scheduler decides). At 50 and 1000 the two sides run on their own CPUs.
PIN=$(($(nproc) - 1))
command -v taskset >/dev/null || die "taskset (util-linux) is missing"

port=9100
for s in $SERVERS_ALL; do
	start_server "$s" $port
	eval "pid_$s=\$SPID port_$s=$port"
	port=$((port + 1))
done

# One loadgen run: appends "server conns size rep rate p50 p99 cpu_ns_per_msg" to $raw.
run_one() {
	s=$1 c=$2 m=$3 rep=$4
	eval "pid=\$pid_$s p=\$port_$s"
	pin=""
	if [ "$c" = 1 ]; then
		taskset -pc $PIN "$pid" >/dev/null
		pin="taskset -c $PIN"
	fi
	t0=$(cpu_ticks "$pid")
	line=$($pin "$BIN/loadgen" --port "$p" --conns "$c" --size "$m" --time $SECS --warmup $WARM) ||
		die "loadgen against $s ($c x $m B) failed"
	t1=$(cpu_ticks "$pid")
	[ "$c" = 1 ] && taskset -pc "0-$PIN" "$pid" >/dev/null
	# Every message the server handled: the measured run plus one opening
	# exchange per connection; CPU over the same span.
	msgs=$(( $(kv total "$line") + c ))
	cpu=$(calc "($t1 - $t0) * 1e9 / $HZ / $msgs")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$c" "$m" "$rep" "$(kv rate "$line")" \
		"$(kv p50_us "$line")" "$(kv p99_us "$line")" "$cpu" >>"$raw"
}

rot="closewait libuv bare"
for rep in $(seq 1 $REPS); do
	for c in $CONNS; do
		for m in $SIZES; do
			list=$rot
			[ "$c" = 1 ] && list="$rot blocking"
			for s in $list; do
				run_one "$s" "$c" "$m" "$rep"
			done
		done
	done
	rot="$(echo $rot | cut -d' ' -f2-) $(echo $rot | cut -d' ' -f1)"
done
for s in $SERVERS_ALL; do
	eval "stop_server \$pid_$s"
done

# med SERVER CONNS SIZE COLUMN: median over the repetitions (5 rate, 6 p50, 7 p99, 8 cpu).
med() {
	median $(awk -F'\t' -v s="$1" -v c="$2" -v m="$3" -v k="$4" \
		'$1 == s && $2 == c && $3 == m { print $k }' "$raw")
}
# pr PEER CONNS SIZE COLUMN: median over the repetitions of closewait / PEER,
# each ratio taken within one repetition.
pr() {
	median $(awk -F'\t' -v s="$1" -v c="$2" -v m="$3" -v k="$4" '
		$2 == c && $3 == m && $1 == "closewait" { cw[$4] = $k }
		$2 == c && $3 == m && $1 == s { p[$4] = $k }
		END { for (r in cw) if (r in p && p[r] > 0) print cw[r] / p[r] }' "$raw")
}

echo "## Throughput, latency and CPU per message (ping-pong)"
echo
echo "Each connection sends an M-byte message of lowercase letters and waits for the whole"
echo "uppercase reply before sending the next; every reply byte is checked. One \`loadgen\`"
echo "process; ${SECS} s measured after ${WARM} s of warm-up; $REPS repetitions, each running every"
echo "server once, back to back, in an order that rotates. Figures are **medians over the"
echo "repetitions**; ratios are **medians of the ratios taken within each repetition** (the"
echo "machine is shared with other work, and its speed drifts between repetitions more than"
echo "within one). Server CPU per message = utime+stime of the server (/proc/PID/stat) over the"
echo "whole loadgen run / every message it handled. At 1 connection client and server are"
echo "pinned to one CPU (taskset; the exchange is sequential, and cross-CPU wake-ups in this VM"
echo "are slow and erratic); at 50 and 1000 they run on the machine's $(nproc) CPUs unpinned."
echo
echo "TCP_NODELAY: every server sets it on its listening socket and accepted sockets inherit it"
echo "(closewait's default policy; uv_tcp_nodelay on the libuv listener; setsockopt on the bare"
echo "and blocking listeners); loadgen sets it on its own sockets."
echo
echo '```'
echo "closewait serve --bind 0.0.0.0 --port P --quiet    bench/peer_uv P    bench/peer_bare P    bench/peer_block P"
echo "bench/loadgen --port P --conns N --size M --time $SECS --warmup $WARM     # [taskset -c $PIN] at 1 connection"
echo '```'
echo
echo "| conns | size | closewait msg/s | libuv msg/s | bare msg/s | blocking msg/s | cw/libuv | cw/bare | cw/blocking | p99 µs cw / libuv / bare | CPU ns/msg cw / libuv / bare | CPU cw/bare |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|"
plot=$OUT/throughput.dat
: >"$plot"
for m in $SIZES; do
	for c in $CONNS; do
		for s in closewait libuv bare blocking; do
			eval "r_$s=\$(med $s $c $m 5) l_$s=\$(med $s $c $m 7) u_$s=\$(med $s $c $m 8)"
		done
		ru=$(fmt "$(pr libuv $c $m 5)" 2) rb=$(fmt "$(pr bare $c $m 5)" 2)
		rl=$(fmt "$(pr libuv $c $m 7)" 2) rc=$(fmt "$(pr bare $c $m 8)" 2)
		bl=n/a rk=n/a
		if [ "$c" = 1 ]; then
			bl=$(fmt "$r_blocking" 0)
			rk=$(fmt "$(pr blocking $c $m 5)" 2)
		fi
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s | %s / %s / %s | %s |\n' \
			"$c" "$m" "$(fmt "$r_closewait" 0)" "$(fmt "$r_libuv" 0)" "$(fmt "$r_bare" 0)" "$bl" \
			"$ru" "$rb" "$rk" "$(fmt "$l_closewait" 0)" "$(fmt "$l_libuv" 0)" "$(fmt "$l_bare" 0)" \
			"$(fmt "$u_closewait" 0)" "$(fmt "$u_libuv" 0)" "$(fmt "$u_bare" 0)" "$rc"
		printf '%s %s %s %s %s\n' "$m" "$c" "$r_closewait" "$r_libuv" "$r_bare" >>"$plot"
		summary "throughput $c x $m B: closewait $(fmt "$r_closewait" 0)/s libuv $(fmt "$r_libuv" 0)/s bare $(fmt "$r_bare" 0)/s (cw/libuv $ru, cw/bare $rb)"
		sz=$m
		[ "$m" = 4096 ] && sz=4KiB
		[ "$m" = 64 ] && sz=64B
		if [ "$c" = 1 ]; then
			goal "throughput 1 conn $sz >= 0.95x bare" "$(fmt "$r_closewait" 0)/s" "bare $(fmt "$r_bare" 0)/s" "$rb" "" ge "$rb" 0.95
			goal "throughput 1 conn $sz >= 0.8x blocking floor" "$(fmt "$r_closewait" 0)/s" "blocking $(fmt "$r_blocking" 0)/s" "$rk" "" ge "$rk" 0.8
		else
			goal "throughput $c conns $sz >= 1.2x libuv" "$(fmt "$r_closewait" 0)/s" "libuv $(fmt "$r_libuv" 0)/s" "$ru" "" ge "$ru" 1.2
			goal "throughput $c conns $sz >= 0.9x bare" "$(fmt "$r_closewait" 0)/s" "bare $(fmt "$r_bare" 0)/s" "$rb" "" ge "$rb" 0.9
			goal "p99 latency $c conns $sz <= libuv" "$(fmt "$l_closewait" 0) µs" "libuv $(fmt "$l_libuv" 0) µs" "$rl" "" le "$rl" 1.0
			goal "CPU/msg $c conns $sz <= 1.1x bare" "$(fmt "$u_closewait" 0) ns" "bare $(fmt "$u_bare" 0) ns" "$rc" "" le "$rc" 1.1
		fi
	done
done
echo
echo "p99 is the 99th percentile of the round-trip time (request sent to last reply byte read)"
echo "over all messages of the measured window. The spread of the repetitions (min-max of"
echo "msg/s) shows how much the shared machine moved during the suite:"
echo
echo "| conns | size | closewait | libuv | bare | cw/bare per repetition |"
echo "|---:|---:|---|---|---|---|"
for m in $SIZES; do
	for c in $CONNS; do
		row="| $c | $m |"
		for s in closewait libuv bare; do
			row="$row $(awk -F'\t' -v s=$s -v c=$c -v m=$m '$1 == s && $2 == c && $3 == m {
				if (n++ == 0 || $5 < lo) lo = $5; if ($5 > hi) hi = $5 }
				END { printf "%.0f-%.0f", lo, hi }' "$raw") |"
		done
		row="$row $(awk -F'\t' -v c=$c -v m=$m '$2 == c && $3 == m && $1 == "closewait" { cw[$4] = $5 }
			$2 == c && $3 == m && $1 == "bare" { b[$4] = $5 }
			END { for (r = 1; r in cw; r++) printf "%s%.2f", (r > 1 ? " " : ""), cw[r] / b[r] }' "$raw") |"
		echo "$row"
	done
done
echo

if command -v gnuplot >/dev/null 2>&1; then
	png=$OUT/throughput.png
	gnuplot <<EOF || die "gnuplot failed"
set terminal pngcairo size 1000,450 noenhanced font ",10" 
set output "$png"
set multiplot layout 1,2 title "Ping-pong throughput against connection count (median of $REPS runs)"
set logscale x
set xlabel "connections (at 1: client and server on one CPU)"
set ylabel "messages/s"
set yrange [0:*]
set key left top
set grid
do for [m in "$SIZES"] {
  set title sprintf("%s-byte messages", m)
  plot "$plot" using (\$1 == m+0 ? \$2 : 1/0):3 with linespoints lw 2 title "closewait", \
       "" using (\$1 == m+0 ? \$2 : 1/0):4 with linespoints lw 2 title "libuv", \
       "" using (\$1 == m+0 ? \$2 : 1/0):5 with linespoints lw 2 title "bare epoll"
}
unset multiplot
EOF
	echo
	echo "![throughput against connection count](bench/out/throughput.png)"
	summary "plot: $png"
else
	die "gnuplot is missing (scripts/bootstrap bench installs gnuplot-nox)"
fi
