#!/usr/bin/env bats
# Durations past what an int of milliseconds holds (about 24.8 days) and up
# to the parser's limit (2^64 - 1 ms): a wait is clamped, a deadline
# saturates, a sum does not wrap. 4294967396ms is 2^32 ms + 100 ms: cut to
# 32 bits it would be a 100 ms wait, so "still waiting after 1 s" tells the
# two apart (1 s is a lower bound: never scaled).

load lib

teardown() {
	# the traced watch first: strace, killed, would leave it running
	for p in ${TRACED_PID:-} ${SERVER_PID:-} ${CLIENT_PID:-} ${OTHER_PID:-}; do
		kill -KILL "$p" 2>/dev/null || true
	done
}

@test "client --timeout 2^32 ms + 100 ms: still waiting for the reply after 1 s" {
	start_bg listen "$CW_TOOLS/cwt-listen" 8000 # accepts nothing: the reply never comes
	OTHER_PID=$BG_PID
	wait_listen 8000
	base=$(fd_count "$OTHER_PID")
	start_bg client "$CLOSEWAIT" client --timeout 4294967396ms hello
	CLIENT_PID=$BG_PID
	sleep 1
	run kill -0 "$CLIENT_PID"
	[ "$status" -eq 0 ]
	run cat "$BATS_TEST_TMPDIR/client.log"
	[ "$output" = "" ]
	stop_pid "$CLIENT_PID" KILL
	CLIENT_PID=
	[ "$(fd_count "$OTHER_PID")" -eq "$base" ] # the connection never left its backlog
}

@test "client --timeout 2^64 - 1 ms: the deadline saturates and the reply is printed" {
	start_server 8000 --quiet
	base=$(fd_count "$SERVER_PID")
	run "$CLOSEWAIT" client --timeout 18446744073709551615ms hello
	[ "$status" -eq 0 ]
	[[ "$output" == *"HELLO"* ]]
	wait_until "$(slack_ms 2000)" '[ "$(fd_count "$SERVER_PID")" -eq "$base" ]'
}

@test "watch --interval 2^31 ms + 100 ms: its wait's poll() gets INT_MAX ms, not a negative (endless) timeout" {
	# Past INT_MAX the cut goes negative: poll() would wait for ever, which
	# no test can wait out, so the timeout is read where poll() gets it.
	# LeakSanitizer cannot run under ptrace (the sanitizer pass; scripts/san-run)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		start_bg watch strace -qq -e trace=poll -o "$BATS_TEST_TMPDIR/strace.log" \
		"$CLOSEWAIT" watch --interval 2147483748ms --count 2
	CLIENT_PID=$BG_PID
	wait_until "$(slack_ms 5000)" 'grep -q "poll(" "$BATS_TEST_TMPDIR/strace.log"'
	TRACED_PID=$(cat "/proc/$CLIENT_PID/task/$CLIENT_PID/children")
	run grep -o "poll(.*" "$BATS_TEST_TMPDIR/strace.log"
	[ "$status" -eq 0 ]
	[[ "$output" == "poll([], 0, 2147483647"* ]]
}

@test "watch --interval 2^64 - 1 ms --count 2: the next round's deadline saturates (no second round after 1 s)" {
	start_bg watch "$CLOSEWAIT" watch --interval 18446744073709551615ms --count 2
	CLIENT_PID=$BG_PID
	wait_until "$(slack_ms 5000)" '[ -s "$BATS_TEST_TMPDIR/watch.log" ]'
	sleep 1
	run kill -0 "$CLIENT_PID"
	[ "$status" -eq 0 ]
	run wc -l "$BATS_TEST_TMPDIR/watch.log"
	[ "$output" = "1 $BATS_TEST_TMPDIR/watch.log" ]
}

@test "client --stream --leak --interval 2^32 ms + 100 ms: one line, then it waits" {
	start_server 8000 --quiet
	base=$(fd_count "$SERVER_PID")
	start_bg client "$CLOSEWAIT" client --stream --leak --interval 4294967396ms
	CLIENT_PID=$BG_PID
	wait_until "$(slack_ms 5000)" 'grep -q "connected (fd" "$BATS_TEST_TMPDIR/client.log"'
	sleep 1
	stop_pid "$CLIENT_PID" INT
	CLIENT_PID=
	[ "$STOP_STATUS" -eq 0 ]
	run tail -n 1 "$BATS_TEST_TMPDIR/client.log"
	[[ "$output" == "sent 1 lines, acknowledged 1,"* ]]
	wait_until "$(slack_ms 2000)" '[ "$(fd_count "$SERVER_PID")" -eq "$base" ]'
}

@test "serve --help: a heartbeat of 2^64 - 1 ms plus the user timeout does not wrap into a short detection time" {
	run "$CLOSEWAIT" serve --help --heartbeat 18446744073709551615ms --user-timeout 10s
	[ "$status" -eq 0 ]
	run grep "while idle:" <<<"$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"never"* ]]
}
