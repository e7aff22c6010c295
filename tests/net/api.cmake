# Direct tests of the public functions in include/closewait/*.h that the rest
# of the suite reaches only indirectly (each checks its header's promise).
cw_c_test(net_api_conn SOURCES net/test_api_conn.c LABELS net TIMEOUT 60)
cw_c_test(net_api_sockopt SOURCES net/test_api_sockopt.c LABELS net TIMEOUT 60)
cw_c_test(net_api_census SOURCES net/test_api_census.c LABELS net TIMEOUT 60)
# No sockets, but it changes uid: it needs root, as the net tests do.
cw_c_test(net_api_ptrace SOURCES net/test_api_ptrace.c LABELS net TIMEOUT 30)
