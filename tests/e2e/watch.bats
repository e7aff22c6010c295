#!/usr/bin/env bats
# closewait watch, not on a terminal: one line per interval. TIMING: the
# verdicts depend on what happens between censuses taken 1 s apart.

load census_helpers

teardown() { kill_bg; }

@test "a growing leak is called leaking within 3 intervals" {
	bg "$CW" serve --leak --quiet --port 8200
	leak=$LAST_PID
	wait_listen 8200
	# 5 more leaked sockets every 0.5 s for 8 s
	bg sh -c "for i in \$(seq 1 16); do '$T/cw_clients' 127.0.0.1 8200 5 --send hi >/dev/null; sleep 0.5; done"
	sleep 0.3
	# the clock starts at watch's first census; lines 1-3 span 2 intervals
	run "$CW" watch --interval 1s --count 3
	[ "$status" -eq 0 ]
	echo "$output"
	[ "${#lines[@]}" -eq 3 ]
	echo "${lines[2]}" | grep -q "closewait\[$leak\] close-wait=[0-9]* growth=+[0-9.]*/min oldest=[^ ]* verdict=leaking"
}

@test "a flat leak with old sockets is stuck, never leaking; --json lines" {
	bg "$CW" serve --leak --quiet --port 8201
	leak=$LAST_PID
	wait_listen 8201
	"$T/cw_clients" 127.0.0.1 8201 20 --send hi >/dev/null
	sleep 2.5
	run "$CW" watch --interval 1s --stuck-after 2s --count 3
	[ "$status" -eq 0 ]
	echo "$output"
	[ "$(echo "$output" | grep -c "closewait\[$leak\] close-wait=20 growth=+0.0/min oldest=[^ ]* verdict=stuck")" -eq 3 ]
	run "$CW" watch --interval 500ms --stuck-after 2s --count 2 --json
	[ "${#lines[@]}" -eq 2 ]
	echo "${lines[1]}" | jq -e --argjson p "$leak" '.processes[] | select(.pid==$p) | .close_wait==20 and .verdict=="stuck" and .oldest_min>=2'
}

@test "a healthy server under churn is ok, and its fds come back" {
	bg "$CW" serve --quiet --port 8202
	srv=$LAST_PID
	wait_listen 8202
	base=$(fd_count "$srv")
	bg "$T/cw_churn" 127.0.0.1 8202 50 5
	churn=$LAST_PID
	run "$CW" watch --interval 1s --count 4
	[ "$status" -eq 0 ]
	echo "$output"
	! echo "$output" | grep -q "verdict=leaking"
	! echo "$output" | grep -q "verdict=stuck"
	wait "$churn"
	for i in $(seq 1 100); do [ "$(fd_count "$srv")" -eq "$base" ] && break; sleep 0.02; done
	[ "$(fd_count "$srv")" -eq "$base" ]
}
