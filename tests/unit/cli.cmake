# Unit tests of the CLI's output layer (no sockets).
cw_c_test(unit_cli_out SOURCES unit/cli_out.c ${PROJECT_SOURCE_DIR}/cli/out.c LABELS unit)
target_include_directories(unit_cli_out PRIVATE ${PROJECT_SOURCE_DIR}/cli)
