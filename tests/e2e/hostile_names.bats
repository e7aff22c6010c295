#!/usr/bin/env bats
# A process may name itself anything (prctl PR_SET_NAME, or the name of the
# file it runs): every command's JSON must still be JSON any parser takes,
# start with "version" and attribute the sockets to their processes. Two
# `serve --leak` run through symlinks named "\n(evil) 1 2" (a newline, and
# what fools a parser of /proc/PID/stat) and "\xff\xfe" (not UTF-8), each
# holding CLOSE_WAIT sockets.

load census_helpers

EVIL=$'\n(evil) 1 2'
BAD=$'\xff\xfe'

setup() {
	PY=/usr/bin/python3
	[ -x "$PY" ] || PY=python3
	local d=$BATS_TEST_TMPDIR/bin
	mkdir -p "$d"
	ln -s "$CW" "$d/$EVIL"
	ln -s "$CW" "$d/$BAD"
	bg "$d/$EVIL" serve --leak --quiet --port 8600
	evil=$LAST_PID
	bg "$d/$BAD" serve --leak --quiet --port 8601
	bad=$LAST_PID
	wait_listen 8600
	wait_listen 8601
	evil_base=$(fd_count "$evil")
	bad_base=$(fd_count "$bad")
	"$T/cw_clients" 127.0.0.1 8600 3 --send hello >/dev/null
	"$T/cw_clients" 127.0.0.1 8601 2 --send hello >/dev/null
	wait_fw2 8600 3
	wait_fw2 8601 2
}

teardown() { kill_bg; }

# text_ok FILE: UTF-8 text in which each name stands escaped on a line with
# its pid (\n and \xff as four characters each), and no line begins with
# what followed the newline in the name (a forged row).
text_ok() {
	"$PY" -c 'import sys; sys.stdin.buffer.read().decode("utf-8")' <"$1"
	grep -F '\n(evil) 1 2' "$1" | grep -qw "$evil"
	grep -F '\xff\xfe' "$1" | grep -qw "$bad"
	[ "$(grep -c '^(evil)' "$1")" -eq 0 ]
}

# valid_doc FILE: one JSON document that jq and Python's json both take
# (JSON is UTF-8: Python decodes strictly, where jq would replace quietly),
# whose first key is "version".
valid_doc() {
	jq -e . "$1" >/dev/null
	"$PY" -c 'import json,sys; json.loads(sys.stdin.buffer.read().decode("utf-8"))' <"$1"
	[ "$(jq -r 'keys_unsorted[0]' "$1")" = version ]
}

@test "the processes are named as the test means: comm is \\n(evil) 1 2 and \\xff\\xfe" {
	[ "$(cat "/proc/$evil/comm")" = "$EVIL" ]
	[ "$(cat "/proc/$bad/comm")" = "$BAD" ]
	wait_fds "$bad" $((bad_base + 2))
}

@test "scan --json parses, starts with version, names the processes (\\ufffd for bytes that are not UTF-8)" {
	run "$CW" scan --json
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/scan.json"
	j=$BATS_TEST_TMPDIR/scan.json
	valid_doc "$j"
	[ "$(jq --argjson p "$evil" '[.sockets[] | select(.owners[0].pid==$p and .state=="close-wait")] | length' "$j")" -eq 3 ]
	[ "$(jq --argjson p "$bad" '[.sockets[] | select(.owners[0].pid==$p and .owners[0].command=="\ufffd\ufffd" and .state=="close-wait")] | length' "$j")" -eq 2 ]
	[ "$(jq --argjson p "$bad" '.groups[] | select(.pid==$p and .command=="\ufffd\ufffd") | .close_wait' "$j")" -eq 2 ]
	grep -qF '"command":"\ufffd\ufffd"' "$j"
	wait_fds "$evil" $((evil_base + 3))
	wait_fds "$bad" $((bad_base + 2))
}

@test "text output: each name escaped on its own row, no row broken or forged" {
	run "$CW" scan
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/scan.txt"
	text_ok "$BATS_TEST_TMPDIR/scan.txt"
	grep -qF "pid $evil (\\n(evil) 1 2) has not closed 3 connections" "$BATS_TEST_TMPDIR/scan.txt"
	run "$CW" scan --state close-wait
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/sockets.txt"
	text_ok "$BATS_TEST_TMPDIR/sockets.txt"
	run "$CW" watch --interval 100ms --count 1
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/watch.txt"
	text_ok "$BATS_TEST_TMPDIR/watch.txt"
	run "$CW" reap --port 8601 --dry-run
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/reap.txt"
	"$PY" -c 'import sys; sys.stdin.buffer.read().decode("utf-8")' <"$BATS_TEST_TMPDIR/reap.txt"
	[ "$(grep -F '\xff\xfe' "$BATS_TEST_TMPDIR/reap.txt" | grep -cw "$bad")" -eq 2 ]
	wait_fds "$evil" $((evil_base + 3))
	wait_fds "$bad" $((bad_base + 2))
}

@test "watch --json parses, starts with version, names the processes" {
	run "$CW" watch --interval 100ms --count 1 --json
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/watch.json"
	j=$BATS_TEST_TMPDIR/watch.json
	[ "$(wc -l <"$j")" -eq 1 ]
	valid_doc "$j"
	[ "$(jq --argjson p "$evil" '.processes[] | select(.pid==$p) | .close_wait' "$j")" -eq 3 ]
	[ "$(jq --argjson p "$bad" '.processes[] | select(.pid==$p and .command=="\ufffd\ufffd") | .close_wait' "$j")" -eq 2 ]
	grep -qF '"command":"\ufffd\ufffd"' "$j"
	wait_fds "$evil" $((evil_base + 3))
	wait_fds "$bad" $((bad_base + 2))
}

@test "ports --json parses and starts with version" {
	run "$CW" ports --json
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/ports.json"
	valid_doc "$BATS_TEST_TMPDIR/ports.json"
	wait_fds "$evil" $((evil_base + 3))
	wait_fds "$bad" $((bad_base + 2))
}

@test "ports --net --json (a report per namespace) parses and starts with version" {
	run "$CW" ports --net "pid:$evil" --json
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/ports_ns.json"
	valid_doc "$BATS_TEST_TMPDIR/ports_ns.json"
	[ "$(jq '.namespaces | length' "$BATS_TEST_TMPDIR/ports_ns.json")" -eq 1 ]
	[ "$(jq '.namespaces[0].netns' "$BATS_TEST_TMPDIR/ports_ns.json")" -eq "$(stat -L -c %i "/proc/$evil/ns/net")" ]
	wait_fds "$evil" $((evil_base + 3))
	wait_fds "$bad" $((bad_base + 2))
}

@test "scan and watch --by auto --json name the groups by command, as they are" {
	run "$CW" scan --by auto --json
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/auto.json"
	valid_doc "$BATS_TEST_TMPDIR/auto.json"
	[ "$(jq '[.groups[] | select(.command=="\n(evil) 1 2")] | .[0].close_wait' "$BATS_TEST_TMPDIR/auto.json")" -eq 3 ]
	run "$CW" watch --by auto --interval 100ms --count 1 --json
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/wauto.json"
	valid_doc "$BATS_TEST_TMPDIR/wauto.json"
	[ "$(jq '[.groups[] | select(.command=="\ufffd\ufffd")] | .[0].close_wait' "$BATS_TEST_TMPDIR/wauto.json")" -eq 2 ]
	wait_fds "$evil" $((evil_base + 3))
	wait_fds "$bad" $((bad_base + 2))
}

@test "reap --json, planned and done, parses, starts with version, names the processes and the peers" {
	run "$CW" reap --port 8600 --dry-run --json
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/plan.json"
	j=$BATS_TEST_TMPDIR/plan.json
	valid_doc "$j"
	[ "$(jq --argjson p "$evil" '[.sockets[] | select(.pid==$p and .result=="to-reap" and (.peer|startswith("127.0.0.1:")))] | length' "$j")" -eq 3 ]
	run "$CW" reap --port 8601 --yes --json
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/reap.json"
	j=$BATS_TEST_TMPDIR/reap.json
	valid_doc "$j"
	[ "$(jq --argjson p "$bad" '[.sockets[] | select(.pid==$p and .command=="\ufffd\ufffd" and .result=="clean" and (.local=="127.0.0.1:8601"))] | length' "$j")" -eq 2 ]
	[ "$(jq --argjson p "$bad" '.owners_left_open[] | select(.pid==$p and .command=="\ufffd\ufffd") | .fds_left_open' "$j")" -eq 2 ]
	grep -qF '"command":"\ufffd\ufffd"' "$j"
	jq -r .message "$j" | grep -qF "pid $bad (\\xff\\xfe, 2 fds)"
	wait_fds "$evil" $((evil_base + 3))
	wait_fds "$bad" $((bad_base + 2))
}

@test "every command's JSON gives a name with a newline as it is: \\n(evil) 1 2" {
	"$CW" scan --json >"$BATS_TEST_TMPDIR/scan.json" || [ $? -eq 1 ]
	[ "$(jq --argjson p "$evil" --arg n "$EVIL" '.groups[] | select(.pid==$p and .command==$n) | .close_wait' "$BATS_TEST_TMPDIR/scan.json")" -eq 3 ]
	grep -qF '"command":"\u000a(evil) 1 2"' "$BATS_TEST_TMPDIR/scan.json"
	"$CW" watch --interval 100ms --count 1 --json >"$BATS_TEST_TMPDIR/watch.json"
	[ "$(jq --argjson p "$evil" --arg n "$EVIL" '.processes[] | select(.pid==$p and .command==$n) | .close_wait' "$BATS_TEST_TMPDIR/watch.json")" -eq 3 ]
	"$CW" reap --port 8600 --dry-run --json >"$BATS_TEST_TMPDIR/plan.json"
	[ "$(jq --argjson p "$evil" --arg n "$EVIL" '[.sockets[] | select(.pid==$p and .command==$n)] | length' "$BATS_TEST_TMPDIR/plan.json")" -eq 3 ]
	wait_fds "$evil" $((evil_base + 3))
}
