# Quick start: `make run` (set-up, build, demo) and `make test` (set-up, build, every test).
BUILD ?= build
JOBS ?= $(or $(MAX_JOBS),$(shell nproc))
CMAKE_FLAGS ?=

.PHONY: all setup configure build run test sanitize clean

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

test: build
	scripts/run_tests.sh $(BUILD)

# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DMF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)"

clean:
	rm -rf build build-asan
