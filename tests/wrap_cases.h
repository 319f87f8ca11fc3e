/* The wrap tests' bodies, shared by the Criterion suite test_wrap.c (64-bit, both engines)
   and the standalone tests/wrap32.c (gcc -m32, `make test-wrap-32`), which define
   WRAP_CHECK(cond, fmt, ...) as their assertion (it must not return on failure).

   The lock-free engine's ring positions are size_t (lap * one_lap + index): they wrap around
   after 2^32 positions on a 32-bit target (~10^9 operations on a capacity-1 channel), on
   64-bit never in practice. kchan__test_place starts a new lock-free channel a few laps
   before that wrap, so every count derived from two positions (len, max_len, trimming,
   readiness, peek, stats) is checked across it in a few thousand operations. On the mutex
   engine the hook says KCHAN_INVAL and the same checks run on an ordinary channel. */
#ifndef KCHAN_TEST_WRAP_CASES_H
#define KCHAN_TEST_WRAP_CASES_H
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "wrap_hooks.h"

#ifndef WRAP_CHECK
#  error "define WRAP_CHECK(cond, fmt, ...) before including wrap_cases.h"
#endif

#ifdef KCHAN_LOCKFREE
#  define WRAP_LOCKFREE 1
#else
#  define WRAP_LOCKFREE 0
#endif

/* on_undelivered: counts calls and keeps the last value (elements are int64_t). */
typedef struct { atomic_long calls; int64_t last; } wrap_rec;
static inline void wrap_record(void *elem, void *user)
{
    wrap_rec *r = (wrap_rec *)user;
    memcpy(&r->last, elem, sizeof r->last);
    atomic_fetch_add_explicit(&r->calls, 1, memory_order_relaxed);
}

/* A channel of int64_t placed `laps` laps before the wrap (lock-free engine). */
static inline kchan_t *wrap_chan(size_t cap, kchan_overflow policy, wrap_rec *rec, size_t laps)
{
    kchan_t *c = NULL;
    kchan_opts o;
    memset(&o, 0, sizeof o);
    o.capacity = cap;
    o.overflow = policy;
    o.on_undelivered = rec ? wrap_record : NULL;
    o.user = rec;
    WRAP_CHECK(kchan_create(&c, sizeof(int64_t), &o) == KCHAN_OK, "create cap %zu", cap);
    int r = laps ? kchan__test_place(c, laps) : KCHAN_OK;   /* 0: where it starts, far from it */
    WRAP_CHECK(r == (WRAP_LOCKFREE || !laps ? KCHAN_OK : KCHAN_INVAL), "place: %d", r);
    return c;
}

/* n send/recv pairs on an empty channel: moves head and tail on by n cells. */
static inline void wrap_advance(kchan_t *c, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t v = -1 - i, got = 0;
        WRAP_CHECK(kchan_try_send(c, &v) == KCHAN_OK, "advance send %lld", (long long)i);
        WRAP_CHECK(kchan_try_recv(c, &got) == KCHAN_OK && got == v, "advance recv %lld", (long long)i);
    }
}

static inline uint32_t wrap_rand(uint32_t *x)
{
    *x ^= *x << 13; *x ^= *x >> 17; *x ^= *x << 5;
    return *x;
}

/* ---- a model run: random try ops from one thread, every count compared after each ---- */

typedef struct {
    const char *name;
    size_t cap;                /* as for kchan_opts */
    kchan_overflow policy;
    size_t laps;               /* laps before the wrap */
    int steps;
} wrap_cfg;

typedef struct {
    int64_t q[4096];           /* the model FIFO: q[head % 4096 .. tail % 4096) */
    size_t head, tail, cap, max_len;
    uint64_t sends, recvs, drops_newest, drops_oldest, callbacks;
} wrap_model;

static inline size_t wrap_len(const wrap_model *m) { return m->tail - m->head; }

/* One element offered to the model as a send; returns the status the channel must give. */
static inline int wrap_model_send(wrap_model *m, kchan_overflow policy, int64_t v)
{
    if (wrap_len(m) == m->cap) {
        if (policy == KCHAN_BLOCK) return KCHAN_WOULDBLOCK;
        if (policy == KCHAN_DROP_NEWEST) { m->drops_newest++; m->callbacks++; m->sends++; return KCHAN_OK; }
        m->head++;             /* drop-oldest and conflated: evict the oldest */
        m->drops_oldest++;
        m->callbacks++;
    }
    m->q[m->tail++ % 4096] = v;
    m->sends++;
    if (wrap_len(m) > m->max_len) m->max_len = wrap_len(m);
    return KCHAN_OK;
}

static inline void wrap_compare(kchan_t *c, const wrap_model *m, kchan_overflow policy, const wrap_rec *rec,
                                const char *name, int step)
{
    kchan_stats s;
    size_t len = wrap_len(m);
    WRAP_CHECK(kchan_len(c) == len, "%s step %d: kchan_len %zu, expected %zu", name, step, kchan_len(c), len);
    kchan_stats_get(c, &s);
    WRAP_CHECK(s.len == len && s.max_len == m->max_len, "%s step %d: len %zu max_len %zu, expected %zu %zu",
               name, step, s.len, s.max_len, len, m->max_len);
    WRAP_CHECK(s.sends == m->sends && s.recvs == m->recvs, "%s step %d: sends %llu recvs %llu, expected %llu %llu",
               name, step, (unsigned long long)s.sends, (unsigned long long)s.recvs,
               (unsigned long long)m->sends, (unsigned long long)m->recvs);
    WRAP_CHECK(s.drops_newest == m->drops_newest && s.drops_oldest == m->drops_oldest,
               "%s step %d: drops_newest %llu drops_oldest %llu, expected %llu %llu", name, step,
               (unsigned long long)s.drops_newest, (unsigned long long)s.drops_oldest,
               (unsigned long long)m->drops_newest, (unsigned long long)m->drops_oldest);
    long calls = atomic_load(&((wrap_rec *)(uintptr_t)rec)->calls);
    WRAP_CHECK((uint64_t)calls == m->callbacks, "%s step %d: %ld on_undelivered calls, expected %llu",
               name, step, calls, (unsigned long long)m->callbacks);
    /* The readiness re-check a registering op makes (lock-free engine only). */
    int rs = kchan__test_ready(c, KCHAN_OP_SEND), rr = kchan__test_ready(c, KCHAN_OP_RECV);
    if (!WRAP_LOCKFREE) {
        WRAP_CHECK(rs == -1 && rr == -1, "%s: ready hook on the mutex engine: %d %d", name, rs, rr);
    } else {
        bool send_ready = policy != KCHAN_BLOCK || len < m->cap;   /* a drop makes room */
        WRAP_CHECK(rr == (len > 0), "%s step %d: recv ready %d with len %zu", name, step, rr, len);
        WRAP_CHECK(rs == send_ready, "%s step %d: send ready %d with len %zu of %zu", name, step, rs, len, m->cap);
    }
}

static inline void wrap_model_run(const wrap_cfg *cfg)
{
    wrap_rec rec;
    static wrap_model m;        /* 32 KiB: off the (qemu) thread stack */
    memset(&rec, 0, sizeof rec);
    memset(&m, 0, sizeof m);
    m.cap = cfg->cap == KCHAN_CONFLATED ? 1 : cfg->cap;
    kchan_overflow policy = cfg->cap == KCHAN_CONFLATED ? KCHAN_DROP_OLDEST : cfg->policy;
    kchan_t *c = wrap_chan(cfg->cap, cfg->policy, &rec, cfg->laps);
    uint32_t rng = 0x9e3779b9u ^ (uint32_t)cfg->steps ^ (uint32_t)(cfg->cap * 2654435761u);
    int64_t next = 1;
    for (int step = 0; step < cfg->steps; step++) {
        static const unsigned p_send[3] = { 80, 50, 25 };   /* fill, churn, drain phases */
        uint32_t r = wrap_rand(&rng);
        int64_t buf[8], got = 0;
        if (r % 100 < p_send[(step / 41) % 3]) {
            if (r % 9 == 0) {                  /* a batch: one claim up to the lap's end */
                size_t n = 1 + (r >> 8) % 8, sent = 0, want = 0;
                int expect = KCHAN_OK;
                for (size_t i = 0; i < n; i++) buf[i] = next + (int64_t)i;
                int rc = kchan_send_many(c, buf, n, &sent, 0);
                for (; want < n && (expect = wrap_model_send(&m, policy, buf[want])) == KCHAN_OK; want++) {}
                WRAP_CHECK(rc == expect && sent == want, "%s step %d: send_many %zu: %d sent %zu, expected %d %zu",
                           cfg->name, step, n, rc, sent, expect, want);
                next += (int64_t)want;
            } else {
                int expect = wrap_model_send(&m, policy, next);
                int rc = kchan_try_send(c, &next);
                WRAP_CHECK(rc == expect, "%s step %d: try_send %d, expected %d", cfg->name, step, rc, expect);
                if (rc == KCHAN_OK) next++;
            }
        } else if (r % 5 == 0) {
            int rc = kchan_peek(c, &got);
            if (wrap_len(&m) == 0) WRAP_CHECK(rc == KCHAN_WOULDBLOCK, "%s step %d: peek %d on empty", cfg->name, step, rc);
            else WRAP_CHECK(rc == KCHAN_OK && got == m.q[m.head % 4096], "%s step %d: peek %d %lld, expected %lld",
                            cfg->name, step, rc, (long long)got, (long long)m.q[m.head % 4096]);
        } else if (r % 5 == 1) {
            size_t max = 1 + (r >> 8) % 8, n = 0, want = wrap_len(&m) < max ? wrap_len(&m) : max;
            int rc = kchan_recv_many(c, buf, max, &n, 0);
            WRAP_CHECK(rc == (want ? KCHAN_OK : KCHAN_WOULDBLOCK) && n == want,
                       "%s step %d: recv_many %zu: %d got %zu, expected %zu", cfg->name, step, max, rc, n, want);
            for (size_t i = 0; i < n; i++, m.head++, m.recvs++)
                WRAP_CHECK(buf[i] == m.q[m.head % 4096], "%s step %d: recv_many[%zu] %lld, expected %lld",
                           cfg->name, step, i, (long long)buf[i], (long long)m.q[m.head % 4096]);
        } else {
            int rc = kchan_try_recv(c, &got);
            if (wrap_len(&m) == 0) {
                WRAP_CHECK(rc == KCHAN_WOULDBLOCK, "%s step %d: try_recv %d on empty", cfg->name, step, rc);
            } else {
                WRAP_CHECK(rc == KCHAN_OK && got == m.q[m.head % 4096], "%s step %d: try_recv %d %lld, expected %lld",
                           cfg->name, step, rc, (long long)got, (long long)m.q[m.head % 4096]);
                m.head++;
                m.recvs++;
            }
        }
        WRAP_CHECK(wrap_len(&m) < 4096, "%s step %d: the model's queue is full", cfg->name, step);
        wrap_compare(c, &m, policy, &rec, cfg->name, step);
    }
    /* Cancel hands what is left to on_undelivered and counts it. */
    size_t left = wrap_len(&m);
    WRAP_CHECK(kchan_cancel(c) == KCHAN_OK, "%s: cancel", cfg->name);
    kchan_stats s;
    kchan_stats_get(c, &s);
    WRAP_CHECK(s.undelivered == left && s.len == 0 && kchan_len(c) == 0, "%s: undelivered %llu len %zu, expected %zu 0",
               cfg->name, (unsigned long long)s.undelivered, s.len, left);
    WRAP_CHECK((uint64_t)atomic_load(&rec.calls) == m.callbacks + left, "%s: %ld calls after cancel, expected %llu",
               cfg->name, atomic_load(&rec.calls), (unsigned long long)(m.callbacks + left));
    kchan_destroy(c);
}

/* Every kind the lock-free engine serves, a few laps before the wrap. */
static const wrap_cfg wrap_cfgs[] = {
    { "block-1", 1, KCHAN_BLOCK, 3, 3000 },
    { "block-3", 3, KCHAN_BLOCK, 2, 3000 },
    { "block-40", 40, KCHAN_BLOCK, 1, 3000 },
    { "drop-newest-4", 4, KCHAN_DROP_NEWEST, 2, 3000 },
    { "drop-oldest-1", 1, KCHAN_DROP_OLDEST, 3, 3000 },
    { "drop-oldest-4", 4, KCHAN_DROP_OLDEST, 2, 3000 },
    { "conflated", KCHAN_CONFLATED, KCHAN_BLOCK, 3, 3000 },
    { "unlimited", KCHAN_UNLIMITED, KCHAN_BLOCK, 2, 3000 },
};
#define WRAP_NCFGS (sizeof wrap_cfgs / sizeof wrap_cfgs[0])

/* ---- issue 20 item 3: the two worst effects of the wrap, each at the wrap itself ---- */

/* Drop-oldest capacity 4, an empty channel whose head is two cells before the wrap (on the
   lock-free engine: 5 cells a lap with the spare): three sends must all stay. */
static inline void wrap_drop_oldest_three_sends(void)
{
    wrap_rec rec;
    memset(&rec, 0, sizeof rec);
    kchan_t *c = wrap_chan(4, KCHAN_DROP_OLDEST, &rec, 1);
    wrap_advance(c, 3);
    for (int64_t v = 1; v <= 3; v++) WRAP_CHECK(kchan_try_send(c, &v) == KCHAN_OK, "send %lld", (long long)v);
    kchan_stats s;
    kchan_stats_get(c, &s);
    WRAP_CHECK(s.len == 3 && kchan_len(c) == 3 && s.drops_oldest == 0 && atomic_load(&rec.calls) == 0,
               "three sends into an empty drop-oldest channel: len %zu kchan_len %zu drops_oldest %llu, %ld on_undelivered",
               s.len, kchan_len(c), (unsigned long long)s.drops_oldest, atomic_load(&rec.calls));
    for (int64_t v = 1; v <= 3; v++) {
        int64_t got = 0;
        WRAP_CHECK(kchan_try_recv(c, &got) == KCHAN_OK && got == v, "recv %lld: got %lld", (long long)v, (long long)got);
    }
    kchan_destroy(c);
}

typedef struct { kchan_t *c, *done; int64_t v, timeout_ns; } wrap_sender;

static inline void *wrap_sender_main(void *p)
{
    wrap_sender *a = (wrap_sender *)p;
    int rc = a->timeout_ns < 0 ? kchan_send(a->c, &a->v) : kchan_send_timeout(a->c, &a->v, a->timeout_ns);
    int r = kchan_send(a->done, &rc);
    (void)r;
    return NULL;
}

/* A full bounded ring straddling the wrap; a sender finds it full, and (lock-free engine)
   is held at the channel lock until one receive has made room, so it registers after that
   receive and only its re-check can find the room. It must succeed, with a 500 ms timeout
   and without one. The lock hold is a test hook; the sender's progress is read from
   stats.blocked_sends, bumped before it waits. */
static inline void wrap_send_after_recv(int64_t timeout_ns)
{
    kchan_t *c = wrap_chan(4, KCHAN_BLOCK, NULL, 1);
    kchan_t *done = NULL;
    WRAP_CHECK(kchan_create(&done, sizeof(int), &(kchan_opts){ .capacity = 1 }) == KCHAN_OK, "create done");
    wrap_advance(c, 2);                        /* head 2 cells before the wrap */
    for (int64_t v = 1; v <= 4; v++) WRAP_CHECK(kchan_try_send(c, &v) == KCHAN_OK, "fill %lld", (long long)v);
    int64_t extra = 5;
    WRAP_CHECK(kchan_try_send(c, &extra) == KCHAN_WOULDBLOCK, "%s", "the ring is full");
    bool held = kchan__test_hold(c, true);
    WRAP_CHECK(held == WRAP_LOCKFREE, "hold: %d", held);
    wrap_sender a = { c, done, 5, timeout_ns };
    pthread_t t;
    WRAP_CHECK(pthread_create(&t, NULL, wrap_sender_main, &a) == 0, "%s", "spawn");
    int64_t give_up = kchan_now_ns() + INT64_C(10000000000);
    kchan_stats s;
    do {
        sched_yield();
        kchan_stats_get(c, &s);
        WRAP_CHECK(kchan_now_ns() < give_up, "%s", "the sender never blocked");
    } while (s.blocked_sends == 0);
    int64_t got = 0;
    WRAP_CHECK(kchan_try_recv(c, &got) == KCHAN_OK && got == 1, "recv: got %lld", (long long)got);
    if (held) kchan__test_hold(c, false);
    int rc = KCHAN_INVAL;
    int r = kchan_recv_timeout(done, &rc, INT64_C(5000000000));
    WRAP_CHECK(r == KCHAN_OK, "the sender did not return within 5 s of the receive (%s)",
               timeout_ns < 0 ? "KCHAN_FOREVER: hung" : "timeout");
    WRAP_CHECK(rc == KCHAN_OK, "send with room free after the receive: %d (%s)", rc, kchan_strerror(rc));
    WRAP_CHECK(pthread_join(t, NULL) == 0, "%s", "join");
    for (int64_t v = 2; v <= 5; v++)
        WRAP_CHECK(kchan_try_recv(c, &got) == KCHAN_OK && got == v, "drain %lld: got %lld", (long long)v, (long long)got);
    kchan_destroy(c);
    kchan_destroy(done);
}

/* ---- the readiness re-check reads head before tail ---- */

typedef struct { kchan_t *c; atomic_int stop; atomic_long pairs; } wrap_churn;

static inline void *wrap_churn_main(void *p)
{
    wrap_churn *w = (wrap_churn *)p;
    int64_t v = 0, got;
    while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
        if (kchan_try_send(w->c, &v) == KCHAN_OK && kchan_try_recv(w->c, &got) == KCHAN_OK) v++;
        atomic_store_explicit(&w->pairs, (long)v, memory_order_relaxed);
    }
    return NULL;
}

/* One thread sends and receives in pairs on a capacity-4 channel (never more than one
   element in it) while this one asks whether a send is ready: room is always there, so
   "not ready" (a length read as underflowed) is wrong. kchan_len may read more than 1 (a
   stale head: a gauge), never more than the capacity. Runs `rounds` checks, at least until
   the partner has done 10^4 pairs. */
static inline void wrap_ready_churn(size_t laps, long rounds)
{
    wrap_churn w;
    w.c = wrap_chan(4, KCHAN_BLOCK, NULL, laps);
    atomic_init(&w.stop, 0);
    atomic_init(&w.pairs, 0);
    pthread_t t;
    WRAP_CHECK(pthread_create(&t, NULL, wrap_churn_main, &w) == 0, "%s", "spawn");
    long bad = 0, lens = 0;
    for (long i = 0; i < rounds || atomic_load(&w.pairs) < 10000; i++) {
        int rs = kchan__test_ready(w.c, KCHAN_OP_SEND);
        if (rs != (WRAP_LOCKFREE ? 1 : -1)) bad++;
        if (kchan_len(w.c) > 4) lens++;
        if (i % 64 == 0) sched_yield();
    }
    atomic_store(&w.stop, 1);
    WRAP_CHECK(pthread_join(t, NULL) == 0, "%s", "join");
    WRAP_CHECK(bad == 0 && lens == 0, "send not ready %ld times, len above 4 %ld times (of %ld rounds, %ld pairs)",
               bad, lens, rounds, atomic_load(&w.pairs));
    kchan_destroy(w.c);
}

/* Deterministic, from one thread: a send and a receive land between the re-check's two
   reads of the positions (a test hook runs them there), so head moves past where tail was.
   Reading tail first, the empty channel's length underflowed and a send looked not ready. */
static void wrap_pair(kchan_t *c)
{
    int64_t v = 7, got = 0;
    WRAP_CHECK(kchan_try_send(c, &v) == KCHAN_OK && kchan_try_recv(c, &got) == KCHAN_OK && got == 7,
               "%s", "the pair between the reads");
}

static inline void wrap_ready_interleaved(size_t laps)
{
    kchan_t *c = wrap_chan(4, KCHAN_BLOCK, NULL, laps);
    for (int i = 0; i < 12; i++) {             /* every cell of the ring, across the wrap */
        kchan__test_between_ready_reads(wrap_pair);
        int rs = kchan__test_ready(c, KCHAN_OP_SEND);
        kchan__test_between_ready_reads(NULL);
        WRAP_CHECK(rs == (WRAP_LOCKFREE ? 1 : -1), "round %d: send ready %d on an empty channel", i, rs);
        WRAP_CHECK(kchan_len(c) == 0, "round %d: len %zu", i, kchan_len(c));
    }
    kchan_destroy(c);
}

/* ---- max_len never goes back ---- */

/* An unlimited channel (on the lock-free engine its max_len is sampled): a snapshot that saw
   a length must never be followed by one with a smaller max_len. Push 32 (a segment and one
   cell), pop one (the pop reads the length and moves on past tail's segment), push 25 more
   (no segment linked), snapshot, pop one, snapshot. */
static inline void wrap_max_len_monotonic(size_t laps)
{
    kchan_t *c = NULL;
    WRAP_CHECK(kchan_create(&c, sizeof(int64_t), &(kchan_opts){ .capacity = KCHAN_UNLIMITED }) == KCHAN_OK, "%s", "create");
    int r = kchan__test_place(c, laps);
    WRAP_CHECK(laps == 0 || r == (WRAP_LOCKFREE ? KCHAN_OK : KCHAN_INVAL), "place: %d", r);
    int64_t v = 0, got;
    kchan_stats s1, s2;
    for (int i = 0; i < 32; i++, v++) WRAP_CHECK(kchan_try_send(c, &v) == KCHAN_OK, "send %d", i);
    WRAP_CHECK(kchan_try_recv(c, &got) == KCHAN_OK && got == 0, "%s", "recv 0");
    for (int i = 0; i < 25; i++, v++) WRAP_CHECK(kchan_try_send(c, &v) == KCHAN_OK, "send %d", 32 + i);
    kchan_stats_get(c, &s1);
    WRAP_CHECK(kchan_try_recv(c, &got) == KCHAN_OK && got == 1, "%s", "recv 1");
    kchan_stats_get(c, &s2);
    WRAP_CHECK(s1.len == 56 && s1.max_len == 56 && s2.len == 55 && s2.max_len == 56,
               "len %zu max_len %zu, then len %zu max_len %zu: expected 56 56, then 55 56",
               s1.len, s1.max_len, s2.len, s2.max_len);
    kchan_destroy(c);
}
#endif
