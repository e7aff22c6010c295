# Shared by scan.bats, watch.bats and ports.bats (run inside netns-run);
# builds on lib.bash (wait_until, wait_listen, fd_count, count_state...).
load lib
CW=${CLOSEWAIT:?CLOSEWAIT unset}
T=${CW_TOOLS:?CW_TOOLS unset}

# Starts a command in the background, records its pid in $BG_PIDS.
bg() {
	"$@" &
	BG_PIDS="${BG_PIDS:-} $!"
	LAST_PID=$!
}

kill_bg() {
	for p in ${BG_PIDS:-}; do kill "$p" 2>/dev/null || true; done
	for p in ${BG_PIDS:-}; do wait "$p" 2>/dev/null || true; done
	BG_PIDS=
}

now_ms() { date +%s%3N; }

# leak_server PORT [SERVE OPTION...]: `serve --leak` on PORT, listening; sets
# leak (its pid) and base (its fd count before any client).
leak_server() {
	local port=$1
	shift
	bg "$CW" serve --leak --quiet --port "$port" "$@"
	leak=$LAST_PID
	wait_listen "$port"
	base=$(fd_count "$leak")
}

# wait_fw2 PORT N: until N client ends toward PORT are in FIN_WAIT_2 (5 s at
# most, times CW_TEST_SLACK). Right after close() they sit in FIN_WAIT_1 until
# the peer's kernel acknowledges the FIN, which on loopback may be a delayed
# ACK (up to 200 ms).
wait_fw2() {
	local i
	for i in $(seq 1 $((250 * ${CW_TEST_SLACK:-1}))); do
		[ "$(ss -Htan state fin-wait-2 "dport = :$1" | wc -l)" -ge "$2" ] && return 0
		sleep 0.02
	done
	echo "FIN_WAIT_2 toward $1: $(ss -Htan state fin-wait-2 "dport = :$1" | wc -l), want $2" >&2
	return 1
}
