# Live tests of scan, reap, watch and ports across network namespaces and
# cgroups (bats; each file in its own netns, making more namespaces and one
# cgroup2 parent of its own, all removed at its end).
cw_e2e_test(e2e_containers_scan SCRIPT e2e/containers_scan.bats TIMEOUT 180)
cw_e2e_test(e2e_containers_reap SCRIPT e2e/containers_reap.bats TIMEOUT 120)
cw_e2e_test(e2e_containers_watch SCRIPT e2e/containers_watch.bats TIMEOUT 90 TIMING)
cw_e2e_test(e2e_containers_ports SCRIPT e2e/containers_ports.bats TIMEOUT 90)
