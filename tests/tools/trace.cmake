# Helper programs of the trace tests (e2e/trace.bats): the classic leaky
# server built twice more, with and without frame pointers whatever the
# build type (a Debug or sanitizer build keeps them by default), so trace's
# stacks are checked both ways: whole, and cut after the caller fix-up.
cw_test_tool(cwt-leaky-fp SOURCES tools/cwt_leaky.c)
target_compile_options(cwt-leaky-fp PRIVATE -g -O2 -fno-omit-frame-pointer)
cw_test_tool(cwt-leaky-nofp SOURCES tools/cwt_leaky.c)
target_compile_options(cwt-leaky-nofp PRIVATE -g -O2 -fomit-frame-pointer)
# A client whose pool keeps connections the server closed (connect()), and
# reads 0 bytes from them (read and recv with a length of 0), which is no EOF.
cw_test_tool(cwt-pool SOURCES tools/cwt_pool.c)
target_compile_options(cwt-pool PRIVATE -g -O2 -fno-omit-frame-pointer)
