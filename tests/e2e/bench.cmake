# Issue 14: one smoke pass of every benchmark suite (tiny sizes, seconds), so
# make test proves that `make bench` can measure. TIMING: it runs once, in the
# optimized build, alone (its figures are not checked, its machinery is).
cw_e2e_test(e2e_bench_smoke SCRIPT e2e/bench.bats TIMING TIMEOUT 180 LABELS bench)
