# Shared by the guard tests (guard*.bats): programs run under `closewait
# guard --grace 2s --interval 1s --report $REPORT`.
#
# Sanitizer pass: the guard library is never instrumented (an instrumented
# preload library cannot load into plain programs); an instrumented target
# (the test tools) gets libasan preloaded first.

load census_helpers

GRACE_MS=2000
INTERVAL_MS=1000

# guard_env PROGRAM: the LD_PRELOAD PROGRAM needs before the guard's:
# libasan for an instrumented one, else nothing.
guard_env() {
	if ldd "$(command -v "$1")" 2>/dev/null | grep -q libasan; then
		gcc -print-file-name=libasan.so
	fi
}

# guarded OPTION... -- PROGRAM ARGS...: PROGRAM under the guard with OPTIONS,
# in the background; sets GUARDED (its pid: the guard execs the program); its
# output goes to $BATS_TEST_TMPDIR/guarded.log. A caller's GUARD_WRAP array,
# when set, is a command that runs the guard (and must exec it).
guarded() {
	local -a args=()
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	shift
	LD_PRELOAD=$(guard_env "$1") bg ${GUARD_WRAP[@]+"${GUARD_WRAP[@]}"} "$CW" guard --grace 2s \
		--interval 1s --report "$REPORT" "${args[@]}" -- "$@" >"$BATS_TEST_TMPDIR/guarded.log" 2>&1
	GUARDED=$LAST_PID
}

# under_guard PROGRAM ARGS...: PROGRAM under the guard, in the foreground.
under_guard() {
	LD_PRELOAD=$(guard_env "$1") "$CW" guard --grace 2s --interval 1s --report "$REPORT" -- "$@"
}

# reports: the close-wait reports so far, one JSON object per line.
reports() { jq -c 'select(.event == "close-wait")' "$REPORT" 2>/dev/null || true; }
nreports() { reports | wc -l; }
