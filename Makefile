# SPDX-License-Identifier: MIT
# spyglass build. `make` builds build/spyglass; `make SAN=1` builds the same
# tree with AddressSanitizer + UndefinedBehaviorSanitizer into build-san/.
# `make demo` profiles a bundled example; `make check` installs what the tests
# need (apt-get) and runs every test.

CC      ?= cc
SAN     ?=
PYTHON  ?= /usr/bin/python3

WARN     = -std=c11 -Wall -Wextra -Werror -Wmissing-prototypes \
           -Wstrict-prototypes -Wvla -Wwrite-strings -Wformat-security \
           -Wshadow -fno-common
CPPFLAGS = -D_GNU_SOURCE -Isrc -include src/util/banned.h
CFLAGS   = -O2 -g $(WARN)
LDLIBS   = -ldw -lelf -lprotobuf-c -lsqlite3 -lcurl -lncursesw -lz -lm -lstdc++

ifeq ($(SAN),1)
BUILD    = build-san
CFLAGS  += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else
BUILD    = build
endif

LAYERS   = util target elf native python sampler profile formats store
LIB_SRC  = $(foreach d,$(LAYERS),$(wildcard src/$(d)/*.c))
CLI_SRC  = $(wildcard src/cli/*.c)
# The pprof format's messages: C that protoc-c generates into the build
# directory (never committed, never clang-formatted).
PB_OBJ   = $(BUILD)/gen/profile.pb-c.o
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o) $(PB_OBJ)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

all: $(BUILD)/spyglass

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libspyglass.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/spyglass: $(CLI_OBJ) $(BUILD)/libspyglass.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libspyglass.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libspyglass.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(BUILD)/libspyglass.a $(LDLIBS) -lcmocka

# A C program that embeds libpython, to prove embedded interpreters profile.
$(BUILD)/tests/embed: tests/embed/embed.c
	@mkdir -p $(dir $@)
	$(CC) $(shell /usr/bin/python3-config --cflags --embed) -Wall -Wextra -Werror -o $@ $< \
		$(shell /usr/bin/python3-config --ldflags --embed)

# libFuzzer targets, one per reader of untrusted bytes, each run for
# FUZZ_SECONDS on a scratch copy of its checked-in seed corpus.
FUZZ_SECONDS ?= 15
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN = $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)

build-fuzz/%: tests/fuzz/%.c $(LIB_SRC) build-fuzz/gen/profile.pb-c.c
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o $@ $< $(LIB_SRC) build-fuzz/gen/profile.pb-c.c $(LDLIBS)

fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do \
		name=$${f#build-fuzz/fuzz_}; work=build-fuzz/corpus-$$name; \
		rm -rf $$work; mkdir -p $$work; \
		cp tests/fuzz/corpus/$$name/* $$work/ 2>/dev/null || true; \
		echo "== $$f ($(FUZZ_SECONDS) s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) $$work > $$work.log 2>&1 || \
			{ tail -40 $$work.log; exit 1; }; \
		tail -1 $$work.log; \
	done

# The flame graph's script stays plain JavaScript (src/formats/flamegraph.js)
# and is compiled in as a C string literal: each line quoted, with '\', '"'
# and '?' (trigraphs) escaped.
%/gen/flamegraph_js.inc: src/formats/flamegraph.js
	@mkdir -p $(dir $@)
	sed 's/[\\"?]/\\&/g; s/^/"/; s/$$/\\n"/' $< > $@

$(BUILD)/src/formats/flamegraph.o: $(BUILD)/gen/flamegraph_js.inc
$(BUILD)/src/formats/flamegraph.o: CPPFLAGS += -I$(BUILD)/gen
$(FUZZ_BIN): build-fuzz/gen/flamegraph_js.inc
$(FUZZ_BIN): CPPFLAGS += -Ibuild-fuzz/gen

# Both files come from one protoc-c run (a pattern rule's targets are made
# together).
%/gen/profile.pb-c.c %/gen/profile.pb-c.h: proto/profile.proto
	@mkdir -p $(dir $@)
	protoc-c --proto_path=proto --c_out=$(dir $@) $<

# Not our code: our warnings are not its errors.
$(PB_OBJ): $(BUILD)/gen/profile.pb-c.c
	$(CC) -I$(BUILD)/gen $(CFLAGS) -Wno-error -c -o $@ $<

$(BUILD)/src/formats/pprof.o: $(BUILD)/gen/profile.pb-c.h
$(BUILD)/src/formats/pprof.o $(BUILD)/tests/test_pprof: CPPFLAGS += -I$(BUILD)/gen
$(FUZZ_BIN): build-fuzz/gen/profile.pb-c.h

# Performance figures live here, not in timed tests (see README, Performance).
$(BUILD)/bench_profile: bench/bench_profile.c $(BUILD)/libspyglass.a
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libspyglass.a $(LDLIBS)

$(BUILD)/bench_store: bench/bench_store.c $(BUILD)/libspyglass.a
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libspyglass.a $(LDLIBS)

bench: bench-deps $(BUILD)/spyglass $(BUILD)/bench_profile $(BUILD)/bench_store
	$(BUILD)/bench_profile $(BUILD)/spyglass
	$(BUILD)/spyglass record --mode wall -r 19 -d 10 -o $(BUILD)/bench-window.pb.gz -- \
		$(PYTHON) tests/workloads/threads.py 12
	$(BUILD)/bench_store $(BUILD)/bench-window.pb.gz
	$(PYTHON) bench/bench_agent.py --spyglass $(BUILD)/spyglass
	$(PYTHON) bench/bench_convert.py --spyglass $(BUILD)/spyglass
	$(PYTHON) bench/bench.py --spyglass $(BUILD)/spyglass
	$(PYTHON) bench/bench_native.py --spyglass $(BUILD)/spyglass
	$(PYTHON) bench/bench_native_python.py --spyglass $(BUILD)/spyglass
	$(PYTHON) bench/bench_pyclock.py --spyglass $(BUILD)/spyglass
	$(PYTHON) bench/bench_heap.py --spyglass $(BUILD)/spyglass
	$(PYTHON) bench/bench_memory.py --spyglass $(BUILD)/spyglass

# The example is a small job with a hot spot and a slow wait: wall mode
# shows both (README, Start here).
demo: build-deps
	$(MAKE) $(BUILD)/spyglass
	$(BUILD)/spyglass record --mode wall -o demo.pb.gz -- $(PYTHON) examples/demo_app.py
	$(BUILD)/spyglass convert demo.pb.gz -o demo.svg
	@echo "wrote demo.pb.gz (pprof: go tool pprof -top demo.pb.gz) and demo.svg (open in a browser)"

build-deps:
	tools/install-deps.sh build

# perf itself, which bench_native.py measures spyglass against.
bench-deps:
	tools/install-deps.sh bench

deps:
	tools/install-deps.sh

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

layering:
	tools/check-layering.sh

format-check:
	clang-format --dry-run --Werror $(shell git ls-files '*.c' '*.h')

integration: $(BUILD)/spyglass $(BUILD)/tests/embed
	SPYGLASS=$(CURDIR)/$(BUILD)/spyglass SPYGLASS_EMBED=$(CURDIR)/$(BUILD)/tests/embed \
		$(PYTHON) -m pytest -q -rs tests/integration

# The full suite: release build, layering, unit tests under both builds,
# and the end-to-end tests against the sanitizer build.
check: deps
	$(MAKE) all unit
	$(MAKE) SAN=1 all unit integration
	$(MAKE) fuzz layering format-check

clean:
	rm -rf build build-san build-fuzz demo.pb.gz demo.svg

.PHONY: all bench bench-deps build-deps demo deps unit fuzz layering format-check integration check clean

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
