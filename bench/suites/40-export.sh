#!/bin/sh
# Export benchmark: what one Prometheus scrape of `closewait export` costs,
# against `closewait scan --json` (owners included) on the same sockets, and
# what a burst of 10 scrapes costs against one. In network, pid and mount
# namespaces of its own (own_namespaces), so the census reads this
# benchmark's sockets and processes only: 20 000 CLOSE_WAIT sockets held by 2
# processes (bench/census_farm, 10 000 each, connecting from 127.0.0.2-3).
# The clients' orphaned FIN_WAIT_2 ends expire first (tcp_fin_timeout 2 s in
# the namespace): every run sees the same table. Two exporters run side by
# side: one with --min-interval 0s (every scrape takes a census: the cache
# has always expired) and one with the default 1s (a burst of scrapes shares
# one census). node_exporter's tcpstat collector, which counts sockets by
# state and nothing more, is the peer row. Medians of 7 runs taken in turn.
# Every timed output is checked: the export's and node_exporter's
# close_wait counts, scan's close_wait_total, and the farm's group equal the
# farm's sockets, in every run, or the suite fails. Teardown checked: the
# exporters hold no fd a scrape opened (but the last one's, see below) and
# end cleanly; no process and no CLOSE_WAIT socket is left.
#   sh bench/suites/40-export.sh BUILD_DIR OUT_DIR [--smoke]
set -eu
. "$(dirname "$0")/../lib.sh" # helpers only: its bench_init is not for a pid namespace
build=$(cd "$1" && pwd) out=$2 mode=${3:-}
own_namespaces CW_EXPORT_BENCH_NS "$0" "$@"
OUT=$out # goal() appends to $OUT/goals.tsv
sysctl -qw net.ipv4.tcp_fin_timeout=2
fail() { echo "40-export: $*" >&2; exit 1; }
cw=$build/closewait farm=$build/bench/census_farm
for p in "$cw" "$farm"; do
	[ -x "$p" ] || fail "$p is missing; build first"
done
for c in curl jq ss cmp; do
	command -v $c >/dev/null || fail "$c is missing"
done
nx=$(command -v prometheus-node-exporter || command -v node_exporter) ||
	fail "node_exporter is missing (Debian: prometheus-node-exporter; scripts/bootstrap test)"
if [ "$mode" = --smoke ]; then
	procs=2 per=150 runs=1
else
	procs=2 per=10000 runs=7
fi
planned=$((procs * per))
burst=10
TMPD=$(mktemp -d)
tmp=$TMPD
SERVERS= # the farms, the exporters and node_exporter, ended by bench_cleanup
trap bench_cleanup EXIT
trap 'exit 1' INT TERM
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

i=0
while [ $i -lt $procs ]; do
	"$farm" leak $per $((20000 + i)) 127.0.0.$((2 + i)) >"$tmp/farm$i" 2>"$tmp/farm$i.err" &
	SERVERS="$SERVERS $!"
	i=$((i + 1))
done
FARMS=$SERVERS
t0=$(now_ms)
for f in "$tmp"/farm?; do
	until grep -q '^ready' "$f"; do
		grep -q . "$f.err" && fail "the socket farm failed: $(cat "$f.err")"
		[ $(($(now_ms) - t0)) -lt 120000 ] || fail "the socket farm was not ready after 120 s"
		sleep 0.05
	done
done
# the orphaned FIN_WAIT_2 ends expire (tcp_fin_timeout 2 s)
t0=$(now_ms)
until [ "$(ss -Htan state fin-wait-2 | wc -l)" -eq 0 ]; do
	[ $(($(now_ms) - t0)) -lt 30000 ] || fail "FIN_WAIT_2 sockets left after 30 s"
	sleep 0.1
done
# With tcp_fin_timeout below 60 s, a client end whose FIN was acknowledged
# while close() still held its lock waits on a timer that ends it with a RST
# (not in TIME_WAIT): a few connections of the 20 000 are gone. The table is
# settled now; what is left is what every tool must find.
states() { ss -Htan | awk '{ n[$1]++ } END { for (s in n) printf " %s %d", s, n[s] }'; }
want=$(ss -Htan state close-wait | wc -l)
[ "$want" -ge $((planned - planned / 100)) ] && [ "$want" -le $planned ] ||
	fail "$want CLOSE_WAIT sockets in the namespace, not $planned:$(states)"

# The exporters run through a link: nothing that cleans up by command line
# ("closewait export") on the shared machine may end them mid-run.
ln -s "$cw" "$tmp/cw-bench"
"$tmp/cw-bench" export --listen 127.0.0.1:19848 --min-interval 0s 2>"$tmp/x0.err" &
X0=$!
"$tmp/cw-bench" export --listen 127.0.0.1:19849 2>"$tmp/x1.err" &
X1=$!
"$nx" --collector.disable-defaults --collector.tcpstat --web.listen-address=127.0.0.1:19100 \
	2>"$tmp/nx.err" &
NX=$!
SERVERS="$SERVERS $X0 $X1 $NX"
# Until something listens on port $1, while process $2 lives (stderr in $3).
listening() {
	t=$(now_ms)
	until ss -Htln "sport = :$1" | grep -q .; do
		kill -0 "$2" 2>/dev/null || fail "$(basename "$3" .err) did not start: $(cat "$3")"
		[ $(($(now_ms) - t)) -lt 10000 ] || fail "nothing listens on port $1 after 10 s: $(cat "$3")"
		sleep 0.02
	done
}
listening 19848 $X0 "$tmp/x0.err"
listening 19849 $X1 "$tmp/x1.err"
listening 19100 $NX "$tmp/nx.err"
fds0=$(fd_count $X0) fds1=$(fd_count $X1)
U0=http://127.0.0.1:19848/metrics U1=http://127.0.0.1:19849/metrics UN=http://127.0.0.1:19100/metrics

# The value of series $2 (its whole name with labels) in exposition file $1.
value() { awk -v s="$2" '$1 == s { print $2; exit }' "$1"; }
farm_series='{owner="process",command="census_farm"}'
# An export body must count every one of the farm's sockets, with its owner.
# In a burst, curl may close a finished connection while the exporter takes
# another scrape's census: the exporter's end of it is in CLOSE_WAIT for a
# moment, and counted (seen as owner="unknown": closed before the /proc
# walk). Slack $3 allows that many more.
check_export() {
	s=$(value "$1" 'closewait_sockets{state="close_wait"}')
	g=$(value "$1" "closewait_close_wait_sockets$farm_series")
	up=$(value "$1" closewait_up)
	[ "$g" = $want ] && [ "$up" = 1 ] && [ -n "$s" ] && [ "$s" -ge $want ] && [ "$s" -le $((want + ${3:-0})) ] ||
		fail "$2: closewait_sockets{state=\"close_wait\"} ${s:-absent}, census_farm's ${g:-absent}, up ${up:-absent}; expected $want${3:+ (to $((want + ${3:-0})))}, $want, 1: $(head -c 300 "$1")"
}
age() { value "$1" "closewait_close_wait_oldest_min_age_seconds$farm_series"; }
# A new census: the farm's oldest socket is older than in body $2.
check_fresh() {
	awk -v a="$(age "$1")" -v b="$(age "$2")" 'BEGIN { exit !(a > b) }' ||
		fail "$3: the oldest CLOSE_WAIT is $(age "$1") s old, $(age "$2") s before: no new census"
}
check_scan() {
	s=$(jq .close_wait_total "$1" 2>/dev/null) || s=
	g=$(jq '[.groups[] | select(.command == "census_farm") | .close_wait] | add' "$1" 2>/dev/null) || g=
	[ "$s" = $want ] && [ "$g" = $want ] ||
		fail "$2: scan --json: close_wait_total ${s:-absent}, census_farm's ${g:-absent}; expected $want"
}
check_nx() {
	s=$(value "$1" 'node_tcp_connection_states{state="close_wait"}')
	[ "$s" = $want ] || fail "$2: node_exporter counts ${s:-no} CLOSE_WAIT sockets, not $want: $(head -c 300 "$1")"
}
# The burst: $burst scrapes of URL $1 started together (one curl, one
# connection each, opened at once), bodies in $tmp/b.N.
burst() {
	u=$1
	set --
	k=1
	while [ $k -le $burst ]; do
		set -- "$@" -o "$tmp/b.$k" "$u"
		k=$((k + 1))
	done
	curl -s --parallel --parallel-immediate --parallel-max $burst "$@"
}
# Until $1 ms have passed since $2 (ms): the 1 s exporter's cache expires.
until_after() { while [ $(($(now_ms) - $2)) -lt $1 ]; do sleep 0.05; done; }

# first scrapes: warm caches; the first run's bodies must be newer than these
curl -s -o "$tmp/m0.prev" $U0
check_export "$tmp/m0.prev" "first scrape"
curl -s -o "$tmp/m1.prev" $U1
check_export "$tmp/m1.prev" "first scrape, --min-interval 1s"
last1=$(now_ms)
rss0_first=$(rss_kb $X0) rss1_first=$(rss_kb $X1)

r=0
while [ $r -lt $runs ]; do
	# in turn, so that drift hits every side alike
	wall_us "$tmp/m0" curl -s $U0 >>"$tmp/t_x0"
	check_export "$tmp/m0" "run $r: GET /metrics"
	check_fresh "$tmp/m0" "$tmp/m0.prev" "run $r: GET /metrics, --min-interval 0s"
	value "$tmp/m0" closewait_scrape_duration_seconds >>"$tmp/census_x0"
	mv "$tmp/m0" "$tmp/m0.prev"
	wall_us "$tmp/scan.json" "$cw" scan --json >>"$tmp/t_scan"
	check_scan "$tmp/scan.json" "run $r"
	wall_us "$tmp/nx" curl -s $UN >>"$tmp/t_nx"
	check_nx "$tmp/nx" "run $r"
	# one scrape, then a burst, of the 1 s exporter, each once its cache expired
	until_after 1100 "$last1"
	wall_us "$tmp/m1" curl -s $U1 >>"$tmp/t_one1"
	last1=$(now_ms)
	check_export "$tmp/m1" "run $r: GET /metrics, --min-interval 1s"
	check_fresh "$tmp/m1" "$tmp/m1.prev" "run $r: GET /metrics, --min-interval 1s"
	rm -f "$tmp"/b.*
	wall_us /dev/null burst $U0 >>"$tmp/t_burst0"
	k=1
	while [ $k -le $burst ]; do
		check_export "$tmp/b.$k" "run $r: scrape $k of $burst, --min-interval 0s" $burst
		age "$tmp/b.$k" >>"$tmp/ages0.$r"
		k=$((k + 1))
	done
	until_after 1100 "$last1"
	rm -f "$tmp"/b.*
	wall_us /dev/null burst $U1 >>"$tmp/t_burst1"
	last1=$(now_ms)
	check_export "$tmp/b.1" "run $r: scrape 1 of $burst, --min-interval 1s" $burst
	check_fresh "$tmp/b.1" "$tmp/m1" "run $r: $burst scrapes, --min-interval 1s"
	k=2
	while [ $k -le $burst ]; do
		cmp -s "$tmp/b.1" "$tmp/b.$k" || fail "run $r: scrape $k of $burst, --min-interval 1s: not the census of scrape 1"
		k=$((k + 1))
	done
	mv "$tmp/b.1" "$tmp/m1.prev"
	sort -u "$tmp/ages0.$r" | wc -l >>"$tmp/censuses0"
	r=$((r + 1))
done

# Each scrape's connection is closed when it ends: the exporter is back to
# the fds it had before the first scrape.
at_most() { # PID N: until process PID has at most N fds open (deadline 10 s)
	t=$(now_ms)
	while [ "$(fd_count "$1")" -gt "$2" ]; do
		[ $(($(now_ms) - t)) -lt 10000 ] || return 1
		sleep 0.02
	done
}
curl -s -o /dev/null $U0
curl -s -o /dev/null $U1
at_most $X0 $fds0 || fail "exporter (--min-interval 0s): $(fd_count $X0) fds after the runs, $fds0 before the first scrape"
at_most $X1 $fds1 || fail "exporter (--min-interval 1s): $(fd_count $X1) fds after the runs, $fds1 before the first scrape"
fds0_last=$(fd_count $X0) fds1_last=$(fd_count $X1)
rss0_last=$(rss_kb $X0) rss1_last=$(rss_kb $X1)
kill $X0 $X1 $NX $FARMS
for p in $X0 $X1; do
	wait $p || fail "exporter $p ended with status $?: $(cat "$tmp/x0.err" "$tmp/x1.err")"
done
# they end on SIGTERM by dying of it: dash would print "Terminated"
for p in $NX $FARMS; do wait $p || true; done 2>/dev/null
SERVERS=
left= # processes in this pid namespace but this shell (pid 1); a loop forks none
for d in /proc/[0-9]*; do [ "$d" = /proc/1 ] || left="$left ${d#/proc/}"; done
[ -z "$left" ] || fail "processes left after teardown:$left"
[ "$(ss -Htan state close-wait | wc -l)" -eq 0 ] || fail "CLOSE_WAIT sockets left after teardown"
[ "$(ss -Htln | wc -l)" -eq 0 ] || fail "listeners left after teardown: $(ss -Htln)"

m_x0=$(median_s "$tmp/t_x0") m_scan=$(median_s "$tmp/t_scan") m_nx=$(median_s "$tmp/t_nx")
m_one1=$(median_s "$tmp/t_one1") m_b1=$(median_s "$tmp/t_burst1") m_b0=$(median_s "$tmp/t_burst0")
m_census=$(fmt "$(median $(cat "$tmp/census_x0"))" 3)
c0=$(median $(cat "$tmp/censuses0"))
x_scan=$(ratio "$m_x0" "$m_scan") x_b1=$(ratio "$m_b1" "$m_one1") x_b0=$(ratio "$m_b0" "$m_x0")
x_nx=$(ratio "$m_x0" "$m_nx")
lim_scan=$(calc "1.2 * $m_scan") lim_b1=$(calc "1.5 * $m_one1") # the goals compare the medians
goal "export: GET /metrics (cache expired), $want CLOSE_WAIT, owners: <= 1.2x scan --json" \
	"$m_x0 s" "scan --json $m_scan s" "$x_scan" "median of $runs interleaved runs; --min-interval 0s" \
	le "$m_x0" "$lim_scan"
goal "export: $burst concurrent scrapes <= 1.5x one (--min-interval 1s: a burst shares one census)" \
	"$m_b1 s" "one scrape $m_one1 s" "$x_b1" "median of $runs interleaved runs; each once the cache expired" \
	le "$m_b1" "$lim_b1"
report "export: $burst concurrent scrapes, --min-interval 0s (a census each, in turn)" \
	"$m_b0 s" "one scrape $m_x0 s" "$x_b0" "median of $runs interleaved runs"
report "export GET /metrics vs node_exporter tcpstat (counts by state only), $want CLOSE_WAIT" \
	"$m_x0 s" "node_exporter $m_nx s" "$x_nx" "median of $runs interleaved runs"

cat <<MD

## Export: one scrape of closewait export vs scan --json$( [ "$mode" = --smoke ] && echo " (smoke sizes)")

$want CLOSE_WAIT sockets held by $procs processes (\`bench/census_farm\`: $planned connections whose
clients closed; the kernel reset $((planned - want)) as the orphaned client ends expired), in network
and pid namespaces of their own. Wall time from start to exit of one command, output to a file,
median of $runs runs taken in turn (min-max in brackets), seconds. Every output is checked: it
counts all $want CLOSE_WAIT sockets (the export also names their holder, and the oldest one's age
has grown since the scrape before: a new census), or the suite fails.

\`\`\`
closewait export --listen 127.0.0.1:19848 --min-interval 0s   # every scrape takes a census
closewait export --listen 127.0.0.1:19849                      # the default: one census a second
curl -s http://127.0.0.1:19848/metrics
closewait scan --json
curl -s --parallel --parallel-immediate -o b.1 URL ... -o b.$burst URL   # $burst scrapes at once
prometheus-node-exporter --collector.disable-defaults --collector.tcpstat --web.listen-address=127.0.0.1:19100
\`\`\`

| what | wall time | vs | ratio | goal |
|---|---|---|---|---|
| \`GET /metrics\`, cache expired (--min-interval 0s) | $m_x0 ($(range_s "$tmp/t_x0")) | \`scan --json\` $m_scan ($(range_s "$tmp/t_scan")) | ${x_scan}x | <= 1.2x: $(metif le "$m_x0" "$lim_scan") |
| $burst concurrent scrapes, --min-interval 1s | $m_b1 ($(range_s "$tmp/t_burst1")) | one scrape $m_one1 ($(range_s "$tmp/t_one1")) | ${x_b1}x | <= 1.5x: $(metif le "$m_b1" "$lim_b1") |
| $burst concurrent scrapes, --min-interval 0s | $m_b0 ($(range_s "$tmp/t_burst0")) | one scrape $m_x0 | ${x_b0}x | figure only |
| node_exporter tcpstat, \`GET /metrics\` | $m_nx ($(range_s "$tmp/t_nx")) | export $m_x0 | export / node_exporter ${x_nx}x | figure only |

Of one scrape with the cache expired, the census (\`closewait_scrape_duration_seconds\`) took
$m_census s (median); the rest is rendering, HTTP and curl's start. A scrape's census reads the
same socket table and /proc as \`scan\` (owners, ages, the fd headroom of each holder) and adds
the per-destination port figures; it writes $(grep -vc '^#' "$tmp/m0.prev") series where scan writes every
socket as JSON.

The concurrency goal is measured with the default --min-interval 1s, as Prometheus servers
scrape an exporter: the first scrape of the burst takes the census, the other $((burst - 1)) wait
for it and answer with the same rendering (checked: $burst identical bodies, newer than the
scrape before). With --min-interval 0s every scrape takes its own census, one after the other
(a lock: concurrent scrapes never run censuses side by side); $c0 distinct censuses answered a
burst (median). node_exporter's tcpstat counts sockets by state and nothing else (no owner,
no age): it found the same $want CLOSE_WAIT sockets.

Exporter memory (RSS, KiB): after its first scrape $rss0_first (--min-interval 0s) and
$rss1_first (1s); after the runs $rss0_last and $rss1_last. Open fds after the runs: $fds0_last and
$fds1_last, against $fds0 and $fds1 before the first scrape (checked: no more).
MD
echo "40-export: GET /metrics ${m_x0}s (census ${m_census}s), scan --json ${m_scan}s (${x_scan}x; goal <= 1.2x: $(metif le "$m_x0" "$lim_scan")); $burst concurrent ${m_b1}s vs one ${m_one1}s at --min-interval 1s (${x_b1}x; goal <= 1.5x: $(metif le "$m_b1" "$lim_b1")), ${m_b0}s at 0s (${x_b0}x); node_exporter tcpstat ${m_nx}s; RSS ${rss0_first}->${rss0_last} KiB, ${rss1_first}->${rss1_last} KiB" >&2
