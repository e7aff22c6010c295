cw_e2e_test(e2e_serve SCRIPT e2e/serve.bats TIMEOUT 180)
