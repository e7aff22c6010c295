#!/usr/bin/env bats
# closewait serve's connection options with valid values, driven from the
# command line, each observed where it acts: the kernel's socket table (ss,
# /proc/net/tcp), the server's fd table (/proc/PID/fd), and what the peer sees.
# cwt-probe plays the peer and stamps its times in whole milliseconds on the
# monotonic clock, as the server's loop counts them.
#
# Time bounds. A deadline D is never met early, so "not before D" is checked
# from a stamp taken before the server's clock can have started (the send of
# what it read, the FIN we sent). Lateness is checked from a stamp taken after
# it must have started (the echo we got back, the FIN seen arriving): at most
# the timing wheel's granule at D plus a wake-up allowance, times
# CW_TEST_SLACK. lib/wheel.h: 256 slots a level, each level 8x coarser, 1 ms
# ticks; a deadline 255 ms to 2039 ms away sits in level 1, granule 8 ms, so
# every deadline here (1 s) fires at most 8 ms late.

bats_require_minimum_version 1.5.0

load lib

TICK_1S=8 # ms: the wheel's granule for a deadline 1 s away (level 1)
WAKE=50   # ms: the server's wake-up and ours to see the end, both cores busy

setup() {
	SOMAXCONN=$(sysctl -n net.core.somaxconn)
	TCP_WMEM=$(sysctl -n net.ipv4.tcp_wmem)
	TCP_RMEM=$(sysctl -n net.ipv4.tcp_rmem)
}

teardown() {
	nft delete table inet cwt_probe 2>/dev/null || true
	[ -n "${SERVER_PID:-}" ] && kill -KILL "$SERVER_PID" 2>/dev/null || true
	for p in ${PEERS:-}; do kill -KILL "$p" 2>/dev/null || true; done
	sysctl -qw net.core.somaxconn="$SOMAXCONN" net.ipv4.tcp_wmem="$TCP_WMEM" \
		net.ipv4.tcp_rmem="$TCP_RMEM"
}

# val KEY: the value of KEY=VALUE in the output of the last run (cwt-probe's lines).
val() { grep -o "\b$1=[^ ]*" <<<"$output" | tail -n1 | cut -d= -f2; }

# late_ms D: the most a deadline D (ms, 255-2039) may fire after it is due.
late_ms() { echo $(($1 + $(slack_ms $((TICK_1S + WAKE))))); }

@test "--backlog N: the listening socket's backlog (its Send-Q in ss) is min(N, net.core.somaxconn)" {
	sysctl -qw net.core.somaxconn=300
	for want in "100 100" "1000 300" "default 300"; do
		set -- $want
		if [ "$1" = default ]; then
			start_server 8400 --bind 127.0.0.1 --quiet # 4096
		else
			start_server 8400 --bind 127.0.0.1 --quiet --backlog "$1"
		fi
		run ss -Hltn "sport = :8400"
		echo "--backlog $1, somaxconn 300: $output"
		[ "$status" -eq 0 ]
		[ "${#lines[@]}" -eq 1 ]
		[ "$(awk '{ print $3 }' <<<"$output")" -eq "$2" ]
		stop_pid "$SERVER_PID" TERM
		[ "$STOP_STATUS" -eq 0 ]
	done
}

@test "--max-conns 2: a third connection at once is closed, reason limit; the two stay; a new one is served once they leave" {
	start_server 8401 --bind 127.0.0.1 --max-conns 2 --stats
	base=$(fd_count "$SERVER_PID")
	mkfifo "$BATS_TEST_TMPDIR/held"
	exec 8<>"$BATS_TEST_TMPDIR/held"
	"$CW_TOOLS/cw_peer" 127.0.0.1 8401 2 --send hello <"$BATS_TEST_TMPDIR/held" \
		>"$BATS_TEST_TMPDIR/held.out" 8>&- 3>&- &
	PEERS="${PEERS:-} $!"
	wait_until "$(slack_ms 5000)" "grep -q '^ready' '$BATS_TEST_TMPDIR/held.out'"
	read -r _ p1 p2 <"$BATS_TEST_TMPDIR/held.out"
	wait_fds "$SERVER_PID" $((base + 2))
	# the third: the server's end closes at once, a plain FIN
	run "$CW_TOOLS/cwt-peer" --port 8401 --timeout "$(slack_ms 2000)"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"end=eof bytes=0 "* ]]
	run grep -c ': limit$' "$BATS_TEST_TMPDIR/serve.log"
	[ "$output" -eq 1 ]
	run grep -o 'PORT [0-9]*: limit$' "$BATS_TEST_TMPDIR/serve.log"
	[ "$output" != "PORT $p1: limit" ]
	[ "$output" != "PORT $p2: limit" ]
	# the two held ones are untouched: established, owned by the server
	[ "$(owned_in_state established 8401 "$SERVER_PID")" -eq 2 ]
	[ "$(count_state established "( sport = :8401 and dport = :$p1 )")" -eq 1 ]
	[ "$(count_state established "( sport = :8401 and dport = :$p2 )")" -eq 1 ]
	wait_fds "$SERVER_PID" $((base + 2))
	exec 8>&-
	wait_fds "$SERVER_PID" "$base"
	run "$CLOSEWAIT" client --port 8401 "after them"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "AFTER THEM" ]
	wait_fds "$SERVER_PID" "$base"
	stop_pid "$SERVER_PID" TERM
	[ "$STOP_STATUS" -eq 0 ]
	grep -Eq "^  limit +1$" "$BATS_TEST_TMPDIR/serve.log"
	grep -q "^connections accepted: 4$" "$BATS_TEST_TMPDIR/serve.log"
}

@test "--read-idle 1s: a peer silent after one message is closed, reason read-idle, 1 s after the server read it, at most a wheel granule late" {
	start_server 8402 --bind 127.0.0.1 --read-idle 1s
	base=$(fd_count "$SERVER_PID")
	run "$CW_TOOLS/cwt-probe" read-idle --port 8402 --timeout "$(slack_ms 3000)"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(val how)" = eof ]
	# The server's clock starts at its read of our ping: after our send,
	# before its echo reached us.
	[ $(($(val end) - $(val sent))) -ge 1000 ]
	[ $(($(val end) - $(val replied))) -le "$(late_ms 1000)" ]
	grep -q "^closed 127.0.0.1 at PORT $(val port): read-idle$" "$BATS_TEST_TMPDIR/serve.log"
	wait_fds "$SERVER_PID" "$base"
}

@test "--write-stall 1s: a peer that stops reading is closed, reason write-stall, 1 to 1.25 s after the server's output stopped moving" {
	start_server 8403 --bind 127.0.0.1 --write-stall 1s
	base=$(fd_count "$SERVER_PID")
	run "$CW_TOOLS/cwt-probe" write-stall --port 8403 --timeout "$(slack_ms 5000)"
	echo "$output"
	[ "$status" -eq 0 ]
	# The server shut down its side (its FIN queued behind the stuck reply).
	[ "$(val how)" = fin-wait-1 ]
	# The clock: the last look at the queues (ours, and the server's send
	# queue in /proc/net/tcp) before they last moved. The server checks for
	# progress four times a period (lib/core/conn.c), so it ends 1 to 1.25
	# periods after the last progress; the checks are 250 ms apart (wheel
	# level 0, 1 ms granule), the last one at most a 1 s granule late.
	[ $(($(val end) - $(val stalled))) -ge 1000 ]
	[ $(($(val end) - $(val stalled))) -le "$(late_ms 1250)" ]
	grep -q "^closed 127.0.0.1 at PORT $(val port): write-stall$" "$BATS_TEST_TMPDIR/serve.log"
	# our close with the reply unread resets it; the server's lingering end goes
	wait_fds "$SERVER_PID" "$base"
}

@test "--linger 1s: after the server's graceful close, a peer that never sends its FIN is released 1 s later" {
	start_server 8404 --bind 127.0.0.1 --read-idle 300ms --linger 1s
	base=$(fd_count "$SERVER_PID")
	# read-idle ends it gracefully 300 ms in: our EOF; we never close, so the
	# server holds its end (FIN_WAIT_2) and its fd until the linger is up.
	run "$CW_TOOLS/cwt-probe" linger --port 8404 --pid "$SERVER_PID" --fds "$base" \
		--timeout "$(slack_ms 4000)"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(val how)" = eof ]
	# Its linger clock starts when it shut down its side: not before 300 ms
	# after our send, not after our EOF.
	[ $(($(val released) - $(val sent))) -ge 1300 ]
	[ $(($(val released) - $(val end))) -le "$(late_ms 1000)" ]
	grep -q "^closed 127.0.0.1 at PORT $(val port): read-idle$" "$BATS_TEST_TMPDIR/serve.log"
	wait_fds "$SERVER_PID" "$base"
}

@test "--half-close 1s: pending output to a peer that sent its FIN and reads nothing is dropped 1 s after that FIN, reason half-close-timeout" {
	# So that the reply gets stuck while the whole request and our FIN still
	# reach the server: its send buffer may grow to 64 KiB only, its receive
	# buffer starts at 1 MiB (this namespace only; the probe's own receive
	# buffer is the smallest there is).
	sysctl -qw net.ipv4.tcp_wmem="4096 16384 65536" net.ipv4.tcp_rmem="4096 1048576 6291456"
	# The default --linger (5 s) must not extend the bound: the stuck output
	# is dropped at it, not flushed for a linger more.
	start_server 8405 --bind 127.0.0.1 --half-close 1s
	base=$(fd_count "$SERVER_PID")
	run "$CW_TOOLS/cwt-probe" half-close --port 8405 --bytes 524288 --timeout "$(slack_ms 4000)"
	echo "$output"
	[ "$status" -eq 0 ]
	# The server's end left CLOSE_WAIT, not before 1 s after our FIN went out.
	# Its clock runs from the FIN or from its last output progress after it
	# (the echo may still be filling the buffers as the FIN comes in): at most
	# a granule late after the later of our sight of the FIN and of the queues
	# last moving.
	[ $(($(val end) - $(val fin_sent))) -ge 1000 ]
	from=$(val fin_seen)
	[ "$(val moved)" -le "$from" ] || from=$(val moved)
	[ $(($(val end) - from)) -le "$(late_ms 1000)" ]
	grep -q "^closed 127.0.0.1 at PORT $(val port): half-close-timeout$" "$BATS_TEST_TMPDIR/serve.log"
	wait_fds "$SERVER_PID" "$base"
}

@test "--user-timeout 1s: a peer behind a drop rule, our reply unacknowledged, is closed, reason user-timeout" {
	start_server 8406 --bind 127.0.0.1 --user-timeout 1s
	base=$(fd_count "$SERVER_PID")
	run "$CW_TOOLS/cwt-probe" user-timeout --port 8406 --timeout "$(slack_ms 4000)"
	echo "$output"
	[ "$status" -eq 0 ]
	# The kernel gave up on the connection: the server's end left the table.
	[ "$(val how)" = gone ]
	# The echo of what we sent at S is never acknowledged (every packet to us
	# is dropped). The kernel counts the user timeout from its first
	# retransmission by timeout, which comes after a tail-loss probe, each at
	# least tcp_rto_min (200 ms) later: it ends 1 s + 2 x 200 ms after S, plus
	# the lateness of the kernel's own timers (its timer wheel: up to 1/8 of a
	# timer's length, 100 ms for the last one), plus our wake-up. The kernel's
	# timers do not slow down under the sanitizers; only the wake-up is scaled.
	[ $(($(val end) - $(val sent))) -ge 1000 ]
	[ $(($(val end) - $(val sent))) -le $((1000 + 400 + 100 + $(slack_ms "$WAKE"))) ]
	grep -q "^closed 127.0.0.1 at PORT $(val port): user-timeout (Connection timed out)$" \
		"$BATS_TEST_TMPDIR/serve.log"
	wait_fds "$SERVER_PID" "$base"
}
