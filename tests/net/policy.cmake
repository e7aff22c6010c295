# Idle and dead peers (issue: idle timeouts, heartbeats, keepalive, user timeout, close policies).
cw_c_test(net_deadpeer SOURCES net/test_deadpeer.c LABELS net TIMEOUT 120 TIMING)
cw_c_test(net_idle SOURCES net/test_idle.c LABELS net TIMEOUT 180 TIMING)
cw_c_test(net_close SOURCES net/test_close.c LABELS net TIMEOUT 120)
cw_c_test(net_stall SOURCES net/test_stall.c LABELS net TIMEOUT 60 TIMING)
