# The library as a packager ships it (label build; none is timing-sensitive):
# the public headers each compile alone; libclosewait.so exports cw_ names
# only and needs libc and libmnl only; the library and the CLI build with
# neither cmocka nor libuv; a program outside the tree builds against an
# installed prefix with pkg-config, shared and static, and talks to the
# installed `closewait serve` (in its own network namespace).
set(CW_BUILD_TESTS_DIR ${CMAKE_CURRENT_SOURCE_DIR}/build)
if(CW_SANITIZE)
  set(cw_consumer_cflags "-fsanitize=address,undefined -fno-sanitize-recover=undefined")
  set(cw_exports_mode sanitize)
endif()
add_test(NAME build_headers COMMAND ${CW_BUILD_TESTS_DIR}/headers ${PROJECT_SOURCE_DIR}/include)
add_test(NAME build_exports
  COMMAND ${CW_BUILD_TESTS_DIR}/exports $<TARGET_FILE:closewait_shared> $<TARGET_FILE:closewait>
          ${PROJECT_SOURCE_DIR}/include ${cw_exports_mode})
add_test(NAME build_no_testing COMMAND ${CW_BUILD_TESTS_DIR}/no-testing ${PROJECT_SOURCE_DIR})
add_test(NAME build_consumer
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/netns-run ${CMAKE_CURRENT_SOURCE_DIR}/consumer/run
          ${PROJECT_BINARY_DIR})
set_tests_properties(build_headers build_exports build_no_testing build_consumer PROPERTIES
  LABELS build TIMEOUT 120 ENVIRONMENT "CC=${CMAKE_C_COMPILER}")
set_tests_properties(build_consumer PROPERTIES
  ENVIRONMENT "CC=${CMAKE_C_COMPILER};CFLAGS=${cw_consumer_cflags}")
