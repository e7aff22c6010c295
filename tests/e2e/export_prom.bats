#!/usr/bin/env bats
# closewait export scraped by a real Prometheus (a plain process of this
# file's network namespace, never the system service) every second; every
# figure is read back through Prometheus's HTTP API. The scrape job adds the
# target label namespace="team-a", as a Kubernetes scrape config does.
# Started once in setup_file: Prometheus's first scrape is queryable only
# 5-6 s after it starts.

load prom_fixture

setup_file() {
	prom_init
	export EXP_PORT EXP_PID EXP_BASE
	EXP_PORT=$(prom_port 19848)
	exp_start "$EXP_PORT" --by process
	# before any scrape: every scrape's connection must be closed once answered
	EXP_BASE=$(fd_count "$EXP_PID")
	prom_start "$EXP_PORT"
	# the harness works: a first scrape went through
	prom_wait_value 'closewait_up{job="closewait"}' 1
}

teardown() { kill_bg; }
teardown_file() { prom_stop_all; }

@test "serve --leak leaks 50: Prometheus's query says 50; after reap, 0 (the group's series stays while the server lives)" {
	leak_server 8100
	q="closewait_close_wait_sockets{pid=\"$leak\"}"
	# before the leak: the server's group is there (it listens), at 0
	prom_wait_value "$q" 0
	run "$T/cw_clients" 127.0.0.1 8100 50 --send hello
	[ "$status" -eq 0 ]
	wait_fw2 8100 50
	[ "$(count_state close-wait "sport = :8100")" -eq 50 ]
	[ "$(fd_count "$leak")" -eq $((base + 50)) ]
	prom_wait_value "$q" 50
	# the age of the oldest: there, and above 0 (the lower bound of its range)
	prom_wait_value "closewait_close_wait_oldest_min_age_seconds{pid=\"$leak\"} > bool 0" 1
	run "$CW" reap --pid "$leak" --yes
	[ "$status" -eq 0 ]
	[ "$(count_state close-wait "sport = :8100")" -eq 0 ]
	# reap shuts the sockets down; the fds stay the server's until it closes them
	[ "$(fd_count "$leak")" -eq $((base + 50)) ]
	prom_wait_value "$q" 0
	# still there, at 0, one scrape later (a dropped series goes stale: no answer)
	t=$(prom_value "timestamp($q)")
	prom_wait_value "timestamp($q) > bool $t" 1
	prom_wait_value "$q" 0
}

@test "the target label namespace=team-a is on the series; the exporter's own labels are intact, none renamed exported_*" {
	q="closewait_close_wait_sockets{pid=\"$EXP_PID\"}"
	prom_wait_value "$q" 0
	run prom_query "$q"
	[ "$status" -eq 0 ]
	labels=$(jq -c '.data.result[0].metric' <<<"$output")
	echo "$labels"
	[ "$labels" = '{"__name__":"closewait_close_wait_sockets","command":"closewait","instance":"127.0.0.1:'"$EXP_PORT"'","job":"closewait","namespace":"team-a","owner":"process","pid":"'"$EXP_PID"'"}' ]
	# no series of the job carries a renamed label
	run prom_query "count({job=\"closewait\"})"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.data.result[0].value[1]' <<<"$output")" -gt 20 ]
	run curl -fsS --max-time 5 "$PROM_URL/api/v1/labels" --data-urlencode 'match[]={job="closewait"}'
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.data[] | select(startswith("exported_"))]' <<<"$output")" = '[]' ]
}

@test "Prometheus stopped: the exporter's fds are back to its baseline; then nothing of this file is left running or listening" {
	prom_stop "$PROM_PID"
	wait_fds "$EXP_PID" "$EXP_BASE"
	prom_stop_all
	prom_check_gone
}
