#!/usr/bin/env bats
# closewait trace when owners exit and their pids are reused (S29). Each
# scenario runs in a new pid namespace with its own /proc (unshare -p -f
# --mount-proc, which also makes the mount namespace where trace mounts its
# own tracefs), trace included: /proc/sys/kernel/ns_last_pid there hands a
# chosen pid to the next process, and trace, running in that namespace,
# names processes by the pids that namespace gives them. --grace 1s
# --interval 200ms. The scenario (a function run by the namespace's first
# process) writes its pids and trace's JSON lines under $DIR; the test
# checks them.

bats_require_minimum_version 1.5.0
load census_helpers

setup() {
	DIR=$BATS_TEST_TMPDIR
	OUT=$DIR/trace.json
	SHELL_FDS=$(shell_fds $$)
	export CW T DIR OUT
	export -f wait_until slack_ms in_pidns_trace
}

teardown() {
	kill_bg
}

leaks() { jq -c 'select(.event == "leak")' "$OUT"; }
ends() { jq -c 'select(.event == "leak_end")' "$OUT"; }

# in_pidns_trace JSON [OPTION...]: in the namespace, closewait trace in the
# background (JSON lines in JSON, stderr in JSON.err); sets TR once it
# started.
in_pidns_trace() {
	local json=$1
	shift
	umount /sys/kernel/tracing 2>/dev/null || true
	umount /sys/kernel/debug/tracing 2>/dev/null || true
	"$CW" trace --grace 1s --interval 200ms "$@" >"$json" 2>"$json.err" &
	TR=$!
	wait_until "$(slack_ms 10000)" "grep -q '\"event\":\"started\"' '$json'"
}

# run_in_pidns FUNCTION: FUNCTION (defined in the test) as the first
# process of a new pid namespace; its exit status is the test's to check.
run_in_pidns() {
	export -f "$1"
	unshare -p -f --mount-proc bash -c "set -e; $1" 3>&-
}

@test "an owner that exits: its reported leak ends with owner_exited, and trace --pid of it ends; the process that then gets its pid is blamed for its own leak only, with its own stack" {
	scenario() {
		in_pidns_trace "$OUT"
		tr=$TR
		"$T/cwt-leaky-fp" 8700 eof >/dev/null &
		a=$!
		wait_until "$(slack_ms 5000)" "[ -n \"\$(ss -Htln 'sport = :8700')\" ]"
		# a second trace follows that process only
		in_pidns_trace "$DIR/pid.json" --pid "$a"
		trp=$TR
		"$T/cw_clients" 127.0.0.1 8700 1 --send hello >/dev/null
		wait_until "$(slack_ms 8000)" "grep -q '\"event\":\"leak\",\"pid\":$a,' '$OUT' && grep -q '\"event\":\"leak\",\"pid\":$a,' '$DIR/pid.json'"
		# the traces stopped while the owner exits and its pid goes to
		# another leaky server: their next census sees both at once
		kill -STOP "$tr" "$trp"
		kill "$a"
		wait "$a" || true
		echo $((a - 1)) >/proc/sys/kernel/ns_last_pid
		"$T/cwt-leaky-nofp" 8701 never >/dev/null &
		b=$!
		echo "$a $b" >"$DIR/pids"
		wait_until "$(slack_ms 5000)" "[ -n \"\$(ss -Htln 'sport = :8701')\" ]"
		ls "/proc/$b/fd" | wc -l >"$DIR/b_base"
		"$T/cw_clients" 127.0.0.1 8701 1 --send hello >/dev/null
		kill -CONT "$tr" "$trp"
		wait_until "$(slack_ms 8000)" "grep -q '\"event\":\"leak_end\"' '$OUT' && grep -q '\"event\":\"leak\",.*\"local\":\"127.0.0.1:8701\"' '$OUT'"
		# the --pid trace ends by itself: its process exited
		wait_until "$(slack_ms 5000)" "grep -q 'pid $a exited' '$DIR/pid.json.err'"
		st=0
		wait "$trp" || st=$?
		echo "$st" >"$DIR/pid.status"
		# a few censuses more: nothing else comes
		sleep 0.6
		kill "$tr"
		wait "$tr"
		[ -d "/proc/$b/fd" ]
		ls "/proc/$b/fd" | wc -l >"$DIR/b_fds"
		kill "$b"
		wait "$b" || true
	}
	run_in_pidns scenario
	cat "$OUT" "$OUT.err" "$DIR/pid.json" "$DIR/pid.json.err" >&2
	read -r a b <"$DIR/pids"
	# the pid was reused
	[ "$a" -eq "$b" ]
	run leaks
	[ "${#lines[@]}" -eq 2 ]
	first=${lines[0]}
	second=${lines[1]}
	[ "$(jq -r .pid <<<"$first")" -eq "$a" ]
	[[ "$(jq -r .site <<<"$first")" == "created by accept() in accept_loop (cwt_leaky.c:"*") ← main"* ]]
	[ "$(jq -r .stack_truncated <<<"$first")" = false ]
	[ "$(jq -r .pid <<<"$second")" -eq "$a" ]
	[ "$(jq -r .why <<<"$second")" = never-read ]
	[[ "$(jq -r .site <<<"$second")" == "created by accept() in accept_loop (cwt_leaky.c:"*") (stack truncated: no frame pointers)" ]]
	[ "$(jq -r '.stack[] | select(.function == "accept_loop") | .module' <<<"$second")" = cwt-leaky-nofp ]
	# the first leak ended with its owner; the second is not blamed for it
	run ends
	[ "${#lines[@]}" -eq 1 ]
	[ "$(jq -r .inode <<<"${lines[0]}")" = "$(jq -r .inode <<<"$first")" ]
	[ "$(jq -r .owner_exited <<<"${lines[0]}")" = true ]
	[ "$(jq -r .state <<<"${lines[0]}")" = null ]
	# the summary keeps the first leak's site, with its owner gone
	[ "$(jq -r --arg s "$(jq -r .site <<<"$first")" 'select(.event == "summary") | .groups[] | select(.site == $s) | "\(.count) \(.total) \(.owner_exited)"' "$OUT")" = "0 1 1" ]
	[ "$(jq -r --arg s "$(jq -r .site <<<"$second")" 'select(.event == "summary") | .groups[] | select(.site == $s) | "\(.count) \(.total) \(.owner_exited)"' "$OUT")" = "1 1 0" ]
	# --pid: the process it followed, not the one that got its pid later
	[ "$(cat "$DIR/pid.status")" -eq 0 ]
	grep -q "closewait trace: pid $a exited" "$DIR/pid.json.err"
	[ "$(jq -c 'select(.event == "leak") | [.pid, .local]' "$DIR/pid.json")" = "[$a,\"127.0.0.1:8700\"]" ]
	[ "$(jq -c 'select(.event == "leak_end") | [.pid, .owner_exited]' "$DIR/pid.json")" = "[$a,true]" ]
	[ "$(jq -r 'select(.event == "summary") | .leaks' "$DIR/pid.json")" -eq 1 ]
	# the second server holds its leaked socket, no more
	[ "$(cat "$DIR/b_fds")" -eq $(($(cat "$DIR/b_base") + 1)) ]
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "a socket whose creating process exited and whose pid another process got before the leak was seen: no stack from that other process" {
	scenario() {
		in_pidns_trace "$OUT"
		"$CW" serve --port 8702 --idle 1500ms >/dev/null 2>&1 &
		srv=$!
		wait_until "$(slack_ms 5000)" "[ -n \"\$(ss -Htln 'sport = :8702')\" ]"
		# c connects (bash's /dev/tcp) and leaves the socket to a child
		# that never reads it, then exits
		bash -c 'exec 5<>/dev/tcp/127.0.0.1/8702; sleep 60 & echo $$ $! >"$DIR/holder"' 3>&-
		read -r c holder <"$DIR/holder"
		[ ! -e "/proc/$c" ]
		# /proc counts start times in clock ticks (10 ms): a process
		# started in the same tick with the same pid is not told apart
		sleep 0.05
		echo $((c - 1)) >/proc/sys/kernel/ns_last_pid
		"$T/cwt-leaky-fp" 8703 eof >/dev/null &
		d=$!
		echo "$c $d $holder" >"$DIR/pids"
		# the server closes the idle connection: the holder's end enters CLOSE_WAIT
		wait_until "$(slack_ms 8000)" "grep -q '\"event\":\"leak\",\"pid\":$holder,' '$OUT'"
		kill "$TR"
		wait "$TR"
		kill "$holder" "$d" "$srv"
		wait || true
	}
	run_in_pidns scenario
	cat "$OUT" "$OUT.err" >&2
	read -r c d holder <"$DIR/pids"
	[ "$c" -eq "$d" ]
	run leaks
	[ "${#lines[@]}" -eq 1 ]
	l=${lines[0]}
	[ "$(jq -r .pid <<<"$l")" -eq "$holder" ]
	[ "$(jq -r .created_by <<<"$l")" = connect ]
	[ "$(jq -r .site <<<"$l")" = "created by connect(), stack unavailable: the creating process exited before it was seen" ]
	[ "$(jq -r '.stack | length' <<<"$l")" -eq 0 ]
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}
