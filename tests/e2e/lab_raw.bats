#!/usr/bin/env bats
# closewait lab: the scenarios of segments made by hand (syn-fin,
# timewait-syn), run with --json; each reply checked is the one the lab
# captured on its veth, each state the census's, each counter a delta of
# the server's namespace, against what Linux 6.18 does.
# Facts (SPEC ids): S20 SYN+FIN to a listener gets no reply and no socket
# (with data, with PSH+URG too), SYN+FIN+ACK a reset, a bare FIN nothing,
# FIN+ACK a reset; to a connection a challenge ACK (TCPSYNChallenge), both
# ends ESTABLISHED; an in-sequence FIN makes the CLOSE_WAIT. S19 a SYN onto a
# server's TIME_WAIT: without timestamps accepted only above rcv_nxt, with
# them the timestamp decides (PAWSTimewait, PAWSEstab before 2025); the new
# ISN is snd_nxt + 65537; a rejected SYN gets an ACK of the old numbers, one
# per 500 ms (TCPACKSkippedTimeWait); a real client's reset to it ends the
# TIME_WAIT at tcp_rfc1337 0, not at 1.

bats_require_minimum_version 1.5.0

load lib
load lab_helpers

teardown() {
	if [ -n "${LAB_PID:-}" ]; then
		kill -KILL "$LAB_PID" 2>/dev/null || true
	fi
}

# run_lab NAME [COMMAND...]: runs the scenario with --json (through COMMAND
# if given), then flattens what it printed, one "ID KEY VALUE" line per fact
# (fact.KEY), per counter that moved (counter.NAME), per socket
# (ROLE.state): one jq for all the checks, which a loaded machine runs fast.
run_lab() {
	local sc=$1
	shift
	"$@" "$CLOSEWAIT" lab --json "$sc" >"$BATS_TEST_TMPDIR/$sc.json"
	jq -r '.id as $id | ((.facts // {}) | to_entries[] | "\($id) fact.\(.key) \(.value)"),
		((.counters // {}) | to_entries[] | "\($id) counter.\(.key) \(.value)"),
		((.sockets // [])[] | "\($id) \(.role).state \(.state)"),
		"\($id) user_namespace \(.user_namespace)", "\($id) needs_root \(.needs_root)"' \
		"$BATS_TEST_TMPDIR/$sc.json" >"$BATS_TEST_TMPDIR/$sc.flat"
}
# expect NAME: each line of stdin, "ID KEY VALUE", is what step ID printed
# (the first KEY of the step: a step shows one socket of a role, besides
# the listener); VALUE "-": KEY absent (a counter that did not move, no
# such socket). Prints every line that does not hold, with what was printed.
expect() {
	awk 'NR == FNR { k = $1 " " $2; if (!(k in got)) { v = $0; sub(/^[^ ]+ [^ ]+ /, "", v); got[k] = v }; next }
		/^[[:space:]]*$/ { next }
		{ k = $1 " " $2; want = $0; sub(/^[^ ]+ [^ ]+ /, "", want)
		  if (want == "-" ? (k in got) : got[k] != want) {
			printf "%s: expected %s, printed %s\n", k, want, (k in got) ? got[k] : "nothing"; bad = 1 } }
		END { exit bad }' "$BATS_TEST_TMPDIR/$1.flat" -
}

@test "lab lists syn-fin and timewait-syn" {
	run -0 "$CLOSEWAIT" lab
	[[ "$output" == *"syn-fin "*"SYN+FIN"* ]]
	[[ "$output" == *"timewait-syn "*"TIME_WAIT"* ]]
}

@test "syn-fin: to a listener SYN+FIN (with data, with PSH+URG) gets nothing and makes no socket, SYN+FIN+ACK and FIN+ACK a reset, FIN nothing; to a connection a challenge ACK, both ESTABLISHED; an in-sequence FIN makes the CLOSE_WAIT" {
	fd0=$(shell_fds $$)
	run_lab syn-fin
	expect syn-fin <<-EOF
	syn-fin-listener fact.sent SYN+FIN
	syn-fin-data fact.sent SYN+FIN
	syn-fin-psh-urg fact.sent SYN+FIN+PSH+URG
	fin-listener fact.sent FIN
	$(for id in syn-fin-listener syn-fin-data syn-fin-psh-urg fin-listener; do
		# it reached TCP, its checksum right, and nothing went back
		printf '%s\n' "$id fact.reply none" "$id fact.replies 0" "$id fact.sockets_made 0" \
			"$id server.state -" "$id counter.TcpInSegs 1" "$id counter.TcpInCsumErrors -" \
			"$id counter.TcpOutSegs -"
	done)
	syn-fin-ack fact.sent SYN+FIN+ACK
	fin-ack-listener fact.sent FIN+ACK
	$(for id in syn-fin-ack fin-ack-listener; do
		printf '%s\n' "$id fact.reply RST" "$id fact.replies 1" "$id fact.sockets_made 0" \
			"$id server.state -" "$id counter.TcpOutRsts 1"
	done)
	established server.state established
	established fact.client_state ESTABLISHED
	syn-fin-established fact.sent SYN+FIN
	syn-fin-established fact.reply ACK
	syn-fin-established fact.reply_acks_old true
	syn-fin-established counter.TcpExtTCPSYNChallenge 1
	syn-fin-established server.state established
	syn-fin-established fact.client_state ESTABLISHED
	fin-ahead fact.reply ACK
	fin-ahead fact.reply_acks_old true
	fin-ahead server.state established
	fin-ahead counter.TcpExtTCPOFOQueue 1
	fin-in-sequence fact.reply ACK
	fin-in-sequence fact.reply_acks_fin true
	fin-in-sequence server.state close-wait
	EOF
	[ "$(shell_fds $$)" = "$fd0" ]
}

@test "timewait-syn: without timestamps only a SYN above rcv_nxt replaces the TIME_WAIT; with them the timestamp decides (PAWSTimewait); ISN = snd_nxt + 65537; a rejected SYN gets an ACK of the old numbers, one per 500 ms; a client's reset ends the TIME_WAIT at tcp_rfc1337 0, not 1" {
	fd0=$(shell_fds $$)
	run_lab timewait-syn
	# the counter a timestamp rejection goes to: renamed in 2025
	paws=TcpExtPAWSEstab
	if grep -qw PAWSTimewait /proc/net/netstat; then
		paws=TcpExtPAWSTimewait
	fi
	expect timewait-syn <<-EOF
	$(for id in seq-equal seq-below; do
		printf '%s\n' "$id fact.old_timestamps false" "$id fact.reply ACK" \
			"$id fact.reply_acks_old true" "$id fact.time_waits 1" \
			"$id server.state time-wait" "$id counter.TcpOutRsts -"
	done)
	seq-equal fact.seq_minus_rcv_nxt 0
	seq-below fact.seq_minus_rcv_nxt -1000
	$(for id in seq-above ts-newer-seq-below; do
		printf '%s\n' "$id fact.reply SYN+ACK" "$id fact.isn_minus_snd_nxt 65537" \
			"$id fact.time_waits 0" "$id server.state syn-recv"
	done)
	seq-above fact.old_timestamps false
	seq-above fact.seq_minus_rcv_nxt 1000
	ts-newer-seq-below fact.old_timestamps true
	ts-newer-seq-below fact.seq_minus_rcv_nxt -1000
	ts-newer-seq-below fact.tsval_minus_last 1000
	ts-older-seq-above fact.old_timestamps true
	ts-older-seq-above fact.seq_minus_rcv_nxt 1000
	ts-older-seq-above fact.tsval_minus_last -1000
	ts-older-seq-above fact.reply ACK
	ts-older-seq-above fact.reply_acks_old true
	ts-older-seq-above server.state time-wait
	ts-older-seq-above fact.paws_counter $paws
	ts-older-seq-above counter.$paws 1
	ack-rate-limit fact.invalid_ratelimit_ms 500
	ack-rate-limit fact.acks_for_three 1
	ack-rate-limit counter.TcpExtTCPACKSkippedTimeWait 2
	ack-rate-limit fact.acks_after_limit 1
	ack-rate-limit fact.reply_acks_old true
	rfc1337-0 fact.reply ACK
	rfc1337-0 fact.client_answer RST
	rfc1337-0 fact.time_waits 0
	rfc1337-0 server.state -
	rfc1337-0 fact.syn_again SYN+ACK
	rfc1337-1 fact.reply ACK
	rfc1337-1 fact.client_answer RST
	rfc1337-1 fact.time_waits 1
	rfc1337-1 server.state time-wait
	rfc1337-1 fact.syn_again ACK
	EOF
	[ "$(shell_fds $$)" = "$fd0" ]
}

# net_view: this namespace's links and nft tables, which a scenario must not touch.
net_view() {
	ip -o link show | awk '{ print $2 }'
	nft list tables 2>/dev/null || true
}
# ns_held INODE: how many processes are in network namespace INODE. (Only
# the lab's child holds one by an fd, close-on-exec: its end ends that; a
# scan of every fd would take seconds here.)
ns_held() {
	find /proc/[0-9]*/ns/net /proc/[0-9]*/task/*/ns/net -lname "net:\[$1\]" 2>/dev/null | grep -c . || true
}

# interrupt SIGNAL: timewait-syn stopped by SIGNAL after its first step;
# neither of its namespaces (with the veth and the nft table in them) is left.
interrupt() {
	local home peer view0 child status=0
	view0=$(net_view)
	start_bg timewait-syn "$CLOSEWAIT" lab --json timewait-syn
	LAB_PID=$BG_PID
	wait_until "$(slack_ms 10000)" "grep -q '\"id\":\"seq-equal\"' '$BATS_TEST_TMPDIR/timewait-syn.log'"
	child=$(pgrep -P "$LAB_PID")
	home=$(readlink "/proc/$child/ns/net" | tr -dc 0-9)
	# the peer's namespace: held by an fd of the child
	peer=$(find "/proc/$child/fd" -lname 'net:*' -printf '%l\n' | tr -dc '0-9\n' | grep -vx "$home" | head -1)
	[ -n "$home" ]
	[ -n "$peer" ]
	kill -"$1" "$LAB_PID"
	wait "$LAB_PID" || status=$?
	LAB_PID=
	[ "$status" -eq $((128 + $(kill -l "$1"))) ]
	wait_until "$(slack_ms 2000)" "[ ! -e /proc/$child ]"
	wait_until "$(slack_ms 2000)" "[ \"\$(ns_held $home)\" -eq 0 ]"
	wait_until "$(slack_ms 2000)" "[ \"\$(ns_held $peer)\" -eq 0 ]"
	[ "$(net_view)" = "$view0" ]
}

@test "timewait-syn: SIGINT leaves neither namespace, veth nor nft table" {
	interrupt INT
}

@test "timewait-syn: SIGHUP leaves neither namespace, veth nor nft table" {
	interrupt HUP
}

@test "syn-fin: a closed pipe (lab | head -1) ends it, nothing left" {
	view0=$(net_view)
	run -0 bash -c "set -o pipefail; \"$CLOSEWAIT\" lab syn-fin | head -1; echo \"status \${PIPESTATUS[0]}\""
	[[ "${lines[0]}" == "closewait lab syn-fin: "* ]]
	[ "${lines[1]}" = "status 141" ]
	wait_until "$(slack_ms 2000)" '[ "$(pgrep -c -f "^$CLOSEWAIT lab " || true)" -eq 0 ]'
	[ "$(net_view)" = "$view0" ]
}

@test "as a user that is not root, syn-fin and timewait-syn make their veth and nft table in a user namespace and see the same" {
	if ! setpriv --reuid=65534 --regid=65534 --clear-groups unshare -Urn true 2>/dev/null; then
		skip "this kernel does not let users make user namespaces"
	fi
	for sc in syn-fin timewait-syn; do
		run_lab "$sc" setpriv --reuid=65534 --regid=65534 --clear-groups
		expect "$sc" <<-EOF
		setting user_namespace true
		setting needs_root null
		EOF
	done
	expect syn-fin <<-EOF
	syn-fin-listener fact.reply none
	syn-fin-established counter.TcpExtTCPSYNChallenge 1
	fin-in-sequence server.state close-wait
	EOF
	expect timewait-syn <<-EOF
	seq-above fact.isn_minus_snd_nxt 65537
	rfc1337-0 fact.time_waits 0
	rfc1337-1 fact.time_waits 1
	EOF
}
