#!/usr/bin/env bats
# The census's owner pass in one read (S29): the eBPF task_file iterator
# against the /proc walk. CLOSEWAIT_OWNERS=ebpf makes the iterator required
# (the command fails if it cannot be used), =proc forces the walk, so each
# run knows which path it took. Holders (owners_iter_holder.py) keep
# CLOSE_WAIT sockets in the ways owners are hard to get right: dup'ed fds,
# threads (one with an fd table of its own), a forked child, an fd passed by
# SCM_RIGHTS, a process in another pid namespace.

bats_require_minimum_version 1.5.0
load census_helpers

HOLDER=$BATS_TEST_DIRNAME/owners_iter_holder.py
# Each socket's owners, sockets by inode: what must not depend on the path.
OWNERS='[.sockets[] | {inode, state, local, owners: [.owners[] | {pid, fd, command, cgroup}]}] | sort_by(.inode)'

setup() {
	DIR=$BATS_TEST_TMPDIR
	SHELL_FDS=$(shell_fds $$)
}

teardown() {
	kill_bg
}

# holder NAME MODE PORT N [PREFIX...]: a holder (PREFIX: how to run it, e.g.
# in a namespace), its output in $DIR/NAME; waits for its "ready".
holder() {
	local name=$1 mode=$2 port=$3 n=$4
	shift 4
	bg "$@" python3 "$HOLDER" "$mode" "$port" "$n" >"$DIR/$name"
	wait_until "$(slack_ms 10000)" "grep -q '^ready' '$DIR/$name'"
	# unshare ignores SIGTERM while it waits for its child: kill_bg ends
	# the child (a holder's own child dies with it: PR_SET_PDEATHSIG)
	BG_PIDS="$BG_PIDS $(cat "/proc/$LAST_PID/task/$LAST_PID/children")"
}

# ready_pids NAME: the pids holder NAME printed.
ready_pids() { sed -n 's/^ready //p' "$DIR/$1"; }

# scan_with MODE OUT [ARGS...]: scan --json --all-owners --state all with
# CLOSEWAIT_OWNERS=MODE into OUT; fails unless it found CLOSE_WAIT (1).
scan_with() {
	local mode=$1 out=$2
	shift 2
	run env CLOSEWAIT_OWNERS="$mode" "$CW" scan --json --all-owners --state all "$@"
	[ "$status" -eq 1 ] || { echo "scan ($mode) exited $status: $output" >&2; return 1; }
	printf '%s\n' "$output" >"$out"
}

# owners_at OUT PORT: the owners of the CLOSE_WAIT sockets on local PORT,
# one socket a line ("pid:fd pid:fd"), sorted.
owners_at() {
	jq -r --arg p ":$2" '.sockets[] | select(.state == "close-wait" and (.local | endswith($p)))
		| [.owners[] | "\(.pid):\(.fd)"] | join(" ")' "$1" | sort
}

@test "scan: the same owners from the eBPF iterator and from /proc, with dup'ed fds, threads, a forked child, an fd passed by SCM_RIGHTS and a process in another pid namespace" {
	holder plain plain 7101 3
	holder dup dup 7102 2
	holder threads threads 7103 2
	holder fork fork 7104 2
	holder pidns plain 7105 2 unshare -p -f --mount-proc --kill-child
	scan_with ebpf "$DIR/ebpf.json"
	scan_with proc "$DIR/proc.json"
	jq -S "$OWNERS" "$DIR/proc.json" >"$DIR/proc.owners"
	jq -S "$OWNERS" "$DIR/ebpf.json" >"$DIR/ebpf.owners"
	diff "$DIR/proc.owners" "$DIR/ebpf.owners"
	# and what they agree on is right
	p=$(ready_pids plain)
	[ "$(owners_at "$DIR/ebpf.json" 7101 | grep -c "^$p:[0-9]*$")" -eq 3 ]
	d=$(ready_pids dup)
	[ "$(owners_at "$DIR/ebpf.json" 7102 | grep -c "^$d:[0-9]* $d:[0-9]*$")" -eq 2 ]
	t=$(ready_pids threads)
	# one owner per socket (the process, not each thread); the socket in the
	# table the fourth thread unshared is not in /proc/PID/fd: no owner
	[ "$(owners_at "$DIR/ebpf.json" 7103 | grep -c "^$t:[0-9]*$")" -eq 2 ]
	[ "$(owners_at "$DIR/ebpf.json" 7103 | grep -c '^$')" -eq 1 ]
	read -r parent child < <(ready_pids fork)
	[ "$(owners_at "$DIR/ebpf.json" 7104 | grep -c "^$parent:[0-9]* $child:[0-9]*$")" -eq 2 ]
	[ "$(owners_at "$DIR/ebpf.json" 7104 | grep -c "^$child:[0-9]*$")" -eq 1 ]
	# the other pid namespace's holder, by the pid this /proc gives it
	inner=$(cat "/proc/$LAST_PID/task/$LAST_PID/children")
	inner=${inner% }
	[ "$(owners_at "$DIR/ebpf.json" 7105 | grep -c "^$inner:[0-9]*$")" -eq 2 ]
	[ "$(jq -c '[.owners_partial, .unreadable_processes]' "$DIR/ebpf.json")" = "[false,0]" ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "CLOSEWAIT_OWNERS says which path runs: a process whose /proc/PID/fd is hidden has owners from the iterator only (scan, export); watch, which loads it once, uses it by default" {
	holder plain plain 7111 2
	p=$(ready_pids plain)
	mkdir "$DIR/empty"
	# hidden in a mount namespace of the test's own
	masked() {
		unshare -m bash -c 'mount --bind "$1" "/proc/$2/fd" && shift 2 && exec "$@"' masked "$DIR/empty" "$p" "$@"
	}
	run masked env CLOSEWAIT_OWNERS=proc "$CW" scan --json --all-owners
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >"$DIR/proc.json"
	[ "$(owners_at "$DIR/proc.json" 7111)" = "$(printf '\n')" ]
	run masked env CLOSEWAIT_OWNERS=ebpf "$CW" scan --json --all-owners
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" >"$DIR/ebpf.json"
	[ "$(owners_at "$DIR/ebpf.json" 7111 | grep -c "^$p:[0-9]*$")" -eq 2 ]
	# watch (two rounds: the iterator read twice) with no switch
	run masked env -u CLOSEWAIT_OWNERS "$CW" watch --json --count 2 --interval 100ms
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | jq -s "[.[].processes[] | select(.pid == $p)] | length")" -eq 2 ]
	run masked env CLOSEWAIT_OWNERS=proc "$CW" watch --json --count 1 --interval 100ms
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | jq -s "[.[].processes[] | select(.pid == $p)] | length")" -eq 0 ]
	# export: the owner in the metrics' labels
	mkdir "$DIR/tf"
	run masked env CLOSEWAIT_OWNERS=ebpf "$CW" export --textfile "$DIR/tf" --once
	[ "$status" -eq 0 ]
	grep -qx 'closewait_close_wait_sockets{owner="process",command="python3"} 2' "$DIR/tf/closewait.prom"
	run masked env CLOSEWAIT_OWNERS=proc "$CW" export --textfile "$DIR/tf" --once
	[ "$status" -eq 0 ]
	grep -qx 'closewait_close_wait_sockets{owner="unknown"} 2' "$DIR/tf/closewait.prom"
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "in a pid namespace with its own /proc the iterator names processes as that /proc does" {
	holder outer plain 7121 1
	inside() {
		python3 "$HOLDER" plain 7122 2 >"$DIR/inner" &
		wait_until "$(slack_ms 10000)" "grep -q '^ready' '$DIR/inner'"
		CLOSEWAIT_OWNERS=ebpf "$CW" scan --json --all-owners --state all >"$DIR/ebpf.json" || true
		CLOSEWAIT_OWNERS=proc "$CW" scan --json --all-owners --state all >"$DIR/proc.json" || true
		kill %1
	}
	export -f inside wait_until slack_ms
	export DIR HOLDER CW
	unshare -p -f --mount-proc bash -c 'set -e; inside' 3>&-
	jq -S "$OWNERS" "$DIR/proc.json" >"$DIR/proc.owners"
	jq -S "$OWNERS" "$DIR/ebpf.json" >"$DIR/ebpf.owners"
	diff "$DIR/proc.owners" "$DIR/ebpf.owners"
	inner=$(ready_pids inner)
	[ "$inner" -lt 10 ]
	[ "$(owners_at "$DIR/ebpf.json" 7122 | grep -c "^$inner:[0-9]*$")" -eq 2 ]
	# the holder outside is out of this namespace's sight
	[ "$(owners_at "$DIR/ebpf.json" 7121)" = "$(printf '\n')" ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "where the iterator cannot be used (no CAP_BPF, a /proc of another pid namespace) CLOSEWAIT_OWNERS=ebpf fails and the default takes /proc" {
	holder plain plain 7131 2
	p=$(ready_pids plain)
	nobpf() { capsh --drop=cap_bpf,cap_perfmon,cap_sys_admin -- -c '"$@"' nobpf "$@"; }
	run nobpf env CLOSEWAIT_OWNERS=ebpf "$CW" scan --json
	[ "$status" -eq 2 ]
	[[ "$output" == *"CLOSEWAIT_OWNERS=ebpf: cannot list socket owners with eBPF: "*"CAP_BPF"* ]]
	run nobpf "$CW" watch --json --count 1 --interval 100ms
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | jq "[.processes[] | select(.pid == $p)] | length")" -eq 1 ]
	# unshare --pid without a /proc of its own: the iterator would name
	# processes by the new namespace's pids, /proc by the old one's
	run unshare -p -f env CLOSEWAIT_OWNERS=ebpf "$CW" scan --json
	[ "$status" -eq 2 ]
	[[ "$output" == *"/proc is not this process's pid namespace's"* ]]
	run unshare -p -f "$CW" watch --json --count 1 --interval 100ms
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | jq "[.processes[] | select(.pid == $p)] | length")" -eq 1 ]
	run env CLOSEWAIT_OWNERS=bpf "$CW" scan
	[ "$status" -eq 2 ]
	[[ "$output" == *"CLOSEWAIT_OWNERS=bpf: expected auto, proc or ebpf"* ]]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "reap --pid --yes with the iterator ends that process's CLOSE_WAIT sockets and no other's" {
	holder one plain 7141 2
	holder two plain 7142 2
	p=$(ready_pids one)
	run env CLOSEWAIT_OWNERS=ebpf "$CW" reap --pid "$p" --yes --json
	[ "$status" -eq 0 ]
	wait_until "$(slack_ms 5000)" "[ \"\$(count_state close-wait '( sport = :7141 )')\" -eq 0 ]"
	[ "$(count_state close-wait '( sport = :7142 )')" -eq 2 ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}
