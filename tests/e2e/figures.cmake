# Every figure that README.md and docs/*.md copy from BENCHMARKS.md is the one
# BENCHMARKS.md holds (scripts/figures --check names each block that is not).
# Reads files only: no network, no build.
add_test(NAME lint_figures COMMAND ${PROJECT_SOURCE_DIR}/scripts/figures --check)
set_tests_properties(lint_figures PROPERTIES LABELS lint TIMEOUT 60)
