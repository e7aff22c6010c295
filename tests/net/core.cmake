# Library tests over real sockets, each in a private network namespace.
cw_c_test(net_echo SOURCES net/test_echo.c LABELS net TIMEOUT 120)
cw_c_test(net_lifecycle SOURCES net/test_lifecycle.c LABELS net TIMEOUT 30)
