# The trace benchmark's peer (bench/suites/58-trace.sh): empty eBPF programs
# on trace's tracepoints. Only with trace built.
if(CW_BUILD_TRACE)
  set(cw_floor_dir ${CMAKE_CURRENT_BINARY_DIR}/bpf)
  file(MAKE_DIRECTORY ${cw_floor_dir})
  cw_bpf_skeleton(trace_floor trace_floor.bpf.c ${cw_floor_dir})
  cw_bench(trace_floor SOURCES trace_floor.c ${cw_floor_dir}/trace_floor.skel.h LIBS bench_util closewait_trace) # libbpf through trace
  target_include_directories(trace_floor PRIVATE ${cw_floor_dir})
  add_dependencies(trace_floor trace_floor_bpf_skel)
endif()
