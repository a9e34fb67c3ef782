# Thin wrapper over CMake presets. `make demo` builds and runs the main job; `make test` builds
# and runs every test. Both install the Debian packages the build needs first.
PRESET ?= release
BUILD := build/$(PRESET)
DEMO_DB ?= build/demo.db
# Every libFuzzer target is tests/fuzz/fuzz_NAME.cc (scripts/run-fuzz.sh runs the same list).
FUZZ_TARGETS := $(sort $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.cc))))

.PHONY: all deps configure build test test-asan demo tour bench fuzz clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET)

test: build
	@ctest --preset $(PRESET)

test-asan:
	@$(MAKE) --no-print-directory test PRESET=asan

demo: build
	@$(BUILD)/cli/paymentctl demo

tour: build
	@scripts/tour.sh $(BUILD)/cli/paymentctl $(DEMO_DB)

bench: build
	@$(BUILD)/tests/bench/ledger_bench

fuzz: deps
	@cmake --preset fuzz >/dev/null && cmake --build --preset fuzz --target $(FUZZ_TARGETS)
	@scripts/run-fuzz.sh build/fuzz $${FUZZ_SECONDS:-30}

clean:
	rm -rf build
