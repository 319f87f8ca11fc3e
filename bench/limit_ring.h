/* The "limit" engine: a raw bounded MPMC ring after Dmitry Vyukov's published algorithm
   (1024cores.net, "Bounded MPMC queue"), written here from its description. It is what a
   channel could cost if it never blocked: no lock, no parking, no wake-up; a thread that
   finds the ring full (or empty) spins with a growing number of pause instructions, then
   calls sched_yield() until it can go on. It is the "limit" column of kchan_bench: on the
   workloads it can run, a channel that blocks properly should get close to it in speed and
   do better in CPU time once threads outnumber cores.

   The algorithm: cells carry a stamp (seq). A producer that read position pos from the tail
   may fill cell pos & mask only when its stamp equals pos (the consumer of the previous lap
   has emptied it); it claims the position with a CAS on the tail, writes the value and
   stamps pos + 1 (release: the value is visible before the stamp says "full"). A consumer at
   position pos takes the cell when its stamp is pos + 1, claims the position with a CAS on
   the head, reads the value and stamps pos + capacity (release: the read is done before a
   producer of the next lap may overwrite it). Stamp < expected means full (producer) or empty
   (consumer); stamp > expected means another thread moved past pos: reload and retry.

   What it can run (engine_runs in kchan_bench.c): bounded channels whose capacity is a power of two >= 2.
   Not rendezvous (W5: no buffer; a hand-off needs the sender to wait for a receiver, which
   is a different algorithm), not capacity 1 (W6, W8: a 1-cell ring cannot tell a cell
   emptied on lap k from one filled on lap k+1, since both stamp pos + 1), not unlimited
   (W3, W4: the ring is fixed), not batches (W10: there is no batch operation to compare).
   Close is a flag the receivers check when the ring is empty; it is only exact when the
   last send returned before close was called, which is how kchan_bench closes (the last
   producer to finish). Select (W7) polls the rings in turn, with the same back-off.

   Header-only: included by kchan_bench.c (and nothing else), so the Makefile's object list
   does not change; bench/peers.mk adds it to kchan_bench's prerequisites. */
#ifndef KCHAN_BENCH_LIMIT_RING_H
#define KCHAN_BENCH_LIMIT_RING_H
#include "bench.h"
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

enum { LIMIT_LINE = 64, LIMIT_SPIN_STEPS = 7 };   /* spins of 1, 2, 4 ... 64 pauses, then yield */

typedef struct {
    atomic_size_t seq;
    uint64_t val;
} limit_cell;

typedef struct {
    _Alignas(LIMIT_LINE) atomic_size_t tail;      /* next position a producer claims */
    _Alignas(LIMIT_LINE) atomic_size_t head;      /* next position a consumer claims */
    _Alignas(LIMIT_LINE) atomic_int closed;
    size_t mask;
    limit_cell *cells;
} limit_ring;

static inline void limit_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* One step of waiting: spin 2^step pauses for the first LIMIT_SPIN_STEPS steps, then give the
   core away. Never sleeps: a thread waiting here stays runnable, which is the point. */
static inline void limit_backoff(unsigned *step)
{
    if (*step < LIMIT_SPIN_STEPS) {
        for (unsigned i = 0; i < 1u << *step; i++) limit_pause();
        (*step)++;
    } else {
        sched_yield();
    }
}

static int limit_capacity_ok(size_t cap)
{
    return cap != BENCH_UNLIMITED && cap >= 2 && (cap & (cap - 1)) == 0;
}

static bench_chan *limit_create(size_t cap)
{
    if (!limit_capacity_ok(cap)) return NULL;
    limit_ring *q = aligned_alloc(LIMIT_LINE, sizeof *q);
    if (!q) return NULL;
    q->cells = malloc(cap * sizeof *q->cells);
    if (!q->cells) { free(q); return NULL; }
    for (size_t i = 0; i < cap; i++) atomic_init(&q->cells[i].seq, i);   /* cell i: free for pos i */
    atomic_init(&q->tail, 0);
    atomic_init(&q->head, 0);
    atomic_init(&q->closed, 0);
    q->mask = cap - 1;
    return (bench_chan *)q;
}

static void limit_destroy(bench_chan *c)
{
    limit_ring *q = (limit_ring *)c;
    free(q->cells);
    free(q);
}

static int limit_try_send(bench_chan *c, uint64_t v)   /* 0 sent, 1 full */
{
    limit_ring *q = (limit_ring *)c;
    /* relaxed: pos is only a guess; the stamp check and the CAS below decide */
    size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (;;) {
        limit_cell *cell = &q->cells[pos & q->mask];
        /* acquire: pairs with the consumer's release stamp, so its read of val is done
           before we overwrite it */
        size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)(seq - pos);
        if (dif == 0) {
            /* relaxed: the CAS only hands out positions; the cell's stamp orders the data */
            if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                cell->val = v;
                /* release: the value is written before the stamp marks the cell full */
                atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
                return 0;
            }
            /* the failed CAS loaded the current tail into pos */
        } else if (dif < 0) {
            return 1;                  /* the cell still holds lap-old data: full */
        } else {
            /* relaxed: another producer took pos; any fresh guess will do */
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        }
    }
}

static int limit_try_recv(bench_chan *c, uint64_t *v)  /* 0 received, 1 empty */
{
    limit_ring *q = (limit_ring *)c;
    /* relaxed: a guess, checked against the cell's stamp */
    size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    for (;;) {
        limit_cell *cell = &q->cells[pos & q->mask];
        /* acquire: pairs with the producer's release stamp, so val is the value it wrote */
        size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)(seq - (pos + 1));
        if (dif == 0) {
            /* relaxed: the CAS only hands out positions */
            if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                *v = cell->val;
                /* release: our read of val is done before a next-lap producer may write */
                atomic_store_explicit(&cell->seq, pos + q->mask + 1, memory_order_release);
                return 0;
            }
        } else if (dif < 0) {
            return 1;                  /* not filled yet: empty */
        } else {
            /* relaxed: another consumer took pos */
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
        }
    }
}

static int limit_is_closed(limit_ring *q)
{
    /* acquire: pairs with limit_close's release, which came after the last send returned,
       so every value sent is stamped and visible to a retry after this */
    return atomic_load_explicit(&q->closed, memory_order_acquire);
}

static int limit_send(bench_chan *c, uint64_t v)
{
    unsigned step = 0;
    while (limit_try_send(c, v)) {
        if (limit_is_closed((limit_ring *)c)) return -1;
        limit_backoff(&step);
    }
    return 0;
}

static int limit_recv(bench_chan *c, uint64_t *v)
{
    unsigned step = 0;
    while (limit_try_recv(c, v)) {
        if (limit_is_closed((limit_ring *)c)) return limit_try_recv(c, v) ? -1 : 0;
        limit_backoff(&step);
    }
    return 0;
}

static int limit_send_many(bench_chan *c, const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (limit_send(c, v[i])) return -1;
    return 0;
}

static size_t limit_recv_many(bench_chan *c, uint64_t *v, size_t max)
{
    if (max == 0 || limit_recv(c, &v[0])) return 0;
    size_t got = 1;
    while (got < max && limit_try_recv(c, &v[got]) == 0) got++;
    return got;
}

static void limit_close(bench_chan *c)
{
    /* release: everything this thread (and, through the bench's producer count, every
       producer) sent happens before a receiver sees the flag */
    atomic_store_explicit(&((limit_ring *)c)->closed, 1, memory_order_release);
}

/* Poll the rings in turn, starting one further each call so none is favoured. */
static int limit_select_recv(bench_chan **chans, size_t n, uint64_t *v)
{
    static _Thread_local size_t start;
    unsigned step = 0;
    for (;;) {
        size_t live = 0;
        for (size_t k = 0; k < n; k++) {
            size_t i = (start + k) % n;
            if (!chans[i]) continue;
            if (limit_try_recv(chans[i], v) == 0) { start = i + 1; return (int)i; }
            if (limit_is_closed((limit_ring *)chans[i])) {
                if (limit_try_recv(chans[i], v) == 0) { start = i + 1; return (int)i; }
                chans[i] = NULL;       /* closed and drained */
                continue;
            }
            live++;
        }
        if (!live) return -1;
        limit_backoff(&step);
    }
}

static const bench_engine bench_engine_limit = {
    "limit", limit_create, limit_destroy, limit_send, limit_recv, limit_send_many, limit_recv_many,
    limit_close, limit_select_recv, limit_try_send, limit_try_recv, NULL, NULL,
};
#endif
