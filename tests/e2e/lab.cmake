# closewait lab: each scenario run and checked against the kernel's facts, and
# interrupted (closed pipe, SIGINT, SIGHUP, SIGKILL) without leaving anything.
cw_e2e_test(e2e_lab SCRIPT e2e/lab.bats TIMEOUT 120 TIMING)
