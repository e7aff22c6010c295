#!/usr/bin/env bats
# closewait lab one-source (S18): a real HAProxy (Debian's haproxy, a plain
# process in the lab's namespace, TCP mode) balancing to one closewait serve
# backend over a veth pair, every connection to it from one address; a
# 1000-port range; clients closing first at 100 a second. Facts checked on
# kernel 6.18: with tcp_tw_reuse 0 HAProxy holds a TIME_WAIT per request
# toward the backend and the request after the thousandth fails, at 10 s,
# when closewait's port report taken at 5 s said; with tcp_tw_reuse 1
# (timestamps on) every TIME_WAIT port is taken again (TcpExtTWRecycled) and
# nothing fails; with the backend closing first, the backend holds the
# TIME_WAITs, HAProxy none, and nothing fails either.

bats_require_minimum_version 1.5.0

load lib
load lab_helpers

@test "one-source: behind HAProxy, the ports run out after exactly 1000 connections, at 10 s, when the port report said; with tcp_tw_reuse 1 none fails; with the backend closing first none fails and HAProxy holds no TIME_WAIT" {
	local fd0 fail predicted
	fd0=$(shell_fds $$)
	lab_json one-source
	[ "$(step one-source setting-up | jq -r '.sockets[] | select(.role == "listener") | .comm')" = haproxy ]
	[[ "$(fact one-source setting-up haproxy)" == 2.* ]]
	# one port per answered request, then none: the 1001st finds no port
	[ "$(fact one-source no-reuse answered_before_failure)" -eq 1000 ]
	[ "$(fact one-source no-reuse answered)" -eq 1000 ]
	[ "$(fact one-source no-reuse failed)" -eq 1 ]
	[ "$(fact one-source no-reuse haproxy_time_waits)" -eq 1000 ]
	[ "$(counter one-source no-reuse TcpActiveOpens)" -eq 1000 ]
	# 1000 requests at 100 a second cannot end before 10 s
	fail=$(fact one-source no-reuse first_failure_ms)
	predicted=$(fact one-source no-reuse predicted_failure_ms)
	[ "$fail" -ge 9990 ]
	[ "$fail" -le "$(slack_ms 11000)" ]
	# the report at 5 s: about 100 new connections a second, ports gone when they were
	[ "$(fact one-source no-reuse predicted_rate)" -ge 80 ]
	[ "$(fact one-source no-reuse predicted_rate)" -le 120 ]
	[ "$predicted" -ge $((fail - $(slack_ms 1000))) ]
	[ "$predicted" -le $((fail + $(slack_ms 1000))) ]
	# reuse: every request answered, the TIME_WAITs' ports taken again
	[ "$(fact one-source reuse failed)" -eq 0 ]
	[ "$(fact one-source reuse answered)" -eq 1300 ]
	[ "$(fact one-source reuse first_failure_ms)" -eq -1 ]
	[ "$(fact one-source reuse predicted_failure_ms)" -eq -1 ]
	[ "$(counter one-source reuse TcpExtTWRecycled)" -ge 1000 ]
	# the backend closing first: its TIME_WAITs, none at HAProxy, nothing fails
	[ "$(fact one-source server-closes-first failed)" -eq 0 ]
	[ "$(fact one-source server-closes-first answered)" -eq 1300 ]
	[ "$(fact one-source server-closes-first haproxy_time_waits)" -eq 0 ]
	[ "$(fact one-source server-closes-first backend_time_waits)" -ge 1 ]
	[ "$(shell_fds $$)" = "$fd0" ]
	# nothing of the lab's is left: HAProxy (its configuration was a memfd), the backend
	run -1 pgrep -f "^haproxy -db -f /proc/self/fd/"
	run -1 pgrep -f "serve --bind 10.77.0.2 --port 8000"
}
