#!/usr/bin/env bats
# closewait export under 100 concurrent scrapes (curl, in parallel) while a
# server holds 50 CLOSE_WAIT sockets. Timing: each scrape must answer within
# 1 s (times CW_TEST_SLACK).

load prom_fixture

setup_file() { prom_init; }
teardown() {
	kill_bg
	prom_stop_all
}

# burst N OUT: N concurrent GET /metrics (one curl, N transfers in
# parallel, each connection opened at once), "CODE SECONDS" per line in OUT
# (000 for a scrape that got no answer).
burst() {
	local i args=()
	for i in $(seq "$1"); do args+=(-o /dev/null "$EXP_URL/metrics"); done
	curl -sS --parallel --parallel-immediate --parallel-max "$1" --max-time 10 \
		-w '%{http_code} %{time_total}\n' "${args[@]}" >"$2" 2>>"$BATS_TEST_TMPDIR/curl.err" || true
}

@test "100 concurrent scrapes: every one 200 within 1 s; the exporter's fds back to their baseline, its RSS within 8 MiB of its RSS after the first scrape" {
	leak_server 8100
	"$T/cw_clients" 127.0.0.1 8100 50 --send hello >/dev/null
	wait_fw2 8100 50
	# RSS is the allocator's: under ASan, freed memory waits in its
	# quarantine (256 MiB); without it, ASan's RSS follows what is in use.
	# A build without ASan ignores the variable.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0 \
		exp_start "$(prom_port 19848)"
	base_exp=$(fd_count "$EXP_PID") # before any scrape
	exp_scrape "$BATS_TEST_TMPDIR/first.prom"
	rss1=$(rss_kib "$EXP_PID")
	burst 100 "$BATS_TEST_TMPDIR/burst"
	cut -d' ' -f1 "$BATS_TEST_TMPDIR/burst" | sort | uniq -c >&2
	[ "$(wc -l <"$BATS_TEST_TMPDIR/burst")" -eq 100 ]
	[ "$(grep -c '^200 ' "$BATS_TEST_TMPDIR/burst")" -eq 100 ]
	slowest=$(awk '{ if ($2 > m) m = $2 } END { printf "%d", m * 1000 }' "$BATS_TEST_TMPDIR/burst")
	echo "slowest scrape: $slowest ms" >&2
	[ "$slowest" -le "$(slack_ms 1000)" ]
	wait_fds "$EXP_PID" "$base_exp"
	rss2=$(rss_kib "$EXP_PID")
	echo "RSS after the first scrape $rss1 KiB, after the burst $rss2 KiB" >&2
	[ "$rss2" -le $((rss1 + 8192)) ]
	# 50 more rounds, each a census of its own for the first scrape that
	# finds the cache older than --min-interval: RSS stays within 8 MiB
	for i in $(seq 50); do burst 100 "$BATS_TEST_TMPDIR/round"; done
	rss3=$(rss_kib "$EXP_PID")
	echo "RSS after 50 more rounds: $rss3 KiB" >&2
	[ "$rss3" -le $((rss1 + 8192)) ]
	wait_fds "$EXP_PID" "$base_exp"
	# the scrapes still have the leak right
	exp_scrape "$BATS_TEST_TMPDIR/last.prom"
	[ "$(series "$BATS_TEST_TMPDIR/last.prom" closewait_close_wait_sockets | grep -cF "command=\"closewait\"} 50")" -eq 1 ]
	wait_fds "$leak" $((base + 50))
}
