# Benchmark programs: the load generator and its helpers, the
# peers closewait is measured against, and the timer microbenchmark.
add_library(bench_util STATIC bench_util.c)
target_include_directories(bench_util PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})

cw_bench(loadgen SOURCES loadgen.c LIBS bench_util)
cw_bench(peer_uv SOURCES peer_uv.c LIBS PkgConfig::UV)
cw_bench(peer_bare SOURCES peer_bare.c)
cw_bench(peer_block SOURCES peer_block.c)
cw_bench(timers SOURCES timers.c heap.c LIBS bench_util PkgConfig::UV)
cw_bench(c100k SOURCES c100k.c LIBS bench_util)
cw_bench(closelat SOURCES closelat.c LIBS bench_util)
cw_bench(writecost SOURCES writecost.c LIBS bench_util)
# The trace benchmark's probe (bench/suites/58-trace.sh): what one read() on
# a socket or a pipe and one getppid() cost.
cw_bench(syscost SOURCES syscost.c LIBS bench_util)
