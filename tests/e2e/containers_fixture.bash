# Namespaces and cgroups of the containers tests (containers_*.bats), as a
# Kubernetes node or a Docker host has them. Each file calls fx_init in
# setup_file and fx_cleanup in teardown_file; its last test runs fx_cleanup
# itself and checks with fx_check_gone that nothing is left behind.
#
# What a file makes is recorded under $FX_DIR (its processes in pids, its
# /run/netns names in netns), so that fx_cleanup, run from setup_file's
# process, a test's, or teardown_file's, finds all of it. Other tests run in
# parallel and --all-netns sees the whole host: assert on the namespaces,
# pids, pod uids and container ids made here, never on totals.
#
# Exported by fx_init for the tests: FX_RUN (this run's id: setup_file's
# pid), FX_DIR, and with --cgroups CG_MOUNT (the cgroup2 mount) and
# CG_PARENT ($CG_MOUNT/closewait-test-$FX_RUN: the one parent of every cgroup
# the file makes). No test writes to a cgroup v1 controller.

load census_helpers

# The cgroup2 mount point, from /proc/self/mountinfo (field 5; the type
# follows the " - " separator): /sys/fs/cgroup/unified on a hybrid layout,
# /sys/fs/cgroup on a systemd host. Empty when there is none.
fx_cgroup2_mount() {
	awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
		/proc/self/mountinfo | head -n1
}

fx_hex64() { od -An -vtx1 -N32 /dev/urandom | tr -d ' \n'; }
fx_uuid() { cat /proc/sys/kernel/random/uuid; }
# fx_netns_ino PID: the inode of PID's network namespace (what scan's netns says).
fx_netns_ino() { stat -L -c %i "/proc/$1/ns/net"; }

# fx_init [--cgroups]: this file's state directory and, with --cgroups, its
# cgroup parent. Without a writable cgroup2 the cgroup tests fail, saying why.
fx_init() {
	export FX_RUN=$$ FX_DIR=$BATS_FILE_TMPDIR/fx
	mkdir -p "$FX_DIR"
	: >"$FX_DIR/pids"
	: >"$FX_DIR/netns"
	fx_write_join
	fx_reap_stale
	[ "${1:-}" = --cgroups ] || return 0
	CG_MOUNT=$(fx_cgroup2_mount)
	if [ -z "$CG_MOUNT" ]; then
		echo "no cgroup2 mount in /proc/self/mountinfo: these tests need a writable cgroup2 (cgroup v1 controllers are never written to)" >&2
		return 1
	fi
	export CG_MOUNT CG_PARENT=$CG_MOUNT/closewait-test-$FX_RUN
	if ! mkdir "$CG_PARENT"; then
		echo "cannot create $CG_PARENT: these tests need a writable cgroup2 (run as root, cgroup2 mounted read-write)" >&2
		return 1
	fi
}

# $FX_DIR/fx-join CGROUP|- NETNS CMD...: joins CGROUP (a directory of the
# cgroup2 tree) before anything else, so that every socket CMD makes carries
# it, then runs CMD in NETNS: "new" (a new network namespace, loopback up;
# the process itself is what keeps it), a pid (that process's namespace), or
# "-" (this one). Always exec: the pid fx_bg reports is CMD's.
fx_write_join() {
	cat >"$FX_DIR/fx-join" <<'EOF'
#!/bin/sh
cg=$1 ns=$2
shift 2
if [ "$cg" != - ]; then
	echo $$ >"$cg/cgroup.procs" || { echo "fx-join: cannot join $cg" >&2; exit 97; }
fi
case $ns in
-) exec "$@" ;;
new) exec unshare -n -- "$0" - lo "$@" ;;
lo) ip link set lo up || exit 98; exec "$@" ;;
*) exec nsenter -t "$ns" -n -- "$@" ;;
esac
EOF
	chmod +x "$FX_DIR/fx-join"
}

# fx_cgroup REL: makes $CG_PARENT/REL (and its parents).
fx_cgroup() { mkdir -p "$CG_PARENT/$1"; }

# fx_bg NAME CGROUP_REL|- NETNS CMD...: starts CMD in the background through
# fx-join (CGROUP_REL under $CG_PARENT), output in $FX_DIR/NAME.log, its pid
# recorded for fx_cleanup; sets FX_PID. fd 3 (bats') is closed so that bats
# does not wait for it.
fx_bg() {
	local name=$1 cg=$2 ns=$3
	shift 3
	[ "$cg" = - ] || cg=$CG_PARENT/$cg
	"$FX_DIR/fx-join" "$cg" "$ns" "$@" >"$FX_DIR/$name.log" 2>&1 3>&- &
	FX_PID=$!
	echo "$FX_PID $name" >>"$FX_DIR/pids"
}

# fx_ss PID ARGS...: ss -Htan in PID's network namespace.
fx_ss() {
	local pid=$1
	shift
	nsenter -t "$pid" -n ss -Htan "$@"
}
# fx_count PID STATE FILTER: sockets in STATE matching FILTER in PID's namespace.
fx_count() { fx_ss "$1" state "$2" "$3" | wc -l; }
# fx_wait_count PID N STATE FILTER: until exactly N (10 s at most, times CW_TEST_SLACK).
fx_wait_count() {
	local pid=$1 n=$2
	shift 2
	if wait_until "$(slack_ms 10000)" "[ \"\$(fx_count $pid $1 '$2')\" -eq $n ]"; then
		return 0
	fi
	echo "pid $pid's namespace: $(fx_count "$pid" "$1" "$2") sockets in $1 ($2), want $n" >&2
	return 1
}
# fx_wait_listen PID PORT: until something listens on PORT in PID's namespace.
fx_wait_listen() {
	if wait_until "$(slack_ms 5000)" "[ -n \"\$(nsenter -t $1 -n ss -Htln 'sport = :$2')\" ]"; then
		return 0
	fi
	echo "nothing listens on $2 in pid $1's namespace; its log:" >&2
	cat "$FX_DIR"/*.log >&2
	return 1
}
# fx_wait_ready NAME: until NAME's log has cwt-nsleak's "ready INODE TID";
# sets READY_INO and READY_TID.
fx_wait_ready() {
	if ! wait_until "$(slack_ms 5000)" "grep -q '^ready ' '$FX_DIR/$1.log'"; then
		echo "$1 is not ready; its log:" >&2
		cat "$FX_DIR/$1.log" >&2
		return 1
	fi
	read -r _ READY_INO READY_TID <"$FX_DIR/$1.log"
}

# fx_leak PID PORT N: N clients, in PID's namespace, exchange one message
# with the leaky server on PORT and close; waits until N more of its
# sockets are in CLOSE_WAIT.
fx_leak() {
	local pid=$1 port=$2 n=$3 before
	before=$(fx_count "$pid" close-wait "sport = :$port")
	nsenter -t "$pid" -n "$T/cw_clients" 127.0.0.1 "$port" "$n" --send hello >/dev/null
	fx_wait_count "$pid" $((before + n)) close-wait "sport = :$port"
}

# fx_ipnetns SUFFIX: a /run/netns name of this run (closewait-test-RUN-SUFFIX),
# made with `ip netns add` (no process in it), recorded; sets FX_NETNS.
fx_ipnetns() {
	FX_NETNS=closewait-test-$FX_RUN-$1
	ip netns add "$FX_NETNS"
	echo "$FX_NETNS" >>"$FX_DIR/netns"
}

# fx_gone PID: no such process any more (a zombie counts as gone: it holds
# no namespace, no fd, no cgroup).
fx_gone() {
	local st
	st=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 0
	[ -z "$st" ] || [ "$st" = Z ]
}

# fx_cg_remove DIR: kills whatever is left in the subtree (cgroup.kill,
# Linux 5.14; else each pid of each cgroup.procs), waits until it is empty,
# then removes its directories bottom-up.
fx_cg_remove() {
	local d=$1 f
	[ -d "$d" ] || return 0
	if [ -e "$d/cgroup.kill" ]; then
		echo 1 >"$d/cgroup.kill" 2>/dev/null || true
	else
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
	fi
	wait_until 5000 "grep -qx 'populated 0' '$d/cgroup.events'" || true
	find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
}

# fx_cleanup: every process this file started (TERM, then KILL after 3 s),
# whatever is left in its cgroups, its cgroups, its /run/netns names. The
# namespaces themselves go with the last thing that held them: processes,
# threads, fds, sockets, mounts (the one made in a private mount namespace
# goes with that namespace's last process). Safe to run twice.
fx_cleanup() {
	local pid name n
	if [ -z "${FX_DIR:-}" ] || [ ! -d "$FX_DIR" ]; then
		return 0
	fi
	while read -r pid name; do kill -TERM "$pid" 2>/dev/null || true; done <"$FX_DIR/pids"
	while read -r pid name; do
		wait_until 3000 "fx_gone $pid" || kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done <"$FX_DIR/pids"
	[ -z "${CG_PARENT:-}" ] || fx_cg_remove "$CG_PARENT"
	while read -r n; do ip netns del "$n" 2>/dev/null || true; done <"$FX_DIR/netns"
	return 0
}

# fx_reap_stale: what an earlier run that was killed (a CTest timeout) left
# behind: closewait-test-PID cgroups and /run/netns names whose PID is gone.
# A run still alive is left alone.
fx_reap_stale() {
	local d pid m n
	m=$(fx_cgroup2_mount)
	if [ -n "$m" ]; then
		for d in "$m"/closewait-test-*; do
			[ -d "$d" ] || continue
			pid=${d##*-}
			kill -0 "$pid" 2>/dev/null || fx_cg_remove "$d"
		done
	fi
	for n in $(ip netns list 2>/dev/null | awk '$1 ~ /^closewait-test-[0-9]+-/ { print $1 }'); do
		pid=${n#closewait-test-}
		pid=${pid%%-*}
		kill -0 "$pid" 2>/dev/null || ip netns del "$n" 2>/dev/null || true
	done
}

# fx_check_gone: after fx_cleanup, nothing of this run is left: no process it
# started, no cgroup, no /run/netns name, no mount of its files.
fx_check_gone() {
	local pid name
	while read -r pid name; do
		echo "checking $name ($pid) is gone" >&2
		fx_gone "$pid"
	done <"$FX_DIR/pids"
	if [ -n "${CG_PARENT:-}" ]; then
		[ ! -e "$CG_PARENT" ]
	fi
	[ "$(ip netns list | grep -c "^closewait-test-$FX_RUN-" || true)" -eq 0 ]
	[ "$(grep -c " $FX_DIR" /proc/self/mountinfo || true)" -eq 0 ]
}
