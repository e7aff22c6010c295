#!/usr/bin/env bats
# closewait serve --workers N: processes with SO_REUSEPORT listeners, supervised.

load lib

teardown() {
	# By pid only: a pattern would reach other people's servers on this machine.
	if [ -n "${SERVER_PID:-}" ]; then
		pkill -KILL -P "$SERVER_PID" 2>/dev/null || true
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
}

workers_of() { pgrep -P "$1" | wc -l; }
none_alive() { for p in "$@"; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
listeners() { ss -Htlnp "sport = :$1" | wc -l; }
# worker_fds PID: "WORKER:FDS" for each worker of PID
worker_fds() { for w in $(pgrep -P "$1"); do echo "$w:$(fd_count "$w")"; done; }
# each worker back to the fds it had (worker_fds's output)
workers_fds_back() { for p in $1; do wait_fds "${p%%:*}" "${p#*:}"; done; }

@test "workers: N processes share the port; another serve --workers on it fails with exit 1" {
	start_server 8000 --workers 3 --quiet --stats
	wait_until "$(slack_ms 5000)" '[ "$(listeners 8000)" -eq 6 ]'
	[ "$(workers_of "$SERVER_PID")" -eq 3 ]
	wfds=$(worker_fds "$SERVER_PID")
	# Each worker owns its own listener.
	[ "$(ss -Htlnp 'sport = :8000' | grep -o 'pid=[0-9]*' | sort -u | wc -l)" -eq 3 ]
	run "$CLOSEWAIT" serve --workers 2 --port 8000
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot listen on 0.0.0.0:8000: Address already in use"* ]]
	run "$CW_TOOLS/cwt-clients" --port 8000 -n 300 --no-close-wait-within 1000
	[ "$status" -eq 0 ]
	workers_fds_back "$wfds"
	stop_pid "$SERVER_PID" TERM
	[ "$STOP_STATUS" -eq 0 ]
	grep -Eq "^  eof +300$" "$BATS_TEST_TMPDIR/serve.log"
	[ -z "$(ss -Htln 'sport = :8000')" ]
}

@test "workers: a worker that dies is restarted and logged; SIGTERM drains all, exit 0" {
	start_server 8000 --workers 2 --drain 1s
	wait_until "$(slack_ms 5000)" '[ "$(listeners 8000)" -eq 4 ]'
	victim=$(pgrep -P "$SERVER_PID" | head -1)
	kill -KILL "$victim"
	wait_until "$(slack_ms 5000)" 'grep -q "worker [0-9] (pid $victim) was killed by signal 9" "$BATS_TEST_TMPDIR/serve.log"'
	wait_until "$(slack_ms 5000)" '[ "$(listeners 8000)" -eq 4 ]'
	# the killed worker was reaped: not a child any more, two live ones are
	run pgrep -P "$SERVER_PID"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ " ${lines[*]} " != *" $victim "* ]]
	wfds=$(worker_fds "$SERVER_PID")
	run "$CW_TOOLS/cwt-clients" --port 8000 -n 50
	[ "$status" -eq 0 ]
	workers_fds_back "$wfds"
	# An open connection is drained (aborted at the 1 s deadline), then all exit.
	me=$BASHPID
	fds0=$(shell_fds "$me")
	exec 5<>/dev/tcp/127.0.0.1/8000
	workers=$(pgrep -P "$SERVER_PID" | tr '\n' ' ')
	stop_pid "$SERVER_PID" TERM
	[ "$STOP_STATUS" -eq 0 ]
	exec 5>&-
	[ "$(shell_fds "$me")" = "$fds0" ]
	none_alive $workers
}

@test "workers: Ctrl-C (SIGINT to the whole process group) drains once, not twice" {
	start_bg serve setsid "$CLOSEWAIT" serve --workers 2 --drain 5s --port 8000
	SERVER_PID=$BG_PID
	wait_until "$(slack_ms 5000)" '[ "$(listeners 8000)" -eq 4 ]'
	workers=$(pgrep -P "$SERVER_PID" | tr '\n' ' ')
	pgid=$(ps -o pgid= "$SERVER_PID" | tr -d ' ')
	kill -INT -- "-$pgid"
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
	wait_until "$(slack_ms 5000)" 'none_alive $workers'
	cat "$BATS_TEST_TMPDIR/serve.log"
	[ "$(grep -c "shutting down, draining" "$BATS_TEST_TMPDIR/serve.log")" -eq 2 ]
	! grep -q "again" "$BATS_TEST_TMPDIR/serve.log"
}

@test "workers: a supervisor killed outright (SIGKILL) takes its workers with it" {
	start_server 8000 --workers 2 --quiet
	wait_until "$(slack_ms 5000)" '[ "$(listeners 8000)" -eq 4 ]'
	workers=$(pgrep -P "$SERVER_PID" | tr '\n' ' ')
	kill -KILL "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
	[ -n "$workers" ]
	wait_until "$(slack_ms 5000)" 'none_alive $workers'
	wait_until "$(slack_ms 2000)" '[ -z "$(ss -Htln "sport = :8000")" ]'
}

@test "workers: bad --workers values are usage errors" {
	for v in 0 65 abc -1; do
		run "$CLOSEWAIT" serve --workers "$v"
		[ "$status" -eq 2 ]
		[[ "$output" == *"--workers"* ]]
	done
	run "$CLOSEWAIT" serve --leak --workers 2
	[ "$status" -eq 2 ]
}
