# Why each CLOSE_WAIT socket is open (eof-read, never-read, unaccepted) on
# real leaky programs: scan's JSON and culprit lines, --why in scan, watch,
# reap and export.
cw_e2e_test(e2e_scan_why SCRIPT e2e/scan_why.bats TIMEOUT 120)
