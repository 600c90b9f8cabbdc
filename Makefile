# trellis - build the library, the two command-line binaries and the tests.
#
#   make            bin/trellis (float32), bin/trellis-f64 (float64),
#                   lib/libtrellis.a, lib/libtrellis-f64.a
#   make check      unit and command-line tests, double and single precision,
#                   built with AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench      benchmarks (optimised build; see bench/README.md)
#   make format     clang-format every C file;  make lint: clang-format + cppcheck

CC      ?= cc
OPT     ?= -O3 -march=x86-64-v2 -g
DEPS    := jansson openblas
PKG_CFLAGS := $(shell pkg-config --cflags $(DEPS))
PKG_LIBS   := $(shell pkg-config --libs $(DEPS))
CHECK_LIBS := $(shell pkg-config --libs check)
WARN    := -Wall -Wextra -Werror -Wshadow -Wvla -Wstrict-prototypes
CFLAGS_COMMON := -std=c11 -D_POSIX_C_SOURCE=200809L -ffp-contract=off $(WARN) -I. -Iinclude \
                 $(PKG_CFLAGS) -MMD -MP
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDLIBS  := $(PKG_LIBS) -lm

# The layers, bottom first: a file includes headers of its own folder and of
# the folders before it only (make layers checks it).
LIB_DIRS := core ops graph io kernels engines tasks train study
LAYERS   := $(LIB_DIRS) api tools
LIB_SRC  := $(sort $(wildcard $(addsuffix /*.c,$(LIB_DIRS))))
CLI_SRC  := $(sort $(wildcard tools/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_LIB := $(sort $(wildcard tests/support/*.c))

# $(call objs,VARIANT,SOURCES)
objs = $(patsubst %.c,build/$(1)/%.o,$(2))

VARIANTS := f32 f64 san-f32 san-f64
FLAGS_f32     := $(OPT)
FLAGS_f64     := $(OPT) -DTRL_F64
FLAGS_san-f32 := -O1 -g $(SAN)
FLAGS_san-f64 := -O1 -g $(SAN) -DTRL_F64

all: bin/trellis bin/trellis-f64 lib/libtrellis.a lib/libtrellis-f64.a

define variant
build/$(1)/%.o: %.c
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS_COMMON) $$(FLAGS_$(1)) $$(CFLAGS) -c $$< -o $$@
build/$(1)/libtrellis.a: $$(call objs,$(1),$$(LIB_SRC))
	@rm -f $$@
	ar rcs $$@ $$^
build/$(1)/trellis: $$(call objs,$(1),$$(CLI_SRC)) build/$(1)/libtrellis.a
	$$(CC) $$(FLAGS_$(1)) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
build/$(1)/tests/%: build/$(1)/tests/%.o $$(call objs,$(1),$$(TEST_LIB)) build/$(1)/libtrellis.a
	$$(CC) $$(FLAGS_$(1)) $$(LDFLAGS) -o $$@ $$^ $$(CHECK_LIBS) $$(LDLIBS)
-include $$(shell find build/$(1) -name '*.d' 2>/dev/null)
endef
$(foreach v,$(VARIANTS),$(eval $(call variant,$(v))))

bin/trellis: build/f32/trellis
	@mkdir -p bin && cp $< $@.tmp && mv -f $@.tmp $@
bin/trellis-f64: build/f64/trellis
	@mkdir -p bin && cp $< $@.tmp && mv -f $@.tmp $@
lib/libtrellis.a: build/f32/libtrellis.a
	@mkdir -p lib && cp $< $@.tmp && mv -f $@.tmp $@
lib/libtrellis-f64.a: build/f64/libtrellis.a
	@mkdir -p lib && cp $< $@.tmp && mv -f $@.tmp $@

TESTS_f64 := $(patsubst tests/%.c,build/san-f64/tests/%,$(TEST_SRC))
TESTS_f32 := $(patsubst tests/%.c,build/san-f32/tests/%,$(TEST_SRC))

# Every test binary runs from the top folder; TRELLIS_BIN names the CLI under test.
check: lint $(TESTS_f64) $(TESTS_f32) build/san-f64/trellis build/san-f32/trellis all
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  tests/run_tests.sh build/san-f64 $(TESTS_f64) -- build/san-f32 $(TESTS_f32)

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) $(TEST_LIB) $(wildcard */*.h include/*.h tests/support/*.h)

lint:
	clang-format --dry-run -Werror $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) $(TEST_LIB) $(wildcard */*.h include/*.h tests/support/*.h)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --std=c11 -I. -Iinclude $(LIB_SRC) $(CLI_SRC)

layers:
	@tests/check_layers.sh $(LAYERS)

clean:
	rm -rf build bin lib

# The benchmark table (bench/README.md): pass options in BENCH_ARGS, e.g.
# make bench BENCH_ARGS="--only lsnn --repeat 3" or BENCH_ARGS=--memory.
bench: bin/trellis
	python3 bench/run_bench.py $(BENCH_ARGS)

.PHONY: all check format lint layers clean bench
.SECONDARY:
