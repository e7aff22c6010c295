# The census across network namespaces the test makes (S19): the
# selections, a namespace that vanishes mid-scan, loopback pairs, accept
# queues, reap in both modes, workloads from cgroup2 (needs a writable
# cgroup2 mount), watch by namespace and ports per namespace.
cw_c_test(net_census_netns SOURCES net/test_census_netns.c LABELS net TIMEOUT 60)
