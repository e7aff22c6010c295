# Durations past an int of milliseconds (client, watch, client --stream --leak, serve --help).
cw_e2e_test(e2e_long_durations SCRIPT e2e/long_durations.bats TIMEOUT 120 TIMING)
