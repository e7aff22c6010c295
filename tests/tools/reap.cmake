# Helper programs of the reap tests ($CW_TOOLS/NAME).
cw_test_tool(cw_owner SOURCES tools/cw_owner.c)
cw_test_tool(cw_peer SOURCES tools/cw_peer.c)
cw_test_tool(cw_pty SOURCES tools/cw_pty.c)

# cw_reap_seam: the closewait CLI built with CW_REAP_TEST_SEAM, the test
# build of the seam between selection and action (CW_REAP_PAUSE, see
# cli/cmd_reap.c), which it reaches through the library's private
# reap/reap_testing.h. The shipped closewait never reads that variable.
get_target_property(CW_REAP_SEAM_SOURCES closewait-cli SOURCES)
list(TRANSFORM CW_REAP_SEAM_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/cli/ REGEX "^[^/]")
add_executable(cw_reap_seam ${CW_REAP_SEAM_SOURCES})
target_link_libraries(cw_reap_seam PRIVATE closewait PkgConfig::MHD pthread)
target_include_directories(cw_reap_seam PRIVATE ${PROJECT_SOURCE_DIR}/cli ${PROJECT_SOURCE_DIR}/lib)
target_compile_definitions(cw_reap_seam PRIVATE CW_REAP_TEST_SEAM=1 CW_VERSION="${PROJECT_VERSION}")
set_target_properties(cw_reap_seam PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CW_TOOLS_DIR})
# and the CLI's own definitions (the guard library's installed path...)
target_compile_definitions(cw_reap_seam PRIVATE $<TARGET_PROPERTY:closewait-cli,COMPILE_DEFINITIONS>)
