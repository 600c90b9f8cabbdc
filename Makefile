# trellis - build the library, the two command-line binaries and the tests.
#
#   make            bin/trellis (float32), bin/trellis-f64 (float64), and the
#                   library: lib/libtrellis.so.0, lib/libtrellis.a (float32),
#                   lib/libtrellis-f64.so.0, lib/libtrellis-f64.a (float64)
#   make install    PREFIX=/usr/local (and DESTDIR): header, libraries,
#                   pkg-config files, binaries, the Python package (PYTHONDIR)
#   make python-test  the Python package's tests (pytest, with PYTHON)
#   make check      unit and command-line tests, double and single precision,
#                   built with AddressSanitizer + UndefinedBehaviorSanitizer
#   make test T=graph  builds and runs one suite (tests/test_graph.c) the same
#                   way, in both precisions (PREC=f64 or PREC=f32: one)
#   make bench      benchmarks (optimised build; see bench/README.md); results in
#                   build/bench/, SAVE=1: the tracked bench/results*.json;
#                   PEER=DIR: the PyTorch peer's folder (default ../shared/bench)
#   make format     clang-format every C file;  make lint: clang-format + cppcheck
#
# MPI (SPEC section 10): when mpicc is found (Open MPI: apt-get install
# libopenmpi-dev openmpi-bin), tools/mpi.c is compiled with it and the
# trellis binaries are linked with it, so that `mpirun -np R bin/trellis
# train ...` trains data-parallel; `make MPI=0` (or no mpicc) builds
# tools/mpi_none.c instead: no MPI, the binaries as before. The library
# never depends on MPI.
#
# HDF5 (the SHD reader, SPEC section 11): only the module
# lib/libtrellis-hdf5.so.0 (io/shd_hdf5.c) links libhdf5, which pulls ~35
# libraries; the library loads the module on the first SHD call
# (io/hdf5_module.h), so no other process loads them. Without libhdf5
# (pkg-config hdf5), the module and tests/test_shd.c are not built.

CC      ?= cc
OPT     ?= -O3 -march=x86-64-v2 -g
DEPS    := jansson openblas
PKG_CFLAGS := $(shell pkg-config --cflags $(DEPS))
PKG_LIBS   := $(shell pkg-config --libs $(DEPS))
HDF5_CFLAGS := $(shell pkg-config --cflags hdf5 2>/dev/null)
HDF5_LIBS   := $(shell pkg-config --libs hdf5 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check)
WARN    := -Wall -Wextra -Werror -Wshadow -Wvla -Wstrict-prototypes
CFLAGS_COMMON := -std=c11 -D_POSIX_C_SOURCE=200809L -ffp-contract=off $(WARN) -I. -Iinclude \
                 $(PKG_CFLAGS) -MMD -MP
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDLIBS  := $(PKG_LIBS) -lm -lpthread -ldl
# Library objects: position-independent (they go into the shared library as
# well), every symbol hidden but the public API's (TRL_API in trellis.h).
LIB_CFLAGS := -fPIC -fvisibility=hidden -DTRL_BUILDING_LIBRARY

VERSION := $(shell sed -n 's/^\#define TRL_VERSION_STRING "\(.*\)"/\1/p' include/trellis.h)
SOMAJOR := $(shell sed -n 's/^\#define TRL_VERSION_MAJOR *\([0-9]*\)/\1/p' include/trellis.h)

# The layers, bottom first: a file includes headers of its own folder and of
# the folders before it only (make layers checks it).
LIB_DIRS := core ops graph io kernels engines tasks train study api
LAYERS   := $(LIB_DIRS) tools
MOD_SRC  := io/shd_hdf5.c
LIB_SRC  := $(sort $(filter-out $(MOD_SRC),$(wildcard $(addsuffix /*.c,$(LIB_DIRS)))))
H5M_SONAME := $(shell sed -n 's/^\#define H5M_SONAME *"\(.*\)"/\1/p' io/hdf5_module.h)
MODULE   := $(if $(HDF5_LIBS),lib/$(H5M_SONAME))
# MPI=0: without MPI even where mpicc is; MPI=1: with it, or stop saying why.
MPICC   ?= $(if $(filter 0,$(MPI)),,$(shell command -v mpicc 2>/dev/null))
ifeq ($(MPI)$(MPICC),1)
$(error MPI=1 needs mpicc (apt-get install libopenmpi-dev openmpi-bin))
endif
MPI_SRC := $(if $(MPICC),tools/mpi.c,tools/mpi_none.c)
CLI_SRC  := $(sort $(filter-out tools/mpi.c tools/mpi_none.c,$(wildcard tools/*.c)) $(MPI_SRC))
CLI_LD   := $(if $(MPICC),$(MPICC),$(CC))
TEST_SRC := $(sort $(filter-out $(if $(HDF5_LIBS),,tests/test_shd.c),$(wildcard tests/test_*.c)))
TEST_LIB := $(sort $(wildcard tests/support/*.c))

# $(call objs,VARIANT,SOURCES)
objs = $(patsubst %.c,build/$(1)/%.o,$(2))

# make V=1 prints every command in full.
Q := $(if $(V),,@)
VARIANTS := f32 f64 san-f32 san-f64
FLAGS_f32     := $(OPT)
FLAGS_f64     := $(OPT) -DTRL_F64
FLAGS_san-f32 := -O1 -g $(SAN)
FLAGS_san-f64 := -O1 -g $(SAN) -DTRL_F64

LIBS := lib/libtrellis.so.$(SOMAJOR) lib/libtrellis.a lib/libtrellis-f64.so.$(SOMAJOR) \
        lib/libtrellis-f64.a
all: bin/trellis bin/trellis-f64 $(LIBS) lib/libtrellis.so lib/libtrellis-f64.so $(MODULE)

# Per variant:
#   libtrellis-internal.a  every object as it is: the unit tests reach inside
#   libtrellis.a           one object whose only global symbols are the public
#                          API's (a relocatable link, every other symbol made
#                          local: -fvisibility=hidden misses target_clones'),
#                          so that a program linking it sees nothing else
#   libtrellis.so.N        the shared library, exporting the public API only
#   trellis                the command-line tool, a client of libtrellis.a
#                          (static: it runs from the build tree and after
#                          install without a loader path, and it calls the
#                          library without the indirection of the PLT)
# XCFLAGS / XLIBS: a file's or a test's own (tests/test_shd.c writes HDF5).
define variant
build/$(1)/%.o: %.c
	@mkdir -p $$(@D)
	@$$(if $$(V),,echo "  CC [$(1)] $$<";)
	$$(Q)$$(CC) $$(CFLAGS_COMMON) $$(FLAGS_$(1)) $$(if $$(filter $$(LIB_DIRS),$$(firstword $$(subst /, ,$$<))),$$(LIB_CFLAGS)) $$(XCFLAGS) $$(CFLAGS) -c $$< -o $$@
build/$(1)/libtrellis-internal.a: $$(call objs,$(1),$$(LIB_SRC))
	@rm -f $$@
	ar rcs $$@ $$^
build/$(1)/libtrellis.o: $$(call objs,$(1),$$(LIB_SRC))
	$$(LD) -r -o $$@.tmp $$^
	objcopy --wildcard --keep-global-symbol='trl_*' $$@.tmp $$@ && rm -f $$@.tmp
build/$(1)/libtrellis.a: build/$(1)/libtrellis.o
	@rm -f $$@
	ar rcs $$@ $$^
build/$(1)/libtrellis.so: $$(call objs,$(1),$$(LIB_SRC)) api/exports.map
	$$(CC) $$(FLAGS_$(1)) $$(LDFLAGS) -shared -Wl,-soname,$$(SONAME_$(1)) -Wl,--no-undefined \
	  -Wl,--version-script=api/exports.map -o $$@ $$(filter %.o,$$^) $$(LDLIBS)
build/$(1)/tools/mpi.o: tools/mpi.c
	@mkdir -p $$(@D)
	@$$(if $$(V),,echo "  MPICC [$(1)] $$<";)
	$$(Q)$$(MPICC) $$(CFLAGS_COMMON) $$(FLAGS_$(1)) $$(CFLAGS) -c $$< -o $$@
build/$(1)/trellis: $$(call objs,$(1),$$(CLI_SRC)) build/$(1)/libtrellis.a
	$$(CLI_LD) $$(FLAGS_$(1)) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
build/$(1)/tests/%: build/$(1)/tests/%.o $$(call objs,$(1),$$(TEST_LIB)) build/$(1)/libtrellis-internal.a
	$$(CC) $$(FLAGS_$(1)) $$(LDFLAGS) -o $$@ $$^ $$(CHECK_LIBS) $$(XLIBS) $$(LDLIBS)
-include $$(shell find build/$(1) -name '*.d' 2>/dev/null)
endef
SONAME_f32 := libtrellis.so.$(SOMAJOR)
SONAME_f64 := libtrellis-f64.so.$(SOMAJOR)
$(foreach v,$(VARIANTS),$(eval $(call variant,$(v))))
build/%/tests/test_shd.o: XCFLAGS = $(HDF5_CFLAGS)
build/%/tests/test_shd: XLIBS = $(HDF5_LIBS)

# The HDF5 module: one build for both precisions, exporting only trl_ names.
build/mod/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(V),,echo "  CC [mod] $<";)
	$(Q)$(CC) $(CFLAGS_COMMON) $(OPT) $(LIB_CFLAGS) $(HDF5_CFLAGS) $(CFLAGS) -c $< -o $@
build/mod/$(H5M_SONAME): $(call objs,mod,$(MOD_SRC)) api/exports.map
	$(CC) $(OPT) $(LDFLAGS) -shared -Wl,-soname,$(H5M_SONAME) -Wl,--no-undefined \
	  -Wl,--version-script=api/exports.map -o $@ $(filter %.o,$^) $(HDF5_LIBS)
-include $(shell find build/mod -name '*.d' 2>/dev/null)

# $(call publish,FROM,TO): copy atomically
publish = @mkdir -p $(dir $(2)) && cp $(1) $(2).tmp && mv -f $(2).tmp $(2)
bin/trellis: build/f32/trellis
	$(call publish,$<,$@)
bin/trellis-f64: build/f64/trellis
	$(call publish,$<,$@)
lib/libtrellis.a: build/f32/libtrellis.a
	$(call publish,$<,$@)
lib/libtrellis-f64.a: build/f64/libtrellis.a
	$(call publish,$<,$@)
lib/libtrellis.so.$(SOMAJOR): build/f32/libtrellis.so
	$(call publish,$<,$@)
lib/libtrellis-f64.so.$(SOMAJOR): build/f64/libtrellis.so
	$(call publish,$<,$@)
lib/$(H5M_SONAME): build/mod/$(H5M_SONAME)
	$(call publish,$<,$@)
lib/%.so: lib/%.so.$(SOMAJOR)
	ln -sf $(notdir $<) $@

# make install PREFIX=DIR [DESTDIR=STAGING]
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
DEST    := $(DESTDIR)$(PREFIX)
DESTLIB := $(DESTDIR)$(LIBDIR)
# $(call pc,NAME,LIB,CFLAGS): a pkg-config file
pc = printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$${prefix}/include' '' \
       'Name: $(1)' 'Description: recurrent networks as JSON graphs, trained with BPTT, RTRL or deep e-prop ($(4))' \
       'Version: $(VERSION)' 'Requires.private: $(DEPS)' 'Cflags: -I$${includedir}$(3)' \
       'Libs: -L$${libdir} -l$(2)' 'Libs.private: -lm -lpthread -ldl'
# The Python package (SPEC section 9) goes to PYTHONDIR/trellis, with
# _installed.py naming LIBDIR, where it finds the libraries. The default is
# on Debian python3's path for PREFIX=/usr/local; elsewhere set PYTHONPATH.
PYTHONDIR ?= $(LIBDIR)/python3/dist-packages
PY_SRC := $(sort $(wildcard python/trellis/*.py))
install: all
	install -d $(DEST)/include $(DEST)/bin $(DESTLIB)/pkgconfig $(DESTDIR)$(PYTHONDIR)/trellis
	install -m 644 $(PY_SRC) $(DESTDIR)$(PYTHONDIR)/trellis/
	printf '%s\n' '"""Written by make install: where the libraries are."""' \
	  'LIBDIR = "$(LIBDIR)"' > $(DESTDIR)$(PYTHONDIR)/trellis/_installed.py
	install -m 644 include/trellis.h $(DEST)/include/trellis.h
	install -m 755 bin/trellis bin/trellis-f64 $(DEST)/bin/
	install -m 644 lib/libtrellis.a lib/libtrellis-f64.a $(DESTLIB)/
	install -m 755 lib/libtrellis.so.$(SOMAJOR) lib/libtrellis-f64.so.$(SOMAJOR) $(DESTLIB)/
	ln -sf libtrellis.so.$(SOMAJOR) $(DESTLIB)/libtrellis.so
	ln -sf libtrellis-f64.so.$(SOMAJOR) $(DESTLIB)/libtrellis-f64.so
	$(if $(MODULE),install -m 755 $(MODULE) $(DESTLIB)/)
	$(call pc,trellis,trellis,,float32) > $(DESTLIB)/pkgconfig/trellis.pc
	$(call pc,trellis-f64,trellis-f64, -DTRL_F64,float64) > $(DESTLIB)/pkgconfig/trellis-f64.pc

TESTS_f64 := $(patsubst tests/%.c,build/san-f64/tests/%,$(TEST_SRC))
TESTS_f32 := $(patsubst tests/%.c,build/san-f32/tests/%,$(TEST_SRC))

# ---- fuzzing (README, "Errors and safety") ----
# make fuzz            the libFuzzer harnesses fuzz/fuzz_*.c as build/fuzz/fuzz_*
#                      (clang, AddressSanitizer + UndefinedBehaviorSanitizer)
# make fuzz-run        each harness for FUZZ_TIME seconds (FUZZ_SECONDS too), one
#                      after another, into build/fuzz/corpus/NAME
# make fuzz-check      replays the seeds and fuzz/regressions, then each harness
#                      for FUZZ_CHECK_TIME seconds (part of make check)
FUZZ_CC    ?= clang
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_FLAGS := -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wno-unknown-pragmas # (GCC ivdep)
FUZZERS    := $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_TIME  ?= $(or $(FUZZ_SECONDS),60)
FUZZ_CHECK_TIME ?= 10
build/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(V),,echo "  CC [fuzz] $<";)
	$(Q)$(FUZZ_CC) $(CFLAGS_COMMON) $(FUZZ_FLAGS) $(if $(filter fuzz/%,$<),,$(LIB_CFLAGS)) -c $< -o $@
build/fuzz/fuzz_%: build/fuzz/obj/fuzz/fuzz_%.o build/fuzz/obj/fuzz/util.o \
                   $(call objs,fuzz/obj,$(LIB_SRC))
	@$(if $(V),,echo "  LD [fuzz] $@";)
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
-include $(shell find build/fuzz -name '*.d' 2>/dev/null)
fuzz: $(FUZZERS)
fuzz-run: fuzz
	fuzz/run.sh run $(FUZZ_TIME)
fuzz-check: fuzz
	@fuzz/run.sh check $(FUZZ_CHECK_TIME)

# Every test binary runs from the top folder; TRELLIS_BIN names the CLI under
# test, TRELLIS_HDF5_MODULE the HDF5 module (the tests are not in bin/).
TEST_ENV = ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
           $(if $(MODULE),TRELLIS_HDF5_MODULE=$(CURDIR)/$(MODULE))
check: lint layers $(FUZZERS) $(TESTS_f64) $(TESTS_f32) build/san-f64/trellis build/san-f32/trellis all
	@$(TEST_ENV) tests/run_tests.sh build/san-f64 $(TESTS_f64) -- build/san-f32 $(TESTS_f32)
	@tests/check_library.sh
	@tests/check_mpi.sh bin/trellis-f64
	@$(MAKE) --no-print-directory python-test
	@tests/check_faults.sh bin/trellis-f64
	@fuzz/run.sh check $(FUZZ_CHECK_TIME)
	@$(PYTHON) tests/check_readme.py

# Debian's python3 (numpy, cffi, pytest, torch): python3 on PATH may be another.
PYTHON ?= /usr/bin/python3
python-test: all
	PYTHONPATH=python PYTHONDONTWRITEBYTECODE=1 $(PYTHON) -m pytest -q -p no:cacheprovider \
	  tests/python $(PYTEST_ARGS)

# make test T=NAME [PREC=f64|f32]: one suite, as make check runs it.
TEST_PRECS := $(or $(PREC),f64 f32)
ifneq ($(filter test,$(MAKECMDGOALS)),)
ifeq ($(wildcard tests/test_$(T).c),)
$(error make test T=NAME runs tests/test_NAME.c; NAME is one of: $(patsubst tests/test_%.c,%,$(TEST_SRC)))
endif
ifneq ($(filter-out f64 f32,$(TEST_PRECS)),)
$(error PREC must be f64 or f32 (got $(PREC)); leave it out for both)
endif
endif
test: $(foreach p,$(TEST_PRECS),build/san-$(p)/tests/test_$(T) build/san-$(p)/trellis) $(MODULE)
	@$(TEST_ENV) tests/run_tests.sh \
	  $(foreach p,$(TEST_PRECS),build/san-$(p) build/san-$(p)/tests/test_$(T) --)

format:
	clang-format -i $(LIB_SRC) $(MOD_SRC) $(wildcard tools/*.c) $(TEST_SRC) $(TEST_LIB) $(wildcard */*.h include/*.h tests/support/*.h) $(wildcard fuzz/*.c)

lint:
	clang-format --dry-run -Werror $(LIB_SRC) $(MOD_SRC) $(wildcard tools/*.c) $(TEST_SRC) $(TEST_LIB) $(wildcard */*.h include/*.h tests/support/*.h) $(wildcard fuzz/*.c)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --std=c11 -I. -Iinclude $(LIB_SRC) $(MOD_SRC) $(CLI_SRC)

layers:
	@tests/check_layers.sh $(LAYERS)

clean:
	rm -rf build bin lib

# The benchmark table (bench/README.md): pass options in BENCH_ARGS, e.g.
# make bench BENCH_ARGS="--only lsnn --repeat 3" or BENCH_ARGS=--memory.
# Results go to build/bench/ (untracked); SAVE=1 writes the tracked
# bench/results*.json. PEER=DIR: the PyTorch peer's folder (peer.sh), by
# default ../shared/bench when it exists.
bench: bin/trellis lib/libtrellis.so.$(SOMAJOR)
	python3 bench/run_bench.py $(if $(SAVE),--save) $(if $(PEER),--peer $(PEER)) $(BENCH_ARGS)
	PYTHONPATH=python $(PYTHON) bench/python_overhead.py

.PHONY: all install fuzz fuzz-run fuzz-check check test python-test format lint layers clean bench
.SECONDARY:
.DELETE_ON_ERROR:
