# closewait: the two commands a new user needs are `make demo` and `make test`.
BUILD   ?= build
REL     := $(BUILD)/release
ASAN    := $(BUILD)/asan
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all bootstrap release asan demo test bench install clean

all: release

bootstrap:
	@scripts/bootstrap

release:
	@cmake -S . -B $(REL) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(REL) -j$(JOBS)

asan:
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DCW_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN) -j$(JOBS)

demo: bootstrap
	@$(MAKE) --no-print-directory release >/dev/null
	@scripts/demo $(REL)/closewait

# Every test in the optimized build, then every test but the timing-sensitive
# ones under ASan+UBSan; fails if anything failed in either.
test: bootstrap
	@$(MAKE) --no-print-directory release
	@$(MAKE) --no-print-directory asan
	@scripts/test $(REL) $(ASAN)

bench: bootstrap
	@scripts/bootstrap bench
	@$(MAKE) --no-print-directory release
	@bench/run $(REL)

install: release
	@cmake --install $(REL) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
