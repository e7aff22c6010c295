#!/usr/bin/env bats
# closewait export beside clients that connect and send nothing: a thousand
# of them hold connections open, and a scrape still answers at once; once
# they leave, the exporter is back to the fds it had. Then the same with a
# hundred more that send their request a byte a second (slowloris).

load prom_fixture

setup_file() {
	prom_init
	export EXP_PORT EXP_PID EXP_BASE
	EXP_PORT=$(prom_port 19848)
	exp_start "$EXP_PORT"
	EXP_BASE=$(fd_count "$EXP_PID")
}

teardown() { kill_bg; }
teardown_file() { prom_stop_all; }

# sockets_of PID: how many of PID's fds are sockets.
sockets_of() { find "/proc/$1/fd" -mindepth 1 -lname 'socket:*' 2>/dev/null | wc -l; }

# hold_silent: a client holding 1000 connections to the exporter that never
# send a byte, until killed (60 s at most); sets idle once they are made.
hold_silent() {
	start_bg idle python3 -c '
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(1000)]
print("held", flush=True)
time.sleep(60)' "$EXP_PORT"
	idle=$BG_PID
	wait_until "$(slack_ms 10000)" "grep -q held '$BATS_TEST_TMPDIR/idle.log'"
}

# scrape_within_1s: one scrape of the exporter, answered 200 within 1 s
# (times CW_TEST_SLACK).
scrape_within_1s() {
	run curl -sS --max-time "$(($(slack_ms 1000) / 1000 + 1))" -o /dev/null -w '%{http_code} %{time_total}' \
		"http://127.0.0.1:$EXP_PORT/metrics"
	echo "scrape: $output"
	[ "$status" -eq 0 ]
	[ "${output%% *}" = 200 ]
	[ "$(awk -v t="${output#* }" -v lim="$(slack_ms 1000)" 'BEGIN { print (t * 1000 <= lim) }')" -eq 1 ]
}

@test "1000 silent connections: the exporter holds them all, a scrape answers within 1 s, and its fds come back" {
	sock0=$(sockets_of "$EXP_PID")
	hold_silent
	# the exporter has accepted them: 1000 sockets more among its fds
	wait_until "$(slack_ms 5000)" "[ \$(sockets_of $EXP_PID) -ge \$((sock0 + 1000)) ]"
	scrape_within_1s
	kill "$idle"
	wait "$idle" 2>/dev/null || true
	wait_fds "$EXP_PID" "$EXP_BASE"
}

@test "1000 silent connections and 100 that send a request a byte a second: a scrape answers within 1 s, three times, and the fds come back" {
	hold_silent
	# 100 clients, each sending "GET /metrics HTTP/1.1..." one byte a second
	start_bg slow python3 -c '
import socket, sys, time
port = int(sys.argv[1])
req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(100)]
print("trickling", flush=True)
for i in range(60):
    for s in held:
        try:
            s.send(req[i % len(req):i % len(req) + 1])
        except OSError:
            pass
    time.sleep(1)' "$EXP_PORT"
	slow=$BG_PID
	wait_until "$(slack_ms 10000)" "grep -q trickling '$BATS_TEST_TMPDIR/slow.log'"
	for i in 1 2 3; do
		scrape_within_1s
		sleep 1
	done
	kill "$idle" "$slow"
	wait "$idle" 2>/dev/null || true
	wait "$slow" 2>/dev/null || true
	wait_fds "$EXP_PID" "$EXP_BASE"
}

@test "the fixture leaves nothing behind" {
	prom_stop_all
	prom_check_gone
}
