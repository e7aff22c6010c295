#!/bin/sh
# Scan benchmark: `closewait scan` against `ss -tanp` and `netstat -antp` on
# the same sockets in the same run. In its own network namespace (unshare -n):
# 50 000 established loopback connections (both ends: 100 000 sockets) and
# 20 000 CLOSE_WAIT sockets, held by 8 processes (census_farm) connecting
# from 8 source addresses 127.0.0.2-9 (no process may hold more than 20 000
# fds). The clients' orphaned FIN_WAIT_2 ends expire first (tcp_fin_timeout
# 2 s in the namespace) so every run sees the same sockets. A pid namespace
# too (its own /proc): all three tools walk /proc/*/fd, and other work on the
# machine (other benchmarks' hundred thousand sockets) would otherwise weigh
# on all of them, run to run differently.
#   sh bench/suites/30-scan.sh BUILD_DIR OUT_DIR [--smoke]
set -eu
build=$1 out=$2 mode=${3:-}
if [ "${CW_SCAN_BENCH_NS:-}" != 1 ]; then
	exec env CW_SCAN_BENCH_NS=1 unshare -n -p -f --mount-proc -- sh "$0" "$@"
fi
ip link set lo up
sysctl -qw net.ipv4.tcp_fin_timeout=2
cw=$build/closewait farm=$build/bench/census_farm
if [ "$mode" = --smoke ]; then
	est_procs=6 est_per=100 cw_procs=2 cw_per=100 runs=3
else
	est_procs=6 est_per=8334 cw_procs=2 cw_per=10000 runs=7
fi
tmp=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

i=0
while [ $i -lt $((est_procs + cw_procs)) ]; do
	if [ $i -lt $est_procs ]; then kind=estab n=$est_per; else kind=leak n=$cw_per; fi
	"$farm" $kind $n $((20000 + i)) 127.0.0.$((2 + i)) >"$tmp/farm$i" &
	pids="$pids $!"
	i=$((i + 1))
done
# all in place (a farm that fails exits: then this waits in vain, bounded)
deadline=$(( $(date +%s) + 300 ))
for f in "$tmp"/farm*; do
	until grep -q ready "$f"; do
		[ "$(date +%s)" -lt $deadline ] || { echo "30-scan: the socket farm did not start" >&2; exit 1; }
		sleep 0.2
	done
done
sleep 3 # the orphaned FIN_WAIT_2 ends expire (tcp_fin_timeout 2 s)

n_all=$(ss -Htan | wc -l)
n_est=$(ss -Htan state established | wc -l)
n_cw=$(ss -Htan state close-wait | wc -l)
n_fds=0
for p in $pids; do n_fds=$((n_fds + $(ls /proc/$p/fd | wc -l))); done
# what scan found, to check it is the whole table with its owners
"$cw" scan --json >"$tmp/scan.json" || true
scan_total=$(jq .sockets_total "$tmp/scan.json")
scan_owned=$(jq '[.sockets[] | select(.owners | length > 0)] | length' "$tmp/scan.json")
"$cw" scan --state close-wait --json >"$tmp/scancw.json" || true
scan_cw=$(jq '[.sockets[] | select(.state == "close-wait" and (.owners | length > 0))] | length' "$tmp/scancw.json")
ss_cw_owned=$(ss -Htanp state close-wait | grep -c 'users:' || true)

# ms one command takes, its output thrown away
timed() {
	s=$(date +%s%N)
	"$@" >/dev/null 2>&1 || true
	e=$(date +%s%N)
	echo $(( (e - s) / 1000 ))
}
r=0
while [ $r -lt $runs ]; do
	# interleaved, so that drift hits every tool alike
	timed "$cw" scan --json >>"$tmp/t_scan"
	timed ss -tanp >>"$tmp/t_ss"
	timed netstat -antp >>"$tmp/t_netstat"
	timed "$cw" scan --state close-wait --json >>"$tmp/t_scancw"
	timed ss -tanp state close-wait >>"$tmp/t_sscw"
	r=$((r + 1))
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m / 1e6 }'; }
range() { sort -n "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f-%.3f", lo / 1e6, hi / 1e6 }'; }
m_scan=$(median "$tmp/t_scan") m_ss=$(median "$tmp/t_ss") m_ns=$(median "$tmp/t_netstat")
m_scancw=$(median "$tmp/t_scancw") m_sscw=$(median "$tmp/t_sscw")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
x_ss=$(ratio "$m_ss" "$m_scan") x_ns=$(ratio "$m_ns" "$m_scan") x_cw=$(ratio "$m_sscw" "$m_scancw")
x_nscw=$(ratio "$m_ns" "$m_scancw")
met() { awk -v x="$1" 'BEGIN { print (x >= 2) ? "met" : "NOT met" }'; }

cat <<MD

## Scan: closewait scan vs ss and netstat$( [ "$mode" = --smoke ] && echo " (smoke sizes)")

Sockets in the namespace: $n_all ($n_est established, $n_cw CLOSE_WAIT), $n_fds fds held by
$((est_procs + cw_procs)) processes connecting from $((est_procs + cw_procs)) addresses 127.0.0.x.
\`closewait scan --json\` listed $scan_total sockets, $scan_owned with their owner;
\`scan --state close-wait --json\` found the owner of $scan_cw CLOSE_WAIT sockets (ss: $ss_cw_owned).
Wall time of one command (process start to exit, output to /dev/null), median of $runs
interleaved runs, seconds (min-max in brackets); ratio = the other tool's median / closewait's.

| what | closewait | ss | netstat | vs ss | vs netstat | goal 2x |
|---|---|---|---|---|---|---|
| every socket with owners: \`scan --json\` / \`ss -tanp\` / \`netstat -antp\` | $m_scan ($(range "$tmp/t_scan")) | $m_ss ($(range "$tmp/t_ss")) | $m_ns ($(range "$tmp/t_netstat")) | ${x_ss}x | ${x_ns}x | $(met "$x_ss") / $(met "$x_ns") |
| CLOSE_WAIT with owners: \`scan --state close-wait --json\` / \`ss -tanp state close-wait\` / \`netstat -antp\` | $m_scancw ($(range "$tmp/t_scancw")) | $m_sscw ($(range "$tmp/t_sscw")) | $m_ns | ${x_cw}x | ${x_nscw}x | $(met "$x_cw") / $(met "$x_nscw") |

netstat has no state filter: finding CLOSE_WAIT with it means \`netstat -antp | grep CLOSE_WAIT\`,
whose cost is netstat's. closewait reads /proc/PID/fd with two threads (two cores here), one
readlinkat() per fd relative to the fd directory, and with a state filter stops once every
wanted socket has an owner (processes are read in pid order; here the CLOSE_WAIT holders have
the highest pids, so that saves nothing).
MD
echo "30-scan: scan --json ${m_scan}s, ss -tanp ${m_ss}s (${x_ss}x), netstat -antp ${m_ns}s (${x_ns}x)" >&2
echo "30-scan: scan --state close-wait --json ${m_scancw}s, ss -tanp state close-wait ${m_sscw}s (${x_cw}x), netstat ${x_nscw}x" >&2
[ "$scan_total" -ge $((est_procs * est_per * 2 + cw_procs * cw_per)) ] || { echo "30-scan: scan missed sockets" >&2; exit 1; }
