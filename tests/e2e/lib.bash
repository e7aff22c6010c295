# Shared by the bats tests. Each test file runs in its own network namespace
# (scripts/netns-run), so fixed ports never collide with anything.
# Env: CLOSEWAIT (the CLI), CW_TOOLS (test tools), CW_SRC (source tree).

# slack_ms MS: MS times CW_TEST_SLACK (1 when unset; the sanitizer pass sets
# 3), the one factor by which upper time bounds and deadlines widen. Lower
# bounds ("not before D") are never scaled: the kernel's timers do not slow down.
slack_ms() { echo $(($1 * ${CW_TEST_SLACK:-1})); }

# wait_until DEADLINE_MS 'CONDITION': evaluates CONDITION (a shell string, so
# put $(...) in single quotes: it must be re-run each time) every 20 ms until
# it succeeds or DEADLINE_MS passes. The clock starts at the call.
wait_until() {
	local deadline_ms=$1 start now
	shift
	start=$(date +%s%3N)
	while ! eval "$*" >/dev/null 2>&1; do
		now=$(date +%s%3N)
		if ((now - start > deadline_ms)); then
			echo "wait_until: '$*' did not hold within ${deadline_ms} ms" >&2
			return 1
		fi
		sleep 0.02
	done
}

listening() { [ -n "$(ss -Htln "sport = :$1")" ]; }
# wait_listen PORT: until something listens on PORT (5 s at most, times CW_TEST_SLACK).
wait_listen() { wait_until "$(slack_ms 5000)" listening "$1"; }

# start_bg NAME CMD...: runs CMD in the background, output in $BATS_TEST_TMPDIR/NAME.log;
# sets BG_PID. fd 3 (bats' own) is closed so bats does not wait for it.
start_bg() {
	local name=$1
	shift
	"$@" >"$BATS_TEST_TMPDIR/$name.log" 2>&1 3>&- &
	BG_PID=$!
}

# start_server PORT ARGS...: `closewait serve` on PORT, waits until it listens; sets SERVER_PID.
start_server() {
	local port=$1
	shift
	start_bg serve "$CLOSEWAIT" serve --port "$port" "$@"
	SERVER_PID=$BG_PID
	wait_until "$(slack_ms 5000)" listening "$port" || { cat "$BATS_TEST_TMPDIR/serve.log" >&2; return 1; }
}

# usage_error WANT CMD...: CMD is refused as a usage error (exit 2) with a
# message that holds WANT.
usage_error() {
	local want=$1
	shift
	run "$@"
	[ "$status" -eq 2 ]
	[[ "$output" == *"$want"* ]]
}

fd_count() { ls "/proc/$1/fd" | wc -l; }

# wait_fds PID BASE: until process PID holds BASE fds again (2 s at most, times
# CW_TEST_SLACK: a close can lag the event the test saw by a loop turn).
# Fails listing PID's fds if it does not. Every test that opens sockets ends
# with this for the processes that outlive it (the server, the test's shell).
wait_fds() {
	local pid=$1 base=$2
	if wait_until "$(slack_ms 2000)" "[ \"\$(fd_count $pid)\" -eq $base ]"; then
		return 0
	fi
	echo "pid $pid holds $(fd_count "$pid") fds, want $base:" >&2
	ls -l "/proc/$pid/fd" >&2
	return 1
}

# shell_fds PID: the test shell's fds that are not its own plumbing: the
# sockets, files and namespaces it holds, one "fd target" per line. Pipes and
# /dev/null come and go with bash's own command substitutions and bats'
# traps (a count of every fd differed by one under load), so they are left
# out; a socket or namespace the test forgot to close is not.
shell_fds() {
	find "/proc/$1/fd" -mindepth 1 -printf '%f %l\n' 2>/dev/null | grep -v -e ' pipe:' -e ' /dev/null$' | sort
}

# stop_pid PID [SIGNAL]: signals PID and waits for it; sets STOP_STATUS.
stop_pid() {
	kill -"${2:-TERM}" "$1" 2>/dev/null || true
	STOP_STATUS=0
	wait "$1" || STOP_STATUS=$?
}

# count of sockets in STATE (ss name) with local port PORT owned by PID.
owned_in_state() {
	local state=$1 port=$2 pid=$3
	ss -Htanp state "$state" "( sport = :$port )" | grep -c "pid=$pid," || true
}

# count_state STATE FILTER...: sockets in STATE matching an ss filter, from the kernel's table.
count_state() {
	local st=$1
	shift
	ss -Htan state "$st" "$@" | wc -l
}
