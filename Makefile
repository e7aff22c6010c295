# closewait: the two commands a new user needs are `make demo` and `make test`.
BUILD   ?= build
REL     := $(BUILD)/release
ASAN    := $(BUILD)/asan
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)

# The library and the CLI need libmnl only; the tests and the benchmarks also
# need cmocka and libuv (CW_BUILD_TESTING). demo and install build the
# library and the CLI in $(REL): a new $(REL) is configured without the
# tests; one that has them on (make test, make bench) keeps them.
CONFIGURE_REL := cmake -S . -B $(REL) -DCMAKE_BUILD_TYPE=RelWithDebInfo
NO_TESTS = $(if $(wildcard $(REL)/CMakeCache.txt),,-DCW_BUILD_TESTING=OFF)

.PHONY: all bootstrap release asan programs demo test fuzz bench soak install deb test-package clean

all: release

bootstrap:
	@scripts/bootstrap test

release:
	@$(CONFIGURE_REL) -DCW_BUILD_TESTING=ON >/dev/null
	@cmake --build $(REL) -j$(JOBS)

asan:
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DCW_SANITIZE=ON -DCW_BUILD_TESTING=ON >/dev/null
	@cmake --build $(ASAN) -j$(JOBS)

# libclosewait.a, libclosewait.so, the closewait CLI and its guard library, its
# man pages and its bash completion, nothing else.
programs:
	@$(CONFIGURE_REL) $(NO_TESTS) >/dev/null
	@cmake --build $(REL) -j$(JOBS) --target closewait closewait_shared closewait-cli \
		closewait-guard closewait-man closewait-completion

demo:
	@scripts/bootstrap demo
	@$(MAKE) --no-print-directory programs >/dev/null
	@scripts/demo $(REL)/closewait

# Every test in the optimized build, then every test but the benchmark smoke
# run under ASan+UBSan; fails if anything failed in either.
test:
	@scripts/bootstrap test
	@$(MAKE) --no-print-directory release
	@$(MAKE) --no-print-directory asan
	@scripts/test $(REL) $(ASAN)

# The libFuzzer harnesses (tests/fuzz, built with clang in $(BUILD)/fuzz),
# each run for FUZZ_SECONDS; FUZZ="netlink procfd" runs only those. What
# they find stays in $(BUILD)/fuzz/corpus for the next run. make test runs
# each for 5 s.
FUZZ_SECONDS ?= 60
FUZZ ?=
fuzz:
	@scripts/bootstrap test
	@tests/fuzz/run --build $(BUILD)/fuzz
	@tests/fuzz/run $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ)

bench:
	@scripts/bootstrap bench
	@$(MAKE) --no-print-directory release
	@bench/run $(REL)

# A long run under hostile load, then checks that nothing leaked (bench/soak;
# SOAK_MIN=30 minutes by default). Not part of make test.
soak:
	@scripts/bootstrap bench
	@$(MAKE) --no-print-directory release
	@bench/soak $(REL)

install: programs
	@cmake --install $(REL) --prefix $(PREFIX)

# The Debian packages closewait, libclosewait1 and libclosewait-dev (with their
# -dbgsym and the native source package), by dpkg-buildpackage in a copy of
# this tree's files (git's tracked and untracked ones, less the ignored):
# dpkg-buildpackage writes into the parent of the tree it builds, which is
# then $(DEB), never the directory this checkout sits in.
DEB := $(BUILD)/deb
deb:
	@scripts/bootstrap package
	@rm -rf $(DEB) && mkdir -p $(DEB)/closewait
	@git ls-files -z --cached --others --exclude-standard | \
		tar -c --null -T - --ignore-failed-read -f - 2>/dev/null | tar -x -C $(DEB)/closewait
	@cd $(DEB)/closewait && dpkg-buildpackage -us -uc -j$(JOBS) >../build.log 2>&1 || \
		{ tail -n 40 ../build.log; echo; echo "make deb: failed, see $(DEB)/build.log" >&2; exit 1; }
	@ls $(DEB)/*.deb $(DEB)/*.changes

# make deb, then lintian, then the packages installed into a minimal Debian 12
# root (mmdebstrap) where closewait finds a leak: needs the Debian mirror,
# root and a few minutes, so it is not part of make test.
test-package: deb
	@scripts/test-package $(DEB)

clean:
	rm -rf $(BUILD)
