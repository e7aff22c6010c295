# Processes with hostile names (a newline, bytes that are not UTF-8): every
# command's JSON still parses (jq and Python), starts with "version" and
# names them (bats, in its own network namespace).
cw_e2e_test(e2e_hostile_names SCRIPT e2e/hostile_names.bats TIMEOUT 120)
