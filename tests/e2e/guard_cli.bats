#!/usr/bin/env bats
# closewait guard's command line: the programs LD_PRELOAD cannot reach are
# refused before they run (static, Go, set-uid/set-gid), the environment it
# gives the program (CLOSEWAIT_GUARD, LD_PRELOAD), and the exit status that
# passes through exec. The programs run under the guard here only print
# their environment or exit: what the guard library does is tested elsewhere.
# The refused programs are built once in setup_file, each a copy of one small
# program that writes a marker file when it runs.

bats_require_minimum_version 1.5.0

load lib

# go_build OUT CGO LDFLAGS: the marker program in Go, built offline with its
# caches in this file's temporary directory. CGO=1 with -linkmode=external
# gives a dynamically linked Go program (PT_INTERP), as cgo programs are.
go_build() {
	(cd "$BATS_FILE_TMPDIR/go" &&
		GOCACHE=$BATS_FILE_TMPDIR/go/cache GOPATH=$BATS_FILE_TMPDIR/go/path GOENV=off \
			GOTOOLCHAIN=local GOPROXY=off GOFLAGS= CGO_ENABLED=$2 \
			go build -ldflags="$3" -o "$BIN/$1" mark.go)
}

setup_file() {
	export BIN=$BATS_FILE_TMPDIR/bin LIB
	mkdir -p "$BIN" "$BATS_FILE_TMPDIR/go"
	command -v go >/dev/null || {
		echo "go not found: scripts/bootstrap test installs golang-go" >&2
		return 1
	}
	printf '#include <stdio.h>\nint main(int argc, char **argv)\n{\n\tFILE *f = argc > 1 ? fopen(argv[1], "w") : NULL;\n\n\treturn f && fputs("ran\\n", f) >= 0 && !fclose(f) ? 0 : 1;\n}\n' >"$BATS_FILE_TMPDIR/mark.c"
	gcc -O2 -o "$BIN/dynamic" "$BATS_FILE_TMPDIR/mark.c"
	gcc -O2 -static -o "$BIN/static" "$BATS_FILE_TMPDIR/mark.c"
	gcc -O2 -static-pie -o "$BIN/static-pie" "$BATS_FILE_TMPDIR/mark.c"
	printf 'package main\n\nimport "os"\n\nfunc main() { os.WriteFile(os.Args[1], []byte("ran\\n"), 0o644) }\n' >"$BATS_FILE_TMPDIR/go/mark.go"
	go_build go-static 0 ""
	go_build go-static-sw 0 "-s -w"
	go_build go-dynamic 1 "-linkmode=external"
	go_build go-dynamic-sw 1 "-s -w -linkmode=external"
	# No build ID, so no Go note: only the .go.buildinfo section tells.
	go_build go-no-note 1 "-s -w -buildid= -linkmode=external"
	# No section headers (e_shoff, e_shnum, e_shstrndx zeroed; the loader never
	# reads them): only the note, through PT_NOTE, tells.
	cp "$BIN/go-dynamic" "$BIN/go-no-sections"
	printf '\0\0\0\0\0\0\0\0' | dd of="$BIN/go-no-sections" bs=1 seek=40 conv=notrunc status=none
	printf '\0\0\0\0' | dd of="$BIN/go-no-sections" bs=1 seek=60 conv=notrunc status=none
	cp "$BIN/dynamic" "$BIN/setuid"
	chmod 4755 "$BIN/setuid"
	cp "$BIN/dynamic" "$BIN/setgid"
	chmod 2755 "$BIN/setgid"
	# set-gid without group execute: the kernel does not change the group
	cp "$BIN/dynamic" "$BIN/setgid-noexec"
	chmod 2745 "$BIN/setgid-noexec"
	printf '#!%s\n' "$BIN/static" >"$BIN/static-script"
	chmod 755 "$BIN/static-script"
	LIB="$(cd "$(dirname "$CLOSEWAIT")" && pwd -P)/libclosewait-guard.so"
}

# refused WANT PROG: PROG writes its marker when run directly; under the
# guard it is refused (exit 2, WANT in the message) and does not run.
refused() {
	local want=$1 prog=$2 mark=$BATS_TEST_TMPDIR/mark
	rm -f "$mark"
	"$prog" "$mark"
	[ -s "$mark" ]
	rm -f "$mark"
	run "$CLOSEWAIT" guard -- "$prog" "$mark"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"closewait guard: "*"$want"* ]]
	[ ! -e "$mark" ]
}

# guarded_env ARGS...: the environment `closewait guard ARGS` starts a
# program with (cat's /proc/self/environ: what exec gave it, before the
# guard's start in it can take its own variables out under --no-inherit),
# which must exit 0; sets GUARD_SETTINGS and GUARD_PRELOAD to the values
# found. (stderr is left out: a loader's complaint would hold "LD_PRELOAD" too.)
guarded_env() {
	run --separate-stderr "$CLOSEWAIT" guard "$@" -- sh -c 'tr "\0" "\n" </proc/$$/environ'
	echo "$output"
	echo "$stderr"
	[ "$status" -eq 0 ]
	GUARD_SETTINGS=$(sed -n 's/^CLOSEWAIT_GUARD=//p' <<<"$output")
	GUARD_PRELOAD=$(sed -n 's/^LD_PRELOAD=//p' <<<"$output")
}

@test "refused: a gcc -static program and a -static-pie one (no PT_INTERP): exit 2, the program not run" {
	refused "is statically linked" "$BIN/static"
	refused "is statically linked" "$BIN/static-pie"
}

@test "refused: Go programs, static and dynamically linked, with and without -s -w, pointing to closewait trace" {
	# the dynamic ones have a program interpreter: only the Go check refuses them
	readelf -lW "$BIN/go-dynamic" | grep -q 'Requesting program interpreter'
	readelf -lW "$BIN/go-dynamic-sw" | grep -q 'Requesting program interpreter'
	for p in go-static go-static-sw go-dynamic go-dynamic-sw; do
		refused "is a Go program" "$BIN/$p"
		[[ "$output" == *"use 'closewait trace' for Go programs"* ]]
	done
}

@test "refused: a Go program found by its .go.buildinfo section alone (no note), and one by its Go note alone (no section headers)" {
	run readelf -nW "$BIN/go-no-note"
	[ "$status" -eq 0 ]
	[[ "$output" != *"GO BUILDID"* ]]
	refused "is a Go program" "$BIN/go-no-note"
	run readelf -SW "$BIN/go-no-sections"
	[[ "$output" == *"no sections"* ]]
	refused "is a Go program" "$BIN/go-no-sections"
}

@test "refused: a set-uid copy and a set-gid copy of a program" {
	refused "is set-uid or set-gid: the loader ignores LD_PRELOAD" "$BIN/setuid"
	refused "is set-uid or set-gid: the loader ignores LD_PRELOAD" "$BIN/setgid"
}

@test "not refused: the dynamically linked program they were copied from, and a set-gid copy without group execute (its group does not change)" {
	run "$CLOSEWAIT" guard -- "$BIN/dynamic" "$BATS_TEST_TMPDIR/dyn"
	[ "$status" -eq 0 ]
	[ -s "$BATS_TEST_TMPDIR/dyn" ]
	run "$CLOSEWAIT" guard -- "$BIN/setgid-noexec" "$BATS_TEST_TMPDIR/noexec"
	[ "$status" -eq 0 ]
	[ -s "$BATS_TEST_TMPDIR/noexec" ]
}

@test "a script is judged by the interpreter on its #! line: refused with a static one, run with sh" {
	run "$CLOSEWAIT" guard -- "$BIN/static-script"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"$BIN/static (the interpreter of $BIN/static-script) is statically linked"* ]]
	printf '#!/bin/sh\nexit 5\n' >"$BATS_TEST_TMPDIR/five"
	chmod 755 "$BATS_TEST_TMPDIR/five"
	run "$CLOSEWAIT" guard -- "$BATS_TEST_TMPDIR/five"
	[ "$status" -eq 5 ]
}

@test "CLOSEWAIT_GUARD holds every option, report last and made absolute; LD_PRELOAD is the build tree's library" {
	mkdir "$BATS_TEST_TMPDIR/rel"
	cd "$BATS_TEST_TMPDIR"
	guarded_env --keepalive 1:2:3 --interval 2s --grace 3s --cure fin --no-inherit --report rel/path,x
	# user_timeout: 1 s + 2 s x 3, as serve derives it
	[ "$GUARD_SETTINGS" = "interval=2000,grace=3000,keepalive=1:2:3,user_timeout=7000,cure=fin,inherit=0,report=$(pwd -P)/rel/path,x" ]
	[ "$GUARD_PRELOAD" = "$LIB" ]
}

@test "the programs a guarded program execs keep the guard; with --no-inherit they run without it, and an LD_PRELOAD of the user's stays" {
	run --separate-stderr "$CLOSEWAIT" guard -- sh -c env
	[ "$status" -eq 0 ]
	[ "$(grep -c '^CLOSEWAIT_GUARD=interval=1000,grace=5000$' <<<"$output")" -eq 1 ]
	[ "$(grep -c "^LD_PRELOAD=$LIB\$" <<<"$output")" -eq 1 ]
	run --separate-stderr "$CLOSEWAIT" guard --no-inherit -- sh -c env
	[ "$status" -eq 0 ]
	[ "$(grep -c '^CLOSEWAIT_GUARD=' <<<"$output")" -eq 0 ]
	[ "$(grep -c '^LD_PRELOAD=' <<<"$output")" -eq 0 ]
	LD_PRELOAD=/nonexistent/libmine.so run --separate-stderr "$CLOSEWAIT" guard --no-inherit -- sh -c env
	[ "$status" -eq 0 ]
	[ "$(grep -c '^CLOSEWAIT_GUARD=' <<<"$output")" -eq 0 ]
	[ "$(grep -c '^LD_PRELOAD=/nonexistent/libmine.so$' <<<"$output")" -eq 1 ]
}

@test "defaults: only the checker's period and grace; an absolute report path is kept as is" {
	guarded_env
	[ "$GUARD_SETTINGS" = "interval=1000,grace=5000" ]
	guarded_env --keepalive off --report /x/a,b=c
	[ "$GUARD_SETTINGS" = "interval=1000,grace=5000,report=/x/a,b=c" ]
}

@test "an LD_PRELOAD already set stays first, the guard's library after it" {
	LD_PRELOAD="$BIN/none.so" guarded_env
	[ "$GUARD_PRELOAD" = "$BIN/none.so $LIB" ]
}

@test "--keepalive with empty fields takes this system's values, and the user timeout derived from them; --user-timeout wins" {
	idle=$(cat /proc/sys/net/ipv4/tcp_keepalive_time)
	intvl=$(cat /proc/sys/net/ipv4/tcp_keepalive_intvl)
	cnt=$(cat /proc/sys/net/ipv4/tcp_keepalive_probes)
	guarded_env --keepalive ::
	[ "$GUARD_SETTINGS" = "interval=1000,grace=5000,keepalive=$idle:$intvl:$cnt,user_timeout=$(((idle + intvl * cnt) * 1000))" ]
	guarded_env --keepalive 10::
	[ "$GUARD_SETTINGS" = "interval=1000,grace=5000,keepalive=10:$intvl:$cnt,user_timeout=$(((10 + intvl * cnt) * 1000))" ]
	guarded_env --keepalive 1:2:3 --user-timeout 1500ms
	[ "$GUARD_SETTINGS" = "interval=1000,grace=5000,keepalive=1:2:3,user_timeout=1500" ]
	# explicit 0: off, written so that nothing derives one
	guarded_env --keepalive 1:2:3 --user-timeout 0
	[ "$GUARD_SETTINGS" = "interval=1000,grace=5000,keepalive=1:2:3,user_timeout=0" ]
	guarded_env --user-timeout 2s
	[ "$GUARD_SETTINGS" = "interval=1000,grace=5000,user_timeout=2000" ]
}

@test "the exit status passes through: exit 7 is 7; the program replaces closewait (same pid), so SIGTERM ends it as 143" {
	run "$CLOSEWAIT" guard -- sh -c 'exit 7'
	[ "$status" -eq 7 ]
	run "$CLOSEWAIT" guard -- sh -c 'kill -TERM $$'
	[ "$status" -eq 143 ]
	start_bg sleep "$CLOSEWAIT" guard -- sleep 30
	wait_until "$(slack_ms 5000)" "[ \"\$(cat /proc/$BG_PID/comm)\" = sleep ]"
	stop_pid "$BG_PID" TERM
	[ "$STOP_STATUS" -eq 143 ]
}

@test "a program not found exits 127, one that is not executable 126, each with a message" {
	run -127 "$CLOSEWAIT" guard -- cw-no-such-program
	[[ "$output" == *"closewait guard: cw-no-such-program: command not found"* ]]
	run -127 "$CLOSEWAIT" guard -- "$BATS_TEST_TMPDIR/none"
	[[ "$output" == *"No such file or directory"* ]]
	touch "$BATS_TEST_TMPDIR/plain"
	run "$CLOSEWAIT" guard -- "$BATS_TEST_TMPDIR/plain"
	[ "$status" -eq 126 ]
	[[ "$output" == *"Permission denied"* ]]
	PATH="$BATS_TEST_TMPDIR:$PATH" run "$CLOSEWAIT" guard -- plain
	[ "$status" -eq 126 ]
	[[ "$output" == *"plain: Permission denied"* ]]
}

@test "usage errors exit 2 with a message: no --, no program, bad --cure, --keepalive, durations, unknown option" {
	usage_error 'put "--" before the program' "$CLOSEWAIT" guard env
	usage_error 'no program to run' "$CLOSEWAIT" guard
	usage_error 'no program after "--"' "$CLOSEWAIT" guard --
	# "--" as --report's value is not the separator
	usage_error 'put "--" before the program' "$CLOSEWAIT" guard --report -- env
	usage_error '--cure: invalid value "rst" (fin)' "$CLOSEWAIT" guard --cure rst -- env
	usage_error '--keepalive: invalid value "1:2"' "$CLOSEWAIT" guard --keepalive 1:2 -- env
	usage_error '--interval: invalid duration "5"' "$CLOSEWAIT" guard --interval 5 -- env
	usage_error '--grace: must be more than 0' "$CLOSEWAIT" guard --grace 0 -- env
	usage_error '--user-timeout: invalid duration "x"' "$CLOSEWAIT" guard --user-timeout x -- env
	usage_error 'unknown option "--bogus"' "$CLOSEWAIT" guard --bogus -- env
}

@test "--help describes the options, the environment variable and the refusals" {
	run "$CLOSEWAIT" guard --help
	[ "$status" -eq 0 ]
	for w in --interval --grace --report --keepalive --user-timeout "--cure fin" --no-inherit \
		CLOSEWAIT_GUARD LD_PRELOAD "statically linked" "Go program" "set-uid" "closewait trace" "only reports"; do
		[[ "$output" == *"$w"* ]]
	done
}
