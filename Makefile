# Freightnet — one plain Makefile.
#
#   make demo                 README command 1: install deps, build, serve the demo state
#   make check                README command 2: install deps, build, run every test
#   make                      build bin/freightd and bin/freight
#   make test                 unit tests (cmocka) and end-to-end tests (Python)
#   make SANITIZER=address    (or undefined) instrumented build in build/address/...
#   make bench                the benchmark programs (see docs/benchmarks.md); as root it
#                             also installs redis-server (scripts/deps.sh bench)
#   make deps                 install the Debian packages the build needs
#   make web                  the dashboard: npm ci in web/, then bundle into web/dist
#   make web-test             the dashboard in headless Chromium (tests/web), part of make test

CC       ?= cc
SANITIZER ?=
PKGS     := libmicrohttpd jansson libsodium libzstd
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
               -Wstrict-prototypes -Wmissing-prototypes -pthread -Isrc
OPT      ?= -O2 -g

ifeq ($(SANITIZER),)
  BUILD := build/release
  BIN   := bin
  SANFLAGS :=
else
  BUILD := build/$(SANITIZER)
  BIN   := build/$(SANITIZER)/bin
  SANFLAGS := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   := $(CFLAGS_BASE) $(OPT) $(SANFLAGS) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS  := -pthread $(SANFLAGS)
LDLIBS   := $(PKG_LIBS) -lm

# Library code: every .c under src/ except the two programs' mains.
LIB_SRC  := $(sort $(wildcard src/common/*.c src/store/*.c src/core/*.c src/match/*.c src/auth/*.c src/http/*.c src/api/*.c src/sim/*.c src/stats/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
D_SRC    := $(wildcard src/freightd/*.c)
CLI_SRC  := $(wildcard src/freight/*.c)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BIN)/%)

.PHONY: all test unit e2e web web-test bench bench-deps deps demo check sanitize clean check-deps
all: check-deps $(BIN)/freightd $(BIN)/freight

check-deps:
	@pkg-config --exists $(PKGS) cmocka || { echo "missing build dependencies: run 'scripts/deps.sh' (or 'make deps')" >&2; exit 1; }

deps:
	scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"; $(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libfreight.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/freightd: $(D_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libfreight.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/freight: $(CLI_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libfreight.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# GLPK, the exact reference for the dispatch test only (docs/dependencies.md);
# Debian ships no glpk.pc, hence the fallback.  Never linked into the programs.
GLPK_LIBS := $(shell pkg-config --libs glpk 2>/dev/null || echo -lglpk)
$(BUILD)/tests/test_match_dispatch_glpk: TEST_LIBS := $(GLPK_LIBS)
$(BUILD)/tests/test_sim_bound_glpk: TEST_LIBS := $(GLPK_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libfreight.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags cmocka) -MMD -MP -o $@ $< $(BUILD)/libfreight.a $(LDFLAGS) $(LDLIBS) $(TEST_LIBS) $(shell pkg-config --libs cmocka)

$(BIN)/bench_%: bench/bench_%.c $(BUILD)/libfreight.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(BUILD)/libfreight.a $(LDFLAGS) $(LDLIBS)

unit: check-deps $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

e2e: all
	FREIGHTD_BIN=$(abspath $(BIN)/freightd) FREIGHT_BIN=$(abspath $(BIN)/freight) python3 tests/e2e/run.py

test: unit e2e web-test

# The dashboard (web/, docs/architecture.md#dashboard): npm packages are
# installed at build time into web/node_modules (never committed).
WEB_SRC := $(wildcard web/src/*) web/build.mjs web/package.json
web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	cd web && node build.mjs
web: web/dist/index.html

# Served from web/dist by the binary under test (--web-dir).
web-test: all web
	FREIGHTD_BIN=$(abspath $(BIN)/freightd) FREIGHT_BIN=$(abspath $(BIN)/freight) node --test tests/web/dashboard.test.mjs

bench: bench-deps all $(BENCH_BIN)

# redis-server for bench_vs_redis only; never part of scripts/deps.sh.
bench-deps:
	scripts/deps.sh bench

demo:
	scripts/deps.sh
	$(MAKE) all web
	scripts/demo.sh

# Every test: release unit + end-to-end, then both again under ASan and UBSan.
check:
	scripts/deps.sh
	$(MAKE) all
	$(MAKE) test
	$(MAKE) sanitize

sanitize:
	$(MAKE) SANITIZER=address test
	$(MAKE) SANITIZER=undefined test

clean:
	rm -rf build bin web/dist

-include $(LIB_OBJ:.o=.d) $(D_SRC:%.c=$(BUILD)/%.d) $(CLI_SRC:%.c=$(BUILD)/%.d) $(UNIT_BIN:=.d) $(BENCH_BIN:=.d)
