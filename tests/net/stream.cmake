cw_c_test(net_dialer SOURCES net/test_dialer.c LABELS net TIMEOUT 60)
