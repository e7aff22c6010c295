# make demo cut short (a closed pipe, a hang-up) leaves no server behind.
cw_e2e_test(e2e_demo SCRIPT e2e/demo.bats TIMEOUT 60)
