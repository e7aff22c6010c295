#!/usr/bin/env bats
# make demo (scripts/demo) cut short by a closed pipe or a hang-up leaves no
# server running.

bats_require_minimum_version 1.5.0

load lib

# demo_server TEXT: the pid of the server the demo says it started
# ("server pid N listening on port P"), which runs in the demo's own network
# namespace. server_alive PID: it is running (not gone, not a zombie).
demo_server() { sed -n 's/.*server pid \([0-9]*\) listening on port.*/\1/p' <<<"$1" | head -1; }
server_alive() { grep -q '^State:[[:space:]]*[^Z]' "/proc/$1/status" 2>/dev/null; }

@test "demo | head -3: the demo ends at the closed pipe and stops its server" {
	run -0 bash -c "\"$CW_SRC/scripts/demo\" \"$CLOSEWAIT\" 2>/dev/null | head -3"
	pid=$(demo_server "$output")
	[ -n "$pid" ]
	wait_until "$(slack_ms 2000)" "! server_alive $pid"
}

@test "demo sent SIGHUP once its server listens: it stops the server" {
	start_bg demo "$CW_SRC/scripts/demo" "$CLOSEWAIT"
	wait_until "$(slack_ms 5000)" "grep -q 'listening on port' '$BATS_TEST_TMPDIR/demo.log'"
	pid=$(demo_server "$(cat "$BATS_TEST_TMPDIR/demo.log")")
	[ -n "$pid" ]
	run server_alive "$pid"
	[ "$status" -eq 0 ]
	kill -HUP "$BG_PID"
	wait "$BG_PID" || true
	wait_until "$(slack_ms 2000)" "! server_alive $pid"
}
