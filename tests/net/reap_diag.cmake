# reap's sock_diag requests: the wait for an answer is bounded.
cw_c_test(net_reap_diag SOURCES net/test_reap_diag.c LABELS net TIMEOUT 30)
