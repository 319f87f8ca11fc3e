# kchan: `make demo` runs the main example, `make test` runs everything that must stay green.
#
# make demo     installs what the demo lacks (a C compiler, libc6-dev, libstb-dev), then runs it
# make test     installs what the gate lacks (TEST_PKGS below), then compile checks (C, C++,
#               KCHAN_STATIC, type mismatch must fail), lint, the Criterion suite for every
#               engine under ASan+UBSan and under TSan, the process-shared suites (ASan),
#               platforms, fuzz, examples, install-check
# make check    the fast inner loop: lint, then the contract suites (all but CHECK_SKIP) on
#               both engines under ASan+UBSan (about 1-2 minutes from a clean build dir)
# make asan     the suite under ASan+UBSan only     make tsan    under TSan only
# make stress   the long soaks and the 2000-round kill campaign (not part of make test)
# make lint     every memory_order_ use (outside preprocessor lines) has a comment within the three lines above
# make install  kchan.h into $(PREFIX)/include, kchan.pc into $(PREFIX)/share/pkgconfig
#               (PREFIX=/usr/local, DESTDIR honoured); make uninstall removes both
#
# The rules live in mk/*.mk by concern (the include lines below say which holds what); this
# file keeps the shared variables and the entry points.
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

# Engines: every suite, soak, fuzz and bench rule loops over these.
ENGINES := mutex lockfree
ENGINE_FLAGS_mutex :=
ENGINE_FLAGS_lockfree := -DKCHAN_LOCKFREE

ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TSAN_FLAGS := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# Tests may use POSIX/GNU extras (barriers, sched_yield); the header must not need them.
TEST_DEFS  := -D_GNU_SOURCE

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

# ---- the rules, by concern -------------------------------------------------------------
include mk/suite.mk      # the Criterion suite per sanitizer x engine/platform variant: asan, tsan
include mk/checks.mk     # compile-checks, lint, api-names, install, uninstall, install-check
include mk/platforms.mk  # test-platforms: test-posix/c11/custom/none/32/cpp/win, embedded
include mk/examples.mk   # examples, run-examples
include mk/bench.mk      # bench, bench-quick (bench/peers.mk: bench-peers, bench-instr, bench-plot)
include mk/reliability.mk # fuzz, reliability-ci, soak, stress-soak

# ---- entry points ----------------------------------------------------------------------
# The entry points install what they lack first (.ci/deps), then run their targets in a second
# make, so that nothing is built before the packages are there, even under make -j.
# The suite binaries build two at a time first (compiling is most of the gate's time on 2
# cores); the runs that follow go one after another, each using both cores itself.
# The forced platform layers run make check's suites only (mk/platforms.mk), so only those
# are built for them: compiling the stress suites for 8 more variants cost the gate minutes.
TEST_BINS := $(foreach v,$(ENGINES),$(B)/asan-$(v)/kchan_tests $(B)/tsan-$(v)/kchan_tests) \
             $(foreach v,$(PLATFORM_VARIANTS),$(B)/asan-$(v)/check_tests) \
             $(foreach e,$(ENGINES),$(B)/tsan-$(e)-posix/check_tests) \
             $(foreach e,$(ENGINES),$(B)/asan-$(e)/shm_tests)
test:
	@$(DEPS) $(TEST_PKGS)
	@$(MAKE) --no-print-directory -j2 -Otarget test-bins
	@$(MAKE) --no-print-directory test-gate
test-bins: $(TEST_BINS)
test-gate: compile-checks lint api-names asan tsan test-shm test-platforms reliability-ci run-examples bench-quick install-check
	@echo "make test: all green"

# Both engines' binaries build and run side by side (-j$(CHECK_JOBS) unless make -j was given).
CHECK_JOBS ?= 2
check:
	@$(DEPS) $(CHECK_PKGS)
	@$(MAKE) --no-print-directory $(if $(filter -j%,$(MAKEFLAGS)),,-j$(CHECK_JOBS)) -Otarget check-run
check-run: lint $(foreach e,$(ENGINES),run-check-asan-$(e))
	@echo "make check: green (make test is the full gate)"

stress: stress-soak test-platforms-full $(foreach e,$(ENGINES),$(B)/tsan-$(e)/kchan_tests)
	@$(MAKE) --no-print-directory test-shm SHM_KILLS=2000
	@for e in $(ENGINES); do echo "== stress / $$e"; \
	    $(STRESS_ENV) $(B)/tsan-$$e/kchan_tests --jobs=1 --filter='stress/*' || exit 1; \
	    $(STRESS_ENV) $(B)/tsan-$$e/kchan_tests --jobs=1 --filter='order/*' || exit 1; done

demo:
	@$(DEPS) $(DEMO_PKGS)
	@$(MAKE) --no-print-directory run-demo
run-demo: $(B)/examples/02_pipeline
	$(B)/examples/02_pipeline

clean:
	rm -rf $(B)
