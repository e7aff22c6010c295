# A real Prometheus and node_exporter for the export tests (export*.bats),
# run as plain processes of the test's own network namespace (never the
# system services the packages ship): their own configuration, data and
# logs under $BATS_FILE_TMPDIR/prom, listening on loopback ports picked here.
#
# Every process started through this file is recorded in $PROM_DIR/pids so
# that prom_stop_all, run from setup_file's process, a test's, or
# teardown_file's, ends all of them; prom_check_gone then says whether
# anything is left (a process or a listener).
#
# Prometheus is ready to answer in ~0.2 s, but its first scrape is queryable
# only after 5-6 s even with scrape_interval 1s (its scrape manager applies
# new targets every 5 s): every wait here polls the HTTP API with a deadline
# (30 s, times CW_TEST_SLACK), never a sleep standing for a result.

load census_helpers

PROM_DIR=$BATS_FILE_TMPDIR/prom

# prom_init: this file's state directory. Call from setup_file.
prom_init() {
	mkdir -p "$PROM_DIR"
	: >>"$PROM_DIR/pids"
	command -v prometheus >/dev/null || { echo "prometheus is not installed (scripts/bootstrap test)" >&2; return 1; }
	command -v prometheus-node-exporter >/dev/null || { echo "prometheus-node-exporter is not installed (scripts/bootstrap test)" >&2; return 1; }
}

# prom_port FROM: the first port from FROM that nothing listens on (the
# namespace is the test file's own: nothing else takes it before its user).
prom_port() {
	local p=$1
	while listening "$p"; do p=$((p + 1)); done
	echo "$p"
}

# prom_bg NAME PORT CMD...: CMD, which will listen on PORT, in the
# background, output in $PROM_DIR/NAME.log, its pid and port recorded; sets
# PROM_BG. fd 3 (bats') closed so bats does not wait for it.
prom_bg() {
	local name=$1 port=$2
	shift 2
	"$@" >"$PROM_DIR/$name.log" 2>&1 3>&- &
	PROM_BG=$!
	echo "$PROM_BG $name $port" >>"$PROM_DIR/pids"
}

# prom_get URL: the body of a GET (curl, 5 s at most); fails on any HTTP error.
prom_get() { curl -fsS --max-time 5 "$1"; }

# prom_start TARGET_PORT [JOB]: Prometheus scraping 127.0.0.1:TARGET_PORT
# every second (job JOB, default closewait) with the target label
# namespace="team-a", the label a Kubernetes scrape config adds and the one
# an exporter's own label would clash with. Waits until its API answers a
# query. Exports PROM_PID and PROM_URL.
prom_start() {
	local target=$1 job=${2:-closewait} port
	port=$(prom_port 19090)
	cat >"$PROM_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: $job
    static_configs:
      - targets: ["127.0.0.1:$target"]
        labels:
          namespace: team-a
EOF
	mkdir -p "$PROM_DIR/data"
	prom_bg prometheus "$port" prometheus --config.file="$PROM_DIR/prometheus.yml" \
		--storage.tsdb.path="$PROM_DIR/data" --web.listen-address="127.0.0.1:$port" \
		--log.level=warn
	export PROM_PID=$PROM_BG PROM_URL=http://127.0.0.1:$port
	if ! wait_until "$(slack_ms 30000)" "prom_get '$PROM_URL/-/ready'" ||
		! wait_until "$(slack_ms 30000)" "prom_get '$PROM_URL/api/v1/query?query=1'"; then
		echo "Prometheus did not become ready at $PROM_URL; its log:" >&2
		cat "$PROM_DIR/prometheus.log" >&2
		return 1
	fi
}

# prom_query QUERY: the JSON answer of an instant query.
prom_query() { curl -fsS --max-time 5 "$PROM_URL/api/v1/query" --data-urlencode "query=$1"; }

# prom_value QUERY: the value of an instant query that yields exactly one
# series (a number, as Prometheus writes it); fails when it yields none or several.
prom_value() {
	prom_query "$1" | jq -er '.data.result | if length == 1 then .[0].value[1] else error("\(length) series") end'
}

# prom_wait_value QUERY WANT: until QUERY yields one series of value WANT
# (30 s at most, times CW_TEST_SLACK). On failure shows the last answer and
# the state of Prometheus's targets.
prom_wait_value() {
	if wait_until "$(slack_ms 30000)" "[ \"\$(prom_value '$1')\" = '$2' ]"; then
		return 0
	fi
	echo "query '$1' did not yield $2; last answer:" >&2
	prom_query "$1" >&2 || true
	echo >&2
	echo "targets:" >&2
	prom_get "$PROM_URL/api/v1/targets" | jq -c '.data.activeTargets[] | {scrapeUrl, health, lastError}' >&2 || true
	return 1
}

# nodex_start DIR: node_exporter with only its textfile collector, reading
# DIR. Waits until its /metrics answers. Sets NODEX_PID and NODEX_URL.
nodex_start() {
	local port
	port=$(prom_port 19100)
	prom_bg node-exporter "$port" prometheus-node-exporter --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$1" \
		--web.listen-address="127.0.0.1:$port"
	NODEX_PID=$PROM_BG NODEX_URL=http://127.0.0.1:$port
	if ! wait_until "$(slack_ms 30000)" "prom_get '$NODEX_URL/metrics'"; then
		echo "node_exporter did not answer at $NODEX_URL; its log:" >&2
		cat "$PROM_DIR/node-exporter.log" >&2
		return 1
	fi
}

# prom_alive PID: PID is a live process (a zombie is not).
prom_alive() {
	local st
	st=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# prom_stop PID: TERM, then (after 5 s, times CW_TEST_SLACK) KILL; reaped
# where this shell is its parent.
prom_stop() {
	kill -TERM "$1" 2>/dev/null || true
	wait_until "$(slack_ms 5000)" "! prom_alive $1" || kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# prom_stop_all: every process started here. Safe to run twice.
prom_stop_all() {
	local pid name port
	[ -f "${PROM_DIR:-}/pids" ] || return 0
	while read -r pid name port; do kill -TERM "$pid" 2>/dev/null || true; done <"$PROM_DIR/pids"
	while read -r pid name port; do prom_stop "$pid"; done <"$PROM_DIR/pids"
	return 0
}

# prom_check_gone: no process started here is alive, and nothing listens on
# the ports they were given. Says what is left.
prom_check_gone() {
	local pid name port left=0
	while read -r pid name port; do
		if prom_alive "$pid"; then
			echo "$name (pid $pid) is still running" >&2
			left=1
		fi
		if listening "$port"; then
			echo "something still listens on $port ($name's port):" >&2
			ss -Htlnp "sport = :$port" >&2
			left=1
		fi
	done <"$PROM_DIR/pids"
	return $left
}

# exp_start PORT ARGS...: `closewait export --listen 127.0.0.1:PORT ARGS`
# (recorded like the others), until it has said "serving": the socket
# listens before the server's worker threads and their fds exist, so a test
# that counts its fds must not start counting at the first listen.
# Sets EXP_PID and EXP_URL.
exp_start() {
	local port=$1
	shift
	prom_bg export "$port" "$CW" export --listen "127.0.0.1:$port" "$@"
	EXP_PID=$PROM_BG EXP_URL=http://127.0.0.1:$port
	if ! wait_listen "$port" ||
		! wait_until "$(slack_ms 10000)" "grep -q 'serving ' '$PROM_DIR/export.log'"; then
		echo "closewait export does not listen on $port; its log:" >&2
		cat "$PROM_DIR/export.log" >&2
		return 1
	fi
}

# exp_scrape FILE: GET /metrics into FILE; fails on any HTTP error.
exp_scrape() { curl -fsS --max-time 5 -o "$1" "$EXP_URL/metrics"; }

# series FILE NAME: the samples of family NAME in exposition FILE (no comments).
series() { grep -E "^$2(\{| )" "$1" || true; }

# sample FILE METRIC LABEL=VALUE...: the values of METRIC's series in
# exposition FILE that carry every label given (in any order).
sample() {
	local f=$1 m=$2 l
	shift 2
	series "$f" "$m" | while read -r s v; do
		for l in "$@"; do
			case "$s" in *"{${l%%=*}=\"${l#*=}\""[,}]* | *",${l%%=*}=\"${l#*=}\""[,}]*) ;; *) continue 2 ;; esac
		done
		echo "$v"
	done
}

# rss_kib PID: resident set size of PID in KiB (/proc/PID/status VmRSS).
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }
