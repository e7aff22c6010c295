cw_e2e_test(e2e_serve SCRIPT e2e/serve.bats TIMEOUT 180)
cw_e2e_test(e2e_workers SCRIPT e2e/workers.bats TIMEOUT 120)
cw_e2e_test(e2e_policy SCRIPT e2e/policy.bats TIMEOUT 120 TIMING)
