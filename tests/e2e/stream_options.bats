#!/usr/bin/env bats
# Which options client --stream and client --stream --leak take: what does
# not apply is refused (exit 2, the message naming it) before anything
# starts, never silently ignored; what is taken works.

load lib

teardown() {
	for p in ${SERVER_PID:-} ${CLIENT_PID:-}; do
		kill -KILL "$p" 2>/dev/null || true
	done
}

log() { echo "$BATS_TEST_TMPDIR/client.log"; }
start_client() {
	start_bg client "$CLOSEWAIT" client --stream "$@"
	CLIENT_PID=$BG_PID
}
# stop_client: SIGINT, as a person would; sets CLIENT_STATUS.
stop_client() {
	stop_pid "$CLIENT_PID" INT
	CLIENT_STATUS=$STOP_STATUS
	CLIENT_PID=
}
# A refusal exits at once; the timeout only stops a client that ignored the
# option and went on to run (it would retry for ever: nothing listens).
refused() { timeout "$(($(slack_ms 2000) / 1000))" "$CLOSEWAIT" client --stream "$@"; }

@test "--leak refuses every option the seed's client has no use for, naming it" {
	for args in "--bind 127.0.0.1" "--bind 127.0.0.1:40000" "--connect-timeout 1s" \
		"--recv-timeout 1s" "--idle 5s" "--write-stall 1s" "--heartbeat 1s" \
		"--heartbeat-payload x" "--keepalive on" "--keepalive 1:1:2" "--user-timeout 1s" \
		"--close abort" "--reset-timedout" "--linger 1s" "--half-close 1s"; do
		opt=${args%% *}
		# shellcheck disable=SC2086 # split on purpose: option and value
		run refused --leak $args
		echo "--leak $args: $status: $output"
		[ "$status" -eq 2 ]
		[[ "$output" == *"closewait client: $opt does not apply to --leak"* ]]
	done
	# wherever --leak comes
	run refused --keepalive on --leak
	[ "$status" -eq 2 ]
	[[ "$output" == *"--keepalive does not apply to --leak"* ]]
}

@test "client --stream refuses --linger and --half-close (the dialer never lingers), naming each" {
	run refused --linger 1s
	[ "$status" -eq 2 ]
	[[ "$output" == *"closewait client: --linger does not apply to client --stream"* ]]
	run refused --half-close 1s
	[ "$status" -eq 2 ]
	[[ "$output" == *"closewait client: --half-close does not apply to client --stream"* ]]
	run refused --linger 0
	[ "$status" -eq 2 ]
	[[ "$output" == *"--linger does not apply"* ]]
}

@test "client --stream --help lists no --linger or --half-close option; serve --help still does" {
	run "$CLOSEWAIT" client --stream --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"  --recv-timeout D"* ]]
	[[ "$output" == *"  --keepalive IDLE:INTVL:CNT"* ]]
	[[ "$output" == *"  --close MODE"* ]]
	[[ "$output" != *"  --linger D"* ]]
	[[ "$output" != *"  --half-close D"* ]]
	run "$CLOSEWAIT" serve --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"  --linger D"* ]]
	[[ "$output" == *"  --half-close D"* ]]
}

@test "client --stream still takes the dialer's options: --bind, --connect-timeout, --backoff, --quiet and the policy" {
	start_server 8000 --quiet
	base=$(fd_count "$SERVER_PID")
	start_client --quiet --bind 127.0.0.1 --connect-timeout 1s --backoff 50ms:1s --interval 20ms \
		--recv-timeout 5s --idle 10s --write-stall 5s --heartbeat 2s --keepalive 10:5:3 \
		--user-timeout 20s --close graceful --reset-timedout
	wait_until "$(slack_ms 5000)" '[ "$(fd_count "$SERVER_PID")" -gt "$base" ]'
	sleep 0.3 # lines go out every 20 ms
	stop_client
	[ "$CLIENT_STATUS" -eq 0 ]
	run cat "$(log)"
	[ "${#lines[@]}" -eq 1 ] # --quiet: the summary only
	[[ "$output" == "sent "*", acknowledged "* ]]
	sent=$(sed -E 's/^sent ([0-9]+) lines.*/\1/' "$(log)")
	[ "$sent" -ge 2 ]
	[[ "$output" == "sent $sent lines, acknowledged $sent (0 unacknowledged)"* ]]
	wait_until "$(slack_ms 2000)" '[ "$(fd_count "$SERVER_PID")" -eq "$base" ]'
}

@test "--leak --quiet prints the summary only; --host, --port and --interval are taken" {
	start_server 8001 --quiet
	base=$(fd_count "$SERVER_PID")
	start_client --leak --quiet --host 127.0.0.1 --port 8001 --interval 20ms --backoff 50ms:1s
	wait_until "$(slack_ms 5000)" '[ "$(fd_count "$SERVER_PID")" -gt "$base" ]'
	sleep 0.3
	stop_client
	[ "$CLIENT_STATUS" -eq 0 ]
	run cat "$(log)"
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "sent "*" (every old socket was left open)" ]]
	sent=$(sed -E 's/^sent ([0-9]+) lines.*/\1/' "$(log)")
	[ "$sent" -ge 2 ]
	[[ "$output" == "sent $sent lines, acknowledged $sent, reconnects 0"* ]]
	wait_until "$(slack_ms 2000)" '[ "$(fd_count "$SERVER_PID")" -eq "$base" ]'
}

@test "--leak --backoff MIN:MAX: retry delays within [MIN, MAX], growing past MIN (not MIN every time)" {
	start_client --leak --backoff 50ms:200ms # nothing listens: every connect is refused
	wait_until "$(slack_ms 10000)" '[ "$(grep -c "retrying in" "$(log)")" -ge 10 ]'
	stop_client
	[ "$CLIENT_STATUS" -eq 0 ]
	mapfile -t d < <(grep -o 'retrying in [0-9]* ms' "$(log)" | awk '{print $3}')
	echo "delays: ${d[*]}"
	[ "${#d[@]}" -ge 10 ]
	[ "${d[0]}" -eq 50 ] # the first: min(MAX, MIN * 2^0) = MIN
	max=0
	for x in "${d[@]}"; do
		[ "$x" -ge 50 ]
		[ "$x" -le 200 ]
		if [ "$x" -gt "$max" ]; then max=$x; fi
	done
	# From the third on, each is drawn from [50, 200]: all ten at 50 has a
	# chance of about (1/151)^8.
	[ "$max" -gt 50 ]
}
