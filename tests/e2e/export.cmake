# closewait export scraped by a real Prometheus and node_exporter, run by
# the tests as plain processes of each file's own network namespace.
cw_e2e_test(e2e_export_prom SCRIPT e2e/export_prom.bats TIMEOUT 180)
