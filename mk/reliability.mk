# Reliability harnesses (issue 6), included by the Makefile. Everything loops over $(ENGINES).
#
# make fuzz            libFuzzer model check, FUZZ_SECONDS (default 60) per engine
# make reliability-ci  the same for FUZZ_CI_SECONDS (default 30) per engine: `make test` runs it
#                      (30, not 60: the gate must stay under CI's 15 minutes with both shm suites; a clean-clone run of 7f1c81d with 45 took 887 s)
# make stress-soak     per engine: tests/soak.c under TSan for SOAK_SECONDS (default 60), then
#                      the ASan+UBSan build in volume mode until SOAK_MESSAGES (default 10^8)
#                      messages were accepted and checked (fails if SOAK_MAX_SECONDS pass
#                      first); `make stress` runs it. soak-asan-<engine> is the timed ASan soak.
# The Criterion suites tests/test_lin.c (lin) and tests/test_faults.c (faults) join the main
# suite by its tests/test_*.c wildcard; KCHAN_STRESS=1 (make stress) makes lin check thousands
# of histories instead of a few hundred.

FUZZ_SECONDS    ?= 60
FUZZ_CI_SECONDS ?= 30
SOAK_SECONDS    ?= 60
SOAK_MESSAGES   ?= 100000000
SOAK_MAX_SECONDS ?= 1500
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_RUN_FLAGS := -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 -max_len=4096
SOAK_ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
SOAK_TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

.PHONY: fuzz reliability-ci stress-soak soak

# ---- fuzzer, per engine ----------------------------------------------------------------------
define fuzz_engine
$(B)/fuzz-$(1)/fuzz_model: tests/fuzz/fuzz_model.c tests/kchan_impl.c tests/alloc_hooks.c tests/alloc_hooks.h kchan.h mk/reliability.mk
	@mkdir -p $$(@D)
	$(SANCC) $(WARN) $(FUZZ_FLAGS) $(STB_INC) $(ENGINE_FLAGS_$(1)) -c tests/kchan_impl.c -o $$(@D)/kchan_impl.o
	$(SANCC) $(WARN) $(FUZZ_FLAGS) $(TEST_DEFS) -c tests/alloc_hooks.c -o $$(@D)/alloc_hooks.o
	$(SANCC) $(WARN) $(FUZZ_FLAGS) $(TEST_DEFS) $(ENGINE_FLAGS_$(1)) tests/fuzz/fuzz_model.c $$(@D)/kchan_impl.o $$(@D)/alloc_hooks.o -o $$@ $(LDLIBS)
.PHONY: fuzz-$(1) fuzz-ci-$(1)
fuzz-$(1): $(B)/fuzz-$(1)/fuzz_model
	@mkdir -p $(B)/fuzz-$(1)/corpus
	@echo "== fuzz / $(1) engine, $(FUZZ_SECONDS) s"
	$(SOAK_ASAN_ENV) $(B)/fuzz-$(1)/fuzz_model $(FUZZ_RUN_FLAGS) -max_total_time=$(FUZZ_SECONDS) \
	    -artifact_prefix=$(B)/fuzz-$(1)/ $(B)/fuzz-$(1)/corpus tests/fuzz/corpus
fuzz-ci-$(1): $(B)/fuzz-$(1)/fuzz_model
	@mkdir -p $(B)/fuzz-$(1)/corpus
	@echo "== reliability-ci fuzz / $(1) engine, $(FUZZ_CI_SECONDS) s"
	$(SOAK_ASAN_ENV) $(B)/fuzz-$(1)/fuzz_model $(FUZZ_RUN_FLAGS) -max_total_time=$(FUZZ_CI_SECONDS) \
	    -artifact_prefix=$(B)/fuzz-$(1)/ $(B)/fuzz-$(1)/corpus tests/fuzz/corpus
endef
$(foreach e,$(ENGINES),$(eval $(call fuzz_engine,$(e))))

fuzz: $(foreach e,$(ENGINES),fuzz-$(e))
reliability-ci: $(foreach e,$(ENGINES),fuzz-ci-$(e))

# ---- soak, per engine x sanitizer; stress-soak also runs the lin suite with KCHAN_STRESS ------
define soak_build
$(B)/soak-$(1)-$(2)/soak: tests/soak.c tests/mpmc_harness.h tests/kchan_impl.c tests/alloc_hooks.c tests/alloc_hooks.h kchan.h mk/reliability.mk
	@mkdir -p $$(@D)
	$(SANCC) $(WARN) $($(3)) $(STB_INC) $(ENGINE_FLAGS_$(2)) -c tests/kchan_impl.c -o $$(@D)/kchan_impl.o
	$(SANCC) $(WARN) $($(3)) $(TEST_DEFS) -c tests/alloc_hooks.c -o $$(@D)/alloc_hooks.o
	$(SANCC) $(WARN) $($(3)) $(TEST_DEFS) $(ENGINE_FLAGS_$(2)) tests/soak.c $$(@D)/kchan_impl.o $$(@D)/alloc_hooks.o -o $$@ $(LDLIBS)
.PHONY: soak-$(1)-$(2)
soak-$(1)-$(2): $(B)/soak-$(1)-$(2)/soak
	@echo "== soak / $(1) / $(2) engine, $(SOAK_SECONDS) s"
	$(4) $(B)/soak-$(1)-$(2)/soak $(SOAK_SECONDS)
endef
$(foreach e,$(ENGINES),$(eval $(call soak_build,tsan,$(e),TSAN_FLAGS,$(SOAK_TSAN_ENV))))
$(foreach e,$(ENGINES),$(eval $(call soak_build,asan,$(e),ASAN_FLAGS,$(SOAK_ASAN_ENV))))

define soak_volume
.PHONY: soak-volume-$(1)
soak-volume-$(1): $(B)/soak-asan-$(1)/soak
	@echo "== soak volume / asan / $(1) engine, $(SOAK_MESSAGES) messages"
	$(SOAK_ASAN_ENV) $(B)/soak-asan-$(1)/soak --messages $(SOAK_MESSAGES) --max-seconds $(SOAK_MAX_SECONDS)
endef
$(foreach e,$(ENGINES),$(eval $(call soak_volume,$(e))))

define lin_stress
.PHONY: lin-stress-$(1)
lin-stress-$(1): $(B)/tsan-$(1)/kchan_tests
	@echo "== lin (KCHAN_STRESS) / tsan / $(1) engine"
	KCHAN_STRESS=1 $(SOAK_TSAN_ENV) $(B)/tsan-$(1)/kchan_tests --jobs=1 --filter='lin/*'
endef
$(foreach e,$(ENGINES),$(eval $(call lin_stress,$(e))))

soak: $(foreach e,$(ENGINES),soak-tsan-$(e) soak-volume-$(e))
stress-soak: soak $(foreach e,$(ENGINES),lin-stress-$(e))
