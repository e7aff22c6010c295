# The manual and the shell completion (label doc; no network, no timing): every
# page lints clean with mandoc; each command's page and its --help name the
# same options; the bash completion, sourced, completes commands, options,
# state names and pids, and offers every option of every --help.
add_test(NAME doc_man_lint
  COMMAND ${PROJECT_SOURCE_DIR}/tests/build/man-lint ${PROJECT_BINARY_DIR}/man ${PROJECT_SOURCE_DIR})
add_test(NAME doc_man_options
  COMMAND ${PROJECT_SOURCE_DIR}/tests/build/man-options $<TARGET_FILE:closewait-cli>
          ${PROJECT_BINARY_DIR}/man/man1)
add_test(NAME doc_completion
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/build/completion $<TARGET_FILE:closewait-cli>
          ${PROJECT_BINARY_DIR}/completion/closewait)
set_tests_properties(doc_man_lint doc_man_options doc_completion PROPERTIES LABELS doc TIMEOUT 60)
