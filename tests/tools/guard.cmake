# Helper programs of the guard tests (e2e/guard*.bats): the classic leaky
# server, built with debug information so backtraces name its functions, and
# a well-behaved prefork one.
cw_test_tool(cwt-leaky SOURCES tools/cwt_leaky.c)
target_compile_options(cwt-leaky PRIVATE -g)
cw_test_tool(cwt-prefork SOURCES tools/cwt_prefork.c)
