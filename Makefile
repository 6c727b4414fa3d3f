# Stratus -- build, run and test.
#
#   make               build ./stratus
#   make run           install missing packages, build, start examples/hello on :7071
#   make test          install missing packages, build, run unit and end-to-end tests
#                      (first installs the Lambda runtime client for the Lambda tests
#                      into build/lambda-ric; STRATUS_SKIP_LAMBDA_RIC=1 skips it, and the
#                      MCP TypeScript SDK for the MCP tests into build/mcp-sdk;
#                      STRATUS_SKIP_MCP_SDK=1 skips that, and npm @azure/functions 4.x for
#                      the Node.js v4-model tests into build/azure-functions;
#                      STRATUS_SKIP_AZURE_FUNCTIONS=1 skips that)
#   make pyunit        unit tests of the Python worker shim (runtimes/python)
#   make test SANITIZE=1   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz          build the libFuzzer drivers (clang) into build/fuzz/
#   make fuzz-run FUZZ_SECONDS=300   run each driver on its seed corpus
#   make bench         run bench/http_hello (nginx vs Stratus in-process and isolated)
#   make bench-cold    run bench/cold_start (a request at zero workers vs process start)
#   make bench-node    run bench/node_hello (Stratus + Node.js vs node http vs workerd)
#   make bench-custom  run bench/custom_handler (a Node.js handler directly vs behind Stratus)
#   make bench-python  run bench/python_hello (uwsgi vs Stratus with a Python worker)
#   make bench-python-worker  run bench/python_worker (the Python worker alone, us/invocation)
#   make bench-store   run bench/store (durable queue throughput vs raw SQLite commits)
#   make bench-timer   run bench/timer_jitter (timer fire time vs the scheduled second)
#   make bench-queue   run bench/queue (queue-triggered native function end to end)
#   make bench-telemetry  run bench/telemetry (the host with telemetry on vs off)
#   make bench-ceiling run bench/ceiling/run (the design's ceiling beside Stratus and its peers)

CC      ?= cc
PYTHON  ?= /usr/bin/python3
PKGS    := libuv jansson openssl sqlite3
SANITIZE ?= 0

ifeq ($(SANITIZE),1)
  BUILD    := build/san
  OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  BIN      := $(BUILD)/stratus
else
  BUILD    := build/release
  OPT      := -O2 -g
  BIN      := stratus
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?=
CFLAGS  += $(OPT) -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 \
           -D_GNU_SOURCE -Iinclude -I$(BUILD)/gen $(PKG_CFLAGS) -MMD -MP
LDFLAGS ?=
LDLIBS  := $(PKG_LIBS) -lhttp_parser -ldl -lm -lpthread
EXPORTS := -Wl,--dynamic-list=src/runtimes/stratus.dynlist

SRC      := $(shell find src -name '*.c' | sort)
LIB_SRC  := $(filter-out src/main.c,$(SRC))
GEN_OBJ  := $(BUILD)/gen/stratus_h.o $(BUILD)/gen/runtime_files.o $(BUILD)/gen/ui_files.o
OBJ      := $(SRC:%.c=$(BUILD)/%.o) $(GEN_OBJ)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(GEN_OBJ)
# The worker shims of the interpreter runtimes, carried inside the binary.
RT_FILES := $(shell find runtimes -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
              ! -path '*/node_modules/*' 2>/dev/null | LC_ALL=C sort)
# The dashboard served at /admin/ui.
UI_FILES := $(shell find ui -type f 2>/dev/null | LC_ALL=C sort)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: FORCE all deps lambda-ric mcp-sdk azure-functions run test unit pyunit e2e fuzz fuzz-run bench bench-cold \
        bench-custom bench-python bench-python-worker bench-store bench-queue bench-node \
        bench-timer bench-telemetry bench-ceiling \
        clean examples
all: $(BIN)

$(BIN): $(OBJ) src/runtimes/stratus.dynlist
	$(CC) $(OPT) $(LDFLAGS) $(EXPORTS) -o $@ $(OBJ) $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The public header, embedded so `stratus start` can build functions
# anywhere without an installed copy.
$(BUILD)/gen/stratus_h.c: include/stratus.h scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh stratus_h_text $< > $@

$(BUILD)/gen/stratus_h.o: $(BUILD)/gen/stratus_h.c
	$(CC) $(CFLAGS) -c -o $@ $<

# Rewritten only when the list of files changes, so adding or removing a
# shim file re-embeds even when its date is old.
$(BUILD)/gen/runtime_files.list: FORCE
	@mkdir -p $(dir $@)
	@echo '$(RT_FILES)' | cmp -s - $@ || echo '$(RT_FILES)' > $@

$(BUILD)/gen/runtime_files.c: $(BUILD)/gen/runtime_files.list $(RT_FILES) scripts/embed_tree.sh
	sh scripts/embed_tree.sh runtime_files runtimes $(RT_FILES) > $@

$(BUILD)/gen/runtime_files.o: $(BUILD)/gen/runtime_files.c
	$(CC) $(CFLAGS) -Isrc/runtimes -c -o $@ $<

$(BUILD)/gen/ui_files.list: FORCE
	@mkdir -p $(dir $@)
	@echo '$(UI_FILES)' | cmp -s - $@ || echo '$(UI_FILES)' > $@

$(BUILD)/gen/ui_files.c: $(BUILD)/gen/ui_files.list $(UI_FILES) scripts/embed_tree.sh
	sh scripts/embed_tree.sh ui_files ui $(UI_FILES) > $@

$(BUILD)/gen/ui_files.o: $(BUILD)/gen/ui_files.c
	$(CC) $(CFLAGS) -Isrc/runtimes -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

deps:
	@sh scripts/deps.sh

run: deps
	$(MAKE) all
	./$(BIN) start examples/hello --port 7071

pyunit:
	$(PYTHON) -m pytest -q tests/python

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do $$t || fail=1; done; exit $$fail

e2e: $(BIN)
	STRATUS_BIN=$(abspath $(BIN)) STRATUS_SANITIZE=$(filter 1,$(SANITIZE)) $(PYTHON) -m pytest -q tests/e2e

# Node.js 22 and npm aws-lambda-ric, for tests/e2e/test_lambda.py (quick
# once installed).
lambda-ric:
	@if [ -n "$(STRATUS_SKIP_LAMBDA_RIC)" ]; then echo "lambda-ric: skipped"; \
	else sh scripts/lambda-ric.sh; fi

# npm @modelcontextprotocol/sdk 1.x, for tests/e2e/test_mcp.py (quick once
# installed).
mcp-sdk:
	@if [ -n "$(STRATUS_SKIP_MCP_SDK)" ]; then echo "mcp-sdk: skipped"; \
	else sh scripts/mcp-sdk.sh; fi

# npm @azure/functions 4.x, for tests/e2e/test_node_v4.py (quick once
# installed).
azure-functions:
	@if [ -n "$(STRATUS_SKIP_AZURE_FUNCTIONS)" ]; then echo "azure-functions: skipped"; \
	else sh scripts/azure-functions.sh; fi

test: deps
	$(MAKE) all unit pyunit
	$(MAKE) lambda-ric
	$(MAKE) mcp-sdk
	$(MAKE) azure-functions
	$(MAKE) e2e

FUZZ_CC     ?= clang
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE -Iinclude \
               -Ibuild/fuzz/gen $(PKG_CFLAGS)
FUZZ_LIB    := $(filter-out src/main.c,$(SRC))
FUZZ_BIN    := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

build/fuzz/gen/stratus_h.c: include/stratus.h scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh stratus_h_text $< > $@

build/fuzz/gen/runtime_files.c: $(RT_FILES) scripts/embed_tree.sh
	@mkdir -p $(dir $@)
	sh scripts/embed_tree.sh runtime_files runtimes $(RT_FILES) > $@

build/fuzz/gen/ui_files.c: $(UI_FILES) scripts/embed_tree.sh
	@mkdir -p $(dir $@)
	sh scripts/embed_tree.sh ui_files ui $(UI_FILES) > $@

build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB) build/fuzz/gen/stratus_h.c build/fuzz/gen/runtime_files.c \
              build/fuzz/gen/ui_files.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc/runtimes -o $@ $< $(FUZZ_LIB) build/fuzz/gen/stratus_h.c \
	  build/fuzz/gen/runtime_files.c build/fuzz/gen/ui_files.c $(LDLIBS)

fuzz: $(FUZZ_BIN)

FUZZ_SECONDS ?= 60
fuzz-run: fuzz
	@set -e; for f in $(FUZZ_BIN); do \
	  n=$$(basename $$f); mkdir -p build/fuzz/corpus/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus/$$n tests/fuzz/corpus/$$n; \
	done

bench: all
	sh bench/http_hello

bench-cold: all
	sh bench/cold_start

bench-node: all
	sh bench/node_hello

bench-custom: all
	sh bench/custom_handler

bench-python: all
	sh bench/python_hello

bench-python-worker:
	/usr/bin/python3 bench/python_worker

bench-timer: all
	sh bench/timer_jitter

bench-ceiling: all
	sh bench/ceiling/run

bench-telemetry: all
	sh bench/telemetry

# The store benchmark's driver: the store and the small pieces it uses.
STORE_OBJ := $(filter $(BUILD)/src/store/% $(BUILD)/src/util/%,$(LIB_OBJ))
$(BUILD)/bench/store-driver: bench/store/driver.c $(STORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(STORE_OBJ) $(LDLIBS)

bench-store:
	sh bench/store/run

$(BUILD)/bench/queue-driver: bench/queue/driver.c $(STORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(STORE_OBJ) $(LDLIBS)

bench-queue:
	sh bench/queue/run

clean:
	rm -rf build stratus

-include $(OBJ:.o=.d) $(UNIT_BIN:%=%.d)
