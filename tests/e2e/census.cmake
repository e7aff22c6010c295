# Live tests of scan, watch and ports (bats, each file in its own netns).
# The scan benchmark's smoke run is part of e2e_bench_smoke (bench.cmake).
cw_e2e_test(e2e_scan SCRIPT e2e/scan.bats TIMEOUT 180)
cw_e2e_test(e2e_watch SCRIPT e2e/watch.bats TIMEOUT 120 TIMING)
cw_e2e_test(e2e_ports SCRIPT e2e/ports.bats TIMEOUT 180 TIMING)
