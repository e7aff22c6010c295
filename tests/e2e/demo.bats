#!/usr/bin/env bats
# make demo (scripts/demo) cut short by a closed pipe or a hang-up leaves no
# server running.

bats_require_minimum_version 1.5.0

load lib

# demo_servers: the servers the demo starts ($CLOSEWAIT serve ...).
demo_servers() { pgrep -c -f "^$CLOSEWAIT serve " || true; }

@test "demo | head -3: the demo ends at the closed pipe and stops its server" {
	run -0 bash -c "\"$CW_SRC/scripts/demo\" \"$CLOSEWAIT\" 2>/dev/null | head -3"
	[[ "$output" == *"server pid "*" listening on port "* ]]
	wait_until "$(slack_ms 2000)" '[ "$(demo_servers)" -eq 0 ]'
}

@test "demo sent SIGHUP once its server listens: it stops the server" {
	start_bg demo "$CW_SRC/scripts/demo" "$CLOSEWAIT"
	wait_until "$(slack_ms 5000)" "grep -q 'listening on port' '$BATS_TEST_TMPDIR/demo.log'"
	[ "$(demo_servers)" -eq 1 ]
	kill -HUP "$BG_PID"
	wait "$BG_PID" || true
	wait_until "$(slack_ms 2000)" '[ "$(demo_servers)" -eq 0 ]'
}
