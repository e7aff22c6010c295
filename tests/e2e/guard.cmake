# closewait guard's command line: refusals, the environment it sets, exit statuses.
cw_e2e_test(e2e_guard_cli SCRIPT e2e/guard_cli.bats TIMEOUT 120)
cw_e2e_test(e2e_guard SCRIPT e2e/guard.bats TIMEOUT 120 TIMING)
cw_e2e_test(e2e_guard_programs SCRIPT e2e/guard_programs.bats TIMEOUT 120)
cw_e2e_test(e2e_guard_dump SCRIPT e2e/guard_dump.bats TIMEOUT 120 TIMING)
