# The bats lint (scripts/lint-bats): every .bats file and the .bash files it
# loads have checks that can fail. lint_bats_samples is the lint's own test
# (tests/lint/). Neither needs a network namespace.
add_test(NAME lint_bats COMMAND ${PROJECT_SOURCE_DIR}/scripts/lint-bats)
add_test(NAME lint_bats_samples
  COMMAND ${PROJECT_SOURCE_DIR}/tests/lint/check-samples ${PROJECT_SOURCE_DIR}/scripts/lint-bats)
set_tests_properties(lint_bats lint_bats_samples PROPERTIES LABELS lint TIMEOUT 60)
# Every kept mutant (tests/mutants/) still applies and names a test: one that
# no longer applies would prove nothing when scripts/mutants runs.
add_test(NAME lint_mutants COMMAND ${PROJECT_SOURCE_DIR}/scripts/mutants --check ${PROJECT_BINARY_DIR})
set_tests_properties(lint_mutants PROPERTIES LABELS lint TIMEOUT 60)
