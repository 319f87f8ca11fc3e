/* evict: drop-oldest and conflated channels against threads held in the middle of an op
   (issue 14, items 3 and the review; issue 20, item 4). On the lock-free engine a test
   point (KCHAN_TESTING, tests/kchan_impl.c) holds one thread at a named place:

   stalled_peek_*: a peek held while it reads the oldest element. A try_send that must evict
   and kchan_stats_get, each on its own thread, must return within HOLD_BOUND while the peek
   is held (they once spun / blocked on the channel lock until it let go).
   stalled_eviction_*: a send held in the middle of its eviction; kchan_stats_get must still
   return, and never count the evicted element as received.
   recv_many_*: a send held between its push into the spare cell and its trim; a recv_many
   may not take more than the capacity (one element more would be the one to be evicted).
   custom_yield_*: a peek on an unlimited channel holds head; a try_recv spins on it. On the
   KCHAN_PLATFORM_CUSTOM build (tests/custom_hooks_impl.c) that spin must call the port's
   yield hook (counted there); elsewhere the test checks the ops' results only.
   stats_and_peek_under_load_*: producers, consumers, peekers and a stats poller on
   drop-oldest capacity 1 and 3 and conflated channels, with checksummed elements: no peek
   returns a torn element, no stats field steps back, and at the end conservation is exact.

   On the mutex engine there are no test points: the same ops run one after another and the
   end state is checked. */
#define KCHAN_TESTING
#include "common.h"
#include "mpmc_harness.h"
#include <stdint.h>
#include <time.h>

#if defined(__SANITIZE_THREAD__)
#  define EV_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define EV_TSAN 1
#  endif
#endif
#ifndef EV_TSAN
#  define EV_TSAN 0
#endif

#define EV_UNUSED __attribute__((unused))   /* helpers the mutex build does not use */
#define EV_MS (INT64_C(1000000))
/* How long an op may take while another thread is held: generous for a loaded 2-core box
   under a sanitizer; an op that waits for the held thread never finishes before release. */
#define HOLD_BOUND (1000 * EV_MS)

/* The custom platform build defines this (tests/custom_hooks_impl.c): yield hook calls. */
extern long test_custom_yields(void) __attribute__((weak));

static int64_t ev_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- holding a thread at a test point ---- */
static _Atomic(const kchan_t *) hold_chan;
static atomic_int hold_where, hold_armed, hold_held, hold_release;

EV_UNUSED static void hold_hook(const kchan_t *c, int point)
{
    int one = 1;
    if (c != atomic_load(&hold_chan) || point != atomic_load(&hold_where)) return;
    if (!atomic_compare_exchange_strong(&hold_armed, &one, 0)) return;   /* hold once */
    atomic_store(&hold_held, 1);
    while (!atomic_load(&hold_release)) sched_yield();
}

EV_UNUSED static void hold_at(const kchan_t *c, int point)
{
    atomic_store(&hold_chan, c);
    atomic_store(&hold_where, point);
    atomic_store(&hold_held, 0);
    atomic_store(&hold_release, 0);
    atomic_store(&hold_armed, 1);
    kchan__test_point = hold_hook;             /* before any thread that may reach it starts */
}

/* Wait until *flag is set or `bound` ns pass; true if it was set. */
EV_UNUSED static bool wait_flag(atomic_int *flag, int64_t bound)
{
    int64_t end = ev_now() + bound;
    while (!atomic_load(flag)) {
        if (ev_now() > end) return false;
        sched_yield();
    }
    return true;
}

/* ---- one op on its own thread ---- */
enum { OP_PEEK, OP_TRY_SEND, OP_STATS, OP_TRY_RECV };
typedef struct {
    kchan_t *c;
    int op;
    int64_t v;
    int rc;
    kchan_stats s;
    atomic_int done;
} ev_op;

EV_UNUSED static void *ev_run(void *p)
{
    ev_op *a = (ev_op *)p;
    switch (a->op) {
    case OP_PEEK: a->rc = kchan_peek(a->c, &a->v); break;
    case OP_TRY_SEND: a->rc = kchan_try_send(a->c, &a->v); break;
    case OP_STATS: kchan_stats_get(a->c, &a->s); a->rc = KCHAN_OK; break;
    case OP_TRY_RECV: a->rc = kchan_try_recv(a->c, &a->v); break;
    }
    atomic_store(&a->done, 1);
    return NULL;
}

EV_UNUSED static pthread_t ev_start(ev_op *a, kchan_t *c, int op, int64_t v)
{
    a->c = c;
    a->op = op;
    a->v = v;
    a->rc = 1;
    atomic_store(&a->done, 0);
    return t_spawn(ev_run, a);
}

static kchan_t *ev_chan(size_t cap, kchan_overflow policy, t_recorder *rec)
{
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = cap, .overflow = policy };
    if (rec) { rec->elem_size = 8; o.on_undelivered = t_record; o.user = rec; }
    cr_assert_eq(kchan_create(&c, sizeof(int64_t), &o), KCHAN_OK);
    return c;
}

static void send_ok(kchan_t *c, int64_t v) { cr_assert_eq(kchan_send(c, &v), KCHAN_OK); }

static void check_conservation(const kchan_t *c, uint64_t sends, uint64_t recvs, uint64_t drops, size_t len)
{
    kchan_stats s = t_stats(c);
    cr_expect_eq(s.sends, sends, "sends %llu, expected %llu", (unsigned long long)s.sends, (unsigned long long)sends);
    cr_expect_eq(s.recvs, recvs, "recvs %llu, expected %llu", (unsigned long long)s.recvs, (unsigned long long)recvs);
    cr_expect_eq(s.drops_oldest, drops, "drops_oldest %llu, expected %llu",
                 (unsigned long long)s.drops_oldest, (unsigned long long)drops);
    cr_expect_eq(s.len, len, "len %zu, expected %zu", s.len, len);
    cr_expect_eq(s.sends, s.recvs + s.drops_newest + s.drops_oldest + s.undelivered + s.len);
}

/* ---- a held peek: try_send (evicting) and stats must not wait for it ---- */
static void stalled_peek(size_t cap)
{
    t_recorder rec = { 0 };
    kchan_t *c = ev_chan(cap, KCHAN_DROP_OLDEST, &rec);
    for (int64_t i = 1; i <= (int64_t)cap; i++) send_ok(c, i);          /* full: 1..cap */
    int64_t newest = (int64_t)cap + 1;
    ev_op peek, send, stats;
#ifdef KCHAN_LOCKFREE
    hold_at(c, KCHAN__TP_PEEK);
    pthread_t tp = ev_start(&peek, c, OP_PEEK, 0);
    cr_assert(wait_flag(&hold_held, 10000 * EV_MS), "the peek never reached its test point");
    int64_t t0 = ev_now();
    pthread_t ts = ev_start(&send, c, OP_TRY_SEND, newest);
    pthread_t tq = ev_start(&stats, c, OP_STATS, 0);
    bool send_in_time = wait_flag(&send.done, HOLD_BOUND);
    bool stats_in_time = wait_flag(&stats.done, HOLD_BOUND);
    int64_t waited = ev_now() - t0;
    atomic_store(&hold_release, 1);
    t_join(tp); t_join(ts); t_join(tq);
    kchan__test_point = NULL;
    cr_expect(send_in_time, "try_send (evicting) waited for the held peek (> %lld ms)", (long long)(HOLD_BOUND / EV_MS));
    cr_expect(stats_in_time, "kchan_stats_get waited for the held peek (%lld ms)", (long long)(waited / EV_MS));
    /* The peek read 1 when it was held; it may retry and see the oldest after the eviction. */
    cr_expect(peek.v == 1 || peek.v == 2 || (cap == 1 && peek.v == newest), "peek got %lld", (long long)peek.v);
#else
    peek.rc = kchan_peek(c, &peek.v);
    send.v = newest;
    send.rc = kchan_try_send(c, &send.v);
    kchan_stats_get(c, &stats.s);
    cr_expect_eq(peek.v, 1);
#endif
    cr_expect_eq(peek.rc, KCHAN_OK);
    cr_expect_eq(send.rc, KCHAN_OK);
    cr_expect_eq(stats.s.drops_oldest <= 1, true);
    cr_expect_eq(stats.s.recvs, 0, "an eviction counted as a receive: recvs %llu", (unsigned long long)stats.s.recvs);
    check_conservation(c, cap + 1, 0, 1, cap);
    cr_expect_eq(atomic_load(&rec.calls), 1);
    cr_expect_eq(rec.values[0], 1);
    int64_t v;
    cr_expect_eq(kchan_peek(c, &v), KCHAN_OK);
    cr_expect_eq(v, cap == 1 ? newest : 2);
    kchan_destroy(c);
}

Test(evict, stalled_peek_drop_oldest, .timeout = T_TIMEOUT) { stalled_peek(2); }
Test(evict, stalled_peek_drop_oldest_cap1, .timeout = T_TIMEOUT) { stalled_peek(1); }

Test(evict, stalled_peek_conflated, .timeout = T_TIMEOUT)
{
    t_recorder rec = { 0 };
    kchan_t *c = ev_chan(KCHAN_CONFLATED, KCHAN_BLOCK, &rec);
    send_ok(c, 1);
    ev_op peek, send, stats;
#ifdef KCHAN_LOCKFREE
    hold_at(c, KCHAN__TP_PEEK);
    pthread_t tp = ev_start(&peek, c, OP_PEEK, 0);
    cr_assert(wait_flag(&hold_held, 10000 * EV_MS), "the peek never reached its test point");
    pthread_t ts = ev_start(&send, c, OP_TRY_SEND, 2);
    pthread_t tq = ev_start(&stats, c, OP_STATS, 0);
    bool send_in_time = wait_flag(&send.done, HOLD_BOUND);
    bool stats_in_time = wait_flag(&stats.done, HOLD_BOUND);
    atomic_store(&hold_release, 1);
    t_join(tp); t_join(ts); t_join(tq);
    kchan__test_point = NULL;
    cr_expect(send_in_time, "try_send (conflated) waited for the held peek");
    cr_expect(stats_in_time, "kchan_stats_get waited for the held peek");
    cr_expect(peek.v == 1 || peek.v == 2, "peek got %lld", (long long)peek.v);
#else
    peek.rc = kchan_peek(c, &peek.v);
    send.v = 2;
    send.rc = kchan_try_send(c, &send.v);
    kchan_stats_get(c, &stats.s);
#endif
    cr_expect_eq(peek.rc, KCHAN_OK);
    cr_expect_eq(send.rc, KCHAN_OK);
    cr_expect_eq(stats.s.recvs, 0);
    check_conservation(c, 2, 0, 1, 1);
    cr_expect_eq(atomic_load(&rec.calls), 1);
    kchan_destroy(c);
}

/* ---- a held eviction: stats must not wait for it, nor count it as a receive ---- */
Test(evict, stalled_eviction_stats, .timeout = T_TIMEOUT)
{
    t_recorder rec = { 0 };
    kchan_t *c = ev_chan(2, KCHAN_DROP_OLDEST, &rec);
    send_ok(c, 1);
    send_ok(c, 2);
    ev_op send, stats;
#ifdef KCHAN_LOCKFREE
    hold_at(c, KCHAN__TP_EVICT);
    pthread_t ts = ev_start(&send, c, OP_TRY_SEND, 3);
    cr_assert(wait_flag(&hold_held, 10000 * EV_MS), "the eviction never reached its test point");
    pthread_t tq = ev_start(&stats, c, OP_STATS, 0);
    bool stats_in_time = wait_flag(&stats.done, HOLD_BOUND);
    atomic_store(&hold_release, 1);
    t_join(ts); t_join(tq);
    kchan__test_point = NULL;
    cr_expect(stats_in_time, "kchan_stats_get waited for a held eviction");
#else
    send.v = 3;
    send.rc = kchan_try_send(c, &send.v);
    kchan_stats_get(c, &stats.s);
#endif
    cr_expect_eq(send.rc, KCHAN_OK);
    cr_expect_eq(stats.s.recvs, 0, "an eviction in progress counted as a receive: recvs %llu",
                 (unsigned long long)stats.s.recvs);
    cr_expect(stats.s.drops_oldest <= 1);
    check_conservation(c, 3, 0, 1, 2);
    cr_expect_eq(atomic_load(&rec.calls), 1);
    cr_expect_eq(rec.values[0], 1);
    kchan_destroy(c);
}

/* ---- recv_many between a send's push into the spare cell and its trim ---- */
static void recv_many_mid_trim(size_t cap)
{
    t_recorder rec = { 0 };
    kchan_t *c = ev_chan(cap, cap == KCHAN_CONFLATED ? KCHAN_BLOCK : KCHAN_DROP_OLDEST, &rec);
    size_t n = cap == KCHAN_CONFLATED ? 1 : cap;
    for (int64_t i = 1; i <= (int64_t)n; i++) send_ok(c, i);
    int64_t newest = (int64_t)n + 1, out[16];
    size_t got = 0;
    ev_op send;
#ifdef KCHAN_LOCKFREE
    hold_at(c, KCHAN__TP_PUSHED);
    pthread_t ts = ev_start(&send, c, OP_TRY_SEND, newest);
    cr_assert(wait_flag(&hold_held, 10000 * EV_MS), "the send never reached its test point");
    int r = kchan_recv_many(c, out, 16, &got, 0);
    atomic_store(&hold_release, 1);
    t_join(ts);
    kchan__test_point = NULL;
    cr_expect_eq(r, KCHAN_OK);
    cr_expect(got <= n, "recv_many took %zu elements from a channel of capacity %zu", got, n);
    /* Taken before the send (linearized so): the oldest `got`, in order. */
    for (size_t i = 0; i < got && i < 16; i++) cr_expect_eq(out[i], (int64_t)i + 1);
    cr_expect_eq(send.rc, KCHAN_OK);
    /* What is left after the trim: the newest n of what recv_many left behind. */
    uint64_t left = n + 1 - got, keep = left < n ? left : n;
    check_conservation(c, n + 1, got, left - keep, keep);
    cr_expect_eq(atomic_load(&rec.calls), (long)(left - keep));
#else
    send.v = newest;
    send.rc = kchan_try_send(c, &send.v);
    cr_expect_eq(send.rc, KCHAN_OK);
    cr_expect_eq(kchan_recv_many(c, out, 16, &got, 0), KCHAN_OK);
    cr_expect_eq(got, n);
    for (size_t i = 0; i < got; i++) cr_expect_eq(out[i], (int64_t)i + 2);
    check_conservation(c, n + 1, n, 1, 0);
#endif
    kchan_destroy(c);
}

Test(evict, recv_many_mid_trim_drop_oldest, .timeout = T_TIMEOUT) { recv_many_mid_trim(3); }
Test(evict, recv_many_mid_trim_conflated, .timeout = T_TIMEOUT) { recv_many_mid_trim(KCHAN_CONFLATED); }

/* ---- a lock-free op spinning on a held partner calls the custom port's yield hook ---- */
Test(evict, custom_yield_while_spinning_on_a_held_peek, .timeout = T_TIMEOUT)
{
    kchan_t *c = ev_chan(KCHAN_UNLIMITED, KCHAN_BLOCK, NULL);
    send_ok(c, 7);
    ev_op peek, recv;
#ifdef KCHAN_LOCKFREE
    hold_at(c, KCHAN__TP_PEEK);
    pthread_t tp = ev_start(&peek, c, OP_PEEK, 0);
    cr_assert(wait_flag(&hold_held, 10000 * EV_MS), "the peek never reached its test point");
    long before = test_custom_yields ? test_custom_yields() : 0;
    pthread_t tr = ev_start(&recv, c, OP_TRY_RECV, 0);
    if (test_custom_yields) {
        /* The try_recv spins on the pinned head: its backoff must reach the port's yield. */
        int64_t end = ev_now() + 10000 * EV_MS;
        while (test_custom_yields() < before + 20 && ev_now() < end) sched_yield();
        cr_expect_geq(test_custom_yields(), before + 20, "the custom yield hook ran %ld times while an op spun",
                      test_custom_yields() - before);
    }
    atomic_store(&hold_release, 1);
    t_join(tp); t_join(tr);
    kchan__test_point = NULL;
#else
    peek.rc = kchan_peek(c, &peek.v);
    recv.rc = kchan_try_recv(c, &recv.v);
#endif
    cr_expect_eq(peek.rc, KCHAN_OK);
    cr_expect_eq(peek.v, 7);
    cr_expect_eq(recv.rc, KCHAN_OK);
    cr_expect_eq(recv.v, 7);
    kchan_destroy(c);
}

/* ---- under load: peeks never torn, stats never back, conservation exact at the end ---- */
enum { LD_PRODUCERS = 2 };
#define LD_PER (EV_TSAN ? 4000 : 20000)

typedef struct {
    kchan_t *c;
    atomic_int producers_left;
    atomic_long received, torn, evicted, bad_stats;
    int id;
} ld_shared;

static void ld_undelivered(void *elem, void *user)
{
    ld_shared *sh = (ld_shared *)user;
    mh_elem e;
    memcpy(&e, elem, sizeof e);
    if (e.chk != mh_chk(e.v)) atomic_fetch_add(&sh->torn, 1);
    atomic_fetch_add(&sh->evicted, 1);
}

typedef struct { ld_shared *sh; int id; } ld_arg;

static void *ld_producer(void *p)
{
    ld_arg *a = (ld_arg *)p;
    uint32_t rng = 0x9e3779b9u * (uint32_t)(a->id + 1);
    for (int64_t i = 0; i < LD_PER;) {
        mh_elem batch[4];
        size_t n = 1 + mh_rand(&rng) % 4, sent = 0;
        if (n > (size_t)(LD_PER - i)) n = (size_t)(LD_PER - i);
        for (size_t j = 0; j < n; j++) batch[j] = mh_make(a->id, i + (int64_t)j);
        if (n == 1) { cr_assert_eq(kchan_try_send(a->sh->c, &batch[0]), KCHAN_OK); sent = 1; }
        else cr_assert_eq(kchan_send_many(a->sh->c, batch, n, &sent, 0), KCHAN_OK);
        cr_assert_eq(sent, n);
        i += (int64_t)n;
        mh_stall(&rng, false);
    }
    atomic_fetch_sub(&a->sh->producers_left, 1);
    return NULL;
}

static void *ld_consumer(void *p)
{
    ld_shared *sh = (ld_shared *)p;
    uint32_t rng = 0x85ebca6bu;
    for (;;) {
        bool last = atomic_load(&sh->producers_left) == 0;   /* read before the try */
        mh_elem out[4];
        size_t got = 0;
        int r = mh_rand(&rng) % 2 ? kchan_recv_many(sh->c, out, 4, &got, 0)
                                  : (got = 1, kchan_try_recv(sh->c, &out[0]));
        if (r == KCHAN_WOULDBLOCK) { if (last) break; sched_yield(); continue; }
        cr_assert_eq(r, KCHAN_OK);
        for (size_t j = 0; j < got; j++)
            if (out[j].chk != mh_chk(out[j].v)) atomic_fetch_add(&sh->torn, 1);
        atomic_fetch_add(&sh->received, (long)got);
        mh_stall(&rng, true);
    }
    return NULL;
}

static void *ld_peeker(void *p)
{
    ld_shared *sh = (ld_shared *)p;
    while (atomic_load(&sh->producers_left) > 0) {
        mh_elem e;
        int r = kchan_peek(sh->c, &e);
        if (r == KCHAN_OK && e.chk != mh_chk(e.v)) atomic_fetch_add(&sh->torn, 1);
        cr_assert(r == KCHAN_OK || r == KCHAN_WOULDBLOCK, "peek said %d", r);
    }
    return NULL;
}

static void *ld_poller(void *p)
{
    ld_shared *sh = (ld_shared *)p;
    kchan_stats prev = t_stats(sh->c), s;
    while (atomic_load(&sh->producers_left) > 0) {
        kchan_stats_get(sh->c, &s);
        if (s.sends < prev.sends || s.recvs < prev.recvs || s.drops_oldest < prev.drops_oldest ||
            s.max_len < prev.max_len || s.len > s.cap)
            atomic_fetch_add(&sh->bad_stats, 1);
        prev = s;
    }
    return NULL;
}

static void under_load(size_t cap)
{
    ld_shared sh;
    memset(&sh, 0, sizeof sh);
    kchan_opts o = { .capacity = cap, .overflow = cap == KCHAN_CONFLATED ? KCHAN_BLOCK : KCHAN_DROP_OLDEST,
                     .on_undelivered = ld_undelivered, .user = &sh };
    cr_assert_eq(kchan_create(&sh.c, sizeof(mh_elem), &o), KCHAN_OK);
    atomic_store(&sh.producers_left, LD_PRODUCERS);
    ld_arg args[LD_PRODUCERS];
    pthread_t tp[LD_PRODUCERS];
    for (int i = 0; i < LD_PRODUCERS; i++) { args[i].sh = &sh; args[i].id = i; tp[i] = t_spawn(ld_producer, &args[i]); }
    pthread_t tc = t_spawn(ld_consumer, &sh), tk = t_spawn(ld_peeker, &sh), ts = t_spawn(ld_poller, &sh);
    for (int i = 0; i < LD_PRODUCERS; i++) t_join(tp[i]);
    t_join(tc); t_join(tk); t_join(ts);
    kchan_stats s = t_stats(sh.c);
    long sent = (long)LD_PRODUCERS * LD_PER;
    cr_expect_eq(atomic_load(&sh.torn), 0, "%ld torn elements", atomic_load(&sh.torn));
    cr_expect_eq(atomic_load(&sh.bad_stats), 0, "%ld snapshots went back", atomic_load(&sh.bad_stats));
    cr_expect_eq((long)s.sends, sent);
    cr_expect_eq((long)s.recvs, atomic_load(&sh.received), "recvs %llu, received %ld",
                 (unsigned long long)s.recvs, atomic_load(&sh.received));
    cr_expect_eq((long)s.drops_oldest, atomic_load(&sh.evicted));
    cr_expect_eq(s.len, 0);
    cr_expect_eq(s.sends, s.recvs + s.drops_newest + s.drops_oldest + s.undelivered + s.len);
    kchan_destroy(sh.c);
}

Test(evict, stats_and_peek_under_load_cap1, .timeout = T_TIMEOUT) { under_load(1); }
Test(evict, stats_and_peek_under_load_cap3, .timeout = T_TIMEOUT) { under_load(3); }
Test(evict, stats_and_peek_under_load_conflated, .timeout = T_TIMEOUT) { under_load(KCHAN_CONFLATED); }

/* ---- a send counts from the instant it takes effect (issue 20, item 2) ----
   Bounded, drop-oldest and unlimited channels, each with one element already in it. On the
   lock-free engine a try_send is held between the claim of its cell and its copy: len,
   stats.len and stats.sends already count it (the contract's instant, see kchan.h
   SEMANTICS), and a try_recv and a peek that come for it then get it once the copy is
   done, never KCHAN_WOULDBLOCK. On the mutex engine the same ops run one after another. */
static void inflight_send(size_t cap, kchan_overflow policy)
{
    kchan_t *c = ev_chan(cap, policy, NULL);
    send_ok(c, 1);
    ev_op send, recv1, recv2, peek;
#ifdef KCHAN_LOCKFREE
    hold_at(c, KCHAN__TP_CLAIMED);
    pthread_t ts = ev_start(&send, c, OP_TRY_SEND, 2);
    cr_assert(wait_flag(&hold_held, 10000 * EV_MS), "the send never reached its test point");
    kchan_stats x = t_stats(c);
    cr_expect_eq(kchan_len(c), 2u, "len %zu with a send past its claim", kchan_len(c));
    cr_expect_eq(x.len, 2u);
    cr_expect_eq(x.sends, 2u);
    recv1.rc = kchan_try_recv(c, &recv1.v);    /* the element before it: no wait */
    /* A peek, then a try_recv, come for the held send's element: neither may say the
       channel is empty while it counts one element. (Once the try_recv has claimed the
       element, as a list's receive does before its copy, the peek may see it gone.) */
    pthread_t tp = ev_start(&peek, c, OP_PEEK, 0);
    int64_t end = ev_now() + 100 * EV_MS;
    while (ev_now() < end && !atomic_load(&peek.done)) sched_yield();
    cr_expect(!atomic_load(&peek.done) || peek.rc != KCHAN_WOULDBLOCK, "a peek said empty while len was 1");
    pthread_t tr = ev_start(&recv2, c, OP_TRY_RECV, 0);
    end = ev_now() + 100 * EV_MS;
    while (ev_now() < end && !atomic_load(&recv2.done)) sched_yield();
    cr_expect(!atomic_load(&recv2.done) || recv2.rc != KCHAN_WOULDBLOCK, "a try_recv said empty while len was 1");
    atomic_store(&hold_release, 1);
    t_join(ts); t_join(tp); t_join(tr);
    kchan__test_point = NULL;
#else
    send.v = 2;
    send.rc = kchan_try_send(c, &send.v);
    kchan_stats x = t_stats(c);
    cr_expect_eq(kchan_len(c), 2u);
    cr_expect_eq(x.len, 2u);
    cr_expect_eq(x.sends, 2u);
    recv1.rc = kchan_try_recv(c, &recv1.v);
    peek.rc = kchan_peek(c, &peek.v);
    recv2.rc = kchan_try_recv(c, &recv2.v);
#endif
    cr_expect_eq(send.rc, KCHAN_OK);
    cr_expect_eq(recv1.rc, KCHAN_OK);
    cr_expect_eq(recv1.v, 1);
    cr_expect_eq(recv2.rc, KCHAN_OK, "the try_recv: %s", kchan_strerror(recv2.rc));
    cr_expect_eq(recv2.v, 2);
    /* the peek ran beside the try_recv: it saw the element, or (after it) an empty channel */
    cr_expect(peek.rc == KCHAN_OK ? peek.v == 2 : peek.rc == KCHAN_WOULDBLOCK, "peek: %s, %lld",
              kchan_strerror(peek.rc), (long long)peek.v);
    x = t_stats(c);
    cr_expect_eq(x.sends, 2u);
    cr_expect_eq(x.recvs, 2u);
    cr_expect_eq(x.len, 0u);
    kchan_destroy(c);
}

Test(evict, inflight_send_counts_from_its_claim_bounded, .timeout = T_TIMEOUT) { inflight_send(4, KCHAN_BLOCK); }
Test(evict, inflight_send_counts_from_its_claim_drop_oldest, .timeout = T_TIMEOUT) { inflight_send(4, KCHAN_DROP_OLDEST); }
Test(evict, inflight_send_counts_from_its_claim_unlimited, .timeout = T_TIMEOUT)
{
    inflight_send(KCHAN_UNLIMITED, KCHAN_BLOCK);
}
