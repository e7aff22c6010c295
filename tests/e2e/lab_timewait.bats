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
