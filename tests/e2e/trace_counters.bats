#!/usr/bin/env bats
# closewait trace --pin's per-process counters (S29): the sockets a traced
# process made that entered CLOSE_WAIT and that left it (closed: LAST_ACK;
# reset: CLOSE), kept in a pinned map, published by export as counters
# grouped like its other series; a process's entry goes when it exits (and
# stays gone when the exit closes its sockets); a
# socket that entered CLOSE_WAIT in the accept queue counts once, for the
# process that accepts it; without CAP_BPF export says once, naming it,
# that the pins are not readable, and publishes no counter; trace's summary
# gives the totals. As in
# trace_pin.bats: a private bpffs in a mount namespace held by a sleeping
# process, entered with nsenter. watch --json shows them per process.

bats_require_minimum_version 1.5.0
load census_helpers
load bpffs_fixture

# metrics PORT: export's series for PORT grouped by process, written once
# to $BATS_TEST_TMPDIR/closewait.prom; stderr in export.err.
metrics() {
	inns "$CW" export --textfile "$BATS_TEST_TMPDIR" --once --by process --port "$1" \
		2>"$BATS_TEST_TMPDIR/export.err"
}

# counter entered|left PID: that counter of process PID in the last
# metrics; empty when it has none.
counter() {
	sed -n "s/^closewait_close_wait_$1_total{.*pid=\"$2\".*} //p" "$BATS_TEST_TMPDIR/closewait.prom"
}

# counts entered|left PID PORT: metrics for PORT, then that counter.
counts() {
	metrics "$3"
	counter "$1" "$2"
}

# procs_of PID NAME: the entries instance NAME's counters map holds for PID.
procs_of() {
	inns bpftool map dump pinned "$ROOT/$2/procs" -j | jq --argjson p "$1" '[.[] | select(.formatted.key.pid == $p)] | length'
}

@test "export publishes per process the sockets that entered CLOSE_WAIT and left it (FIN and RST) as counters promtool accepts, watch --json shows them; the process's entry goes when it exits" {
	leak_server 8500
	pinned c1 --grace 1h --json
	"$T/cw_clients" 127.0.0.1 8500 2 --send hello >/dev/null
	wait_until "$(slack_ms 5000)" '[ "$(counts entered "$leak" 8500)" = 2 ]'
	cat "$BATS_TEST_TMPDIR/closewait.prom" >&2
	[ "$(counter left "$leak")" = 0 ]
	[ "$(grep -c '^# TYPE closewait_close_wait_entered_total counter$' "$BATS_TEST_TMPDIR/closewait.prom")" -eq 1 ]
	[ "$(grep -c '^# TYPE closewait_close_wait_left_total counter$' "$BATS_TEST_TMPDIR/closewait.prom")" -eq 1 ]
	run promtool check metrics <"$BATS_TEST_TMPDIR/closewait.prom"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -s "$BATS_TEST_TMPDIR/export.err" ]
	# watch --json shows them per process
	w=$(inns "$CW" watch --json --count 1 --port 8500)
	echo "watch: $w" >&2
	[ "$(jq -r '.processes[0].pid' <<<"$w")" -eq "$leak" ]
	[ "$(jq -r '.processes[0].close_wait_entered' <<<"$w")" -eq 2 ]
	[ "$(jq -r '.processes[0].close_wait_left' <<<"$w")" -eq 0 ]
	# the program's side closed by reap's FIN (CLOSE_WAIT to LAST_ACK)
	inns "$CW" reap --yes --port 8500 --mode fin >/dev/null
	wait_until "$(slack_ms 5000)" '[ "$(counts left "$leak" 8500)" = 2 ]'
	# a third, reset (CLOSE_WAIT to CLOSE)
	"$T/cw_clients" 127.0.0.1 8500 1 --send hello >/dev/null
	wait_until "$(slack_ms 5000)" '[ "$(counts entered "$leak" 8500)" = 3 ]'
	inns "$CW" reap --yes --port 8500 --mode rst >/dev/null
	wait_until "$(slack_ms 5000)" '[ "$(counts left "$leak" 8500)" = 3 ]'
	[ "$(counter entered "$leak")" = 3 ]
	# the default grouping: one series for the command
	inns "$CW" export --textfile "$BATS_TEST_TMPDIR" --once --port 8500 2>/dev/null
	grep -qx 'closewait_close_wait_entered_total{owner="process",command="closewait"} 3' "$BATS_TEST_TMPDIR/closewait.prom"
	# the process exits holding one in CLOSE_WAIT: its counters go from the
	# map, and closing that socket at the exit does not bring them back
	"$T/cw_clients" 127.0.0.1 8500 1 --send hello >/dev/null
	wait_until "$(slack_ms 5000)" '[ "$(counts entered "$leak" 8500)" = 4 ]'
	[ "$(procs_of "$leak" c1)" -eq 1 ]
	stop_pid "$leak" KILL
	wait_until "$(slack_ms 2000)" '[ "$(procs_of "$leak" c1)" -eq 0 ]'
	stop_pid "$TRACER"
	[ "$STOP_STATUS" -eq 0 ]
	# trace's own summary: the totals count the exited process too (its
	# fourth socket left CLOSE_WAIT at its exit), so every socket that
	# entered has left; at least the server's four (every traced process of
	# this namespace counts: one loaded run counted a fifth)
	sum=$(grep '"event":"summary"' "$OUT")
	echo "summary: $sum" >&2
	[ "$(jq .close_wait_entered <<<"$sum")" -ge 4 ]
	[ "$(jq .close_wait_left <<<"$sum")" -eq "$(jq .close_wait_entered <<<"$sum")" ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "a socket that entered CLOSE_WAIT in the accept queue counts once, for the process that accepts it; without CAP_BPF export says once, naming CAP_BPF, that the pins are not readable, and publishes no counter" {
	pinned c2 --grace 1h --json
	# accepts two connections at SIGUSR1, then holds them
	bg python3 -c '
import signal, socket, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8501))
s.listen(8)
signal.sigwait([signal.SIGUSR1])
held = [s.accept()[0] for _ in range(2)]
print("accepted", flush=True)
signal.pause()
' >"$BATS_TEST_TMPDIR/py.out"
	py=$LAST_PID
	wait_listen 8501
	base=$(fd_count "$py")
	"$T/cw_clients" 127.0.0.1 8501 2 >/dev/null
	wait_until "$(slack_ms 5000)" '[ "$(count_state close-wait "( sport = :8501 )")" -eq 2 ]'
	metrics 8501
	[ -z "$(counter entered "$py")" ]
	kill -USR1 "$py"
	wait_until "$(slack_ms 5000)" "grep -q accepted '$BATS_TEST_TMPDIR/py.out'"
	wait_until "$(slack_ms 5000)" '[ "$(counts entered "$py" 8501)" = 2 ]'
	[ "$(counter left "$py")" = 0 ]
	# without CAP_BPF: said once over three scrapes, no counter family
	bg nsenter -t "$HOLDER" -m setpriv "${NOBODY[@]}" "$CW" export --listen 127.0.0.1:9911 \
		--min-interval 0 --port 8501 2>"$BATS_TEST_TMPDIR/nobody.err"
	exporter=$LAST_PID
	wait_listen 9911
	for i in 1 2 3; do
		curl -sS --max-time 5 -o "$BATS_TEST_TMPDIR/m$i.prom" http://127.0.0.1:9911/metrics
	done
	stop_pid "$exporter"
	cat "$BATS_TEST_TMPDIR/nobody.err" >&2
	[ "$(grep -c 'closewait export: the pins of closewait trace in /sys/fs/bpf/closewait are not readable without CAP_BPF' "$BATS_TEST_TMPDIR/nobody.err")" -eq 1 ]
	grep -q '^closewait_close_wait_sockets{' "$BATS_TEST_TMPDIR/m3.prom"
	[ "$(grep -c 'closewait_close_wait_entered\|closewait_close_wait_left' "$BATS_TEST_TMPDIR/m3.prom")" -eq 0 ]
	stop_pid "$TRACER"
	[ "$STOP_STATUS" -eq 0 ]
	[ "$(fd_count "$py")" -eq $((base + 2)) ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}
