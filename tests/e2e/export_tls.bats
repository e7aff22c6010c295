#!/usr/bin/env bats
# closewait export across networks: HTTPS with a self-signed certificate
# (certtool) and HTTP basic auth. curl and a real Prometheus (scheme https,
# basic_auth, the certificate as its CA) scrape it; a wrong password gets
# 401, a missing one too, and plain HTTP on the TLS port gets no answer.

load prom_fixture

setup_file() {
	prom_init
	command -v certtool >/dev/null || { echo "certtool is not installed (gnutls-bin; scripts/bootstrap test)" >&2; return 1; }
	export TLS_DIR=$PROM_DIR/tls EXP_PORT EXP_PID EXP_BASE
	mkdir -p "$TLS_DIR"
	certtool --generate-privkey --outfile "$TLS_DIR/key.pem" 2>/dev/null
	printf 'cn = localhost\nip_address = 127.0.0.1\nexpiration_days = 2\ntls_www_server\n' >"$TLS_DIR/tmpl"
	certtool --generate-self-signed --load-privkey "$TLS_DIR/key.pem" --template "$TLS_DIR/tmpl" \
		--outfile "$TLS_DIR/cert.pem" 2>/dev/null
	printf 'prom:s3cret\n' >"$TLS_DIR/auth"
	chmod 600 "$TLS_DIR/auth"
	EXP_PORT=$(prom_port 19848)
	exp_start "$EXP_PORT" --tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem" \
		--basic-auth-file "$TLS_DIR/auth"
	EXP_BASE=$(fd_count "$EXP_PID")
}

teardown_file() { prom_stop_all; }

# code USER:PASS|- SCHEME: the HTTP status of GET /metrics ("000": no answer).
code() {
	local auth=()
	[ "$1" = - ] || auth=(-u "$1")
	curl -s --max-time 5 --cacert "$TLS_DIR/cert.pem" "${auth[@]}" -o /dev/null -w '%{http_code}' \
		"$2://127.0.0.1:$EXP_PORT/metrics" || true
}

@test "HTTPS with the right password: 200 and the series; a wrong or no password: 401; plain HTTP: no answer" {
	run code prom:s3cret https
	[ "$output" = 200 ]
	run code prom:wrong https
	[ "$output" = 401 ]
	run code - https
	[ "$output" = 401 ]
	run code prom:s3cret http
	[ "$output" = 000 ]
	run curl -fsS --max-time 5 --cacert "$TLS_DIR/cert.pem" -u prom:s3cret "https://127.0.0.1:$EXP_PORT/metrics"
	[ "$status" -eq 0 ]
	[[ "$output" == *"closewait_up 1"* ]]
	wait_fds "$EXP_PID" "$EXP_BASE"
}

@test "Prometheus scrapes it with scheme https and basic_auth; with a wrong password its target is down with 401" {
	local port
	port=$(prom_port 19090)
	cat >"$PROM_DIR/prometheus.yml" <<Y
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: good
    scheme: https
    tls_config:
      ca_file: $TLS_DIR/cert.pem
    basic_auth:
      username: prom
      password: s3cret
    static_configs:
      - targets: ["127.0.0.1:$EXP_PORT"]
  - job_name: bad
    scheme: https
    tls_config:
      ca_file: $TLS_DIR/cert.pem
    basic_auth:
      username: prom
      password: wrong
    static_configs:
      - targets: ["127.0.0.1:$EXP_PORT"]
Y
	mkdir -p "$PROM_DIR/data"
	prom_bg prometheus "$port" prometheus --config.file="$PROM_DIR/prometheus.yml" \
		--storage.tsdb.path="$PROM_DIR/data" --web.listen-address="127.0.0.1:$port" --log.level=warn
	export PROM_PID=$PROM_BG PROM_URL=http://127.0.0.1:$port
	wait_until "$(slack_ms 30000)" "prom_get '$PROM_URL/api/v1/query?query=1'"
	prom_wait_value 'closewait_up{job="good"}' 1
	prom_wait_value 'up{job="bad"}' 0
	run prom_get "$PROM_URL/api/v1/targets"
	[ "$status" -eq 0 ]
	run jq -r '.data.activeTargets[] | select(.labels.job == "bad") | .lastError' <<<"$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *401* ]]
	prom_stop "$PROM_PID"
	wait_fds "$EXP_PID" "$EXP_BASE"
}

@test "the fixture leaves nothing behind" {
	prom_stop_all
	prom_check_gone
}
