# The Criterion suite (tests/test_*.c), one binary per sanitizer x variant, and the
# runs of each; included by the Makefile (variables there: WARN, ENGINES, B, ...).

# Variants of the suite: an engine, optionally on a forced platform layer.
PLATFORM_VARIANTS := $(foreach e,$(ENGINES),$(e)-posix $(e)-c11 $(e)-custom)
$(foreach e,$(ENGINES),$(eval VFLAGS_$(e) := $(ENGINE_FLAGS_$(e))) \
    $(eval VFLAGS_$(e)-posix := $(ENGINE_FLAGS_$(e)) -DKCHAN_PLATFORM_POSIX) \
    $(eval VFLAGS_$(e)-c11 := $(ENGINE_FLAGS_$(e)) -DKCHAN_PLATFORM_C11) \
    $(eval VFLAGS_$(e)-custom := $(ENGINE_FLAGS_$(e)) -D_GNU_SOURCE) \
    $(eval IMPL_$(e)-custom := tests/custom_hooks_impl.c))
impl_of = $(or $(IMPL_$(1)),tests/kchan_impl.c)

TEST_SRCS  := $(sort $(wildcard tests/test_*.c))
# Criterion's sandbox cannot place its arena under TSan without this (see the file).
EXTRA_asan :=
EXTRA_tsan := tests/tsan_criterion_fix.c

# ---- the suite, per sanitizer x engine -------------------------------------------------
# One object per test file, so that make -j compiles them side by side, an edited test file
# rebuilds alone, and make check's binary (every suite but CHECK_SKIP) shares them with make test's.
TEST_HDRS  := $(wildcard tests/*.h)
CHECK_SKIP := stress kinds_stress ring_stress lin select_race wrap
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

# ---- process-shared channels (tests/shm_*.c) --------------------------------------------
# Suites of fork()ed processes sharing a mapping: ASan+UBSan only, one binary per engine.
# TSan sees one process (and does not support fork from a threaded parent); the suites
# check every frame's content and every count instead (tests/shm_latest.c says how).
SHM_SRCS := $(sort $(wildcard tests/shm_*.c))
SHM_KILLS ?= 150
define shm_suite
$(B)/asan-$(1)/shm_tests: $(SHM_SRCS) $(TEST_HDRS) $(B)/asan-$(1)/kchan_impl.o $(B)/asan-$(1)/alloc_hooks.o
	$(SANCC) $(WARN) $(ASAN_FLAGS) $(TEST_DEFS) $(VFLAGS_$(1)) $(SHM_SRCS) $(B)/asan-$(1)/kchan_impl.o $(B)/asan-$(1)/alloc_hooks.o -o $$@ -lcriterion $(LDLIBS)
.PHONY: run-shm-$(1)
run-shm-$(1): $(B)/asan-$(1)/shm_tests
	@echo "== shm / asan / $(1)"
	SHM_KILLS=$(SHM_KILLS) LSAN_OPTIONS=suppressions=$(abspath tests/lsan_criterion.supp) $(ASAN_ENV) $(B)/asan-$(1)/shm_tests --jobs=2
endef
$(foreach e,$(ENGINES),$(eval $(call shm_suite,$(e))))
test-shm: $(foreach e,$(ENGINES),run-shm-$(e))
.PHONY: test-shm
