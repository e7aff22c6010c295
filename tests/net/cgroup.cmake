# Sockets' cgroup ids against a cgroup2 tree the test makes (needs root and
# a writable cgroup2 mount).
cw_c_test(net_cgroup_id SOURCES net/test_cgroup_id.c LABELS net TIMEOUT 60)
