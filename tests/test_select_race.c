/* Select is linearizable (API.md "Select"): a select returns KCHAN_WOULDBLOCK only if at
   some instant during the call no case could complete, and KCHAN_TIMEDOUT only if at some
   instant at or after its deadline none could.

   Go's TestNonblockSelectRace, re-expressed: per round two fresh channels c1, c2; the main
   thread sends on c1; then, released together, thread A selects {recv c1, recv c2} and the
   main thread sends on c2 and then try-receives c1. At every instant one of the two holds
   an element (c1 until the main thread takes it, c2 from before that), so A's select must
   always complete. Variants: bounded-1 and unlimited channels, one lock-free and one
   mutex-engine channel in the same select (a zero-size element keeps a channel on the mutex
   engine in a KCHAN_LOCKFREE build), and a positive timeout short enough to expire inside
   the select. The rounds synchronise through a two-thread spin/yield barrier, so that both
   sides really start together and a round costs microseconds, not a futex wake.

   `make test` runs a few thousand rounds per variant; `make stress` (KCHAN_STRESS=1) runs
   100,000 per variant, in slices of SLICE rounds so each test stays under T_TIMEOUT. */
#include "common.h"
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

enum { ROUNDS_QUICK = 3000, ROUNDS_STRESS = 100000, SLICE = 25000 };

typedef struct {
    atomic_uint arrived;      /* two-thread barrier: count of arrivals this generation */
    atomic_uint generation;
} sr_barrier;

static void sr_wait(sr_barrier *b)
{
    /* seq_cst throughout: a test barrier, ordering is all it is for. */
    unsigned gen = atomic_load(&b->generation);
    if (atomic_fetch_add(&b->arrived, 1) == 1) {
        atomic_store(&b->arrived, 0);
        atomic_fetch_add(&b->generation, 1);
        return;
    }
    for (unsigned spins = 0; atomic_load(&b->generation) == gen; spins++)
        if (spins > 64) sched_yield();
}

/* A random delay of up to ~1,000 loop turns (about as long as a select takes), on each side, so that the
   rounds sample every interleaving of the select's look at each channel with the main
   thread's send and receive; without it the side that leaves the barrier first nearly
   always finishes before the other starts. */
static void sr_jitter(uint32_t rng)
{
    for (volatile uint32_t i = 0; i < (rng & 1023u); i++) {}
}

enum { SR_MAX_EMPTY = 6 };
typedef struct {
    sr_barrier start, end;
    kchan_t *c1, *c2;
    kchan_t *empty[SR_MAX_EMPTY];   /* always-empty channels: more cases widen the race */
    int n_empty;
    int64_t timeout_ns;
    long rounds;
    long misses;              /* selects that returned without completing a case */
    int last_bad;             /* the last such status */
} sr_race;

/* Each side on its own core where there are two: if the scheduler put both threads on one
   core, every round would run one side to the end before the other starts. */
static void sr_pin(int cpu)
{
    cpu_set_t set;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);   /* best effort */
}

static void *sr_selector(void *p)
{
    sr_race *r = (sr_race *)p;
    sr_pin(1);
    uint32_t rng = 0x2545f491u;
    for (long i = 0; i < r->rounds; i++) {
        int64_t v1 = 0, v2 = 0, ve = 0;
        rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
        sr_wait(&r->start);
        sr_jitter(rng);
        kchan_case cs[2 + SR_MAX_EMPTY] = {
            { r->c1, KCHAN_OP_RECV, &v1, -99 },
            { r->c2, KCHAN_OP_RECV, &v2, -99 },
        };
        for (int e = 0; e < r->n_empty; e++) {
            kchan_case k = { r->empty[e], KCHAN_OP_RECV, &ve, -99 };
            cs[2 + e] = k;
        }
        int w = kchan_select(cs, 2 + (size_t)r->n_empty, r->timeout_ns);
        if (w < 0) { r->misses++; r->last_bad = w; }
        else if (cs[w].status != KCHAN_OK) { r->misses++; r->last_bad = cs[w].status; }
        sr_wait(&r->end);
    }
    return NULL;
}

static kchan_t *sr_chan(size_t elem_size, size_t cap)
{
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = cap };
    cr_assert_eq(kchan_create(&c, elem_size, &o), KCHAN_OK);
    return c;
}

/* One run of `rounds` rounds; c2 has elements of size elem2 (0: a mutex-engine channel);
   the select has n_empty more cases on channels that stay empty. */
static void sr_run(size_t cap, size_t elem2, int n_empty, int64_t timeout_ns, long rounds, const char *what)
{
    sr_race *r = (sr_race *)calloc(1, sizeof *r);
    cr_assert_not_null(r);
    r->timeout_ns = timeout_ns;
    r->rounds = rounds;
    r->n_empty = n_empty;
    for (int e = 0; e < n_empty; e++) r->empty[e] = sr_chan(sizeof(int64_t), cap);
    pthread_t t = t_spawn(sr_selector, r);
    sr_pin(0);                 /* each Criterion test is its own process: nothing to restore */
    long taken_by_main = 0;
    uint32_t rng = 0x9e3779b9u;
    for (long i = 0; i < rounds; i++) {
        int64_t one = 1, got = 0;
        rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
        r->c1 = sr_chan(sizeof(int64_t), cap);
        r->c2 = sr_chan(elem2, cap);
        cr_assert_eq(kchan_try_send(r->c1, &one), KCHAN_OK);
        sr_wait(&r->start);
        sr_jitter(rng);
        cr_assert_eq(kchan_try_send(r->c2, &one), KCHAN_OK);
        if (kchan_try_recv(r->c1, &got) == KCHAN_OK) taken_by_main++;
        sr_wait(&r->end);
        kchan_destroy(r->c1);
        kchan_destroy(r->c2);
    }
    t_join(t);
    for (int e = 0; e < n_empty; e++) {
        cr_assert_eq(kchan_len(r->empty[e]), 0);
        kchan_destroy(r->empty[e]);
    }
    cr_log_info("select race %s: %ld rounds, the main thread took c1 first in %ld, %ld misses",
                what, rounds, taken_by_main, r->misses);
    cr_assert_eq(r->misses, 0, "%s: %ld of %ld selects found nothing ready (last status %d)",
                 what, r->misses, rounds, r->last_bad);
    free(r);
}

#define US (INT64_C(1000))

/* Each variant: (name, capacity, c2's element size, empty cases, timeout, description). */
#define SR_VARIANTS(X)                                                                    \
    X(bounded,        1,               8, 0, 0,      "bounded-1, 2 cases, timeout 0")       \
    X(bounded_wide,   1,               8, 6, 0,      "bounded-1, 8 cases, timeout 0")       \
    X(unlimited,      KCHAN_UNLIMITED, 8, 0, 0,      "unlimited, 2 cases, timeout 0")       \
    X(unlimited_wide, KCHAN_UNLIMITED, 8, 6, 0,      "unlimited, 8 cases, timeout 0")       \
    X(mixed_engines,  1,               0, 6, 0,      "bounded-1 + zero-size, 8 cases, timeout 0") \
    X(timeout,        1,               8, 6, 2 * US, "bounded-1, 8 cases, timeout 2 us")    \
    X(timeout_unlimited, KCHAN_UNLIMITED, 8, 6, 2 * US, "unlimited, 8 cases, timeout 2 us")

#define SR_QUICK(name, cap_, elem2_, empty_, tmo_, what_)                                  \
    Test(select_race, name, .timeout = T_TIMEOUT) { sr_run(cap_, elem2_, empty_, tmo_, ROUNDS_QUICK, what_); }
SR_VARIANTS(SR_QUICK)

/* ---- make stress: 100,000 rounds per variant, in four tests of SLICE rounds --------- */

static void sr_stress(size_t cap, size_t elem2, int n_empty, int64_t timeout_ns, const char *what)
{
    if (!getenv("KCHAN_STRESS")) { cr_log_info("select race soak not run: set KCHAN_STRESS (make stress)"); return; }
    sr_run(cap, elem2, n_empty, timeout_ns, SLICE, what);
}

_Static_assert(4 * SLICE == ROUNDS_STRESS, "four slices make the stress round count");
#define SR_SLICES(name, cap_, elem2_, empty_, tmo_, what_)                                                      \
    Test(stress, select_race_##name##_1, .timeout = T_TIMEOUT) { sr_stress(cap_, elem2_, empty_, tmo_, what_); } \
    Test(stress, select_race_##name##_2, .timeout = T_TIMEOUT) { sr_stress(cap_, elem2_, empty_, tmo_, what_); } \
    Test(stress, select_race_##name##_3, .timeout = T_TIMEOUT) { sr_stress(cap_, elem2_, empty_, tmo_, what_); } \
    Test(stress, select_race_##name##_4, .timeout = T_TIMEOUT) { sr_stress(cap_, elem2_, empty_, tmo_, what_); }
SR_VARIANTS(SR_SLICES)
