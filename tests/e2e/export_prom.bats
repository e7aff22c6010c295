#!/usr/bin/env bats
# A real Prometheus (a plain process of this file's network namespace, never
# the system service) scrapes an exporter every second; queries go through
# its HTTP API. HARNESS STAGE: the target is a static file server serving a
# hand-written exposition, until closewait export exists.

load prom_fixture

setup_file() {
	prom_init
	export WWW=$BATS_FILE_TMPDIR/www
	mkdir -p "$WWW"
	expo 50
	export EXP_PORT
	EXP_PORT=$(prom_port 19848)
	prom_bg www python3 -m http.server --bind 127.0.0.1 --directory "$WWW" "$EXP_PORT"
	wait_listen "$EXP_PORT"
	prom_start "$EXP_PORT"
}

teardown_file() { prom_stop_all; }

# expo N: the exposition the target serves, with N CLOSE_WAIT sockets.
expo() {
	cat >"$WWW/metrics.tmp" <<EOT
# HELP closewait_close_wait_sockets CLOSE_WAIT sockets per owner group.
# TYPE closewait_close_wait_sockets gauge
closewait_close_wait_sockets{owner="process",command="closewait",pid="4242"} $1
EOT
	mv "$WWW/metrics.tmp" "$WWW/metrics"
}

@test "50 through Prometheus's API, then 0 once the target says so" {
	q='closewait_close_wait_sockets{pid="4242"}'
	prom_wait_value "$q" 50
	expo 0
	prom_wait_value "$q" 0
}

@test "the target label namespace=team-a is on the series; the exporter's labels are intact, nothing renamed exported_*" {
	prom_wait_value 'closewait_close_wait_sockets{namespace="team-a"}' 0
	run prom_query 'closewait_close_wait_sockets'
	[ "$status" -eq 0 ]
	[ "$(jq -c '.data.result[0].metric' <<<"$output")" = '{"__name__":"closewait_close_wait_sockets","command":"closewait","instance":"127.0.0.1:'"$EXP_PORT"'","job":"closewait","namespace":"team-a","owner":"process","pid":"4242"}' ]
}

@test "stopped: no Prometheus, no target left, nothing listening" {
	prom_stop_all
	prom_check_gone
}
