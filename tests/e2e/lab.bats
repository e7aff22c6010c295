#!/usr/bin/env bats
# closewait lab: each scenario run with --json, its states and counters
# checked against what Linux does (kernel 6.18: the counters named exist
# there); and interrupted (a closed pipe, SIGINT, SIGHUP, SIGKILL), after
# which no process, namespace, veth or nft table of the lab is left.
# Facts (SPEC ids): S2/S4 the leak's CLOSE_WAIT against FIN_WAIT_2; S9/S11 the
# reconnecting client with and without the bug; S14 the
# state machine, each state observed (states, with an nft table); S17 keep-alive
# reuse against a connection per request (keepalive-reuse); S13
# SO_LINGER {1,0}; S5-S8 the cures; S21 a CLOSE_WAIT has no timer of its own,
# keepalive's first probe after the peer's FIN_WAIT_2 expired ends it.

bats_require_minimum_version 1.5.0

load lib
load lab_helpers

teardown() {
	local p
	for p in ${LAB_PID:-} ${LAB_KIDS:-}; do
		kill -KILL "$p" 2>/dev/null || true
	done
}

# lab_procs: processes of `closewait lab` (its children are forks: same command line).
lab_procs() { pgrep -c -f "^$CLOSEWAIT lab " || true; }
# ns_holders INODE [list]: how many processes and fds hold network namespace
# INODE (with list: which, and their command lines).
ns_holders() {
	local h
	h=$(find /proc/[0-9]*/ns/net /proc/[0-9]*/task/*/ns/net /proc/[0-9]*/fd -lname "net:\[$1\]" 2>/dev/null || true)
	if [ -z "${2:-}" ]; then
		printf '%s' "$h" | grep -c . || true
		return 0
	fi
	printf '%s\n' "$h" | while read -r p; do
		[ -n "$p" ] || continue
		echo "$p: $(tr '\0' ' ' 2>/dev/null <"/proc/$(echo "$p" | cut -d/ -f3)/cmdline")"
	done
}
# net_view: this namespace's links and nft tables, which a scenario must not touch.
net_view() {
	ip -o link show | awk '{ print $2 }'
	nft list tables 2>/dev/null || true
}

# interrupt SIGNAL WAIT_ID: starts `lab cures`, waits until step WAIT_ID
# has been printed (heartbeat, keepalive: a server of the library then runs
# in a grandchild for 1 s), notes the scenario's namespace, sends SIGNAL to
# the lab and checks that it ended of that signal at once and left nothing.
interrupt() {
	local sig=$1 id=$2 fd0 view0 child ns t0 status=0
	fd0=$(shell_fds $$)
	view0=$(net_view)
	start_bg cures "$CLOSEWAIT" lab --json cures
	LAB_PID=$BG_PID
	wait_until "$(slack_ms 5000)" "grep -q '\"id\":\"$id\"' '$BATS_TEST_TMPDIR/cures.log'"
	child=$(pgrep -P "$LAB_PID")
	ns=$(readlink "/proc/$child/ns/net" | tr -dc 0-9)
	[ -n "$ns" ]
	[ "$ns" != "$(readlink /proc/self/ns/net | tr -dc 0-9)" ]
	# the child runs the scenario, a grandchild the library's server
	LAB_KIDS="$child $(pgrep -P "$child")"
	[ -n "$(pgrep -P "$child")" ]
	t0=$(date +%s%3N)
	kill -"$sig" "$LAB_PID"
	wait "$LAB_PID" || status=$?
	LAB_PID=
	[ "$status" -eq $((128 + $(kill -l "$sig"))) ]
	# at once, not when the scenario would have ended (seconds later)
	[ "$(($(date +%s%3N) - t0))" -le "$(slack_ms 1000)" ]
	wait_until "$(slack_ms 2000)" '[ "$(lab_procs)" -eq 0 ]'
	wait_until "$(slack_ms 2000)" "[ \"\$(ns_holders $ns)\" -eq 0 ]" || { ns_holders "$ns" list >&2; return 1; }
	[ "$(net_view)" = "$view0" ]
	[ "$(shell_fds $$)" = "$fd0" ]
}

@test "lab lists its scenarios, one line each; an unknown one is a usage error" {
	run -0 "$CLOSEWAIT" lab
	[[ "$output" == *"leak "*"CLOSE_WAIT"* ]]
	[[ "$output" == *"linger "*"SO_LINGER"* ]]
	[[ "$output" == *"cures "*"keepalive"* ]]
	[[ "$output" == *"states "*"simultaneous"* ]]
	[[ "$output" == *"reconnect "*"CLOSE_WAIT per reconnection"* ]]
	[[ "$output" == *"timewait "*"tcp_fin_timeout"* ]]
	[[ "$output" == *"timers "*"65 s"* ]]
	[[ "$output" == *"timewait-knobs "*"tcp_tw_reuse"* ]]
	[[ "$output" == *"other-language "*"python3"* ]]
	[[ "$output" == *"keepalive-reuse "*"keep-alive"* ]]
	[[ "$output" == *"one-source "*"HAProxy"* ]]
	[[ "$output" == *"syn-fin "*"SYN+FIN"* ]]
	[[ "$output" == *"timewait-syn "*"TIME_WAIT"* ]]
	[ "${#lines[@]}" -eq 14 ]
	usage_error 'no scenario "nope"' "$CLOSEWAIT" lab nope
	usage_error 'one scenario at a time' "$CLOSEWAIT" lab leak linger
}

@test "leak: CLOSE_WAIT (eof-read) against an orphaned FIN_WAIT_2 with a timer; the FIN_WAIT_2 ends after tcp_fin_timeout (3 s), the CLOSE_WAIT stays, timerless, until close()" {
	fd0=$(shell_fds $$)
	lab_json leak
	[ "$(step leak setting | jq -r .user_namespace)" = false ]
	[ "$(sock leak connect server state)" = established ]
	[ "$(sock leak connect client state)" = established ]
	[ "$(counter leak connect TcpActiveOpens)" -eq 1 ]
	[ "$(counter leak connect TcpPassiveOpens)" -eq 1 ]
	[ "$(fact leak client-closes server_read)" -eq 0 ]
	[ "$(sock leak client-closes server state)" = close-wait ]
	[ "$(sock leak client-closes server why)" = eof-read ]
	[ "$(sock leak client-closes server owner)" = process ]
	[ "$(sock leak client-closes server timer)" = none ]
	[ "$(sock leak client-closes client state)" = fin-wait-2 ]
	[ "$(sock leak client-closes client owner)" = orphaned ]
	[ "$(sock leak client-closes client timer)" = timewait ]
	[ "$(sock leak client-closes client timer_ms)" -le 3000 ]
	# a timer of 4 s or less is counted as TWKilled when it is set (TW when longer)
	[ "$(counter leak client-closes TcpExtTWKilled)" -eq 1 ]
	[ "$(counter leak client-closes TcpExtTW)" -eq 0 ]
	lasted=$(fact leak fin-wait-2-expires fin_wait_2_lasted_ms)
	[ "$lasted" -ge 2900 ]
	[ "$lasted" -le "$((3000 + $(slack_ms 1500)))" ]
	[ "$(count leak fin-wait-2-expires client)" -eq 0 ]
	[ "$(sock leak fin-wait-2-expires server state)" = close-wait ]
	[ "$(sock leak fin-wait-2-expires server timer)" = none ]
	# close() at last: its FIN meets no socket, the client's kernel resets
	[ "$(count leak server-closes server)" -eq 0 ]
	[ "$(counter leak server-closes TcpOutRsts)" -eq 1 ]
	[ "$(shell_fds $$)" = "$fd0" ]
}

@test "linger: a graceful close delivers the queued \"wrong password\" then EOF and leaves the closer a TIME_WAIT; SO_LINGER {1,0} sends a reset (TcpExtTCPAbortOnData), loses it, leaves no TIME_WAIT" {
	fd0=$(shell_fds $$)
	lab_json linger
	[ "$(sock linger graceful-login server send_q)" -gt 0 ]
	[ "$(sock linger graceful-login client recv_q)" -gt 0 ]
	[ "$(sock linger graceful-close server state)" = fin-wait-1 ]
	[ "$(sock linger graceful-close server owner)" = orphaned ]
	[ "$(sock linger graceful-close server send_q)" -gt 0 ]
	[ "$(fact linger graceful-read client_got_message)" = true ]
	[ "$(fact linger graceful-read client_read_end)" = "end of file" ]
	[ "$(fact linger graceful-read client_read_bytes)" -eq "$(fact linger graceful-login reply_bytes)" ]
	[ "$(sock linger graceful-read server state)" = fin-wait-2 ]
	[ "$(sock linger graceful-read client state)" = close-wait ]
	[ "$(sock linger graceful-done server state)" = time-wait ]
	[ "$(counter linger graceful-close TcpOutRsts)" -eq 0 ]
	[ "$(counter linger abortive-close TcpExtTCPAbortOnData)" -eq 1 ]
	[ "$(counter linger abortive-close TcpOutRsts)" -eq 1 ]
	[ "$(count linger abortive-close server)" -eq 0 ]
	[ "$(count linger abortive-close client)" -eq 0 ]
	[ "$(fact linger abortive-read client_got_message)" = false ]
	[ "$(fact linger abortive-read client_read_end)" = ECONNRESET ]
	[ "$(fact linger abortive-read client_read_bytes)" -lt "$(fact linger abortive-login reply_bytes)" ]
	[ "$(shell_fds $$)" = "$fd0" ]
}

@test "cures: EOF closes at once; idle after 1 s; a heartbeat and keepalive's first probe draw a reset from a vanished peer; keepalive gives up on a host that is down after 1 + 3 x 1 s; keepalive ends a leaked CLOSE_WAIT once the peer's FIN_WAIT_2 expired" {
	fd0=$(shell_fds $$)
	lab_json cures
	[ "$(fact cures eof close_reason)" = eof ]
	[ "$(fact cures eof closed_after_ms)" -le "$(slack_ms 500)" ]
	[ "$(sock cures eof client state)" = time-wait ]
	[ "$(count cures eof server)" -eq 0 ]
	[ "$(fact cures idle close_reason)" = idle ]
	# from the client's read of the reply, which follows the server's last
	# write by well under a millisecond
	[ "$(fact cures idle closed_after_ms)" -ge 995 ]
	[ "$(fact cures idle closed_after_ms)" -le "$((1000 + $(slack_ms 500)))" ]
	[ "$(sock cures idle server state)" = fin-wait-2 ]
	[ "$(sock cures idle client state)" = close-wait ]
	[ "$(counter cures idle TcpActiveOpens)" -eq 1 ]
	# the vanished client sent nothing: the server's end stays established
	[ "$(sock cures heartbeat server state)" = established ]
	[ "$(count cures heartbeat client)" -eq 0 ]
	[ "$(counter cures heartbeat TcpOutRsts)" -eq 0 ]
	[ "$(fact cures heartbeat-ends close_reason)" = reset ]
	[ "$(fact cures heartbeat-ends closed_after_ms)" -ge 995 ]
	[ "$(fact cures heartbeat-ends closed_after_ms)" -le "$((1000 + $(slack_ms 500)))" ]
	[ "$(counter cures heartbeat-ends TcpOutRsts)" -eq 1 ]
	[ "$(count cures heartbeat-ends server)" -eq 0 ]
	[ "$(sock cures keepalive server state)" = established ]
	[ "$(sock cures keepalive server timer)" = keepalive ]
	[ "$(fact cures keepalive-ends close_reason)" = reset ]
	[ "$(counter cures keepalive-ends TcpExtTCPKeepAlive)" -eq 1 ]
	[ "$(counter cures keepalive-ends TcpOutRsts)" -eq 1 ]
	# a host that is down: probes unanswered, the third ends it (ETIMEDOUT)
	[ "$(states_of_cures keepalive-unreachable)" = "established established" ]
	[ "$(sock cures keepalive-probing server timer)" = keepalive ]
	[ "$(sock cures keepalive-probing server retrans)" -ge 2 ]
	[ "$(fact cures keepalive-gives-up close_reason)" = keepalive ]
	[ "$(fact cures keepalive-gives-up closed_after_ms)" -ge 3990 ]
	[ "$(fact cures keepalive-gives-up closed_after_ms)" -le "$((4000 + $(slack_ms 1000)))" ]
	[ "$(counter cures keepalive-gives-up TcpExtTCPAbortOnTimeout)" -eq 1 ]
	[ "$(count cures keepalive-gives-up server)" -eq 0 ]
	# its reset was dropped too: the client does not know
	[ "$(sock cures keepalive-gives-up client state)" = established ]
	[ "$(sock cures leak-keepalive server state)" = close-wait ]
	[ "$(sock cures leak-keepalive server timer)" = keepalive ]
	[ "$(sock cures leak-keepalive client state)" = fin-wait-2 ]
	fw2=$(fact cures leak-keepalive-ends fin_wait_2_gone_after_ms)
	cw=$(fact cures leak-keepalive-ends close_wait_gone_after_ms)
	[ "$fw2" -ge 2900 ]
	# gone only after the FIN_WAIT_2, at the next probe (one a second)
	[ "$cw" -ge "$fw2" ]
	[ "$cw" -le "$((fw2 + 1000 + $(slack_ms 500)))" ]
	[ "$(count cures leak-keepalive-ends server)" -eq 0 ]
	# probes answered by the FIN_WAIT_2, then the one that drew the reset
	[ "$(counter cures leak-keepalive-ends TcpExtTCPKeepAlive)" -ge 2 ]
	[ "$(counter cures leak-keepalive-ends TcpOutRsts)" -eq 1 ]
	[ "$(shell_fds $$)" = "$fd0" ]
}

@test "reconnect: the buggy client keeps one CLOSE_WAIT (eof-read) per reconnection, the server's ends in FIN_WAIT_2; the fixed one none, the TIME_WAITs on the server" {
	fd0=$(shell_fds $$)
	lab_json reconnect
	[ "$(fact reconnect buggy connections)" -eq 4 ]
	[ "$(counter reconnect buggy TcpActiveOpens)" -eq 4 ]
	[ "$(step reconnect buggy | jq '[.sockets[] | select(.role == "client" and .state == "close-wait" and .why == "eof-read")] | length')" -eq 4 ]
	[ "$(step reconnect buggy | jq '[.sockets[] | select(.role == "server" and .state == "fin-wait-2")] | length')" -eq 4 ]
	# all held by one process, the client, not the server
	[ "$(step reconnect buggy | jq '[.sockets[] | select(.role == "client") | .pid] | unique | length')" -eq 1 ]
	[ "$(step reconnect buggy | jq '[.sockets[] | .pid] | unique | length')" -eq 2 ]
	[ "$(fact reconnect fixed client_close_wait)" -eq 0 ]
	[ "$(count reconnect fixed client)" -eq 0 ]
	[ "$(step reconnect fixed | jq '[.sockets[] | select(.role == "server" and .state == "time-wait")] | length')" -eq 4 ]
	[ "$(shell_fds $$)" = "$fd0" ]
}

@test "keepalive-reuse: a connection per request leaves a TIME_WAIT per request on the client and the eleventh of a ten-port range fails (EADDRNOTAVAIL); keep-alive makes all twenty requests over one, one TIME_WAIT" {
	fd0=$(shell_fds $$)
	lab_json keepalive-reuse
	[ "$(fact keepalive-reuse per-request requests)" -eq 10 ]
	[ "$(fact keepalive-reuse per-request next_connect)" = EADDRNOTAVAIL ]
	[ "$(counter keepalive-reuse per-request TcpActiveOpens)" -eq 10 ]
	[ "$(counter keepalive-reuse per-request TcpExtTW)" -eq 10 ]
	[ "$(step keepalive-reuse per-request | jq '[.sockets[] | select(.role == "client" and .state == "time-wait")] | length')" -eq 10 ]
	# the ten ports of the range, each once
	[ "$(step keepalive-reuse per-request | jq -r '[.sockets[] | select(.role == "client") | .local | sub(".*:"; "")] | unique | join(" ")')" = "40000 40001 40002 40003 40004 40005 40006 40007 40008 40009" ]
	# a new namespace's range: 32768-60999 on Linux, connect() per destination
	[ "$(fact keepalive-reuse per-request default_ports)" -eq 28232 ]
	[ "$(fact keepalive-reuse per-request bound_per_s)" -eq 470 ]
	[ "$(fact keepalive-reuse keep-alive requests)" -eq 20 ]
	[ "$(counter keepalive-reuse keep-alive TcpActiveOpens)" -eq 1 ]
	[ "$(step keepalive-reuse keep-alive | jq '[.sockets[] | select(.role == "client" and .state == "time-wait")] | length')" -eq 1 ]
	[ "$(count keepalive-reuse keep-alive client)" -eq 1 ]
	[ "$(shell_fds $$)" = "$fd0" ]
}

# states_of ID: "SERVER CLIENT" states of step ID of states (- for none);
# states_of_cures ID: the same in cures (states_in: lab_helpers.bash).
states_of() { states_in states "$1"; }
states_of_cures() { states_in cures "$1"; }

@test "states: every state of the diagram observed, one transition at a time, on the open, the active and passive close and a simultaneous close (CLOSING)" {
	fd0=$(shell_fds $$)
	lab_json states
	[ "$(states_of closed)" = "- -" ]
	[ "$(sock states listen listener state)" = listen ]
	[ "$(fact states listen transitions)" = "listener CLOSED -> LISTEN" ]
	[ "$(states_of syn)" = "syn-recv syn-sent" ]
	[ "$(fact states syn transitions)" = "server CLOSED -> SYN-RECV, client CLOSED -> SYN-SENT" ]
	# the SYN-ACK (or the SYN) is retried after 1 s
	[ "$(fact states established waited_ms)" -ge 900 ]
	[ "$(states_of established)" = "established established" ]
	[ "$(counter states established TcpExtTCPSynRetrans)" -ge 1 ]
	[ "$(states_of active-close)" = "close-wait fin-wait-1" ]
	[ "$(sock states active-close client owner)" = orphaned ]
	[ "$(states_of fin-wait-2)" = "close-wait fin-wait-2" ]
	[ "$(fact states fin-wait-2 transitions)" = "client FIN-WAIT-1 -> FIN-WAIT-2" ]
	[ "$(states_of passive-close)" = "last-ack time-wait" ]
	[ "$(fact states passive-close transitions)" = "server CLOSE-WAIT -> LAST-ACK, client FIN-WAIT-2 -> TIME-WAIT" ]
	[ "$(states_of last-ack-done)" = "- time-wait" ]
	[ "$(fact states last-ack-done transitions)" = "server LAST-ACK -> CLOSED" ]
	[ "$(states_of simultaneous-close)" = "fin-wait-1 fin-wait-1" ]
	[ "$(states_of closing)" = "closing fin-wait-1" ]
	[ "$(fact states closing transitions)" = "server FIN-WAIT-1 -> CLOSING" ]
	[ "$(states_of both-time-wait)" = "time-wait time-wait" ]
	[ "$(fact states summary states_seen)" = "CLOSED, LISTEN, SYN-SENT, SYN-RECV, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT" ]
	[ "$(shell_fds $$)" = "$fd0" ]
}

@test "text: each step says what is done, the sockets, the counters and an explanation" {
	run -0 "$CLOSEWAIT" lab linger
	[[ "${lines[0]}" == "closewait lab linger: "* ]]
	[[ "$output" == *"5. ["*"The same slow client"* ]]
	[[ "$output" == *"server    127.0.0.1:8001   127.0.0.1:"*"FIN-WAIT-1"*"no process (orphaned)"* ]]
	[[ "$output" == *"counters: "*"TcpOutRsts +1, TcpExtTCPAbortOnData +1"* ]]
	[[ "$output" == *"the client got \"wrong password\": no"* ]]
	[[ "$output" != *"TcpInSegs"* ]]
}

@test "as a user that is not root, the lab runs in a user namespace and sees the same" {
	if ! setpriv --reuid=65534 --regid=65534 --clear-groups unshare -Urn true 2>/dev/null; then
		skip "this kernel does not let users make user namespaces"
	fi
	run -0 setpriv --reuid=65534 --regid=65534 --clear-groups "$CLOSEWAIT" lab --json linger
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/linger.json"
	[ "$(step linger setting | jq -r .user_namespace)" = true ]
	[ "$(step linger setting | jq -r .needs_root)" = null ]
	[ "$(sock linger graceful-close server state)" = fin-wait-1 ]
	[ "$(counter linger abortive-close TcpExtTCPAbortOnData)" -eq 1 ]
	[ "$(fact linger abortive-read client_got_message)" = false ]
}

@test "--all runs the scenarios in the order listed, each whole; a closed pipe in the second ends it; with a name it is a usage error" {
	local fd0 first second
	fd0=$(shell_fds $$)
	run -0 "$CLOSEWAIT" lab
	first=$(echo "${lines[1]}" | awk '{ print $1 }')
	second=$(echo "${lines[2]}" | awk '{ print $1 }')
	[ "$first" = leak ]
	run -0 bash -c "set -o pipefail; \"$CLOSEWAIT\" lab --all --json | awk '{ print } /\"scenario\":\"$second\"/ { exit }'; echo \"status \${PIPESTATUS[0]}\""
	[ "${lines[-1]}" = "status 141" ]
	unset 'lines[-1]'
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/all.json"
	run -0 jq -r .scenario "$BATS_TEST_TMPDIR/all.json"
	[ "$(printf '%s\n' "${lines[@]}" | uniq | tr '\n' ' ')" = "$first $second " ]
	# the first whole, step after step, then the second from its start
	run -0 jq -r '"\(.scenario) \(.id)"' "$BATS_TEST_TMPDIR/all.json"
	[ "$(printf '%s\n' "${lines[@]}" | tr '\n' ',')" = "leak setting,leak listen,leak connect,leak client-closes,leak fin-wait-2-expires,leak server-closes,$second setting," ]
	wait_until "$(slack_ms 2000)" '[ "$(lab_procs)" -eq 0 ]'
	[ "$(shell_fds $$)" = "$fd0" ]
	usage_error '--all runs every scenario: name none ("leak")' "$CLOSEWAIT" lab --all leak
}

# svg_count FILE XPATH-PREDICATE: how many elements of the picture match.
svg_count() { xmllint --xpath "count(//*[$2])" "$1"; }

@test "--svg: a sequence diagram that xmllint accepts: one lane per endpoint, an arrow per segment TCP sent in each step (TcpOutSegs), each step's states as it printed them" {
	local fd0 svg=$BATS_TEST_TMPDIR/leak.svg k steps want got
	fd0=$(shell_fds $$)
	"$CLOSEWAIT" lab --json --svg "$svg" leak >"$BATS_TEST_TMPDIR/leak.json"
	run -0 xmllint --noout "$svg"
	# the lanes: every endpoint the steps show (a listener's peer is none)
	want=$(jq -r '.sockets[]? | .local, .peer' "$BATS_TEST_TMPDIR/leak.json" | grep -v ':\*$' | sort -u | tr '\n' ' ')
	got=$(xmllint --xpath "//*[local-name()='g'][@class='lane']/@data-endpoint" "$svg" | sed 's/ *data-endpoint="\([^"]*\)"/\1\n/g' | grep . | sort -u | tr '\n' ' ')
	[ "$got" = "$want" ]
	[ "$(svg_count "$svg" "local-name()='g'][@class='lane'")" -eq 2 ]
	steps=$(jq -r 'select(.step > 0) | .step' "$BATS_TEST_TMPDIR/leak.json")
	[ "$(echo $steps)" = "1 2 3 4 5" ]
	for k in $steps; do
		# each segment the namespace's TCP sent is captured once
		want=$(jq -r --argjson k "$k" 'select(.step == $k) | .counters.TcpOutSegs // 0' "$BATS_TEST_TMPDIR/leak.json")
		got=$(svg_count "$svg" "local-name()='g'][@class='segment'][@data-step='$k'")
		[ "$got" = "$want" ] || { echo "step $k: $got arrows, TcpOutSegs +$want" >&2; return 1; }
		want=$(jq -r --argjson k "$k" 'select(.step == $k) | .sockets[] | "\(.local) \(.state | ascii_upcase)"' "$BATS_TEST_TMPDIR/leak.json" | sort | tr '\n' ',')
		got=$(xmllint --xpath "//*[local-name()='text'][@class='state'][@data-step='$k']" "$svg" | sed 's|</text>|&\n|g' | sed -n 's/.*data-endpoint="\([^"]*\)".*>\([A-Z0-9-]*\)<\/text>/\1 \2/p' | sort | tr '\n' ',')
		[ "$got" = "$want" ] || { echo "step $k: states $got, printed $want" >&2; return 1; }
	done
	# the handshake, the client's FIN and the server's late FIN drawing a reset
	[ "$(svg_count "$svg" "local-name()='g'][@class='segment'][@data-step='2'][.//*[local-name()='text']='SYN'")" -eq 1 ]
	[ "$(svg_count "$svg" "local-name()='g'][@class='segment'][@data-step='5'][.//*[local-name()='text']='RST'")" -eq 1 ]
	[ "$(shell_fds $$)" = "$fd0" ]
}

@test "--svg: with --all or no scenario it is a usage error; a file it cannot write fails before the scenario runs" {
	usage_error '--svg draws one scenario' "$CLOSEWAIT" lab --svg "$BATS_TEST_TMPDIR/x.svg" --all
	usage_error '--svg draws a scenario: name one' "$CLOSEWAIT" lab --svg "$BATS_TEST_TMPDIR/x.svg"
	run -1 "$CLOSEWAIT" lab --svg /nonexistent/dir/x.svg leak
	[[ "$output" == *"cannot write /nonexistent/dir/x.svg: No such file or directory"* ]]
	[[ "$output" != *"closewait lab leak:"* ]]
}

@test "a closed pipe (lab | head -1) ends the lab and its servers" {
	view0=$(net_view)
	run -0 bash -c "set -o pipefail; \"$CLOSEWAIT\" lab cures | head -1; echo \"status \${PIPESTATUS[0]}\""
	[[ "${lines[0]}" == "closewait lab cures: "* ]]
	[ "${lines[1]}" = "status 141" ]
	wait_until "$(slack_ms 2000)" '[ "$(lab_procs)" -eq 0 ]'
	[ "$(net_view)" = "$view0" ]
}

@test "SIGINT ends the lab, its servers and its namespace" {
	interrupt INT heartbeat
}

@test "SIGHUP ends the lab, its servers and its namespace" {
	interrupt HUP heartbeat
}

@test "SIGKILL to the lab still ends its servers and its namespace" {
	interrupt KILL keepalive
}
