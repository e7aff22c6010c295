#!/bin/sh
# Namespace scan benchmark: `closewait scan --all-netns --json` (owners
# included, the default) against what engineers do by hand, a shell loop of
# `nsenter -t PID -n ss -tanp state close-wait` over the same namespaces (one
# PID in each), in the same run: 50 network namespaces made here, each with
# one process holding 400 CLOSE_WAIT sockets in it (bench/netns_farm; 20 000
# sockets, 400 fds per process), medians of 7 runs taken in turn (scan, loop,
# scan, loop...). Both sides must find every one of those sockets with its
# holder, in every run, or the suite fails. In network, pid and mount
# namespaces of its own (own_namespaces): the /proc that both sides walk for
# owners holds only this benchmark's processes, and --all-netns finds only
# the namespaces made here (nsfs bind mounts copied from the host's mount
# namespace are unmounted in this private copy first). Teardown: the farm's
# holders end with the suite (EXIT trap), and their namespaces with them;
# the suite checks that none is left.
#   sh bench/suites/35-netns-scan.sh BUILD_DIR OUT_DIR [--smoke]
set -eu
. "$(dirname "$0")/../lib.sh" # helpers only: its bench_init is not for a pid namespace
build=$1 out=$2 mode=${3:-}
own_namespaces CW_NETNS_BENCH_NS "$0" "$@"
OUT=$out # goal() appends to $OUT/goals.tsv
cw=$build/closewait farm=$build/bench/netns_farm
for p in "$cw" "$farm"; do
	[ -x "$p" ] || { echo "35-netns-scan: $p is missing; build first" >&2; exit 1; }
done
for c in nsenter ss jq; do
	command -v $c >/dev/null || { echo "35-netns-scan: $c is missing" >&2; exit 1; }
done
if [ "$mode" = --smoke ]; then
	ns=3 per=20 runs=1
else
	ns=50 per=400 runs=7
fi
TMPD=$(mktemp -d)
tmp=$TMPD
SERVERS= # the farm, ended by bench_cleanup
trap bench_cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "35-netns-scan: $*" >&2; exit 1; }

# Namespaces bind-mounted on the host (/run/netns...) came along in this
# mount namespace's copy; unmounted here (private propagation: the host keeps
# them), so that --all-netns reads the benchmark's namespaces only.
awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "nsfs") print $5; break } }' \
	/proc/self/mountinfo | sort -r | while read -r m; do
	umount -l "$(printf '%b' "$m")" 2>/dev/null || true
done

t0=$(date +%s%N)
"$farm" $ns $per >"$tmp/farm" 2>"$tmp/farm.err" &
FARM=$!
SERVERS=$FARM
until grep -q '^ready' "$tmp/farm"; do
	kill -0 $FARM 2>/dev/null || fail "the farm failed: $(cat "$tmp/farm.err")"
	[ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt 120 ] || fail "the farm was not ready after 120 s"
	sleep 0.01
done
farm_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
pids=$(awk '$1 == "ns" { print $2 }' "$tmp/farm")
[ "$(echo $pids | wc -w)" -eq $ns ] || fail "the farm named $(echo $pids | wc -w) holders, not $ns"
want=$((ns * per))

# The clients' orphaned FIN_WAIT_2 ends expire (about 2 s: netns_farm.c):
# then a namespace holds its CLOSE_WAIT sockets and nothing else.
map= # {"NETNS_INODE": HOLDER_PID, ...}
for p in $pids; do
	i=0
	until [ "$(nsenter -t "$p" -n ss -Htan | wc -l)" -eq $per ]; do
		i=$((i + 1))
		[ $i -le 500 ] || fail "namespace of pid $p: $(nsenter -t "$p" -n ss -Htan | wc -l) sockets after 10 s, expected $per"
		sleep 0.02
	done
	n=$(nsenter -t "$p" -n ss -Htan state close-wait | wc -l)
	[ "$n" -eq $per ] || fail "namespace of pid $p: $n CLOSE_WAIT sockets, not $per"
	map="$map${map:+,}\"$(stat -L -c %i /proc/$p/ns/net)\":$p"
done
map="{$map}"

# What each side found, from its output: the sockets of the farm's
# namespaces in CLOSE_WAIT with their holder as owner.
found_scan() {
	jq --argjson m "$map" '[.sockets[] | select(.state == "close-wait")
		| select($m[.netns | tostring] as $p | $p != null and any(.owners[]?; .pid == $p))] | length' "$1"
}
found_loop() { grep -c 'users:(("netns_farm",pid=' "$1" || true; }

loop='for p; do nsenter -t "$p" -n ss -tanp state close-wait; done'
r=0
while [ $r -lt $runs ]; do
	# in turn, so that drift hits both sides alike
	wall_us "$tmp/scan.json" "$cw" scan --all-netns --json >>"$tmp/t_scan"
	n=$(found_scan "$tmp/scan.json" 2>/dev/null) && [ -n "$n" ] ||
		fail "run $r: scan --all-netns --json gave no JSON: $("$cw" scan --all-netns --json 2>&1 >/dev/null | head -3)"
	[ "$n" -eq $want ] || fail "run $r: scan --all-netns found $n of the $want CLOSE_WAIT sockets with their holder"
	wall_us "$tmp/loop.txt" sh -c "$loop" sh $pids >>"$tmp/t_loop"
	n=$(found_loop "$tmp/loop.txt")
	[ "$n" -eq $want ] || fail "run $r: the nsenter loop found $n of the $want CLOSE_WAIT sockets with their holder"
	r=$((r + 1))
done
# the namespaces scan read (the farm's, and this suite's own), and any it could not
read_ns=$(jq '.namespaces | length' "$tmp/scan.json")
ns_err=$(jq --argjson m "$map" '[.namespaces[] | select($m[.netns | tostring] != null and .error != null)] | length' "$tmp/scan.json")
[ "$ns_err" -eq 0 ] || fail "scan could not read $ns_err of the farm's namespaces"

# Teardown, checked: the holders end, and with them their namespaces.
kill $FARM
wait $FARM || fail "the farm did not end cleanly"
SERVERS=
for p in $pids; do
	if kill -0 "$p" 2>/dev/null; then fail "holder $p outlived the farm"; fi
done
left=$(ls -d /proc/[0-9]*/ns/net 2>/dev/null | xargs -r stat -L -c %i 2>/dev/null | sort -u | wc -l)
[ "$left" -eq 1 ] || fail "$left network namespaces left after teardown, expected this suite's own"

m_scan=$(median_s "$tmp/t_scan") m_loop=$(median_s "$tmp/t_loop")
x=$(ratio "$m_scan" "$m_loop")
limit=$(calc "0.2 * $m_loop") # the goal compares the medians, not the rounded ratio
per_ns_scan=$(fmt "$(calc "$m_scan * 1000 / $ns")" 1) per_ns_loop=$(fmt "$(calc "$m_loop * 1000 / $ns")" 1)
goal "scan --all-netns, $ns namespaces x $per CLOSE_WAIT, owners: <= 0.2x an nsenter + ss -tanp loop" \
	"$m_scan s" "nsenter loop $m_loop s" "$x" "median of $runs interleaved runs" le "$m_scan" "$limit"

cat <<MD

## Every namespace: closewait scan --all-netns vs an nsenter loop$( [ "$mode" = --smoke ] && echo " (smoke sizes)")

$ns network namespaces made by the benchmark, each with one process holding $per CLOSE_WAIT sockets
in it ($want in all; \`bench/netns_farm\`, built in $farm_ms ms), in a pid namespace of their own.
Wall time of one command, from start to exit, output to a file, median of $runs runs taken in turn
(min-max in brackets), seconds. After every run both outputs are checked: each found all $want
sockets with their holder's pid (scan read $read_ns namespaces: the farm's and the benchmark's own).

\`\`\`
closewait scan --all-netns --json
for p in PID...; do nsenter -t \$p -n ss -tanp state close-wait; done   # one PID per namespace
\`\`\`

| what | closewait | nsenter loop | closewait / loop | goal <= 0.2x |
|---|---|---|---|---|
| CLOSE_WAIT and owners in $ns namespaces | $m_scan ($(range_s "$tmp/t_scan")) | $m_loop ($(range_s "$tmp/t_loop")) | ${x}x | $(metif le "$m_scan" "$limit") |
| per namespace, ms | $per_ns_scan | $per_ns_loop | | |

Each \`ss\` reads one namespace's sockets with one sock_diag dump per family, then, for \`-p\`,
every fd of every process in /proc: the loop starts two processes and walks /proc once per
namespace. scan makes the same two dumps per namespace, each from a thread that enters it, and
walks /proc once for all of them (socket inodes are unique host-wide).
MD
echo "35-netns-scan: scan --all-netns ${m_scan}s, nsenter loop ${m_loop}s over $ns namespaces x $per CLOSE_WAIT (${x}x; goal <= 0.2x: $(metif le "$m_scan" "$limit")); farm built in $farm_ms ms" >&2
