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
. "$(dirname "$0")/../lib.sh" # helpers only: its bench_init is not for a pid namespace
build=$1 out=$2 mode=${3:-}
own_namespaces CW_SCAN_BENCH_NS "$0" "$@"
sysctl -qw net.ipv4.tcp_fin_timeout=2
cw=$build/closewait farm=$build/bench/census_farm
if [ "$mode" = --smoke ]; then
	est_procs=6 est_per=100 cw_procs=2 cw_per=100 runs=3
else
	est_procs=6 est_per=8334 cw_procs=2 cw_per=10000 runs=7
fi
TMPD=$(mktemp -d)
tmp=$TMPD
SERVERS= # the farms, ended by bench_cleanup
trap bench_cleanup EXIT
trap 'exit 1' INT TERM

i=0
while [ $i -lt $((est_procs + cw_procs)) ]; do
	if [ $i -lt $est_procs ]; then kind=estab n=$est_per; else kind=leak n=$cw_per; fi
	"$farm" $kind $n $((20000 + i)) 127.0.0.$((2 + i)) >"$tmp/farm$i" &
	SERVERS="$SERVERS $!"
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
for p in $SERVERS; do n_fds=$((n_fds + $(ls /proc/$p/fd | wc -l))); done
# what scan found, to check it is the whole table with its owners
"$cw" scan --json >"$tmp/scan.json" || true
scan_total=$(jq .sockets_total "$tmp/scan.json")
scan_owned=$(jq '[.sockets[] | select(.owners | length > 0)] | length' "$tmp/scan.json")
"$cw" scan --state close-wait --json >"$tmp/scancw.json" || true
scan_cw=$(jq '[.sockets[] | select(.state == "close-wait" and (.owners | length > 0))] | length' "$tmp/scancw.json")
ss_cw_owned=$(ss -Htanp state close-wait | grep -c 'users:' || true)

r=0
while [ $r -lt $runs ]; do
	# interleaved, so that drift hits every tool alike
	wall_us /dev/null "$cw" scan --json >>"$tmp/t_scan"
	wall_us /dev/null ss -tanp >>"$tmp/t_ss"
	wall_us /dev/null netstat -antp >>"$tmp/t_netstat"
	wall_us /dev/null "$cw" scan --state close-wait --json >>"$tmp/t_scancw"
	wall_us /dev/null ss -tanp state close-wait >>"$tmp/t_sscw"
	r=$((r + 1))
done
m_scan=$(median_s "$tmp/t_scan") m_ss=$(median_s "$tmp/t_ss") m_ns=$(median_s "$tmp/t_netstat")
m_scancw=$(median_s "$tmp/t_scancw") m_sscw=$(median_s "$tmp/t_sscw")
x_ss=$(ratio "$m_ss" "$m_scan") x_ns=$(ratio "$m_ns" "$m_scan") x_cw=$(ratio "$m_sscw" "$m_scancw")
x_nscw=$(ratio "$m_ns" "$m_scancw")
met() { metif ge "$1" 2; }

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
| every socket with owners: \`scan --json\` / \`ss -tanp\` / \`netstat -antp\` | $m_scan ($(range_s "$tmp/t_scan")) | $m_ss ($(range_s "$tmp/t_ss")) | $m_ns ($(range_s "$tmp/t_netstat")) | ${x_ss}x | ${x_ns}x | $(met "$x_ss") / $(met "$x_ns") |
| CLOSE_WAIT with owners: \`scan --state close-wait --json\` / \`ss -tanp state close-wait\` / \`netstat -antp\` | $m_scancw ($(range_s "$tmp/t_scancw")) | $m_sscw ($(range_s "$tmp/t_sscw")) | $m_ns | ${x_cw}x | ${x_nscw}x | $(met "$x_cw") / $(met "$x_nscw") |

netstat has no state filter: finding CLOSE_WAIT with it means \`netstat -antp | grep CLOSE_WAIT\`,
whose cost is netstat's. closewait reads /proc/PID/fd with two threads (two cores here), one
readlinkat() per fd relative to the fd directory, and with a state filter stops once every
wanted socket has an owner (processes are read in pid order; here the CLOSE_WAIT holders have
the highest pids, so that saves nothing).
MD
echo "30-scan: scan --json ${m_scan}s, ss -tanp ${m_ss}s (${x_ss}x), netstat -antp ${m_ns}s (${x_ns}x)" >&2
echo "30-scan: scan --state close-wait --json ${m_scancw}s, ss -tanp state close-wait ${m_sscw}s (${x_cw}x), netstat ${x_nscw}x" >&2
[ "$scan_total" -ge $((est_procs * est_per * 2 + cw_procs * cw_per)) ] || { echo "30-scan: scan missed sockets" >&2; exit 1; }
