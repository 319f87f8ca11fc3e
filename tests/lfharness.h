/* Pieces shared by the multi-threaded stress suites test_ring_stress.c and test_kinds_stress.c:
   checksummed elements, a per-thread xorshift, fixed seeds, random stalls, short timeouts. */
#ifndef KCHAN_TEST_LFHARNESS_H
#define KCHAN_TEST_LFHARNESS_H
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

/* A value encodes (producer, sequence) and carries a checksum, so a torn copy is caught. */
typedef struct { int64_t v; uint64_t chk; } lf_elem;

static inline uint64_t lf_chk(int64_t v)
{
    return ((uint64_t)v * UINT64_C(0x9e3779b97f4a7c15)) ^ UINT64_C(0xa5a5a5a5deadbeef);
}

static inline lf_elem lf_make(int producer, int64_t seq)
{
    lf_elem e;
    e.v = ((int64_t)producer << 32) | seq;
    e.chk = lf_chk(e.v);
    return e;
}

/* xorshift32: one state per thread (rand() is not thread-safe). */
static inline uint32_t lf_rand(uint32_t *x)
{
    *x ^= *x << 13; *x ^= *x >> 17; *x ^= *x << 5;
    return *x;
}

/* A fixed, nonzero seed from a suite's start value and the parts that name a thread's
   place (mode, capacity, round, thread ...). */
static inline uint32_t lf_seed_from(uint32_t h, const uint32_t *parts, int n)
{
    for (int i = 0; i < n; i++) {
        h ^= parts[i] + 0x7f4a7c15u + (h << 6) + (h >> 2);
        h ^= h >> 16; h *= 0x85ebca6bu; h ^= h >> 13; h *= 0xc2b2ae35u; h ^= h >> 16;
    }
    return h ? h : 1u;
}

/* A random stall: now and then yield, or spin a random number of iterations. A slow side
   stalls on most turns: drop-newest slows its producers (else nearly every send is a drop)
   and cancel its consumers (so the channel is often full when it is discarded). */
static inline void lf_stall(uint32_t *rng, bool slow)
{
    uint32_t r = lf_rand(rng);
    if (r % (slow ? 4 : 32) == 0) {
        sched_yield();
    } else if (r % (slow ? 2 : 8) == 0) {
        volatile uint32_t sink = 0;
        for (uint32_t i = (r >> 8) % (slow ? 3000 : 700); i > 0; i--) sink += i;
        (void)sink;
    }
}

/* A short positive timeout: 1..48 us. */
static inline int64_t lf_short(uint32_t r) { return (int64_t)(1 + r % 48) * INT64_C(1000); }
#endif
