#!/usr/bin/env bats
# client --stream --bind ADDR:PORT (S10): one fixed local port across
# reconnects, with TCP timestamps on and off (set in this test's namespace).

bats_require_minimum_version 1.5.0
load lib

teardown() {
	for p in ${SERVER_PID:-} ${CLIENT_PID:-} ${OTHER_PID:-}; do kill -KILL "$p" 2>/dev/null || true; done
	sysctl -qw net.ipv4.tcp_timestamps=1
}

log() { echo "$BATS_TEST_TMPDIR/client.log"; }
# Each test binds its own local port, so no TIME_WAIT of an earlier test is in the way.
connects_from() { grep -c "connected to .* from 127.0.0.1:$BPORT" "$(log)" || true; }
start_client() {
	start_bg client "$CLOSEWAIT" client --stream --bind "127.0.0.1:$BPORT" "$@"
	CLIENT_PID=$BG_PID
}
stop_client() { kill -INT "$CLIENT_PID"; wait "$CLIENT_PID" || true; CLIENT_PID=; }
# sockets PID: how many sockets PID holds
sockets() { ls -l "/proc/$1/fd" | grep -c 'socket:' || true; }

# lines the current server has read
received() { grep -c "^received from" "$BATS_TEST_TMPDIR/serve.log" || true; }

restarts() {
	start_server 8000
	# every server is started the same way: this is what each holds alone
	base=$(fd_count "$SERVER_PID")
	# 1 s before each retry (a loaded machine is slow to look): the retry's SYN takes the server's TIME_WAIT
	# pair over (S19), so the check below must come before it.
	start_client --backoff 1s:2s --interval 500ms
	wait_until "$(slack_ms 5000)" '[ "$(connects_from)" -ge 1 ]'
	for i in 1 2 3; do
		# The server dies just after it read and answered a line (the next
		# comes 500 ms later): a line left unread, or one the client sends
		# before it sees the FIN, would draw an RST, and leave no TIME_WAIT.
		n=$(received)
		wait_until "$(slack_ms 2000)" "[ \"\$(received)\" -gt $n ]"
		kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
		# The server closed first: once the client has closed too, the
		# server's end of the old pair is in TIME_WAIT.
		wait_until "$(slack_ms 2000)" '[ "$(ss -Htan state time-wait "( sport = :8000 and dport = :$BPORT )" | wc -l)" -eq 1 ]' ||
			{ ss -tan "( sport = :8000 or dport = :8000 )"; cat "$(log)"; false; }
		start_server 8000
		wait_until "$(slack_ms 5000)" '[ "$(connects_from)" -ge $((i + 1)) ]'
	done
	[ "$(sockets "$CLIENT_PID")" -eq 1 ]
	stop_client
	run -1 grep -q EADDRNOTAVAIL "$(log)"
	wait_fds "$SERVER_PID" "$base"
}

client_closes() {
	start_bg other "$CW_TOOLS/cwt-silent" 8000
	OTHER_PID=$BG_PID
	wait_until "$(slack_ms 5000)" listening 8000
	start_client --recv-timeout 300ms --backoff 10ms:50ms --interval 50ms
}

@test "timestamps on: server restarts (TIME_WAIT on the server's side): reconnects from the same port at once" {
	BPORT=40001
	sysctl -qw net.ipv4.tcp_timestamps=1
	restarts
}

@test "timestamps on: the client closes first (TIME_WAIT on its side): reconnects from the same port at once" {
	BPORT=40002
	sysctl -qw net.ipv4.tcp_timestamps=1
	client_closes
	wait_until "$(slack_ms 5000)" '[ "$(connects_from)" -ge 4 ]'
	# each connection it left is closed before the next: one socket at most
	[ "$(sockets "$CLIENT_PID")" -le 1 ]
	stop_client
	run -1 grep -q EADDRNOTAVAIL "$(log)"
}

@test "timestamps off: server restarts: still reconnects (the server takes a SYN with a higher sequence number onto its TIME_WAIT, S19)" {
	BPORT=40003
	sysctl -qw net.ipv4.tcp_timestamps=0
	restarts
}

@test "timestamps off: the client closes first: connect fails with EADDRNOTAVAIL, reported, and the backoff goes on" {
	BPORT=40004
	sysctl -qw net.ipv4.tcp_timestamps=0
	client_closes
	wait_until "$(slack_ms 5000)" '[ "$(grep -c EADDRNOTAVAIL "$(log)")" -ge 3 ]'
	# a failed connect's socket is closed before the retry: one at most
	[ "$(sockets "$CLIENT_PID")" -le 1 ]
	stop_client
	[ "$(connects_from)" -eq 1 ]
	[ "$(ss -Htan state time-wait "( sport = :$BPORT )" | wc -l)" -eq 1 ]
	grep -q "connect to 127.0.0.1:8000 from 127.0.0.1:$BPORT failed: Cannot assign requested address (EADDRNOTAVAIL" "$(log)"
}

@test "a listener holding the address: EADDRINUSE named, and the backoff goes on" {
	BPORT=40005
	start_server 8000 --quiet
	base=$(fd_count "$SERVER_PID")
	start_bg other "$CW_TOOLS/cwt-listen" "$BPORT"
	OTHER_PID=$BG_PID
	wait_until "$(slack_ms 5000)" listening "$BPORT"
	start_client --backoff 10ms:50ms
	wait_until "$(slack_ms 5000)" '[ "$(grep -c "retrying in" "$(log)")" -ge 3 ]'
	# a socket that could not bind is closed before the retry: one at most
	[ "$(sockets "$CLIENT_PID")" -le 1 ]
	stop_client
	grep -q "cannot bind 127.0.0.1:$BPORT: Address already in use (EADDRINUSE" "$(log)"
	[ "$(connects_from)" -eq 0 ]
	wait_fds "$SERVER_PID" "$base"
}
