# The systemd unit and the Kubernetes DaemonSet of closewait export
# (contrib/): systemd-analyze on the unit, the exporter run with the unit's
# user and capabilities, the DaemonSet's and the scrape config's fields.
cw_e2e_test(e2e_export_deploy SCRIPT e2e/export_deploy.bats TIMEOUT 120)
