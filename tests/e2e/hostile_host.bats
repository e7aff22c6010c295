#!/usr/bin/env bats
# A hostile host: scan and reap while processes exit mid-walk and their
# pids are reused, with /proc/PID/fd directories scan may not read, and
# with thousands of processes alive. The races run in a pid namespace of
# the test's own (unshare --pid --mount-proc): only its processes take pids
# there, so a small pid_max makes pids come round again within a second,
# and ns_last_pid gives a new process the pid of one that just exited.
# Each CLOSE_WAIT socket is made by tests/tools/proc_churn and held by one
# child of it, at fd 10, its peer end orphaned in FIN_WAIT_2.
#
# CW_HOSTILE_PROCS sets how many processes the crowd test starts (5000 by
# default; a soak run gives 20000): it first checks that twice as many pids
# are free under kernel.pid_max.

load reap_helpers

PROCS=${CW_HOSTILE_PROCS:-5000}

setup() {
	SHELL_FDS=$(shell_fds $$)
	HOLDERS=
}

teardown() {
	for p in $HOLDERS; do kill -KILL "$p" 2>/dev/null || true; done
	kill_bg
}

# in_pidns FUNC: runs FUNC (a function of this file) in a new pid namespace
# with its own /proc, in $BATS_TEST_TMPDIR, under `set -e`: bash is its pid 1
# (it reaps the holders it inherits), and every process left there is
# killed when FUNC returns. The checks are made here, on the files it wrote.
in_pidns() {
	CW=$CW T=$T D=$BATS_TEST_TMPDIR unshare --pid --fork --mount-proc --kill-child \
		bash -c "$(declare -f wait_until slack_ms fd_count holder listed_pid_reused "$1"); set -e; cd \"\$D\"; $1"
}

# holder NAME FD [port P] [at PID] [nodump]: a process holding one CLOSE_WAIT
# socket at FD (proc_churn hold); sets H_PID and H_INO.
holder() {
	local out
	out=$("$T/proc_churn" hold "$@")
	read -r _ H_PID H_INO <<<"$out"
}

# ---- pid reuse between selection and action

# Two holders A and B; reap lists their sockets and asks on a terminal
# (script gives it one); while it waits for the answer, A is killed and a
# new process C takes A's pid, a socket of its own at the same fd, and the
# same name; then the answer comes.
reuse_at_prompt() {
	holder cw-reuse 10
	pa=$H_PID ia=$H_INO
	holder cw-reuse 10
	pb=$H_PID ib=$H_INO
	fb=$(fd_count "$pb")
	mkfifo answer
	exec 8<>answer
	script -qfec "$CW reap --comm cw-reuse" /dev/null <answer >reap.out &
	rp=$!
	wait_until 10000 'grep -qF "[y/N]" reap.out'
	kill -KILL "$pa"
	wait_until 5000 "[ ! -e /proc/$pa ]"
	holder cw-reuse 10 at "$pa"
	ic=$H_INO
	fc=$(fd_count "$pa")
	echo y >&8
	st=0
	wait "$rp" || st=$?
	echo "$pa $ia $pb $ib $ic $st" >ids
	echo "$(readlink "/proc/$pa/fd/10") $(fd_count "$pa") $fc $(fd_count "$pb") $fb" >after
	ss -Htane state close-wait >cw.after
}

@test "reap on its prompt while the owner exits and its pid is reused (same fd, same name, another socket): the new socket is refused as replaced and untouched; exit 0 as documented" {
	in_pidns reuse_at_prompt
	cd "$BATS_TEST_TMPDIR"
	cat reap.out
	read -r pa ia pb ib ic st <ids
	# the plan named A's socket, by pid and fd
	[ "$(grep -c " $pa  *10  *cw-reuse  *to-reap " reap.out)" -eq 1 ]
	# after the answer: A's row refused, naming both inodes; B's reaped
	[ "$(grep -c " $pa  *10  *cw-reuse  *replaced  *fd 10 now holds another socket (inode $ic), not the one selected (inode $ia): not touched" reap.out)" -eq 1 ]
	[ "$(grep -c " $pb  *10  *cw-reuse  *clean " reap.out)" -eq 1 ]
	grep -q "Reaped (mode fin): 1 of 2 selected: 1 clean, 0 reset, 0 unanswered; 1 skipped; 0 failed." reap.out
	[ "$st" -eq 0 ]
	# C's socket: still CLOSE_WAIT, still C's fd 10; C and B hold the fds they had
	read -r link fc_after fc fb_after fb <after
	[ "$link" = "socket:[$ic]" ]
	[ "$(grep -c "ino:$ic " cw.after)" -eq 1 ]
	[ "$(grep -c "ino:$ib " cw.after)" -eq 0 ]
	[ "$fc_after" -eq "$fc" ]
	[ "$fb_after" -eq "$fb" ]
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

# The same with --yes, where finding the owners and acting overlap: the test
# build's seam (CW_REAP_PAUSE) holds reap after it read A's fds, before it
# duplicates the socket.
reuse_at_seam() {
	holder cw-reuse 10
	pa=$H_PID ia=$H_INO
	CW_REAP_PAUSE=$PWD/seam "$T/cw_reap_seam" reap --pid "$pa" --yes --json >reap.json &
	rp=$!
	wait_until 10000 '[ -e seam.paused ]'
	kill -KILL "$pa"
	wait_until 5000 "[ ! -e /proc/$pa ]"
	holder cw-reuse 10 at "$pa"
	ic=$H_INO
	fc=$(fd_count "$pa")
	touch seam.go
	st=0
	wait "$rp" || st=$?
	echo "$pa $ia $ic $st" >ids
	echo "$(readlink "/proc/$pa/fd/10") $(fd_count "$pa") $fc" >after
	ss -Htane state close-wait >cw.after
}

@test "reap --yes (walk and action overlap) paused after reading the owner's fds, the owner exits and its pid is reused: replaced, untouched, exit 0" {
	in_pidns reuse_at_seam
	cd "$BATS_TEST_TMPDIR"
	cat reap.json
	read -r pa ia ic st <ids
	[ "$st" -eq 0 ]
	[ "$(jq -r '.sockets | length' reap.json)" -eq 1 ]
	[ "$(jq -r '.sockets[0] | "\(.pid) \(.fd) \(.inode) \(.result) \(.outcome)"' reap.json)" = "$pa 10 $ia replaced skipped" ]
	jq -r '.sockets[0].detail' reap.json | grep -qF "fd 10 now holds another socket (inode $ic)"
	[ "$(jq .failed reap.json)" -eq 0 ]
	[ "$(jq .handled reap.json)" -eq 0 ]
	read -r link fc_after fc <after
	[ "$link" = "socket:[$ic]" ]
	[ "$(grep -c "ino:$ic " cw.after)" -eq 1 ]
	[ "$fc_after" -eq "$fc" ]
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

# ---- processes exiting mid-walk, pids reused

# listed_pid_reused: one of the pids in prompt.pids is a live churner again
# (their first owners have exited by then).
listed_pid_reused() {
	local p
	for p in $(cat prompt.pids); do
		if [ "$(cut -d' ' -f2,3 "/proc/$p/stat" 2>/dev/null)" = "(cw-churn) S" ]; then
			return 0
		fi
	done
	return 1
}

# pid_max 500: past the first 300 (kept for the first processes), pids go
# round every 200 forks. Eight stable holders, four before the churn (low
# pids) and four while it runs (high pids, among the churners'); proc_churn churn
# keeps 16 processes holding sockets, each exiting within 20 ms. 50 scans;
# then reap of the churners' sockets with --yes; then reap of them on its
# prompt, answered once every socket it listed is closed (its owner exited,
# its pid free or taken by another, one at least by another churner); then
# reap of the stable ones.
churn_walks() {
	echo 500 >/proc/sys/kernel/pid_max
	for i in 1 2 3 4; do
		holder cw-stable 10
		echo "$H_PID 10 $H_INO" >>stable
	done
	"$T/proc_churn" churn cw-churn 20000 16 20 >churn.out &
	cp=$!
	wait_until 5000 '[ "$(pgrep -c -x cw-churn)" -ge 10 ]'
	# the later four near the top of the pid range: most churners' pids
	# are below theirs, and the walk reads pids in ascending order
	wait_until 5000 '[ "$(sh -c "echo \$\$")" -ge 440 ]'
	for i in 1 2 3 4; do
		holder cw-stable 10
		echo "$H_PID 10 $H_INO" >>stable
	done
	while read -r p _; do fd_count "$p"; done <stable >fds.before
	t0=$(date +%s%N)
	for n in $(seq 10 59); do
		st=0
		"$CW" scan --json >"scan.$n.json" 2>"scan.$n.err" || st=$?
		echo "$st" >>scan.status
	done
	echo $((($(date +%s%N) - t0) / 1000000)) >scan.ms
	st=0
	"$CW" reap --comm cw-churn --yes --json >reap.churn.json 2>reap.churn.err || st=$?
	echo "$st" >reap.churn.status
	mkfifo answer
	exec 8<>answer
	# (again while it finds none alive: churners live 20 ms at most)
	for try in $(seq 1 20); do
		script -qfec "$CW reap --comm cw-churn" /dev/null <answer >reap.prompt.out &
		rp=$!
		wait_until 10000 'grep -qF "[y/N]" reap.prompt.out || ! kill -0 $rp'
		if grep -qF "[y/N]" reap.prompt.out; then
			break
		fi
		wait "$rp" || true
	done
	echo "$try" >prompt.tries
	# the pairs it listed (LOCAL PEER), until none is in CLOSE_WAIT any more,
	# and until one of the pids it listed is another churner's
	awk '/ to-reap / { print "src " $1 " dst " $2 }' reap.prompt.out | sort -u >prompt.pairs
	awk '/ to-reap / { print $5 }' reap.prompt.out | sort -u >prompt.pids
	wait_until 5000 '[ "$(ss -Htan state close-wait | awk "{ print \"src \" \$4 \" dst \" \$5 }" | grep -cxF -f prompt.pairs)" -eq 0 ]'
	wait_until 10000 listed_pid_reused
	echo y >&8
	st=0
	wait "$rp" || st=$?
	echo "$st" >reap.prompt.status
	ss -Htane state close-wait >cw.mid
	st=0
	"$CW" reap --comm cw-stable --yes --json >reap.stable.json 2>reap.stable.err || st=$?
	echo "$st" >reap.stable.status
	kill -TERM "$cp"
	wait "$cp"
	while read -r p _; do fd_count "$p"; done <stable >fds.after
}

@test "scan and reap while processes holding sockets exit mid-walk and their pids are reused: every scan valid, exit 1 (CLOSE_WAIT present), each stable owner always found; reap exits 0 and touches only what it selected" {
	in_pidns churn_walks
	cd "$BATS_TEST_TMPDIR"
	cat churn.out
	read -r _ forks _ reused <churn.out
	# sockets the scans saw whose owners exited before the walk reached them
	gone=$(jq -s '[.[].sockets[] | select(.state == "close-wait" and .owner == "unknown")] | length' scan.*.json)
	echo "churn: $forks forks ($reused on a pid used before) during 50 scans in $(cat scan.ms) ms; $gone sockets seen whose owner had exited by the walk" >&3
	[ "$reused" -gt 0 ]
	[ "$gone" -gt 0 ]
	# every scan: exit 1 as documented, nothing on stderr, one valid JSON document
	[ "$(sort -u scan.status)" = 1 ]
	[ "$(cat scan.*.err | wc -c)" -eq 0 ]
	[ "$(jq -s length scan.*.json)" -eq 50 ]
	# each stable socket, in every scan: present, owned by exactly its holder (pid, fd 10, name)
	want=$(sort stable | awk '{ print $1, $2, $3, "cw-stable" }')
	jq -r --argjson ino "$(awk '{ print $3 }' stable | jq -s .)" \
		'.sockets[] | select(.inode as $i | $ino | index($i)) | .owners[] as $o | "\($o.pid) \($o.fd) \(.inode) \($o.command)"' \
		scan.*.json | sort >seen.stable
	[ "$(uniq -c seen.stable | awk '$1 != 50' | wc -l)" -eq 0 ]
	[ "$(uniq seen.stable)" = "$want" ]
	# and no scan gives a stable pid any other socket, or an unknown owner to a stable socket
	[ "$(jq -s --argjson p "$(awk '{ print $1 }' stable | jq -s .)" '[.[].sockets[] | select(any(.owners[]?; .pid as $x | $p | index($x))) ] | length' scan.*.json)" -eq 400 ]
	# root reads every process: one that exits mid-walk is not "unreadable"
	[ "$(jq -s '[.[].unreadable_processes] | add' scan.*.json)" -eq 0 ]
	# reap --yes of the churners: whatever exited or changed hands is skipped, nothing fails
	[ "$(cat reap.churn.status)" -eq 0 ]
	[ "$(cat reap.churn.err | wc -c)" -eq 0 ]
	[ "$(jq '.failed' reap.churn.json)" -eq 0 ]
	[ "$(jq -r '[.sockets[].result] - ["clean", "reset", "fin-sent", "gone", "replaced", "state-changed"] | length' reap.churn.json)" -eq 0 ]
	# reap on its prompt, answered once all it listed had closed: every one
	# skipped (its owner gone, or its pid now another's), none acted on, exit 0
	cat reap.prompt.out
	n=$(wc -l <prompt.pairs)
	echo "reap on its prompt: $n sockets listed, all closed and a listed pid reused before the answer: $(grep -oE '(gone|replaced) ' reap.prompt.out | sort | uniq -c | paste -sd' ')" >&3
	[ "$n" -gt 0 ]
	[ "$(cat reap.prompt.status)" -eq 0 ]
	grep -q "Reaped (mode fin): 0 of $n selected: 0 clean, 0 reset, 0 unanswered; $n skipped; 0 failed." reap.prompt.out
	# ... and neither reap touched the stable sockets
	[ "$(grep -cF -f <(awk '{ print "ino:" $3 " " }' stable) cw.mid)" -eq 8 ]
	# reap of the stable ones while the churn goes on: all 8, clean
	[ "$(cat reap.stable.status)" -eq 0 ]
	[ "$(jq -r '.sockets[] | "\(.pid) \(.fd) \(.inode) \(.result)"' reap.stable.json | sort)" = "$(sort stable | awk '{ print $1, $2, $3, "clean" }')" ]
	# the holders keep their fds (reap closes nothing of theirs)
	[ "$(cat fds.after)" = "$(cat fds.before)" ]
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

# ---- /proc/PID/fd that scan may not read

@test "as nobody: another user's process and one of its own that is not dumpable have unreadable fd dirs: their sockets show (unknown) with the note, its own readable one is found and reaped, the rest are refused and untouched" {
	holder cw-unread 10 port 8400
	pr=$H_PID ir=$H_INO
	HOLDERS="$HOLDERS $pr"
	# nobody's processes: the test's directories are root's alone
	out=$(cd / && as_nobody "$T/proc_churn" hold cw-unread 10 port 8400)
	read -r _ pn in <<<"$out"
	HOLDERS="$HOLDERS $pn"
	out=$(cd / && as_nobody "$T/proc_churn" hold cw-unread 10 port 8400 nodump)
	read -r _ pd id <<<"$out"
	HOLDERS="$HOLDERS $pd"
	fds0="$(fd_count "$pr") $(fd_count "$pn") $(fd_count "$pd")"
	[ "$(stat -c %U "/proc/$pd/fd")" = root ]
	[ "$(stat -c %U "/proc/$pn/fd")" = nobody ]
	run as_nobody "$CW" scan --dport 8400 --json
	echo "$output"
	[ "$status" -eq 1 ]
	j=$output
	[ "$(jq -r --argjson i "$in" '.sockets[] | select(.inode==$i) | "\(.owner) \([.owners[] | "\(.pid):\(.fd):\(.command)"] | join(","))"' <<<"$j")" = "process $pn:10:cw-unread" ]
	[ "$(jq -r --argjson i "$ir" '.sockets[] | select(.inode==$i) | "\(.owner) \(.owners | length)"' <<<"$j")" = "unknown 0" ]
	[ "$(jq -r --argjson i "$id" '.sockets[] | select(.inode==$i) | "\(.owner) \(.owners | length)"' <<<"$j")" = "unknown 0" ]
	[ "$(jq .unreadable_processes <<<"$j")" -ge 2 ]
	run as_nobody "$CW" scan --dport 8400
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(grep -c "processes could not be read (permissions): their sockets show (unknown). Reading other users' processes needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: closewait lacks" <<<"$output")" -eq 1 ]
	[ "$(grep -c "^close-wait .*(unknown)" <<<"$output")" -eq 2 ]
	[ "$(grep -c "^close-wait .* cw-unread\[$pn\]:10" <<<"$output")" -eq 1 ]
	# reap as nobody: its own readable process's socket is reaped; the two it
	# cannot see are refused (owner-unknown), exit 1
	run as_nobody "$CW" reap --dport 8400 --yes --json
	echo "$output"
	[ "$status" -eq 1 ]
	j=$output
	[ "$(jq -r '[.sockets[] | "\(.inode) \(.result)"] | sort | join(",")' <<<"$j")" = "$(printf '%s\n' "$in clean" "$ir owner-unknown" "$id owner-unknown" | sort | paste -sd, -)" ]
	[ "$(count_state close-wait "dport = :8400")" -eq 2 ]
	[ "$(ss -Htane state close-wait "dport = :8400" | grep -c -e "ino:$ir " -e "ino:$id ")" -eq 2 ]
	[ "$(fd_count "$pr") $(fd_count "$pn") $(fd_count "$pd")" = "$fds0" ]
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

# ---- thousands of processes

@test "5 000 processes alive (CW_HOSTILE_PROCS), every 50th holding a CLOSE_WAIT socket: scan finds exactly those owners, reap --comm reaps exactly their sockets" {
	n=$PROCS
	pid_max=$(cat /proc/sys/kernel/pid_max)
	# every task (thread) takes a pid: /proc/loadavg's "running/total"
	used=$(awk '{ split($4, a, "/"); print a[2] }' /proc/loadavg)
	if [ $((pid_max - used)) -lt $((2 * n)) ]; then
		echo "not enough pids for $n processes: 2 x $n must be free under kernel.pid_max ($pid_max), $used are taken" >&2
		return 1
	fi
	mkfifo "$BATS_TEST_TMPDIR/crowd"
	exec 8<>"$BATS_TEST_TMPDIR/crowd"
	t0=$(now_ms)
	"$T/proc_churn" crowd cw-crowd "$n" 50 <"$BATS_TEST_TMPDIR/crowd" >"$BATS_TEST_TMPDIR/crowd.out" 3>&- 8>&- &
	crowd=$!
	BG_PIDS="$BG_PIDS $crowd"
	wait_until "$(slack_ms $((n * 4)))" "grep -q '^ready ' '$BATS_TEST_TMPDIR/crowd.out'"
	echo "$n processes forked in $(($(now_ms) - t0)) ms" >&3
	want=$(awk '/^holder/ { print $2, 10, $3, "cw-crowd" }' "$BATS_TEST_TMPDIR/crowd.out" | sort)
	k=$(wc -l <<<"$want")
	[ "$k" -eq $(((n + 49) / 50)) ]
	fds() { awk '/^holder/ { print $2 }' "$BATS_TEST_TMPDIR/crowd.out" | while read -r p; do fd_count "$p"; done | awk '{ s += $1 } END { print s }'; }
	fds0=$(fds)
	for opt in "" --all-owners; do
		st=0
		t0=$(date +%s%N)
		"$CW" scan --json $opt >"$BATS_TEST_TMPDIR/scan.json" || st=$?
		ms=$((($(date +%s%N) - t0) / 1000000))
		echo "scan --json $opt among $(ls -d /proc/[0-9]* | wc -l) processes: $ms ms" >&3
		[ "$st" -eq 1 ]
		[ "$(jq -r '.sockets[] | .owners[] as $o | "\($o.pid) \($o.fd) \(.inode) \($o.command)"' "$BATS_TEST_TMPDIR/scan.json" | sort)" = "$want" ]
		[ "$(jq '[.sockets[] | select(.state == "close-wait" and .owner != "process")] | length' "$BATS_TEST_TMPDIR/scan.json")" -eq 0 ]
		[ "$ms" -lt "$(slack_ms "$n")" ]
	done
	t0=$(date +%s%N)
	run "$CW" reap --comm cw-crowd --yes --json
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "reap --comm of $k sockets among $n processes: $ms ms" >&3
	[ "$status" -eq 0 ]
	[ "$(jq -r '.sockets[] | "\(.pid) \(.fd) \(.inode) \(.command)"' <<<"$output" | sort)" = "$want" ]
	[ "$(jq '.results.clean' <<<"$output")" -eq "$k" ]
	[ "$(ss -Htane state close-wait | grep -cF -f <(awk '{ print "ino:" $3 " " }' <<<"$want"))" -eq 0 ]
	[ "$(fds)" -eq "$fds0" ]
	exec 8>&-
	wait "$crowd"
	[ "$(tail -1 "$BATS_TEST_TMPDIR/crowd.out")" = done ]
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}
