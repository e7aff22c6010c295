#!/bin/sh
# Trace benchmark: what `closewait trace` running costs every other program.
# 1. One system call (bench/syscost: read() on a TCP socket made after the
#    tracer started, so it is tracked; read() on a pipe; getppid()), the
#    least of 7 rounds of 100 000 calls, with trace off, on for every
#    process, and on with --pid another process; the three taken in turn,
#    $ROUNDS times, and for each the least. Goals: at most +100 ns per
#    socket read and +20 ns per other system call. The peer, in the same
#    rotation: bench/trace_floor, empty programs on the tracepoints trace
#    uses (what the kernel charges for running any program there), and the
#    same with one syscall tracepoint alone; trace's own work is its cost
#    over the first.
# 2. The echo server (closewait serve, 50 connections, 64 B): msgs/s with
#    trace on for every process against off, $PAIRS pairs taken in turn
#    (off, on, off, on...): the median ratio and its range, a figure only.
#   sh bench/suites/58-trace.sh BUILD_DIR OUT_DIR [--smoke]
set -eu
. "$(dirname "$0")/../lib.sh"
bench_init "$0" "$@"
[ -x "$BIN/syscost" ] || die "58-trace: $BIN/syscost is missing; build first"
if [ $SMOKE = 1 ]; then
	CALLS=20000 RROUNDS=2 ROUNDS=1 PAIRS=1 SECS=0.3
else
	CALLS=100000 RROUNDS=7 ROUNDS=3 PAIRS=7 SECS=2
fi
CONNS=50 SIZE=64
# A closewait built without the eBPF toolchain has no trace to measure.
if "$CW" trace --duration 1ms --json 2>&1 | grep -q "built without trace"; then
	echo "## What trace costs other programs"
	echo
	echo "Not measured: this closewait was built without trace (no eBPF toolchain)."
	summary "trace: not built, not measured"
	report "trace: cost to other programs" "not built" "" "" "this closewait was built without trace"
	exit 0
fi
sgn() { awk -v v="$1" 'BEGIN { printf "%+.1f", v }'; }

# start_bg OUT PATTERN CMD...: CMD in the background, output to OUT, until
# OUT has a line matching PATTERN; sets TPID (trace_stop stops it).
start_bg() {
	tout=$1 pat=$2
	shift 2
	: >"$tout"
	"$@" >"$tout" 2>&1 &
	TPID=$!
	SERVERS="$SERVERS $TPID"
	i=0
	until grep -q "$pat" "$tout"; do
		kill -0 $TPID 2>/dev/null || die "58-trace: $1 did not start: $(tail -3 "$tout")"
		i=$((i + 1))
		[ $i -le 1000 ] || die "58-trace: $1 not started after 20 s"
		sleep 0.02
	done
}
# trace_start [ARGS...]: closewait trace --json, until it says it started
# (its programs are loaded and attached).
trace_start() { start_bg "$TMPD/trace.out" '"event":"started"' "$CW" trace --json --grace 1h --interval 10s "$@"; }
trace_stop() {
	kill -INT "$TPID"
	wait "$TPID" || die "58-trace: $(basename "$tout" .out) failed: $(tail -3 "$tout")"
	SERVERS=$(printf '%s\n' $SERVERS | grep -vx "$TPID" | tr '\n' ' ')
}
# floor_start [--syscall]: bench/trace_floor, until its programs are attached.
floor_start() { start_bg "$TMPD/floor.out" '^attached$' "$BIN/trace_floor" "$@"; }

# ---- 1. one system call ----
sleep 1000 &
OTHER=$!
SERVERS="$SERVERS $OTHER"
: >"$TMPD/cost.tsv"
cost() { "$BIN/syscost" --calls $CALLS --rounds $RROUNDS | sed "s/^/mode=$1 /" >>"$TMPD/cost.tsv"; }
r=0
while [ $r -lt $ROUNDS ]; do
	r=$((r + 1))
	cost off
	trace_start
	cost all
	trace_stop
	trace_start --pid $OTHER
	cost pid
	trace_stop
	floor_start
	cost floor
	trace_stop
	floor_start --syscall
	cost sys
	trace_stop
	trace_start --no-eof-times
	cost noeof
	trace_stop
done
# least MODE KEY: the least KEY over the rounds of MODE.
least() {
	grep "^mode=$1 " "$TMPD/cost.tsv" | while read -r line; do kv "$2" "$line"; done | sort -g | head -1
}
echo "## What trace costs other programs"
echo
echo "\`bench/syscost\`: one system call, in ns, the least of $RROUNDS rounds of $CALLS calls, with"
echo "\`closewait trace\` off, on for every process, and on with \`--pid\` another process; the three"
echo "taken in turn, $ROUNDS times, and for each the least. The socket is a TCP connection the"
echo "probe made (and accepted) after the tracer started: tracked. Reads find nothing (EAGAIN), so"
echo "each call does the same work; a socket read still runs the receive path and its tracepoint."
echo "The peer, taken in the same turns: \`bench/trace_floor\`, empty programs on the tracepoints trace"
echo "uses (two syscall tracepoints, accept's exits; four others), and \`trace_floor --syscall\`, one"
echo "empty program on one syscall tracepoint alone: what the kernel charges for running any program"
echo "there. Trace's own work is what it costs over the first."
echo
echo "| call | off | on, every process | on, --pid another | empty programs | one syscall tracepoint | more, every process | more, --pid another | more, empty programs | more, one syscall tracepoint | trace over empty programs |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for k in sock_read_ns pipe_read_ns getppid_ns; do
	off=$(least off $k) all=$(least all $k) pid=$(least pid $k) flo=$(least floor $k) sys=$(least sys $k)
	d_all=$(calc "$all - $off") d_pid=$(calc "$pid - $off") d_flo=$(calc "$flo - $off") d_sys=$(calc "$sys - $off")
	eval "off_$k=$off d_all_$k=$d_all d_pid_$k=$d_pid d_flo_$k=$d_flo d_sys_$k=$d_sys"
	echo "| ${k%_ns} | $(fmt "$off" 1) | $(fmt "$all" 1) | $(fmt "$pid" 1) | $(fmt "$flo" 1) | $(fmt "$sys" 1) |" \
		"$(sgn "$d_all") | $(sgn "$d_pid") | $(sgn "$d_flo") | $(sgn "$d_sys") | $(sgn "$(calc "$d_all - $d_flo")") |"
done
echo
echo "The goals (at most +100 ns per socket read, +20 ns per other call) are below what empty programs"
echo "on the same tracepoints cost on this kernel: a syscall tracepoint sends every system call of"
echo "every process through the kernel's slow path, whichever process trace selects."
echo
summary "empty programs on trace's tracepoints: socket read $(sgn "$d_flo_sock_read_ns") ns, pipe read $(sgn "$d_flo_pipe_read_ns"), getppid $(sgn "$d_flo_getppid_ns"); one syscall tracepoint: getppid $(sgn "$d_sys_getppid_ns")"
summary "trace cost: socket read $(sgn "$d_all_sock_read_ns") ns (of $(fmt "$off_sock_read_ns" 1)), pipe read $(sgn "$d_all_pipe_read_ns"), getppid $(sgn "$d_all_getppid_ns"); with --pid another: $(sgn "$d_pid_sock_read_ns"), $(sgn "$d_pid_pipe_read_ns"), $(sgn "$d_pid_getppid_ns")"
for scope in all pid; do
	[ $scope = all ] && what="on for every process" || what="on with --pid another process"
	eval "ds=\$d_${scope}_sock_read_ns dp=\$d_${scope}_pipe_read_ns dg=\$d_${scope}_getppid_ns"
	goal "trace $what: read() on a tracked socket <= +100 ns" "$(sgn "$ds") ns" \
		"off $(fmt "$off_sock_read_ns" 1) ns" "$(ratio "$(calc "$off_sock_read_ns + $ds")" "$off_sock_read_ns")" \
		"least of $ROUNDS x $RROUNDS rounds of $CALLS calls" le "$ds" 100
	goal "trace $what: read() on a pipe <= +20 ns" "$(sgn "$dp") ns" \
		"off $(fmt "$off_pipe_read_ns" 1) ns" "$(ratio "$(calc "$off_pipe_read_ns + $dp")" "$off_pipe_read_ns")" \
		"least of $ROUNDS x $RROUNDS rounds of $CALLS calls" le "$dp" 20
	goal "trace $what: getppid() <= +20 ns" "$(sgn "$dg") ns" \
		"off $(fmt "$off_getppid_ns" 1) ns" "$(ratio "$(calc "$off_getppid_ns + $dg")" "$off_getppid_ns")" \
		"least of $ROUNDS x $RROUNDS rounds of $CALLS calls" le "$dg" 20
done

for k in sock_read_ns pipe_read_ns getppid_ns; do
	case $k in sock_read_ns) what="read() on a tracked socket" ;; pipe_read_ns) what="read() on a pipe" ;; *) what="getppid()" ;; esac
	eval "off=\$off_$k df=\$d_flo_$k da=\$d_all_$k"
	report "empty programs on trace's tracepoints: $what" "$(sgn "$df") ns" "off $(fmt "$off" 1) ns" \
		"$(ratio "$(calc "$off + $df")" "$off")" "the kernel's cost of any program there; trace on for every process $(sgn "$(calc "$da - $df")") ns over it"
done
d_noeof=$(calc "$(least noeof sock_read_ns) - $off_sock_read_ns")
echo "With \`--no-eof-times\` (no hook on socket reads), on for every process: a socket read $(sgn "$d_noeof") ns."
echo
report "trace --no-eof-times on for every process: read() on a tracked socket" "$(sgn "$d_noeof") ns" \
	"off $(fmt "$off_sock_read_ns" 1) ns" "$(ratio "$(calc "$off_sock_read_ns + $d_noeof")" "$off_sock_read_ns")" \
	"no EOF read times; least of $ROUNDS x $RROUNDS rounds of $CALLS calls"
report "one empty program on one syscall tracepoint: getppid()" "$(sgn "$d_sys_getppid_ns") ns" \
	"off $(fmt "$off_getppid_ns" 1) ns" "$(ratio "$(calc "$off_getppid_ns + $d_sys_getppid_ns")" "$off_getppid_ns")" \
	"every system call of every process, whatever the program selects"

# ---- 2. the echo server ----
port=9580
start_server closewait $port
: >"$TMPD/ratios"
: >"$TMPD/rates"
p=0
while [ $p -lt $PAIRS ]; do
	p=$((p + 1))
	off=$(kv rate "$("$BIN/loadgen" --port $port --conns $CONNS --size $SIZE --time $SECS --warmup 0.2)")
	trace_start
	on=$(kv rate "$("$BIN/loadgen" --port $port --conns $CONNS --size $SIZE --time $SECS --warmup 0.2)")
	trace_stop
	echo "$(calc "$on / $off")" >>"$TMPD/ratios"
	echo "$off $on" >>"$TMPD/rates"
done
stop_server $SPID
med=$(median $(cat "$TMPD/ratios"))
lo=$(sort -g "$TMPD/ratios" | head -1) hi=$(sort -g "$TMPD/ratios" | tail -1)
off_med=$(median $(awk '{ print $1 }' "$TMPD/rates")) on_med=$(median $(awk '{ print $2 }' "$TMPD/rates"))
echo "The echo server (\`closewait serve\`, \`loadgen --conns $CONNS --size $SIZE --time $SECS\`), trace off"
echo "and on for every process, $PAIRS pairs taken in turn: msgs/s with trace on / off, median"
echo "$(fmt "$med" 3) (range $(fmt "$lo" 3)-$(fmt "$hi" 3)); medians $(fmt "$on_med" 0)/s on, $(fmt "$off_med" 0)/s off."
summary "trace echo server: on/off $(fmt "$med" 3) (range $(fmt "$lo" 3)-$(fmt "$hi" 3)), $PAIRS pairs"
report "trace on for every process: echo server msgs/s vs off ($CONNS conns, 64B)" \
	"$(fmt "$on_med" 0)/s" "off $(fmt "$off_med" 0)/s" "$(fmt "$med" 3)" \
	"median of $PAIRS pairs taken in turn, range $(fmt "$lo" 3)-$(fmt "$hi" 3)"
