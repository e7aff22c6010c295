# The Prometheus alert rules (contrib/prometheus/closewait-rules.yml) load, and fire on the
# series of tests/prometheus/*.test.yml that must fire them and on none of the others:
# promtool evaluates them on series it makes up, so no namespace, socket or build is needed.
add_test(NAME lint_prometheus_rules COMMAND ${PROJECT_SOURCE_DIR}/tests/prometheus/check)
set_tests_properties(lint_prometheus_rules PROPERTIES LABELS lint TIMEOUT 60)
