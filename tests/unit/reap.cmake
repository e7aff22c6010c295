# reap's selection on recorded censuses (no sockets).
cw_c_test(unit_reap_select SOURCES unit/test_reap_select.c LABELS unit)
