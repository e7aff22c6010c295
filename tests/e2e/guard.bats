#!/usr/bin/env bats
# closewait guard: programs that cannot be changed, run under the preload
# library. The classic leaky server (S5: reads until EOF, never closes) gets
# each leaked socket reported once with the line that accepted it; --cure fin
# ends the leaks (S12's FIN, from inside); keepalive is enforced on a
# program that asks for none (S8) and left alone in one that sets its own.
# Every test runs with --grace 2s --interval 1s.

bats_require_minimum_version 1.5.0
load guard_fixture

setup() {
	REPORT=$BATS_TEST_TMPDIR/report.json
	SHELL_FDS=$(shell_fds $$)
}

teardown() {
	kill_bg
	[ -z "${SERVER_PID:-}" ] || stop_pid "$SERVER_PID"
	nft delete table inet cwt_guard 2>/dev/null || true
}

@test "the classic leaky server: each leaked socket reported once, why eof-read, created where accept_loop called accept(), the EOF read in serve_until_eof" {
	guarded -- "$T/cwt-leaky" 8200 eof
	wait_listen 8200
	base=$(fd_count "$GUARDED")
	for i in 1 2 3; do
		"$T/cw_clients" 127.0.0.1 8200 1 --send hello >/dev/null
	done
	wait_until "$(slack_ms 6000)" '[ "$(nreports)" -ge 3 ]'
	reports >&2
	run reports
	[ "${#lines[@]}" -eq 3 ]
	for l in "${lines[@]}"; do
		[ "$(jq -r .pid <<<"$l")" -eq "$GUARDED" ]
		[ "$(jq -r .why <<<"$l")" = eof-read ]
		[ "$(jq -r .local <<<"$l")" = 127.0.0.1:8200 ]
		[ "$(jq -r '.created[0].function' <<<"$l")" = accept_loop ]
		[[ "$(jq -r '.created[0].file' <<<"$l")" == */cwt_leaky.c ]]
		[ "$(jq -r '.created[0].line' <<<"$l")" -gt 0 ]
		[ "$(jq -r '.eof[0].function' <<<"$l")" = serve_until_eof ]
		[ "$(jq -r '.close_wait_s' <<<"$l" | cut -d. -f1)" -ge 2 ]
		[ "$(jq -r 'has("cure")' <<<"$l")" = false ]
	done
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .peer | sort -u | wc -l)" -eq 3 ]
	# reported once: two more checks add nothing (nothing to poll for: the
	# claim is that nothing happens)
	sleep $((2 * INTERVAL_MS / 1000))
	[ "$(nreports)" -eq 3 ]
	# the leaks are still the program's: the guard only reports
	[ "$(owned_in_state close-wait 8200 "$GUARDED")" -eq 3 ]
	# its fds: the 3 leaked, and the report file near the top of the limit
	[ "$(fd_count "$GUARDED")" -eq $((base + 4)) ]
	high=$(find "/proc/$GUARDED/fd" -mindepth 1 -lname "$REPORT" -printf '%f\n')
	soft=$(awk '/Max open files/ { print $4 }' "/proc/$GUARDED/limits")
	[ "$high" -ge $((soft - 32)) ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "--cure fin: no socket stays in CLOSE_WAIT beyond grace + interval + 500 ms, each reported with cure fin, and the server keeps serving" {
	guarded --cure fin -- "$T/cwt-leaky" 8201 eof
	wait_listen 8201
	# the clock starts before the first client closes
	t0=$(now_ms)
	for i in 1 2 3; do
		"$T/cw_clients" 127.0.0.1 8201 1 --send hello >/dev/null
	done
	limit=$((GRACE_MS + INTERVAL_MS + $(slack_ms 500)))
	wait_until "$(slack_ms 1000)" '[ "$(count_state close-wait "( sport = :8201 )")" -eq 3 ]'
	wait_until "$((limit - ($(now_ms) - t0)))" '[ "$(count_state close-wait "( sport = :8201 )")" -eq 0 ]'
	echo "CLOSE_WAIT gone after $(($(now_ms) - t0)) ms (limit $limit)" >&2
	wait_until "$(slack_ms 2000)" '[ "$(nreports)" -eq 3 ]'
	run reports
	for l in "${lines[@]}"; do
		[ "$(jq -r .cure <<<"$l")" = fin ]
	done
	# still serving: a new client gets its answer
	run "$T/cw_clients" 127.0.0.1 8201 1 --send again
	[ "$status" -eq 0 ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "a server that stops reading a connection: reported never-read, without an EOF site; a healthy idle keep-alive connection is never reported (3 x grace)" {
	guarded -- "$T/cwt-leaky" 8202 never
	wait_listen 8202
	# the healthy one: answered, then idle and open
	bg python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", 8202))
s.sendall(b"hi\n")
s.recv(16)
print(s.getsockname()[1], flush=True)
time.sleep(60)' >"$BATS_TEST_TMPDIR/healthy.port"
	wait_until "$(slack_ms 5000)" "[ -s '$BATS_TEST_TMPDIR/healthy.port' ]"
	t0=$(now_ms)
	healthy=$(cat "$BATS_TEST_TMPDIR/healthy.port")
	for i in 1 2; do
		"$T/cw_clients" 127.0.0.1 8202 1 --send hello >/dev/null
	done
	wait_until "$(slack_ms 6000)" '[ "$(nreports)" -ge 2 ]'
	# 3 x grace since the healthy connection went idle
	wait_until $((3 * GRACE_MS + 1000)) "[ \$((\$(now_ms) - $t0)) -ge $((3 * GRACE_MS)) ]"
	run reports
	[ "${#lines[@]}" -eq 2 ]
	for l in "${lines[@]}"; do
		[ "$(jq -r .why <<<"$l")" = never-read ]
		[ "$(jq -r 'has("eof")' <<<"$l")" = false ]
		[ "$(jq -r .peer <<<"$l")" != "127.0.0.1:$healthy" ]
		[ "$(jq -r '.created[0].function' <<<"$l")" = accept_loop ]
	done
	[ "$(count_state established "( dport = :$healthy )")" -eq 1 ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

# ka.py PORT [own]: a Python client that prints its socket's keepalive
# settings ("ka ON IDLE INTVL CNT USER_TIMEOUT"), talks once ("talked"), then
# blocks in recv until it fails: "error ERRNO-NAME" (or "eof"). With own, it
# sets its own keepalive (on, idle 100 s, intvl 7 s, cnt 5) before connecting.
KA_PY='
import errno, socket, sys
s = socket.socket()
if len(sys.argv) > 2:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 100)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 7)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 5)
s.connect(("127.0.0.1", int(sys.argv[1])))
g = lambda l, o: s.getsockopt(l, o)
print("ka", g(socket.SOL_SOCKET, socket.SO_KEEPALIVE), g(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
      g(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL), g(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
      g(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT), flush=True)
s.sendall(b"hi\n")
s.recv(16)
print("talked", flush=True)
try:
    print("eof" if s.recv(16) == b"" else "data", flush=True)
except OSError as e:
    print("error", errno.errorcode[e.errno], flush=True)
'

@test "--keepalive 1:1:2 on a program that sets none: its peer vanishes (nftables drops), its blocked read fails with ETIMEDOUT within 4 s; a program's own keepalive values stay" {
	start_server 8203 --quiet
	printf '%s' "$KA_PY" >"$BATS_TEST_TMPDIR/ka.py"
	log=$BATS_TEST_TMPDIR/guarded.log
	guarded --keepalive 1:1:2 -- python3 "$BATS_TEST_TMPDIR/ka.py" 8203
	wait_until "$(slack_ms 5000)" "grep -q talked '$log'"
	# the guard's: on, 1 s, 1 s, 2 probes, and the user timeout 1 + 1 x 2 s
	[ "$(grep '^ka ' "$log")" = "ka 1 1 1 2 3000" ]
	nft add table inet cwt_guard
	nft add chain inet cwt_guard input '{ type filter hook input priority 0; }'
	nft add rule inet cwt_guard input tcp sport 8203 drop
	nft add rule inet cwt_guard input tcp dport 8203 drop
	# the clock starts once the drop rules are in
	t0=$(now_ms)
	wait_until "$(slack_ms 4000)" "grep -q '^error' '$log'"
	echo "the read failed $(($(now_ms) - t0)) ms after the drop" >&2
	[ "$(grep '^error' "$log")" = "error ETIMEDOUT" ]
	nft delete table inet cwt_guard
	kill_bg
	stop_pid "$SERVER_PID"
	# a program with its own keepalive keeps it, and the guard's user timeout goes
	start_server 8203 --quiet
	guarded --keepalive 1:1:2 -- python3 "$BATS_TEST_TMPDIR/ka.py" 8203 own
	wait_until "$(slack_ms 5000)" "grep -q talked '$log'"
	[ "$(grep '^ka ' "$log")" = "ka 1 100 7 5 0" ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}
