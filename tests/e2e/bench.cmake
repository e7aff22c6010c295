# One smoke pass of every benchmark suite (tiny sizes, seconds), so make test
# proves that `make bench` can measure. TIMING: it runs alone (RUN_SERIAL), in
# the optimized build only (label bench: scripts/test), and its figures are
# not checked, its machinery is.
cw_e2e_test(e2e_bench_smoke SCRIPT e2e/bench.bats TIMING TIMEOUT 180 LABELS bench)
