# The scan benchmark's socket holder (bench/suites/30-scan.sh).
cw_bench(census_farm SOURCES census_farm.c)
