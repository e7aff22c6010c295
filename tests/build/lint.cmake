# The own tests of scripts/check-words and scripts/check-layers, on the
# sample trees in build/words/ and build/layers/. The checks of the real tree
# are lint_words (words.cmake) and lint_layers (layers.cmake).
add_test(NAME lint_words_samples
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/build/check-words-samples ${PROJECT_SOURCE_DIR}/scripts/check-words)
add_test(NAME lint_layers_samples
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/build/check-layers-samples ${PROJECT_SOURCE_DIR}/scripts/check-layers)
set_tests_properties(lint_words_samples lint_layers_samples PROPERTIES
  LABELS lint TIMEOUT 60 ENVIRONMENT "CC=${CMAKE_C_COMPILER}")
# docs/api.md is what scripts/api-doc makes of the public headers, README.md's
# header table lists every header, and each header's example compiles.
add_test(NAME lint_api_doc
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/api-doc --check ${PROJECT_SOURCE_DIR})
set_tests_properties(lint_api_doc PROPERTIES
  LABELS lint TIMEOUT 60 ENVIRONMENT "CC=${CMAKE_C_COMPILER}")
