# The check of the layers (scripts/check-layers): no circular calls between
# the files of lib/ and cli/ (from the objects of this build), and no include
# that crosses the library's parts.
add_test(NAME lint_layers
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/check-layers ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(lint_layers PROPERTIES LABELS lint TIMEOUT 60)
