#!/usr/bin/env bats
# closewait reap against real leaks, in a private network namespace.

load reap_helpers

setup() {
	FIN_TIMEOUT=$(sysctl -n net.ipv4.tcp_fin_timeout)
}

teardown() {
	kill_bg
	sysctl -qw net.ipv4.tcp_fin_timeout="$FIN_TIMEOUT"
}

# hold NAME: a fifo for a tool's stdin, held open by fd 8 (9 for a second one).
hold() {
	mkfifo "$BATS_TEST_TMPDIR/$1"
}

@test "500 CLOSE_WAIT from serve --leak: reaped within 60 s, peers to TIME_WAIT, server alive and serving, fds still open" {
	leak_server 8300
	t_leak=$(now_ms)
	run "$T/cw_clients" 127.0.0.1 8300 500 --send hello
	[ "$status" -eq 0 ]
	wait_fw2 8300 500
	[ "$(count_state close-wait "sport = :8300")" -eq 500 ]
	run "$CW" reap --pid "$leak" --yes --json
	echo "$output"
	[ "$status" -eq 0 ]
	j=$output
	# while the clients' orphaned FIN_WAIT_2 ends still existed
	[ $(( $(now_ms) - t_leak )) -lt 60000 ]
	[ "$(jq .selected <<<"$j")" -eq 500 ]
	[ "$(jq .results.clean <<<"$j")" -eq 500 ]
	[ "$(jq --argjson p "$leak" '[.sockets[] | select(.pid==$p and .result=="clean" and .end_state=="unconnected")] | length' <<<"$j")" -eq 500 ]
	# the kernel's table: none left in CLOSE_WAIT, the clients' ends went to TIME_WAIT (graceful)
	[ "$(count_state close-wait "sport = :8300")" -eq 0 ]
	[ "$(count_state time-wait "dport = :8300")" -eq 500 ]
	[ "$(count_state fin-wait-2 "dport = :8300")" -eq 0 ]
	# the fds stay open in the owner, as reported
	[ "$(jq --argjson p "$leak" '.owners_left_open[] | select(.pid==$p) | .fds_left_open' <<<"$j")" -eq 500 ]
	jq -r .message <<<"$j" | grep -q "fds stay open in pid $leak (closewait, 500 fds)"
	[ "$(fd_count "$leak")" -eq $((base + 500)) ]
	# alive, and still serving new clients
	kill -0 "$leak"
	run "$CW" client --port 8300 hello
	[ "$status" -eq 0 ]
	[[ "$output" == *HELLO* ]]
	[ "$(fd_count "$leak")" -eq $((base + 501)) ] # the seed's bug leaks that one too
}

@test "after the orphans expired (tcp_fin_timeout=1): our FIN meets an RST, reported reset; the owner's next write fails with ECONNRESET" {
	sysctl -qw net.ipv4.tcp_fin_timeout=1
	bg "$CW" serve --leak --quiet --port 8301
	leak=$LAST_PID
	hold own
	exec 8<>"$BATS_TEST_TMPDIR/own"
	"$T/cw_owner" 8302 <"$BATS_TEST_TMPDIR/own" >"$BATS_TEST_TMPDIR/own.out" &
	owner=$!
	BG_PIDS="$BG_PIDS $owner"
	wait_listen 8301
	wait_listen 8302
	base=$(fd_count "$leak")
	obase=$(fd_count "$owner")
	"$T/cw_clients" 127.0.0.1 8301 100 --send hello >/dev/null
	"$T/cw_clients" 127.0.0.1 8302 20 >/dev/null
	wait_count 100 close-wait "sport = :8301"
	wait_count 20 close-wait "sport = :8302"
	# the owner has accepted all 20 (one still in the accept queue has no owner yet)
	for i in $(seq 1 500); do [ "$(fd_count "$owner")" -eq $((obase + 20)) ] && break; sleep 0.02; done
	[ "$(fd_count "$owner")" -eq $((obase + 20)) ]
	# the clients' ends reach FIN_WAIT_2 (orphaned: a timewait socket) once the
	# server's delayed ACK of their FIN came, then expire after tcp_fin_timeout:
	# nobody is left to answer, in any state
	wait_fw2 8301 100
	wait_fw2 8302 20
	wait_count 0 all "dport = :8301"
	wait_count 0 all "dport = :8302"
	[ "$(count_state close-wait "sport = :8301")" -eq 100 ]
	run "$CW" reap --port 8301 --yes --json
	[ "$status" -eq 0 ]
	[ "$(jq .results.reset <<<"$output")" -eq 100 ]
	[ "$(jq '[.sockets[] | select(.result=="reset" and (.detail | contains("ECONNRESET")))] | length' <<<"$output")" -eq 100 ]
	run "$CW" reap --pid "$owner" --yes
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c ' reset ' <<<"$output")" -eq 20 ]
	grep -q "20 reset" <<<"$output"
	[ "$(count_state close-wait "sport = :8301")" -eq 0 ]
	[ "$(count_state close-wait "sport = :8302")" -eq 0 ]
	# the owner's next write on each fd: ECONNRESET (reap never read SO_ERROR,
	# which would have consumed it); the one after: EPIPE
	echo write >&8
	wait_line "$BATS_TEST_TMPDIR/own.out" '^done'
	[ "$(grep -c '^write [0-9]* ECONNRESET$' "$BATS_TEST_TMPDIR/own.out")" -eq 20 ]
	: >"$BATS_TEST_TMPDIR/own.out"
	echo write >&8
	wait_line "$BATS_TEST_TMPDIR/own.out" '^done'
	[ "$(grep -c '^write [0-9]* EPIPE$' "$BATS_TEST_TMPDIR/own.out")" -eq 20 ]
	kill -0 "$leak"
	[ "$(fd_count "$leak")" -eq $((base + 100)) ]
	[ "$(fd_count "$owner")" -eq $((obase + 20)) ]
	exec 8>&-
}

@test "--mode rst: gone from the table, TcpOutRsts grew by their number, a half-closed client sees ECONNRESET" {
	leak_server 8303
	"$T/cw_clients" 127.0.0.1 8303 30 --send hello >/dev/null
	hold peer
	exec 8<>"$BATS_TEST_TMPDIR/peer"
	"$T/cw_peer" 127.0.0.1 8303 5 --send hi --half-close <"$BATS_TEST_TMPDIR/peer" >"$BATS_TEST_TMPDIR/peer.out" &
	BG_PIDS="$BG_PIDS $!"
	wait_line "$BATS_TEST_TMPDIR/peer.out" '^ready'
	wait_count 35 close-wait "sport = :8303"
	before=$(out_rsts)
	run "$CW" reap --mode rst --port 8303 --yes --json
	echo "$output"
	[ "$status" -eq 0 ]
	after=$(out_rsts)
	[ "$(jq .results.destroyed <<<"$output")" -eq 35 ]
	[ $((after - before)) -eq 35 ]
	# gone from the table: only the listener is left on that port
	[ "$(ss -Htan "sport = :8303" | wc -l)" -eq 1 ]
	[ "$(count_state listening "sport = :8303")" -eq 1 ]
	echo read >&8
	wait_line "$BATS_TEST_TMPDIR/peer.out" '^done'
	[ "$(grep -c '^read [0-9]* ECONNRESET$' "$BATS_TEST_TMPDIR/peer.out")" -eq 5 ]
	kill -0 "$leak"
	[ "$(fd_count "$leak")" -eq $((base + 35)) ]
	exec 8>&-
}

@test "--older 2s touches only sockets older than 2 s; one whose age range contains 2 s is skipped with the reason" {
	bg "$CW" serve --leak --quiet --port 8304
	leak=$LAST_PID
	# a server that writes to its half-closed peers 2.5 s after their FIN: the
	# ACK of that write resets lastack, so their age becomes a range
	# [now - 2.5 s, now], which holds 2 s until 4.5 s after the FIN
	bg "$T/cw_halfpeer" 8305 3 2500
	wait_listen 8304
	wait_listen 8305
	base=$(fd_count "$leak")
	"$T/cw_clients" 127.0.0.1 8304 5 --send hello >/dev/null
	hold half
	exec 8<>"$BATS_TEST_TMPDIR/half"
	"$T/cw_clients" 127.0.0.1 8305 3 --half-close <"$BATS_TEST_TMPDIR/half" >"$BATS_TEST_TMPDIR/half.out" &
	BG_PIDS="$BG_PIDS $!"
	wait_line "$BATS_TEST_TMPDIR/half.out" '^closed'
	# until the late write happened (the ages turn into ranges): the first
	# five sockets on 8304 are then more than 2.5 s old
	for i in $(seq 1 500); do
		n=$("$CW" scan --port 8305 --state close-wait --json | jq '[.sockets[] | select(.age_exact == false)] | length')
		[ "$n" -eq 3 ] && break
		sleep 0.02
	done
	[ "$n" -eq 3 ]
	"$T/cw_clients" 127.0.0.1 8304 7 --send hello >/dev/null
	wait_count 12 close-wait "sport = :8304"
	run "$CW" reap --port 8304 --older 2s --yes --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq .results.clean <<<"$output")" -eq 5 ]
	[ "$(jq '[.sockets[] | select(.age_min >= 2)] | length' <<<"$output")" -eq 5 ]
	[ "$(count_state close-wait "sport = :8304")" -eq 7 ]
	[ "$(count_state time-wait "dport = :8304")" -eq 5 ]
	# uncertain ages are listed as skipped, with the reason, and left alone
	run "$CW" reap --port 8305 --older 2s --yes
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'age-uncertain .*may be under 2.0s (uncertain): not touched' <<<"$output")" -eq 3 ]
	grep -q "Nothing to reap: 3 selected, 3 skipped" <<<"$output"
	[ "$(count_state close-wait "sport = :8305")" -eq 3 ]
	[ "$(fd_count "$leak")" -eq $((base + 12)) ]
	exec 8>&-
}

@test "ESTABLISHED with --state established: acted on only after confirmation (--yes, or yes at the terminal prompt); LISTEN never touched" {
	leak_server 8306
	hold peer
	exec 8<>"$BATS_TEST_TMPDIR/peer"
	"$T/cw_peer" 127.0.0.1 8306 3 --send hi <"$BATS_TEST_TMPDIR/peer" >"$BATS_TEST_TMPDIR/peer.out" &
	BG_PIDS="$BG_PIDS $!"
	wait_line "$BATS_TEST_TMPDIR/peer.out" '^ready'
	read -r _ p1 p2 p3 <"$BATS_TEST_TMPDIR/peer.out"
	wait_count 3 established "sport = :8306"
	# no terminal, no --yes: the list, exit 1, nothing done
	run "$CW" reap --sport 8306 --state established </dev/null
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(grep -c '^127.0.0.1:8306 .* established .* to-reap' <<<"$output")" -eq 3 ]
	grep -q "add --yes" <<<"$output"
	# a terminal, answered "no": nothing done
	run "$T/cw_pty" "[y/N]" no "$CW" reap --sport 8306 --state established
	echo "$output"
	[ "$status" -eq 1 ]
	grep -q "Reap these 3 sockets (mode fin)?" <<<"$output"
	[ "$(count_state established "sport = :8306")" -eq 3 ]
	# a terminal, answered "yes": that one connection is ended
	run "$T/cw_pty" "[y/N]" yes "$CW" reap --sport 8306 --peer "127.0.0.1:$p1" --state established
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q "FIN acknowledged: now fin-wait-2" <<<"$output"
	[ "$(count_state established "sport = :8306")" -eq 2 ]
	[ "$(count_state fin-wait-2 "sport = :8306" "dport = :$p1")" -eq 1 ]
	# --yes
	run "$CW" reap --sport 8306 --peer "127.0.0.1:$p2" --state established --yes
	[ "$status" -eq 0 ]
	[ "$(count_state established "sport = :8306")" -eq 1 ]
	echo read >&8
	wait_line "$BATS_TEST_TMPDIR/peer.out" '^done'
	grep -q "^read $p1 eof$" "$BATS_TEST_TMPDIR/peer.out"
	grep -q "^read $p2 eof$" "$BATS_TEST_TMPDIR/peer.out"
	# LISTEN matched too: never touched, in either mode
	run "$CW" reap --sport 8306 --state established,listen --yes --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq '[.sockets[] | select(.state=="listen" and .result=="listening" and .outcome=="skipped")] | length' <<<"$output")" -eq 1 ]
	[ "$(jq .results.clean <<<"$output")" -eq 1 ]
	run "$CW" reap --mode rst --sport 8306 --state listen --yes
	[ "$status" -eq 0 ]
	grep -q "listening socket: never touched" <<<"$output"
	[ "$(count_state listening "sport = :8306")" -eq 1 ]
	run "$CW" client --port 8306 still
	[[ "$output" == *STILL* ]]
	[ "$(fd_count "$leak")" -eq $((base + 4)) ]
	exec 8>&-
}

@test "unprivileged (uid 65534) against a root-owned process: a message naming the missing right, exit 1, nothing changed" {
	leak_server 8307
	"$T/cw_clients" 127.0.0.1 8307 10 --send hello >/dev/null
	wait_count 10 close-wait "sport = :8307"
	before=$(out_rsts)
	run as_nobody "$CW" reap --pid "$leak" --yes
	echo "$output"
	[ "$status" -eq 1 ]
	grep -q "no ptrace rights over pid $leak: it runs as uid 0 (root), closewait as uid 65534" <<<"$output"
	grep -q "CAP_SYS_PTRACE" <<<"$output"
	grep -q "Nothing was changed" <<<"$output"
	# by port: its owner cannot even be seen
	run as_nobody "$CW" reap --port 8307 --yes --json
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(jq .failed <<<"$output")" -eq 10 ]
	[ "$(jq '[.sockets[] | select(.result=="owner-unknown" and (.detail | contains("uid 0 (root)")) and (.detail | contains("CAP_SYS_PTRACE")))] | length' <<<"$output")" -eq 10 ]
	# rst needs CAP_NET_ADMIN
	run as_nobody "$CW" reap --mode rst --port 8307 --yes
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(grep -c 'no-cap-net-admin .*SOCK_DESTROY needs CAP_NET_ADMIN' <<<"$output")" -eq 10 ]
	# nothing changed
	[ "$(count_state close-wait "sport = :8307")" -eq 10 ]
	[ "$(out_rsts)" -eq "$before" ]
	[ "$(fd_count "$leak")" -eq $((base + 10)) ]
}

@test "race through the test seam: a socket closed and its fd reused by a new connection is skipped and reported; the new connection is untouched" {
	hold own
	exec 8<>"$BATS_TEST_TMPDIR/own"
	"$T/cw_owner" 8308 <"$BATS_TEST_TMPDIR/own" >"$BATS_TEST_TMPDIR/own.out" &
	owner=$!
	BG_PIDS="$BG_PIDS $owner"
	wait_listen 8308
	obase=$(fd_count "$owner")
	"$T/cw_clients" 127.0.0.1 8308 3 >/dev/null
	wait_count 3 close-wait "sport = :8308"
	wait_line "$BATS_TEST_TMPDIR/own.out" '^accepted'
	read -r x y z <<<"$(awk '/^accepted/ { print $2 }' "$BATS_TEST_TMPDIR/own.out" | tr '\n' ' ')"
	[ -n "$z" ]
	old_x=$(readlink "/proc/$owner/fd/$x")
	# reap selects the three, then pauses before acting on the first (fd x)
	CW_REAP_PAUSE="$BATS_TEST_TMPDIR/seam" "$T/cw_reap_seam" reap --pid "$owner" --yes --json \
		>"$BATS_TEST_TMPDIR/reap.json" &
	reap_pid=$!
	for i in $(seq 1 500); do [ -e "$BATS_TEST_TMPDIR/seam.paused" ] && break; sleep 0.02; done
	[ -e "$BATS_TEST_TMPDIR/seam.paused" ]
	# meanwhile the owner closes fd x, a new connection lands on that number
	# (in CLOSE_WAIT too: only the inode tells them apart), and fd y is closed
	echo "close $x" >&8
	wait_line "$BATS_TEST_TMPDIR/own.out" "^closed $x\$"
	"$T/cw_clients" 127.0.0.1 8308 1 >/dev/null
	wait_line "$BATS_TEST_TMPDIR/own.out" "^accepted $x\$"
	new_x=$(readlink "/proc/$owner/fd/$x")
	[ "$new_x" != "$old_x" ]
	echo "close $y" >&8
	wait_line "$BATS_TEST_TMPDIR/own.out" "^closed $y\$"
	wait_count 2 close-wait "sport = :8308"
	touch "$BATS_TEST_TMPDIR/seam.go"
	wait "$reap_pid"
	j=$(cat "$BATS_TEST_TMPDIR/reap.json")
	echo "$j"
	[ "$(jq --argjson fd "$x" '.sockets[] | select(.fd==$fd) | .result' <<<"$j")" = '"replaced"' ]
	jq -r --argjson fd "$x" '.sockets[] | select(.fd==$fd) | .detail' <<<"$j" | grep -q "fd $x now holds another socket"
	[ "$(jq --argjson fd "$y" '.sockets[] | select(.fd==$fd) | .result' <<<"$j")" = '"gone"' ]
	[ "$(jq --argjson fd "$z" '.sockets[] | select(.fd==$fd) | .result' <<<"$j")" = '"clean"' ]
	[ "$(jq .failed <<<"$j")" -eq 0 ]
	# the new connection is untouched: still CLOSE_WAIT on fd x, its peer still in FIN_WAIT_2
	[ "$(readlink "/proc/$owner/fd/$x")" = "$new_x" ]
	[ "$(count_state close-wait "sport = :8308")" -eq 1 ]
	ino=$(ss -Htane state close-wait "sport = :8308" | grep -o 'ino:[0-9]*' | cut -d: -f2)
	[ "socket:[$ino]" = "$new_x" ]
	peer=$(ss -Htan state close-wait "sport = :8308" | awk '{ print $4 }')
	[ "$(ss -Htan state fin-wait-1 state fin-wait-2 "src = $peer" | wc -l)" -eq 1 ]
	[ "$(fd_count "$owner")" -eq $((obase + 2)) ]
	exec 8>&-
}

@test "--dry-run lists and does nothing; usage errors exit 2; an unknown pid exits 1" {
	leak_server 8309
	"$T/cw_clients" 127.0.0.1 8309 4 --send hello >/dev/null
	wait_count 4 close-wait "sport = :8309"
	run "$CW" reap --pid "$leak" --dry-run
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c ' to-reap ' <<<"$output")" -eq 4 ]
	grep -q "Dry run: 4 sockets to reap (mode fin)" <<<"$output"
	[ "$(count_state close-wait "sport = :8309")" -eq 4 ]
	run "$CW" reap --yes
	[ "$status" -eq 2 ]
	grep -q "too broad" <<<"$output"
	run "$CW" reap --state close-wait --older 5s --yes
	[ "$status" -eq 2 ]
	run "$CW" reap --port 8309 --mode kill
	[ "$status" -eq 2 ]
	grep -q -- "--mode: unknown mode" <<<"$output"
	run "$CW" reap --port 8309 --wait soon
	[ "$status" -eq 2 ]
	run "$CW" reap --port 8309 --state closewait
	[ "$status" -eq 2 ]
	run "$CW" reap --peer nowhere
	[ "$status" -eq 2 ]
	run "$CW" reap --pid 2147483647 --yes
	[ "$status" -eq 1 ]
	grep -q "no such process" <<<"$output"
	run "$CW" reap --help
	[ "$status" -eq 0 ]
	grep -q -- "--mode fin" <<<"$output"
	[ "$(count_state close-wait "sport = :8309")" -eq 4 ]
	[ "$(fd_count "$leak")" -eq $((base + 4)) ]
}
