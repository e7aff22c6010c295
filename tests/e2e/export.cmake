# closewait export scraped by a real Prometheus and node_exporter, run by
# the tests as plain processes of each file's own network namespace.
cw_e2e_test(e2e_export_prom SCRIPT e2e/export_prom.bats TIMEOUT 180)
cw_e2e_test(e2e_export SCRIPT e2e/export.bats TIMEOUT 120)
cw_e2e_test(e2e_export_top SCRIPT e2e/export_top.bats TIMEOUT 120)
cw_e2e_test(e2e_export_load SCRIPT e2e/export_load.bats TIMEOUT 120 TIMING)
cw_e2e_test(e2e_export_tls SCRIPT e2e/export_tls.bats TIMEOUT 120)
cw_e2e_test(e2e_export_idle SCRIPT e2e/export_idle.bats TIMEOUT 120)
cw_e2e_test(e2e_export_churn SCRIPT e2e/export_churn.bats TIMEOUT 120 TIMING)
