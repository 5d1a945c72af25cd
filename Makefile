# Quick start: `make run` (set-up, build, demo) and `make test` (set-up, build, every test).
BUILD ?= build
JOBS ?= $(or $(MAX_JOBS),$(shell nproc))
CMAKE_FLAGS ?=

.PHONY: all setup configure build run check test test-avx2 sanitize fuzz install clean

all: build

setup:
	@scripts/setup.sh

$(BUILD)/CMakeCache.txt: | setup
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

configure: setup $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/mnist_demo

# The unit tier, for the edit-compile-test loop (under a minute on two cores).
check: build
	CTEST_ARGS="-L unit" scripts/run_tests.sh $(BUILD)

# Everything: the unit tier and the end-to-end programs (which share one warm kernel cache).
test: build
	scripts/run_tests.sh $(BUILD)

# Every test program as on an AVX2 host without AVX-512 (qemu-user's Haswell model, emulated:
# about two hours on two cores; scripts/test_as_cpu.py says what it cannot cover).
# QEMU_CPU=NAME for another model (qemu-x86_64 -cpu help), TESTS="test_a test_b" for some.
QEMU_CPU ?= Haswell-v4
TESTS ?=
test-avx2: build
	@scripts/setup.sh qemu
	scripts/test_as_cpu.py $(BUILD) $(QEMU_CPU) $(TESTS)

# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DMF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)"

# libFuzzer on every loader (tests/fuzz/), FUZZ_SECONDS each, under ASan+UBSan, built with
# clang in build-fuzz/; new inputs go to build-fuzz/corpus/, crashes to build-fuzz/findings/.
# FUZZ_RUNS=N instead runs N inputs from a fixed seed: the same inputs every time (CI).
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?=
fuzz:
	@scripts/setup.sh fuzz
	CC=clang-14 cmake -S . -B build-fuzz -DMF_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
	FUZZ_RUNS=$(FUZZ_RUNS) scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

# The library, headers, pkg-config and CMake files, the commands and the Python package
# (cmake/install.cmake) under PREFIX.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-fuzz
