#!/usr/bin/env bats
# Options of scan and reap run with valid values, their effect observed:
# scan --all-owners on a socket two processes hold, and reap --wait against
# a peer whose answers an nft rule drops (this namespace only).

bats_require_minimum_version 1.5.0

load lib

teardown() {
	nft delete table inet cwt_beh 2>/dev/null || true
	for p in ${PIDS:-}; do kill -KILL "$p" 2>/dev/null || true; done
}

# drop_port PORT: drops every packet to or from PORT on the input hook (both
# directions pass it on loopback): that connection's peer looks vanished.
drop_port() {
	nft add table inet cwt_beh
	nft add chain inet cwt_beh input '{ type filter hook input priority -100; }'
	nft add rule inet cwt_beh input tcp sport "$1" drop
	nft add rule inet cwt_beh input tcp dport "$1" drop
}

# leak_one PORT: `serve --leak` on PORT and one client that talked and closed,
# so the server holds one CLOSE_WAIT socket; sets LEAK (its pid), BASE (its
# fds before the client) and CPORT (the client's port).
leak_one() {
	start_bg leak "$CLOSEWAIT" serve --leak --quiet --port "$1"
	LEAK=$BG_PID
	PIDS="${PIDS:-} $LEAK"
	wait_listen "$1"
	BASE=$(fd_count "$LEAK")
	run "$CW_TOOLS/cw_clients" 127.0.0.1 "$1" 1 --send hello
	[ "$status" -eq 0 ]
	wait_until "$(slack_ms 2000)" "[ \"\$(count_state fin-wait-2 '( dport = :$1 )')\" -eq 1 ]"
	[ "$(count_state close-wait "( sport = :$1 )")" -eq 1 ]
	CPORT=$(ss -Htan state close-wait "( sport = :$1 )" | awk '{ print $4 }' | sed 's/.*://')
	[ -n "$CPORT" ]
	[ "$(fd_count "$LEAK")" -eq $((BASE + 1)) ]
}

@test "scan --all-owners: a socket two processes hold lists both owners; without it, the first owner found only" {
	mkfifo "$BATS_TEST_TMPDIR/share"
	exec 8<>"$BATS_TEST_TMPDIR/share"
	"$CW_TOOLS/cwt-share" 8500 <"$BATS_TEST_TMPDIR/share" >"$BATS_TEST_TMPDIR/share.out" 8>&- 3>&- &
	share=$!
	PIDS="${PIDS:-} $share"
	wait_until "$(slack_ms 5000)" "grep -q '^shared' '$BATS_TEST_TMPDIR/share.out'"
	read -r _ ppid pfd cpid cfd <"$BATS_TEST_TMPDIR/share.out"
	# the kernel's view: one socket on the port, behind an fd in each process
	[ "$(count_state established "( sport = :8500 )")" -eq 1 ]
	ino=$(ss -Htane state established "( sport = :8500 )" | grep -o 'ino:[0-9]*' | cut -d: -f2)
	[ "$(readlink "/proc/$ppid/fd/$pfd")" = "socket:[$ino]" ]
	[ "$(readlink "/proc/$cpid/fd/$cfd")" = "socket:[$ino]" ]
	run "$CLOSEWAIT" scan --state established --sport 8500 --all-owners --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq '.sockets | length' <<<"$output")" -eq 1 ]
	[ "$(jq -c '[.sockets[0].owners[] | [.pid, .fd]] | sort' <<<"$output")" = "[[$ppid,$pfd],[$cpid,$cfd]]" ]
	# Without it the walk of /proc stops once every socket has an owner. The
	# child holds its copy behind 4000 other fds, so the walk finds the
	# parent's first whichever reader takes which process.
	run "$CLOSEWAIT" scan --state established --sport 8500 --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq '.sockets | length' <<<"$output")" -eq 1 ]
	[ "$(jq -c '[.sockets[0].owners[] | [.pid, .fd]]' <<<"$output")" = "[[$ppid,$pfd]]" ]
	exec 8>&-
	wait "$share"
}

@test "reap --wait 300ms: a FIN the peer never answers is reported fin-sent once the wait is up, and not before" {
	leak_one 8501
	drop_port "$CPORT"
	# the clock starts before reap does; its own start and census take a few ms
	t0=$(date +%s%3N)
	run "$CLOSEWAIT" reap --pid "$LEAK" --yes --wait 300ms --json
	t1=$(date +%s%3N)
	echo "$output"
	echo "reap took $((t1 - t0)) ms"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.sockets[0].result' <<<"$output")" = fin-sent ]
	[ "$(jq -r '.sockets[0].end_state' <<<"$output")" = last-ack ]
	[ $((t1 - t0)) -ge 300 ]
	[ $((t1 - t0)) -le $((300 + $(slack_ms 200))) ]
	# the kernel's view: our FIN still unanswered; the owner's fd stays
	[ "$(count_state last-ack "( sport = :8501 )")" -eq 1 ]
	[ "$(fd_count "$LEAK")" -eq $((BASE + 1)) ]
}

@test "reap --wait 4s: a FIN answered only once the drop ends, 1.2 s after it went out, is reported clean" {
	leak_one 8502
	drop_port "$CPORT"
	start_bg reap "$CLOSEWAIT" reap --pid "$LEAK" --yes --wait 4s --json
	reap=$BG_PID
	PIDS="${PIDS:-} $reap"
	# our FIN is out: the socket left CLOSE_WAIT for LAST_ACK; the clock starts
	wait_until "$(slack_ms 3000)" "[ \"\$(count_state last-ack '( sport = :8502 )')\" -eq 1 ]"
	t_fin=$(date +%s%3N)
	sleep 1.2 # past the default wait (1 s): a stated pause, the point of the test
	nft delete table inet cwt_beh
	wait "$reap" && rc=0 || rc=$?
	t_end=$(date +%s%3N)
	cat "$BATS_TEST_TMPDIR/reap.log"
	echo "reap ended $((t_end - t_fin)) ms after its FIN went out"
	[ "$rc" -eq 0 ]
	[ "$(jq -r '.sockets[0].result' "$BATS_TEST_TMPDIR/reap.log")" = clean ]
	[ "$(jq -r '.sockets[0].end_state' "$BATS_TEST_TMPDIR/reap.log")" = unconnected ]
	# answered after the drop ended: later than the default wait would have waited
	[ $((t_end - t_fin)) -ge 1200 ]
	# the kernel's view: the pair is closed, the client's end in TIME_WAIT
	[ "$(count_state last-ack "( sport = :8502 )")" -eq 0 ]
	[ "$(count_state time-wait "( dport = :8502 )")" -eq 1 ]
	[ "$(fd_count "$LEAK")" -eq $((BASE + 1)) ]
}
