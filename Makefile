# The two commands of the README (`make demo`, `make test`) and the targets behind them.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: deps configure build test test-unit test-e2e demo lint bench bench-quick reliability sanitize clean

deps:
	@scripts/install-deps

configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_EXPORT_COMPILE_COMMANDS=ON; \
	fi

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Every suite: C++ unit and integration tests (CTest, SQLite and PostgreSQL), then the browser tests.
test: build
	scripts/run-tests $(BUILD_DIR)

demo: build
	scripts/demo $(BUILD_DIR)

lint: configure
	scripts/lint $(BUILD_DIR)

bench: build
	scripts/bench $(BUILD_DIR) full

bench-quick: build
	scripts/bench $(BUILD_DIR) quick

reliability: build
	scripts/reliability $(BUILD_DIR)

# Every C++ test under AddressSanitizer and UndefinedBehaviorSanitizer (SANITIZER=thread: ThreadSanitizer), in
# build-$(SANITIZER)/.
SANITIZER ?= address
sanitize: deps
	scripts/sanitize $(SANITIZER)

clean:
	rm -rf $(BUILD_DIR)
