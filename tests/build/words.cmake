# The check of words users cannot resolve (scripts/check-words) over the
# tree and the built CLI's help texts; tests/words.allow lists what it allows.
add_test(NAME lint_words
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/check-words --allow ${PROJECT_SOURCE_DIR}/tests/words.allow
          ${PROJECT_SOURCE_DIR} $<TARGET_FILE:closewait-cli>)
set_tests_properties(lint_words PROPERTIES LABELS lint TIMEOUT 60)
