# Live tests of closewait reap (bats, in its own network namespace).
# The reap benchmark's smoke run is part of e2e_bench_smoke (bench.cmake).
cw_e2e_test(e2e_reap SCRIPT e2e/reap.bats TIMEOUT 240)
