# The long-lived client (issue: streaming, reconnect, receive timeouts).
cw_e2e_test(e2e_stream SCRIPT e2e/stream.bats TIMEOUT 240 TIMING)
cw_e2e_test(e2e_stream_bind SCRIPT e2e/stream_bind.bats TIMEOUT 120 TIMING)
