# The reap library on real sockets in a private network namespace.
cw_c_test(net_reap SOURCES net/test_reap.c net/reap_leak.c LABELS net TIMEOUT 60)
