/* The one multi-producer / multi-consumer stress harness, used by test_stress.c, test_ring_stress.c,
   test_kinds_stress.c and soak.c (and its element helpers by test_evict.c). No Criterion in here:
   a failure is recorded as the run's first error (mh_fail), which a suite asserts on and the
   soak aborts with.

   A run: cfg.np producers and cfg.nc consumers over cfg.nch channels (capacity and overflow
   policy per channel). A producer sends, on a channel it picks, its own sequence 0, 1, ...
   (cfg.per values at most per channel) with an op drawn from cfg.send_mix (send, send_timeout,
   try_send, send_many of 1..send_batch, select over 2..3 channels); a consumer receives with an
   op drawn from cfg.recv_mix (recv, recv_timeout, try_recv, recv_many of 1..recv_batch, peek,
   select) until every channel said KCHAN_CLOSED. Both stall at random (cfg.stall). An element
   of cfg.esz bytes encodes (source, sequence), source = producer * nch + channel, and for
   esz >= 16 carries check words, so a torn copy is caught. How the run ends (cfg.end): main
   closes or cancels once the producers are done, once a share of the plan was accepted or
   received, or after cfg.end_ms (then every producer stops too).

   mh_run_once checks, and records the first failure of: every op's status and counts; each
   consumer sees each source's values in increasing order; value by value, every accepted value
   was received exactly once or handed to on_undelivered exactly once, and no other value was
   seen anywhere; per channel, kchan_stats_get agrees with what the threads saw (sends, recvs,
   the identity sends = recvs + drops + undelivered + len, which drop counter may move for
   which policy, timeouts / send_full / recv_empty with cfg.exact_counters), nothing is parked,
   on_undelivered ran once per drop or undelivered element; after the run every op on the
   closed, drained channel says KCHAN_CLOSED and hands nothing back, nor does destroy. */
#ifndef KCHAN_TEST_MPMC_HARNESS_H
#define KCHAN_TEST_MPMC_HARNESS_H
#include "../kchan.h"
#include "alloc_hooks.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MH_US (INT64_C(1000))
#define MH_MS (INT64_C(1000000))

/* ---- elements, random numbers, stalls ---------------------------------------------------- */

/* The 16-byte element: a value encoding (source, sequence) and its checksum. */
typedef struct { int64_t v; uint64_t chk; } mh_elem;

static inline uint64_t mh_chk(int64_t v)
{
    return ((uint64_t)v * UINT64_C(0x9e3779b97f4a7c15)) ^ UINT64_C(0xa5a5a5a5deadbeef);
}

static inline mh_elem mh_make(int source, int64_t seq)
{
    mh_elem e;
    e.v = ((int64_t)source << 32) | seq;
    e.chk = mh_chk(e.v);
    return e;
}

/* An element of esz bytes (a multiple of 8): word 0 the value, word i > 0 a check word (word 1
   is mh_elem's chk). */
static inline void mh_put(unsigned char *dst, size_t esz, int source, int64_t seq)
{
    int64_t v = ((int64_t)source << 32) | seq;
    memcpy(dst, &v, 8);
    for (size_t i = 1; i < esz / 8; i++) {
        uint64_t w = mh_chk(v) + (uint64_t)(i - 1) * UINT64_C(0x9e3779b97f4a7c15);
        memcpy(dst + 8 * i, &w, 8);
    }
}

/* The value of an element, or -1 if a check word is wrong. */
static inline int64_t mh_value(const unsigned char *p, size_t esz)
{
    int64_t v;
    memcpy(&v, p, 8);
    for (size_t i = 1; i < esz / 8; i++) {
        uint64_t w;
        memcpy(&w, p + 8 * i, 8);
        if (w != mh_chk(v) + (uint64_t)(i - 1) * UINT64_C(0x9e3779b97f4a7c15)) return -1;
    }
    return v;
}

/* xorshift32: one state per thread (rand() is not thread-safe). */
static inline uint32_t mh_rand(uint32_t *x)
{
    *x ^= *x << 13; *x ^= *x >> 17; *x ^= *x << 5;
    return *x;
}

/* A fixed, nonzero seed from a suite's start value and the parts that name a thread's
   place (mode, capacity, round, thread ...). */
static inline uint32_t mh_seed_from(uint32_t h, const uint32_t *parts, int n)
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
static inline void mh_stall(uint32_t *rng, bool slow)
{
    uint32_t r = mh_rand(rng);
    if (r % (slow ? 4 : 32) == 0) {
        sched_yield();
    } else if (r % (slow ? 2 : 8) == 0) {
        volatile uint32_t sink = 0;
        for (uint32_t i = (r >> 8) % (slow ? 3000 : 700); i > 0; i--) sink += i;
        (void)sink;
    }
}

/* A short positive timeout: 1..48 us. */
static inline int64_t mh_short(uint32_t r) { return (int64_t)(1 + r % 48) * MH_US; }

/* ---- a run's configuration --------------------------------------------------------------- */

enum { MH_MAX_P = 4, MH_MAX_C = 4, MH_MAX_CH = 8, MH_MAX_SRC = MH_MAX_P * MH_MAX_CH };
enum { MH_ELEM_MAX = 32, MH_BATCH_MAX = 70 };
/* The ops, by side; a mix gives each a weight (0: never). */
enum { MH_SEND, MH_SEND_TIMEOUT, MH_TRY_SEND, MH_SEND_MANY, MH_SELECT_SEND, MH_NSEND };
enum { MH_RECV, MH_RECV_TIMEOUT, MH_TRY_RECV, MH_RECV_MANY, MH_PEEK, MH_SELECT_RECV, MH_NRECV };
/* Timeouts: FOREVER for every op; SHORT: the *_timeout ops 1..48 us, batches and select
   forever, 0 or short; SOAK(_VOLUME): every op 0, < 50 us, < 2 ms or forever (volume: more 0). */
enum { MH_TO_FOREVER, MH_TO_SHORT, MH_TO_SOAK, MH_TO_SOAK_VOLUME };
/* Stalls: none; spins and yields (mh_stall); 1 turn in 16 yield loops or a short nanosleep
   (SLEEP_RARE: 1 in 512). */
enum { MH_STALL_NONE, MH_STALL_SPIN, MH_STALL_SLEEP, MH_STALL_SLEEP_RARE };
/* The end: main closes once the producers are done; once end_share of the plan was accepted
   or received; or after end_ms (then producers stop too). end_op: close, cancel, or either
   per channel (seeded). */
enum { MH_END_AFTER_PRODUCERS, MH_END_AT_ACCEPTED, MH_END_AT_RECEIVED, MH_END_TIMED };
enum { MH_CLOSE, MH_CANCEL, MH_CLOSE_OR_CANCEL };

typedef struct mh_run mh_run;
typedef struct {
    const char *name;
    int np, nc, nch;
    size_t esz;                       /* element bytes: 8, 16, 24 or 32 */
    size_t cap[MH_MAX_CH];
    kchan_overflow overflow[MH_MAX_CH];
    void *mem;                        /* set: the last channel is created in it (create_in) */
    size_t mem_size;
    int64_t per;                      /* values per producer and channel */
    unsigned char send_mix[MH_NSEND], recv_mix[MH_NRECV];
    size_t send_batch, recv_batch;    /* batch sizes 1..these */
    int timeouts, stall;
    bool slow_producers, slow_consumers;
    bool sends_never_wait;            /* a send's TIMEDOUT / WOULDBLOCK is a failure */
    bool refused_after_plan;          /* a producer done with its plan waits for the close, then
                                         checks that every kind of send is refused */
    bool exact_counters;              /* stats timeouts / send_full / recv_empty = what was seen */
    bool check_leaks;                 /* no kchan allocation left after destroy */
    int end, end_op;
    double end_share;                 /* AT_ACCEPTED / AT_RECEIVED: share of np * nch * per */
    int64_t end_ms;                   /* TIMED */
    size_t hold_backlog;              /* >0: from end_share on, odd consumers hold until len >= this,
                                         so the cancel surely finds a backlog to hand back */
    int64_t join_bound_ns;            /* >0: a thread still running this long after the end aborts */
    void *(*side)(void *);            /* an extra thread (stats poller, chaos) given the mh_run;
                                         it stops when mh_side_stopped() */
    void *side_arg;
    void (*before_destroy)(mh_run *); /* more checks on the closed channels (s->c) */
    uint32_t seed;
} mh_config;

typedef struct {
    mh_run *s;
    int id;
    uint32_t seed;
    /* results, read by main after the join */
    int64_t accepted[MH_MAX_CH];      /* producer: values 0..accepted-1 were accepted (OK) */
    bool saw_closed;                  /* producer: stopped by a KCHAN_CLOSED */
    long long received, timedout, wouldblock, peeks_ok, closed, stalls;
    long long ops[MH_NSEND + MH_NRECV];
} mh_thread;

typedef struct { mh_run *s; int ch; } mh_cb;

struct mh_run {
    mh_config cfg;
    kchan_t *c[MH_MAX_CH];
    mh_cb cb[MH_MAX_CH];
    _Atomic unsigned char *got;       /* [source * per + seq]: times received */
    _Atomic unsigned char *gone;      /* the same, handed to on_undelivered */
    atomic_long cb_calls[MH_MAX_CH], cb_bad;
    atomic_llong received_on[MH_MAX_CH];
    kchan_counter accepted, received;
    atomic_int hold;
    kchan_counter released;           /* 1 once the hold is lifted */
    atomic_int stop, side_stop;
    atomic_int cancelled[MH_MAX_CH];  /* a cancel was called: undelivered may move */
    atomic_int errors;
    char first_error[320];
    mh_thread prod[MH_MAX_P], cons[MH_MAX_C];
    /* results */
    int wait_rc, end_rc;              /* the wait for end_share, the midway close / cancel */
    int64_t at_end;                   /* accepted when main closed / cancelled */
    size_t len_at_end;                /* channel 0's length then */
    int64_t elapsed_ns;
    long long total, received_total, cb_total, timedout, send_wb, recv_wb, peeks;
    kchan_stats st[MH_MAX_CH];        /* after the run, before destroy */
};

static inline bool mh_failed(mh_run *s) { return atomic_load_explicit(&s->errors, memory_order_relaxed) != 0; }
static inline bool mh_side_stopped(mh_run *s) { return atomic_load_explicit(&s->side_stop, memory_order_acquire) != 0; }

static inline void mh_fail(mh_run *s, const char *fmt, ...)
{
    if (atomic_fetch_add(&s->errors, 1) != 0) return;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(s->first_error, sizeof s->first_error, "%s: ", s->cfg.name ? s->cfg.name : "run");
    if (n < 0 || (size_t)n >= sizeof s->first_error) n = 0;
    vsnprintf(s->first_error + n, sizeof s->first_error - (size_t)n, fmt, ap);
    va_end(ap);
}

/* The bitmap index of a well-formed element of channel ch, or -1. */
static inline int64_t mh_index(const mh_run *s, int ch, const unsigned char *p)
{
    int64_t v = mh_value(p, s->cfg.esz);
    if (v < 0) return -1;
    int64_t src = v >> 32, q = v & 0xffffffff;
    if (src >= (int64_t)s->cfg.np * s->cfg.nch || src % s->cfg.nch != ch || q >= s->cfg.per) return -1;
    return src * s->cfg.per + q;
}

static inline void mh_on_undelivered(void *elem, void *user)
{
    mh_cb *u = user;
    mh_run *s = u->s;
    atomic_fetch_add_explicit(&s->cb_calls[u->ch], 1, memory_order_relaxed);
    int64_t i = elem ? mh_index(s, u->ch, elem) : -1;
    if (i < 0) { atomic_fetch_add_explicit(&s->cb_bad, 1, memory_order_relaxed); return; }
    atomic_fetch_add_explicit(&s->gone[i], 1, memory_order_relaxed);
}

/* ---- the threads ------------------------------------------------------------------------- */

static inline int mh_pick(const unsigned char *mix, int n, uint32_t r)
{
    unsigned total = 0;
    for (int i = 0; i < n; i++) total += mix[i];
    unsigned x = r % total;
    for (int i = 0; i < n; i++) {
        if (x < mix[i]) return i;
        x -= mix[i];
    }
    return 0;
}

/* The timeout of a *_timeout op (timed) or of a batch / select (otherwise). */
static inline int64_t mh_timeout(const mh_run *s, uint32_t *rng, uint32_t r, bool timed)
{
    switch (s->cfg.timeouts) {
    case MH_TO_FOREVER: return KCHAN_FOREVER;
    case MH_TO_SHORT: {
        if (timed) return mh_short(r);
        int kind = (int)(r % 3);
        return kind == 0 ? KCHAN_FOREVER : kind == 1 ? 0 : mh_short(r >> 2);
    }
    default: {
        uint32_t x = mh_rand(rng) % 32;
        if (x < 8 || (s->cfg.timeouts == MH_TO_SOAK_VOLUME && x < 24)) return 0;
        if (x < 18) return (int64_t)(mh_rand(rng) % 50) * MH_US;
        if (x < 31) return (int64_t)(mh_rand(rng) % 2000) * MH_US;
        return KCHAN_FOREVER;     /* released by a partner or by the end of the run */
    }
    }
}

static inline bool mh_do_stall(const mh_run *s, uint32_t *rng, bool slow)
{
    switch (s->cfg.stall) {
    case MH_STALL_SPIN: mh_stall(rng, slow); return false;
    case MH_STALL_SLEEP: case MH_STALL_SLEEP_RARE: {
        uint32_t x = mh_rand(rng) % 64;
        if (x < 60 || (s->cfg.stall == MH_STALL_SLEEP_RARE && (mh_rand(rng) & 31))) return false;
        if (x < 63) { for (uint32_t i = mh_rand(rng) % 50; i; i--) sched_yield(); return true; }
        struct timespec ts = { 0, (long)(1000 + mh_rand(rng) % 50000) };
        nanosleep(&ts, NULL);
        return true;
    }
    default: return false;
    }
}

/* The status of a send or receive that may wait (timeout to): counts an expected
   TIMEDOUT / WOULDBLOCK, records anything else but OK / CLOSED as a failure. */
static inline void mh_status(mh_thread *a, bool send, const char *op, int rc, int64_t to, size_t n, size_t done)
{
    mh_run *s = a->s;
    bool may_wait = !(send && s->cfg.sends_never_wait);
    if (rc == KCHAN_OK || rc == KCHAN_CLOSED) return;
    if (rc == KCHAN_WOULDBLOCK && to == 0 && may_wait) { a->wouldblock++; if (!n) sched_yield(); return; }
    if (rc == KCHAN_TIMEDOUT && to > 0 && may_wait) { a->timedout++; return; }
    mh_fail(s, "%c%d %s(%zu, %lld ns): %s with %zu done", send ? 'P' : 'C', a->id, op, n, (long long)to,
            kchan_strerror(rc), done);
}

/* Select over 2..3 channels (the first ch, the others at random; one may appear twice);
   skip[i]: a NULL case. Returns the winner's channel in *w and its status, or the select's. */
static inline int mh_select(mh_thread *a, uint32_t *rng, int ch, bool send, const bool *skip, const int64_t *next,
                            unsigned char es[3][MH_ELEM_MAX], int *w)
{
    mh_run *s = a->s;
    kchan_case cs[3];
    int n = 2 + (int)(mh_rand(rng) % 2), chs[3];
    for (int i = 0; i < n; i++) {
        chs[i] = i == 0 ? ch : (int)(mh_rand(rng) % (uint32_t)s->cfg.nch);
        if (send) mh_put(es[i], s->cfg.esz, a->id * s->cfg.nch + chs[i], next[chs[i]]);
        cs[i] = (kchan_case){ skip[chs[i]] ? NULL : s->c[chs[i]], send ? KCHAN_OP_SEND : KCHAN_OP_RECV, es[i], -99 };
    }
    int64_t to = mh_timeout(s, rng, 0, false);
    int rc = (mh_rand(rng) & 1) ? kchan_select(cs, (size_t)n, to) : kchan_select_biased(cs, (size_t)n, to);
    *w = -1;
    if (rc >= 0) {
        for (int i = 0; i < n; i++)
            if (i != rc && cs[i].status != -99)
                mh_fail(s, "%c%d select: losing case %d has status %d", send ? 'P' : 'C', a->id, i, cs[i].status);
        *w = chs[rc];
        if (cs[rc].status != KCHAN_OK && cs[rc].status != KCHAN_CLOSED)
            mh_fail(s, "%c%d select: winning case status %s", send ? 'P' : 'C', a->id, kchan_strerror(cs[rc].status));
        if (rc != 0) memcpy(es[0], es[rc], MH_ELEM_MAX);
        return cs[rc].status;
    }
    mh_status(a, send, "select", rc, to, 0, 0);
    return rc;
}

/* After its plan, a producer waits for main's close and checks that every kind of send is
   then refused (and keeps its element: `seq` is out of the plan, so a consumer that ever got
   it would report a value never sent). */
static inline void mh_sends_refused(mh_thread *a, int ch, int64_t seq)
{
    mh_run *s = a->s;
    kchan_t *c = s->c[ch];
    while (!kchan_is_closed(c) && !mh_failed(s)) sched_yield();
    if (mh_failed(s)) return;
    unsigned char e[3 * MH_ELEM_MAX];
    const size_t esz = s->cfg.esz;
    for (int i = 0; i < 3; i++) mh_put(e + (size_t)i * esz, esz, a->id * s->cfg.nch + ch, seq + i);
    int rc;
    if ((rc = kchan_send(c, e)) != KCHAN_CLOSED) mh_fail(s, "P%d send after close: %s", a->id, kchan_strerror(rc));
    if ((rc = kchan_try_send(c, e)) != KCHAN_CLOSED) mh_fail(s, "P%d try_send after close: %s", a->id, kchan_strerror(rc));
    if ((rc = kchan_send_timeout(c, e, MH_MS)) != KCHAN_CLOSED)
        mh_fail(s, "P%d send_timeout after close: %s", a->id, kchan_strerror(rc));
    size_t sent = (size_t)-7;
    if ((rc = kchan_send_many(c, e, 3, &sent, KCHAN_FOREVER)) != KCHAN_CLOSED || sent != 0)
        mh_fail(s, "P%d send_many after close: %s, sent %zu", a->id, kchan_strerror(rc), sent);
}

static inline void *mh_producer(void *p)
{
    mh_thread *a = p;
    mh_run *s = a->s;
    const mh_config *k = &s->cfg;
    const size_t esz = k->esz;
    uint32_t rng = a->seed;
    bool done[MH_MAX_CH] = { false };
    int ndone = 0, rc = KCHAN_OK;
    unsigned char batch[MH_BATCH_MAX * MH_ELEM_MAX], es[3][MH_ELEM_MAX];
    const bool count = k->end == MH_END_AT_ACCEPTED;
    while (ndone < k->nch && !mh_failed(s) && !atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        if (mh_do_stall(s, &rng, k->slow_producers)) a->stalls++;
        int ch = k->nch == 1 ? 0 : (int)(mh_rand(&rng) % (uint32_t)k->nch);
        if (done[ch]) continue;
        uint32_t r = mh_rand(&rng);
        int64_t seq = a->accepted[ch];
        const int src = a->id * k->nch + ch;
        kchan_t *c = s->c[ch];
        size_t n = 1, sent = 0;
        int op = mh_pick(k->send_mix, MH_NSEND, r);
        a->ops[op]++;
        switch (op) {
        case MH_SEND:
            mh_put(batch, esz, src, seq);
            rc = kchan_send(c, batch);
            sent = rc == KCHAN_OK;
            mh_status(a, true, "send", rc, KCHAN_FOREVER, 1, sent);
            break;
        case MH_SEND_TIMEOUT: {
            int64_t to = mh_timeout(s, &rng, r >> 8, true);
            mh_put(batch, esz, src, seq);
            rc = kchan_send_timeout(c, batch, to);
            sent = rc == KCHAN_OK;
            mh_status(a, true, "send_timeout", rc, to, 1, sent);
            break;
        }
        case MH_TRY_SEND:
            mh_put(batch, esz, src, seq);
            rc = kchan_try_send(c, batch);
            sent = rc == KCHAN_OK;
            mh_status(a, true, "try_send", rc, 0, 0, sent);
            break;
        case MH_SEND_MANY: {
            n = 1 + (r >> 8) % k->send_batch;
            if ((int64_t)n > k->per - seq) n = (size_t)(k->per - seq);
            for (size_t i = 0; i < n; i++) mh_put(batch + i * esz, esz, src, seq + (int64_t)i);
            int64_t to = mh_timeout(s, &rng, r >> 16, false);
            sent = (size_t)-7;
            rc = kchan_send_many(c, batch, n, &sent, to);
            if (sent > n || (rc == KCHAN_OK) != (sent == n)) {
                mh_fail(s, "P%d send_many(%zu, %lld ns) seq %lld: %s with sent = %zu", a->id, n, (long long)to,
                        (long long)seq, kchan_strerror(rc), sent);
                sent = 0;
            } else {
                mh_status(a, true, "send_many", rc, to, n, sent);
            }
            break;
        }
        default: {
            int w;
            rc = mh_select(a, &rng, ch, true, done, a->accepted, es, &w);
            if (w >= 0) ch = w;
            sent = rc == KCHAN_OK;
            break;
        }
        }
        if (sent) {
            a->accepted[ch] += (int64_t)sent;
            if (count) (void)kchan_counter_add(&s->accepted, (int64_t)sent);
            if (a->accepted[ch] == k->per) { done[ch] = true; ndone++; }
        }
        if (rc == KCHAN_CLOSED) {
            a->closed++;
            if (k->end == MH_END_AFTER_PRODUCERS) mh_fail(s, "P%d: KCHAN_CLOSED before main closed", a->id);
            if (!done[ch]) { done[ch] = true; ndone++; }
            a->saw_closed = true;
        }
    }
    if (k->refused_after_plan && !a->saw_closed && !mh_failed(s))
        for (int ch = 0; ch < k->nch; ch++) mh_sends_refused(a, ch, a->accepted[ch]);
    return NULL;
}

/* Check and count the `got` elements a consumer took from ch. last[src]: its last sequence. */
static inline void mh_take(mh_thread *a, int64_t *last, int ch, const unsigned char *buf, size_t got)
{
    mh_run *s = a->s;
    const size_t esz = s->cfg.esz;
    for (size_t i = 0; i < got; i++) {
        int64_t idx = mh_index(s, ch, buf + i * esz);
        if (idx < 0) {
            int64_t v;
            memcpy(&v, buf + i * esz, 8);
            mh_fail(s, "C%d received on channel %d a value never sent (or torn): v %#llx (element %zu of %zu)", a->id,
                    ch, (unsigned long long)v, i, got);
            continue;
        }
        int64_t src = idx / s->cfg.per, q = idx % s->cfg.per;
        if (q <= last[src])
            mh_fail(s, "C%d: source %lld seq %lld after seq %lld (element %zu of %zu)", a->id, (long long)src,
                    (long long)q, (long long)last[src], i, got);
        last[src] = q;
        atomic_fetch_add_explicit(&s->got[idx], 1, memory_order_relaxed);
    }
    a->received += (long long)got;
    atomic_fetch_add_explicit(&s->received_on[ch], (long long)got, memory_order_relaxed);
    if (s->cfg.end == MH_END_AT_RECEIVED) (void)kchan_counter_add(&s->received, (int64_t)got);
}

static inline void *mh_consumer(void *p)
{
    mh_thread *a = p;
    mh_run *s = a->s;
    const mh_config *k = &s->cfg;
    uint32_t rng = a->seed;
    int64_t last[MH_MAX_SRC];
    for (int i = 0; i < MH_MAX_SRC; i++) last[i] = -1;
    bool done[MH_MAX_CH] = { false };
    int ndone = 0;
    unsigned char buf[MH_BATCH_MAX * MH_ELEM_MAX], es[3][MH_ELEM_MAX];
    while (ndone < k->nch && !mh_failed(s)) {
        if (mh_do_stall(s, &rng, k->slow_consumers)) a->stalls++;
        if (k->hold_backlog && a->id % 2 == 1 && atomic_load(&s->hold))
            while (kchan_counter_wait_ge(&s->released, 1, 10 * MH_MS) == KCHAN_TIMEDOUT && !mh_failed(s)) {}
        int ch = k->nch == 1 ? 0 : (int)(mh_rand(&rng) % (uint32_t)k->nch);
        if (done[ch]) continue;
        uint32_t r = mh_rand(&rng);
        kchan_t *c = s->c[ch];
        size_t got = 0;
        int rc;
        int op = mh_pick(k->recv_mix, MH_NRECV, r);
        a->ops[MH_NSEND + op]++;
        switch (op) {
        case MH_RECV:
            rc = kchan_recv(c, buf);
            got = rc == KCHAN_OK;
            mh_status(a, false, "recv", rc, KCHAN_FOREVER, 1, got);
            break;
        case MH_RECV_TIMEOUT: {
            int64_t to = mh_timeout(s, &rng, r >> 8, true);
            rc = kchan_recv_timeout(c, buf, to);
            got = rc == KCHAN_OK;
            mh_status(a, false, "recv_timeout", rc, to, 1, got);
            break;
        }
        case MH_TRY_RECV:
            rc = kchan_try_recv(c, buf);
            got = rc == KCHAN_OK;
            mh_status(a, false, "try_recv", rc, 0, 0, got);
            break;
        case MH_PEEK: {
            /* another consumer may take the element first, so only its form is checked */
            int prc = kchan_peek(c, buf);
            if (prc == KCHAN_OK) {
                a->peeks_ok++;
                if (mh_index(s, ch, buf) < 0) mh_fail(s, "C%d peeked on channel %d a value never sent (or torn)", a->id, ch);
            } else if (prc != KCHAN_WOULDBLOCK && prc != KCHAN_CLOSED) {
                mh_fail(s, "C%d peek: %s", a->id, kchan_strerror(prc));
            }
            continue;                          /* a peek's CLOSED is confirmed by a receive */
        }
        case MH_RECV_MANY: {
            size_t max = 1 + (r >> 8) % k->recv_batch;
            int64_t to = mh_timeout(s, &rng, r >> 16, false);
            got = (size_t)-7;
            rc = kchan_recv_many(c, buf, max, &got, to);
            if (rc == KCHAN_OK ? got < 1 || got > max : got != 0) {
                mh_fail(s, "C%d recv_many(%zu, %lld ns): %s with got = %zu", a->id, max, (long long)to,
                        kchan_strerror(rc), got);
                got = 0;
            } else {
                mh_status(a, false, "recv_many", rc, to, max, got);
            }
            break;
        }
        default: {
            int w;
            rc = mh_select(a, &rng, ch, false, done, NULL, es, &w);
            if (w >= 0) ch = w;
            got = rc == KCHAN_OK;
            if (got) memcpy(buf, es[0], MH_ELEM_MAX);
            break;
        }
        }
        if (got) mh_take(a, last, ch, buf, got);
        if (rc == KCHAN_CLOSED) {
            a->closed++;
            if (!done[ch]) { done[ch] = true; ndone++; }
        }
    }
    return NULL;
}

/* ---- a run ------------------------------------------------------------------------------- */

static inline void mh_join(mh_run *s, pthread_t t, const char *who)
{
    if (s->cfg.join_bound_ns <= 0) { pthread_join(t, NULL); return; }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(s->cfg.join_bound_ns / 1000000000);
    int e = pthread_timedjoin_np(t, NULL, &ts);
    if (e == 0) return;
    char line[512];
    for (int i = 0; i < s->cfg.nch; i++) {
        kchan_dump(s->c[i], line, sizeof line);
        fprintf(stderr, "  %s\n", line);
    }
    fprintf(stderr, "%s: FAIL: %s still running %lld s after the end (join: %d)\n", s->cfg.name, who,
            (long long)(s->cfg.join_bound_ns / 1000000000), e);
    abort();
}

static inline int mh_end_channel(mh_run *s, int ch, uint32_t *rng)
{
    bool cancel = s->cfg.end_op == MH_CANCEL || (s->cfg.end_op == MH_CLOSE_OR_CANCEL && (mh_rand(rng) & 1));
    if (cancel) atomic_store(&s->cancelled[ch], 1);   /* even on a closed channel, cancel discards */
    return cancel ? kchan_cancel(s->c[ch]) : kchan_close(s->c[ch]);
}

/* Wait (in steps, so that a failed thread ends the wait) until counter >= goal, at most 15 s. */
static inline int mh_wait_share(mh_run *s, kchan_counter *counter, int64_t goal, int64_t t0)
{
    int wrc;
    do wrc = kchan_counter_wait_ge(counter, goal, 100 * MH_MS);
    while (wrc == KCHAN_TIMEDOUT && !mh_failed(s) && kchan_now_ns() - t0 < 15000 * MH_MS);
    return wrc;
}

#define MH_RET_FAIL(s, ...) do { mh_fail(s, __VA_ARGS__); return; } while (0)

/* Everything the run saw against the stats and the bitmaps; the first failure is recorded. */
static inline void mh_verify(mh_run *s)
{
    const mh_config *k = &s->cfg;
    if (mh_failed(s)) return;
    if (k->end == MH_END_AT_ACCEPTED || k->end == MH_END_AT_RECEIVED) {
        if (s->wait_rc != KCHAN_OK)
            MH_RET_FAIL(s, "the %s share was not reached after 15 s (%lld accepted): %s",
                           k->end == MH_END_AT_ACCEPTED ? "accepted" : "received", (long long)s->at_end,
                           kchan_strerror(s->wait_rc));
    }
    if (k->end != MH_END_TIMED && s->end_rc != KCHAN_OK)
        MH_RET_FAIL(s, "the %s: %s", k->end_op == MH_CANCEL ? "cancel" : "close", kchan_strerror(s->end_rc));
    if (atomic_load(&s->cb_bad)) MH_RET_FAIL(s, "on_undelivered got %ld values never sent, torn, or NULL", atomic_load(&s->cb_bad));

    long long acc_on[MH_MAX_CH] = { 0 };
    for (int p = 0; p < k->np; p++) {
        for (int ch = 0; ch < k->nch; ch++) {
            int64_t n = s->prod[p].accepted[ch];
            if (n > k->per) MH_RET_FAIL(s, "producer %d accepted %lld of %lld", p, (long long)n, (long long)k->per);
            if (k->end == MH_END_AFTER_PRODUCERS && n != k->per)
                MH_RET_FAIL(s, "producer %d: %lld of %lld accepted before the close", p, (long long)n, (long long)k->per);
            acc_on[ch] += n;
            s->total += n;
        }
        s->timedout += s->prod[p].timedout;
        s->send_wb += s->prod[p].wouldblock;
    }
    for (int i = 0; i < k->nc; i++) {
        s->received_total += s->cons[i].received;
        s->timedout += s->cons[i].timedout;
        s->recv_wb += s->cons[i].wouldblock;
        s->peeks += s->cons[i].peeks_ok;
    }
    if (k->end == MH_END_AT_ACCEPTED) {
        if (s->total < s->at_end) MH_RET_FAIL(s, "accepted %lld, but %lld were counted before the close", s->total, (long long)s->at_end);
        if (s->total != kchan_counter_load(&s->accepted)) MH_RET_FAIL(s, "accepted %lld, counted %lld", s->total, (long long)kchan_counter_load(&s->accepted));
    }

    /* Value by value: accepted => received once xor handed back once. The marks on accepted
       values then add up to what the consumers and on_undelivered counted only if nothing
       else was seen. */
    long long wrong = 0, both = 0, n_got = 0, n_gone = 0;
    int64_t first_src = -1, first_q = -1;
    int first_got = 0, first_gone = 0;
    for (int p = 0; p < k->np; p++)
        for (int ch = 0; ch < k->nch; ch++) {
            int64_t src = (int64_t)p * k->nch + ch;
            for (int64_t q = 0; q < s->prod[p].accepted[ch]; q++) {
                int g = atomic_load_explicit(&s->got[src * k->per + q], memory_order_relaxed);
                int d = atomic_load_explicit(&s->gone[src * k->per + q], memory_order_relaxed);
                n_got += g;
                n_gone += d;
                if (g && d) both++;
                if (g + d != 1 && wrong++ == 0) { first_src = src; first_q = q; first_got = g; first_gone = d; }
            }
        }
    if (wrong)
        MH_RET_FAIL(s, "%lld accepted values not (received or handed back) exactly once (%lld both); first: source "
                       "%lld seq %lld: received %d, handed back %d", wrong, both, (long long)first_src, (long long)first_q,
                       first_got, first_gone);
    for (int ch = 0; ch < k->nch; ch++) s->cb_total += atomic_load(&s->cb_calls[ch]);
    if (n_got != s->received_total) MH_RET_FAIL(s, "%lld values marked received, consumers counted %lld", n_got, s->received_total);
    if (n_gone != s->cb_total) MH_RET_FAIL(s, "%lld values marked handed back, on_undelivered ran %lld times", n_gone, s->cb_total);
    if (s->received_total + s->cb_total != s->total)
        MH_RET_FAIL(s, "received %lld + handed back %lld != accepted %lld (a value not accepted was seen)",
                       s->received_total, s->cb_total, s->total);

    /* Stats after quiescence, per channel. */
    for (int ch = 0; ch < k->nch; ch++) {
        kchan_stats x;
        kchan_stats_get(s->c[ch], &x);
        s->st[ch] = x;
        long long cb = atomic_load(&s->cb_calls[ch]), recvd = atomic_load(&s->received_on[ch]);
        size_t cap = k->cap[ch] == KCHAN_CONFLATED ? 1 : k->cap[ch];
        bool newest = k->overflow[ch] == KCHAN_DROP_NEWEST;
        bool oldest = k->overflow[ch] == KCHAN_DROP_OLDEST || k->cap[ch] == KCHAN_CONFLATED;
        bool cancelled = atomic_load(&s->cancelled[ch]) != 0;
        if (x.version != KCHAN_STATS_VERSION) MH_RET_FAIL(s, "ch %d: stats version %u", ch, x.version);
        if (x.sends != (uint64_t)acc_on[ch]) MH_RET_FAIL(s, "ch %d: stats.sends %llu, accepted %lld", ch, (unsigned long long)x.sends, acc_on[ch]);
        if (x.recvs != (uint64_t)recvd) MH_RET_FAIL(s, "ch %d: stats.recvs %llu, received %lld", ch, (unsigned long long)x.recvs, recvd);
        if (x.len != 0 || kchan_len(s->c[ch]) != 0) MH_RET_FAIL(s, "ch %d: len %zu (kchan_len %zu) after the drain", ch, x.len, kchan_len(s->c[ch]));
        if (x.sends != x.recvs + x.drops_newest + x.drops_oldest + x.undelivered + x.len)
            MH_RET_FAIL(s, "ch %d: sends %llu != recvs %llu + drops %llu + %llu + undelivered %llu + len %zu", ch,
                           (unsigned long long)x.sends, (unsigned long long)x.recvs, (unsigned long long)x.drops_newest,
                           (unsigned long long)x.drops_oldest, (unsigned long long)x.undelivered, x.len);
        if ((!newest && x.drops_newest) || (!oldest && x.drops_oldest) || (!cancelled && x.undelivered))
            MH_RET_FAIL(s, "ch %d: drops_newest %llu, drops_oldest %llu, undelivered %llu, on a channel that %s",
                           ch, (unsigned long long)x.drops_newest, (unsigned long long)x.drops_oldest,
                           (unsigned long long)x.undelivered, cancelled ? "was cancelled" : "was not cancelled");
        if ((uint64_t)cb != x.drops_newest + x.drops_oldest + x.undelivered)
            MH_RET_FAIL(s, "ch %d: on_undelivered ran %lld times, stats say %llu dropped + %llu undelivered", ch, cb,
                           (unsigned long long)(x.drops_newest + x.drops_oldest), (unsigned long long)x.undelivered);
        if (x.cap != cap) MH_RET_FAIL(s, "ch %d: stats.cap %zu, expected %zu", ch, x.cap, cap);
        if (cap != KCHAN_UNLIMITED && x.max_len > cap) MH_RET_FAIL(s, "ch %d: max_len %zu above cap %zu", ch, x.max_len, cap);
        if (!x.closed || !kchan_is_closed(s->c[ch])) MH_RET_FAIL(s, "ch %d: not closed", ch);
        if (x.waiting_senders || x.waiting_receivers)
            MH_RET_FAIL(s, "ch %d: %u senders, %u receivers still parked", ch, x.waiting_senders, x.waiting_receivers);
        if (k->sends_never_wait && x.send_full + x.blocked_sends)
            MH_RET_FAIL(s, "ch %d: a send was counted as full (%llu) or waiting (%llu)", ch,
                           (unsigned long long)x.send_full, (unsigned long long)x.blocked_sends);
    }
    if (k->exact_counters) {
        uint64_t to = 0, full = 0, empty = 0;
        for (int ch = 0; ch < k->nch; ch++) { to += s->st[ch].timeouts; full += s->st[ch].send_full; empty += s->st[ch].recv_empty; }
        if (to != (uint64_t)s->timedout) MH_RET_FAIL(s, "stats.timeouts %llu, observed %lld", (unsigned long long)to, s->timedout);
        if (full != (uint64_t)s->send_wb) MH_RET_FAIL(s, "stats.send_full %llu, observed %lld", (unsigned long long)full, s->send_wb);
        if (empty != (uint64_t)s->recv_wb) MH_RET_FAIL(s, "stats.recv_empty %llu, observed %lld", (unsigned long long)empty, s->recv_wb);
    }

    /* Closed and drained (or discarded): every further op says so, and hands nothing back. */
    for (int ch = 0; ch < k->nch; ch++) {
        kchan_t *c = s->c[ch];
        unsigned char e[MH_ELEM_MAX];
        mh_put(e, k->esz, ch, 0);
        int rc[5] = { kchan_peek(c, e), kchan_try_recv(c, e), kchan_try_send(c, e), kchan_close(c), kchan_cancel(c) };
        for (int i = 0; i < 5; i++)
            if (rc[i] != KCHAN_CLOSED)
                MH_RET_FAIL(s, "ch %d: %s after the end: %s", ch,
                               (const char *[]){ "peek", "try_recv", "try_send", "close", "cancel" }[i], kchan_strerror(rc[i]));
        if (atomic_load(&s->cb_calls[ch]) != (long)s->st[ch].drops_newest + (long)s->st[ch].drops_oldest + (long)s->st[ch].undelivered)
            MH_RET_FAIL(s, "ch %d: a second close/cancel handed elements back", ch);
    }
}

/* One run of cfg (round: part of the seed); returns the run, its results and its first
   failure (s->errors, s->first_error). The channels are destroyed; free with mh_free. */
static inline mh_run *mh_run_once(const mh_config *cfg, int round)
{
    mh_run *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->cfg = *cfg;
    const mh_config *k = &s->cfg;
    if (k->np > MH_MAX_P || k->nc > MH_MAX_C || k->nch > MH_MAX_CH || k->esz % 8 || k->esz > MH_ELEM_MAX ||
        k->send_batch > MH_BATCH_MAX || k->recv_batch > MH_BATCH_MAX) {
        mh_fail(s, "configuration out of the harness's bounds");
        return s;
    }
    size_t nbits = (size_t)k->np * (size_t)k->nch * (size_t)k->per;
    s->got = calloc(nbits, 1);
    s->gone = calloc(nbits, 1);
    if (!s->got || !s->gone) abort();
    kchan_counter_init(&s->accepted, 0);
    kchan_counter_init(&s->received, 0);
    kchan_counter_init(&s->released, 0);
    for (int ch = 0; ch < k->nch; ch++) {
        s->cb[ch] = (mh_cb){ s, ch };
        kchan_opts o = { .capacity = k->cap[ch], .overflow = k->overflow[ch], .on_undelivered = mh_on_undelivered,
                         .user = &s->cb[ch], .name = k->name };
        int rc = k->mem && ch == k->nch - 1 ? kchan_create_in(&s->c[ch], k->mem, k->mem_size, k->esz, &o)
                                             : kchan_create(&s->c[ch], k->esz, &o);
        if (rc != KCHAN_OK) { mh_fail(s, "create channel %d: %s", ch, kchan_strerror(rc)); return s; }
    }

    int64_t t0 = kchan_now_ns();
    pthread_t pt[MH_MAX_P], ct[MH_MAX_C], side;
    for (int i = 0; i < k->nc; i++) {
        uint32_t parts[2] = { (uint32_t)round, (uint32_t)(k->np + i) };
        s->cons[i].s = s; s->cons[i].id = i; s->cons[i].seed = mh_seed_from(k->seed, parts, 2);
        if (pthread_create(&ct[i], NULL, mh_consumer, &s->cons[i])) abort();
    }
    for (int i = 0; i < k->np; i++) {
        uint32_t parts[2] = { (uint32_t)round, (uint32_t)i };
        s->prod[i].s = s; s->prod[i].id = i; s->prod[i].seed = mh_seed_from(k->seed, parts, 2);
        if (pthread_create(&pt[i], NULL, mh_producer, &s->prod[i])) abort();
    }
    if (k->side && pthread_create(&side, NULL, k->side, s)) abort();

    uint32_t end_rng = mh_seed_from(k->seed, (const uint32_t[]){ (uint32_t)round, 0xe0du }, 2);
    const int64_t planned = (int64_t)k->np * k->nch * k->per;
    if (k->end == MH_END_TIMED) {
        struct timespec ts = { (time_t)(k->end_ms / 1000), (long)(k->end_ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) != 0) {}          /* the run's length, nothing more */
        atomic_store(&s->stop, 1);
        atomic_store_explicit(&s->side_stop, 1, memory_order_release);
        if (k->side) mh_join(s, side, "the side thread");
        s->at_end = 0;
        for (int ch = 0; ch < k->nch; ch++) {
            int rc = mh_end_channel(s, ch, &end_rng);
            if (rc != KCHAN_OK && rc != KCHAN_CLOSED) mh_fail(s, "the end of channel %d: %s", ch, kchan_strerror(rc));
        }
    } else if (k->end == MH_END_AFTER_PRODUCERS) {
        for (int i = 0; i < k->np; i++) mh_join(s, pt[i], "a producer");
        s->len_at_end = kchan_len(s->c[0]);
        s->end_rc = KCHAN_OK;
        for (int ch = 0; ch < k->nch; ch++) {
            int rc = mh_end_channel(s, ch, &end_rng);
            if (rc != KCHAN_OK) s->end_rc = rc;
        }
    } else {
        /* Midway: once the share was reached (or a thread failed, so that everyone parked is
           released and the failure is reported rather than a hang). */
        kchan_counter *counter = k->end == MH_END_AT_ACCEPTED ? &s->accepted : &s->received;
        s->wait_rc = mh_wait_share(s, counter, (int64_t)((double)planned * k->end_share), t0);
        if (k->hold_backlog) {
            atomic_store(&s->hold, 1);
            while (kchan_len(s->c[0]) < k->hold_backlog && !mh_failed(s) && kchan_now_ns() - t0 < 15000 * MH_MS)
                (void)kchan_counter_wait_ge(&s->accepted, kchan_counter_load(&s->accepted) + 1, MH_MS);
        }
        s->at_end = kchan_counter_load(&s->accepted);
        s->len_at_end = kchan_len(s->c[0]);
        s->end_rc = KCHAN_OK;
        for (int ch = 0; ch < k->nch; ch++) {
            int rc = mh_end_channel(s, ch, &end_rng);
            if (rc != KCHAN_OK) s->end_rc = rc;
        }
        (void)kchan_counter_add(&s->released, 1);
    }
    if (k->end != MH_END_AFTER_PRODUCERS)
        for (int i = 0; i < k->np; i++) mh_join(s, pt[i], "a producer");
    for (int i = 0; i < k->nc; i++) mh_join(s, ct[i], "a consumer");
    if (k->end != MH_END_TIMED) {
        atomic_store_explicit(&s->side_stop, 1, memory_order_release);
        if (k->side) mh_join(s, side, "the side thread");
    }
    s->elapsed_ns = kchan_now_ns() - t0;

    mh_verify(s);
    if (k->before_destroy) k->before_destroy(s);
    for (int ch = 0; ch < k->nch; ch++) {
        long cb = atomic_load(&s->cb_calls[ch]);
        kchan_destroy(s->c[ch]);
        s->c[ch] = NULL;
        if (atomic_load(&s->cb_calls[ch]) != cb && !mh_failed(s))
            mh_fail(s, "ch %d: destroy handed back %ld elements of a drained channel", ch, atomic_load(&s->cb_calls[ch]) - cb);
    }
    if (k->check_leaks && test_alloc_live_blocks() != 0 && !mh_failed(s))
        mh_fail(s, "%lld blocks (%lld bytes) left after destroy", (long long)test_alloc_live_blocks(),
                (long long)test_alloc_live_bytes());
    return s;
}

static inline void mh_free(mh_run *s)
{
    for (int ch = 0; ch < MH_MAX_CH; ch++)
        if (s->c[ch]) kchan_destroy(s->c[ch]);
    free(s->got);
    free(s->gone);
    free(s);
}
#endif
