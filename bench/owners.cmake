# The owner pass benchmark's probe (bench/suites/36-owners.sh): the /proc
# walk against the eBPF iterator, timed alone. Only with trace built.
if(CW_BUILD_TRACE)
  cw_bench(owners_pass SOURCES owners_pass.c LIBS closewait_trace)
endif()
