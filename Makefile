# netc — one Makefile for the compiler, the runtime, tests, demo and benches.
#
#   make            build build/netc
#   make demo       the main job (see README.md)
#   make test       every test
#   make asan       the whole test suite under AddressSanitizer + UBSan
#   make fuzz       libFuzzer targets (clang), seeded from examples/ and tests/
#   make bench      benchmarks: netc bench and netc vs PyTorch (docs/performance.md)
#   make CC=clang   the same with clang

CC      ?= cc
BUILD   ?= build
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CSTD     = -std=c11 -D_POSIX_C_SOURCE=200809L
OPT     ?= -O2 -g
CFLAGS  += $(CSTD) $(WARN) $(OPT) $(SANFLAGS)
CPPFLAGS = -Icompiler -Iruntime -I$(BUILD)
LDLIBS   = -lz -lm
TEST_LDLIBS = -lsleef $(LDLIBS)  # nnrt_vmath's SLEEF build

all: $(BUILD)/netc

# --- dependencies: installed by scripts/install-deps.sh when missing ----------
DEPS_STAMP = $(BUILD)/.deps-ok
$(DEPS_STAMP): scripts/install-deps.sh
	@mkdir -p $(BUILD)
	@bash scripts/install-deps.sh
	@touch $@

# --- sources ------------------------------------------------------------------
COMPILER_SRCS = $(filter-out compiler/main.c,$(wildcard compiler/*.c))
RUNTIME_SRCS  = $(wildcard runtime/*.c)
GEN_SRCS      = $(BUILD)/net.tab.c $(BUILD)/net.lex.c

COMPILER_OBJS = $(COMPILER_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/net.tab.o $(BUILD)/net.lex.o $(BUILD)/runtime_blob.o
RUNTIME_OBJS  = $(RUNTIME_SRCS:%.c=$(BUILD)/%.o)
HEADERS       = $(wildcard compiler/*.h compiler/*.def runtime/*.h) $(BUILD)/net.tab.h

.PHONY: all demo test check asan fuzz bench clean unit-tests error-tests reference-tests gradcheck-tests e2e-tests

$(BUILD)/net.tab.c $(BUILD)/net.tab.h: grammar/net.y $(DEPS_STAMP)
	@mkdir -p $(BUILD)
	bison -Wall -Werror --defines=$(BUILD)/net.tab.h -o $(BUILD)/net.tab.c $<

$(BUILD)/net.lex.c $(BUILD)/net.lex.h: grammar/net.l $(BUILD)/net.tab.h
	flex --header-file=$(BUILD)/net.lex.h -o $(BUILD)/net.lex.c $<

RUNTIME_FILES = $(sort $(wildcard runtime/*.c runtime/*.h))
$(BUILD)/runtime_blob.c: $(RUNTIME_FILES) scripts/embed-runtime.sh
	@mkdir -p $(BUILD)
	bash scripts/embed-runtime.sh $@ $(RUNTIME_FILES)

# Generated scanners and parsers are not held to our warning set.
$(BUILD)/net.tab.o $(BUILD)/net.lex.o $(BUILD)/runtime_blob.o: %.o: %.c $(HEADERS) $(BUILD)/net.lex.h
	$(CC) $(CSTD) $(OPT) $(SANFLAGS) $(CPPFLAGS) -Wno-unused-function -c -o $@ $<

$(BUILD)/%.o: %.c $(HEADERS) $(BUILD)/net.lex.h $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

$(BUILD)/libnetc.a: $(COMPILER_OBJS)
	ar rcs $@ $^
$(BUILD)/libnnrt.a: $(RUNTIME_OBJS)
	ar rcs $@ $^

$(BUILD)/netc: $(BUILD)/compiler/main.o $(BUILD)/libnetc.a $(BUILD)/libnnrt.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# --- tests --------------------------------------------------------------------
UNIT_SRCS  = $(wildcard tests/unit/test_*.c)
UNIT_BINS  = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# nnrt_vmath's other builds: SLEEF on 8 lanes (AVX2 machines only) and libm.
VMATH_VARIANTS = $(BUILD)/tests/test_rt_vmath_avx2 $(BUILD)/tests/test_rt_vmath_libm
UNIT_BINS += $(VMATH_VARIANTS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libnetc.a $(BUILD)/libnnrt.a $(HEADERS) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -Wno-missing-prototypes -o $@ $< $(BUILD)/libnetc.a $(BUILD)/libnnrt.a -lcmocka $(TEST_LDLIBS)

# The test and nnrt_vmath.c compiled together with the variant's flags.
$(BUILD)/tests/test_rt_vmath_avx2: VMATH_FLAGS = -mavx2 -mfma
$(BUILD)/tests/test_rt_vmath_libm: VMATH_FLAGS = -DNNRT_LIBM
$(VMATH_VARIANTS): tests/unit/test_rt_vmath.c runtime/nnrt_vmath.c runtime/nnrt_vmath.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) $(VMATH_FLAGS) -Wno-missing-prototypes -o $@ tests/unit/test_rt_vmath.c runtime/nnrt_vmath.c \
	    -lcmocka $(TEST_LDLIBS)

$(BUILD)/tests/npycmp: tests/tools/npycmp.c $(BUILD)/libnnrt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $< $(BUILD)/libnnrt.a $(LDLIBS)

reference-tests: all $(BUILD)/tests/npycmp
	@CC="$(CC)" SANFLAGS="$(SANFLAGS)" bash tests/reference/run.sh $(BUILD)
	@CC="$(CC)" SANFLAGS="$(SANFLAGS)" bash tests/reference/train_run.sh $(BUILD)

gradcheck-tests: all
	@CC="$(CC)" SANFLAGS="$(SANFLAGS)" bash tests/gradcheck/run.sh $(BUILD)

e2e-tests: all $(BUILD)/tests/npycmp
	@CC="$(CC)" SANFLAGS="$(SANFLAGS)" bash tests/e2e/run.sh $(BUILD)

unit-tests: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

error-tests: $(BUILD)/netc
	@bash tests/errors/run.sh $(BUILD)/netc

# Every suite once; `make test` runs it plainly and then under the sanitizers.
check: all unit-tests error-tests reference-tests gradcheck-tests e2e-tests
	@echo "all suites passed ($(BUILD))"

test: check
	@$(MAKE) --no-print-directory asan

asan:
	$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" check

demo: all
	@bash scripts/demo.sh $(BUILD)

fuzz: all
	@bash fuzz/run.sh

bench: all
	bash bench/run.sh $(BUILD)

clean:
	rm -rf build
