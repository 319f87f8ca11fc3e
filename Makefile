# kchan: `make demo` runs the main example, `make test` runs everything that must stay green.
#
# make demo     installs what the demo lacks (a C compiler, libc6-dev, libstb-dev), then runs it
# make test     installs what the gate lacks (TEST_PKGS below), then compile checks (C, C++,
#               KCHAN_STATIC, type mismatch must fail), lint, the Criterion suite for every
#               engine under ASan+UBSan and under TSan, platforms, fuzz, examples, install-check
# make check    the fast inner loop: lint, then the contract suites (all but CHECK_SKIP) on
#               both engines under ASan+UBSan (about 1-2 minutes from a clean build dir)
# make asan     the suite under ASan+UBSan only     make tsan    under TSan only
# make stress   the long soaks (not part of make test)
# make lint     every memory_order_ use (outside preprocessor lines) has a comment within the three lines above
# make install  kchan.h into $(PREFIX)/include, kchan.pc into $(PREFIX)/share/pkgconfig
#               (PREFIX=/usr/local, DESTDIR honoured); make uninstall removes both
#
# Packages: demo, check and test first run .ci/deps, which asks dpkg-query about each Debian
# package they need and, only if one is missing, runs apt-get update + apt-get install of the
# missing ones (as root; otherwise it stops with one line naming them). Nothing missing: no
# apt-get, a few milliseconds. KCHAN_NO_DEPS=1 skips it if you manage packages yourself.

CC      ?= cc
SANCC   ?= clang
CXX     ?= c++
STB_INC := $(shell pkg-config --cflags stb 2>/dev/null || echo -I/usr/include/stb)
WARN    := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wundef -Wstrict-prototypes -Werror
CFLAGS  ?= -O2 -g
ALL_CFLAGS := $(WARN) $(CFLAGS) $(STB_INC)
LDLIBS  := -lpthread

# Variants of the suite: an engine, optionally on a forced platform layer. The lock-free
# engine joins with issue 4 (add lockfree, lockfree-posix, ... here).
ENGINES := mutex lockfree
PLATFORM_VARIANTS := $(foreach e,$(ENGINES),$(e)-posix $(e)-c11 $(e)-custom)
ENGINE_FLAGS_mutex :=
ENGINE_FLAGS_lockfree := -DKCHAN_LOCKFREE
$(foreach e,$(ENGINES),$(eval VFLAGS_$(e) := $(ENGINE_FLAGS_$(e))) \
    $(eval VFLAGS_$(e)-posix := $(ENGINE_FLAGS_$(e)) -DKCHAN_PLATFORM_POSIX) \
    $(eval VFLAGS_$(e)-c11 := $(ENGINE_FLAGS_$(e)) -DKCHAN_PLATFORM_C11) \
    $(eval VFLAGS_$(e)-custom := $(ENGINE_FLAGS_$(e)) -D_GNU_SOURCE) \
    $(eval IMPL_$(e)-custom := tests/custom_hooks_impl.c))
impl_of = $(or $(IMPL_$(1)),tests/kchan_impl.c)

ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TSAN_FLAGS := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# Tests may use POSIX/GNU extras (barriers, sched_yield); the header must not need them.
TEST_DEFS  := -D_GNU_SOURCE

TEST_SRCS  := $(sort $(wildcard tests/test_*.c))
# Criterion's sandbox cannot place its arena under TSan without this (see the file).
EXTRA_asan :=
EXTRA_tsan := tests/tsan_criterion_fix.c
STRESS_ENV := KCHAN_STRESS=1
B := build

# ---- Debian packages each entry point needs (.ci/deps installs the missing ones) ---------------
DEPS       := sh .ci/deps
DEMO_PKGS  := libstb-dev libc6-dev $(if $(shell command -v $(CC) 2>/dev/null),,gcc)
CHECK_PKGS := libstb-dev libc6-dev clang libclang-rt-dev libcriterion-dev
TEST_PKGS  := libstb-dev libc6-dev libcriterion-dev clang libclang-rt-dev make gcc g++ pkg-config \
              gcc-multilib qemu-user gcc-mingw-w64-x86-64 wine64 gcc-arm-none-eabi libnewlib-arm-none-eabi

.PHONY: all test test-bins test-gate api-names check check-run asan tsan stress lint demo run-demo examples compile-checks clean run-examples
all: demo

# ---- the suite, per sanitizer x engine -------------------------------------------------
# One object per test file, so that make -j compiles them side by side, an edited test file
# rebuilds alone, and make check's binary (every suite but CHECK_SKIP) shares them with make test's.
TEST_HDRS  := $(wildcard tests/*.h)
CHECK_SKIP := stress lfkinds lfring lin select_race wrap
CHECK_SRCS := $(filter-out $(patsubst %,tests/test_%.c,$(CHECK_SKIP)),$(TEST_SRCS))
define suite
$(B)/$(1)-$(2)/%.o: tests/%.c $(TEST_HDRS) kchan.h
	@mkdir -p $$(@D)
	$(SANCC) $(WARN) $($(3)) $(TEST_DEFS) $(VFLAGS_$(2)) -c $$< -o $$@
$(B)/$(1)-$(2)/kchan_impl.o: $(call impl_of,$(2)) tests/kchan_impl.c kchan.h
	@mkdir -p $$(@D)
	$(SANCC) $(WARN) $($(3)) $(STB_INC) $(VFLAGS_$(2)) -c $(call impl_of,$(2)) -o $$@
$(B)/$(1)-$(2)/alloc_hooks.o: tests/alloc_hooks.c tests/alloc_hooks.h
	@mkdir -p $$(@D)
	$(SANCC) $(WARN) $($(3)) $(TEST_DEFS) -c tests/alloc_hooks.c -o $$@
$(B)/$(1)-$(2)/kchan_tests: $(patsubst tests/%.c,$(B)/$(1)-$(2)/%.o,$(TEST_SRCS) $(EXTRA_$(1))) $(B)/$(1)-$(2)/kchan_impl.o $(B)/$(1)-$(2)/alloc_hooks.o
	$(SANCC) $($(3)) $$^ -o $$@ -lcriterion $(LDLIBS)
$(B)/$(1)-$(2)/check_tests: $(patsubst tests/%.c,$(B)/$(1)-$(2)/%.o,$(CHECK_SRCS) $(EXTRA_$(1))) $(B)/$(1)-$(2)/kchan_impl.o $(B)/$(1)-$(2)/alloc_hooks.o
	$(SANCC) $($(3)) $$^ -o $$@ -lcriterion $(LDLIBS)
.PHONY: run-$(1)-$(2) run-check-$(1)-$(2)
run-$(1)-$(2): $(B)/$(1)-$(2)/kchan_tests
	@echo "== $(1) / $(2)"
	$(4) $(B)/$(1)-$(2)/kchan_tests --jobs=2
run-check-$(1)-$(2): $(B)/$(1)-$(2)/check_tests
	@echo "== check / $(1) / $(2)"
	$(4) $(B)/$(1)-$(2)/check_tests --jobs=2
endef

$(foreach v,$(ENGINES) $(PLATFORM_VARIANTS),$(eval $(call suite,asan,$(v),ASAN_FLAGS,$(ASAN_ENV))))
$(foreach v,$(ENGINES) $(PLATFORM_VARIANTS),$(eval $(call suite,tsan,$(v),TSAN_FLAGS,$(TSAN_ENV))))

asan: $(foreach e,$(ENGINES),run-asan-$(e))
tsan: $(foreach e,$(ENGINES),run-tsan-$(e))
# Platform layers forced on Linux: the full suite under ASan+UBSan, and under TSan where TSan
# can see the layer's synchronisation. It cannot for C11 (glibc's mtx_lock reaches the
# pthread mutex internally, past TSan's interceptors: every critical section reads as a race)
# nor for the custom hooks (API.md shapes their word as `const volatile`, not atomic).
test-posix: $(foreach e,$(ENGINES),run-asan-$(e)-posix run-tsan-$(e)-posix)
test-c11: $(foreach e,$(ENGINES),run-asan-$(e)-c11)
test-custom: $(foreach e,$(ENGINES),run-asan-$(e)-custom)
.PHONY: test-posix test-c11 test-custom

# The entry points install what they lack first (.ci/deps), then run their targets in a second
# make, so that nothing is built before the packages are there, even under make -j.
# The suite binaries build two at a time first (compiling is most of the gate's time on 2
# cores); the runs that follow go one after another, each using both cores itself.
TEST_BINS := $(foreach v,$(ENGINES) $(PLATFORM_VARIANTS),$(B)/asan-$(v)/kchan_tests) \
             $(foreach v,$(ENGINES) $(foreach e,$(ENGINES),$(e)-posix),$(B)/tsan-$(v)/kchan_tests)
test:
	@$(DEPS) $(TEST_PKGS)
	@$(MAKE) --no-print-directory -j2 -Otarget test-bins
	@$(MAKE) --no-print-directory test-gate
test-bins: $(TEST_BINS)
test-gate: compile-checks lint api-names asan tsan test-platforms reliability-ci run-examples bench-quick install-check
	@echo "make test: all green"

# Both engines' binaries build and run side by side (-j$(CHECK_JOBS) unless make -j was given).
CHECK_JOBS ?= 2
check:
	@$(DEPS) $(CHECK_PKGS)
	@$(MAKE) --no-print-directory $(if $(filter -j%,$(MAKEFLAGS)),,-j$(CHECK_JOBS)) -Otarget check-run
check-run: lint $(foreach e,$(ENGINES),run-check-asan-$(e))
	@echo "make check: green (make test is the full gate)"

stress: stress-soak $(foreach e,$(ENGINES),$(B)/tsan-$(e)/kchan_tests)
	@for e in $(ENGINES); do echo "== stress / $$e"; \
	    $(STRESS_ENV) $(B)/tsan-$$e/kchan_tests --jobs=1 --filter='stress/*' || exit 1; \
	    $(STRESS_ENV) $(B)/tsan-$$e/kchan_tests --jobs=1 --filter='order/*' || exit 1; done

# ---- compile-only checks ----------------------------------------------------------------
# C and C++ inclusion, KCHAN_STATIC warning-free with both compilers, and a file mixing two
# channel types must be rejected (its control twin, with matching types, must compile).
# stb_ds.h itself trips -Wundef (#if __clang__), so files that include it drop that flag;
# the before-file includes system headers ahead of kchan.h, hence -D_DEFAULT_SOURCE.
# C++ users' view of the header: no cast, null or useless-cast warnings from kchan's macros.
CXX_WARN := -std=c++17 -Wall -Wextra -Wpedantic -Werror -Wold-style-cast -Wzero-as-null-pointer-constant -Wuseless-cast
STB_WARN := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Werror $(STB_INC)
compile-checks: kchan.h
	@mkdir -p $(B)
	$(CC) $(WARN) $(STB_INC) -c tests/compile_c.c -o $(B)/compile_c.o
	$(CXX) $(CXX_WARN) -c tests/compile_cpp.cpp -o $(B)/compile_cpp.o
	clang++ $(filter-out -Wuseless-cast,$(CXX_WARN)) -c tests/compile_cpp.cpp -o $(B)/compile_cpp_clang.o
	$(CC) $(WARN) $(STB_INC) tests/compile_cpp_impl.c $(B)/compile_cpp.o -o $(B)/compile_cpp $(LDLIBS) && $(B)/compile_cpp
	@# the implementation compiled as C++: C++23 builds and runs; C++17 stops with kchan's #error
	for cxx in g++ clang++; do \
	    $$cxx -std=c++2b -Wall -Wextra -Wpedantic -Werror $(STB_INC) -x c++ -c tests/compile_cpp_impl.c -o $(B)/compile_cpp_impl_cxx.o && \
	    $$cxx -std=c++2b -Wall -Wextra -Wpedantic -Werror $(STB_INC) -DKCHAN_LOCKFREE -x c++ -c tests/compile_cpp_impl.c -o $(B)/compile_cpp_impl_cxx_lf.o && \
	    $$cxx $(B)/compile_cpp_impl_cxx.o $(B)/compile_cpp.o -o $(B)/compile_cpp_cxx $(LDLIBS) && $(B)/compile_cpp_cxx && \
	    $$cxx $(B)/compile_cpp_impl_cxx_lf.o $(B)/compile_cpp.o -o $(B)/compile_cpp_cxx $(LDLIBS) && $(B)/compile_cpp_cxx || exit 1; \
	    if $$cxx -std=c++17 $(STB_INC) -x c++ -c tests/compile_cpp_impl.c -o $(B)/compile_cpp_impl_cxx.o 2> $(B)/cxx17.err || \
	       ! grep -q 'needs C++23' $(B)/cxx17.err; then echo "$$cxx -std=c++17: no clear error for the C++ implementation"; exit 1; fi; done
	for cc in gcc clang; do $$cc $(WARN) $(STB_INC) -c tests/compile_static.c -o $(B)/compile_static.o || exit 1; done
	@# KCHAN_FOOTPRINT from a file without the engine flag fits either engine's implementation
	for e in "" -DKCHAN_LOCKFREE; do \
	    $(CC) $(WARN) $(STB_INC) $$e -c tests/footprint_impl.c -o $(B)/footprint_impl.o && \
	    $(CC) $(WARN) $(STB_INC) tests/footprint_user.c $(B)/footprint_impl.o -o $(B)/footprint_user $(LDLIBS) && \
	    $(B)/footprint_user || exit 1; done
	@# _NONE with <stdatomic.h> before kchan.h, after it, or not at all: same names, same behaviour
	for order in -DSTDATOMIC_FIRST -DSTDATOMIC_AFTER -DNO_STDATOMIC; do \
	    $(CC) $(WARN) $(STB_INC) $$order tests/compile_none_atomics.c -o $(B)/compile_none_atomics && $(B)/compile_none_atomics || exit 1; done
	$(CC) $(WARN) $(STB_INC) -DKCHAN_TYPES_MATCH -c tests/compile_fail_types.c -o $(B)/compile_fail_types.o
	@if $(CC) $(WARN) $(STB_INC) -c tests/compile_fail_types.c -o $(B)/compile_fail_types.o 2>/dev/null; then \
	    echo "compile_fail_types.c compiled: mixing two channel types was not diagnosed"; exit 1; \
	 else echo "ok: mixing two channel types is a compile error"; fi
	for e in -UKCHAN_LOCKFREE -DKCHAN_LOCKFREE; do $(CC) $(WARN) $(STB_INC) $$e -DKCHAN_SELECT_MAX=256 tests/compile_select_max.c \
	    -o $(B)/compile_select_max $(LDLIBS) && $(B)/compile_select_max || exit 1; done
	@if $(CC) $(WARN) $(STB_INC) -c tests/compile_select_max.c -o $(B)/select_max.o 2> $(B)/select_max.err; then \
	    echo "KCHAN_SELECT_MAX=257 compiled: the bound is not enforced"; exit 1; \
	 elif grep -q 'KCHAN_SELECT_MAX must be between 1 and 256' $(B)/select_max.err; then \
	    echo "ok: KCHAN_SELECT_MAX above 256 is a compile error"; else cat $(B)/select_max.err; exit 1; fi
	@# kchan.h copied alone next to main.c, built with no -I: finds Debian's <stb/stb_ds.h> itself
	@rm -rf $(B)/alone && mkdir -p $(B)/alone && cp kchan.h $(B)/alone/ && cp tests/compile_alone.c $(B)/alone/main.c
	@if echo '#include <stb/stb_ds.h>' | $(CC) -xc -E - >/dev/null 2>&1; then \
	    for cc in gcc clang; do echo "(cd $(B)/alone && $$cc -std=c11 -Wall -Wextra -Wpedantic -Werror main.c -lpthread)"; \
	        (cd $(B)/alone && $$cc -std=c11 -Wall -Wextra -Wpedantic -Werror main.c -o alone -lpthread && ./alone) || exit 1; done; \
	 else echo "skip the copy-one-file build: no <stb/stb_ds.h> (Debian package libstb-dev)"; fi
	for cc in gcc clang; do sh tests/compile_no_stb.sh $$cc $(B) || exit 1; done
	for cc in gcc clang; do sh tests/compile_stb_macros.sh $$cc $(B) "$(STB_INC)" || exit 1; done
	@# the user's own stb_ds.h after kchan.h (implementation file and plain file) and before it
	for cc in gcc clang; do \
	    $$cc $(STB_WARN) -c tests/compile_stb_after.c -o $(B)/compile_stb_after.o && \
	    $$cc $(STB_WARN) tests/compile_stb_user.c $(B)/compile_stb_after.o -o $(B)/compile_stb_user $(LDLIBS) && $(B)/compile_stb_user && \
	    $$cc $(STB_WARN) -D_DEFAULT_SOURCE -DSTB_DS_IMPLEMENTATION tests/compile_stb_before.c -o $(B)/compile_stb_before $(LDLIBS) && $(B)/compile_stb_before && \
	    $$cc $(STB_WARN) -D_DEFAULT_SOURCE tests/compile_stb_before.c $(B)/compile_stb_after.o -o $(B)/compile_stb_before $(LDLIBS) && $(B)/compile_stb_before || exit 1; done
	@# (void) discards a result everywhere; a dropped result warns wherever the attribute is on
	@for c in "gcc -std=c11" "gcc -std=c2x" "clang -std=c11" "clang -std=c2x" "g++ -std=c++17" "g++ -std=c++20" \
	          "clang++ -std=c++17" "clang++ -std=c++20"; do x=; case $$c in *++*) x="-x c++";; esac; \
	    $$c $$x -Wall -Wextra -Wpedantic -Werror -c tests/compile_nodiscard.c -o $(B)/compile_nodiscard.o || \
	        { echo "$$c: (void) did not discard a kchan result warning-free"; exit 1; }; \
	    $$c $$x -Wall -Wextra -Wpedantic -Werror -DKCHAN_NO_NODISCARD -DKCHAN_DROP_RESULT -c tests/compile_nodiscard.c -o $(B)/compile_nodiscard.o || \
	        { echo "$$c: KCHAN_NO_NODISCARD did not turn the attribute off"; exit 1; }; \
	    if [ "$$c" = "gcc -std=c11" ]; then continue; fi; \
	    if $$c $$x -Wall -Wextra -Wpedantic -Werror -DKCHAN_DROP_RESULT -c tests/compile_nodiscard.c -o $(B)/compile_nodiscard.o 2>/dev/null; then \
	        echo "$$c: a dropped kchan result did not warn"; exit 1; fi; done; \
	 echo "ok: (void) discards kchan results in C11, C2x, C++17, C++20 (gcc, clang); dropping one warns (all but gcc C11); KCHAN_NO_NODISCARD silences"

# ---- platforms: Windows under wine, 32-bit, bare metal, C++, embedded cross builds ---------
# Each names the Debian package that provides a missing tool (make test installs them first).
need = @command -v $(1) >/dev/null 2>&1 || { echo "missing $(1): install the Debian package $(2)"; exit 1; }
MINGW := x86_64-w64-mingw32-gcc
WINE  := wine
WINE_ENV := WINEPREFIX=$(abspath $(B))/wineprefix WINEDEBUG=-all
ARMCC := arm-none-eabi-gcc
EMBEDDED_FLAGS := -std=c11 -Wall -Wextra -Werror -Os -mthumb -ffunction-sections -fdata-sections -DNDEBUG

.PHONY: test-platforms test-win test-32 test-none test-cpp embedded
test-platforms: test-posix test-c11 test-custom test-none test-32 test-cpp test-win embedded

# tests/none_isr.c: the interrupt recipe (KCHAN_NONE_CRITICAL_*), a signal handler playing
# the interrupt, and kchan_dump's printf-free numbers. none-isr-nohooks runs it without the
# hooks, where it is expected to fail (it shows what they are for; not part of make test).
test-none: tests/smoke.c tests/none_isr.c kchan.h
	@mkdir -p $(B)
	$(CC) $(WARN) -O1 -g $(STB_INC) -DKCHAN_PLATFORM_NONE -DKCHAN_NO_UNLIMITED tests/smoke.c -o $(B)/smoke_none
	$(B)/smoke_none
	$(CC) $(WARN) -O1 -g $(TEST_DEFS) tests/none_isr.c -o $(B)/none_isr
	$(B)/none_isr
.PHONY: none-isr-nohooks
none-isr-nohooks: tests/none_isr.c kchan.h
	@mkdir -p $(B)
	$(CC) $(WARN) -O1 -g $(TEST_DEFS) -DNONE_ISR_NO_HOOKS tests/none_isr.c -o $(B)/none_isr_nohooks
	-$(B)/none_isr_nohooks

test-32: tests/smoke.c kchan.h test-wrap-32
	@mkdir -p $(B)
	@echo 'int main(void){return 0;}' | gcc -m32 -x c - -o $(B)/m32probe 2>/dev/null || \
	    { echo "missing 32-bit toolchain: install the Debian package gcc-multilib"; exit 1; }
	gcc $(WARN) -m32 -O2 -g $(STB_INC) tests/smoke.c -o $(B)/smoke32 $(LDLIBS)
	gcc $(WARN) -m32 -O2 -g $(STB_INC) -DKCHAN_LOCKFREE tests/smoke.c -o $(B)/smoke32-lockfree $(LDLIBS)
	@if $(B)/m32probe 2>/dev/null; then run=; \
	 elif command -v qemu-i386 >/dev/null 2>&1; then run=qemu-i386; \
	 else echo "skip test-32 smoke: this kernel runs no i386 binaries and qemu-i386 is missing (Debian package qemu-user)"; exit 0; fi; \
	 for x in smoke32 smoke32-lockfree; do echo "== $$run $(B)/$$x"; timeout 300 $$run $(B)/$$x > $(B)/$$x.out 2>&1 || { cat $(B)/$$x.out; exit 1; }; tail -n 1 $(B)/$$x.out; done

# The lock-free ring positions at the 2^32 wrap (tests/wrap_cases.h, as tests/test_wrap.c runs
# them at 2^64), on both engines, standalone (no Criterion for i386). Runs the binaries
# natively if the kernel can, else under qemu-i386, else says it skipped them.
WRAP32_SRCS := tests/wrap32.c tests/wrap_cases.h tests/wrap_hooks.h kchan.h
.PHONY: test-wrap-32
test-wrap-32: $(WRAP32_SRCS)
	@mkdir -p $(B)
	@echo 'int main(void){return 0;}' | gcc -m32 -x c - -o $(B)/m32probe 2>/dev/null || \
	    { echo "missing 32-bit toolchain: install the Debian package gcc-multilib"; exit 1; }
	gcc $(WARN) -m32 -O1 -g $(STB_INC) $(TEST_DEFS) tests/wrap32.c -o $(B)/wrap32-mutex $(LDLIBS)
	gcc $(WARN) -m32 -O1 -g $(STB_INC) $(TEST_DEFS) -DKCHAN_LOCKFREE tests/wrap32.c -o $(B)/wrap32-lockfree $(LDLIBS)
	@if $(B)/m32probe 2>/dev/null; then run=; \
	 elif command -v qemu-i386 >/dev/null 2>&1; then run=qemu-i386; \
	 else echo "skip test-wrap-32: this kernel runs no i386 binaries and qemu-i386 is missing (Debian package qemu-user)"; exit 0; fi; \
	 for e in mutex lockfree; do timeout 300 $$run $(B)/wrap32-$$e || exit 1; done

test-cpp: compile-checks

test-win: tests/smoke.c kchan.h $(wildcard examples/*.c)
	$(call need,$(MINGW),gcc-mingw-w64-x86-64)
	$(call need,$(WINE),wine64)
	@mkdir -p $(B)/win
	$(MINGW) $(WARN) -O2 $(STB_INC) tests/smoke.c -o $(B)/win/smoke.exe -static -lsynchronization
	@for f in examples/*.c; do b=$$(basename $$f .c); \
	    echo "$(MINGW) $$f"; \
	    $(MINGW) $(WARN) -O2 $(STB_INC) $$f -o $(B)/win/$$b.exe -static -lpthread -lsynchronization || exit 1; done
	@for x in $(B)/win/*.exe; do echo "== wine $$x"; \
	    $(WINE_ENV) timeout 300 $(WINE) $$x > $$x.out 2>&1 || { cat $$x.out; echo "$$x failed under wine"; exit 1; }; \
	    tail -n 1 $$x.out; done

# Cortex-M0+ and M4, bare metal (KCHAN_PLATFORM_NONE) and RTOS hooks (KCHAN_PLATFORM_CUSTOM),
# without the unlimited kind (no stb_ds). The bare-metal firmware is linked with --gc-sections
# and must contain no malloc/free (it only uses kchan_create_in) and no printf (kchan_dump
# formats its own numbers: newlib-nano's printf has no %llu/%zu). Prints the .text sizes, then
# RAM per channel (KCHAN_FOOTPRINT of a bounded channel of N elements of E bytes) and each
# op's worst-case stack in bytes (tests/embedded/stack.awk over gcc's -fcallgraph-info=su;
# without the user's callback): an op that evicts nothing, and a send that evicts (drop-oldest
# or conflated with on_undelivered: it carries KCHAN_EVICT_MAX bytes more).
EMBEDDED_OPS := kchan_send kchan_recv kchan_try_send kchan_try_recv kchan_peek kchan_select kchan_send_many kchan_dump
embedded: tests/embedded/firmware.c tests/embedded/rtos_port.h tests/embedded/stack.awk kchan.h
	$(call need,$(ARMCC),gcc-arm-none-eabi (and libnewlib-arm-none-eabi))
	@mkdir -p $(B)/embedded
	@printf '%-15s %-8s %12s %16s %s\n' cpu platform "object .text" "firmware .text" "malloc linked"
	@for cpu in cortex-m0plus cortex-m4; do for p in NONE CUSTOM; do \
	    o=$(B)/embedded/fw_$${cpu}_$$p; \
	    $(ARMCC) $(EMBEDDED_FLAGS) -mcpu=$$cpu -DKCHAN_PLATFORM_$$p -fcallgraph-info=su -c tests/embedded/firmware.c -o $$o.o || exit 1; \
	    obj=$$(arm-none-eabi-size $$o.o | awk 'NR==2 {print $$1}'); fw=-; mal=-; \
	    if [ $$p = NONE ]; then \
	        $(ARMCC) $(EMBEDDED_FLAGS) -mcpu=$$cpu -DKCHAN_PLATFORM_$$p tests/embedded/firmware.c \
	            -Wl,--gc-sections --specs=nosys.specs -o $$o.elf 2>$$o.ld.log || { cat $$o.ld.log; exit 1; }; \
	        fw=$$(arm-none-eabi-size $$o.elf | awk 'NR==2 {print $$1}'); \
	        if arm-none-eabi-nm $$o.elf | grep -qE ' (malloc|free|realloc|_malloc_r)$$'; then \
	            echo "$$o.elf links malloc: a create_in-only build must not"; exit 1; fi; mal=no; \
	        if arm-none-eabi-nm $$o.elf | grep -qiE ' [a-z_]*printf[a-z_]*$$'; then \
	            echo "$$o.elf links printf: kchan_dump must format its numbers itself (newlib-nano has no %llu/%zu)"; exit 1; fi; fi; \
	    printf '%-15s %-8s %12s %16s %s\n' $$cpu $$p $$obj $$fw $$mal; done; done
	@echo "RAM per channel, KCHAN_FOOTPRINT of a bounded channel of 32 x 2-byte elements (NONE: header + N * E;"
	@echo "CUSTOM: room for either engine, header + (N + 1) * (E + 2 words), as the port may build the lock-free one)"
	@for cpu in cortex-m0plus cortex-m4; do for p in NONE CUSTOM; do \
	    o=$(B)/embedded/fw_$${cpu}_$$p; \
	    ram=$$(arm-none-eabi-nm -S -t d $$o.o | awk '$$4 == "samples_mem" {print $$2 + 0}'); \
	    printf '  %-15s %-8s %s bytes\n' $$cpu $$p $$ram; done; done
	@echo "worst-case stack per op, bytes (no eviction / a send that evicts):"
	@printf '  %-15s %-8s' cpu platform; for f in $(EMBEDDED_OPS); do printf ' %12s' $${f#kchan_}; done; echo
	@for cpu in cortex-m0plus cortex-m4; do for p in NONE CUSTOM; do \
	    o=$(B)/embedded/fw_$${cpu}_$$p; \
	    awk -v roots="$(EMBEDDED_OPS)" -v skip='_room$$' -f tests/embedded/stack.awk $$o.ci > $$o.stack || exit 1; \
	    awk -v roots="$(EMBEDDED_OPS)" -f tests/embedded/stack.awk $$o.ci > $$o.stack_evict || exit 1; \
	    printf '  %-15s %-8s' $$cpu $$p; \
	    paste -d' ' $$o.stack $$o.stack_evict | awk '{ v = ($$2 == $$4 || $$1 ~ /recv|peek|dump/) ? $$2 : $$2 "/" $$4; printf " %12s", v } \
	        $$1 ~ /send|select/ && $$4 - $$2 < 200 { bad = bad " " $$1 } \
	        END { print ""; if (bad != "") { print "the eviction room is on the stack of every" bad; exit 1 } }' || exit 1; \
	done; done

lint: kchan.h
	@awk '/memory_order_/ && !/^ *#/ { ok = 0; for (i = 1; i <= 3; i++) if (prev[i] ~ /\/\*|\/\/|\*\// ) ok = 1; \
	        if ($$0 ~ /\/\*|\/\/|\*\//) ok = 1; if (!ok) { printf "kchan.h:%d: memory_order without a comment above\n", NR; bad = 1 } } \
	      { prev[3] = prev[2]; prev[2] = prev[1]; prev[1] = $$0 } END { exit bad }' kchan.h
	@echo "lint: every memory_order_ has its reason"
	@awk '/\/\/ >>/ && !/^\/\/ >>[a-z_0-9]+/ { printf "kchan.h:%d: // >> marks section lines only (grep -n \"^// >>\" lists the sections)\n", NR; bad = 1 } END { exit bad }' kchan.h
	@echo "lint: // >> appears only on section lines"

# ---- examples ---------------------------------------------------------------------------
EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(sort $(wildcard examples/*.c)))
$(B)/examples/%: examples/%.c kchan.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(LDLIBS)
examples: $(EXAMPLES)
run-examples: examples
	@for x in $(EXAMPLES); do echo "== $$x"; $$x > $$x.out 2>&1 || { cat $$x.out; echo "$$x failed"; exit 1; }; tail -n 3 $$x.out; done

# ---- benchmarks ---------------------------------------------------------------------------
-include bench/peers.mk
-include tests/reliability.mk
BENCH_ENGINES := mutex lockfree
BENCH_OBJS := $(foreach e,$(BENCH_ENGINES),$(B)/bench/engine_$(e).o) $(B)/bench/naive_ring.o
$(B)/bench/engine_%.o: bench/engine_kchan.c bench/bench.h kchan.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O2 $(ENGINE_FLAGS_$*) -DBENCH_ENGINE=bench_engine_$* -c $< -o $@
$(B)/bench/naive_ring.o: bench/naive_ring.c bench/bench.h
	@mkdir -p $(@D)
	$(CC) $(WARN) -O2 -g -c $< -o $@
$(B)/bench/kchan_bench: bench/kchan_bench.c bench/bench.h $(BENCH_OBJS)
	$(CC) $(WARN) -O2 -g -D_GNU_SOURCE $(if $(filter lockfree,$(BENCH_ENGINES)),-DBENCH_HAVE_LOCKFREE) \
	    bench/kchan_bench.c $(BENCH_OBJS) -o $@ $(LDLIBS)
.PHONY: bench bench-quick
bench: $(B)/bench/kchan_bench
	$(B)/bench/kchan_bench
bench-quick: $(B)/bench/kchan_bench
	$(B)/bench/kchan_bench --quick --reps 1

demo:
	@$(DEPS) $(DEMO_PKGS)
	@$(MAKE) --no-print-directory run-demo
run-demo: $(B)/examples/02_pipeline
	$(B)/examples/02_pipeline

# ---- install: the header and a pkg-config file -------------------------------------------
# The version comes from kchan.h: KCHAN_VERSION_MAJOR/MINOR/PATCH if it defines them, else the
# "vX.Y" on its first line. kchan.pc pulls in stb's include dir (kchan.h includes stb_ds.h for
# unlimited channels) through Requires.private when the system has stb.pc (Debian does), so
# `pkg-config --cflags kchan` gives it without `--libs` adding stb's unrelated -lstb;
# otherwise the stb dir found at install time goes into Cflags.
PREFIX     ?= /usr/local
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(PREFIX)/share/pkgconfig
version_part = $(shell sed -n 's/^[ \t]*[#][ \t]*define[ \t][ \t]*KCHAN_VERSION_$(1)[ \t][^0-9]*\([0-9][0-9]*\).*/\1/p' kchan.h | head -n 1)
version_mmp = $(if $(and $(1),$(2),$(3)),$(1).$(2).$(3))
KCHAN_VERSION = $(or $(call version_mmp,$(call version_part,MAJOR),$(call version_part,MINOR),$(call version_part,PATCH)),$(shell sed -n '1s/.*[ \t]v\([0-9][0-9.]*\).*/\1/p' kchan.h))
HAVE_STB_PC = $(shell pkg-config --exists stb 2>/dev/null && echo yes)
.PHONY: install uninstall install-check
install: kchan.h kchan.pc.in
	@test -n "$(KCHAN_VERSION)" || { echo "install: no version found in kchan.h"; exit 1; }
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 kchan.h $(DESTDIR)$(INCLUDEDIR)/kchan.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@INCLUDEDIR@|$(if $(filter $(PREFIX)/include,$(INCLUDEDIR)),$${prefix}/include,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(KCHAN_VERSION)|' \
	    -e 's|@STB_REQUIRES@|$(if $(HAVE_STB_PC),Requires.private: stb)|' \
	    -e 's|@STB_CFLAGS@|$(if $(HAVE_STB_PC),, $(STB_INC))|' kchan.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/kchan.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/kchan.pc
uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/kchan.h $(DESTDIR)$(PKGCONFIGDIR)/kchan.pc

# make test's packaging check: a DESTDIR install lands under DESTDIR with the real prefix in
# kchan.pc, and uninstall takes it back; an install into a scratch PREFIX compiles and runs
# tests/install_check.c (an unlimited channel, so stb_ds is needed) with nothing but
# `pkg-config --cflags --libs kchan` pointed at that kchan.pc.
IC := $(abspath $(B))/install-check
install-check: tests/install_check.c
	@rm -rf $(IC) && mkdir -p $(IC)
	@$(MAKE) --no-print-directory install DESTDIR=$(IC)/stage PREFIX=/usr/local INCLUDEDIR=/usr/local/include PKGCONFIGDIR=/usr/local/share/pkgconfig >/dev/null
	@test -f $(IC)/stage/usr/local/include/kchan.h && test -f $(IC)/stage/usr/local/share/pkgconfig/kchan.pc || \
	    { echo "install-check: DESTDIR install put nothing under $(IC)/stage/usr/local"; exit 1; }
	@grep -qx 'prefix=/usr/local' $(IC)/stage/usr/local/share/pkgconfig/kchan.pc || \
	    { echo "install-check: kchan.pc must name PREFIX, not DESTDIR"; exit 1; }
	@$(MAKE) --no-print-directory uninstall DESTDIR=$(IC)/stage PREFIX=/usr/local INCLUDEDIR=/usr/local/include PKGCONFIGDIR=/usr/local/share/pkgconfig >/dev/null
	@! test -e $(IC)/stage/usr/local/include/kchan.h && ! test -e $(IC)/stage/usr/local/share/pkgconfig/kchan.pc || \
	    { echo "install-check: uninstall left files behind"; exit 1; }
	@$(MAKE) --no-print-directory install DESTDIR= PREFIX=$(IC)/prefix INCLUDEDIR=$(IC)/prefix/include PKGCONFIGDIR=$(IC)/prefix/share/pkgconfig >/dev/null
	@flags=$$(PKG_CONFIG_PATH=$(IC)/prefix/share/pkgconfig pkg-config --cflags --libs kchan) || exit 1; \
	 ver=$$(PKG_CONFIG_PATH=$(IC)/prefix/share/pkgconfig pkg-config --modversion kchan); \
	 echo "install-check: kchan $$ver: cc tests/install_check.c $$flags"; \
	 cp tests/install_check.c $(IC)/main.c && cd $(IC) && \
	 $(CC) $(WARN) -O1 main.c -o main $$flags && ./main

clean:
	rm -rf $(B)

# ---- docs: every public name of kchan.h appears in docs/API.md (issue 17) ------------------
.PHONY: api-names
api-names: tests/check_api_names.sh kchan.h docs/API.md
	sh tests/check_api_names.sh kchan.h docs/API.md
