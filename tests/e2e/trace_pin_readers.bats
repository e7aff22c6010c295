#!/usr/bin/env bats
# watch and export read closewait trace --pin's pins as scan does (S29):
# the oldest CLOSE_WAIT age of a group is exact where the kernel's times
# give a range; without CAP_BPF watch says once (not each census) that the
# pins are not readable. As in trace_pin.bats: a private bpffs in a mount
# namespace held by a sleeping process, entered with nsenter, and a leaky
# server whose keepalive probes, answered after the FIN, make its socket's
# age a range.

bats_require_minimum_version 1.5.0
load census_helpers
load bpffs_fixture

# watch_json [SETPRIV OPTION...]: one census of watch for port 8500, its
# JSON line on stdout, stderr in $BATS_TEST_TMPDIR/watch.err.
watch_json() {
	local -a priv=()
	[ $# -eq 0 ] || priv=(setpriv "$@")
	inns ${priv[@]+"${priv[@]}"} "$CW" watch --json --count 1 --port 8500 \
		2>"$BATS_TEST_TMPDIR/watch.err" || true
}

# oldest_metric: export's oldest age for port 8500, from a textfile written once.
oldest_metric() {
	inns "$CW" export --textfile "$BATS_TEST_TMPDIR" --once --port 8500 2>"$BATS_TEST_TMPDIR/export.err"
	sed -n 's/^closewait_close_wait_oldest_min_age_seconds{.*} //p' "$BATS_TEST_TMPDIR/closewait.prom"
}

@test "with --pin, watch --json and export give the exact age of a group's oldest socket (a range without the pins); without CAP_BPF watch says once, over three censuses, that the pins are not readable" {
	leak_server 8500 --keepalive 1:1:2
	pinned r1 --grace 1h --json
	out=$("$T/cw_clients" 127.0.0.1 8500 1 --send hello)
	read -r _ _ c1 <<<"$out"
	# the kernel's times alone: a range
	wait_until "$(slack_ms 8000)" '[ "$(watch_json "${NOBODY[@]}" | jq -r ".processes[0].oldest_exact")" = false ]'
	without=$(inns "$CW" export --textfile "$BATS_TEST_TMPDIR" --once --port 8500 2>/dev/null && sed -n 's/^closewait_close_wait_oldest_min_age_seconds{.*} //p' "$BATS_TEST_TMPDIR/closewait.prom")
	t0=$(now_ms)
	with=$(watch_json)
	metric=$(oldest_metric)
	echo "watch with pins: $with; export: $metric, without pins: $without" >&2
	cat "$BATS_TEST_TMPDIR/watch.err" "$BATS_TEST_TMPDIR/export.err" >&2
	[ "$(jq -r '.processes | length' <<<"$with")" -eq 1 ]
	[ "$(jq -r '.processes[0].pid' <<<"$with")" -eq "$leak" ]
	[ "$(jq -r '.processes[0].oldest_exact' <<<"$with")" = true ]
	# watch's range is the census's own duration wide: the entry time is
	# exact, and came at most 20 ms after the client's close
	[ "$(jq -r '(.processes[0].oldest_max - .processes[0].oldest_min) * 1000 | floor' <<<"$with")" -lt 1000 ]
	[ "$(jq -r '.processes[0].oldest_max * 1000 | floor' <<<"$with")" -ge $((t0 - c1 - $(slack_ms 20))) ]
	[ ! -s "$BATS_TEST_TMPDIR/watch.err" ]
	# export: the exact age, above the range's lower bound
	[ -n "$metric" ]
	[ -n "$without" ]
	awk -v a="$metric" -v t="$((t0 - c1 - $(slack_ms 20)))" 'BEGIN { exit !(a * 1000 >= t) }'
	awk -v a="$metric" -v b="$without" 'BEGIN { exit !(a > b) }'
	[ ! -s "$BATS_TEST_TMPDIR/export.err" ]
	# without CAP_BPF: said once for three censuses
	inns setpriv "${NOBODY[@]}" "$CW" watch --json --count 3 --interval 100ms --port 8500 \
		>/dev/null 2>"$BATS_TEST_TMPDIR/watch3.err" || true
	cat "$BATS_TEST_TMPDIR/watch3.err" >&2
	[ "$(grep -c 'closewait watch: the pins of closewait trace in /sys/fs/bpf/closewait are not readable without CAP_BPF' "$BATS_TEST_TMPDIR/watch3.err")" -eq 1 ]
	stop_pid "$TRACER"
	[ "$STOP_STATUS" -eq 0 ]
	[ "$(fd_count "$leak")" -eq $((base + 1)) ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}
