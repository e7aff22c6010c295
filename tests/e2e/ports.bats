#!/usr/bin/env bats
# closewait ports against real port exhaustion (S16-S18). Each scenario runs
# in its own fresh namespace (ports_scenarios.sh), with 1000 ephemeral ports.
# TIMING: a client paced at 100 connections/s for 10-15 s.

load census_helpers

scenario() {
	run "$CW_SRC/scripts/netns-run" bash "$BATS_TEST_DIRNAME/ports_scenarios.sh" "$1"
	echo "$output"
	[ "$status" -eq 0 ]
	for l in "${lines[@]}"; do
		if [[ $l =~ ^([a-z_]+)=([^ ]*)$ ]]; then
			eval "r_${BASH_REMATCH[1]}='${BASH_REMATCH[2]}'"
		fi
	done
}

@test "tcp_tw_reuse=0, 1000 ports: predicts 16.7/s; first EADDRNOTAVAIL at 100/s when ports --rate said (+-20%)" {
	scenario exhaust
	[ "$r_usable" -eq 1000 ]
	[ "$r_reuse" = false ]
	awk -v r="$r_rate_max" 'BEGIN { exit !(r >= 16.6 && r <= 16.7) }'   # 1000 ports / 60 s
	awk -v w="$r_what_if" 'BEGIN { exit !(w > 9.9 && w < 10.1) }'     # 1000 ports / 100/s
	[ -n "${r_eaddrnotavail:-}" ]
	# the client's first failure, in ms since its first connect
	awk -v t="$r_eaddrnotavail" -v w="$r_what_if" 'BEGIN { exit !(t >= 800 * w && t <= 1200 * w) }'
	# the current rate, estimated from the TIME_WAIT left behind
	awk -v r="$r_rate_now" 'BEGIN { exit !(r > 80 && r < 120) }'
	[ "$r_time_wait" -ge 990 ]
	[ "$r_server_fds_back" = yes ]
}

@test "tcp_tw_reuse=2 on loopback: predicts reuse; the same client never fails" {
	scenario reuse
	[ "$r_reuse" = true ]
	[ "$r_what_if" = null ]   # never
	[ "$r_ok" -eq 1500 ]
	[ -z "${r_eaddrnotavail:-}" ]
	[ "$r_server_fds_back" = yes ]
}

@test "S17: the same rate over one keep-alive connection: no TIME_WAIT growth, no failure" {
	scenario keepalive
	[ "$r_ok" -eq 1000 ]
	[ "$r_time_wait" -le 1 ]   # the one connection's own close, after the run
	[ "$r_server_fds_back" = yes ]
}
