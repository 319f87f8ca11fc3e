# Platforms: forced platform layers on Linux, Windows under wine, 32-bit, bare metal,
# C++, embedded cross builds; included by the Makefile.

# Platform layers forced on Linux: the contract suites (make check's set: all but the
# engine stress suites, which the default layer runs in make test) under ASan+UBSan, and
# under TSan where TSan can see the layer's synchronisation. It cannot for C11 (glibc's
# mtx_lock reaches the pthread mutex internally, past TSan's interceptors: every critical
# section reads as a race) nor for the custom hooks (API.md shapes their word as
# `const volatile`, not atomic). make test-platforms-full (in make stress) runs every suite.
test-posix: $(foreach e,$(ENGINES),run-check-asan-$(e)-posix run-check-tsan-$(e)-posix)
test-c11: $(foreach e,$(ENGINES),run-check-asan-$(e)-c11)
test-custom: $(foreach e,$(ENGINES),run-check-asan-$(e)-custom)
test-platforms-full: $(foreach e,$(ENGINES),run-asan-$(e)-posix run-tsan-$(e)-posix run-asan-$(e)-c11 run-asan-$(e)-custom)
.PHONY: test-posix test-c11 test-custom test-platforms-full

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

# Every example but the POSIX-only ones (07: shared memory between processes).
WIN_EXAMPLES := $(filter-out examples/07_shm_frames.c examples/08_shm_jobs.c,$(sort $(wildcard examples/*.c)))
test-win: tests/smoke.c kchan.h $(WIN_EXAMPLES)
	$(call need,$(MINGW),gcc-mingw-w64-x86-64)
	$(call need,$(WINE),wine64)
	@mkdir -p $(B)/win
	$(MINGW) $(WARN) -O2 $(STB_INC) tests/smoke.c -o $(B)/win/smoke.exe -static -lsynchronization
	@for f in $(WIN_EXAMPLES); do b=$$(basename $$f .c); \
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
