#!/bin/sh
# Owner pass benchmark: how long the census takes to find who holds its
# sockets, timed alone (bench/owners_pass: a census taken without owners,
# then its owner pass), by the /proc walk (a readlinkat per fd, two
# threads) and by the eBPF task_file iterator (one read; its load, once per
# command, apart), at 3 000 and at 100 000 CLOSE_WAIT sockets held by
# census_farm processes (at most 10 000 each). Goal: the iterator at most
# 0.5x the walk. Each path's ratio to `ss -tanp` (its whole run, the same
# sockets) beside it. In network and pid namespaces of its own (its own
# /proc: both paths then read only its processes).
#   sh bench/suites/36-owners.sh BUILD_DIR OUT_DIR [--smoke]
set -eu
. "$(dirname "$0")/../lib.sh" # helpers only: its bench_init is not for a pid namespace
build=$1 OUT=$2 mode=${3:-}
own_namespaces CW_OWNERS_BENCH_NS "$0" "$@"
probe=$build/bench/owners_pass farm=$build/bench/census_farm
if [ ! -x "$probe" ]; then
	echo "## Owner pass: eBPF iterator vs /proc"
	echo
	echo "Not measured: this build has no trace (no eBPF toolchain), so no iterator."
	report "owner pass: eBPF iterator vs /proc" "not built" "" "" "built without trace"
	echo "36-owners: not built, not measured" >&2
	exit 0
fi
if [ "$mode" = --smoke ]; then
	sizes="300 1000" per=500 runs=3
else
	sizes="3000 100000" per=10000 runs=7
fi
TMPD=$(mktemp -d)
SERVERS= # the farms, ended by bench_cleanup
trap bench_cleanup EXIT
trap 'exit 1' INT TERM

nfarm=0 held=0
# grow_to N: farms until N CLOSE_WAIT sockets are held
grow_to() {
	while [ $held -lt "$1" ]; do
		n=$(( $1 - held < per ? $1 - held : per ))
		"$farm" leak $n $((21000 + nfarm)) 127.0.0.$((2 + nfarm)) >"$TMPD/farm$nfarm" &
		SERVERS="$SERVERS $!"
		f=$TMPD/farm$nfarm
		deadline=$(( $(date +%s) + 300 ))
		until grep -q ready "$f" 2>/dev/null; do # (created by the farm's shell, maybe not yet)
			[ "$(date +%s)" -lt $deadline ] || { echo "36-owners: the socket farm did not start" >&2; exit 1; }
			sleep 0.1
		done
		nfarm=$((nfarm + 1)) held=$((held + n))
	done
}
# ms_median "a,b,c": the median of a comma list
ms_median() { median $(echo "$1" | tr ',' ' '); }

rows= goals=
for size in $sizes; do
	grow_to "$size"
	line=$("$probe" --rounds $runs --state close-wait) || { echo "36-owners: owners_pass failed" >&2; exit 1; }
	: >"$TMPD/t_ss"
	r=0
	while [ $r -lt $runs ]; do
		wall_us /dev/null ss -tanp >>"$TMPD/t_ss"
		r=$((r + 1))
	done
	p=$(fmt "$(ms_median "$(kv proc_ms "$line")")" 1)
	e=$(fmt "$(ms_median "$(kv ebpf_ms "$line")")" 1)
	load=$(fmt "$(kv load_ms "$line")" 1)
	s=$(fmt "$(calc "$(median $(cat "$TMPD/t_ss")) / 1000")" 1)
	x=$(ratio "$e" "$p") xp=$(ratio "$p" "$s") xe=$(ratio "$e" "$s")
	fds=0
	for q in $SERVERS; do fds=$((fds + $(fd_count "$q"))); done
	socks=$(kv sockets "$line") owners=$(kv ebpf_owners "$line")
	rows="$rows
| $size | $socks ($owners with owners) | $fds | $p | $e | ${x}x | $load | $s | ${xp}x | ${xe}x |"
	goal "owner pass: eBPF iterator <= 0.5x the /proc walk, $size CLOSE_WAIT sockets" "$e ms" \
		"/proc $p ms" "${x}x" "owner pass alone; vs ss -tanp: /proc ${xp}x, iterator ${xe}x" le "$x" 0.5
	echo "36-owners: $size sockets: /proc ${p} ms, iterator ${e} ms (${x}x; load ${load} ms), ss -tanp ${s} ms" >&2
done

cat <<MD

## Owner pass: eBPF iterator vs /proc$( [ "$mode" = --smoke ] && echo " (smoke sizes)")

The census's owner pass timed alone (\`bench/owners_pass\`: a census of the CLOSE_WAIT sockets
taken without owners, then its owners found): by the /proc walk (a readlinkat() per fd of every
process, two threads) and by the eBPF \`task_file\` iterator (one read of every process's socket
files), median of $runs runs each, taken in turn, in ms. Both found the same owners (the probe
fails otherwise). The iterator's load (once per command; \`watch\` and \`export\` keep it) is
apart. \`ss -tanp\`: its whole run on the same sockets, median of $runs. Sockets held by
census_farm processes, at most $per each, in a pid namespace of their own.

| CLOSE_WAIT sockets | census | fds | /proc walk | iterator | iterator / walk (goal <= 0.5x) | iterator load | ss -tanp | walk / ss | iterator / ss |
|---|---|---|---|---|---|---|---|---|---|$rows

\`scan\` and \`reap\` (one census each) load the iterator only on a host with 10 000 open files or
more (fs.file-nr), where the walk would take longer than the load; \`watch\` and \`export\` always.
MD
