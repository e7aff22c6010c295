# Hostile conditions: out of file descriptors (serve pauses accepting without
# spinning and resumes, client --stream backs off, scan and reap fail
# cleanly), bats in its own network namespace. Timing: CPU shares and the
# resume latency are measured.
cw_e2e_test(e2e_hostile_fds SCRIPT e2e/hostile_fds.bats TIMEOUT 120 TIMING)
# A hostile host: scan and reap while processes exit mid-walk and pids are
# reused (in a pid namespace of the test's own), pid reuse between reap's
# selection and its action, unreadable /proc/PID/fd, 5 000 processes alive
# (CW_HOSTILE_PROCS sets how many). Timing: scan's wall time is bounded.
cw_e2e_test(e2e_hostile_host SCRIPT e2e/hostile_host.bats TIMEOUT 120 TIMING)
# Slow and hostile clients against serve (10 000 connections at once: the
# server's RLIMIT_NOFILE is raised to 20 000); p99 of well-behaved clients
# is measured, so timing. About 20 s alone (ASan too); 180 s leaves room.
cw_e2e_test(e2e_hostile_clients SCRIPT e2e/hostile_clients.bats TIMEOUT 180 TIMING)
