# Live tests of scan, watch and ports (bats, each file in its own netns).
cw_e2e_test(e2e_scan SCRIPT e2e/scan.bats TIMEOUT 180)
cw_e2e_test(e2e_watch SCRIPT e2e/watch.bats TIMEOUT 120 TIMING)
cw_e2e_test(e2e_ports SCRIPT e2e/ports.bats TIMEOUT 180 TIMING)
