/* The interface every benchmarked channel implementation provides: kchan's engines
   (engine_kchan.c, built once per engine with KCHAN_STATIC) and the hand-written
   mutex + two condition variables ring (naive_ring.c), and the raw Vyukov ring of the
   "limit" column (limit_ring.h, header-only, kchan_bench.c only). Elements are uint64_t. */
#ifndef KCHAN_BENCH_H
#define KCHAN_BENCH_H
#include <stddef.h>
#include <stdint.h>

#define BENCH_UNLIMITED ((size_t)-1)

typedef struct bench_chan bench_chan;
typedef struct {
    const char *name;
    bench_chan *(*create)(size_t cap);                 /* 0 = rendezvous, BENCH_UNLIMITED */
    void (*destroy)(bench_chan *c);
    int (*send)(bench_chan *c, uint64_t v);            /* 0 ok, nonzero closed */
    int (*recv)(bench_chan *c, uint64_t *v);           /* 0 ok, nonzero closed and drained */
    int (*send_many)(bench_chan *c, const uint64_t *v, size_t n);  /* all n, 0 ok */
    size_t (*recv_many)(bench_chan *c, uint64_t *v, size_t max);   /* >= 1, or 0 when closed */
    void (*close)(bench_chan *c);
    /* Blocking receive from whichever of chans[0..n) is ready: returns the index, -1 if none
       can ever be (every channel closed and drained). */
    int (*select_recv)(bench_chan **chans, size_t n, uint64_t *v);
    /* Non-blocking pair for the instruction-count figure. */
    int (*try_send)(bench_chan *c, uint64_t v);
    int (*try_recv)(bench_chan *c, uint64_t *v);
    /* The engine's allocator counters (NULL where not counted): calls so far, live bytes. */
    long long (*alloc_calls)(void);
    long long (*live_bytes)(void);
} bench_engine;

extern const bench_engine bench_engine_mutex;
extern const bench_engine bench_engine_naive;
#ifdef BENCH_HAVE_LOCKFREE
extern const bench_engine bench_engine_lockfree;
#endif
#endif
