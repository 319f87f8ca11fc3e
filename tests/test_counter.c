/* Progress counters (API.md "Progress counters"): init, add/load/store,
   layout, wait_ge in all its outcomes, wake-ups from other threads, ordered
   commit through wait_ge, and no allocation. */
#include "common.h"
#include <stdalign.h>
#include <stdint.h>

#define MS (INT64_C(1000000))

static kchan_counter g_static_counter = KCHAN_COUNTER_INIT(5);

/* White-box hint only: the counter's own record of threads inside wait_ge.
   Polled (bounded, 2 s) so a wake-up test usually starts with the waiter really
   parked; the tests stay correct (only less sharp) if it is never seen. */
static void wait_counter_waiter(kchan_counter *k)
{
    int64_t end = kchan_now_ns() + 2000 * MS;
    while (__atomic_load_n(&k->waiters__, __ATOMIC_ACQUIRE) == 0 && kchan_now_ns() < end)
        sched_yield();
}

Test(counter, static_initializer, .timeout = T_TIMEOUT)
{
    cr_assert_eq(kchan_counter_load(&g_static_counter), 5);
    kchan_counter local = KCHAN_COUNTER_INIT(-3);
    cr_assert_eq(kchan_counter_load(&local), -3);
    kchan_counter big = KCHAN_COUNTER_INIT(INT64_MAX - 1);
    cr_assert_eq(kchan_counter_load(&big), INT64_MAX - 1);
    cr_assert_eq(kchan_counter_add(&big, 1), INT64_MAX);
}

Test(counter, init_add_load_store, .timeout = T_TIMEOUT)
{
    kchan_counter k;
    memset(&k, 0xab, sizeof k);                 /* init must not depend on prior contents */
    kchan_counter_init(&k, 42);
    cr_assert_eq(kchan_counter_load(&k), 42);
    cr_assert_eq(kchan_counter_add(&k, 5), 47, "add returns the new value");
    cr_assert_eq(kchan_counter_add(&k, -10), 37);
    cr_assert_eq(kchan_counter_add(&k, 0), 37);
    cr_assert_eq(kchan_counter_load(&k), 37);
    kchan_counter_store(&k, 100);
    cr_assert_eq(kchan_counter_load(&k), 100);
    kchan_counter_store(&k, -7);
    cr_assert_eq(kchan_counter_load(&k), -7);
    cr_assert_eq(kchan_counter_add(&k, 8), 1);
    kchan_counter_init(&k, 0);
    cr_assert_eq(kchan_counter_load(&k), 0);
}

Test(counter, layout_one_cache_line, .timeout = T_TIMEOUT)
{
    cr_assert_eq(sizeof(kchan_counter), 64);
    cr_assert_eq(alignof(kchan_counter), 64);
    cr_assert_eq(_Alignof(kchan_counter), 64);
    struct { char c; kchan_counter k; char d; } embed;
    cr_assert_eq((uintptr_t)&embed.k % 64, 0, "embedded counter is 64-aligned");
    kchan_counter arr[3];
    cr_assert_eq((uintptr_t)&arr[0] % 64, 0);
    cr_assert_eq((uintptr_t)&arr[1] - (uintptr_t)&arr[0], 64);
    /* neighbours do not share state */
    kchan_counter_init(&arr[0], 1);
    kchan_counter_init(&arr[1], 2);
    kchan_counter_init(&arr[2], 3);
    cr_assert_eq(kchan_counter_add(&arr[1], 10), 12);
    cr_assert_eq(kchan_counter_load(&arr[0]), 1);
    cr_assert_eq(kchan_counter_load(&arr[2]), 3);
    embed.c = 0; embed.d = 0;
    cr_assert_eq(embed.c + embed.d, 0);
}

Test(counter, wait_ge_already_reached, .timeout = T_TIMEOUT)
{
    kchan_counter k = KCHAN_COUNTER_INIT(10);
    int64_t t0 = kchan_now_ns();
    cr_assert_eq(kchan_counter_wait_ge(&k, 10, 0), KCHAN_OK);
    cr_assert_eq(kchan_counter_wait_ge(&k, 9, 0), KCHAN_OK);
    cr_assert_eq(kchan_counter_wait_ge(&k, -100, 0), KCHAN_OK);
    cr_assert_eq(kchan_counter_wait_ge(&k, 10, 50 * MS), KCHAN_OK);
    cr_assert_eq(kchan_counter_wait_ge(&k, 10, KCHAN_FOREVER), KCHAN_OK);
    cr_assert_eq(kchan_counter_wait_ge(&k, 10, -12345), KCHAN_INVAL, "only KCHAN_FOREVER is a negative timeout");
    cr_assert_eq(kchan_counter_wait_ge(&k, 1, INT64_MAX), KCHAN_OK);
    cr_assert_lt(kchan_now_ns() - t0, 40 * MS, "ready waits must not wait");
    cr_assert_eq(kchan_counter_load(&k), 10, "wait_ge does not change the value");
}

Test(counter, wait_ge_try_would_block, .timeout = T_TIMEOUT)
{
    kchan_counter k = KCHAN_COUNTER_INIT(10);
    cr_assert_eq(kchan_counter_wait_ge(&k, 11, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_counter_wait_ge(&k, INT64_MAX, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_counter_add(&k, 1), 11);
    cr_assert_eq(kchan_counter_wait_ge(&k, 11, 0), KCHAN_OK);
}

Test(counter, wait_ge_times_out, .timeout = T_TIMEOUT)
{
    kchan_counter k = KCHAN_COUNTER_INIT(0);
    int64_t t0 = kchan_now_ns();
    cr_assert_eq(kchan_counter_wait_ge(&k, 1, 20 * MS), KCHAN_TIMEDOUT);
    int64_t el = kchan_now_ns() - t0;
    cr_assert_geq(el, 20 * MS, "returned after %lld ns, before the timeout", (long long)el);
    cr_assert_lt(el, 1000 * MS, "timed out far too late: %lld ns", (long long)el);
    cr_assert_eq(kchan_counter_load(&k), 0);
}

Test(counter, null_is_inval, .timeout = T_TIMEOUT)
{
    cr_assert_eq(kchan_counter_wait_ge(NULL, 0, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_counter_wait_ge(NULL, 1, 10 * MS), KCHAN_INVAL);
}

typedef struct {
    kchan_counter *k;
    int64_t target;
    int64_t timeout;
    int rc;
    int64_t seen;
} waiter_arg;

static void *waiter_main(void *p)
{
    waiter_arg *a = p;
    a->rc = kchan_counter_wait_ge(a->k, a->target, a->timeout);
    a->seen = kchan_counter_load(a->k);
    return NULL;
}

Test(counter, woken_by_add, .timeout = T_TIMEOUT)
{
    kchan_counter k = KCHAN_COUNTER_INIT(0);
    waiter_arg a = { &k, 3, KCHAN_FOREVER, -99, 0 };
    pthread_t t = t_spawn(waiter_main, &a);
    wait_counter_waiter(&k);
    cr_assert_eq(kchan_counter_add(&k, 1), 1);   /* not enough yet */
    cr_assert_eq(kchan_counter_add(&k, 2), 3);   /* reaches the target */
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK);
    cr_assert_geq(a.seen, 3);
}

Test(counter, woken_by_store, .timeout = T_TIMEOUT)
{
    kchan_counter k = KCHAN_COUNTER_INIT(0);
    waiter_arg a = { &k, 100, 10000 * MS, -99, 0 };   /* long positive timeout */
    pthread_t t = t_spawn(waiter_main, &a);
    wait_counter_waiter(&k);
    kchan_counter_store(&k, 50);
    kchan_counter_store(&k, 150);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK);
    cr_assert_eq(a.seen, 150);
}

Test(counter, several_waiters_all_woken, .timeout = T_TIMEOUT)
{
    enum { W = 4 };
    kchan_counter k = KCHAN_COUNTER_INIT(0);
    waiter_arg a[W];
    pthread_t t[W];
    for (int i = 0; i < W; i++) {
        a[i] = (waiter_arg){ &k, i + 1, KCHAN_FOREVER, -99, 0 };
        t[i] = t_spawn(waiter_main, &a[i]);
    }
    wait_counter_waiter(&k);
    for (int i = 0; i < W; i++) cr_assert_eq(kchan_counter_add(&k, 1), i + 1);
    for (int i = 0; i < W; i++) {
        t_join(t[i]);
        cr_assert_eq(a[i].rc, KCHAN_OK);
        cr_assert_geq(a[i].seen, i + 1);
    }
}

/* Ordered commit: 4 threads own the sequence numbers i = t (mod 4); each waits
   until the counter equals its number, appends it to a shared (plain, unlocked)
   log and adds 1. The counter is the only synchronisation, so TSan also checks
   that wait_ge/add order the log writes. */
enum { COMMIT_THREADS = 4, COMMIT_N = 20000 };
typedef struct {
    kchan_counter next;
    int log[COMMIT_N];
    int log_len;
    atomic_int errors;
} commit_state;
typedef struct { commit_state *s; int t; } commit_arg;

static void *commit_main(void *p)
{
    commit_arg *a = p;
    commit_state *s = a->s;
    for (int seq = a->t; seq < COMMIT_N; seq += COMMIT_THREADS) {
        if (kchan_counter_wait_ge(&s->next, seq, KCHAN_FOREVER) != KCHAN_OK) {
            atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
            return NULL;
        }
        if (kchan_counter_load(&s->next) != seq)   /* only this thread may move it on */
            atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
        s->log[s->log_len++] = seq;
        if (kchan_counter_add(&s->next, 1) != seq + 1)
            atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
    }
    return NULL;
}

Test(counter, ordered_commit, .timeout = T_TIMEOUT)
{
    static commit_state s;
    kchan_counter_init(&s.next, 0);
    s.log_len = 0;
    atomic_init(&s.errors, 0);
    int64_t allocs = test_alloc_calls();
    commit_arg a[COMMIT_THREADS];
    pthread_t t[COMMIT_THREADS];
    for (int i = COMMIT_THREADS - 1; i >= 0; i--) {   /* start the later owners first */
        a[i] = (commit_arg){ &s, i };
        t[i] = t_spawn(commit_main, &a[i]);
    }
    for (int i = 0; i < COMMIT_THREADS; i++) t_join(t[i]);
    cr_assert_eq(atomic_load(&s.errors), 0);
    cr_assert_eq(kchan_counter_load(&s.next), COMMIT_N);
    cr_assert_eq(s.log_len, COMMIT_N);
    for (int i = 0; i < COMMIT_N; i++)
        cr_assert_eq(s.log[i], i, "log[%d] = %d: out of order or missing", i, s.log[i]);
    cr_assert_eq(test_alloc_calls(), allocs, "the counter allocated");
}

Test(counter, no_allocation, .timeout = T_TIMEOUT)
{
    int64_t allocs = test_alloc_calls();
    kchan_counter k;
    kchan_counter_init(&k, 0);
    for (int i = 0; i < 1000; i++) cr_assert_eq(kchan_counter_add(&k, 1), i + 1);
    kchan_counter_store(&k, 7);
    cr_assert_eq(kchan_counter_wait_ge(&k, 8, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_counter_wait_ge(&k, 8, 2 * MS), KCHAN_TIMEDOUT);
    for (int round = 0; round < 20; round++) {
        waiter_arg a = { &k, kchan_counter_load(&k) + 1, KCHAN_FOREVER, -99, 0 };
        pthread_t t = t_spawn(waiter_main, &a);
        wait_counter_waiter(&k);
        (void)kchan_counter_add(&k, 1);
        t_join(t);
        cr_assert_eq(a.rc, KCHAN_OK);
    }
    cr_assert_eq(test_alloc_calls(), allocs, "the counter allocated");
}
