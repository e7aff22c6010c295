# The own test of scripts/check-words, on the sample trees in build/words/.
# The check of the real tree (lint_words) is in words.cmake.pending until
# the tree passes it.
add_test(NAME lint_words_samples
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/build/check-words-samples ${PROJECT_SOURCE_DIR}/scripts/check-words)
set_tests_properties(lint_words_samples PROPERTIES LABELS lint TIMEOUT 60)
