# The namespace scan benchmark's socket holder (bench/suites/35-netns-scan.sh).
cw_bench(netns_farm SOURCES netns_farm.c)
