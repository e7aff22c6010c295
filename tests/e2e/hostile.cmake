# Hostile conditions: out of file descriptors (serve pauses accepting without
# spinning and resumes, client --stream backs off, scan and reap fail
# cleanly), bats in its own network namespace. Timing: CPU shares and the
# resume latency are measured.
cw_e2e_test(e2e_hostile_fds SCRIPT e2e/hostile_fds.bats TIMEOUT 120 TIMING)
