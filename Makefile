# llmnas — build, test, bench and lint.
#
#   make deps                 install the Debian packages the project and its tests need
#   make                      build ./llmnas
#   make test [TEST=name]     build and run every test (or those whose file name contains name)
#   make mutants [MUTANT=name] apply each deliberate bug of tests/mutants/mutants.txt to a scratch
#                             copy, and check that its suites catch it
#   make SANITIZER=address test   (or =undefined: build-address/, build-undefined/ beside build/)
#   make soak                 2,000 iterations of paper.lua (under faults) and evolve.lua, killed
#                             and resumed, readers running: RSS, prompt tokens, records lost
#   make bench                benchmarks: figures and ratios against references run side by side
#   make check                linters: cppcheck on C, luacheck on Lua
#   make demo                 the main job on its embedded defaults
#
# Sources are found by wildcard: runtime/*/*.c (one folder per subsystem: base, graph,
# llm, train, worker) and memory/*.c are Lua-free libraries; lua/*/*.c is the Lua side
# (host, bind, sandbox, cli); stdlib/**/*.lua is embedded in the binary. Includes name
# the subsystem: #include "graph/graph.h", "sandbox/sandbox.h", "store.h" (memory/).
# Tests: tests/c/test_*.c (cmocka, one binary each), tests/lua/test_*.lua (run inside
# llmnas), tests/sh/test_*.sh (the command line end to end). tests/run.sh runs them all.

VERSION   := 0.1.0
comma     := ,
CC        ?= cc
SANITIZER ?=
BUILD     := build$(if $(SANITIZER),-$(SANITIZER))

WARN      := -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
             -Wmissing-prototypes -Wno-unused-parameter -Wformat=2 -Wvla
ifeq ($(CI),true)
WARN      += -Werror
endif
OPT       ?= -O2
CFLAGS    ?= $(OPT) -g
# UndefinedBehaviorSanitizer only reports and goes on by default: stop at the first finding
# so that a test fails on it (AddressSanitizer stops on its own). run.sh also fails a suite
# on any sanitizer report one of its processes wrote (a worker's, a failing command's).
SANFLAGS  := $(if $(SANITIZER),-fsanitize=$(SANITIZER) -fno-omit-frame-pointer \
             $(if $(filter undefined,$(subst $(comma), ,$(SANITIZER))),-fno-sanitize-recover=undefined))
ALLCFLAGS := -std=c11 -D_GNU_SOURCE -DLLMNAS_VERSION='"$(VERSION)"' $(WARN) $(CFLAGS) \
             $(SANFLAGS) -fopenmp -MMD -MP \
             -Iruntime -Imemory -Ilua -I/usr/include/lua5.4 -I$(BUILD)
LDLIBS    := -llua5.4 -lcurl -lcjson -llmdb -ldnnl -lcrypto -lz -lm -lpthread
LDFLAGS   += $(SANFLAGS) -fopenmp
LDLIBS    += -lgvc -lcgraph -lmicrohttpd   # report: libgvc draws the best network; serve: libmicrohttpd
ALLCFLAGS += -I/usr/include/graphviz   # report_graph.c: #include <graphviz/gvc.h> finds its own headers

RT_SRC    := $(wildcard runtime/*/*.c)
MEM_SRC   := $(wildcard memory/*.c)
LUA_SRC   := $(filter-out lua/tools/%,$(wildcard lua/*/*.c))
STDLIB    := $(shell find stdlib -name '*.lua' | sort)
RT_OBJ    := $(RT_SRC:%.c=$(BUILD)/%.o)
MEM_OBJ   := $(MEM_SRC:%.c=$(BUILD)/%.o)
LUA_OBJ   := $(LUA_SRC:%.c=$(BUILD)/%.o) $(BUILD)/stdlib_embed.o
LIBRT     := $(BUILD)/libllmnas_rt.a
LIBMEM    := $(BUILD)/libllmnas_mem.a
BIN       := $(BUILD)/llmnas

CTEST_SRC := $(wildcard tests/c/test_*.c)
CTEST_AUX := $(filter-out tests/c/test_%,$(wildcard tests/c/*.c))
CTESTS    := $(CTEST_SRC:tests/c/%.c=$(BUILD)/tests/%)
CBENCH_SRC:= $(wildcard tests/bench/bench_*.c)
CBENCHES  := $(CBENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

DEPS      := gcc make pkg-config liblua5.4-dev libcurl4-openssl-dev libcjson-dev liblmdb-dev \
             lmdb-utils libdnnl-dev libssl-dev zlib1g-dev dataset-fashion-mnist libcmocka-dev lua-check \
             cppcheck python3 python3-torch python3-numpy procps psmisc
DEPS      += libopenmpi-dev openmpi-bin   # mpirun -n N llmnas run: evaluator ranks (issue 11); the plugin build/llmnas_mpi.so
DEPS += clang-tidy   # make check: the C checks of .clang-tidy
DEPS += gnuplot-nox   # llmnas plot and the report's figures: gnuplot's cairo (png, pdf) and svg terminals
DEPS += graphviz libgraphviz-dev   # the report draws the best network as a DAG with libgvc
DEPS += libmicrohttpd-dev   # llmnas serve: the live view's HTTP server
DEPS += curl   # the serve tests fetch its pages over loopback
DEPS += chromium   # the report's tests load it in headless chromium
DEPS      += libpng-dev libjpeg62-turbo-dev python3-pil   # image folders: PNG/JPEG decoding; tests write real files
DEPS      += protobuf-c-compiler libprotobuf-c-dev libonnx-dev python3-onnx   # saved models: ONNX from Debian's onnx.proto; its checker
LDLIBS    += -lpng16 -ljpeg -lprotobuf-c   # image folders, ONNX
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps test bench check demo clean
all: $(BIN) llmnas

llmnas: $(BIN)
	@[ -n "$(SANITIZER)" ] || ln -sf $(BIN) llmnas

$(BIN): $(LUA_OBJ) $(LIBRT) $(LIBMEM)
	$(CC) $(LDFLAGS) -o $@ $(LUA_OBJ) $(LIBMEM) $(LIBRT) $(LDLIBS)

$(LIBRT): $(RT_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^
$(LIBMEM): $(MEM_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

# The stdlib is compiled into the binary: a build-time tool turns the .lua files into C.
$(BUILD)/embed: lua/tools/embed.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -O1 -Wall -Wextra $(if $(filter true,$(CI)),-Werror) -o $@ $<
$(BUILD)/stdlib_embed.c: $(BUILD)/embed $(STDLIB)
	$(BUILD)/embed stdlib $(STDLIB) > $@.tmp && mv $@.tmp $@
$(BUILD)/stdlib_embed.o: $(BUILD)/stdlib_embed.c
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/c/%.c $(CTEST_AUX) $(LIBMEM) $(LIBRT)
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -Itests/c -o $@ $< $(CTEST_AUX) $(LIBMEM) $(LIBRT) $(LDFLAGS) -lcmocka $(LDLIBS)
# clang-tidy reads the generated ONNX header like the compiler does.
check: $(BUILD)/onnx/onnx.pb-c.h

# memory/ stands alone: compiled without runtime/ or lua/ on the include path, and
# its test binary links libllmnas_mem.a and its libraries only (no libllmnas_rt.a),
# so a call from memory/ into runtime/ fails the build.
MEMCFLAGS := $(filter-out -Iruntime -Ilua -I/usr/include/lua5.4,$(ALLCFLAGS))
$(BUILD)/memory/%.o: memory/%.c
	@mkdir -p $(@D)
	$(CC) $(MEMCFLAGS) -c -o $@ $<
$(BUILD)/tests/test_memory: tests/c/test_memory.c $(LIBMEM)
	@mkdir -p $(@D)
	$(CC) $(MEMCFLAGS) -o $@ $< $(LIBMEM) $(LDFLAGS) -lcmocka -lcjson -llmdb -lz -lpthread
$(BUILD)/bench/%: tests/bench/%.c $(LIBMEM) $(LIBRT)
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -o $@ $< $(LIBMEM) $(LIBRT) $(LDFLAGS) $(LDLIBS)

# MPI (issue 11): the plugin that `mpirun -n N llmnas run` loads (runtime/mpi/mpi_api.h).
# llmnas never links MPI; the plugin is built when Open MPI's headers are installed.
MPI_PLUGIN := $(if $(shell pkg-config --exists ompi-c 2>/dev/null && echo y),$(BUILD)/llmnas_mpi.so)
all: $(MPI_PLUGIN)
test bench: $(MPI_PLUGIN)   # test_mpi and bench_mpi load it beside the binary
$(BUILD)/llmnas_mpi.so: runtime/mpi/plugin/llmnas_mpi.c runtime/mpi/mpi_api.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC -shared -Iruntime \
	  $$(pkg-config --cflags ompi-c) -o $@ $< $$(pkg-config --libs ompi-c)
# ONNX: C for Debian's onnx.proto, generated at build time by protoc-c (protobuf-c-compiler).
ONNX_PROTO := /usr/include/onnx/onnx.proto
$(BUILD)/onnx/onnx.pb-c.c: $(ONNX_PROTO)
	@mkdir -p $(@D)
	protoc-c --c_out=$(@D) -I$(dir $(ONNX_PROTO)) $(ONNX_PROTO)
$(BUILD)/onnx/onnx.pb-c.h: $(BUILD)/onnx/onnx.pb-c.c ;
$(BUILD)/onnx/onnx.pb-c.o: $(BUILD)/onnx/onnx.pb-c.c
	$(CC) -std=c11 $(OPT) $(SANFLAGS) -I$(BUILD)/onnx -c -o $@ $<
$(BUILD)/runtime/train/model_onnx.o: $(BUILD)/onnx/onnx.pb-c.h
$(LIBRT): $(BUILD)/onnx/onnx.pb-c.o

deps:
	@missing=$$(for p in $(DEPS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing" $$missing; \
	  { $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing \
	      >/tmp/llmnas-deps.log 2>&1; } || \
	  { echo "make deps: apt-get could not install:" $$missing >&2; \
	    echo "make deps: see /tmp/llmnas-deps.log; needs Debian 12 and root or sudo" >&2; \
	    tail -5 /tmp/llmnas-deps.log >&2; exit 1; }; \
	fi

# Under ASan, libraries' own never-freed memory (Open MPI in the MPI ranks, fontconfig
# under Graphviz) is not reported (tests/lsan.supp says which frames; llmnas's still are).
ASANENV   := $(if $(filter address,$(subst $(comma), ,$(SANITIZER))),\
             LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp))
# a UBSan report names the calls that led there (UBSan prints the bare line by default)
ASANENV   += $(if $(filter undefined,$(subst $(comma), ,$(SANITIZER))),\
             UBSAN_OPTIONS=print_stacktrace=1)
# A sanitized build runs slower: ASan about 3.2x the plain suite; UBSan more in the training
# suites (c/test_train_ops 703 s, against 85 under ASan and 11 plain, all at load 8): run.sh's
# per-suite limit (20 min) scales to 80 min rather than a slow suite being skipped or cut.
SANTIME   := $(if $(SANITIZER),LLMNAS_SUITE_TIMEOUT=$${LLMNAS_SUITE_TIMEOUT:-4800})
test: $(BIN) llmnas $(CTESTS)
	@$(ASANENV) $(SANTIME) BUILD=$(BUILD) LLMNAS=$(abspath $(BIN)) sh tests/run.sh $(TEST)

# Deliberate bugs (tests/mutants/mutants.txt), each applied to a scratch copy of the tree and
# checked to be caught by its suites; not part of `make test` (26 min on the shared two-core
# machine at load 33, its first run).
.PHONY: mutants
mutants: $(BIN) llmnas $(CTESTS)
	@/usr/bin/python3 tests/mutants/run.py $(MUTANT)

# The soak (tests/soak/soak.sh, issue 18): not part of `make test`, which runs its short
# form (tests/sh/test_soak.sh). SOAK_ITERATIONS=N for another length.
.PHONY: soak
soak: $(BIN) llmnas
	@LLMNAS=$(abspath $(BIN)) nice -n 10 sh tests/soak/soak.sh $(or $(SOAK_ITERATIONS),2000)

bench: $(BIN) llmnas $(CBENCHES)
	@BUILD=$(BUILD) LLMNAS=$(abspath $(BIN)) sh tests/bench/run.sh $(BENCH)

check:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I runtime -I memory -I lua \
	  runtime memory lua
	luacheck --quiet --no-color stdlib examples tests/lua
	clang-tidy --quiet $(RT_SRC) $(MEM_SRC) $(LUA_SRC) -- -std=c11 -D_GNU_SOURCE \
	  -DLLMNAS_VERSION='"$(VERSION)"' -Iruntime -Imemory -Ilua -I/usr/include/lua5.4 -I$(BUILD) -fopenmp

demo: $(BIN) llmnas
	./llmnas run examples/evolve.lua

clean:
	rm -rf build build-* llmnas

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
