# The abort counter counts RSTs sent, not RSTs meant (SO_LINGER refused: a FIN).
cw_c_test(net_abort_count SOURCES net/test_abort_count.c LABELS net TIMEOUT 30)
