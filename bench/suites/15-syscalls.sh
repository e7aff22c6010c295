#!/bin/sh
# Server syscalls per message, counted by strace -c -f -p PID. Each server and
# load gets two traced loadgen runs of different lengths (the tracer attached
# before loadgen starts and detached after it ends); the difference between
# the two cancels what each connection costs once (accept, registration,
# close), leaving what each further message costs: read + write per message,
# and epoll_wait (and anything else) amortised over the messages.
set -eu
. "$(dirname "$0")/../lib.sh"
bench_init "$0" "$@"
command -v strace >/dev/null || die "strace is missing (scripts/bootstrap installs it)"

if [ $SMOKE = 1 ]; then
	SERVERS_ON="closewait bare" CONNS="50" SIZES="64" SHORT=0.2 LONG=0.6
else
	SERVERS_ON="closewait libuv bare" CONNS="50 1000" SIZES="64 4096" SHORT=1 LONG=4
fi

# traced_run PID PORT CONNS SIZE SECS FILE: strace -c around one loadgen run;
# prints the messages the server handled (measured run + opening exchanges).
# The tracer detaches only once the server has closed every connection, so
# each run's count holds all of its connections' costs and nothing else.
traced_run() {
	fd0=$(fd_count "$1")
	err=$TMPD/strace.err
	: >"$err"
	strace -c -f -p "$1" -o "$6" 2>"$err" &
	st=$!
	wait_attached "$err" "$1"
	line=$("$BIN/loadgen" --port "$2" --conns "$3" --size "$4" --time "$5" --warmup 0) ||
		die "loadgen failed under strace"
	wait_fds "$1" "$fd0" 20
	kill -INT $st
	wait $st || true
	echo $(( $(kv total "$line") + $3 ))
}

# calls FILE SYSCALL: calls of one syscall in an strace -c summary (0 if absent).
calls() {
	awk -v s="$2" '$NF == s && $4 ~ /^[0-9]+$/ { n = $4 } END { print n + 0 }' "$1"
}

echo "## Server syscalls per message"
echo
echo "\`strace -c -f -p PID\` around two loadgen runs of ${SHORT} s and ${LONG} s against the same"
echo "server and connection count; per message = (count in the long run - count in the short"
echo "run) / (messages in the long run - messages in the short run), so per-connection costs"
echo "(accept4, epoll_ctl ADD/DEL, close) cancel out and epoll_wait is amortised over messages."
echo "\"read\" and \"write\" include recvfrom/sendto/readv/writev. Under strace every syscall"
echo "stops the server, so the server is the bottleneck and epoll_wait batches are large."
echo
echo '```'
echo "strace -c -f -p SERVER_PID -o FILE &  bench/loadgen --port P --conns N --size M --time T --warmup 0"
echo '```'
echo
echo "| server | conns | size | read | write | epoll_wait | epoll_ctl | brk/mmap | other | **total per msg** |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
port=9200
for s in $SERVERS_ON; do
	start_server "$s" $port
	pid=$SPID
	for c in $CONNS; do
		for m in $SIZES; do
			a=$TMPD/short.txt b=$TMPD/long.txt
			# The machine is shared: if a slow moment made the long run
			# handle no more messages than the short one, measure again.
			try=0 dm=0
			while [ $dm -le 0 ]; do
				try=$((try + 1))
				[ $try -le 3 ] || die "$s $c x $m B: the long run handled no more messages than the short one ($n1, $n2), 3 times"
				n1=$(traced_run "$pid" $port "$c" "$m" $SHORT "$a")
				n2=$(traced_run "$pid" $port "$c" "$m" $LONG "$b")
				dm=$((n2 - n1))
			done
			per() {
				t=0
				for sc in "$@"; do
					t=$((t + $(calls "$b" "$sc") - $(calls "$a" "$sc")))
				done
				calc "$t / $dm"
			}
			rd=$(per read recvfrom readv recvmsg)
			wr=$(per write sendto writev sendmsg)
			ew=$(per epoll_wait epoll_pwait epoll_pwait2)
			ec=$(per epoll_ctl)
			mm=$(per brk mmap munmap mremap)
			tot=$(per total)
			oth=$(calc "$tot - $rd - $wr - $ew - $ec - $mm")
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | **%s** |\n' "$s" "$c" "$m" \
				"$(fmt "$rd" 3)" "$(fmt "$wr" 3)" "$(fmt "$ew" 3)" "$(fmt "$ec" 3)" \
				"$(fmt "$mm" 3)" "$(fmt "$oth" 3)" "$(fmt "$tot" 3)"
			summary "syscalls/msg $s $c x $m B: $(fmt "$tot" 3) (read $(fmt "$rd" 3) write $(fmt "$wr" 3) epoll_wait $(fmt "$ew" 3) epoll_ctl $(fmt "$ec" 3) brk/mmap $(fmt "$mm" 3))"
			eval "sys_${s}_${c}_${m}=$tot"
		done
	done
	stop_server "$pid"
	port=$((port + 1))
done
for c in $CONNS; do
	for m in $SIZES; do
		eval "v=\$sys_closewait_${c}_${m} vb=\$sys_bare_${c}_${m}"
		sz=$m
		[ "$m" = 64 ] && sz=64B
		[ "$m" = 4096 ] && sz=4KiB
		goal "syscalls/msg $c conns $sz <= 2.05" "$(fmt "$v" 3)" "bare $(fmt "$vb" 3)" \
			"$(ratio "$v" "$vb")" "" le "$(fmt "$v" 3)" 2.05
	done
done
echo
