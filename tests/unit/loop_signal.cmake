# cw_loop_signal and the thread's signal mask (no sockets).
cw_c_test(unit_loop_signal SOURCES unit/test_loop_signal.c LABELS unit)
