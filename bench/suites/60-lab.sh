#!/bin/sh
# Lab benchmark: the wall time of `closewait lab --all --json` (every
# scenario, one after the other, each in namespaces of its own), and for
# each scenario the time of its last step from its own JSON (t_ms: since
# the scenario began). A figure with no threshold: what a reader waits for.
# A smoke run times one short scenario the same way.
#   sh bench/suites/60-lab.sh BUILD_DIR OUT_DIR [--smoke]
set -eu
. "$(dirname "$0")/../lib.sh" # helpers only: the lab makes its own namespaces
build=$1 OUT=$2 mode=${3:-}
cw=$build/closewait
[ -x "$cw" ] || die "60-lab: $cw is missing; build first"
command -v jq >/dev/null || die "60-lab: jq is missing (scripts/bootstrap installs it)"
TMPD=$(mktemp -d)
SERVERS=
trap bench_cleanup EXIT
trap 'exit 1' INT TERM

if [ "$mode" = --smoke ]; then
	what=reconnect args=reconnect
else
	what="--all" args=--all
fi
t0=$(date +%s.%N)
"$cw" lab --json $args >"$TMPD/lab.json" 2>"$TMPD/lab.err" ||
	die "60-lab: closewait lab $args failed: $(tail -3 "$TMPD/lab.err")"
t1=$(date +%s.%N)
wall=$(calc "$t1 - $t0")
# scenario, steps, the last step's t_ms; in the order they ran
jq -r '[.scenario, .step, (.t_ms // 0)] | @tsv' "$TMPD/lab.json" |
	awk -F'\t' '!($1 in n) { order[++k] = $1 } { n[$1]++; if ($3 > t[$1]) t[$1] = $3 }
		END { for (i = 1; i <= k; i++) print order[i] "\t" n[order[i]] "\t" t[order[i]] }' \
	>"$TMPD/per.tsv"
ran=$(wc -l <"$TMPD/per.tsv")
[ "$ran" -gt 0 ] || die "60-lab: closewait lab $args printed no step"
if [ "$mode" != --smoke ]; then
	want=$("$cw" lab | awk 'NR > 1 { print $1 }' | wc -l)
	[ "$ran" = "$want" ] || die "60-lab: lab --all ran $ran scenarios of $want"
fi

echo "## The lab"
echo
echo "\`closewait lab --json $args\`: its wall time, and for each scenario its steps and when its"
echo "last step began (\`t_ms\`, from the scenario's start, in its own JSON)."
echo
echo "| scenario | steps | last step at |"
echo "|---|---:|---:|"
while IFS="$(printf '\t')" read -r name steps ms; do
	echo "| $name | $steps | $(fmt "$(calc "$ms / 1000")" 1) s |"
done <"$TMPD/per.tsv"
echo
sc=scenarios
[ "$ran" != 1 ] || sc=scenario
echo "$ran $sc in $(fmt "$wall" 1) s."
summary "lab $what: $ran $sc in $(fmt "$wall" 1) s"
report "lab $what: wall time, $ran $sc one after the other" "$(fmt "$wall" 1) s" "" "" \
	"each in network namespaces of its own"
