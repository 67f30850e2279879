# gort — build, test, install.  Plain `make` builds build/libgort.a and
# build/libgort.so.  BUILD=dir puts everything elsewhere (sanitizer builds,
# parallel work trees).
CC        ?= cc
BUILD     ?= build
PREFIX    ?= /usr/local
DESTDIR   ?=
OPT       ?= -O2 -g
SAN       ?=
CFLAGS_COMMON = -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
                -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
                -pthread -Iinclude $(OPT) $(SAN)
# The runtime: hidden by default, no block partitioning so every function
# stays in .text (renamed to gort_text below), no stack protector noise.
NOSPLITBLOCKS := $(shell $(CC) -fno-reorder-blocks-and-partition -E -x c /dev/null >/dev/null 2>&1 && echo -fno-reorder-blocks-and-partition)
RT_CFLAGS = $(CFLAGS_COMMON) -fvisibility=hidden -fPIC $(NOSPLITBLOCKS) \
            -Isrc $(EXTRA_RT_CFLAGS)
TEST_CFLAGS = $(CFLAGS_COMMON) -Wno-format-zero-length $(MODE_CFLAGS) $(EXTRA_TEST_CFLAGS)
# Code that stands for a foreign library (built without the mode's flags).
FOREIGN_CFLAGS = $(CFLAGS_COMMON) -Wno-format-zero-length $(EXTRA_TEST_CFLAGS)
LDLIBS_RT = -pthread -ldl
# Shared library versioning: the SONAME carries the ABI major only, the
# file name the full version; libgort.so (the link-time name) and
# libgort.so.$(ABI) (the loader's name) are symlinks to it, as distributions
# lay libraries out.  Bump ABI when a public struct or signature changes.
VERSION   := 0.5.0
ABI       := 4
SONAME    := libgort.so.$(ABI)

RT_C   := $(wildcard src/*.c) $(wildcard src/arch/*_amd64.c)
RT_S   := $(wildcard src/arch/*_amd64.S)
RT_OBJ := $(RT_C:src/%.c=$(BUILD)/obj/%.o) $(RT_S:src/%.S=$(BUILD)/obj/%.o)
HDRS   := include/gort.h $(wildcard src/*.h) $(wildcard src/arch/*.h)

TESTS    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c)) \
            $(BUILD)/tests/test_dump_nog $(BUILD)/tests/test_nosplit \
            $(BUILD)/tests/test_netpoll_direct
# C++ tests (tests/test_cxx_*.cc): each is built twice, with g++ and with
# clang++ (binaries *_gxx and *_clangxx), for the compilers installed.
# Sanitizer builds use only the C++ compiler of CC's family: gcc's and
# clang's sanitizer runtimes do not mix with the other's instrumentation,
# and clang links its runtime into the executable, whose code gort treats
# as preemptible (see README "C++").
CXX_GNU   ?= g++
CXX_CLANG ?= clang++
CXXFLAGS_TEST = -std=c++17 -Wall -Wextra -Wno-unused-parameter -Wno-format-zero-length \
                -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
                -pthread -Iinclude $(OPT) $(SAN) $(MODE_CFLAGS) $(EXTRA_TEST_CXXFLAGS)
CXX_TEST_SRC := $(wildcard tests/test_cxx_*.cc)
CC_IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -q clang && echo 1)
CXX_WANT_GNU   := $(if $(SAN),$(if $(CC_IS_CLANG),,1),1)
CXX_WANT_CLANG := $(if $(SAN),$(CC_IS_CLANG),1)
CXX_TESTS := $(if $(CXX_WANT_GNU),$(if $(shell command -v $(CXX_GNU)),$(patsubst tests/%.cc,$(BUILD)/tests/%_gxx,$(CXX_TEST_SRC)))) \
             $(if $(CXX_WANT_CLANG),$(if $(shell command -v $(CXX_CLANG)),$(patsubst tests/%.cc,$(BUILD)/tests/%_clangxx,$(CXX_TEST_SRC))))
TESTS += $(CXX_TESTS)

EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))

# The runtime's code is renamed from .text to gort_text so the preemption
# safe-point check can tell it from the program's own code even when
# libgort.a is linked statically (the linker then defines
# __start_gort_text/__stop_gort_text).
# gcc names its cold, hot, startup and exit sections .text.unlikely and so
# on, clang .text.unlikely. (with the dot); all are renamed, and
# tools/check-sections.sh fails the build if a runtime object keeps any
# other code section (clang's cold functions stayed outside gort_text
# unnoticed: the program's code to every check).
RENAME_TO = gort_text,alloc,load,readonly,code,contents
RENAME = $(foreach s,.text .text.unlikely .text.hot .text.startup .text.exit \
                     .text.unlikely. .text.hot. .text.startup. .text.exit.,--rename-section $(s)=$(RENAME_TO))

.PHONY: all lib tests examples test test-split check-split-toolchain test-asan test-ubsan test-valgrind demo install clean \
        check-install check-nosplit
all: lib
lib: $(BUILD)/libgort.a $(BUILD)/libgort.so $(BUILD)/gort-nosplit

# gort-nosplit: the link-time nosplit checker of split-stack mode
# (tools/nosplit/, docs/DESIGN.md "The nosplit checker").
$(BUILD)/gort-nosplit: $(wildcard tools/nosplit/*.c) tools/nosplit/nosplit.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(filter %.c,$^) -o $@

$(BUILD)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) -c $< -o $@.tmp.o
	objcopy $(RENAME) $@.tmp.o $@ && rm -f $@.tmp.o
	@sh tools/check-sections.sh $@ || { rm -f $@; exit 1; }

$(BUILD)/obj/%.o: src/%.S $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) -c $< -o $@.tmp.o
	objcopy $(RENAME) $@.tmp.o $@ && rm -f $@.tmp.o
	@sh tools/check-sections.sh $@ || { rm -f $@; exit 1; }

$(BUILD)/libgort.a: $(RT_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Split-stack mode's objects live only in libgort.a: __morestack must be
# linked into the executable (exported from a shared object it breaks
# every linker), the wrapper needs --wrap=pthread_create, and the canary is
# compiled -fsplit-stack (see src/morestack.c).
SPLIT_OBJ := $(BUILD)/obj/arch/morestack_amd64.o $(BUILD)/obj/splitcheck.o $(BUILD)/obj/splitstack_thread.o
$(BUILD)/obj/splitcheck.o: RT_CFLAGS += -fsplit-stack

$(BUILD)/libgort.so.$(VERSION): $(filter-out $(SPLIT_OBJ),$(RT_OBJ))
	$(CC) -shared $(SAN) -o $@ $^ $(LDLIBS_RT) -Wl,-soname,$(SONAME)

$(BUILD)/libgort.so: $(BUILD)/libgort.so.$(VERSION)
	ln -sf libgort.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf libgort.so.$(VERSION) $@

# Tests link the static library (the common case we must preempt within).
$(BUILD)/tests/%: tests/%.c tests/check.h $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(if $(findstring _native,$*),-march=native) $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) -lm $(MODE_LDFLAGS) $(EXTRA_TEST_LDFLAGS)

# test_errno without optimisation (gort.h's errno route differs there).
$(BUILD)/tests/test_errno_O0: tests/test_errno_O0.c tests/test_errno.c tests/check.h $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -O0 $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) -lm $(MODE_LDFLAGS) $(EXTRA_TEST_LDFLAGS)

# The netpoller's tests share netcheck.h.
$(filter $(BUILD)/tests/test_netpoll%,$(TESTS)): tests/netcheck.h
# The semaphore's tests share semaphore_util.h.
$(filter $(BUILD)/tests/test_semaphore%,$(TESTS)): tests/semaphore_util.h
# The misuse tests' children.
$(BUILD)/tests/test_rwmutex $(BUILD)/tests/test_semaphore: tests/misuse_child.h
# test_programs runs the benchmarks' whole programs (their cores in bench/*.h).
$(BUILD)/tests/test_programs: bench/skynet.h bench/sieve.h bench/pool.h bench/msort.h

$(BUILD)/tests/%_gxx: tests/%.cc tests/check.h $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CXX_GNU) $(CXXFLAGS_TEST) $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) -lm $(MODE_LDFLAGS)

$(BUILD)/tests/%_clangxx: tests/%.cc tests/check.h $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CXX_CLANG) $(CXXFLAGS_TEST) $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) -lm $(MODE_LDFLAGS)

# The dump test once more without debug info: tracebacks must fall back
# to function+offset, with no file:line.
$(BUILD)/tests/test_dump_nog: tests/test_dump.c tests/check.h $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -g0 -DGORT_TEST_NODEBUG $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) -lm $(MODE_LDFLAGS)

$(BUILD)/examples/%: examples/%.c $(wildcard examples/*.h) $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) -lm $(MODE_LDFLAGS) $(EXTRA_EXAMPLE_LDLIBS)

# httpd parses requests with Debian's libhttp-parser (libhttp-parser-dev).
$(BUILD)/examples/httpd: EXTRA_EXAMPLE_LDLIBS = -lhttp_parser
# The servers' client in `make demo` stands for another program: no gort.
$(BUILD)/examples/democlient: examples/democlient.c
	@mkdir -p $(dir $@)
	$(CC) $(FOREIGN_CFLAGS) $< -o $@ -pthread

# Shared libraries test_callback loads (a lock held across callbacks):
# plain, without frame pointers, and registered (includes gort.h).
CB_LIBS := $(BUILD)/tests/libgortcb_plain.so $(BUILD)/tests/libgortcb_nofp.so \
           $(BUILD)/tests/libgortcb_reg.so
$(BUILD)/tests/libgortcb_plain.so: tests/lib_gortcb.c
	@mkdir -p $(dir $@)
	$(CC) $(FOREIGN_CFLAGS) -fPIC -shared $< -o $@
$(BUILD)/tests/libgortcb_nofp.so: tests/lib_gortcb.c
	@mkdir -p $(dir $@)
	$(CC) $(FOREIGN_CFLAGS) -fomit-frame-pointer -momit-leaf-frame-pointer -fPIC -shared $< -o $@
$(BUILD)/tests/libgortcb_reg.so: tests/lib_gortcb.c include/gort.h
	@mkdir -p $(dir $@)
	$(CC) $(FOREIGN_CFLAGS) -DGORTCB_REGISTER -fPIC -shared $< -o $@
# test_crash: a library whose constructor holds the loader's lock for good.
CB_LIBS += $(BUILD)/tests/libstuckctor.so
$(BUILD)/tests/libstuckctor.so: tests/lib_stuckctor.c
	@mkdir -p $(dir $@)
	$(CC) $(FOREIGN_CFLAGS) -fPIC -shared $< -o $@
$(BUILD)/tests/test_crash: $(BUILD)/tests/libstuckctor.so
# The libraries resolve gort_register_module from the executable.
$(BUILD)/tests/test_callback: $(CB_LIBS)
$(BUILD)/tests/test_callback: EXTRA_TEST_LDFLAGS = -rdynamic

# The netpoller's tests again with GORTDEBUG=iobatch=0, the direct socket
# calls (tests/netpoll_direct.sh runs the ones named here).
DIRECT_TESTS := test_netpoll test_netpoll_close test_netpoll_close_race test_netpoll_cycles \
                 test_netpoll_deadline test_netpoll_emfile test_netpoll_fork test_netpoll_peer \
                 test_netpoll_race test_netpoll_sched test_netpoll_short test_netpoll_thread \
                 test_net_listen_dial test_echo_blocking
$(BUILD)/tests/test_netpoll_direct: tests/netpoll_direct.sh $(DIRECT_TESTS:%=$(BUILD)/tests/%)
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec sh "%s" "%s" %s\n' "$(abspath tests/netpoll_direct.sh)" \
	    "$(abspath $(BUILD)/tests)" "$(DIRECT_TESTS)" > $@ && chmod +x $@

# The checker's corpus (tests/nosplit/run.sh) as a test the suite runs:
# it compiles the corpus with gcc (and clang) -fsplit-stack and needs only
# them and binutils.
$(BUILD)/tests/test_nosplit: tests/nosplit/run.sh $(BUILD)/gort-nosplit
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec sh "%s" "%s"\n' "$(abspath tests/nosplit/run.sh)" \
	    "$(abspath $(BUILD)/gort-nosplit)" > $@ && chmod +x $@

tests: $(TESTS) $(CB_LIBS)
examples: $(EXAMPLES)

test: tests
	@sh tests/run.sh $(BUILD)/tests

# Split-stack mode (docs/DESIGN.md "Stack checks"): the whole suite
# compiled -fsplit-stack and linked with gort's __morestack.  gold or lld
# only: GNU ld does not adjust calls from checked code into code without
# checks, silently (a program it links is refused at start-up too).
SPLIT_LD ?= gold
SPLIT_CFLAGS = -fsplit-stack
SPLIT_LDFLAGS.gold = -fuse-ld=gold -Wl,--split-stack-adjust-size=0x4000
SPLIT_LDFLAGS.lld = -fuse-ld=lld
SPLIT_LDFLAGS = $(SPLIT_LDFLAGS.$(SPLIT_LD))

# Split-stack mode's own tests (tests/split/test_split_*): always compiled
# -fsplit-stack, whatever the suite's mode, and linked with gold and, when
# ld.lld is installed, once more with lld (binaries *_lld); C++ ones with
# each C++ compiler as above.  test_split_linker checks that GNU ld and
# gold without the adjustment size are refused (programs split_canary_*).
# A toolchain without -fsplit-stack or gold skips them, saying so.
SPLIT_OK := $(shell echo 'int main(void){return 0;}' | $(CC) -fsplit-stack -x c - -o /dev/null $(SPLIT_LDFLAGS.gold) >/dev/null 2>&1 && echo 1)
HAVE_LLD := $(shell command -v ld.lld >/dev/null 2>&1 && echo 1)
SPLIT_C_SRC  := $(wildcard tests/split/test_split_*.c)
SPLIT_CC_SRC := $(wildcard tests/split/test_split_*.cc)
SPLIT_LDS := gold $(if $(HAVE_LLD),lld)
SPLIT_SUFFIX.gold :=
SPLIT_SUFFIX.lld := _lld
SPLIT_TESTS := $(foreach ld,$(SPLIT_LDS),$(patsubst tests/split/%.c,$(BUILD)/tests/%$(SPLIT_SUFFIX.$(ld)),$(SPLIT_C_SRC))) \
               $(if $(CXX_WANT_GNU),$(if $(shell command -v $(CXX_GNU)),$(patsubst tests/split/%.cc,$(BUILD)/tests/%_gxx,$(SPLIT_CC_SRC)))) \
               $(if $(CXX_WANT_CLANG),$(if $(shell command -v $(CXX_CLANG)),$(patsubst tests/split/%.cc,$(BUILD)/tests/%_clangxx,$(SPLIT_CC_SRC)))) \
               $(BUILD)/tests/test_split_linker
SPLIT_TEST_CFLAGS = $(TEST_CFLAGS) $(SPLIT_CFLAGS) -DGORT_TEST_SPLIT $(if $(SAN),-DGORT_TEST_SANITIZED) -Itests
SPLIT_TEST_CXXFLAGS = $(CXXFLAGS_TEST) $(SPLIT_CFLAGS) -DGORT_TEST_SPLIT -Itests
SPLIT_HDRS := tests/check.h tests/split/split.h
ifeq ($(SPLIT_OK),1)
tests: $(SPLIT_TESTS)
else
$(info gort: $(CC) cannot build -fsplit-stack programs linked with gold: the split-stack tests (tests/split) are skipped)
endif

$(BUILD)/tests/test_split_%: tests/split/test_split_%.c $(SPLIT_HDRS) $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(SPLIT_TEST_CFLAGS) $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) -lm $(SPLIT_LDFLAGS.gold)

$(BUILD)/tests/test_split_%_lld: tests/split/test_split_%.c $(SPLIT_HDRS) $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(SPLIT_TEST_CFLAGS) $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) -lm $(SPLIT_LDFLAGS.lld)

$(BUILD)/tests/test_split_%_gxx: tests/split/test_split_%.cc $(SPLIT_HDRS) $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CXX_GNU) $(SPLIT_TEST_CXXFLAGS) $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) -lm $(SPLIT_LDFLAGS.gold)

$(BUILD)/tests/test_split_%_clangxx: tests/split/test_split_%.cc $(SPLIT_HDRS) $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CXX_CLANG) $(SPLIT_TEST_CXXFLAGS) $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) -lm $(SPLIT_LDFLAGS.gold)

# The linker test: a split-stack program linked by GNU ld, by gold
# without --split-stack-adjust-size, and as documented.
SPLIT_CANARIES := $(BUILD)/tests/split_canary_bfd $(BUILD)/tests/split_canary_noadjust $(BUILD)/tests/split_canary_gold
SPLIT_CANARY_LD.bfd = -fuse-ld=bfd
SPLIT_CANARY_LD.noadjust = -fuse-ld=gold
SPLIT_CANARY_LD.gold = $(SPLIT_LDFLAGS.gold)
$(BUILD)/tests/split_canary_%: tests/split/split_canary.c $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(SPLIT_TEST_CFLAGS) $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) $(SPLIT_CANARY_LD.$*)
$(BUILD)/tests/test_split_linker: tests/split/test_split_linker.sh $(SPLIT_CANARIES)
	@mkdir -p $(dir $@)
	sed -e 's|@SRCDIR@|$(CURDIR)|g' -e 's|@MAKE@|$(MAKE)|g' -e 's|@CC@|$(CC)|g' $< > $@.tmp && chmod +x $@.tmp && mv $@.tmp $@
check-split-toolchain:
	@case "$(SPLIT_LD)" in gold|lld) ;; *) echo "gort: split-stack mode needs SPLIT_LD=gold or SPLIT_LD=lld; '$(SPLIT_LD)' does not adjust calls into code without stack checks" >&2; exit 1;; esac
	@echo 'int main(void){return 0;}' | $(CC) $(SPLIT_CFLAGS) -x c - -c -o /dev/null 2>/dev/null || \
	  { echo "gort: $(CC) does not support -fsplit-stack" >&2; exit 1; }
	@echo 'int main(void){return 0;}' | $(CC) -x c - -o /dev/null $(SPLIT_LDFLAGS) 2>/dev/null || \
	  { echo "gort: $(CC) cannot link with $(SPLIT_LDFLAGS) (is ld.$(SPLIT_LD) installed?)" >&2; exit 1; }
test-split: check-split-toolchain
	$(MAKE) BUILD=build-split$(if $(CC_IS_CLANG),-clang) CC=$(CC) MODE_CFLAGS="$(SPLIT_CFLAGS) -DGORT_TEST_SPLIT" MODE_LDFLAGS="$(SPLIT_LDFLAGS)" test

# memcheck over the examples and over the tests that exercise what
# valgrind must be told about (valgrind_hooks.h): goroutine stacks and
# switches, asynchronous preemption (the simulated call, the red zone),
# the preemption checks' stack walks, libdw's own stack (test_dump: a dump from
# the SIGQUIT handler on a signal stack, from goroutines and threads), and netpoll.
# --fair-sched=yes: valgrind runs one thread at a time, and its default
# lock (a pipe) lets the thread that releases it take it straight back, so
# a goroutine spinning in a loop (test_dump's spinner, the preemption
# tests) can keep sysmon and the other Ms off the machine for a long time,
# which no kernel scheduler does.  The futex lock hands it round-robin.
VALGRIND := valgrind -q --error-exitcode=9 --fair-sched=yes
VALGRIND_TESTS := test_preempt_redzone test_preempt_chain test_sched test_mutex test_context \
                  test_waitgroup test_netpoll_short test_dump test_rwmutex test_unstarted
test-valgrind: examples tests
	@for e in hello pingpong; do timeout 300 $(VALGRIND) $(BUILD)/examples/$$e || exit 1; done
	@GORT_TEST_TIMEOUT=300 GORT_TEST_WRAP="$(VALGRIND)" GORT_TEST_ONLY="$(VALGRIND_TESTS)" sh tests/run.sh $(BUILD)/tests

test-asan:
	$(MAKE) BUILD=build-asan CC=$(CC) OPT="-O1 -g" SAN="-fsanitize=address" test

test-ubsan:
	$(MAKE) BUILD=build-ubsan CC=$(CC) OPT="-O1 -g" SAN="-fsanitize=undefined -fno-sanitize-recover=undefined" test

# The post on //go:nosplit's examples in split-stack mode (issue 11):
# examples/nosplit/demo.sh runs them, with the link-time checker
# $(BUILD)/gort-nosplit (tools/), after the examples above.
NOSPLIT_DEMO := $(addprefix $(BUILD)/examples/nosplit/,recursive pointer pointer_checked forever)
$(BUILD)/examples/nosplit/%: examples/nosplit/%.c $(BUILD)/libgort.a | check-split-toolchain
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(SPLIT_CFLAGS) $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) -lm $(SPLIT_LDFLAGS)
$(BUILD)/examples/nosplit/pointer_checked: examples/nosplit/pointer.c $(BUILD)/libgort.a | check-split-toolchain
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(SPLIT_CFLAGS) -DX_CHECKED $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) -lm $(SPLIT_LDFLAGS)
$(BUILD)/examples/nosplit/forever: examples/forever.c examples/demo_child.h $(BUILD)/libgort.a | check-split-toolchain
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(SPLIT_CFLAGS) $< -o $@ $(BUILD)/libgort.a $(LDLIBS_RT) -lm $(SPLIT_LDFLAGS)

demo: examples $(NOSPLIT_DEMO) $(if $(wildcard tools/nosplit/main.c),$(BUILD)/gort-nosplit)
	@s=0; sh examples/demo.sh $(BUILD)/examples || s=1; \
	 NOSPLIT=$(BUILD)/gort-nosplit sh examples/nosplit/demo.sh $(BUILD)/examples/nosplit || s=1; exit $$s

# The libc wrappers (src/interpose*.c, and vfork in arch/) an executable linked with
# libgort.a must export for shared libraries' calls to reach them:
# gort-static.pc passes this list to the linker.
INTERPOSE_OBJS = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(wildcard src/interpose*.c)) $(BUILD)/obj/arch/vfork_amd64.o
$(BUILD)/interpose.list: $(INTERPOSE_OBJS)
	{ echo '{'; nm -g --defined-only $^ | awk '$$2 == "T" { print "  " $$3 ";" }' | sort -u; echo '};'; } > $@

install: lib $(BUILD)/interpose.list
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/gort \
	    $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/gort-nosplit $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(BUILD)/interpose.list $(DESTDIR)$(PREFIX)/lib/gort/
	install -m 644 include/gort.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libgort.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libgort.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libgort.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf libgort.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libgort.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' gort.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/gort.pc
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' gort-static.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/gort-static.pc

# Stage `make install` in a temporary DESTDIR and build/run examples/hello.c
# against it through pkg-config, statically and dynamically; check the
# SONAME and symlinks, and that gort.h is clean under the C and C++
# standards users compile with.
check-install: lib
	@CC="$(CC)" MAKE="$(MAKE)" VERSION="$(VERSION)" SONAME="$(SONAME)" sh tests/test_install.sh $(BUILD)

# gort-nosplit over gort itself (must be clean: the default runtime has no
# split-stack units, so nothing in it may be reported) and over the
# split-stack build's library, tests and shared libraries where
# $(SPLIT_BUILD) exists (ELF files and archives: some tests are scripts).
# Every file is checked; the status is the worst.
SPLIT_BUILD ?= build-split
check-nosplit: $(BUILD)/gort-nosplit $(BUILD)/libgort.a
	@rc=0; for f in $(BUILD)/libgort.a $(wildcard $(SPLIT_BUILD)/libgort.a) \
	    $(filter-out %.log %.sh,$(wildcard $(SPLIT_BUILD)/tests/test_* $(SPLIT_BUILD)/tests/*.so)); do \
	    [ -f "$$f" ] || continue; \
	    case "$$(head -c 4 "$$f" | od -An -c | tr -d ' ')" in '177ELF'|'!<ar') ;; *) continue;; esac; \
	    echo "gort-nosplit $$f"; $(BUILD)/gort-nosplit "$$f" || rc=1; \
	done; exit $$rc

clean:
	rm -rf build build-asan build-ubsan build-*

# Benchmarks: gort vs its Go and Boost.Fiber twins (bench/run.sh installs
# what it needs, builds everything, runs interleaved rounds and writes
# bench/results.md and bench/results.svg; raw data in $(BUILD)/bench/raw).
.PHONY: bench
bench: lib
	BUILD=$(BUILD) CC=$(CC) bash bench/run.sh

# The fortified twin includes the plain hand-off test.
$(BUILD)/tests/test_syscall_handoff_fortify: tests/test_syscall_handoff.c
