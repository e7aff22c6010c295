# The libFuzzer harnesses (tests/fuzz/run), 5 s each: ASan+UBSan programs of
# their own, built once with clang in CW_FUZZ_DIR (build/fuzz beside this
# build) by the fuzz_build fixture. Label fuzz: scripts/test runs them in its
# sanitizer pass only. `make fuzz` runs them longer.
get_filename_component(CW_FUZZ_DIR_DEFAULT ${PROJECT_BINARY_DIR}/../fuzz ABSOLUTE)
set(CW_FUZZ_DIR ${CW_FUZZ_DIR_DEFAULT} CACHE PATH "Where the sanitizer pass builds the fuzz harnesses")
set(CW_FUZZ_RUN ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run)

add_test(NAME fuzz_build COMMAND ${CW_FUZZ_RUN} --build ${CW_FUZZ_DIR})
set_tests_properties(fuzz_build PROPERTIES LABELS fuzz TIMEOUT 600 FIXTURES_SETUP fuzz)
foreach(h duration addr keepalive filter_opts netlink procfd cgroup mountinfo ports guard_env)
  add_test(NAME fuzz_${h} COMMAND ${CW_FUZZ_RUN} ${CW_FUZZ_DIR} 5 ${h})
  set_tests_properties(fuzz_${h} PROPERTIES LABELS fuzz TIMEOUT 120 FIXTURES_REQUIRED fuzz)
endforeach()
