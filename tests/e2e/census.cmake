# Live tests of scan, watch and ports (bats, each file in its own netns).
cw_e2e_test(e2e_scan SCRIPT e2e/scan.bats TIMEOUT 180)
cw_e2e_test(e2e_watch SCRIPT e2e/watch.bats TIMEOUT 120 TIMING)
cw_e2e_test(e2e_ports SCRIPT e2e/ports.bats TIMEOUT 180 TIMING)
# The scan benchmark at smoke sizes (its own namespaces; seconds): proves
# `make bench`'s suite works. The figures come from `make bench`.
if(CW_BUILD_BENCH)
  add_test(NAME bench_scan_smoke
    COMMAND sh ${PROJECT_SOURCE_DIR}/bench/suites/30-scan.sh ${PROJECT_BINARY_DIR}
            ${CMAKE_CURRENT_BINARY_DIR}/bench-scan-smoke --smoke)
  set_tests_properties(bench_scan_smoke PROPERTIES TIMEOUT 120 LABELS "bench")
endif()
