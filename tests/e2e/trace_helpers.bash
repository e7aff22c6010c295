# closewait trace run as the trace tests run it: in a private mount
# namespace whose tracefs is unmounted first (trace mounts its own, and the
# host's mounts stay as they were), with --grace 1s --interval 200ms. Needs
# census_helpers (bg, wait_until, slack_ms, stop_pid); $OUT and $ERR set by
# the test's setup.

# tracing OPTION...: closewait trace in the background, JSON lines in $OUT,
# stderr in $ERR; sets TRACER. Returns once trace says it started (its
# programs attached: every creation from then on is seen).
tracing() {
	bg unshare -m sh -c \
		'umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug/tracing 2>/dev/null; exec "$@"' \
		trace "$CW" trace --grace 1s --interval 200ms "$@" >"$OUT" 2>"$ERR"
	TRACER=$LAST_PID
	wait_until "$(slack_ms 10000)" "grep -q '\"event\":\"started\"' '$OUT'"
}

# stop_tracer: SIGTERM, then its exit status in STOP_STATUS (0 expected).
stop_tracer() { stop_pid "$TRACER"; }

# tracing_on_pty D OPTION...: closewait trace on a terminal (tests/tools
# cw_pty) for D, all it draws in $OUT; sets PTY. Returns once it draws.
tracing_on_pty() {
	local d=$1
	shift
	"$T/cw_pty" never-typed x unshare -m "$CW" trace --grace 1s --interval 200ms --duration "$d" "$@" \
		>"$OUT" 2>&1 &
	PTY=$!
	BG_PIDS="$BG_PIDS $PTY"
	wait_until "$(slack_ms 10000)" "grep -q 'reporting CLOSE_WAIT after' '$OUT'"
}

leaks() { jq -c 'select(.event == "leak")' "$OUT" 2>/dev/null || true; }
nleaks() { leaks | wc -l; }
leak_of() { leaks | jq -c "select(.pid == $1)"; }
