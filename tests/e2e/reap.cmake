# Live tests of closewait reap (bats, in its own network namespace).
cw_e2e_test(e2e_reap SCRIPT e2e/reap.bats TIMEOUT 240)
# The reap benchmark at smoke sizes (its own namespaces; seconds): proves
# `make bench`'s suite works. The figures come from `make bench`.
if(CW_BUILD_BENCH)
  add_test(NAME bench_reap_smoke
    COMMAND sh ${PROJECT_SOURCE_DIR}/bench/suites/50-reap.sh ${PROJECT_BINARY_DIR}
            ${CMAKE_CURRENT_BINARY_DIR}/bench-reap-smoke --smoke)
  set_tests_properties(bench_reap_smoke PROPERTIES TIMEOUT 120 LABELS "bench")
endif()
