# Unit tests of the library core (no sockets).
cw_c_test(unit_wheel SOURCES unit/test_wheel.c LABELS unit TIMEOUT 120)
cw_c_test(unit_duration SOURCES unit/test_duration.c LABELS unit)
cw_c_test(unit_addr SOURCES unit/test_addr.c LABELS unit)
cw_c_test(unit_buf SOURCES unit/test_buf.c LABELS unit)
cw_c_test(unit_tcpinfo SOURCES unit/test_tcpinfo.c LABELS unit)
