#!/usr/bin/env bats
# closewait export while processes come and go: 100 processes (cwt-crowd
# --churn), each with a CLOSE_WAIT socket, each replaced by a new one after
# 100-200 ms, so every census meets processes that exit while their fds are
# read. Scrapes take a census each (--min-interval 0). Timing: each scrape
# must answer within 1 s (times CW_TEST_SLACK); the clock of each starts
# when curl connects.

load prom_fixture

N=100
ROUNDS=150

setup_file() {
	prom_init
	local port
	port=$(prom_port 8700)
	prom_bg crowd "$port" "$T/cwt-crowd" "$port" "$N" cwc- --churn 200
	wait_until "$(slack_ms 20000)" "grep -qx ready '$PROM_DIR/crowd.log'"
}

teardown_file() { prom_stop_all; }

@test "$ROUNDS scrapes while processes exit and start: every one 200 within 1 s, up, no census error, each self-consistent; the exporter's fds back to their baseline" {
	local i code t m=$BATS_TEST_TMPDIR/m.prom
	exp_start "$(prom_port 19848)" --min-interval 0 --by process
	base_exp=$(fd_count "$EXP_PID")
	births0=$(awk '/^processes/ { print $2 }' /proc/stat)
	for i in $(seq "$ROUNDS"); do
		read -r code t < <(curl -sS --max-time 5 -o "$m" -w '%{http_code} %{time_total}\n' "$EXP_URL/metrics")
		if [ "$code" != 200 ]; then
			echo "scrape $i: HTTP $code" >&2
			return 1
		fi
		if [ "$(awk -v t="$t" -v lim="$(slack_ms 1000)" 'BEGIN { print (t * 1000 <= lim) }')" -ne 1 ]; then
			echo "scrape $i took $t s" >&2
			return 1
		fi
		[ "$(sample "$m" closewait_up)" = 1 ]
		[ "$(sample "$m" closewait_census_errors_total kind=census)" = 0 ]
		# one census: the groups' CLOSE_WAIT (named, other, no owner) add up
		# to the CLOSE_WAIT sockets by state
		total=$(sample "$m" closewait_sockets state=close_wait)
		grouped=$(series "$m" closewait_close_wait_sockets | awk '{ s += $2 } END { print s + 0 }')
		if [ "$grouped" -ne "$total" ]; then
			echo "scrape $i: groups hold $grouped CLOSE_WAIT, the states $total" >&2
			cat "$m" >&2
			return 1
		fi
	done
	# the crowd did churn meanwhile: more processes were born than it holds
	births=$(($(awk '/^processes/ { print $2 }' /proc/stat) - births0))
	echo "processes started during the scrapes: $births; last scrape: $total CLOSE_WAIT" >&2
	[ "$births" -gt "$N" ]
	# and it is still whole: the leaks are there to be counted
	[ "$total" -gt 0 ]
	run "$CW" scan --json --comm cwc-
	[ "$status" -le 1 ]
	wait_fds "$EXP_PID" "$base_exp"
	prom_alive "$EXP_PID"
}

@test "the fixture leaves nothing behind" {
	prom_stop_all
	prom_check_gone
}
