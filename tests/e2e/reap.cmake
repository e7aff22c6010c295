# Live tests of closewait reap (bats, in its own network namespace).
cw_e2e_test(e2e_reap SCRIPT e2e/reap.bats TIMEOUT 240)
