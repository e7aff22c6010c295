# Shared by the suites in bench/suites/ (POSIX sh, sourced):
#   . "$(dirname "$0")/../lib.sh"; bench_init "$0" "$@"
# A suite is called as `sh SUITE BUILD_DIR OUT_DIR [--smoke]`. bench_init
# re-executes it in a private network namespace when run as root (so the
# benchmarks can use any port and reach nothing else), and sets:
#   BUILD OUT SMOKE(0/1) BIN(=BUILD/bench) CW(=BUILD/closewait) HZ, and
#   CWRUN: a symlink to CW that the suites run servers through, so that no
#   server's command line reads "closewait serve ...": anything on the shared
#   machine that cleans up by pattern would otherwise kill a benchmark's
#   server mid-run (a test once did, in the C100K suite; the tests now clean
#   up by pid only).

bench_init() {
	suite=$1
	shift
	if [ "$(id -u)" = 0 ] && [ -z "${CW_BENCH_NETNS:-}" ]; then
		CW_BENCH_NETNS=1 exec unshare --net -- sh -c \
			'ip link set lo up && exec sh "$0" "$@"' "$suite" "$@"
	fi
	[ "$(id -u)" = 0 ] || echo "bench: not root: running in this network namespace" >&2
	BUILD=$(cd "$1" && pwd)
	OUT=$2
	SMOKE=0
	[ "${3:-}" = --smoke ] && SMOKE=1
	BIN=$BUILD/bench
	CW=$BUILD/closewait
	HZ=$(getconf CLK_TCK)
	TMPD=$(mktemp -d "${TMPDIR:-/tmp}/cwbench.XXXXXX")
	SERVERS="" # pids the EXIT trap ends: servers and connection holders
	CWRUN=$TMPD/cw-bench
	ln -s "$CW" "$CWRUN"
	trap 'bench_cleanup' EXIT
	trap 'exit 1' INT TERM
	for p in "$CW" "$BIN/loadgen" "$BIN/peer_uv" "$BIN/peer_bare" "$BIN/peer_block"; do
		[ -x "$p" ] || { echo "bench: $p is missing; build first" >&2; exit 1; }
	done
}

# Every pid in SERVERS is told to stop first, then waited for: they stop
# side by side. Suites that do not call bench_init set SERVERS and TMPD and
# trap it themselves.
bench_cleanup() {
	for p in $SERVERS; do kill "$p" 2>/dev/null || true; done
	for p in $SERVERS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMPD"
}

# One summary line per figure on stderr.
summary() { echo "  $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

# Value of KEY in a line of key=value pairs.
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }

# Median of the numbers given as arguments.
median() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Arithmetic with awk: calc "EXPR" prints the value; fmt N DIGITS rounds.
calc() { awk "BEGIN { print $1 }"; }
fmt() {
	awk -v v="$1" -v d="$2" 'BEGIN {
		if (v == "nan" || v == "" || v == "n/a") { print "n/a"; exit }
		if (v < 0 && v > -0.5 / 10 ^ d) v = 0   # no "-0.000"
		printf "%.*f\n", d, v }'
}
# wall_us OUT CMD...: the microseconds CMD takes from start to exit; its
# stdout goes to OUT, its stderr nowhere; its exit status is not judged.
wall_us() {
	wall_out=$1
	shift
	wall_s=$(date +%s%N)
	"$@" >"$wall_out" 2>/dev/null || true
	echo $(( ($(date +%s%N) - wall_s) / 1000 ))
}
# median_s FILE, range_s FILE: a file of microseconds, one per line, as
# seconds with three decimals: the median, and "min-max".
median_s() { fmt "$(calc "$(median $(cat "$1")) / 1e6")" 3; }
range_s() { sort -n "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f-%.3f", lo / 1e6, hi / 1e6 }'; }
# ratio A B: A/B with two decimals, n/a when B is 0 or missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "nan" || a == "") print "n/a"; else printf "%.2f\n", a / b }'; }
# ge A B: exit 0 when A >= B (numbers).
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "n/a" && a + 0 >= b + 0) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "n/a" && a + 0 <= b + 0) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "n/a" && a + 0 < b + 0) }'; }
metif() { if "$@"; then echo met; else echo "NOT met"; fi; }

# /proc figures of a process.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fd_count() { ls "/proc/$1/fd" | wc -l; }

# A goal row for the table at the top of BENCHMARKS.md. The goal states its
# threshold; its status is computed here, from the check given, so no row can
# read "met" without a measured value behind it:
#   goal "GOAL" "FIGURE" "PEER FIGURE" "RATIO" "NOTE" CHECK [ARGS...]
# e.g. goal "throughput ... >= 0.95x bare" "$r/s" "bare $b/s" "$x" "" ge "$x" 0.95
# A figure with no threshold is a report row: its status reads "figure only".
#   report "WHAT" "FIGURE" "PEER FIGURE" "RATIO" ["NOTE"]
goal() {
	[ $# -ge 6 ] || die "goal \"$1\": no check given"
	case $6 in true | : | false) die "goal \"$1\": the check must test a measured value, not \"$6\"" ;; esac
	g1=$1 g2=$2 g3=$3 g4=$4 g5=$5
	shift 5
	g_st=$(metif "$@")
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$g1" "$g2" "$g3" "$g4" "$g_st" "$g5" >>"$OUT/goals.tsv"
}
report() { printf '%s\t%s\t%s\t%s\t-\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$OUT/goals.tsv"; }

# Waits (deadline 10 s) until something listens on TCP port $1 here.
wait_listen() {
	hex=$(printf ':%04X' "$1")
	i=0
	while ! awk -v p="$hex" '$2 ~ p"$" && $4 == "0A" { f = 1 } END { exit !f }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 500 ] && die "nothing listens on port $1 after 10 s"
		sleep 0.02
	done
}

# fds_back PID N DEADLINE_S: 0 once process PID has N fds open, 1 if it
# still has not by the deadline.
fds_back() {
	i=0
	while [ "$(fd_count "$1")" -ne "$2" ]; do
		i=$((i + 1))
		[ $i -gt $(($3 * 50)) ] && return 1
		sleep 0.02
	done
}
# Waits (deadline $3 s) until process $1 has $2 fds open; fails loudly.
wait_fds() { fds_back "$@" || die "process $1 has $(fd_count "$1") fds open, expected $2"; }

# Waits (deadline $2 s) until file $1 has a line starting with "ready".
wait_ready() {
	i=0
	while ! grep -q '^ready' "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt $(($2 * 50)) ] && die "no ready line in $1 after $2 s"
		sleep 0.02
	done
}

# Waits (deadline 10 s) until strace, whose stderr goes to file $1, has
# attached to what it traces ($2 names it in the failure).
wait_attached() {
	i=0
	until grep -q attached "$1"; do
		i=$((i + 1))
		[ $i -gt 500 ] && die "strace did not attach to $2: $(cat "$1")"
		sleep 0.02
	done
}

# own_namespaces VAR SCRIPT ARGS...: runs the suite SCRIPT again in network
# and pid namespaces of its own (with its own /proc, so that a walk of /proc
# sees only its processes), unless VAR=1 says this already is that run:
# then it brings that namespace's loopback up.
own_namespaces() {
	var=$1
	shift
	if eval "[ \"\${$var:-}\" = 1 ]"; then
		ip link set lo up
		return 0
	fi
	exec env "$var=1" unshare -n -p -f --mount-proc -- sh "$@"
}

# start_server KIND PORT [EXTRA...]: starts a server, waits until it
# listens, sets SPID. KIND: closewait, libuv, bare, blocking.
start_server() {
	kind=$1
	port=$2
	shift 2
	case $kind in
	closewait) "$CWRUN" serve --bind 0.0.0.0 --port "$port" --quiet "$@" >/dev/null & ;;
	libuv) "$BIN/peer_uv" "$port" & ;;
	bare) "$BIN/peer_bare" "$port" & ;;
	blocking) "$BIN/peer_block" "$port" & ;;
	*) die "unknown server $kind" ;;
	esac
	SPID=$!
	SERVERS="$SERVERS $SPID"
	wait_listen "$port"
}

stop_server() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null || true
	SERVERS=$(printf '%s\n' $SERVERS | grep -vx "$1" | tr '\n' ' ')
}
# The same for a process that may be gone (a server between its restarts):
# 0 then, and nothing on stderr.
rss_kb_or0() { rss_kb "$1" 2>/dev/null || echo 0; }
fd_count_or0() { fd_count "$1" 2>/dev/null; }
