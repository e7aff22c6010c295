# A bpf file system of the test's own, so that tests running at once cannot
# see each other's pins: mounted in a mount namespace that a sleeping
# process holds (HOLDER), entered with nsenter. Needs census_helpers (bg,
# wait_until, slack_ms); kill_bg in teardown ends the holder.

# private_bpffs: mounts it; sets HOLDER.
private_bpffs() {
	bg unshare -m sh -c 'mount -t bpf bpf /sys/fs/bpf && exec sleep 1000000'
	HOLDER=$LAST_PID
	wait_until "$(slack_ms 5000)" '[ "$(stat -f -c %T /proc/$HOLDER/root/sys/fs/bpf)" = bpf_fs ]'
}

# inns CMD...: CMD in the test's mount namespace. In the background, call
# nsenter itself (it execs CMD: $! is CMD's pid), not this function (a subshell).
inns() { nsenter -t "$HOLDER" -m "$@"; }
