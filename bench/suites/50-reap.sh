#!/bin/sh
# Reap benchmark: `closewait reap` in fin mode on 10 000 CLOSE_WAIT sockets
# beside `ss -K` on another 10 000, same run, same namespace; and reap once
# more on a third 10 000, pinned to one CPU (taskset), where its /proc walk
# and its FINs cannot overlap. Each run makes three fresh leaking processes
# (bench/census_farm leak: the accepted ends are never closed, the clients'
# are), one per measurement, on ports of their own; the clients' orphaned
# FIN_WAIT_2 ends are still there (tcp_fin_timeout 60 s), so fin mode ends
# each pair cleanly: the case reap is for. The order of the three rotates
# between runs. In its own network and pid namespaces: the /proc walk reap
# needs for owners sees only this benchmark's processes.
#   sh bench/suites/50-reap.sh BUILD_DIR OUT_DIR [--smoke]
set -eu
. "$(dirname "$0")/../lib.sh" # helpers only: its bench_init is not for a pid namespace
build=$1 out=$2 mode=${3:-}
own_namespaces CW_REAP_BENCH_NS "$0" "$@"
# Each run leaves 20 000 TIME_WAIT (the reaped pairs' client ends) and 30 000
# orphaned FIN_WAIT_2, which hold time-wait buckets too, all for 60 s: past
# tcp_max_tw_buckets (131 072 here) a closing client end is dropped at once
# (TCPTimeWaitOverflow), its port is free for the next connect while the
# farm's CLOSE_WAIT end still holds the pair, and that SYN resets it: a
# farm then had ~1 500 fewer CLOSE_WAIT sockets than it made.
sysctl -qw net.ipv4.tcp_max_tw_buckets=1000000
cw=$build/closewait farm=$build/bench/census_farm
for p in "$cw" "$farm"; do
	[ -x "$p" ] || { echo "50-reap: $p is missing; build first" >&2; exit 1; }
done
if [ "$mode" = --smoke ]; then
	n=200 runs=3
else
	n=10000 runs=7
fi
TMPD=$(mktemp -d)
tmp=$TMPD
SERVERS= # the farms, ended by bench_cleanup
trap bench_cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "50-reap: $*" >&2; exit 1; }

count() { ss -Htan state "$1" "$2" | wc -l; }

# farm PORT SRC: a process holding $n CLOSE_WAIT sockets on PORT; sets FARM.
farm() {
	"$farm" leak $n "$1" "$2" >"$tmp/farm$1" &
	FARM=$!
	SERVERS="$SERVERS $FARM"
}

# run_reap PORT TIMES [taskset -c CPU]: one reap of every socket on PORT.
run_reap() {
	port=$1 times=$2
	shift 2
	t=$(wall_us "$tmp/last" "$@" "$cw" reap --sport "$port" --yes --json)
	clean=$(jq .results.clean "$tmp/last")
	[ "$clean" = "$n" ] || fail "run $r: reap ${*:+($*) }ended $clean sockets cleanly, not $n: $(jq -c .results "$tmp/last")"
	[ "$(count close-wait "sport = :$port")" -eq 0 ] || fail "run $r: CLOSE_WAIT left after reap"
	[ "$(count time-wait "dport = :$port")" -eq "$n" ] || fail "run $r: the peers are not all in TIME_WAIT"
	echo "$t" >>"$tmp/$times"
}

# ss -K destroys while its dump walks the hash table; once here (one run in
# about thirty) CLOSE_WAIT sockets were left after it: counted and reported,
# not retried.
run_ssk() {
	t=$(wall_us "$tmp/last" ss -K -tn state close-wait "sport = :$1")
	echo "$(count close-wait "sport = :$1")" >>"$tmp/ssk_left"
	echo "$t" >>"$tmp/t_ssk"
}

PIN=$(($(nproc) - 1))
command -v taskset >/dev/null || fail "taskset (util-linux) is missing"
r=0
while [ $r -lt $runs ]; do
	pa=$((22000 + 3 * r)) pb=$((22001 + 3 * r)) pc=$((22002 + 3 * r))
	farm $pa 127.0.0.2
	fa=$FARM
	farm $pb 127.0.0.3
	fb=$FARM
	farm $pc 127.0.0.4
	fc=$FARM
	for p in $pa $pb $pc; do
		wait_ready "$tmp/farm$p" 120
		[ "$(count close-wait "sport = :$p")" -eq $n ] || fail "run $r: $(count close-wait "sport = :$p") CLOSE_WAIT on $p"
	done
	case $((r % 3)) in
	0) run_reap $pa t_reap; run_ssk $pb; run_reap $pc t_pin taskset -c $PIN ;;
	1) run_ssk $pb; run_reap $pc t_pin taskset -c $PIN; run_reap $pa t_reap ;;
	2) run_reap $pc t_pin taskset -c $PIN; run_reap $pa t_reap; run_ssk $pb ;;
	esac
	kill $fa $fb $fc
	wait $fa $fb $fc 2>/dev/null || true
	SERVERS=
	r=$((r + 1))
done

m_reap=$(median_s "$tmp/t_reap") m_ssk=$(median_s "$tmp/t_ssk") m_pin=$(median_s "$tmp/t_pin")
x=$(ratio "$m_reap" "$m_ssk") x_pin=$(ratio "$m_pin" "$m_ssk") x_self=$(ratio "$m_pin" "$m_reap")
under=$(metif lt "$m_reap" 1)
noslower=$(metif le "$x" 1)
ssk_left=$(awk '{ t += $1; if ($1) r++ } END { printf "%d socket%s in %d run%s", t, t == 1 ? "" : "s", r, r == 1 ? "" : "s" }' "$tmp/ssk_left")

cat <<MD

## Reap: closewait reap (fin) vs ss -K$( [ "$mode" = --smoke ] && echo " (smoke sizes)")

$n CLOSE_WAIT sockets for each measurement, in processes of their own (\`bench/census_farm leak\`),
their peers' ends orphaned FIN_WAIT_2 (still there: the clean case). Wall time of one command,
from start to exit, median of $runs runs (min-max in brackets), seconds; the order of the three
measurements rotates between runs. Every run checks the result in the kernel's table: no
CLOSE_WAIT left, and after each reap every peer in TIME_WAIT (reap's report: $n clean).

\`\`\`
closewait reap --sport PORT_A --yes --json      # dump; /proc walk || pidfd_getfd + shutdown; wait for the ACKs
ss -K -tn state close-wait 'sport = :PORT_B'    # SOCK_DESTROY: an RST for each
\`\`\`

| what | closewait reap (fin) | ss -K (rst) | reap / ss -K | goal: under 1 s | goal: no slower than ss -K |
|---|---|---|---|---|---|
| end $n CLOSE_WAIT sockets | $m_reap ($(range_s "$tmp/t_reap")) | $m_ssk ($(range_s "$tmp/t_ssk")) | ${x}x | $under | $noslower |
| the same, reap pinned to one CPU (\`taskset -c $PIN\`) | $m_pin ($(range_s "$tmp/t_pin")) | $m_ssk | ${x_pin}x | figure only | figure only |

Pinned to one CPU, reap's /proc walk and its FINs cannot run at the same time: it took ${x_self}x
its time on the machine's $(nproc) CPUs.

CLOSE_WAIT sockets \`ss -K\` left behind (missed by its dump while it destroyed): $ssk_left.

reap does more than ss -K for each socket: it finds the owner's fd (one readlinkat per fd of the
owners in /proc), duplicates it (pidfd_getfd), checks its inode and state again, sends a FIN
rather than an RST, and waits for the peer's answer, so that it can report clean or reset; ss -K
needs no owner and does not wait. With \`--yes\` the /proc walk runs on a thread of its own and
hands over each socket as it finds it (duplicated, inode read), while the main thread sends the
FINs: the two overlap on the machine's $(nproc) CPUs (docs/reap.md, "How it works").
MD
echo "50-reap: reap (fin) ${m_reap}s, ss -K ${m_ssk}s for $n sockets (reap/ss -K ${x}x; under 1 s: $under; no slower: $noslower; ss -K left $ssk_left); pinned to one CPU ${m_pin}s" >&2
