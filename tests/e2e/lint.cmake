# The bats lint (scripts/lint-bats): every .bats file and the .bash files it
# loads have checks that can fail. lint_bats_samples is the lint's own test
# (tests/lint/). Neither needs a network namespace.
add_test(NAME lint_bats COMMAND ${PROJECT_SOURCE_DIR}/scripts/lint-bats)
add_test(NAME lint_bats_samples
  COMMAND ${PROJECT_SOURCE_DIR}/tests/lint/check-samples ${PROJECT_SOURCE_DIR}/scripts/lint-bats)
set_tests_properties(lint_bats lint_bats_samples PROPERTIES LABELS lint TIMEOUT 60)
