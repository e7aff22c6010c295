# Finding network namespaces (threads, mounts in any mount namespace, fds)
# and entering one (lib/census/census_netns.h), on namespaces the test makes.
cw_c_test(net_netns SOURCES net/test_netns.c LABELS net TIMEOUT 60)
