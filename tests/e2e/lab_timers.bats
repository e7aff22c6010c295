#!/usr/bin/env bats
# closewait lab timers (S21, S16): the waits waited for. A TIME_WAIT ends
# 60 s after its close, tcp_fin_timeout at 3 s (which ends the orphaned
# FIN_WAIT_2 at 3 s); a CLOSE_WAIT has no timer and is still there at 65 s.
# The scenario takes 65 s: this file runs beside the other tests, not alone
# (its bounds leave seconds, not milliseconds: the kernel's timer wheel fires
# a 60 s timer up to about 4 s late, and the census polls every 100 ms).

bats_require_minimum_version 1.5.0

load lib
load lab_helpers

@test "timers: the FIN_WAIT_2 gone at tcp_fin_timeout (3 s), the TIME_WAIT at 60 s whatever tcp_fin_timeout says, the CLOSE_WAIT still there at 65 s with no timer" {
	local fd0 tw fw2
	fd0=$(shell_fds $$)
	lab_json timers
	# at the closes: each end's timer as the kernel shows it
	[ "$(step timers close | jq -r '.sockets[] | select(.state == "time-wait") | .timer')" = timewait ]
	[ "$(step timers close | jq -r '.sockets[] | select(.state == "fin-wait-2") | .timer')" = timewait ]
	[ "$(step timers close | jq -r '.sockets[] | select(.state == "close-wait") | .timer')" = none ]
	fw2=$(fact timers wait fin_wait_2_lasted_ms)
	tw=$(fact timers wait time_wait_lasted_ms)
	[ "$fw2" -ge 2900 ]
	[ "$fw2" -le "$(slack_ms 6000)" ]
	[ "$tw" -ge 59900 ]
	[ "$tw" -le $((60000 + $(slack_ms 6000))) ]
	[ "$(fact timers wait close_wait_at_ms)" -ge 65000 ]
	[ "$(fact timers wait close_waits)" -eq 1 ]
	[ "$(step timers wait | jq -r '[.sockets[] | select(.state != "listen") | "\(.state) \(.timer)"] | join(",")')" = "close-wait none" ]
	[ "$(shell_fds $$)" = "$fd0" ]
}
