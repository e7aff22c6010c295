# closewait lab: each scenario run and checked against the kernel's facts, and
# interrupted (closed pipe, SIGINT, SIGHUP, SIGKILL) without leaving anything.
cw_e2e_test(e2e_lab SCRIPT e2e/lab.bats TIMEOUT 120 TIMING)
# The TIME_WAIT scenarios and other-language.
cw_e2e_test(e2e_lab_timewait SCRIPT e2e/lab_timewait.bats TIMEOUT 60 TIMING)
# Segments made by hand over a veth pair: syn-fin, timewait-syn.
cw_e2e_test(e2e_lab_raw SCRIPT e2e/lab_raw.bats TIMEOUT 90 TIMING)
# one-source: a real HAProxy in front of a backend over a veth pair (S18).
cw_e2e_test(e2e_lab_one_source SCRIPT e2e/lab_one_source.bats TIMEOUT 90 TIMING)
# timers: the 60 s TIME_WAIT and the 65 s CLOSE_WAIT waited for. 65 s long,
# so not alone: beside the others (bounds of seconds).
cw_e2e_test(e2e_lab_timers SCRIPT e2e/lab_timers.bats TIMEOUT 150)
