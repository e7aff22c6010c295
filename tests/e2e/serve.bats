#!/usr/bin/env bats
# closewait serve and serve --leak, driven as a user would (S1, S2, S4, S5).

load lib

teardown() {
	[ -n "${SERVER_PID:-}" ] && kill -KILL "$SERVER_PID" 2>/dev/null || true
	[ -n "${OTHER_PID:-}" ] && kill -KILL "$OTHER_PID" 2>/dev/null || true
}

@test "serve --leak: 100 clients leave exactly 100 CLOSE_WAIT sockets owned by the server" {
	start_bg serve "$CLOSEWAIT" serve --leak --quiet --port 8000
	SERVER_PID=$BG_PID
	wait_until "$(slack_ms 5000)" listening 8000
	fds_before=$(fd_count "$SERVER_PID")
	run "$CW_TOOLS/cwt-clients" --port 8000 -n 100 --sequential
	[ "$status" -eq 0 ]
	# The FIN of each client reaches the server; the seed never closes.
	wait_until "$(slack_ms 2000)" '[ "$(owned_in_state close-wait 8000 "$SERVER_PID")" -eq 100 ]'
	[ "$(count_state close-wait '( sport = :8000 )')" -eq 100 ]
	# Each holds one unread byte: the FIN (Recv-Q 1).
	[ "$(ss -Htan state close-wait '( sport = :8000 )' | awk '$1 == 1' | wc -l)" -eq 100 ]
	# The leak is in the fd table too: 100 more fds than before.
	[ "$(fd_count "$SERVER_PID")" -eq $((fds_before + 100)) ]
	stop_pid "$SERVER_PID" TERM
	[ "$STOP_STATUS" -eq 0 ]
}

@test "serve: 1000 clients, no CLOSE_WAIT within 1 s of the last close, fds back to start" {
	start_server 8000 --quiet
	fds_before=$(fd_count "$SERVER_PID")
	run "$CW_TOOLS/cwt-clients" --port 8000 -n 1000 --no-close-wait-within 1000
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"no CLOSE_WAIT left on port 8000"* ]]
	wait_until "$(slack_ms 2000)" '[ "$(fd_count "$SERVER_PID")" -eq "$fds_before" ]'
	stop_pid "$SERVER_PID" TERM
	[ "$STOP_STATUS" -eq 0 ]
}

@test "serve: uppercases a-z only, over IPv4 and IPv6, and logs in the seed's words" {
	start_server 8000
	fds_before=$(fd_count "$SERVER_PID")
	run "$CLOSEWAIT" client "hello, World 123 ~!"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "Response from server:" ]
	[ "${lines[1]}" = "HELLO, WORLD 123 ~!" ]
	run "$CLOSEWAIT" client --host ::1 "ipv6 works"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "IPV6 WORKS" ]
	wait_until "$(slack_ms 2000)" '[ "$(fd_count "$SERVER_PID")" -eq "$fds_before" ]'
	stop_pid "$SERVER_PID" INT
	[ "$STOP_STATUS" -eq 0 ]
	grep -q "^received from 127.0.0.1 at PORT [0-9]*$" "$BATS_TEST_TMPDIR/serve.log"
	grep -q "^received from ::1 at PORT [0-9]*$" "$BATS_TEST_TMPDIR/serve.log"
	grep -q "^the other side has been closed." "$BATS_TEST_TMPDIR/serve.log"
}

@test "serve --stats: closes counted per reason, printed on exit" {
	start_server 8000 --quiet --stats
	fds_before=$(fd_count "$SERVER_PID")
	run "$CW_TOOLS/cwt-clients" --port 8000 -n 7
	[ "$status" -eq 0 ]
	wait_fds "$SERVER_PID" "$fds_before"
	stop_pid "$SERVER_PID" TERM
	[ "$STOP_STATUS" -eq 0 ]
	grep -Eq "^  eof +7$" "$BATS_TEST_TMPDIR/serve.log"
	grep -Eq "^  total +7$" "$BATS_TEST_TMPDIR/serve.log"
	grep -q "^connections accepted: 7$" "$BATS_TEST_TMPDIR/serve.log"
}

@test "serve: SIGTERM with connections open closes them all and exits 0" {
	start_server 8000 --quiet --stats --drain 2s
	fds_before=$(fd_count "$SERVER_PID")
	me=$BASHPID
	# its fds but the pipes of command substitutions, which come and go
	fds0=$(shell_fds "$me")
	exec 5<>/dev/tcp/127.0.0.1/8000
	exec 6<>/dev/tcp/127.0.0.1/8000
	wait_until "$(slack_ms 2000)" '[ "$(count_state established "( sport = :8000 )")" -eq 2 ]'
	# the server exits at the end: its fds are checked before, one per connection
	wait_fds "$SERVER_PID" $((fds_before + 2))
	stop_pid "$SERVER_PID" TERM
	[ "$STOP_STATUS" -eq 0 ]
	exec 5>&- 6>&-
	[ "$(shell_fds "$me")" = "$fds0" ]
	grep -Eq "^  drain +2$" "$BATS_TEST_TMPDIR/serve.log"
}

@test "serve: port already in use is a clear error, exit 1, also against SO_REUSEPORT" {
	start_bg other "$CW_TOOLS/cwt-listen" 8000 --reuseport
	OTHER_PID=$BG_PID
	wait_until "$(slack_ms 5000)" listening 8000
	run "$CLOSEWAIT" serve --port 8000
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot listen on 0.0.0.0:8000: Address already in use"* ]]
	stop_pid "$OTHER_PID" KILL
	OTHER_PID=
	# ...and against another closewait serve.
	start_server 8000 --quiet
	run "$CLOSEWAIT" serve --port 8000
	[ "$status" -eq 1 ]
	[[ "$output" == *"Address already in use"* ]]
	run "$CLOSEWAIT" serve --leak --port 8000
	[ "$status" -eq 1 ]
	[[ "$output" == *"Address already in use"* ]]
}

@test "bad option values: exit 2, the option named, nothing started" {
	for args in "--port 70000" "--port abc" "--port 0" "--bind 999.1.1.1" "--backlog -5" \
		"--max-conns x" "--drain 5" "--idle -1s" "--keepalive 1:x:2" "--close maybe" \
		"--no-such-option" "--leak --idle 5s"; do
		run "$CLOSEWAIT" serve $args
		echo "$args -> $status: $output"
		[ "$status" -eq 2 ]
		opt=${args%% *}
		[ "$args" = "--leak --idle 5s" ] && opt=--idle
		[[ "$output" == *"$opt"* ]]
		[[ "$output" == *"Try 'closewait serve --help'."* ]]
	done
	[ -z "$(ss -Htln)" ]
	# Options are named as typed: a short one inside a group, a value on a flag.
	run "$CLOSEWAIT" serve --quiet -xy
	[ "$status" -eq 2 ]
	[[ "$output" == *'unknown option "-x"'* ]]
	run "$CLOSEWAIT" serve --quiet=1
	[ "$status" -eq 2 ]
	[[ "$output" == *'"--quiet=1": no such option, or it takes no value'* ]]
	run "$CLOSEWAIT" serve --port
	[ "$status" -eq 2 ]
	[[ "$output" == *"--port needs a value"* ]]
}

@test "--help works for closewait, serve, serve --leak and client" {
	run "$CLOSEWAIT" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"serve"* && "$output" == *"client"* ]]
	run "$CLOSEWAIT" serve --help
	[ "$status" -eq 0 ]
	for o in --port --bind --backlog --max-conns --quiet --stats --leak --drain --idle \
		--read-idle --write-stall --heartbeat --heartbeat-payload --keepalive --user-timeout \
		--close --reset-timedout --linger --half-close; do
		[[ "$output" == *"$o"* ]]
	done
	[[ "$output" == *"CLOSE_WAIT"* ]]
	run "$CLOSEWAIT" client --help
	[ "$status" -eq 0 ]
	run "$CLOSEWAIT"
	[ "$status" -eq 2 ]
	run "$CLOSEWAIT" frobnicate
	[ "$status" -eq 2 ]
}

@test "client: exit codes a script can rely on" {
	run "$CLOSEWAIT" client
	[ "$status" -eq 2 ]
	[[ "$output" == *"missing MESSAGE"* ]]
	run "$CLOSEWAIT" client --port 8000 hello
	[ "$status" -eq 1 ]
	[[ "$output" == *"Connection refused"* ]]
	run "$CLOSEWAIT" client --port 99999 hello
	[ "$status" -eq 2 ]
	run "$CLOSEWAIT" client --host no-such-host.invalid hello
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot resolve"* ]]
	# Unreachable: a TEST-NET address with no route in this namespace.
	run "$CLOSEWAIT" client --host 192.0.2.1 --timeout 1s hello
	[ "$status" -eq 1 ]
	# A server that accepts and never answers: the reply times out.
	start_bg other "$CW_TOOLS/cwt-listen" 8001
	OTHER_PID=$BG_PID
	wait_until "$(slack_ms 5000)" listening 8001
	run "$CLOSEWAIT" client --port 8001 --timeout 300ms hello
	[ "$status" -eq 1 ]
	[[ "$output" == *"timed out"* ]]
}
