#!/usr/bin/env bats
# closewait lab: the TIME_WAIT scenarios (timewait, timewait-knobs) and
# other-language, run with --json, their states and counters checked
# against what Linux 6.18 does.
# Facts (SPEC ids): S21 TIME_WAIT lasts 60 s whatever tcp_fin_timeout says
# (that bounds an orphaned FIN_WAIT_2 only); S18 the end that closes first
# holds the TIME_WAIT, the server when it closes first, the client none.

bats_require_minimum_version 1.5.0

load lib
load lab_helpers

teardown() {
	if [ -n "${LAB_PID:-}" ]; then
		kill -KILL "$LAB_PID" 2>/dev/null || true
	fi
}

@test "timewait: a 60 s TIME_WAIT timer, with tcp_fin_timeout 60 or 3 (which sets the FIN_WAIT_2's, counted TWKilled); the end closing first holds it (TcpExtTW), the other none" {
	fd0=$(shell_fds $$)
	lab_json timewait
	[ "$(fact timewait client-closes-first tcp_fin_timeout_s)" -eq 60 ]
	[ "$(states_in timewait client-closes-first)" = "- time-wait" ]
	[ "$(sock timewait client-closes-first client owner)" = orphaned ]
	[ "$(sock timewait client-closes-first client timer)" = timewait ]
	# the timer as the census shows it, and as the scenario took it
	[ "$(sock timewait client-closes-first client timer_ms)" -ge 59000 ]
	[ "$(sock timewait client-closes-first client timer_ms)" -le 60000 ]
	[ "$(fact timewait client-closes-first time_wait_timer_ms)" -ge 59000 ]
	[ "$(counter timewait client-closes-first TcpExtTW)" -eq 1 ]
	[ "$(counter timewait client-closes-first TcpExtTWKilled)" -eq 0 ]
	# tcp_fin_timeout 3: the FIN_WAIT_2's timer is 3 s...
	[ "$(fact timewait fin-timeout-3 tcp_fin_timeout_s)" -eq 3 ]
	[ "$(states_in timewait fin-timeout-3)" = "close-wait fin-wait-2" ]
	[ "$(sock timewait fin-timeout-3 client timer_ms)" -le 3000 ]
	[ "$(sock timewait fin-timeout-3 client timer_ms)" -ge 2500 ]
	[ "$(counter timewait fin-timeout-3 TcpExtTWKilled)" -eq 1 ]
	[ "$(counter timewait fin-timeout-3 TcpExtTW)" -eq 0 ]
	# ...and the TIME_WAIT's 60 s all the same
	[ "$(fact timewait fin-timeout-3-time-wait tcp_fin_timeout_s)" -eq 3 ]
	[ "$(states_in timewait fin-timeout-3-time-wait)" = "- time-wait" ]
	[ "$(sock timewait fin-timeout-3-time-wait client timer_ms)" -ge 59000 ]
	[ "$(fact timewait fin-timeout-3-time-wait time_wait_timer_ms)" -ge 59000 ]
	# the server closing first holds it; the client keeps nothing
	[ "$(states_in timewait server-closes-first)" = "time-wait -" ]
	[ "$(sock timewait server-closes-first server timer_ms)" -ge 59000 ]
	[ "$(counter timewait server-closes-first TcpExtTW)" -eq 1 ]
	# a second on, the first TIME_WAIT has aged a second and is 60 s long
	[ "$(step timewait still-there | jq '[.sockets[] | select(.state == "time-wait")] | length')" -eq 3 ]
	[ "$(fact timewait still-there first_time_wait_age_ms)" -ge 1000 ]
	[ "$(sock timewait still-there socket timer_ms | sort -n | tail -1)" -le 59000 ]
	len=$(fact timewait still-there first_time_wait_length_ms)
	[ "$len" -ge 59900 ]
	[ "$len" -le 60100 ]
	[ "$(shell_fds $$)" = "$fd0" ]
}

# knobs_all ID JQ: true when every socket of step ID of timewait-knobs passes JQ.
knobs_all() { step timewait-knobs "$1" | jq "[.sockets[] | $2] | all"; }

@test "timewait-knobs: past tcp_max_tw_buckets no TIME_WAIT (TCPTimeWaitOverflow); SO_LINGER {1,0} none; tcp_tw_reuse 0/1/2 with and without timestamps; bind(ip, 0) runs out with EADDRINUSE, IP_BIND_ADDRESS_NO_PORT 10 per destination then EADDRNOTAVAIL" {
	fd0=$(shell_fds $$)
	lab_json timewait-knobs
	# two allowed, four closed first: two TIME_WAITs, two overflows
	[ "$(count timewait-knobs max-tw-buckets client)" -eq 2 ]
	[ "$(knobs_all max-tw-buckets '.state == "time-wait"')" = true ]
	[ "$(count timewait-knobs max-tw-buckets server)" -eq 0 ]
	[ "$(counter timewait-knobs max-tw-buckets TcpActiveOpens)" -eq 4 ]
	[ "$(counter timewait-knobs max-tw-buckets TcpExtTW)" -eq 2 ]
	[ "$(counter timewait-knobs max-tw-buckets TcpExtTCPTimeWaitOverflow)" -eq 2 ]
	# an abortive close: a reset, nothing left, the server reads ECONNRESET
	[ "$(step timewait-knobs linger-0 | jq '.sockets | length')" -eq 0 ]
	[ "$(counter timewait-knobs linger-0 TcpOutRsts)" -eq 1 ]
	[ "$(counter timewait-knobs linger-0 TcpExtTCPAbortOnData)" -eq 1 ]
	[ "$(counter timewait-knobs linger-0 TcpExtTW)" -eq 0 ]
	[ "$(fact timewait-knobs linger-0 server_read)" = ECONNRESET ]
	# one port, its TIME_WAIT to the same destination: reused or not
	[ "$(fact timewait-knobs reuse-0 tcp_tw_reuse_default)" -eq 2 ]
	[ "$(fact timewait-knobs reuse-0 connect_again)" = EADDRNOTAVAIL ]
	[ "$(states_in timewait-knobs reuse-0)" = "- time-wait" ]
	[ "$(sock timewait-knobs reuse-0 client local)" = 127.0.0.1:40000 ]
	[ "$(fact timewait-knobs reuse-1 connect_again)" = connected ]
	[ "$(fact timewait-knobs reuse-1 port)" -eq 40000 ]
	[ "$(states_in timewait-knobs reuse-1)" = "established established" ]
	[ "$(counter timewait-knobs reuse-1 TcpExtTWRecycled)" -eq 1 ]
	[ "$(fact timewait-knobs reuse-1-no-timestamps connect_again)" = EADDRNOTAVAIL ]
	[ "$(counter timewait-knobs reuse-1-no-timestamps TcpExtTWRecycled)" -eq 0 ]
	[ "$(fact timewait-knobs reuse-2 connect_again)" = connected ]
	[ "$(counter timewait-knobs reuse-2 TcpExtTWRecycled)" -eq 1 ]
	[ "$(fact timewait-knobs reuse-2-other-address connect_again)" = EADDRNOTAVAIL ]
	[ "$(sock timewait-knobs reuse-2-other-address client local)" = 192.0.2.1:40000 ]
	[ "$(sock timewait-knobs reuse-2-other-address client state)" = time-wait ]
	# ten ports: bind(ip, 0) takes each for every destination...
	[ "$(fact timewait-knobs bind-port-0 connected)" -eq 10 ]
	[ "$(fact timewait-knobs bind-port-0 then)" = EADDRINUSE ]
	[ "$(fact timewait-knobs bind-port-0 connected_other)" -eq 0 ]
	[ "$(fact timewait-knobs bind-port-0 then_other)" = EADDRINUSE ]
	[ "$(count timewait-knobs bind-port-0 client)" -eq 10 ]
	# ...odd ones first; connect() picks even ones first
	[ "$(fact timewait-knobs bind-port-0 first_ports | tr ', ' '\n\n' | grep . | awk '$1 % 2 == 0' | wc -l)" -eq 0 ]
	[ "$(fact timewait-knobs bind-address-no-port first_ports | tr ', ' '\n\n' | grep . | awk '$1 % 2 == 1' | wc -l)" -eq 0 ]
	# with IP_BIND_ADDRESS_NO_PORT: ten per destination
	[ "$(fact timewait-knobs bind-address-no-port connected)" -eq 10 ]
	[ "$(fact timewait-knobs bind-address-no-port then)" = EADDRNOTAVAIL ]
	[ "$(fact timewait-knobs bind-address-no-port connected_other)" -eq 10 ]
	[ "$(fact timewait-knobs bind-address-no-port then_other)" = EADDRNOTAVAIL ]
	[ "$(count timewait-knobs bind-address-no-port client)" -eq 10 ]
	[ "$(step timewait-knobs bind-address-no-port | jq -r '[.sockets[] | select(.role == "client") | .local] | unique | length')" -eq 10 ]
	[ "$(shell_fds $$)" = "$fd0" ]
}

@test "other-language: a Python server's error path skips close(): three CLOSE_WAITs (never-read) held by python3 against orphaned FIN_WAIT_2s; closewait scan names it (exit 1); fixed, none" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	fd0=$(shell_fds $$)
	lab_json other-language
	[ "$(fact other-language python-listens listener_comm)" = python3 ]
	[ "$(sock other-language python-listens listener comm)" = python3 ]
	[ "$(fact other-language bad-requests close_wait)" -eq 3 ]
	[ "$(fact other-language bad-requests close_wait_comm)" = python3 ]
	[[ "$(fact other-language bad-requests server_said)" == "error "*"invalid literal for int()"* ]]
	[ "$(step other-language bad-requests | jq '[.sockets[] | select(.role == "server" and .state == "close-wait" and .comm == "python3" and .why == "never-read")] | length')" -eq 3 ]
	[ "$(step other-language bad-requests | jq '[.sockets[] | select(.role == "client" and .state == "fin-wait-2" and .owner == "orphaned")] | length')" -eq 3 ]
	[ "$(counter other-language bad-requests TcpActiveOpens)" -eq 3 ]
	# scan: its culprit line names the pid that holds the CLOSE_WAITs
	pid=$(step other-language scan | jq -r '[.sockets[] | select(.state == "close-wait") | .pid] | unique | .[]')
	[ -n "$pid" ]
	[ "$(fact other-language scan scan_exit)" -eq 1 ]
	[[ "$(fact other-language scan culprit)" == "pid $pid (python3) has not closed 3 connections that their peers on this host closed"* ]]
	[[ "$(fact other-language scan why)" == "pid $pid (python3) never read 3 connections"* ]]
	# fixed: closed on the error path, the server closed first and holds the TIME_WAITs
	[ "$(fact other-language fixed close_wait)" -eq 0 ]
	[ "$(step other-language fixed | jq '[.sockets[] | select(.role == "server" and .state == "time-wait")] | length')" -eq 3 ]
	[ "$(count other-language fixed client)" -eq 0 ]
	[ "$(shell_fds $$)" = "$fd0" ]
}

@test "other-language: SIGKILL to the lab ends its Python server too" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	start_bg other-language "$CLOSEWAIT" lab --json other-language
	LAB_PID=$BG_PID
	wait_until "$(slack_ms 5000)" "grep -q '\"id\":\"python-listens\"' '$BATS_TEST_TMPDIR/other-language.log'"
	child=$(pgrep -P "$LAB_PID")
	py=$(pgrep -P "$child" -x python3)
	[ -n "$py" ]
	kill -KILL "$LAB_PID"
	wait "$LAB_PID" || true
	LAB_PID=
	wait_until "$(slack_ms 2000)" "[ ! -e /proc/$py ]"
	wait_until "$(slack_ms 2000)" "[ ! -e /proc/$child ]"
}

@test "as a user that is not root, timewait and timewait-knobs set their namespace's sysctls and show the same" {
	if ! setpriv --reuid=65534 --regid=65534 --clear-groups unshare -Urn true 2>/dev/null; then
		skip "this kernel does not let users make user namespaces"
	fi
	for sc in timewait timewait-knobs; do
		setpriv --reuid=65534 --regid=65534 --clear-groups "$CLOSEWAIT" lab --json "$sc" >"$BATS_TEST_TMPDIR/$sc.json"
		[ "$(step "$sc" setting | jq -r .user_namespace)" = true ]
		[ "$(step "$sc" setting | jq -r .needs_root)" = null ]
	done
	[ "$(fact timewait fin-timeout-3 fin_wait_2_timer_ms)" -le 3000 ]
	[ "$(fact timewait fin-timeout-3-time-wait time_wait_timer_ms)" -ge 59000 ]
	[ "$(counter timewait-knobs max-tw-buckets TcpExtTCPTimeWaitOverflow)" -eq 2 ]
	[ "$(fact timewait-knobs reuse-1 connect_again)" = connected ]
	[ "$(fact timewait-knobs reuse-2-other-address connect_again)" = EADDRNOTAVAIL ]
	[ "$(fact timewait-knobs bind-address-no-port connected_other)" -eq 10 ]
}
