#!/usr/bin/env bats
# Unmodified real programs under closewait guard behave as without it: the
# same output and exit status, and no report (they close what they open).
# Python's socketserver (threads, and one forked child per connection),
# socat and curl from Debian, a prefork C server, and one that calls
# close_range(3, ~0U, 0) at start. Each server and client runs once without
# the guard and once with it.

bats_require_minimum_version 1.5.0
load guard_fixture

PY_SERVER='
import socketserver, sys
class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line.upper())
cls = socketserver.ForkingTCPServer if sys.argv[2] == "fork" else socketserver.ThreadingTCPServer
cls.allow_reuse_address = True
with cls(("127.0.0.1", int(sys.argv[1])), Upper) as s:
    print("ready", flush=True)
    s.serve_forever()
'

setup() {
	REPORT=$BATS_TEST_TMPDIR/report.json
	SHELL_FDS=$(shell_fds $$)
	printf '%s' "$PY_SERVER" >"$BATS_TEST_TMPDIR/server.py"
}

teardown() { kill_bg; }

# both PORT SERVER...: SERVER without the guard then with it; each time
# three socat clients send two lines and print the answers. Sets PLAIN and
# GUARDED_OUT (the clients' output and exit statuses).
both() {
	local port=$1 mode out
	shift
	for mode in plain guard; do
		if [ $mode = plain ]; then
			bg "$@" >"$BATS_TEST_TMPDIR/server.log" 2>&1
		else
			guarded -- "$@"
		fi
		wait_listen "$port"
		out=
		for i in 1 2 3; do
			if [ $mode = plain ]; then
				r=$(printf 'hello %s\nworld\n' "$i" | socat -t 5 - "TCP:127.0.0.1:$port")
			else
				r=$(printf 'hello %s\nworld\n' "$i" | under_guard socat -t 5 - "TCP:127.0.0.1:$port")
			fi
			out+="${r//$'\n'/ } exit $?;"
		done
		kill_bg
		wait_until "$(slack_ms 5000)" "! listening $port"
		if [ $mode = plain ]; then PLAIN=$out; else GUARDED_OUT=$out; fi
	done
	echo "without: $PLAIN" >&2
	echo "with:    $GUARDED_OUT" >&2
}

# clean: the report holds no close-wait line, and a summary from each socat
# (3 clients, each tracked one connection; socat leaves it to exit to close).
clean() {
	[ "$(nreports)" -eq 0 ]
	[ "$(jq -c 'select(.event == "summary" and .tracked == 1 and .reported == 0)' "$REPORT" | wc -l)" -ge 3 ]
}

@test "Python's threading socketserver and socat: the same answers and statuses with and without the guard, no report" {
	both 8300 python3 "$BATS_TEST_TMPDIR/server.py" 8300 thread
	[ "$PLAIN" = "$GUARDED_OUT" ]
	[ "$PLAIN" = "HELLO 1 WORLD exit 0;HELLO 2 WORLD exit 0;HELLO 3 WORLD exit 0;" ]
	clean
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "Python's forking socketserver (a child per connection): the same answers with and without the guard, no report" {
	both 8301 python3 "$BATS_TEST_TMPDIR/server.py" 8301 fork
	[ "$PLAIN" = "$GUARDED_OUT" ]
	[ "$PLAIN" = "HELLO 1 WORLD exit 0;HELLO 2 WORLD exit 0;HELLO 3 WORLD exit 0;" ]
	clean
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "a prefork C server, and one that calls close_range at start: the same answers with and without the guard, no report" {
	both 8302 "$T/cwt-prefork" 8302 3
	[ "$PLAIN" = "$GUARDED_OUT" ]
	[ "$PLAIN" = "HELLO 1 WORLD exit 0;HELLO 2 WORLD exit 0;HELLO 3 WORLD exit 0;" ]
	both 8303 "$T/cwt-prefork" 8303 3 --close-range
	[ "$PLAIN" = "$GUARDED_OUT" ]
	[ "$PLAIN" = "HELLO 1 WORLD exit 0;HELLO 2 WORLD exit 0;HELLO 3 WORLD exit 0;" ]
	clean
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}

@test "curl from Debian against Python's http.server: the same body and status with and without the guard; a refused connection exits 7 both ways" {
	mkdir -p "$BATS_TEST_TMPDIR/www"
	head -c 200000 /dev/urandom | base64 >"$BATS_TEST_TMPDIR/www/file.txt"
	bg python3 -m http.server 8304 --bind 127.0.0.1 --directory "$BATS_TEST_TMPDIR/www" >/dev/null 2>&1
	wait_listen 8304
	run curl -sS --max-time 5 http://127.0.0.1:8304/file.txt
	[ "$status" -eq 0 ]
	plain=$output
	run under_guard curl -sS --max-time 5 http://127.0.0.1:8304/file.txt
	[ "$status" -eq 0 ]
	[ "$output" = "$plain" ]
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/www/file.txt")" ]
	run curl -sS --max-time 5 http://127.0.0.1:8399/
	[ "$status" -eq 7 ]
	run under_guard curl -sS --max-time 5 http://127.0.0.1:8399/
	[ "$status" -eq 7 ]
	[ "$(nreports)" -eq 0 ]
	kill_bg
	[ "$(shell_fds $$)" = "$SHELL_FDS" ]
}
