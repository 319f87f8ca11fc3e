# kchan: `make demo` runs the main example, `make test` runs everything that must stay green.
#
# make test     compile checks (C, C++, KCHAN_STATIC, type mismatch must fail), lint, then the
#               Criterion suite for every engine under ASan+UBSan and under TSan, then examples
# make asan     the suite under ASan+UBSan only     make tsan    under TSan only
# make stress   the long soaks (not part of make test)
# make lint     every memory_order_ use (outside preprocessor lines) has a comment within the three lines above

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

.PHONY: all test asan tsan stress lint demo examples compile-checks clean run-examples
all: demo

# ---- the suite, per sanitizer x engine -------------------------------------------------
define suite
$(B)/$(1)-$(2)/kchan_tests: $(TEST_SRCS) $(EXTRA_$(1)) $(call impl_of,$(2)) tests/kchan_impl.c tests/alloc_hooks.c tests/alloc_hooks.h tests/common.h tests/lfharness.h tests/wrap_hooks.h tests/wrap_cases.h kchan.h
	@mkdir -p $$(@D)
	$(SANCC) $(WARN) $($(3)) $(STB_INC) $(VFLAGS_$(2)) -c $(call impl_of,$(2)) -o $$(@D)/kchan_impl.o
	$(SANCC) $(WARN) $($(3)) $(TEST_DEFS) -c tests/alloc_hooks.c -o $$(@D)/alloc_hooks.o
	$(SANCC) $(WARN) $($(3)) $(TEST_DEFS) $(VFLAGS_$(2)) $(TEST_SRCS) $(EXTRA_$(1)) $$(@D)/kchan_impl.o $$(@D)/alloc_hooks.o \
	    -o $$@ -lcriterion $(LDLIBS)
.PHONY: run-$(1)-$(2)
run-$(1)-$(2): $(B)/$(1)-$(2)/kchan_tests
	@echo "== $(1) / $(2)"
	$(4) $(B)/$(1)-$(2)/kchan_tests --jobs=2
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

test: compile-checks lint asan tsan test-platforms reliability-ci run-examples bench-quick
	@echo "make test: all green"

stress: stress-soak $(foreach e,$(ENGINES),$(B)/tsan-$(e)/kchan_tests)
	@for e in $(ENGINES); do echo "== stress / $$e"; \
	    $(STRESS_ENV) $(B)/tsan-$$e/kchan_tests --jobs=1 --filter='stress/*' || exit 1; \
	    $(STRESS_ENV) $(B)/tsan-$$e/kchan_tests --jobs=1 --filter='order/*' || exit 1; done

# ---- compile-only checks ----------------------------------------------------------------
# C and C++ inclusion, KCHAN_STATIC warning-free with both compilers, and a file mixing two
# channel types must be rejected (its control twin, with matching types, must compile).
compile-checks: kchan.h
	@mkdir -p $(B)
	$(CC) $(WARN) $(STB_INC) -c tests/compile_c.c -o $(B)/compile_c.o
	$(CXX) -std=c++17 -Wall -Wextra -Wpedantic -Werror -c tests/compile_cpp.cpp -o $(B)/compile_cpp.o
	$(CC) $(WARN) $(STB_INC) tests/compile_cpp_impl.c $(B)/compile_cpp.o -o $(B)/compile_cpp $(LDLIBS) && $(B)/compile_cpp
	for cc in gcc clang; do $$cc $(WARN) $(STB_INC) -c tests/compile_static.c -o $(B)/compile_static.o || exit 1; done
	$(CC) $(WARN) $(STB_INC) -DKCHAN_TYPES_MATCH -c tests/compile_fail_types.c -o $(B)/compile_fail_types.o
	@if $(CC) $(WARN) $(STB_INC) -c tests/compile_fail_types.c -o $(B)/compile_fail_types.o 2>/dev/null; then \
	    echo "compile_fail_types.c compiled: mixing two channel types was not diagnosed"; exit 1; \
	 else echo "ok: mixing two channel types is a compile error"; fi

# ---- platforms: Windows under wine, 32-bit, bare metal, C++, embedded cross builds ---------
# Each names the Debian package that provides a missing tool (.ci/run installs them).
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
	@echo "RAM per channel, bounded N x E bytes: KCHAN_FOOTPRINT = header + N * E"
	@for cpu in cortex-m0plus cortex-m4; do for p in NONE CUSTOM; do \
	    o=$(B)/embedded/fw_$${cpu}_$$p; \
	    ram=$$(arm-none-eabi-nm -S -t d $$o.o | awk '$$4 == "samples_mem" {print $$2 - 32 * 2}'); \
	    printf '  %-15s %-8s %s + N * E\n' $$cpu $$p $$ram; done; done
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

demo: $(B)/examples/02_pipeline
	$(B)/examples/02_pipeline

clean:
	rm -rf $(B)
