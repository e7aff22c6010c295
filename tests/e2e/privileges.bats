#!/usr/bin/env bats
# Least privilege: every command run as nobody (uid and gid
# 65534, no supplementary groups) under setpriv, with exactly the
# capabilities docs/privileges.md lists for it (read from its table, so the
# tests follow the docs), then with each of them dropped: with them it gives
# the full result (root's sockets named); without one it says which is
# missing. Root's leaking server and nobody's run side by side in this
# file's network namespace.

# guard_fixture: census_helpers, and guard_env (libasan first for an
# instrumented program in the sanitizer pass)
bats_require_minimum_version 1.5.0

load guard_fixture

DOC=$CW_SRC/docs/privileges.md

setup() {
	PRIV_DIR=$(mktemp -d /tmp/cw-priv.XXXXXX)
	# nobody runs the binaries from here (the test's own directories are root's alone)
	chmod 755 "$PRIV_DIR"
	cp "$CW" "$PRIV_DIR/closewait"
	cp "$CW" "$PRIV_DIR/cw-root"
	cp "$CW" "$PRIV_DIR/cw-nobody"
	SHELL_FDS=$(shell_fds $$)
}

teardown() {
	kill_bg
	rm -rf "$PRIV_DIR"
}

# doc_caps ROW: the capabilities the table of docs/privileges.md gives the
# command cell ROW (`scan`, `reap --mode rst`...), as setpriv names them
# (sys_ptrace,dac_read_search), sorted, comma-separated; "none" for a row
# that needs none; nothing if no row has that cell.
doc_caps() {
	awk -F'|' -v row="\`$1\`" '
		{ c = $2; k = $3; gsub(/^ +| +$/, "", c); gsub(/^ +| +$/, "", k) }
		c == row && k == "none" { print "none" }
		c == row && k != "none" { n = split(k, a, /, */); for (i = 1; i <= n; i++) { gsub(/`/, "", a[i]); print a[i] } }
	' "$DOC" | sed 's/^CAP_//' | tr 'A-Z' 'a-z' | sort -u | paste -sd, -
}

# nobody_args CAPS: sets SETPRIV to the setpriv options that run a command
# as uid and gid 65534 with no supplementary groups, and CAPS (setpriv
# names, comma-separated; empty or "none": no capability) inheritable,
# ambient (what makes them effective for a non-root uid across execve) and
# the whole bounding set.
nobody_args() {
	local caps=$1 plus=
	[ "$caps" != none ] || caps=
	[ -z "$caps" ] || plus=,+${caps//,/,+}
	SETPRIV=(--reuid=65534 --regid=65534 --clear-groups --inh-caps="-all$plus")
	[ -z "$caps" ] || SETPRIV+=(--ambient-caps="${plus#,}")
	SETPRIV+=(--bounding-set="-all$plus")
}

# as_nobody CAPS CMD...: CMD run so (setpriv execs it: in the background,
# $! is its pid).
as_nobody() {
	nobody_args "$1"
	shift
	setpriv "${SETPRIV[@]}" "$@"
}

# cap_mask NAMES: the capability mask /proc/PID/status shows (16 hex
# digits) for setpriv names (sys_ptrace,...), numbered by the kernel's header.
cap_mask() {
	local m=0 c n
	for c in ${1//,/ }; do
		n=$(awk -v c="CAP_${c^^}" '$1 == "#define" && $2 == c { print $3 }' /usr/include/linux/capability.h)
		[ -n "$n" ] || return 1
		m=$((m | (1 << n)))
	done
	printf '%016x\n' "$m"
}

# without CAPS CAP: CAPS less CAP (comma-separated setpriv names).
without() { tr ',' '\n' <<<"$1" | grep -vx "$2" | paste -sd, -; }

# leakers N_ROOT N_NOBODY: root's `serve --leak` (cw-root) on 8100 and
# nobody's (cw-nobody) on 8200 with N_ROOT and N_NOBODY CLOSE_WAIT sockets;
# sets ROOT_PID, NOBODY_PID and their fd counts before any client.
leakers() {
	bg "$PRIV_DIR/cw-root" serve --leak --quiet --port 8100
	ROOT_PID=$LAST_PID
	nobody_args none
	bg setpriv "${SETPRIV[@]}" "$PRIV_DIR/cw-nobody" serve --leak --quiet --port 8200
	NOBODY_PID=$LAST_PID
	wait_listen 8100
	wait_listen 8200
	[ "$(awk '$1 == "Uid:" { print $2 }' "/proc/$NOBODY_PID/status")" = 65534 ]
	ROOT_BASE=$(fd_count "$ROOT_PID")
	NOBODY_BASE=$(fd_count "$NOBODY_PID")
	[ "$1" -eq 0 ] || "$T/cw_clients" 127.0.0.1 8100 "$1" --send hello >/dev/null
	[ "$2" -eq 0 ] || "$T/cw_clients" 127.0.0.1 8200 "$2" --send hello >/dev/null
	wait_until "$(slack_ms 5000)" '[ "$(count_state close-wait "( sport = :8100 )")" -eq '"$1"' ]'
	wait_until "$(slack_ms 5000)" '[ "$(count_state close-wait "( sport = :8200 )")" -eq '"$2"' ]'
}

# The servers hold what they held plus their leaks; the test's shell holds
# what it held.
fds_back() {
	[ "$(fd_count "$ROOT_PID")" -eq $((ROOT_BASE + $1)) ]
	[ "$(fd_count "$NOBODY_PID")" -eq $((NOBODY_BASE + $2)) ]
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

# json_owners FILE PORT: "owner command" of each CLOSE_WAIT socket on local
# port PORT in scan's JSON, sorted, one a line.
json_owners() {
	jq -r --arg p ":$2" '.sockets[] | select(.state == "close-wait" and (.local | endswith($p))) | "\(.owner) \(.owners[0].command // "-")"' "$1" | sort
}

@test "the table lists every command, and setpriv as used here makes exactly the listed capabilities effective for uid 65534" {
	[ "$(doc_caps scan)" = dac_read_search,sys_ptrace ]
	[ "$(doc_caps watch)" = dac_read_search,sys_ptrace ]
	[ "$(doc_caps export)" = dac_read_search,sys_ptrace ]
	[ "$(doc_caps reap)" = dac_read_search,sys_ptrace ]
	[ "$(doc_caps 'reap --mode rst')" = net_admin ]
	[ "$(doc_caps ports)" = none ]
	[ "$(doc_caps guard)" = none ]
	[ "$(doc_caps 'serve`, `client')" = none ]
	[ -z "$(doc_caps nosuchcommand)" ]
	# a process run so: its ids, and the capabilities effective, permitted,
	# ambient and bounding (awk reads its own /proc/self/status)
	mask=$(cap_mask "$(doc_caps scan)")
	[ "$mask" = 0000000000080004 ]
	run as_nobody "$(doc_caps scan)" awk '$1 ~ /^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapAmb|CapBnd):$/ { $1 = $1; print }' /proc/self/status
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "Uid: 65534 65534 65534 65534
Gid: 65534 65534 65534 65534
Groups:
CapInh: $mask
CapPrm: $mask
CapEff: $mask
CapBnd: $mask
CapAmb: $mask" ]
	run as_nobody none awk '$1 ~ /^Cap(Prm|Eff|Bnd|Amb):$/ { print $2 }' /proc/self/status
	[ "$(sort -u <<<"$output")" = 0000000000000000 ]
}

@test "scan as nobody: its own leaks with owners, root's (unknown) with one note naming both capabilities; with exactly its documented ones, root's named too" {
	leakers 3 2
	caps=$(doc_caps scan)
	run as_nobody none "$PRIV_DIR/closewait" scan
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(grep -c 'cw-nobody\[[0-9]*\]:' <<<"$output")" -eq 2 ]
	[ "$(grep -c '127.0.0.1:8100 .*(unknown)' <<<"$output")" -eq 3 ]
	# said once, naming what closewait lacks
	[ "$(grep -c 'could not be read' <<<"$output")" -eq 1 ]
	[[ "$output" == *"processes could not be read (permissions): their sockets show (unknown). Reading other users' processes needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: closewait lacks CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH."* ]]
	as_nobody none "$PRIV_DIR/closewait" scan --json >"$BATS_TEST_TMPDIR/none.json" || true
	[ "$(json_owners "$BATS_TEST_TMPDIR/none.json" 8100 | uniq -c | awk '{ print $1, $2, $3 }')" = "3 unknown -" ]
	[ "$(json_owners "$BATS_TEST_TMPDIR/none.json" 8200 | uniq -c | awk '{ print $1, $2, $3 }')" = "2 process cw-nobody" ]
	[ "$(jq .unreadable_processes "$BATS_TEST_TMPDIR/none.json")" -gt 0 ]
	# exactly the documented capabilities: root's leaks named, no capability missing
	run as_nobody "$caps" "$PRIV_DIR/closewait" scan
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(grep -c "cw-root\[$ROOT_PID\]:" <<<"$output")" -eq 3 ]
	[ "$(grep -c 'cw-nobody\[[0-9]*\]:' <<<"$output")" -eq 2 ]
	[ "$(grep -c '127.0.0.1:8100 .*(unknown)' <<<"$output")" -eq 0 ]
	[[ "$output" != *"closewait lacks"* ]]
	as_nobody "$caps" "$PRIV_DIR/closewait" scan --json >"$BATS_TEST_TMPDIR/caps.json" || true
	[ "$(json_owners "$BATS_TEST_TMPDIR/caps.json" 8100 | uniq -c | awk '{ print $1, $2, $3 }')" = "3 process cw-root" ]
	fds_back 3 2
}

@test "scan as nobody, each documented capability dropped alone: root's leaks (unknown), and the note names the one dropped" {
	leakers 2 1
	caps=$(doc_caps scan)
	for c in ${caps//,/ }; do
		run as_nobody "$(without "$caps" "$c")" "$PRIV_DIR/closewait" scan
		echo "$c dropped: $output"
		[ "$status" -eq 1 ]
		[ "$(grep -c '127.0.0.1:8100 .*(unknown)' <<<"$output")" -eq 2 ]
		[ "$(grep -c 'cw-nobody\[[0-9]*\]:' <<<"$output")" -eq 1 ]
		[ "$(grep -c 'could not be read' <<<"$output")" -eq 1 ]
		[[ "$output" == *"closewait lacks CAP_${c^^}."* ]]
	done
	fds_back 2 1
}

@test "scan --net pid:P of root's process in another namespace: CAP_SYS_PTRACE opens its link, CAP_SYS_ADMIN enters it, each named when dropped" {
	caps=$(doc_caps 'scan --net pid:PID`, `--all-netns'),$(doc_caps 'scan --net`, `--all-netns')
	[ "$caps" = sys_ptrace,sys_admin ]
	bg unshare --net sh -c 'ip link set lo up && exec "$0" serve --leak --quiet --port 8101' "$PRIV_DIR/cw-root"
	there=$LAST_PID
	wait_until "$(slack_ms 5000)" '[ -n "$(nsenter --net=/proc/'"$there"'/ns/net ss -Htln "sport = :8101")" ]'
	run as_nobody "$(without "$caps" sys_ptrace)" "$PRIV_DIR/closewait" scan --net "pid:$there" --state listen
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"cannot open the network namespace: Permission denied"*CAP_SYS_PTRACE* ]]
	run as_nobody "$(without "$caps" sys_admin)" "$PRIV_DIR/closewait" scan --net "pid:$there" --state listen
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"cannot enter the network namespace"*CAP_SYS_ADMIN* ]]
	# --all-netns: the links it could not look at counted, what it lacks named
	run as_nobody "$(without "$caps" sys_ptrace)" "$PRIV_DIR/closewait" scan --all-netns --state listen
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'namespace links could not be looked at' <<<"$output")" -eq 1 ]
	[[ "$output" == *"Other users' links need CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: closewait lacks CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH."* ]]
	run as_nobody "$(without "$caps" sys_admin),dac_read_search" "$PRIV_DIR/closewait" scan --all-netns --state listen
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"could not be read: Operation not permitted (entering one needs CAP_SYS_ADMIN, which closewait lacks)."* ]]
	# with both: its listener, owner unknown (its fds need the other two)
	run as_nobody "$caps" "$PRIV_DIR/closewait" scan --net "pid:$there" --state listen --json
	[ "$status" -eq 0 ]
	[ "$(jq -r '.sockets[] | select(.local == "0.0.0.0:8101") | .owner' <<<"$output")" = unknown ]
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "watch as nobody: its own leaking process followed, root's as one (unknown) row; with exactly its documented capabilities root's process named" {
	leakers 3 2
	run --separate-stderr as_nobody none "$PRIV_DIR/closewait" watch --count 2 --interval 200ms --json
	echo "$output"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(jq -sc '.[-1] | [.processes[] | [.command, .close_wait]] | sort' <<<"$output")" = '[["(unknown)",3],["cw-nobody",2]]' ]
	[ "$(jq -sc '.[-1] | [.processes[] | select(.command == "(unknown)") | .pid]' <<<"$output")" = '[null]' ]
	# said once over the two intervals, on standard error, naming both capabilities
	[ "$(grep -c "could not be read (permissions).* closewait lacks CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH\.$" <<<"$stderr")" -eq 1 ]
	run --separate-stderr as_nobody "$(doc_caps watch)" "$PRIV_DIR/closewait" watch --count 1 --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.processes[] | [.command, .pid, .close_wait]] | sort' <<<"$output")" = "[[\"cw-nobody\",$NOBODY_PID,2],[\"cw-root\",$ROOT_PID,3]]" ]
	# with them nothing is lacking (a process no one may read, as pid 1 of some
	# sandboxes, is still counted)
	[[ "$stderr" != *"closewait lacks"* ]]
	fds_back 3 2
}

@test "watch and export as nobody, each documented capability dropped alone: the note names the one dropped" {
	leakers 2 0
	mkdir "$PRIV_DIR/tf"
	chown 65534:65534 "$PRIV_DIR/tf"
	for cmd in watch export; do
		caps=$(doc_caps "$cmd")
		for c in ${caps//,/ }; do
			args=(watch --count 1 --json)
			[ "$cmd" = watch ] || args=(export --textfile "$PRIV_DIR/tf" --once)
			run --separate-stderr as_nobody "$(without "$caps" "$c")" "$PRIV_DIR/closewait" "${args[@]}"
			echo "$cmd, $c dropped: $stderr"
			[ "$status" -eq 0 ]
			[ "$(grep -c "^closewait $cmd: .* could not be read (permissions).* closewait lacks CAP_${c^^}\.$" <<<"$stderr")" -eq 1 ]
		done
	done
	fds_back 2 0
}

@test "ports needs no capability: as nobody with none, the same report as root's" {
	leakers 3 0
	bg "$T/cw_clients" 127.0.0.1 8200 2 --idle 5000 >/dev/null
	clients=$LAST_PID
	wait_until "$(slack_ms 5000)" '[ "$(count_state established "( dport = :8200 )")" -eq 2 ]'
	[ "$(doc_caps ports)" = none ]
	# the same but for what the clock moves between the two runs: the rates
	# of TIME_WAIT in the last 10 s and what follows from them
	same='walk(if type == "object" then del(.time_ms, .rate_now, .time_wait_recent, .exhaust_s, .what_if_exhaust_s) else . end)'
	"$PRIV_DIR/closewait" ports --json | jq -S "$same" >"$BATS_TEST_TMPDIR/root.json"
	as_nobody none "$PRIV_DIR/closewait" ports --json | jq -S "$same" >"$BATS_TEST_TMPDIR/nobody.json"
	[ "$(jq '[.destinations[] | select(.destination == "127.0.0.1:8200") | .open] | add' "$BATS_TEST_TMPDIR/root.json")" -eq 2 ]
	diff "$BATS_TEST_TMPDIR/root.json" "$BATS_TEST_TMPDIR/nobody.json"
	kill "$clients"
	wait "$clients" || true
	fds_back 3 2
}

@test "reap as nobody with none: reaps its own processes' leaks, refuses root's naming CAP_SYS_PTRACE (exit 1, left in CLOSE_WAIT); with exactly its documented capabilities reaps root's" {
	leakers 3 2
	run as_nobody none "$PRIV_DIR/closewait" reap --peer 127.0.0.1 --yes --json
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(jq -r '.sockets[] | select(.local == "127.0.0.1:8200") | .result' <<<"$output" | sort | uniq -c | awk '{ print $1, $2 }')" = "2 clean" ]
	[ "$(jq -r '.sockets[] | select(.local == "127.0.0.1:8100") | .result' <<<"$output" | sort | uniq -c | awk '{ print $1, $2 }')" = "3 owner-unknown" ]
	[ "$(jq -r '.sockets[] | select(.local == "127.0.0.1:8100") | .detail' <<<"$output" | grep -c 'without CAP_SYS_PTRACE')" -eq 3 ]
	[ "$(count_state close-wait "( sport = :8100 )")" -eq 3 ]
	[ "$(count_state close-wait "( sport = :8200 )")" -eq 0 ]
	# naming the process: refused before anything, the right named
	run as_nobody none "$PRIV_DIR/closewait" reap --pid "$ROOT_PID" --yes
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no ptrace rights over pid $ROOT_PID"*"without CAP_SYS_PTRACE"*"Nothing was changed."* ]]
	[ "$(count_state close-wait "( sport = :8100 )")" -eq 3 ]
	# exactly the documented capabilities: root's reaped
	run as_nobody "$(doc_caps reap)" "$PRIV_DIR/closewait" reap --port 8100 --yes --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.sockets[] | "\(.command) \(.outcome)"' <<<"$output" | sort | uniq -c | awk '{ print $1, $2, $3 }')" = "3 cw-root handled" ]
	[ "$(count_state close-wait "( sport = :8100 )")" -eq 0 ]
	fds_back 3 2
}

@test "reap as nobody, each documented capability dropped alone: root's leaks refused (owner-unknown) naming the one dropped, and left in CLOSE_WAIT" {
	leakers 2 0
	caps=$(doc_caps reap)
	for c in ${caps//,/ }; do
		run as_nobody "$(without "$caps" "$c")" "$PRIV_DIR/closewait" reap --port 8100 --yes --json
		echo "$c dropped: $output"
		[ "$status" -eq 1 ]
		[ "$(jq -r '.sockets[].result' <<<"$output" | sort | uniq -c | awk '{ print $1, $2 }')" = "2 owner-unknown" ]
		[ "$(jq -r '.sockets[].detail' <<<"$output" | grep -c "without CAP_${c^^}")" -eq 2 ]
		[ "$(count_state close-wait "( sport = :8100 )")" -eq 2 ]
	done
	fds_back 2 0
}

@test "reap --mode rst as nobody: refused naming CAP_NET_ADMIN without it; with exactly it, root's leaks destroyed (no owner needed)" {
	leakers 2 0
	caps=$(doc_caps 'reap --mode rst')
	run as_nobody none "$PRIV_DIR/closewait" reap --port 8100 --mode rst --yes
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(grep -c 'no-cap-net-admin .*SOCK_DESTROY needs CAP_NET_ADMIN' <<<"$output")" -eq 2 ]
	[ "$(count_state close-wait "( sport = :8100 )")" -eq 2 ]
	run as_nobody "$caps" "$PRIV_DIR/closewait" reap --port 8100 --mode rst --yes --json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.sockets[].result' <<<"$output" | sort | uniq -c | awk '{ print $1, $2 }')" = "2 destroyed" ]
	[ "$(count_state close-wait "( sport = :8100 )")" -eq 0 ]
	fds_back 2 0
}

@test "export as nobody: root's leaks owner=\"unknown\" and counted unreadable without capabilities; with exactly its documented ones named" {
	leakers 3 2
	mkdir "$PRIV_DIR/tf"
	chown 65534:65534 "$PRIV_DIR/tf"
	p=$PRIV_DIR/tf/closewait.prom
	run --separate-stderr as_nobody none "$PRIV_DIR/closewait" export --textfile "$PRIV_DIR/tf" --once --by process
	[ "$status" -eq 0 ]
	[ "$(grep -c "^closewait export: .* closewait lacks CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH\.$" <<<"$stderr")" -eq 1 ]
	grep -E '^closewait_(close_wait_sockets|unreadable_processes)[{ ]' "$p"
	[ "$(grep -c '^closewait_close_wait_sockets{owner="unknown"} 3$' "$p")" -eq 1 ]
	[ "$(grep -c "^closewait_close_wait_sockets{owner=\"process\",command=\"cw-nobody\",pid=\"$NOBODY_PID\"} 2$" "$p")" -eq 1 ]
	[ "$(awk '$1 == "closewait_unreadable_processes" { print $2 }' "$p")" -gt 0 ]
	run as_nobody "$(doc_caps export)" "$PRIV_DIR/closewait" export --textfile "$PRIV_DIR/tf" --once --by process
	[ "$status" -eq 0 ]
	grep -E '^closewait_close_wait_sockets[{ ]' "$p"
	[ "$(grep -c "^closewait_close_wait_sockets{owner=\"process\",command=\"cw-root\",pid=\"$ROOT_PID\"} 3$" "$p")" -eq 1 ]
	[ "$(grep -c '^closewait_close_wait_sockets{owner="unknown"}' "$p")" -eq 0 ]
	fds_back 3 2
}

@test "serve, client and guard need no capability: as nobody with none, serve answers client, and guard reports a leaked socket of a program it runs" {
	[ "$(doc_caps 'serve`, `client')" = none ]
	[ "$(doc_caps guard)" = none ]
	nobody_args none
	bg setpriv "${SETPRIV[@]}" "$PRIV_DIR/closewait" serve --quiet --port 8300
	wait_listen 8300
	run as_nobody none "$PRIV_DIR/closewait" client --port 8300 hello
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"HELLO"* ]]
	cp "$(dirname "$CW")/libclosewait-guard.so" "$PRIV_DIR/"
	mkdir "$PRIV_DIR/guard"
	chown 65534:65534 "$PRIV_DIR/guard"
	r=$PRIV_DIR/guard/report.json
	LD_PRELOAD=$(guard_env "$PRIV_DIR/cw-nobody") bg setpriv "${SETPRIV[@]}" "$PRIV_DIR/closewait" guard --grace 200ms --interval 100ms --report "$r" -- \
		"$PRIV_DIR/cw-nobody" serve --leak --quiet --port 8301
	wait_listen 8301
	"$T/cw_clients" 127.0.0.1 8301 2 --send hello >/dev/null
	wait_until "$(slack_ms 5000)" '[ "$(jq -c '"'"'select(.event == "close-wait")'"'"' "'"$r"'" | wc -l)" -ge 2 ]'
	cat "$r"
	[ "$(jq -r 'select(.event == "close-wait") | .local' "$r" | sort | uniq -c | awk '{ print $1, $2 }')" = "2 127.0.0.1:8301" ]
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

# trace_nobody NAME CAPS ARGS...: `closewait trace ARGS` as nobody with
# CAPS, in the background, in a mount namespace of its own where tracefs is
# mounted open to every user (mode=755; its tracepoint ids stay root's
# alone); JSON lines in $BATS_TEST_TMPDIR/NAME.out, messages in NAME.err.
# Sets TRACER.
trace_nobody() {
	local name=$1
	nobody_args "$2"
	shift 2
	bg unshare -m sh -c 'umount /sys/kernel/tracing 2>/dev/null; mount -t tracefs -o mode=755 tracefs /sys/kernel/tracing && exec "$@"' \
		trace setpriv "${SETPRIV[@]}" "$PRIV_DIR/closewait" trace "$@" \
		>"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.err"
	TRACER=$LAST_PID
}

# trace_leaks NAME: the leak events of that tracer, one a line.
trace_leaks() { jq -c 'select(.event == "leak")' "$BATS_TEST_TMPDIR/$1.out" 2>/dev/null || true; }

@test "trace as nobody, tracefs open: with exactly its documented capabilities root's leak reported; CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH dropped: exit 2 naming it; CAP_SYS_PTRACE dropped: nothing reported, saying so once and naming it" {
	run "$CW" trace --duration 1ms
	if [[ "$output" == *"built without trace"* ]]; then
		skip "closewait built without trace"
	fi
	caps=$(doc_caps trace)
	[ "$caps" = bpf,dac_read_search,perfmon,sys_ptrace ]
	bg "$PRIV_DIR/cw-root" serve --leak --quiet --port 8100
	ROOT_PID=$LAST_PID
	wait_listen 8100
	base=$(fd_count "$ROOT_PID")
	for c in bpf perfmon; do
		st=0
		trace_nobody "no-$c" "$(without "$caps" "$c")" --pid "$ROOT_PID" --duration 5s
		wait "$TRACER" || st=$?
		cat "$BATS_TEST_TMPDIR/no-$c.err"
		[ "$st" -eq 2 ]
		[[ "$(cat "$BATS_TEST_TMPDIR/no-$c.err")" == *"needs CAP_${c^^} (or root)"* ]]
	done
	st=0
	trace_nobody no-dac "$(without "$caps" dac_read_search)" --pid "$ROOT_PID" --duration 5s
	wait "$TRACER" || st=$?
	cat "$BATS_TEST_TMPDIR/no-dac.err"
	[ "$st" -eq 2 ]
	[[ "$(cat "$BATS_TEST_TMPDIR/no-dac.err")" == *"attaching its eBPF programs: Permission denied (needs CAP_DAC_READ_SEARCH, or root, to read the syscall tracepoints' ids in tracefs"* ]]
	# --pid of root's process without CAP_SYS_PTRACE: its namespace cannot be opened
	st=0
	trace_nobody pid-no-ptrace "$(without "$caps" sys_ptrace)" --pid "$ROOT_PID" --duration 5s
	wait "$TRACER" || st=$?
	cat "$BATS_TEST_TMPDIR/pid-no-ptrace.err"
	[ "$st" -eq 2 ]
	[[ "$(cat "$BATS_TEST_TMPDIR/pid-no-ptrace.err")" == *"needs CAP_SYS_PTRACE"* ]]
	# with all of them, and with CAP_SYS_PTRACE dropped (by command name), side by side: the
	# same leak is reported by the first, not by the second
	trace_nobody full "$caps" --pid "$ROOT_PID" --grace 300ms --interval 100ms
	full=$TRACER
	trace_nobody no-ptrace "$(without "$caps" sys_ptrace)" --comm cw-root --grace 300ms --interval 100ms
	noptrace=$TRACER
	wait_until "$(slack_ms 10000)" "grep -q '\"event\":\"started\"' '$BATS_TEST_TMPDIR/full.out'"
	wait_until "$(slack_ms 10000)" "grep -q '\"event\":\"started\"' '$BATS_TEST_TMPDIR/no-ptrace.out'"
	"$T/cw_clients" 127.0.0.1 8100 1 --send hello >/dev/null
	wait_until "$(slack_ms 5000)" '[ "$(trace_leaks full | wc -l)" -ge 1 ]'
	stop_pid "$full"
	stop_pid "$noptrace"
	trace_leaks full
	[ "$(trace_leaks full | jq -r '"\(.command) \(.pid) \(.local)"')" = "cw-root $ROOT_PID 127.0.0.1:8100" ]
	[ "$(trace_leaks no-ptrace | wc -l)" -eq 0 ]
	[ "$(jq -r 'select(.event == "summary") | .leaks' "$BATS_TEST_TMPDIR/no-ptrace.out")" -eq 0 ]
	# and it said why, once, naming the capability
	cat "$BATS_TEST_TMPDIR/no-ptrace.err"
	[ "$(grep -c "^closewait trace: .* could not be read (permissions).* closewait lacks CAP_SYS_PTRACE\. Their leaks are not reported\.$" "$BATS_TEST_TMPDIR/no-ptrace.err")" -eq 1 ]
	[ "$(fd_count "$ROOT_PID")" -eq $((base + 1)) ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}
