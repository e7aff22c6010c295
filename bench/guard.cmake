# The guard benchmark's peer (bench/suites/55-guard.sh): a preload library
# that only starts one idle thread. Never instrumented, like the guard: it is
# preloaded into an uninstrumented server.
add_library(idle_thread MODULE idle_thread.c)
target_link_libraries(idle_thread PRIVATE pthread)
target_compile_options(idle_thread PRIVATE -fno-sanitize=all)
target_link_options(idle_thread PRIVATE -fno-sanitize=all)
set_target_properties(idle_thread PROPERTIES PREFIX "" LIBRARY_OUTPUT_DIRECTORY ${CW_BENCH_DIR})
