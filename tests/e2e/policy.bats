#!/usr/bin/env bats
# closewait serve's policy options, driven from the command line.

load lib

teardown() {
	nft delete table inet cwt_e2e 2>/dev/null || true
	[ -n "${SERVER_PID:-}" ] && kill -KILL "$SERVER_PID" 2>/dev/null || true
	for p in ${PEERS:-}; do kill -KILL "$p" 2>/dev/null || true; done
}

# peer NAME ARGS...: a cwt-peer in the background; its result in $BATS_TEST_TMPDIR/NAME.log
peer() {
	local name=$1
	shift
	start_bg "$name" "$CW_TOOLS/cwt-peer" --port 8000 "$@"
	PEERS="${PEERS:-} $BG_PID"
	wait_until "$(slack_ms 5000)" "grep -q connected '$BATS_TEST_TMPDIR/$name.log'"
}
result() { grep '^end=' "$BATS_TEST_TMPDIR/$1.log"; }

@test "SIGTERM drain: in-flight replies complete, idle ones close at once, the rest are aborted at the deadline, exit 0" {
	start_server 8000 --quiet --stats --drain 3s
	fds_before=$(fd_count "$SERVER_PID")
	peer busy --send-bytes 2000000 --read-rate 1000000   # ~2 s of reply, read slowly
	peer stuck --send-bytes 8000000 --no-read 6000       # never reads within the drain
	peer idle                                              # nothing in flight
	wait_until "$(slack_ms 5000)" '[ "$(count_state established "( sport = :8000 )")" -eq 3 ]'
	# The server exits at the end, so its fds are checked while it runs: one
	# per connection, no more, before the drain and while it closes them.
	wait_fds "$SERVER_PID" $((fds_before + 3))
	listeners=$(ss -Htlnp "sport = :8000" | grep -c "pid=$SERVER_PID,")
	sleep 0.3 # the busy reply is under way (a stated pause, not a wait for an event)
	# the clock starts at SIGTERM; the drain deadline is 3 s after it
	t0=$(date +%s%3N)
	kill -TERM "$SERVER_PID"
	wait_until "$(slack_ms 2000)" "result idle"
	# A draining server closes its listeners and the idle connection at
	# once, the busy one once the kernel has taken its whole reply (the peer
	# reads it all in about 2 s): before the 3 s deadline, stuck is the one
	# connection it holds.
	wait_fds "$SERVER_PID" $((fds_before - listeners + 1))
	wait "$SERVER_PID" && STOP_STATUS=0 || STOP_STATUS=$?
	t1=$(date +%s%3N)
	wait_until "$(slack_ms 10000)" "result busy && result stuck"
	echo "idle: $(result idle)"; echo "busy: $(result busy)"; echo "stuck: $(result stuck)"
	echo "server exited $((t1 - t0)) ms after SIGTERM with status $STOP_STATUS"
	[ "$STOP_STATUS" -eq 0 ]
	[[ "$(result idle)" == end=eof* ]]                       # closed at once, cleanly
	[[ "$(result busy)" == "end=eof bytes=2000000 ok=1"* ]]  # the whole reply, then EOF
	[[ "$(result stuck)" == end=reset* ]]                    # aborted at the deadline
	# not before the deadline; after it, within 1.5 s (times CW_TEST_SLACK)
	((t1 - t0 >= 2900))
	((t1 - t0 <= 3000 + $(slack_ms 1500)))
	grep -Eq "^  drain +3$" "$BATS_TEST_TMPDIR/serve.log"
}

@test "a second SIGTERM aborts at once" {
	start_server 8000 --quiet --drain 30s
	fds_before=$(fd_count "$SERVER_PID")
	peer stuck --send-bytes 8000000 --no-read 10000
	# The server exits at the end: its fds are checked before the signals
	# (the stuck connection is the one it holds beyond its start).
	wait_fds "$SERVER_PID" $((fds_before + 1))
	sleep 0.3
	# the clock starts at the first SIGTERM
	t0=$(date +%s%3N)
	kill -TERM "$SERVER_PID"
	sleep 0.2
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" && STOP_STATUS=0 || STOP_STATUS=$?
	t1=$(date +%s%3N)
	[ "$STOP_STATUS" -eq 0 ]
	((t1 - t0 < $(slack_ms 2000)))
}

@test "--idle closes idle connections with reason idle; traffic keeps one open" {
	start_server 8000 --quiet --stats --idle 500ms
	fds_before=$(fd_count "$SERVER_PID")
	me=$BASHPID
	fds0=$(shell_fds "$me")
	# One connection with traffic: a line every 200 ms for 1.6 s, each answered.
	exec 5<>/dev/tcp/127.0.0.1/8000
	peer lazy
	for i in 1 2 3 4 5 6 7 8; do
		sleep 0.2
		echo "ping $i" >&5
		read -r -t "$(slack_ms 1)" line <&5
		[ "$line" = "PING $i" ]
	done
	t0=$(date +%s%3N)
	# the lazy one, meanwhile, was closed for idling 500 ms (the clock
	# starts at its connect; upper bound times CW_TEST_SLACK)
	wait_until "$(slack_ms 3000)" "result lazy"
	[[ "$(result lazy)" == end=eof* ]]
	ms=$(result lazy | sed 's/.*ms=//')
	((ms >= 500))
	((ms <= 500 + $(slack_ms 300)))
	# the busy one outlived it by far, and is closed 500 ms after its last
	# line (the clock starts when its reply came, which the server sent a
	# moment before: hence 450 ms, not 500, as the lower bound)
	st=0
	read -r -t "$(slack_ms 3)" line <&5 || st=$?
	t1=$(date +%s%3N)
	echo "traffic connection: read status $st (1 = EOF) $((t1 - t0)) ms after its last line"
	[ "$st" -eq 1 ]
	((t1 - t0 >= 450))
	((t1 - t0 <= 500 + $(slack_ms 300)))
	exec 5>&-
	[ "$(shell_fds "$me")" = "$fds0" ]
	wait_fds "$SERVER_PID" "$fds_before"
	stop_pid "$SERVER_PID" TERM
	[ "$STOP_STATUS" -eq 0 ]
	grep -Eq "^  idle +2$" "$BATS_TEST_TMPDIR/serve.log"
}

@test "--close abort and --reset-timedout turn a timeout into an RST; default is a FIN" {
	start_server 8000 --quiet --idle 300ms --close abort
	fds_before=$(fd_count "$SERVER_PID")
	peer a
	wait_until "$(slack_ms 3000)" "result a"
	[[ "$(result a)" == end=reset* ]]
	wait_fds "$SERVER_PID" "$fds_before"
	stop_pid "$SERVER_PID" TERM
	start_server 8000 --quiet --idle 300ms --reset-timedout
	fds_before=$(fd_count "$SERVER_PID")
	peer b
	wait_until "$(slack_ms 3000)" "result b"
	[[ "$(result b)" == end=reset* ]]
	wait_fds "$SERVER_PID" "$fds_before"
	stop_pid "$SERVER_PID" TERM
	start_server 8000 --quiet --idle 300ms
	fds_before=$(fd_count "$SERVER_PID")
	peer c
	wait_until "$(slack_ms 3000)" "result c"
	[[ "$(result c)" == end=eof* ]]
	wait_fds "$SERVER_PID" "$fds_before"
}

@test "--heartbeat writes --heartbeat-payload on a quiet connection" {
	start_server 8000 --quiet --heartbeat 200ms --heartbeat-payload 'PING\n'
	fds_before=$(fd_count "$SERVER_PID")
	me=$BASHPID
	fds0=$(shell_fds "$me")
	exec 5<>/dev/tcp/127.0.0.1/8000
	read -r -t "$(slack_ms 2)" line <&5
	[ "$line" = "PING" ]
	exec 5>&-
	[ "$(shell_fds "$me")" = "$fds0" ]
	wait_fds "$SERVER_PID" "$fds_before"
}

@test "--keepalive 1:1:2 finds a vanished peer: closed with reason keepalive in about 3 s" {
	start_server 8000 --keepalive 1:1:2
	fds_before=$(fd_count "$SERVER_PID")
	peer gone
	cport=$(ss -Htn state established '( dport = :8000 )' | awk '{print $3}' | sed 's/.*://')
	nft add table inet cwt_e2e
	nft add chain inet cwt_e2e input '{ type filter hook input priority -100; }'
	nft add rule inet cwt_e2e input tcp sport "$cport" drop
	nft add rule inet cwt_e2e input tcp dport "$cport" drop
	# the clock starts when the path is cut: 1 s idle, then 2 probes 1 s apart
	t0=$(date +%s%3N)
	wait_until "$(slack_ms 6000)" "grep -q 'at PORT $cport: keepalive' '$BATS_TEST_TMPDIR/serve.log'"
	t1=$(date +%s%3N)
	echo "closed after $((t1 - t0)) ms"
	((t1 - t0 >= 2000))
	((t1 - t0 <= 3000 + $(slack_ms 1500)))
	# The accepted socket carried the options (inherited from the listener).
	grep -q "closed 127.0.0.1 at PORT $cport: keepalive (Connection timed out)" "$BATS_TEST_TMPDIR/serve.log"
	wait_fds "$SERVER_PID" "$fds_before"
}

@test "serve --help prints the worst-case detection times for the values given" {
	run "$CLOSEWAIT" serve --help --keepalive 10:5:3
	[ "$status" -eq 0 ]
	[[ "$output" == *"while idle:            25s (keepalive)"* ]]
	[[ "$output" == *"with data in flight:   25s (user timeout)"* ]]
	[[ "$output" == *"also closes a live peer"* ]]
	run "$CLOSEWAIT" serve --help --keepalive 1:1:2 --user-timeout 6s
	[ "$status" -eq 0 ]
	[[ "$output" == *"while idle:            6s (keepalive)"* ]]
	run "$CLOSEWAIT" serve --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"while idle:            never"* ]]
	[[ "$output" == *"about 15 min"* ]]
	run "$CLOSEWAIT" serve --help --keepalive off --heartbeat 30s --user-timeout 10s
	[ "$status" -eq 0 ]
	[[ "$output" == *"while idle:            40s (heartbeat + user timeout)"* ]]
}
