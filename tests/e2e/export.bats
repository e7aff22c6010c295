#!/usr/bin/env bats
# closewait export without Prometheus: the exposition promtool checks, the
# HTTP routes, and the textfile that node_exporter (a plain process of this
# file's network namespace, never the system service) reads.

load prom_fixture

setup_file() { prom_init; }
teardown() {
	kill_bg
	prom_stop_all
}

# A command name that needs every escape of a label value: a quote, a
# backslash, a newline.
ODD=$'cw"q\\\nx'
ODD_LABEL='command="cw\"q\\\nx"'

@test "promtool check metrics on GET /metrics: exit 0, nothing said (a command name with \\\", \\\\ and a newline among the labels)" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	ln -s "$CW" "$BATS_TEST_TMPDIR/bin/$ODD"
	bg "$BATS_TEST_TMPDIR/bin/$ODD" serve --leak --quiet --port 8101
	odd=$LAST_PID
	wait_listen 8101
	leak_server 8100
	"$T/cw_clients" 127.0.0.1 8100 3 --send hello >/dev/null
	"$T/cw_clients" 127.0.0.1 8101 2 --send hello >/dev/null
	wait_fw2 8100 3
	wait_fw2 8101 2
	exp_start "$(prom_port 19848)"
	base_exp=$(fd_count "$EXP_PID") # before any scrape
	exp_scrape "$BATS_TEST_TMPDIR/m.prom"
	m=$BATS_TEST_TMPDIR/m.prom
	run promtool check metrics <"$m"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# the exposition holds what promtool checked: both servers' groups, the odd name escaped
	[ "$(series "$m" closewait_close_wait_sockets | grep -cF "$ODD_LABEL} 2")" -eq 1 ]
	[ "$(series "$m" closewait_close_wait_sockets | grep -cF 'command="closewait"} 3')" -eq 1 ]
	[ "$(series "$m" closewait_close_wait_why_sockets | grep -cF "$ODD_LABEL,why=\"never-read\"} 2")" -eq 1 ]
	[ "$(series "$m" closewait_up)" = "closewait_up 1" ]
	# every family has its HELP and TYPE
	[ "$(grep -c '^# HELP closewait_' "$m")" -eq "$(grep -c '^# TYPE closewait_' "$m")" ]
	[ "$(grep -c '^# TYPE closewait_' "$m")" -ge 14 ]
	# and a second scrape, one census later, passes too
	sleep 1.1 # past --min-interval (1 s): a census of its own
	exp_scrape "$BATS_TEST_TMPDIR/m2.prom"
	run promtool check metrics <"$BATS_TEST_TMPDIR/m2.prom"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	wait_fds "$EXP_PID" "$base_exp"
	wait_fds "$leak" $((base + 3))
}

@test "GET / is an HTML page linking to /metrics; GET /nope is 404" {
	exp_start "$(prom_port 19848)"
	base_exp=$(fd_count "$EXP_PID") # before any request
	run curl -sS --max-time 5 -o "$BATS_TEST_TMPDIR/index.html" -w '%{http_code} %{content_type}' "$EXP_URL/"
	[ "$status" -eq 0 ]
	[[ "$output" == "200 text/html"* ]]
	grep -q '<a href="/metrics">' "$BATS_TEST_TMPDIR/index.html"
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$EXP_URL/nope"
	[ "$status" -eq 0 ]
	[ "$output" = 404 ]
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$EXP_URL/metrics/"
	[ "$status" -eq 0 ]
	[ "$output" = 404 ]
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code} %{content_type}' "$EXP_URL/metrics"
	[ "$status" -eq 0 ]
	[ "$output" = "200 text/plain; version=0.0.4; charset=utf-8" ]
	wait_fds "$EXP_PID" "$base_exp"
}

@test "textfile: --once writes DIR/closewait.prom (readable by all, no temporary file left), and node_exporter serves its series" {
	leak_server 8100
	"$T/cw_clients" 127.0.0.1 8100 7 --send hello >/dev/null
	wait_fw2 8100 7
	dir=$BATS_TEST_TMPDIR/textfile
	mkdir "$dir"
	run "$CW" export --textfile "$dir" --once --by process
	[ "$status" -eq 0 ]
	[ "$(ls -A "$dir")" = closewait.prom ]
	[ "$(stat -c %a "$dir/closewait.prom")" = 644 ]
	run promtool check metrics <"$dir/closewait.prom"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	nodex_start "$dir"
	run prom_get "$NODEX_URL/metrics"
	[ "$status" -eq 0 ]
	grep -Fx "closewait_close_wait_sockets{command=\"closewait\",owner=\"process\",pid=\"$leak\"} 7" <<<"$output"
	grep -Fx 'closewait_up 1' <<<"$output"
	grep -Fx 'node_textfile_scrape_error 0' <<<"$output"
	grep -F "node_textfile_mtime_seconds{file=\"$dir/closewait.prom\"}" <<<"$output"
	wait_fds "$leak" $((base + 7))
	prom_stop "$NODEX_PID"
	prom_check_gone
}

@test "textfile every --interval 1s, no HTTP: node_exporter sees the count change; only closewait.prom in DIR" {
	leak_server 8100
	dir=$BATS_TEST_TMPDIR/textfile
	mkdir "$dir"
	bg "$CW" export --textfile "$dir" --interval 1s --by process
	exp=$LAST_PID
	wait_until "$(slack_ms 5000)" "[ -s '$dir/closewait.prom' ]"
	nodex_start "$dir"
	line="closewait_close_wait_sockets{command=\"closewait\",owner=\"process\",pid=\"$leak\"}"
	wait_until "$(slack_ms 5000)" "prom_get '$NODEX_URL/metrics' | grep -Fx '$line 0'"
	"$T/cw_clients" 127.0.0.1 8100 4 --send hello >/dev/null
	wait_fw2 8100 4
	t0=$(now_ms)
	wait_until "$(slack_ms 5000)" "prom_get '$NODEX_URL/metrics' | grep -Fx '$line 4'"
	echo "seen after $(($(now_ms) - t0)) ms" >&2
	# the exporter opened no listener
	[ "$(ss -Htlnp | grep -c "pid=$exp,")" -eq 0 ]
	[ "$(ls -A "$dir")" = closewait.prom ]
	wait_fds "$leak" $((base + 4))
	prom_stop "$NODEX_PID"
	prom_check_gone
}
