# Unit tests of the census logic on fixtures (no sockets).
set(CENSUS_FIX unit/census_fixture.c)
foreach(t age select group watch ports netlink procfd out types cgroup)
  if(t STREQUAL "out")
    cw_c_test(unit_census_${t} SOURCES unit/census_${t}.c ${CENSUS_FIX}
              ${PROJECT_SOURCE_DIR}/cli/out.c ${PROJECT_SOURCE_DIR}/cli/scan_view.c
              ${PROJECT_SOURCE_DIR}/cli/scan_groups.c ${PROJECT_SOURCE_DIR}/cli/scan_netns.c
              ${PROJECT_SOURCE_DIR}/cli/workload_view.c ${PROJECT_SOURCE_DIR}/cli/caps.c LABELS unit)
    target_include_directories(unit_census_${t} PRIVATE ${PROJECT_SOURCE_DIR}/cli)
  else()
    cw_c_test(unit_census_${t} SOURCES unit/census_${t}.c ${CENSUS_FIX} LABELS unit)
  endif()
  target_compile_definitions(unit_census_${t} PRIVATE CW_TESTS_DIR="${CMAKE_CURRENT_SOURCE_DIR}")
endforeach()

# closewait export's series from fixture censuses (cli/export_metrics.c).
cw_c_test(unit_export_metrics SOURCES unit/export_metrics.c ${CENSUS_FIX}
          ${PROJECT_SOURCE_DIR}/cli/export_metrics.c ${PROJECT_SOURCE_DIR}/cli/out.c LABELS unit)
target_include_directories(unit_export_metrics PRIVATE ${PROJECT_SOURCE_DIR}/cli)
target_compile_definitions(unit_export_metrics PRIVATE CW_TESTS_DIR="${CMAKE_CURRENT_SOURCE_DIR}")
# closewait export's counters from closewait trace --pin (cli/export_metrics.c).
cw_c_test(unit_export_counts SOURCES unit/export_counts.c ${CENSUS_FIX}
          ${PROJECT_SOURCE_DIR}/cli/export_metrics.c ${PROJECT_SOURCE_DIR}/cli/out.c LABELS unit)
target_include_directories(unit_export_counts PRIVATE ${PROJECT_SOURCE_DIR}/cli)
target_compile_definitions(unit_export_counts PRIVATE CW_TESTS_DIR="${CMAKE_CURRENT_SOURCE_DIR}")
# Both read what export renders through one fixture.
foreach(t unit_export_metrics unit_export_counts)
  target_sources(${t} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit/export_fixture.c)
endforeach()
