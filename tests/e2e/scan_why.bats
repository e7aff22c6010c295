#!/usr/bin/env bats
# Why each CLOSE_WAIT socket is open, without privilege beyond scan's (its
# Recv-Q: the peer's FIN counts one byte until a read takes it), on real
# leaky programs in a private network namespace: cwt-leaky eof (reads until
# EOF, never closes: eof-read), cwt-leaky never (answers the first message,
# never reads again: never-read) and cwt-listen (never accepts: unaccepted).
# scan's JSON why, its culprit lines, and --why in scan, watch, reap, export.

load census_helpers

EOF_PORT=8300
NEVER_PORT=8301
QUEUE_PORT=8302

setup() {
	SHELL_FDS=$(shell_fds $$)
	bg "$T/cwt-leaky" $EOF_PORT eof
	eofpid=$LAST_PID
	bg "$T/cwt-leaky" $NEVER_PORT never
	neverpid=$LAST_PID
	bg "$T/cwt-listen" $QUEUE_PORT
	queuepid=$LAST_PID
	wait_listen $EOF_PORT
	wait_listen $NEVER_PORT
	wait_listen $QUEUE_PORT
	eofbase=$(fd_count $eofpid)
	neverbase=$(fd_count $neverpid)
	queuebase=$(fd_count $queuepid)
	# one connection at a time: cwt-leaky serves them in turn
	for i in 1 2 3; do
		"$T/cw_clients" 127.0.0.1 $EOF_PORT 1 --send hello >/dev/null
	done
	for i in 1 2; do
		"$T/cw_clients" 127.0.0.1 $NEVER_PORT 1 --send hello >/dev/null
	done
	"$T/cw_clients" 127.0.0.1 $QUEUE_PORT 1 >/dev/null
	# cwt-leaky eof takes each FIN with its read that returns 0: until then
	# the socket is CLOSE_WAIT with Recv-Q 1
	wait_until "$(slack_ms 5000)" \
		'[ "$(ss -Htan state close-wait "sport = :'$EOF_PORT'" | awk '\''$1 == 0'\'' | wc -l)" -eq 3 ]'
	wait_until "$(slack_ms 5000)" '[ "$(count_state close-wait "sport = :'$NEVER_PORT'")" -eq 2 ]'
	wait_until "$(slack_ms 5000)" '[ "$(count_state close-wait "sport = :'$QUEUE_PORT'")" -eq 1 ]'
}

teardown() { kill_bg; }

# The fds: each server holds its leaks and nothing else; the shell none.
fds_checked() {
	[ "$(fd_count $eofpid)" -eq $((eofbase + 3)) ]
	[ "$(fd_count $neverpid)" -eq $((neverbase + 2)) ]
	[ "$(fd_count $queuepid)" -eq "$queuebase" ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "scan: why per socket (eof-read Recv-Q 0, never-read Recv-Q 1, unaccepted), a culprit line per process and why, and the same in JSON" {
	run "$CW" scan --json
	[ "$status" -eq 1 ]
	j=$BATS_TEST_TMPDIR/scan.json
	echo "$output" >"$j"
	why_of() { jq -r --arg p ":$1" '[.sockets[] | select(.state=="close-wait" and (.local|endswith($p))) | "\(.why) \(.recv_q)"] | unique | join(",")' "$j"; }
	[ "$(why_of $EOF_PORT)" = "eof-read 0" ]
	[ "$(why_of $NEVER_PORT)" = "never-read 1" ]
	[ "$(why_of $QUEUE_PORT)" = "unaccepted 1" ]
	[ "$(jq '[.sockets[] | select(.why=="eof-read")] | length' "$j")" -eq 3 ]
	[ "$(jq '[.sockets[] | select(.why=="never-read")] | length' "$j")" -eq 2 ]
	[ "$(jq '[.sockets[] | select(.why=="unaccepted")] | length' "$j")" -eq 1 ]
	# a socket in another state has none
	[ "$(jq '[.sockets[] | select(.state!="close-wait" and .why!=null)] | length' "$j")" -eq 0 ]
	# per process: the groups' counts and the why culprits
	[ "$(jq --argjson p $eofpid '.groups[] | select(.pid==$p) | "\(.why_eof_read) \(.why_never_read) \(.why_unaccepted)"' -r "$j")" = "3 0 0" ]
	[ "$(jq --argjson p $neverpid '.groups[] | select(.pid==$p) | "\(.why_eof_read) \(.why_never_read) \(.why_unaccepted)"' -r "$j")" = "0 2 0" ]
	[ "$(jq '.why_culprits | length' "$j")" -eq 2 ]
	[ "$(jq -r --argjson p $eofpid '.why_culprits[] | select(.pid==$p) | "\(.command) \(.why) \(.close_wait)"' "$j")" = "cwt-leaky eof-read 3" ]
	[ "$(jq -r --argjson p $neverpid '.why_culprits[] | select(.pid==$p) | "\(.command) \(.why) \(.close_wait)"' "$j")" = "cwt-leaky never-read 2" ]
	[ "$(jq -r --argjson p $eofpid '.why_culprits[] | select(.pid==$p) | .message' "$j")" = "pid $eofpid (cwt-leaky) read EOF on 3 connections and never closed them (fix the end-of-file path: close when read returns 0)" ]
	# the table says the same, and names the listener that does not accept
	run "$CW" scan
	[ "$status" -eq 1 ]
	grep -Fx "pid $eofpid (cwt-leaky) read EOF on 3 connections and never closed them (fix the end-of-file path: close when read returns 0)" <<<"$output"
	grep -Fx "pid $neverpid (cwt-leaky) never read 2 connections to their end after the peer closed (an idle pool member, or a handler stuck elsewhere)" <<<"$output"
	grep -F "pid $queuepid (cwt-listen) is not accepting: 1 connection in the accept queue of 0.0.0.0:$QUEUE_PORT is in CLOSE_WAIT" <<<"$output"
	[ "$(grep -c "never closed\|never read" <<<"$output")" -eq 2 ]
	fds_checked
}

@test "scan --why: only the sockets, groups and lines of those whys; a list; exit 0 when none is left; a wrong name is a usage error" {
	run "$CW" scan --why eof-read --json
	[ "$status" -eq 1 ]
	[ "$(jq '[.sockets[] | .local] | unique' -c <<<"$output")" = "[\"127.0.0.1:$EOF_PORT\"]" ]
	[ "$(jq '.sockets | length' <<<"$output")" -eq 3 ]
	[ "$(jq '.close_wait_total' <<<"$output")" -eq 3 ]
	[ "$(jq -c '[.groups[] | .pid]' <<<"$output")" = "[$eofpid]" ]
	run "$CW" scan --why eof-read
	[ "$status" -eq 1 ]
	grep -F "pid $eofpid (cwt-leaky) read EOF on 3 connections" <<<"$output"
	[ "$(grep -c "never read\|not accepting" <<<"$output")" -eq 0 ]
	[ "$(grep -c "^close-wait " <<<"$output")" -eq 3 ]
	run "$CW" scan --why never-read,unaccepted --json
	[ "$status" -eq 1 ]
	[ "$(jq -r '[.sockets[] | .why] | sort | join(",")' <<<"$output")" = "never-read,never-read,unaccepted" ]
	[ "$(jq -r '.unaccepted[0].pid' <<<"$output")" -eq "$queuepid" ]
	# repeated adds, as --state does
	run "$CW" scan --why unaccepted --why eof-read --json
	[ "$status" -eq 1 ]
	[ "$(jq '.sockets | length' <<<"$output")" -eq 4 ]
	# --why with other filters: all must hold
	run "$CW" scan --why eof-read --port $NEVER_PORT
	[ "$status" -eq 0 ]
	grep -Fx "no CLOSE_WAIT sockets (nothing matched)" <<<"$output"
	usage_error '--why: unknown reason "eof" (eof-read, never-read, unaccepted)' "$CW" scan --why eof
	usage_error '--why: unknown reason "never_read"' "$CW" scan --why never_read
	fds_checked
}

@test "--why in watch, reap and export: the same selection" {
	run "$CW" watch --count 1 --json --why never-read
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.processes[] | "\(.pid) \(.close_wait)"]' <<<"$output")" = "[\"$neverpid 2\"]" ]
	run "$CW" reap --comm cwt-leaky --why eof-read --dry-run --json
	[ "$status" -eq 0 ]
	[ "$(jq -r '[.sockets[] | "\(.pid) \(.local)"] | unique | join(",")' <<<"$output")" = "$eofpid 127.0.0.1:$EOF_PORT" ]
	[ "$(jq '.selected' <<<"$output")" -eq 3 ]
	dir=$BATS_TEST_TMPDIR/textfile
	mkdir "$dir"
	run "$CW" export --textfile "$dir" --once --by process --why never-read,unaccepted
	[ "$status" -eq 0 ]
	run grep '^closewait_close_wait_why_sockets{' "$dir/closewait.prom"
	[ "${#lines[@]}" -eq 2 ]
	grep -F "pid=\"$neverpid\"" <<<"${lines[0]}${lines[1]}"
	grep -F 'why="never-read"} 2' <<<"${lines[0]}${lines[1]}"
	grep -F 'why="unaccepted"} 1' <<<"${lines[0]}${lines[1]}"
	fds_checked
}
