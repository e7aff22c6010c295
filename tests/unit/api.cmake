# Direct tests of public functions with no socket behind them that the rest of
# the suite reaches only through others (each checks its header's promise).
cw_c_test(unit_api_pure SOURCES unit/test_api_pure.c LABELS unit)
