# A bpf file system of the test's own, so that tests running at once cannot
# see each other's pins: mounted in a mount namespace that a sleeping
# process holds (HOLDER), entered with nsenter. Needs census_helpers (bg,
# wait_until, slack_ms, shell_fds); kill_bg in teardown ends the holder.

# where closewait trace --pin NAME pins, and scan, watch and export look
ROOT=/sys/fs/bpf/closewait
# without CAP_BPF: nobody, no capability at all (setpriv's options)
NOBODY=(--reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all)

# private_bpffs: mounts it; sets HOLDER.
private_bpffs() {
	bg unshare -m sh -c 'mount -t bpf bpf /sys/fs/bpf && exec sleep 1000000'
	HOLDER=$LAST_PID
	wait_until "$(slack_ms 5000)" '[ "$(stat -f -c %T /proc/$HOLDER/root/sys/fs/bpf)" = bpf_fs ]'
}

# A test's setup: trace's JSON lines go to $OUT and its stderr to $ERR, the
# shell's fds are noted (SHELL_FDS) before its own bpffs is mounted.
setup() {
	OUT=$BATS_TEST_TMPDIR/trace.json
	ERR=$BATS_TEST_TMPDIR/trace.err
	SHELL_FDS=$(shell_fds $$)
	private_bpffs
}

teardown() {
	kill_bg
}

# pinned NAME [OPTION...]: closewait trace --pin NAME in the background in
# the test's mount namespace (--grace 1s, --interval 200ms: an OPTION given
# again wins), JSON lines in $OUT, stderr in $ERR; sets TRACER once its
# programs are attached.
pinned() {
	local name=$1
	shift
	bg nsenter -t "$HOLDER" -m "$CW" trace --pin "$name" --grace 1s --interval 200ms "$@" >"$OUT" 2>"$ERR"
	TRACER=$LAST_PID
	wait_until "$(slack_ms 10000)" "grep -q '\"event\":\"started\"' '$OUT'"
}

# inns CMD...: CMD in the test's mount namespace. In the background, call
# nsenter itself (it execs CMD: $! is CMD's pid), not this function (a subshell).
inns() { nsenter -t "$HOLDER" -m "$@"; }
