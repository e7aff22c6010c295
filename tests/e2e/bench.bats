#!/usr/bin/env bats
# bench/run --smoke: every suite in bench/suites/ measures with tiny sizes and
# reports its goals; nothing is left running and BENCHMARKS.md is untouched.

bats_require_minimum_version 1.5.0

@test "bench/run --smoke: every suite measures and reports its goals" {
	build=$(dirname "$CLOSEWAIT")
	before=$(stat -c %Y "$CW_SRC/BENCHMARKS.md" 2>/dev/null || echo none)
	run "$CW_SRC/bench/run" "$build" --smoke
	echo "$output"
	[ "$status" -eq 0 ]
	[ -s "$build/bench-smoke/goals.tsv" ]
	[ -s "$build/bench-smoke/throughput.png" ]
	# Each suite wrote its section, and none failed.
	for s in "$CW_SRC"/bench/suites/*.sh; do
		name=$(basename "$s" .sh)
		[[ "$output" == *"== bench: $name"* ]]
	done
	# (grep: 1 is "no such line"; 2, a missing body.md, fails too)
	run -1 grep -q "failed in this run" "$build/bench-smoke/body.md"
	[ "$(stat -c %Y "$CW_SRC/BENCHMARKS.md" 2>/dev/null || echo none)" = "$before" ]
	# No benchmark process outlives the run.
	[ -z "$(pgrep -f "$build/bench/" || true)" ]
}
