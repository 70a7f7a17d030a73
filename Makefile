# Shortcuts over CMake + Ninja. CMakeLists.txt is the build; this file only names the usual
# configurations and what to run in them. Override any variable on the command line, e.g.
#   make test JOBS=1        make run RUN_CMD='./build/epos bench engine --topology split'
#
# Build directories (each configured once; Ninja re-runs CMake itself when CMakeLists change):
#   build        RelWithDebInfo, tests              make build / test / run
#   build-bench  Release, benchmarks and peers      make bench
#   build-tsan   RelWithDebInfo, ThreadSanitizer    make tsan
#   build-asan   RelWithDebInfo, ASan + UBSan       make asan
#   build-fuzz   clang++, libFuzzer + ASan targets  make fuzz

# Parallel compile jobs: one per core. The machines have 2 cores, so a full build is slow;
# sanitizer builds are heavier still (and TSan objects about 3x larger): lower JOBS if memory
# runs short.
JOBS ?= $(shell nproc)
# Tests run two at a time: each test may start its own worker threads.
CTEST_JOBS ?= 2
GENERATOR ?= Ninja

BUILD_DIR ?= build
BENCH_DIR ?= build-bench
TSAN_DIR ?= build-tsan
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz

DEBUG_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEPOS_BUILD_TESTS=ON
BENCH_FLAGS := -DCMAKE_BUILD_TYPE=Release -DEPOS_BUILD_BENCH=ON -DEPOS_BUILD_TESTS=OFF
FUZZ_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DEPOS_BUILD_FUZZ=ON -DEPOS_BUILD_TESTS=OFF
# Extra -D flags for every configuration, e.g. EXTRA_CMAKE_FLAGS=-DEPOS_FORCE_RARE_PATHS=ON.
EXTRA_CMAKE_FLAGS ?=

# What `make run` runs: the orders API (examples/orders) on http://127.0.0.1:8080, after
# printing curl lines for every route; Ctrl-C stops it. `make tour` validates and calls the
# smaller examples instead.
RUN_CMD ?= BIN=$(abspath $(BUILD_DIR))/epos examples/orders/run.sh
TOUR_CMD ?= BIN=$(abspath $(BUILD_DIR))/epos examples/run.sh

# `make fuzz`: how long the fuzzer runs, and its per-input limits (a slower input is a hang,
# more memory a leak or a blow-up: both fail like a crash).
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?= -max_len=4096 -timeout=20 -rss_limit_mb=2048 -print_final_stats=1

# Sanitizer runtime options for the tests of `make tsan` / `make asan`.
TSAN_OPTIONS ?= halt_on_error=1:second_deadlock_stack=1
ASAN_OPTIONS ?= detect_leaks=1
UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

FORMAT_DIRS := $(wildcard include src tests bench)
FORMAT_FILES = $(shell find $(FORMAT_DIRS) -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.cc' -o -name '*.cpp' \))

# $(call configure,DIR,FLAGS): configure DIR with FLAGS unless it already is.
define configure
	@if [ ! -f $(1)/build.ninja ] && [ ! -f $(1)/Makefile ]; then \
	  echo "cmake -S . -B $(1) -G $(GENERATOR) $(2) $(EXTRA_CMAKE_FLAGS)"; \
	  cmake -S . -B $(1) -G $(GENERATOR) $(2) $(EXTRA_CMAKE_FLAGS); \
	fi
endef

.DEFAULT_GOAL := build
.PHONY: build test run tour bench bench-http tsan asan fuzz format format-check clean deps

deps:
	@scripts/install-deps.sh

build: deps
	$(call configure,$(BUILD_DIR),$(DEBUG_FLAGS))
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure --no-tests=error -j $(CTEST_JOBS)

run: build
	$(RUN_CMD)

tour: build
	$(TOUR_CMD)

bench: deps
	$(call configure,$(BENCH_DIR),$(BENCH_FLAGS))
	cmake --build $(BENCH_DIR) -j $(JOBS)
	bench/run_engine.sh $(BENCH_DIR)

# EPOS ping and GET /orders/:id, Node-RED (npm) and a raw Beast server under wrk -t2 -c64.
bench-http: deps
	$(call configure,$(BENCH_DIR),$(BENCH_FLAGS))
	cmake --build $(BENCH_DIR) -j $(JOBS) --target epos epos_beast_pong
	BUILD=0 bench/http/run.sh $(BENCH_DIR)

tsan: deps
	$(call configure,$(TSAN_DIR),$(DEBUG_FLAGS) -DEPOS_SANITIZE=thread)
	cmake --build $(TSAN_DIR) -j $(JOBS)
	TSAN_OPTIONS="$(TSAN_OPTIONS)" ctest --test-dir $(TSAN_DIR) --output-on-failure --no-tests=error -j $(CTEST_JOBS)

asan: deps
	$(call configure,$(ASAN_DIR),$(DEBUG_FLAGS) -DEPOS_SANITIZE=address)
	cmake --build $(ASAN_DIR) -j $(JOBS)
	ASAN_OPTIONS="$(ASAN_OPTIONS)" UBSAN_OPTIONS="$(UBSAN_OPTIONS)" ctest --test-dir $(ASAN_DIR) --output-on-failure --no-tests=error -j $(CTEST_JOBS)

# Fuzzes the spec pipeline (load, templates, compile) for FUZZ_SECONDS over a scratch copy
# of fuzz/corpus/spec_loader, so the repository is not modified; new corpus entries are
# dropped. Exits non-zero on any crash, sanitizer report, timeout or out-of-memory; the
# failing input is saved as $(FUZZ_DIR)/crash-* (or timeout-*, oom-*) to reproduce with
# `$(FUZZ_DIR)/epos_spec_loader_fuzz FILE`.
fuzz: deps
	$(call configure,$(FUZZ_DIR),$(FUZZ_FLAGS))
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target epos_spec_loader_fuzz
	@corpus=$$(mktemp -d) && trap 'rm -rf "$$corpus"' EXIT && \
	  cp -R fuzz/corpus/spec_loader/. "$$corpus" && \
	  echo "$(FUZZ_DIR)/epos_spec_loader_fuzz -max_total_time=$(FUZZ_SECONDS) $(FUZZ_ARGS) $$corpus" && \
	  $(FUZZ_DIR)/epos_spec_loader_fuzz -max_total_time=$(FUZZ_SECONDS) $(FUZZ_ARGS) \
	    -artifact_prefix=$(FUZZ_DIR)/ "$$corpus"

format:
	@files="$(FORMAT_FILES)"; [ -z "$$files" ] || clang-format -i $$files

format-check:
	@files="$(FORMAT_FILES)"; [ -z "$$files" ] || clang-format --dry-run -Werror $$files

clean:
	rm -rf $(BUILD_DIR) $(BENCH_DIR) $(TSAN_DIR) $(ASAN_DIR) $(FUZZ_DIR)
