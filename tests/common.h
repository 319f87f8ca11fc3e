/* Shared by every Criterion suite. Each test runs in its own process (Criterion
   forks), so the allocator counters start from zero in every test. */
#ifndef KCHAN_TEST_COMMON_H
#define KCHAN_TEST_COMMON_H
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include "../kchan.h"
#include "alloc_hooks.h"

/* Criterion timeout (seconds) for every test: a deadlock fails instead of hanging. */
#define T_TIMEOUT 20

/* Records on_undelivered calls: pass &rec as opts.user, t_record as the callback.
   Elements are read as int64_t when elem_size == 8, as int when 4. */
typedef struct {
    atomic_long calls;
    atomic_long nulls;        /* calls with elem == NULL (zero-size channels) */
    size_t elem_size;
    long long values[4096];   /* the first 4096 values, in call order */
    atomic_long n_values;
} t_recorder;

static inline void t_record(void *elem, void *user)
{
    t_recorder *r = (t_recorder *)user;
    atomic_fetch_add_explicit(&r->calls, 1, memory_order_relaxed);
    if (!elem) { atomic_fetch_add_explicit(&r->nulls, 1, memory_order_relaxed); return; }
    long i = atomic_fetch_add_explicit(&r->n_values, 1, memory_order_relaxed);
    long long v = 0;
    if (r->elem_size == 8) { int64_t x; memcpy(&x, elem, 8); v = x; }
    else if (r->elem_size == 4) { int x; memcpy(&x, elem, 4); v = x; }
    if (i < 4096) r->values[i] = v;
}

/* A channel of `cap` elements of `elem_size` bytes, created or the test fails. */
static inline kchan_t *t_chan(size_t elem_size, size_t cap)
{
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = cap };
    cr_assert_eq(kchan_create(&c, elem_size, &o), KCHAN_OK);
    cr_assert_not_null(c);
    return c;
}

/* The channel's stats as a value. */
static inline kchan_stats t_stats(const kchan_t *c)
{
    kchan_stats s;
    kchan_stats_get(c, &s);
    return s;
}

/* A blocking receive of one int64_t on another thread: spawn t_recv_thread with a t_op. */
typedef struct {
    kchan_t *c;
    int64_t v;
    int rc;
} t_op;

static inline void *t_recv_thread(void *p)
{
    t_op *a = (t_op *)p;
    a->rc = kchan_recv(a->c, &a->v);
    return NULL;
}

/* Start/join helpers. */
static inline pthread_t t_spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fn, arg), 0);
    return t;
}
static inline void *t_join(pthread_t t)
{
    void *r = NULL;
    cr_assert_eq(pthread_join(t, &r), 0);
    return r;
}

/* Wait (bounded, without sleeping as proof of anything) until the channel shows
   `n` parked receivers / senders: lets a test know a thread is really blocked. */
static inline void t_wait_receivers(kchan_t *c, uint32_t n)
{
    kchan_stats s;
    for (;;) { kchan_stats_get(c, &s); if (s.waiting_receivers >= n) return; sched_yield(); }
}
static inline void t_wait_senders(kchan_t *c, uint32_t n)
{
    kchan_stats s;
    for (;;) { kchan_stats_get(c, &s); if (s.waiting_senders >= n) return; sched_yield(); }
}
#endif
