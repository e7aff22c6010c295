# client --stream and --leak: options that do not apply are refused, the rest work.
cw_e2e_test(e2e_stream_options SCRIPT e2e/stream_options.bats TIMEOUT 120 TIMING)
