/* kchan behind the bench interface. Built once per engine: the Makefile passes
   -DBENCH_ENGINE=bench_engine_mutex (or _lockfree with -DKCHAN_LOCKFREE). KCHAN_STATIC
   keeps each build's symbols private, so both engines live in one benchmark process. */
#include <stddef.h>
static void *count_malloc(size_t sz);
static void *count_realloc(void *p, size_t sz);
static void count_free(void *p);
#define KCHAN_MALLOC(sz)     count_malloc(sz)
#define KCHAN_REALLOC(p, sz) count_realloc((p), (sz))
#define KCHAN_FREE(p)        count_free(p)
#define KCHAN_STATIC
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"
#include <stdatomic.h>
#include <stdlib.h>

/* A counting allocator for the memory figures: every block carries its size. Relaxed
   counters: read only between runs, after the threads are joined. */
static atomic_llong alloc_calls, live_bytes;
typedef struct { size_t size; size_t pad; } block_head;
static void *count_malloc(size_t sz)
{
    atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed);
    block_head *h = malloc(sizeof *h + sz);
    if (!h) return NULL;
    h->size = sz;
    atomic_fetch_add_explicit(&live_bytes, (long long)sz, memory_order_relaxed);
    return h + 1;
}
static void *count_realloc(void *p, size_t sz)
{
    if (!p) return count_malloc(sz);
    atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed);
    block_head *old = (block_head *)p - 1;
    size_t old_size = old->size;
    block_head *h = realloc(old, sizeof *h + sz);
    if (!h) return NULL;
    h->size = sz;
    atomic_fetch_add_explicit(&live_bytes, (long long)sz - (long long)old_size, memory_order_relaxed);
    return h + 1;
}
static void count_free(void *p)
{
    if (!p) return;
    block_head *h = (block_head *)p - 1;
    atomic_fetch_sub_explicit(&live_bytes, (long long)h->size, memory_order_relaxed);
    free(h);
}
static long long k_alloc_calls(void) { return atomic_load_explicit(&alloc_calls, memory_order_relaxed); }
static long long k_live_bytes(void) { return atomic_load_explicit(&live_bytes, memory_order_relaxed); }
#include "bench.h"

#ifndef BENCH_ENGINE
#  error "define BENCH_ENGINE"
#endif
#define BENCH_STR2(x) #x
#define BENCH_STR(x) BENCH_STR2(x)

static bench_chan *k_create(size_t cap)
{
    return (bench_chan *)kchan_new(sizeof(uint64_t), cap == BENCH_UNLIMITED ? KCHAN_UNLIMITED : cap);
}
static void k_destroy(bench_chan *c) { kchan_destroy((kchan_t *)c); }
static int k_send(bench_chan *c, uint64_t v) { return kchan_send((kchan_t *)c, &v); }
static int k_recv(bench_chan *c, uint64_t *v) { return kchan_recv((kchan_t *)c, v); }
static int k_try_send(bench_chan *c, uint64_t v) { return kchan_try_send((kchan_t *)c, &v); }
static int k_try_recv(bench_chan *c, uint64_t *v) { return kchan_try_recv((kchan_t *)c, v); }
static int k_send_many(bench_chan *c, const uint64_t *v, size_t n)
{
    size_t sent;
    return kchan_send_many((kchan_t *)c, v, n, &sent, KCHAN_FOREVER);
}
static size_t k_recv_many(bench_chan *c, uint64_t *v, size_t max)
{
    size_t got = 0;
    return kchan_recv_many((kchan_t *)c, v, max, &got, KCHAN_FOREVER) == KCHAN_OK ? got : 0;
}
static void k_close(bench_chan *c) { kchan_close((kchan_t *)c); }
static int k_select_recv(bench_chan **chans, size_t n, uint64_t *v)
{
    kchan_case cs[KCHAN_SELECT_MAX];
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        cs[i].chan = (kchan_t *)chans[i];
        cs[i].op = KCHAN_OP_RECV;
        cs[i].elem = v;
        live += chans[i] != NULL;
    }
    while (live) {
        int r = kchan_select(cs, n, KCHAN_FOREVER);
        if (r < 0) return -1;
        if (cs[r].status == KCHAN_OK) return r;
        cs[r].chan = NULL;             /* closed and drained: stop selecting on it */
        chans[r] = NULL;
        live--;
    }
    return -1;
}

const bench_engine BENCH_ENGINE = {
    BENCH_STR(BENCH_ENGINE) + sizeof "bench_engine_" - 1,
    k_create, k_destroy, k_send, k_recv, k_send_many, k_recv_many, k_close, k_select_recv,
    k_try_send, k_try_recv, k_alloc_calls, k_live_bytes,
};
