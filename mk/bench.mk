# Benchmarks; included by the Makefile.

# ---- benchmarks ---------------------------------------------------------------------------
-include bench/peers.mk
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

# Timer channels' overshoot (bench/timer_accuracy.c), one binary per engine; a few seconds.
TIMER_BENCH_BINS := $(foreach e,$(BENCH_ENGINES),$(B)/bench/timer_accuracy_$(e))
$(B)/bench/timer_accuracy_%: bench/timer_accuracy.c kchan.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O2 -D_GNU_SOURCE $(ENGINE_FLAGS_$*) bench/timer_accuracy.c -o $@ $(LDLIBS)
.PHONY: bench-timers
bench-timers: $(TIMER_BENCH_BINS)
	@for e in $(BENCH_ENGINES); do $(B)/bench/timer_accuracy_$$e || exit 1; done

# The latest-value channel between processes against a pipe and a Unix socket (1 MiB frames;
# bench/shm_latest.c says what each row is). About a minute; --quick in a few seconds.
$(B)/bench/shm_latest: bench/shm_latest.c kchan.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O2 -D_GNU_SOURCE bench/shm_latest.c -o $@ $(LDLIBS)

# Bounded shared channels (kchan_create_shared) between processes against a pipe, a Unix socket
# and a POSIX message queue: SPSC and MPMC, 8 B and 4 KiB messages (bench/shm_ring.c says what
# each row is). About a minute; --quick in a few seconds. -lrt: mq_* before glibc 2.34.
$(B)/bench/shm_ring: bench/shm_ring.c kchan.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O2 -D_GNU_SOURCE bench/shm_ring.c -o $@ $(LDLIBS) -lrt
.PHONY: bench-shm
bench-shm: $(B)/bench/shm_latest $(B)/bench/shm_ring
	$(B)/bench/shm_latest
	$(B)/bench/shm_ring
