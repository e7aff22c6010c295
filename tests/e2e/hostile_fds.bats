#!/usr/bin/env bats
# Out of file descriptors (RLIMIT_NOFILE lowered by prlimit, in a private
# network namespace): serve keeps serving what it holds and pauses accepting
# without spinning; client --stream backs off; scan fails cleanly; reap
# stops and says what it did and did not do.

load reap_helpers

teardown() { kill_bg; }

# cpu_ns PID: the CPU time PID has used, in ns (schedstat: no tick rounding).
cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }

# cpu_share PID MS: PID's CPU use over a window of MS (the clock starts at
# the call; a measurement window, not a wait for a result): sets CPU_PCT (in
# percent of one core, rounded down) and CPU_US (microseconds used).
cpu_share() {
	local a b t0 t1
	a=$(cpu_ns "$1")
	t0=$(date +%s%N)
	sleep "$(awk -v ms="$2" 'BEGIN { print ms / 1000 }')"
	b=$(cpu_ns "$1")
	t1=$(date +%s%N)
	CPU_PCT=$(((b - a) * 100 / (t1 - t0)))
	CPU_US=$(((b - a) / 1000))
}

# crowd_say CMD WANT: sends CMD to the fd_crowd clients (fd 8) and waits
# for its reply line (its first word: WANT), put in REPLY.
crowd_say() {
	echo "$1" >&8
	wait_line "$BATS_TEST_TMPDIR/crowd.out" "^$2 "
	REPLY=$(grep "^$2 " "$BATS_TEST_TMPDIR/crowd.out" | tail -1)
}

@test "serve at RLIMIT_NOFILE 64 with 200 clients: serves those it holds, under 10% of a core while paused, a line a second at most with the count waiting, accepting again within 100 ms + 50 ms x slack of fds freed" {
	me=$$
	fd0=$(shell_fds "$me")
	bg prlimit --nofile=64 "$CW" serve --port 8700 --bind 127.0.0.1 --quiet 2>"$BATS_TEST_TMPDIR/serve.err"
	srv=$LAST_PID
	wait_listen 8700
	base=$(fd_count "$srv")
	mkfifo "$BATS_TEST_TMPDIR/crowd"
	exec 8<>"$BATS_TEST_TMPDIR/crowd"
	python3 "$BATS_TEST_DIRNAME/fd_crowd.py" 8700 200 <"$BATS_TEST_TMPDIR/crowd" >"$BATS_TEST_TMPDIR/crowd.out" 3>&- 8>&- &
	crowd=$!
	BG_PIDS="$BG_PIDS $crowd"
	crowd_say served served
	held=${REPLY#served }
	# all it has fds for: every number below the limit is taken (fds it
	# inherited above it do not count)
	echo "held $held connections, $((200 - held)) waiting" >&3
	[ "$(ls "/proc/$srv/fd" | awk '$1 < 64' | wc -l)" -eq 64 ]
	[ "$held" -ge 50 ]
	wait_until "$(slack_ms 2000)" '[ "$(ss -Htln "sport = :8700" | awk "{ print \$2 }")" -eq $((200 - held)) ]'
	# paused: no spinning over a second
	cpu_share "$srv" 1000
	echo "server CPU while paused: ${CPU_US} us in 1 s (${CPU_PCT}% of a core)" >&3
	[ "$CPU_PCT" -lt 10 ]
	# and the connections it holds are served meanwhile
	crowd_say echo echoed
	[ "${REPLY#echoed }" != "${REPLY}" ]
	read -r _ echoed slowest <<<"$REPLY"
	[ "$echoed" -eq "$held" ]
	[ "$slowest" -lt "$(slack_ms 1000)" ]
	# lines while paused: at most one a second (the first at once), each with the count waiting
	lines=$(grep -c "cannot accept: Too many open files" "$BATS_TEST_TMPDIR/serve.err")
	paused_s=$(grep "cannot accept" "$BATS_TEST_TMPDIR/serve.err" | tail -1 | sed -E 's/.*paused for ([0-9.]+)s.*/\1/')
	echo "log lines while paused: $lines in ${paused_s}s" >&3
	[ "$lines" -ge 2 ]
	[ "$lines" -le "$(awk -v s="$paused_s" 'BEGIN { print int(s) + 1 }')" ]
	grep "cannot accept" "$BATS_TEST_TMPDIR/serve.err" | tail -1 | grep -q " $((200 - held)) connections waiting (not accepted)"
	# fds freed: the clock starts just before the first close (fd_crowd.py)
	crowd_say "free 10" resumed
	ms=${REPLY#resumed }
	echo "accepting again ${ms} ms after fds were freed" >&3
	[ "$ms" -le $((100 + $(slack_ms 50))) ]
	wait_line "$BATS_TEST_TMPDIR/crowd.out" "^taken "
	[ "$(grep "^taken " "$BATS_TEST_TMPDIR/crowd.out")" = "taken 10" ]
	exec 8>&-
	wait "$crowd"
	# the crowd gone, its queued connections are accepted (and end): the pause is over
	wait_line "$BATS_TEST_TMPDIR/serve.err" "accepting again after [0-9.]+s, no connection waiting"
	wait_fds "$srv" "$base"
	[ "$(shell_fds "$me")" = "$fd0" ]
}

@test "client --stream with no fd for a socket: says so, backs off, under 10% of a core" {
	me=$$
	fd0=$(shell_fds "$me")
	bg "$CW" serve --port 8701 --bind 127.0.0.1 --quiet
	wait_listen 8701
	# 5 fds: stdio, the loop's epoll and signalfd; none left for the socket
	bg prlimit --nofile=5 "$CW" client --stream --port 8701 --interval 50ms >"$BATS_TEST_TMPDIR/client.out" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
	cli=$LAST_PID
	wait_line "$BATS_TEST_TMPDIR/client.out" "cannot open a socket: Too many open files \(out of file descriptors"
	cpu_share "$cli" 1000
	echo "client CPU while out of fds: ${CPU_US} us in 1 s (${CPU_PCT}% of a core)" >&3
	[ "$CPU_PCT" -lt 10 ]
	# backoff: the delays grow past the first (100 ms), and it never connected
	delays=$(grep -c "retrying in" "$BATS_TEST_TMPDIR/client.out")
	[ "$delays" -le 12 ]
	grep -Eq "retrying in ([2-9][0-9]{2}|[0-9]{4,}) ms" "$BATS_TEST_TMPDIR/client.out"
	[ "$(grep -c "connected to" "$BATS_TEST_TMPDIR/client.out")" -eq 0 ]
	kill_bg
	[ "$(shell_fds "$me")" = "$fd0" ]
}

@test "scan out of fds for the /proc walk: exits 2 with a clear error, no table" {
	leak_server 8702
	"$T/cw_clients" 127.0.0.1 8702 3 --send hello >/dev/null
	wait_fw2 8702 3
	# 4 fds: stdio and the netlink socket; /proc/PID/fd cannot be opened
	# (with --pid always: without, two walkers racing for the one fd left
	# fail only when their opens overlap)
	run prlimit --nofile=4 "$CW" scan --pid "$leak" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
	echo "$output"
	[ "$status" -eq 2 ]
	[ "$output" = "closewait scan: cannot read the socket table: Too many open files" ]
	[ "$(fd_count "$leak")" -eq $((base + 3)) ]
}

@test "reap out of fds: stops, lists what it reaped and what it did not act on, exits 1" {
	leak_server 8703
	a=$leak
	leak_server 8704
	b=$leak
	"$T/cw_clients" 127.0.0.1 8703 4 --send hello >/dev/null
	"$T/cw_clients" 127.0.0.1 8704 4 --send hello >/dev/null
	wait_fw2 8703 4
	wait_fw2 8704 4
	# 5 fds: stdio, a pidfd and one duplicate. The first process's sockets
	# go one at a time; the second's pidfd then takes the last fd.
	run prlimit --nofile=5 "$CW" reap --comm closewait --yes --json 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
	echo "$output"
	[ "$status" -eq 1 ]
	j=$output
	[ "$(jq --argjson p "$a" '[.sockets[] | select(.pid==$p and .result=="clean")] | length' <<<"$j")" -eq 4 ]
	[ "$(jq --argjson p "$b" '[.sockets[] | select(.pid==$p and .result=="error")] | length' <<<"$j")" -eq 1 ]
	[ "$(jq --argjson p "$b" '[.sockets[] | select(.pid==$p and .result=="to-reap" and .outcome=="to-reap")] | length' <<<"$j")" -eq 3 ]
	jq -r '.sockets[] | select(.result=="error") | .detail' <<<"$j" | grep -qx "Too many open files"
	jq -r .message <<<"$j" | grep -q "Stopped, out of file descriptors: 3 not acted on (to-reap)."
	# the kernel agrees: a's leaks are gone, b's are all still there
	[ "$(count_state close-wait "sport = :8703")" -eq 0 ]
	[ "$(count_state close-wait "sport = :8704")" -eq 4 ]
}

@test "reap out of fds while the walk finds owners (no --comm): the first socket fails, the rest are listed not acted on, exits 1" {
	leak_server 8705
	"$T/cw_clients" 127.0.0.1 8705 4 --send hello >/dev/null
	wait_fw2 8705 4
	# 5 fds: stdio, the walker's /proc/PID/fd and the pidfd; no duplicate
	run prlimit --nofile=5 "$CW" reap --sport 8705 --yes --json 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
	echo "$output"
	[ "$status" -eq 1 ]
	j=$output
	[ "$(jq '[.sockets[] | select(.result=="error")] | length' <<<"$j")" -eq 1 ]
	[ "$(jq '[.sockets[] | select(.result=="to-reap")] | length' <<<"$j")" -eq 3 ]
	jq -r .message <<<"$j" | grep -q "Stopped, out of file descriptors: 3 not acted on (to-reap)."
	[ "$(count_state close-wait "sport = :8705")" -eq 4 ]
	[ "$(fd_count "$leak")" -eq $((base + 4)) ]
}
