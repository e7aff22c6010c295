#!/bin/sh
# The guard's cost to the program it watches: `closewait serve` with and
# without libclosewait-guard.so preloaded, in the same run.
#   1. callgrind Ir per message on the echo path (as 50-callgrind.sh), beside
#      the same server with one idle thread preloaded (bench/idle_thread.so);
#   2. syscalls per message under strace -c -f (as 15-syscalls.sh), every
#      syscall listed for both servers;
#   3. the checker's cost per check at 10, 1 000 and 10 000 tracked idle
#      connections, for each way of reading states (TCP_INFO per socket, one
#      sock_diag dump filtered to CLOSE_WAIT) and the automatic choice;
#   4. churn: short connections (connect, one exchange, close), accepts/s,
#      interleaved runs, medians.
# In its own network namespace (bench_init, as root) the suite sets
# net.ipv4.tcp_max_tw_buckets=0 there: no TIME_WAIT sockets. The churn would
# leave tens of thousands (the client closes first), which exhaust the
# ephemeral ports and slow every connect() more with every run, and which a
# sock_diag dump walks too.
set -eu
. "$(dirname "$0")/../lib.sh"
bench_init "$0" "$@"
GUARD_SO=$BUILD/libclosewait-guard.so
[ -f "$GUARD_SO" ] || die "$GUARD_SO is missing; build first"
for p in c100k idle_thread.so; do
	[ -e "$BIN/$p" ] || die "$BIN/$p is missing; build first"
done
for p in valgrind callgrind_control callgrind_annotate; do
	command -v $p >/dev/null || die "$p is missing (scripts/bootstrap installs valgrind)"
done
command -v strace >/dev/null || die "strace is missing (scripts/bootstrap installs it)"
TW="the suite's network namespace keeps no TIME_WAIT sockets (net.ipv4.tcp_max_tw_buckets=0)"
if [ "${CW_BENCH_NETNS:-}" = 1 ]; then
	sysctl -qw net.ipv4.tcp_max_tw_buckets=0 || die "cannot set net.ipv4.tcp_max_tw_buckets"
else
	TW="TIME_WAIT sockets pile up (not root: the suite runs in the machine's network namespace)"
fi

if [ $SMOKE = 1 ]; then
	CG_SHORT=100 CG_LONG=400 ST_SHORT=20 ST_LONG=60
	CK_NS="50" CK_SETTLE=0.1 CK_HOLD=0.3 CK_REPS=1
	CH_REPS=1 CH_SECS=0.2 CH_WARM=0.1
else
	CG_SHORT=1000 CG_LONG=3000 ST_SHORT=300 ST_LONG=1200
	CK_NS="10 1000 10000" CK_SETTLE=0.3 CK_HOLD=1.5 CK_REPS=3
	CH_REPS=11 CH_SECS=0.5 CH_WARM=0.1
fi
CONNS=50 SIZE=64
GUARD_SET=interval=1000 # what `closewait guard --interval 1s` sets
CK_INTERVAL=100
CK_TCPINFO=1000000000 # dump_above: never the dump
CH_CONNS=16 CH_PROCS=2

# start KIND REPORT SETTINGS CMD...: starts CMD in the background: plain (KIND
# plain), under the guard (guard: preloaded, CLOSEWAIT_GUARD=SETTINGS,report=
# REPORT) or with bench/idle_thread.so preloaded (thread). Only CMD: the shell
# stays as it is. Sets BG (CMD's own pid: no subshell in between) and BGOUT,
# the file of its stdout and stderr.
NSTARTED=0
start() {
	s_kind=$1 s_rep=$2 s_set=$3
	shift 3
	NSTARTED=$((NSTARTED + 1))
	BGOUT=$TMPD/out.$NSTARTED
	case $s_kind in
	guard) LD_PRELOAD=$GUARD_SO CLOSEWAIT_GUARD="$s_set,report=$s_rep" "$@" >"$BGOUT" 2>&1 & ;;
	thread) LD_PRELOAD=$BIN/idle_thread.so "$@" >"$BGOUT" 2>&1 & ;;
	*) "$@" >"$BGOUT" 2>&1 & ;;
	esac
	BG=$!
	SERVERS="$SERVERS $BG"
}

# serve_on KIND PORT [REPORT [SETTINGS]]: closewait serve, plain or under the
# guard (reporting to REPORT, settings SETTINGS, default $GUARD_SET); waits
# until it listens, sets SPID and SOUT (its output).
serve_on() {
	start "$1" "${3:-}" "${4:-$GUARD_SET}" "$CWRUN" serve --bind 0.0.0.0 --port "$2" --quiet
	SPID=$BG SOUT=$BGOUT
	wait_listen "$2"
}

# summary_field FILE KEY: a number from the guard's summary line in FILE.
summary_field() {
	grep '"event":"summary"' "$1" 2>/dev/null | tail -1 |
		sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p"
}

# guard_ran REPORT OUT: the guard ran in the server that wrote REPORT (its
# exit summary says so), or the suite fails with what the server printed.
guard_ran() {
	[ -n "$(summary_field "$1" tracked)" ] ||
		die "the guard wrote no summary to $1: it did not run in the server: $(tail -3 "$2")"
}

# wait_closed PORT: waits (deadline 20 s) until no socket with local port
# PORT is left but its listener: the server has closed every connection.
# (Not the server's fd count: the guard may open an fd of its own meanwhile.)
wait_closed() {
	hex=$(printf ':%04X' "$1")
	i=0
	while awk -v p="$hex" '$2 ~ p"$" && $4 != "0A" { f = 1 } END { exit !f }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 1000 ] && die "the server on port $1 still holds connections after 20 s"
		sleep 0.02
	done
}

echo "## The guard: what it costs the program it watches"
echo
echo "\`closewait serve\` (the uppercase echo server) run as is and with the guard preloaded, in"
echo "the same run: \`LD_PRELOAD=libclosewait-guard.so CLOSEWAIT_GUARD=$GUARD_SET,report=FILE\`,"
echo "what \`closewait guard --interval 1s --report FILE -- closewait serve\` sets. The guard only"
echo "watches (no keepalive, no cure)."
echo

# ---- 1. callgrind: instructions per message ----
# profile KIND PORT: one server under callgrind, two loadgen runs of
# $CG_SHORT and $CG_LONG messages per connection, the profile dumped after
# each (callgrind_control -d, then at exit): $TMPD/cg.KIND.short.txt and
# .long.txt, annotated. Sets MSGS_SHORT and MSGS_LONG, the messages the
# server handled in each (each connection's opening ping too).
profile() {
	out=$TMPD/cg.$1
	start "$1" "$TMPD/cg-report.$1" "$GUARD_SET" valgrind --tool=callgrind \
		--callgrind-out-file="$out" --toggle-collect=cw_loop_run \
		"$CWRUN" serve --bind 0.0.0.0 --port "$2" --quiet
	vpid=$BG vout=$BGOUT
	wait_listen "$2"
	"$BIN/loadgen" --port "$2" --conns $CONNS --size $SIZE --count $CG_SHORT --warmup 0 >/dev/null ||
		die "loadgen against the $1 server under callgrind failed"
	MSGS_SHORT=$((CONNS * CG_SHORT + CONNS))
	wait_closed "$2"
	callgrind_control -d "$vpid" >/dev/null 2>&1 || die "callgrind_control -d $vpid failed"
	[ -s "$out.1" ] || die "callgrind wrote no first profile for the $1 server: $(tail -3 "$vout")"
	"$BIN/loadgen" --port "$2" --conns $CONNS --size $SIZE --count $CG_LONG --warmup 0 >/dev/null ||
		die "loadgen against the $1 server under callgrind failed"
	MSGS_LONG=$((CONNS * CG_LONG + CONNS))
	wait_closed "$2"
	stop_server "$vpid"
	[ -s "$out" ] || die "callgrind wrote no profile for the $1 server: $(tail -3 "$vout")"
	[ "$1" != guard ] || guard_ran "$TMPD/cg-report.$1" "$vout"
	callgrind_annotate --threshold=100 "$out.1" 2>/dev/null | tr -d ',' >"$out.short.txt"
	callgrind_annotate --threshold=100 "$out" 2>/dev/null | tr -d ',' >"$out.long.txt"
}

# ir_in FILE MODULE: self Ir of the functions of a loaded object (its file
# name starts with MODULE) in annotate output FILE.
ir_in() {
	awk -v m="$2" '$1 ~ /^[0-9]+$/ && $NF ~ "/" m "[^/]*\\]$" { s += $1 } END { print s + 0 }' "$1"
}
# ir_fn FILE REGEX: self Ir of the functions whose name matches.
ir_fn() {
	awk -v f="$2" '$1 ~ /^[0-9]+$/ && $0 ~ ":(" f ") \\[" { s += $1 } END { print s + 0 }' "$1"
}
ir_total() { awk '/PROGRAM TOTALS/ { print $1 }' "$1"; }

port=9550
for k in plain thread guard; do
	profile $k $port
	port=$((port + 1))
	a=$TMPD/cg.$k.short.txt b=$TMPD/cg.$k.long.txt
	dm=$((MSGS_LONG - MSGS_SHORT))
	per=$(calc "($(ir_total "$b") - $(ir_total "$a")) / $dm")
	eval "cg_dm_$k=$dm cg_$k=$per"
	# once per connection: what the short run cost beyond its messages
	eval "cg_conn_$k=$(calc "($(ir_total "$a") - $per * $MSGS_SHORT) / $CONNS")"
	eval "cg_so_$k=$(calc "($(ir_in "$b" libclosewait-guard) - $(ir_in "$a" libclosewait-guard)) / $dm")"
	eval "cg_unw_$k=$(calc "($(ir_in "$b" libgcc_s) - $(ir_in "$a" libgcc_s)) / $dm")"
	re='__pthread_(en|dis)able_asynccancel'
	eval "cg_mt_$k=$(calc "($(ir_fn "$b" "$re") - $(ir_fn "$a" "$re")) / $dm")"
done
cg_x=$(ratio "$cg_guard" "$cg_plain")
cg_xt=$(ratio "$cg_guard" "$cg_thread")
cg_tx=$(ratio "$cg_thread" "$cg_plain")
echo "### Instructions per message (callgrind)"
echo
echo "\`valgrind --tool=callgrind --toggle-collect=cw_loop_run\` around each server: instructions"
echo "executed in user space inside the server's loop (as in \"Callgrind\" above), over two"
echo "\`loadgen --conns $CONNS --size $SIZE --count N --warmup 0\` runs of ${CG_SHORT} and ${CG_LONG} messages per"
echo "connection, the profile dumped after each (\`callgrind_control -d\`). Per message = (long -"
echo "short) / (messages long - short), so what each connection costs once cancels out: it is"
echo "shown apart, per connection = (short - its messages x per message) /"
echo "$CONNS. The guard's own share per message: its interposed calls (libclosewait-guard.so), and"
echo "the backtraces it takes at accept and at the read that returns end-of-file (libgcc_s's"
echo "unwinder: per connection only). The middle row is the same server with"
echo "\`bench/idle_thread.so\` preloaded, which starts one thread that only sleeps: in a process"
echo "with a second thread glibc takes its multi-threaded path on every cancellable call (read,"
echo "send and epoll_wait enable and disable asynchronous cancellation around the system call:"
echo "the \"cancellation\" column), so the guard's checker thread costs that by existing,"
echo "whatever it does."
echo
echo "| server | messages (long - short) | Ir per message | cancellation | in libclosewait-guard.so | in libgcc_s | vs closewait serve | Ir per connection |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for k in plain thread guard; do
	case $k in
	plain) name="closewait serve" ;;
	thread) name="closewait serve, one idle thread preloaded" ;;
	guard) name="closewait serve under the guard" ;;
	esac
	eval "m=\$cg_dm_$k v=\$cg_$k mt=\$cg_mt_$k so=\$cg_so_$k unw=\$cg_unw_$k c=\$cg_conn_$k"
	echo "| $name | $m | $(fmt "$v" 0) | $(fmt "$mt" 1) | $(fmt "$so" 1) | $(fmt "$unw" 1) | $(ratio "$v" "$cg_plain") | $(fmt "$c" 0) |"
done
echo
echo "Under the guard: $(fmt "$cg_x" 2)x the instructions per message of the server alone, and"
echo "$(fmt "$cg_xt" 2)x those of the server with an idle thread (itself $(fmt "$cg_tx" 2)x the server alone)."
echo
summary "guard callgrind: $(fmt "$cg_guard" 0) Ir/msg under the guard, $(fmt "$cg_plain" 0) without ($cg_x), $(fmt "$cg_thread" 0) with an idle thread ($cg_xt); per connection $(fmt "$cg_conn_guard" 0) Ir under the guard, $(fmt "$cg_conn_plain" 0) without"
goal "guard: callgrind Ir/msg under the guard <= 1.05x without ($CONNS conns, 64B)" \
	"$(fmt "$cg_guard" 0) Ir/msg" "without $(fmt "$cg_plain" 0)" "$cg_x" \
	"an idle thread alone: $cg_tx" le "$cg_x" 1.05
report "guard: callgrind Ir/msg under the guard vs one idle thread ($CONNS conns, 64B)" \
	"$(fmt "$cg_guard" 0) Ir/msg" "idle thread $(fmt "$cg_thread" 0)" "$cg_xt" \
	"what any checker thread costs: glibc's multi-threaded path"

# ---- 2. syscalls per message ----
# traced_run PID PORT COUNT FILE: strace -c -f around one loadgen run of
# COUNT messages per connection (the checker thread included): a fixed
# amount of work, however much strace and a busy machine slow it. Sets
# MSGS, the messages the server handled (each connection's opening ping
# too), and SECS, how long the run took.
traced_run() {
	err=$TMPD/strace.err
	: >"$err"
	strace -c -f -p "$1" -o "$4" 2>"$err" &
	st=$!
	wait_attached "$err" "$1"
	line=$("$BIN/loadgen" --port "$2" --conns $CONNS --size $SIZE --count "$3" --warmup 0) ||
		die "loadgen failed under strace"
	wait_closed "$2"
	kill -INT $st
	wait $st || true
	[ "$(kv total "$line")" = $((CONNS * $3)) ] ||
		die "loadgen: $(kv total "$line") messages, not $CONNS x $3: $line"
	MSGS=$((CONNS * $3 + CONNS)) SECS=$(kv secs "$line")
}

# calls FILE SYSCALL: calls of one syscall in an strace -c summary (0 if absent).
calls() {
	awk -v s="$2" '$NF == s && $4 ~ /^[0-9]+$/ { n = $4 } END { print n + 0 }' "$1"
}
# names FILE...: every syscall the summaries count.
names() {
	awk '$4 ~ /^[0-9]+$/ && $NF != "total" && $NF ~ /^[a-z_0-9]+$/ { print $NF }' "$@" | sort -u
}

port=9560
for k in plain guard; do
	serve_on $k $port "$TMPD/st-report.$k"
	# an untraced run first: the guard starts its checker thread with the
	# first connection, once, and a traced run must not count that
	"$BIN/loadgen" --port $port --conns $CONNS --size $SIZE --time 0.1 --warmup 0 >/dev/null ||
		die "loadgen against the $k server failed"
	wait_closed $port
	traced_run $SPID $port $ST_SHORT "$TMPD/st-short.$k"
	n1=$MSGS s1=$SECS
	traced_run $SPID $port $ST_LONG "$TMPD/st-long.$k"
	eval "st_dm_$k=$((MSGS - n1)) st_ds_$k=$(calc "$SECS - $s1")"
	stop_server $SPID
	[ $k = plain ] || guard_ran "$TMPD/st-report.$k" "$SOUT"
	port=$((port + 1))
done
# delta K SYSCALL: calls in the long run - calls in the short one, server K.
delta() { echo $(($(calls "$TMPD/st-long.$1" "$2") - $(calls "$TMPD/st-short.$1" "$2"))); }
per() { eval "calc \"$(delta "$1" "$2") / \$st_dm_$1\""; }
st_plain=$(per plain total) st_guard=$(per guard total)
st_x=$(calc "$st_guard / $st_plain")
echo "### System calls per message (strace -c -f)"
echo
echo "\`strace -c -f -p SERVER_PID\` (every thread: the guard's checker too) around two loadgen runs"
echo "of ${ST_SHORT} and ${ST_LONG} messages per connection (\`--conns $CONNS --size $SIZE --count N\`) against each"
echo "server, after one untraced run"
echo "(the guard starts its checker thread with the first connection); per message = (long -"
echo "short) / (messages long - short), as in \"Server syscalls\" above: what each connection"
echo "costs once (accept4, the guard's backtraces and getsockopts, close) cancels out."
echo
echo "| server | messages (long - short) | **total per msg** |"
echo "|---|---:|---:|"
echo "| closewait serve | $st_dm_plain | **$(fmt "$st_plain" 4)** |"
echo "| closewait serve under the guard | $st_dm_guard | **$(fmt "$st_guard" 4)** |"
echo
echo "Under the guard: $(fmt "$st_x" 4)x the system calls per message. Every call counted, per message"
echo "for each server, and the guarded server's surplus per second of load (its checker wakes"
echo "every 1 s and reads the state of each of its $CONNS sockets; per-connection calls such as"
echo "accept4, whose count depends on how the connections arrive in bursts, move a little):"
echo
echo "| syscall | per msg | per msg under the guard | under the guard, more per s |"
echo "|---|---:|---:|---:|"
for sc in $(names "$TMPD"/st-*); do
	p=$(per plain "$sc") g=$(per guard "$sc")
	# per second of the guarded server's long run beyond its short one
	more=n/a
	[ "$(calc "$st_ds_guard > 0")" = 0 ] ||
		more=$(fmt "$(calc "($(delta guard "$sc") - $p * $st_dm_guard) / $st_ds_guard")" 1)
	echo "| $sc | $(fmt "$p" 4) | $(fmt "$g" 4) | $more |"
done
echo
summary "guard syscalls/msg: $(fmt "$st_guard" 4) under the guard, $(fmt "$st_plain" 4) without ($(fmt "$st_x" 4))"
goal "guard: syscalls/msg under the guard <= 1.01x without ($CONNS conns, 64B)" \
	"$(fmt "$st_guard" 4)" "without $(fmt "$st_plain" 4)" "$(fmt "$st_x" 4)" \
	"more: the checker's calls" le "$st_x" 1.01

# ---- 3. cost per check ----
# checker PID: "CPU_NS SLEEPS" of the guard's checker thread in server PID
# (its one thread besides the main one): nanoseconds on a CPU (schedstat)
# and voluntary context switches. The checker sleeps once per check and
# otherwise only waits for the guard's lock, which the server, idle, leaves
# free: its sleeps count its checks.
checker() {
	tids=$(ls "/proc/$1/task" | grep -vx "$1")
	[ "$(echo $tids | wc -w)" = 1 ] || die "server $1: expected one thread besides its own, found: $tids"
	echo "$(cut -d' ' -f1 "/proc/$1/task/$tids/schedstat")" \
		"$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$1/task/$tids/status")"
}

# hold_run PORT N DUMP_ABOVE: serve under the guard (interval $CK_INTERVAL
# ms; DUMP_ABOVE "" = the automatic choice) holding N idle connections from
# c100k (another process: 20 000 fds per process); once they are open, and
# $CK_SETTLE s later, the checker's CPU time and checks over $CK_HOLD s; then
# the clients close them and the server exits. Sets HELD to "checks check_us
# dump_checks cpu_ns window_checks": the first three from the guard's
# summary (the whole run), the last two in the window.
hold_run() {
	rep=$TMPD/ck-report.$1
	set_=interval=$CK_INTERVAL
	[ -z "$3" ] || set_="$set_,dump_above=$3"
	serve_on guard "$1" "$rep" "$set_"
	spid=$SPID sout=$SOUT
	start plain "" "" "$BIN/c100k" --port "$1" --conns "$2"
	hpid=$BG hold=$BGOUT
	wait_ready "$hold" 60
	sleep $CK_SETTLE
	w0=$(checker "$spid")
	sleep $CK_HOLD
	w1=$(checker "$spid")
	kill -USR1 $hpid
	wait $hpid || die "c100k failed: $(cat "$hold")"
	SERVERS=$(printf '%s\n' $SERVERS | grep -vx "$hpid" | tr '\n' ' ')
	wait_closed "$1"
	stop_server "$spid"
	guard_ran "$rep" "$sout"
	HELD=""
	for key in checks check_us dump_checks; do
		v=$(summary_field "$rep" $key)
		[ -n "$v" ] || die "the guard's summary has no \"$key\": $(cat "$rep")"
		HELD="$HELD $v"
	done
	set -- $w0 $w1
	[ $(($4 - $2)) -gt 0 ] || die "the guard made no check in ${CK_HOLD} s at interval $CK_INTERVAL ms"
	HELD="$HELD $(($3 - $1)) $(($4 - $2))"
}

port=9600
raw=$TMPD/checks.tsv
: >"$raw"
order="tcpinfo dump auto"
for r in $(seq 1 $CK_REPS); do
	for n in $CK_NS; do
		for mode in $order; do
			case $mode in tcpinfo) da=$CK_TCPINFO ;; dump) da=0 ;; auto) da="" ;; esac
			hold_run $port "$n" "$da"
			port=$((port + 1))
			set -- $HELD
			# n mode rep wall_us cpu_us share_by_dump window_checks
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" $mode "$r" "$(calc "$2 / $1")" \
				"$(calc "$4 / 1000 / $5")" "$(calc "$3 / $1")" "$5" >>"$raw"
		done
	done
	order="$(echo $order | cut -d' ' -f2-) $(echo $order | cut -d' ' -f1)"
done
# ck N MODE COLUMN: median over the repetitions (4 wall, 5 CPU, 6 share, 7 checks).
ck() { median $(awk -F'\t' -v n="$1" -v m="$2" -v c="$3" '$1 == n && $2 == m { print $c }' "$raw"); }
# ck_x N: median over the repetitions of automatic / the faster forced way,
# CPU per check, taken within each repetition.
ck_x() {
	median $(awk -F'\t' -v n="$1" '$1 == n { v[$3, $2] = $5; r[$3] = 1 }
		END { for (k in r) { b = v[k, "tcpinfo"] < v[k, "dump"] ? v[k, "tcpinfo"] : v[k, "dump"]
			if (b > 0) print v[k, "auto"] / b } }' "$raw")
}
echo "### The checker's cost per check"
echo
echo "Every interval the checker reads the state of each socket it tracks: one"
echo "\`getsockopt(TCP_INFO)\` per socket, or one sock_diag dump that the kernel filters to"
echo "CLOSE_WAIT, matched to the sockets by inode. The guard chooses by what each way has cost;"
echo "\`dump_above=N\` in CLOSEWAIT_GUARD forces one (0: always the dump; $CK_TCPINFO: never)."
echo "Here the guarded server holds N idle connections from \`c100k\` (another process) with"
echo "\`interval=$CK_INTERVAL\`; $CK_REPS repetitions, every way run once in each, in an order that rotates;"
echo "figures are medians over the repetitions, the last column the median of the ratios taken"
echo "within each. Two figures per check: the guard's own, check_us / checks"
echo "from its exit summary, over the whole run (the checks made while the connections opened"
echo "and closed included), in wall time, which includes the time the checker waited for a CPU"
echo "(on this shared machine it varies from run to run); and the checker thread's CPU time per"
echo "check (/proc/PID/task/TID/schedstat: kernel time included, and the sleep and wake-up"
echo "between two checks) over ${CK_HOLD} s of the hold, ${CK_SETTLE} s after the last connection opened, its"
echo "checks counted by its sleeps. The goal compares CPU times. A dump walks the kernel's whole"
echo "TCP hash table (one for every namespace unless net.ipv4.tcp_child_ehash_entries is set),"
echo "so its cost also grows with the sockets the rest of the machine holds: here both ends of"
echo "the N connections, and whatever else runs."
echo
echo "| tracked sockets | TCP_INFO µs/check | dump µs/check | automatic µs/check | automatic: share by dump | TCP_INFO CPU µs/check | dump CPU µs/check | automatic CPU µs/check | automatic CPU / faster forced |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $CK_NS; do
	t=$(ck $n tcpinfo 4) d=$(ck $n dump 4) a=$(ck $n auto 4) ad=$(ck $n auto 6)
	tc=$(ck $n tcpinfo 5) dc=$(ck $n dump 5) ac=$(ck $n auto 5) x=$(ck_x $n)
	echo "| $n | $(fmt "$t" 1) | $(fmt "$d" 1) | $(fmt "$a" 1) | $(fmt "$ad" 2) | $(fmt "$tc" 1) | $(fmt "$dc" 1) | $(fmt "$ac" 1) | $(fmt "$x" 2) |"
	summary "guard check at $n sockets: TCP_INFO $(fmt "$t" 1) µs (CPU $(fmt "$tc" 1)), dump $(fmt "$d" 1) µs (CPU $(fmt "$dc" 1)), automatic $(fmt "$a" 1) µs (CPU $(fmt "$ac" 1); by dump: $(fmt "$ad" 2); $(fmt "$x" 2)x the faster)"
	if [ "$n" = "$(echo $CK_NS | awk '{ print $NF }')" ]; then
		best=$tc bname=TCP_INFO
		lt "$dc" "$tc" && best=$dc bname=dump
		goal "guard: check at $n sockets, automatic choice <= 1.1x the faster forced way (CPU)" \
			"$(fmt "$ac" 1) µs" "$bname $(fmt "$best" 1) µs" "$(fmt "$x" 2)" \
			"checker thread CPU per check; share by dump $(fmt "$ad" 2)" le "$(fmt "$x" 2)" 1.1
	else
		report "guard: µs per check at $n tracked sockets, automatic choice" "$(fmt "$a" 1) µs (CPU $(fmt "$ac" 1))" \
			"TCP_INFO $(fmt "$t" 1) (CPU $(fmt "$tc" 1)), dump $(fmt "$d" 1) (CPU $(fmt "$dc" 1))" "$(fmt "$x" 2)" \
			"CPU ratio to the faster forced way; share by dump $(fmt "$ad" 2)"
	fi
done
echo
echo "Automatic CPU / faster forced, per repetition:"
for n in $CK_NS; do
	printf '%s at %s' "${sep:-}" "$n:"
	awk -F'\t' -v n="$n" '$1 == n { v[$3, $2] = $5; r[$3] = 1 }
		END { for (k = 1; k in r; k++) { b = v[k, "tcpinfo"] < v[k, "dump"] ? v[k, "tcpinfo"] : v[k, "dump"]
			printf " %.2f", v[k, "auto"] / b } }' "$raw"
	sep=";"
done
echo "."
echo

# ---- 4. churn: accepts per second ----
# cpu_ns PID: nanoseconds on a CPU of every thread of process PID (schedstat:
# exact, where utime+stime count 10 ms ticks).
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

serve_on plain 9570
ch_plain=$SPID
serve_on guard 9571 "$TMPD/ch-report"
ch_guard=$SPID ch_gout=$SOUT
raw=$TMPD/churn.tsv
: >"$raw"
order="plain guard"
for rep in $(seq 1 $CH_REPS); do
	for k in $order; do
		eval "pid=\$ch_$k"
		p=9570
		[ $k = guard ] && p=9571
		t0=$(cpu_ns "$pid")
		line=$("$BIN/loadgen" --churn --port $p --conns $CH_CONNS --procs $CH_PROCS --size $SIZE \
			--time $CH_SECS --warmup $CH_WARM) || die "loadgen --churn against the $k server failed"
		t1=$(cpu_ns "$pid")
		# server CPU over every connection of the run, warm-up included
		printf '%s\t%s\t%s\t%s\t%s\n' "$k" "$rep" "$(kv rate "$line")" \
			"$(calc "($t1 - $t0) / 1000 / $(kv total "$line")")" "$(kv p50_us "$line")" >>"$raw"
	done
	order="$(echo $order | cut -d' ' -f2) $(echo $order | cut -d' ' -f1)"
done
stop_server $ch_plain
stop_server $ch_guard
guard_ran "$TMPD/ch-report" "$ch_gout"
# med K COLUMN: median over the repetitions (3 rate, 4 CPU µs/conn, 5 p50).
med() { median $(awk -F'\t' -v k="$1" -v c="$2" '$1 == k { print $c }' "$raw"); }
rp=$(med plain 3) rg=$(med guard 3)
up=$(med plain 4) ug=$(med guard 4)
ch_x=$(median $(awk -F'\t' '$1 == "plain" { p[$2] = $3 } $1 == "guard" { g[$2] = $3 }
	END { for (r in p) if (r in g && p[r] > 0) print g[r] / p[r] }' "$raw"))
per_acc=$(calc "(1 / $rg - 1 / $rp) * 1e6")
echo "### Churn: short connections"
echo
echo "\`loadgen --churn --conns $CH_CONNS --procs $CH_PROCS --size $SIZE --time $CH_SECS --warmup $CH_WARM\`:"
echo "$CH_CONNS connections at a time, from $CH_PROCS client processes; each connects, sends one $SIZE-byte"
echo "message, checks the reply and closes, and its slot connects again at once. The rate is"
echo "connections completed per second, each one accept of the server. $CH_REPS repetitions, both"
echo "servers run once in each, back to back, in an order that alternates; figures are medians"
echo "over the repetitions, the ratio the median of the ratios within each. Per connection the"
echo "guard takes a backtrace at accept and one at the read that returns end-of-file, and makes"
echo "and frees its entry. Cost per accept = 1 / rate under the guard - 1 / rate without, in"
echo "µs; server CPU per connection = CPU time of the server's threads over a run (schedstat) /"
echo "its connections."
echo "The client closes first; $TW."
echo
echo "| server | accepts/s | p50 connect to reply, µs | server CPU µs per connection | cost per accept, µs |"
echo "|---|---:|---:|---:|---:|"
echo "| closewait serve | $(fmt "$rp" 0) | $(fmt "$(med plain 5)" 0) | $(fmt "$up" 1) | |"
echo "| closewait serve under the guard | $(fmt "$rg" 0) | $(fmt "$(med guard 5)" 0) | $(fmt "$ug" 1) | **$(fmt "$per_acc" 1)** |"
echo
echo "Under the guard: $(fmt "$ch_x" 2)x the accepts per second, $(fmt "$per_acc" 1) µs per accept (server CPU:"
echo "$(fmt "$(calc "$ug - $up")" 1) µs more per connection). Guard / without, per repetition:"
echo "$(awk -F'\t' '$1 == "plain" { p[$2] = $3 } $1 == "guard" { g[$2] = $3 }
	END { for (r = 1; r in p; r++) printf "%s%.2f", (r > 1 ? " " : ""), g[r] / p[r] }' "$raw")."
echo
summary "guard churn: $(fmt "$rg" 0) accepts/s under the guard, $(fmt "$rp" 0) without ($(fmt "$ch_x" 2)x), $(fmt "$per_acc" 1) µs per accept"
goal "guard: churn accepts/s under the guard >= 0.8x without" "$(fmt "$rg" 0)/s" \
	"without $(fmt "$rp" 0)/s" "$(fmt "$ch_x" 2)" "cost per accept $(fmt "$per_acc" 1) µs" ge "$ch_x" 0.8
report "guard: churn, server CPU per connection" "$(fmt "$ug" 1) µs" "without $(fmt "$up" 1) µs" \
	"$(ratio "$ug" "$up")" "medians over the repetitions; CPU time of the server's threads"
