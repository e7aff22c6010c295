# reap's wait for the answers to its FINs at the edges (huge --wait, a failed poll).
cw_c_test(net_reap_wait SOURCES net/test_reap_wait.c net/reap_leak.c LABELS net TIMEOUT 60)
