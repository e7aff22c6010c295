# Options run with valid values and their effect observed: serve's connection
# options (the kernel's view of each end and its timing), scan --all-owners,
# reap --wait and reap's identity check in rst mode.
cw_e2e_test(e2e_serve_options SCRIPT e2e/serve_options.bats TIMEOUT 120 TIMING)
cw_e2e_test(e2e_options SCRIPT e2e/options.bats TIMEOUT 60 TIMING)
