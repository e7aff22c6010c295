#!/usr/bin/env bats
# closewait watch, not on a terminal: one line per interval. TIMING: the
# verdicts depend on what happens between censuses taken 1 s apart.

load census_helpers

teardown() { kill_bg; }

@test "a growing leak is called leaking within 3 intervals" {
	leak_server 8200
	# 5 more leaked sockets every 0.5 s for 8 s (or until told to stop)
	stop=$BATS_TEST_TMPDIR/stop
	bg sh -c "for i in \$(seq 1 16); do [ -e '$stop' ] && break; '$T/cw_clients' 127.0.0.1 8200 5 --send hi >/dev/null; sleep 0.5; done"
	clients=$LAST_PID
	sleep 0.3
	# the clock starts at watch's first census; lines 1-3 span 2 intervals
	run "$CW" watch --interval 1s --count 3
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	echo "${lines[2]}" | grep -q "closewait\[$leak\] close-wait=[0-9]* growth=+[0-9.]*/min oldest=[^ ]* verdict=leaking"
	touch "$stop"
	wait "$clients"
	# the server holds one fd per leaked socket and nothing else
	n=$(count_state close-wait "( sport = :8200 )")
	echo "leaked $n"
	((n >= 15 && n % 5 == 0))
	wait_fds "$leak" $((base + n))
}

@test "a flat leak with old sockets is stuck, never leaking; --json lines" {
	leak_server 8201
	"$T/cw_clients" 127.0.0.1 8201 20 --send hi >/dev/null
	sleep 2.5
	run "$CW" watch --interval 1s --stuck-after 2s --count 3
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c "closewait\[$leak\] close-wait=20 growth=+0.0/min oldest=[^ ]* verdict=stuck")" -eq 3 ]
	run "$CW" watch --interval 500ms --stuck-after 2s --count 2 --json
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	echo "${lines[1]}" | jq -e --argjson p "$leak" '.processes[] | select(.pid==$p) | .close_wait==20 and .verdict=="stuck" and .oldest_min>=2'
	wait_fds "$leak" $((base + 20))
}

@test "a healthy server under churn is never leaking or stuck, and its fds come back" {
	bg "$CW" serve --quiet --port 8202
	srv=$LAST_PID
	wait_listen 8202
	base=$(fd_count "$srv")
	bg "$T/cw_churn" 127.0.0.1 8202 50 5
	churn=$LAST_PID
	run "$CW" watch --interval 1s --count 4
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	[ "$(grep -cE 'verdict=(leaking|stuck)' <<<"$output")" -eq 0 ]
	wait "$churn"
	wait_fds "$srv" "$base"
}

# A server that closes each connection 300 ms after its peer did: cw_owner
# (commands on fd 8, its output in $OWN) told to close what it accepted.
owner_close() {
	local before
	before=$(grep -c "^closed $1\$" "$OWN" || true)
	echo "close $1" >&8
	wait_until "$(slack_ms 2000)" "[ \"\$(grep -c '^closed $1\$' '$OWN')\" -gt $before ]"
}
# slow_closer PORT: 3 clients connect and close; 300 ms later the owner
# closes them; again, until $BATS_TEST_TMPDIR/stop exists.
slow_closer() {
	local seen=0 n fd
	sleep 0.5 # after watch's first census: the owner had no CLOSE_WAIT then
	while [ ! -e "$BATS_TEST_TMPDIR/stop" ]; do
		"$T/cw_clients" 127.0.0.1 "$1" 3 >/dev/null
		sleep 0.3
		n=$(wc -l <"$OWN")
		for fd in $(sed -n "$((seen + 1)),${n}p" "$OWN" | awk '/^accepted/ { print $2 }'); do
			owner_close "$fd"
		done
		seen=$n
	done
}

@test "a server that holds each CLOSE_WAIT for 300 ms is ok at every census, never leaking or stuck" {
	OWN=$BATS_TEST_TMPDIR/own.out
	mkfifo "$BATS_TEST_TMPDIR/own"
	exec 8<>"$BATS_TEST_TMPDIR/own"
	"$T/cw_owner" 8203 <"$BATS_TEST_TMPDIR/own" >"$OWN" &
	owner=$!
	BG_PIDS="${BG_PIDS:-} $owner"
	wait_listen 8203
	obase=$(fd_count "$owner")
	bg slow_closer 8203
	closer=$LAST_PID
	# 5 censuses 1 s apart: a socket held 300 ms is in one of them at most,
	# and is far younger than --stuck-after
	run "$CW" watch --interval 1s --stuck-after 2s --count 5
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 5 ]
	# the owner held CLOSE_WAIT sockets at (nearly) every census...
	seen=$(grep -c "cw_owner\[$owner\] close-wait=[1-9][0-9]* " <<<"$output" || true)
	((seen >= 3))
	# ...and each of those lines calls it ok (a socket closed between the
	# census's dump and its owner walk shows as an "(unknown)" group after it)
	[ "$(grep -cE "cw_owner\[$owner\] close-wait=[1-9][0-9]* growth=[-+][0-9.]*/min oldest=[^ ]* verdict=ok( \||$)" <<<"$output")" -eq "$seen" ]
	[ "$(grep -cE 'verdict=(leaking|stuck)' <<<"$output")" -eq 0 ]
	touch "$BATS_TEST_TMPDIR/stop"
	wait "$closer"
	[ "$(count_state close-wait "( sport = :8203 )")" -eq 0 ]
	wait_fds "$owner" "$obase"
	exec 8>&-
}
