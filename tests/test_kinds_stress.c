/* kinds_stress: the unlimited, drop-oldest and conflated kinds through the public API only, so
   it runs the same on both engines (with -DKCHAN_LOCKFREE these kinds are served by the
   lock-free engine: unlimited as a list of 31-cell segments freed once consumed, drop-oldest
   and conflated as the lock-free ring with evictions under the channel lock; otherwise the
   mutex engine's ring).

   unlimited_mpmc_close_midway / unlimited_cancel_midway_hands_back_everything: 4 producers
   x 4 consumers on an unlimited channel of 16-byte elements (value + checksum, so a torn copy
   is caught). Producers mix send, send_timeout, try_send and send_many with batches of 1..70
   (they straddle the 31-cell segments); consumers mix recv, recv_timeout, try_recv, recv_many
   (1..70) and peek; both stall at random (spins and yields, never sleeps). Main closes (or
   cancels) once half the planned sends were accepted, told by a kchan_counter. Checked:
   every accepted value received exactly once or (cancel) handed back exactly once, nothing
   else anywhere; each consumer sees each producer's values in order; a send on an unlimited
   channel never waits or fails but for KCHAN_CLOSED; the stats add up; nothing leaks.

   unlimited_memory_returns_after_concurrent_burst: 2 producers push 200k elements each while
   the one consumer holds back until half are in, then drains: the backlog is on the heap,
   and once drained the channel is back within 4 KiB of its empty size.

   unlimited_segment_boundaries_single_thread: exact, against a model FIFO, with batches on
   and around multiples of 31; every value, len and the counters after every step.

   drop_oldest_stats_monotonic_under_load / conflated_stats_monotonic_under_load: 3
   producers hammer a drop-oldest channel of 4 (a conflated channel) while 2 consumers
   receive and a sixth thread polls kchan_stats_get: no counter goes back, len stays within
   cap; at the end every value was received once or evicted once, never both.

   conflated_latest_value_wins_single_thread: 1..1000 with no receiver: 1000 wins, 1..999
   go to on_undelivered in order, peek does not consume.

   KCHAN_STRESS set: 10x the rounds of the four MPMC tests (new seeds each), within a time
   budget. Under ThreadSanitizer their element counts are smaller. */
#include "common.h"
#include "mpmc_harness.h"
#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_THREAD__)
#  define LK_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define LK_TSAN 1
#  endif
#endif
#ifndef LK_TSAN
#  define LK_TSAN 0
#endif

#define LK_US MH_US
#define LK_MS MH_MS

enum { LK_SEG = 31 };                      /* cells per segment of the lock-free unlimited kind */
enum { LK_UNL_P = 4, LK_UNL_C = 4, LK_UNL_BATCH = 70 };
enum { LK_DROP_P = 3, LK_DROP_C = 2, LK_DROP_BATCH = 9, LK_DROP_RECV_BATCH = 6, LK_DROP_CAP = 4 };

/* Values per producer and run (about half are accepted before the midway close/cancel). */
#define LK_UNL_PER (LK_TSAN ? 30000 : 50000)
enum { LK_UNL_BACKLOG = 1024 };  /* elements queued before the midway cancel */
#define LK_DROP_PER (LK_TSAN ? 20000 : 50000)
#define LK_BURST_PER 200000
#define LK_STRESS_ROUNDS 10
#define LK_STRESS_BUDGET_NS (10000 * LK_MS)

enum { LK_UNL_CLOSE, LK_UNL_CANCEL, LK_DROP_OLDEST, LK_CONFLATED, LK_BURST };
static const char *const lk_mode_name[] = { "unlimited/close", "unlimited/cancel", "drop_oldest", "conflated",
                                            "burst" };

/* A fixed seed per mode (the harness adds the round and the thread). */
static uint32_t lk_seed(int mode)
{
    uint32_t parts[1] = { (uint32_t)mode };
    return mh_seed_from(0x6a09e667u, parts, 1);
}

/* forever / try / short, by two bits of r */
static int64_t lk_pick_timeout(uint32_t r)
{
    int kind = (int)(r % 3);
    return kind == 0 ? KCHAN_FOREVER : kind == 1 ? 0 : mh_short(r >> 2);
}

/* `run` once, or 10x with new seeds under KCHAN_STRESS, within the budget. */
static void lk_rounds(void (*run)(int mode, int64_t per, int round), int mode, int64_t per)
{
    const int rounds = getenv("KCHAN_STRESS") ? LK_STRESS_ROUNDS : 1;
    int64_t t0 = kchan_now_ns(), last = 0;
    int r = 0;
    while (r < rounds && (r == 0 || kchan_now_ns() - t0 + last < LK_STRESS_BUDGET_NS)) {
        int64_t r0 = kchan_now_ns();
        run(mode, per, r);
        last = kchan_now_ns() - r0;
        r++;
    }
    if (rounds > 1) cr_log_info("kinds_stress %s: %d of %d rounds", lk_mode_name[mode], r, rounds);
}

/* ---- unlimited, 4 x 4, close or cancel midway ----------------------------------------- */

/* Producers: send, send_timeout, try_send, send_many of 1..70 (across the 31-cell segments),
   none of which may wait or fail but with KCHAN_CLOSED; once out of plan, every kind of send
   must be refused after the close. Consumers: recv, recv_timeout, try_recv, recv_many of
   1..70, peek. Cancel: half the consumers hold a backlog of LK_UNL_BACKLOG for it. */
static void lk_unl_run(int mode, int64_t per, int round)
{
    mh_config cfg = {
        .name = lk_mode_name[mode], .np = LK_UNL_P, .nc = LK_UNL_C, .nch = 1, .esz = sizeof(mh_elem),
        .cap = { KCHAN_UNLIMITED }, .per = per,
        .send_mix = { [MH_SEND] = 2, [MH_SEND_TIMEOUT] = 2, [MH_TRY_SEND] = 2, [MH_SEND_MANY] = 2 },
        .recv_mix = { [MH_RECV] = 4, [MH_RECV_TIMEOUT] = 4, [MH_TRY_RECV] = 3, [MH_PEEK] = 1, [MH_RECV_MANY] = 4 },
        .send_batch = LK_UNL_BATCH, .recv_batch = LK_UNL_BATCH, .timeouts = MH_TO_SHORT, .stall = MH_STALL_SPIN,
        .slow_consumers = mode == LK_UNL_CANCEL, .sends_never_wait = true, .refused_after_plan = true,
        .exact_counters = true, .check_leaks = true, .end = MH_END_AT_ACCEPTED, .end_share = 0.5,
        .end_op = mode == LK_UNL_CANCEL ? MH_CANCEL : MH_CLOSE,
        .hold_backlog = mode == LK_UNL_CANCEL ? LK_UNL_BACKLOG : 0, .seed = lk_seed(mode),
    };
    mh_run *s = mh_run_once(&cfg, round);
    cr_assert_eq(atomic_load(&s->errors), 0, "%s round %d: %d errors, first: %s", lk_mode_name[mode], round,
                 atomic_load(&s->errors), s->first_error);
    /* a backlog of LK_UNL_BACKLOG was held for the cancel; the free consumers cannot drain
       it in the moment between the len read and the cancel */
    if (mode == LK_UNL_CANCEL) cr_assert_gt(s->cb_total, 0, "the cancel handed nothing back (len %zu before it)", s->len_at_end);
    cr_assert_geq(s->st[0].max_len, 1u);
    cr_assert_leq(s->st[0].max_len, (size_t)s->total);
    int stopped_by_close = 0;
    for (int i = 0; i < LK_UNL_P; i++) stopped_by_close += s->prod[i].saw_closed;
    cr_log_info("kinds_stress %s round %d: %lld of %lld accepted (%lld at the %s, len %zu then), %d of %d producers "
                "stopped by it, received %lld, handed back %lld, timeouts %lld, recv_empty %lld, peeks %lld, "
                "max_len %zu, %.0f ms", lk_mode_name[mode], round, s->total, (long long)(LK_UNL_P * per),
                (long long)s->at_end, mode == LK_UNL_CANCEL ? "cancel" : "close", s->len_at_end, stopped_by_close,
                LK_UNL_P, s->received_total, s->cb_total, s->timedout, s->recv_wb, s->peeks, s->st[0].max_len,
                s->elapsed_ns / 1e6);
    mh_free(s);
}

Test(kinds_stress, unlimited_mpmc_close_midway, .timeout = T_TIMEOUT)
{
    lk_rounds(lk_unl_run, LK_UNL_CLOSE, LK_UNL_PER);
}

Test(kinds_stress, unlimited_cancel_midway_hands_back_everything, .timeout = T_TIMEOUT)
{
    lk_rounds(lk_unl_run, LK_UNL_CANCEL, LK_UNL_PER);
}

/* ---- unlimited: memory comes back after a concurrent burst ---------------------------- */

/* Not a harness run: the one consumer starts only once half the burst is in. */
enum { LK_BURST_P = 2 };

typedef struct {
    kchan_t *c;
    int64_t per;
    kchan_counter accepted;
    atomic_int errors;
    char first_error[256];
    int64_t accepted_by[LK_BURST_P];
    unsigned char *got;        /* [p * per + q]: times received (one consumer) */
    long long received;
    int64_t base;              /* live bytes of the empty channel */
    int64_t backlog_at_start;  /* accepted when the consumer started (nothing received yet) */
    int64_t heap_at_start;     /* live bytes above base then */
} lk_burst;
typedef struct { lk_burst *b; int id; } lk_burst_arg;

static void lk_burst_fail(lk_burst *b, const char *what, long long at, int rc, size_t n)
{
    if (atomic_fetch_add(&b->errors, 1) == 0)
        snprintf(b->first_error, sizeof b->first_error, "%s at %lld (%zu): %s", what, at, n, kchan_strerror(rc));
}

static void *lk_burst_producer(void *p)
{
    lk_burst_arg *a = p;
    lk_burst *b = a->b;
    uint32_t parts[1] = { (uint32_t)a->id }, rng = mh_seed_from(lk_seed(LK_BURST), parts, 1);
    mh_elem batch[LK_UNL_BATCH];
    int64_t seq = 0;
    while (seq < b->per && atomic_load(&b->errors) == 0) {
        uint32_t r = mh_rand(&rng);
        size_t n = r % 8 == 0 ? 1 : 1 + (r >> 8) % LK_UNL_BATCH;
        if ((int64_t)n > b->per - seq) n = (size_t)(b->per - seq);
        int rc;
        size_t sent = 0;
        if (n == 1) {
            mh_elem e = mh_make(a->id, seq);
            rc = r % 16 == 0 ? kchan_try_send(b->c, &e) : kchan_send(b->c, &e);
            sent = rc == KCHAN_OK;
        } else {
            for (size_t i = 0; i < n; i++) batch[i] = mh_make(a->id, seq + (int64_t)i);
            rc = kchan_send_many(b->c, batch, n, &sent, (r >> 16) % 2 ? 0 : KCHAN_FOREVER);
        }
        if (rc != KCHAN_OK || sent != n) { lk_burst_fail(b, "a send", (long long)seq, rc, sent); break; }
        seq += (int64_t)n;
        (void)kchan_counter_add(&b->accepted, (int64_t)n);
    }
    b->accepted_by[a->id] = seq;
    return NULL;
}

static void *lk_burst_drain(void *p)
{
    lk_burst *b = p;
    const int64_t total = LK_BURST_P * b->per;
    /* hold back until half the burst is in */
    int wrc;
    do wrc = kchan_counter_wait_ge(&b->accepted, total / 2, 100 * LK_MS);
    while (wrc == KCHAN_TIMEDOUT && atomic_load(&b->errors) == 0);
    if (wrc != KCHAN_OK) return NULL;
    b->backlog_at_start = kchan_counter_load(&b->accepted);
    b->heap_at_start = test_alloc_live_bytes() - b->base;
    uint32_t rng = 0x2545f491u;
    int64_t last[LK_BURST_P] = { -1, -1 };
    mh_elem buf[LK_UNL_BATCH];
    while (b->received < total && atomic_load(&b->errors) == 0) {
        uint32_t r = mh_rand(&rng);
        size_t got = 0;
        int rc;
        if (r % 8 == 0) {
            rc = kchan_recv(b->c, &buf[0]);
            got = rc == KCHAN_OK;
        } else {
            rc = kchan_recv_many(b->c, buf, 1 + (r >> 8) % LK_UNL_BATCH, &got, KCHAN_FOREVER);
        }
        if (rc != KCHAN_OK) { lk_burst_fail(b, "drain", b->received, rc, got); break; }
        for (size_t i = 0; i < got; i++) {
            int64_t v = mh_value((const unsigned char *)&buf[i], sizeof buf[i]), pr = v >> 32, q = v & 0xffffffff;
            if (v < 0 || pr >= LK_BURST_P || q >= b->per) { lk_burst_fail(b, "received a value never sent (or torn)", b->received, 0, i); break; }
            if (q <= last[pr]) { lk_burst_fail(b, "a producer's values out of order", (long long)q, 0, i); break; }
            last[pr] = q;
            b->got[pr * b->per + q]++;
        }
        b->received += (long long)got;
    }
    return NULL;
}

Test(kinds_stress, unlimited_memory_returns_after_concurrent_burst, .timeout = T_TIMEOUT)
{
    static lk_burst b;
    b.per = LK_BURST_PER;
    const int64_t per = b.per, total = LK_BURST_P * per;
    b.got = calloc((size_t)total, 1);
    cr_assert_not_null(b.got);
    kchan_counter_init(&b.accepted, 0);
    cr_assert_eq(kchan_create(&b.c, sizeof(mh_elem), &(kchan_opts){ .capacity = KCHAN_UNLIMITED }), KCHAN_OK);
    b.base = test_alloc_live_bytes();
    int64_t t0 = kchan_now_ns();
    pthread_t ct = t_spawn(lk_burst_drain, &b);
    lk_burst_arg pa[LK_BURST_P];
    pthread_t pt[LK_BURST_P];
    for (int i = 0; i < LK_BURST_P; i++) { pa[i] = (lk_burst_arg){ &b, i }; pt[i] = t_spawn(lk_burst_producer, &pa[i]); }
    for (int i = 0; i < LK_BURST_P; i++) t_join(pt[i]);
    t_join(ct);
    int64_t el = kchan_now_ns() - t0;
    cr_assert_eq(atomic_load(&b.errors), 0, "%s", b.first_error);
    for (int i = 0; i < LK_BURST_P; i++) cr_assert_eq(b.accepted_by[i], per);

    /* the backlog was on the heap when the consumer started */
    cr_assert_geq(b.backlog_at_start, total / 2);
    cr_assert_geq(b.heap_at_start, b.backlog_at_start * (int64_t)sizeof(mh_elem),
                  "%lld elements buffered in %lld bytes above the empty channel", (long long)b.backlog_at_start,
                  (long long)b.heap_at_start);

    /* every value once, in order per producer (the drain checked the order) */
    cr_assert_eq(b.received, total);
    for (int64_t i = 0; i < total; i++)
        if (b.got[i] != 1) cr_assert_eq(b.got[i], 1, "producer %lld seq %lld received %d times", (long long)(i / per),
                                        (long long)(i % per), b.got[i]);

    mh_elem e;
    cr_assert_eq(kchan_try_recv(b.c, &e), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_peek(b.c, &e), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_len(b.c), 0u);
    int64_t after = test_alloc_live_bytes();
    cr_assert_lt(after - b.base, 4096, "memory not given back: %lld bytes above the empty channel "
                 "(%lld at the peak backlog)", (long long)(after - b.base), (long long)b.heap_at_start);
    kchan_stats x = t_stats(b.c);
    cr_assert_eq(x.sends, (uint64_t)total);
    cr_assert_eq(x.recvs, (uint64_t)total);
    cr_assert_eq(x.len, 0u);
    cr_assert_geq(x.max_len, (size_t)b.backlog_at_start);
    cr_assert_leq(x.max_len, (size_t)total);
    cr_assert_eq(x.drops_newest + x.drops_oldest + x.undelivered, 0u);
    kchan_destroy(b.c);
    cr_assert_eq(test_alloc_live_blocks(), 0, "%lld blocks (%lld bytes) left after destroy",
                 (long long)test_alloc_live_blocks(), (long long)test_alloc_live_bytes());
    cr_log_info("kinds_stress burst: %lld elements, consumer started at %lld buffered (%lld bytes), %lld bytes above "
                "empty after the drain, max_len %zu, %.0f ms", (long long)total, (long long)b.backlog_at_start,
                (long long)b.heap_at_start, (long long)(after - b.base), x.max_len, el / 1e6);
    free(b.got);
}

/* ---- unlimited: batches on and around segment boundaries, single-threaded, exact ------- */

/* The model: the FIFO [next_recv, next_send) of consecutive values, and what the stats
   must say about it. */
typedef struct {
    int64_t next_send, next_recv;
    size_t high;               /* true high-water mark of len */
    uint64_t recv_empty, timeouts;
    long long straddle_send[LK_SEG], straddle_recv[LK_SEG];  /* batches crossing a multiple of 31, by start % 31 */
    long long on_boundary_send, on_boundary_recv;            /* batches ending exactly on one */
} lk_model;

static size_t lk_model_len(const lk_model *m) { return (size_t)(m->next_send - m->next_recv); }

/* max_len against the model's true high-water mark. The mutex engine keeps it exactly. The
   lock-free engine samples an unlimited channel's (kchan.h, kchan__list_pop): never above
   the true mark, never below the length now, and short of the mark by less than a segment. */
static void lk_check_max_len(size_t got, size_t high, size_t len, int step, const char *what)
{
#ifdef KCHAN_LOCKFREE
    cr_assert_leq(got, high, "step %d (%s): stats.max_len %zu above the true high-water mark %zu", step, what, got, high);
    cr_assert_geq(got, len, "step %d (%s): stats.max_len %zu below len %zu", step, what, got, len);
    cr_assert_lt(high - got, 31u, "step %d (%s): stats.max_len %zu, true high-water mark %zu: more than a segment short",
                 step, what, got, high);
#else
    (void)len;
    cr_assert_eq(got, high, "step %d (%s): stats.max_len %zu, true high-water mark %zu", step, what, got, high);
#endif
}

static void lk_model_check(kchan_t *c, const lk_model *m, int step, const char *what)
{
    size_t len = lk_model_len(m);
    cr_assert_eq(kchan_len(c), len, "step %d (%s): kchan_len %zu, model %zu", step, what, kchan_len(c), len);
    kchan_stats x = t_stats(c);
    cr_assert_eq(x.len, len, "step %d (%s): stats.len %zu, model %zu", step, what, x.len, len);
    cr_assert_eq(x.sends, (uint64_t)m->next_send, "step %d (%s): stats.sends %llu, model %lld", step, what,
                 (unsigned long long)x.sends, (long long)m->next_send);
    cr_assert_eq(x.recvs, (uint64_t)m->next_recv, "step %d (%s): stats.recvs %llu, model %lld", step, what,
                 (unsigned long long)x.recvs, (long long)m->next_recv);
    lk_check_max_len(x.max_len, m->high, len, step, what);
    cr_assert_eq(x.recv_empty, m->recv_empty, "step %d (%s): stats.recv_empty %llu, model %llu", step, what,
                 (unsigned long long)x.recv_empty, (unsigned long long)m->recv_empty);
    cr_assert_eq(x.timeouts, m->timeouts, "step %d (%s): stats.timeouts %llu, model %llu", step, what,
                 (unsigned long long)x.timeouts, (unsigned long long)m->timeouts);
    cr_assert_eq(x.send_full + x.drops_newest + x.drops_oldest + x.undelivered, 0u, "step %d (%s)", step, what);
    cr_assert_eq(x.waiting_senders + x.waiting_receivers, 0u, "step %d (%s)", step, what);
}

static void lk_model_note(long long *straddle, long long *on_boundary, int64_t at, size_t n)
{
    if (n == 0) return;
    int64_t end = at + (int64_t)n;
    if (at % LK_SEG != 0 && end / LK_SEG > at / LK_SEG && end % LK_SEG != 0) straddle[at % LK_SEG]++;
    if (end % LK_SEG == 0) (*on_boundary)++;
}

/* `n` values by one send_many (timeout 0, forever or positive: all must go at once). */
static void lk_model_send_many(kchan_t *c, lk_model *m, int step, size_t n, int64_t to)
{
    int64_t buf[96];
    cr_assert_leq(n, 96u);
    for (size_t i = 0; i < n; i++) buf[i] = m->next_send + (int64_t)i;
    size_t sent = (size_t)-7;
    int rc = kchan_send_many(c, buf, n, &sent, to);
    cr_assert_eq(rc, KCHAN_OK, "step %d: send_many(%zu, %lld ns) with len %zu: %s", step, n, (long long)to,
                 lk_model_len(m), kchan_strerror(rc));
    cr_assert_eq(sent, n, "step %d: send_many(%zu) sent %zu", step, n, sent);
    lk_model_note(m->straddle_send, &m->on_boundary_send, m->next_send, n);
    m->next_send += (int64_t)n;
    if (lk_model_len(m) > m->high) m->high = lk_model_len(m);
}

/* `n` values by single sends: send, try_send, send_timeout in turn. */
static void lk_model_send_each(kchan_t *c, lk_model *m, int step, size_t n)
{
    lk_model_note(m->straddle_send, &m->on_boundary_send, m->next_send, n);
    for (size_t i = 0; i < n; i++) {
        int64_t v = m->next_send;
        int rc = i % 3 == 0 ? kchan_send(c, &v) : i % 3 == 1 ? kchan_try_send(c, &v) : kchan_send_timeout(c, &v, LK_MS);
        if (rc != KCHAN_OK)
            cr_assert_eq(rc, KCHAN_OK, "step %d: single send %zu of %zu with len %zu: %s", step, i, n,
                         lk_model_len(m), kchan_strerror(rc));
        m->next_send++;
        if (lk_model_len(m) > m->high) m->high = lk_model_len(m);
    }
}

/* One recv_many of at most `max`; on an empty channel only with timeout 0 or a short one. */
static void lk_model_recv_many(kchan_t *c, lk_model *m, int step, size_t max, int64_t to)
{
    int64_t buf[96];
    cr_assert_leq(max, 95u);
    size_t len = lk_model_len(m), expect = max < len ? max : len;
    if (expect == 0 && to < 0) to = 0;
    for (size_t i = 0; i < 96; i++) buf[i] = -1;
    size_t got = (size_t)-7;
    int rc = kchan_recv_many(c, buf, max, &got, to);
    cr_assert_eq(got, expect, "step %d: recv_many(%zu, %lld ns) with len %zu got %zu", step, max, (long long)to,
                 len, got);
    cr_assert_eq(rc, expect ? KCHAN_OK : to == 0 ? KCHAN_WOULDBLOCK : KCHAN_TIMEDOUT,
                 "step %d: recv_many(%zu, %lld ns) with len %zu: %s", step, max, (long long)to, len,
                 kchan_strerror(rc));
    if (rc == KCHAN_WOULDBLOCK) m->recv_empty++;
    if (rc == KCHAN_TIMEDOUT) m->timeouts++;
    for (size_t i = 0; i < got; i++)
        if (buf[i] != m->next_recv + (int64_t)i)
            cr_assert_eq(buf[i], m->next_recv + (int64_t)i, "step %d: element %zu of %zu is %lld, expected %lld",
                         step, i, got, (long long)buf[i], (long long)(m->next_recv + (int64_t)i));
    for (size_t i = got; i < 96; i++)
        if (buf[i] != -1) cr_assert_eq(buf[i], -1, "step %d: recv_many(%zu) wrote past got = %zu", step, max, got);
    lk_model_note(m->straddle_recv, &m->on_boundary_recv, m->next_recv, got);
    m->next_recv += (int64_t)got;
}

/* Up to `n` single receives (try_recv, recv, recv_timeout in turn), each after a peek that
   must show the same value; on an empty channel one try_recv that says WOULDBLOCK. */
static void lk_model_recv_each(kchan_t *c, lk_model *m, int step, size_t n)
{
    size_t take = n < lk_model_len(m) ? n : lk_model_len(m);
    lk_model_note(m->straddle_recv, &m->on_boundary_recv, m->next_recv, take);
    for (size_t i = 0; i < n; i++) {
        int64_t v = -1, pv = -1;
        int prc = kchan_peek(c, &pv);
        if (lk_model_len(m) == 0) {
            cr_assert_eq(prc, KCHAN_WOULDBLOCK, "step %d: peek on an empty channel: %s", step, kchan_strerror(prc));
            int rc = kchan_try_recv(c, &v);
            cr_assert_eq(rc, KCHAN_WOULDBLOCK, "step %d: try_recv on an empty channel: %s", step, kchan_strerror(rc));
            m->recv_empty++;
            return;
        }
        if (prc != KCHAN_OK || pv != m->next_recv)
            cr_assert_fail("step %d: peek: %s, %lld, expected %lld", step, kchan_strerror(prc), (long long)pv,
                           (long long)m->next_recv);
        int rc = i % 3 == 0 ? kchan_try_recv(c, &v) : i % 3 == 1 ? kchan_recv(c, &v) : kchan_recv_timeout(c, &v, LK_MS);
        if (rc != KCHAN_OK || v != m->next_recv)
            cr_assert_fail("step %d: single receive %zu of %zu: %s, %lld, expected %lld", step, i, n,
                           kchan_strerror(rc), (long long)v, (long long)m->next_recv);
        m->next_recv++;
    }
}

Test(kinds_stress, unlimited_segment_boundaries_single_thread, .timeout = T_TIMEOUT)
{
    static const size_t sizes[] = { 30, 31, 32, 61, 62, 63, 93, 1, 2 };
    enum { NSIZES = sizeof sizes / sizeof sizes[0], ROUNDS = 3000 };
    kchan_t *c = t_chan(sizeof(int64_t), KCHAN_UNLIMITED);
    int64_t base = test_alloc_live_bytes();
    lk_model m;
    memset(&m, 0, sizeof m);
    int step = 0;
    int64_t v;

    /* empty from the start */
    cr_assert_eq(kchan_peek(c, &v), KCHAN_WOULDBLOCK);
    lk_model_recv_many(c, &m, step++, 31, 0);
    lk_model_check(c, &m, step, "empty");

    /* scripted: whole segments in and out, then one element either side of each boundary */
    lk_model_send_many(c, &m, step, 31, 0);            lk_model_check(c, &m, step++, "send_many 31");
    lk_model_recv_many(c, &m, step, 31, 0);            lk_model_check(c, &m, step++, "recv_many 31");
    lk_model_recv_many(c, &m, step, 1, 0);             lk_model_check(c, &m, step++, "recv_many on empty");
    lk_model_send_many(c, &m, step, 62, KCHAN_FOREVER); lk_model_check(c, &m, step++, "send_many 62");
    lk_model_recv_each(c, &m, step, 30);               lk_model_check(c, &m, step++, "recv 30");
    lk_model_recv_each(c, &m, step, 1);                lk_model_check(c, &m, step++, "recv 1 (to the boundary)");
    lk_model_recv_each(c, &m, step, 1);                lk_model_check(c, &m, step++, "recv 1 (past it)");
    lk_model_send_each(c, &m, step, 2);                lk_model_check(c, &m, step++, "send 2");
    lk_model_send_many(c, &m, step, 93, 0);            lk_model_check(c, &m, step++, "send_many 93");
    lk_model_recv_many(c, &m, step, 93, KCHAN_FOREVER); lk_model_check(c, &m, step++, "recv_many 93");
    lk_model_recv_many(c, &m, step, 63, 0);            lk_model_check(c, &m, step++, "recv_many 63 (the rest)");
    cr_assert_eq(lk_model_len(&m), 0u);
    lk_model_send_each(c, &m, step, 32);               lk_model_check(c, &m, step++, "send 32");
    lk_model_recv_many(c, &m, step, 32, 0);            lk_model_check(c, &m, step++, "recv_many 32");
    lk_model_recv_many(c, &m, step, 2, 20 * LK_US);    lk_model_check(c, &m, step++, "recv_many on empty, 20 us");

    /* random: phases that grow the backlog (2 sends per receive) and drain it (1 per 2),
       every so often to empty exactly */
    uint32_t rng = 0x1b873593u;
    for (int round = 0; round < ROUNDS; round++, step++) {
        uint32_t r = mh_rand(&rng);
        bool grow = (round / 24) % 2 == 0;
        size_t n = sizes[(r >> 4) % NSIZES];
        int64_t to = lk_pick_timeout(r >> 12);
        bool send = grow ? r % 3 != 0 : r % 3 == 0;
        const char *what;
        if (round % 97 == 96) {
            lk_model_recv_many(c, &m, step, 95, 0);
            while (lk_model_len(&m)) lk_model_recv_each(c, &m, step, 93);
            what = "drain to empty";
        } else if (send && (r >> 8) % 2) {
            lk_model_send_many(c, &m, step, n, to);
            what = "send_many";
        } else if (send) {
            lk_model_send_each(c, &m, step, n);
            what = "single sends";
        } else if ((r >> 8) % 2) {
            if (to > 0 && lk_model_len(&m) == 0 && (r >> 20) % 8 != 0) to = 0;   /* few real timeouts */
            lk_model_recv_many(c, &m, step, n, to);
            what = "recv_many";
        } else {
            lk_model_recv_each(c, &m, step, n);
            what = "single receives";
        }
        lk_model_check(c, &m, step, what);
    }
    /* every start offset within a segment was straddled, both ways, and batches ended on
       boundaries */
    for (int i = 1; i < LK_SEG; i++) {
        cr_assert_gt(m.straddle_send[i], 0, "no send batch straddled a boundary from offset %d", i);
        cr_assert_gt(m.straddle_recv[i], 0, "no receive batch straddled a boundary from offset %d", i);
    }
    cr_assert_gt(m.on_boundary_send, 0);
    cr_assert_gt(m.on_boundary_recv, 0);

    /* close: sends refused, the rest drains in order, then CLOSED */
    size_t left = lk_model_len(&m);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    v = m.next_send;
    cr_assert_eq(kchan_send(c, &v), KCHAN_CLOSED);
    size_t sent = (size_t)-7;
    cr_assert_eq(kchan_send_many(c, &v, 1, &sent, KCHAN_FOREVER), KCHAN_CLOSED);
    cr_assert_eq(sent, 0u);
    while (lk_model_len(&m)) {
        lk_model_recv_many(c, &m, step, 62, KCHAN_FOREVER);
        lk_model_check(c, &m, step++, "drain after close");
    }
    size_t got = (size_t)-7;
    int64_t buf[4];
    cr_assert_eq(kchan_recv_many(c, buf, 3, &got, KCHAN_FOREVER), KCHAN_CLOSED);
    cr_assert_eq(got, 0u);
    cr_assert_eq(kchan_peek(c, &v), KCHAN_CLOSED);
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_CLOSED);
    kchan_stats x = t_stats(c);
    cr_assert_eq(x.sends, (uint64_t)m.next_send);
    cr_assert_eq(x.recvs, (uint64_t)m.next_send);
    lk_check_max_len(x.max_len, m.high, 0, -1, "end");
    cr_assert_eq(x.len, 0u);
    int64_t after = test_alloc_live_bytes();
    cr_assert_lt(after - base, 4096, "memory not given back: %lld bytes above the empty channel",
                 (long long)(after - base));
    long long straddles = 0;
    for (int i = 0; i < LK_SEG; i++) straddles += m.straddle_send[i] + m.straddle_recv[i];
    cr_log_info("kinds_stress segments: %d steps, %lld values through, high-water %zu, %zu drained after close, %lld "
                "batches straddled a 31-boundary, %lld/%lld ended on one, recv_empty %llu, timeouts %llu",
                step, (long long)m.next_send, m.high, left, straddles, m.on_boundary_send, m.on_boundary_recv,
                (unsigned long long)m.recv_empty, (unsigned long long)m.timeouts);
    kchan_destroy(c);
    cr_assert_eq(test_alloc_live_blocks(), 0);
}

/* ---- drop-oldest and conflated under load, with a stats poller ------------------------ */

typedef struct { long long polls; kchan_stats last; } lk_poll;

static void lk_mono(mh_run *s, long long poll, const char *field, uint64_t before, uint64_t now)
{
    if (now < before)
        mh_fail(s, "poll %lld: stats.%s went back from %llu to %llu", poll, field, (unsigned long long)before,
                (unsigned long long)now);
}

/* Every field that counts something never decreases; len and max_len stay within cap. */
static void lk_stats_step(mh_run *s, long long poll, const kchan_stats *b, const kchan_stats *a, size_t cap)
{
    lk_mono(s, poll, "sends", b->sends, a->sends);
    lk_mono(s, poll, "recvs", b->recvs, a->recvs);
    lk_mono(s, poll, "drops_newest", b->drops_newest, a->drops_newest);
    lk_mono(s, poll, "drops_oldest", b->drops_oldest, a->drops_oldest);
    lk_mono(s, poll, "undelivered", b->undelivered, a->undelivered);
    lk_mono(s, poll, "send_full", b->send_full, a->send_full);
    lk_mono(s, poll, "recv_empty", b->recv_empty, a->recv_empty);
    lk_mono(s, poll, "timeouts", b->timeouts, a->timeouts);
    lk_mono(s, poll, "cancelled_waiters", b->cancelled_waiters, a->cancelled_waiters);
    lk_mono(s, poll, "blocked_sends", b->blocked_sends, a->blocked_sends);
    lk_mono(s, poll, "blocked_recvs", b->blocked_recvs, a->blocked_recvs);
    lk_mono(s, poll, "max_len", b->max_len, a->max_len);
    lk_mono(s, poll, "closed", b->closed, a->closed);
    if (a->len > cap || a->max_len > cap || a->cap != cap)
        mh_fail(s, "poll %lld: len %zu, max_len %zu, cap %zu (cap is %zu)", poll, a->len, a->max_len, a->cap, cap);
    if (a->waiting_senders != 0 || a->waiting_receivers > LK_DROP_C)
        mh_fail(s, "poll %lld: %u senders and %u receivers parked (senders never wait here, %d receivers)", poll,
                a->waiting_senders, a->waiting_receivers, LK_DROP_C);
    if (a->version != KCHAN_STATS_VERSION) mh_fail(s, "poll %lld: stats version %u", poll, a->version);
}

/* The side thread of a drop-oldest / conflated run. */
static void *lk_poller(void *p)
{
    mh_run *s = p;
    lk_poll *out = s->cfg.side_arg;
    const size_t cap = kchan_cap(s->c[0]);
    kchan_stats prev, cur;
    kchan_stats_get(s->c[0], &prev);
    lk_stats_step(s, 0, &prev, &prev, cap);
    long long n = 1;
    while (!mh_side_stopped(s) && !mh_failed(s)) {
        kchan_stats_get(s->c[0], &cur);
        lk_stats_step(s, n, &prev, &cur, cap);
        size_t len = kchan_len(s->c[0]);
        if (len > cap) mh_fail(s, "poll %lld: kchan_len %zu above cap %zu", n, len, cap);
        prev = cur;
        if (++n % 64 == 0) sched_yield();
    }
    out->polls = n;
    out->last = prev;
    return NULL;
}

/* 3 producers (send, try_send, send_many of 1..9: none may wait) and 2 consumers
   (recv_timeout, try_recv, recv_many of 1..6) on a drop-oldest channel of 4 or a conflated
   one, and a stats poller; main closes once the producers are done. */
static void lk_drop_run(int mode, int64_t per, int round)
{
    const size_t cap = mode == LK_CONFLATED ? 1 : LK_DROP_CAP;
    lk_poll poll = { 0 };
    mh_config cfg = {
        .name = lk_mode_name[mode], .np = LK_DROP_P, .nc = LK_DROP_C, .nch = 1, .esz = sizeof(mh_elem),
        .cap = { mode == LK_CONFLATED ? KCHAN_CONFLATED : LK_DROP_CAP },
        .overflow = { mode == LK_CONFLATED ? KCHAN_BLOCK : KCHAN_DROP_OLDEST }, .per = per,
        .send_mix = { [MH_SEND] = 4, [MH_TRY_SEND] = 2, [MH_SEND_MANY] = 2 },
        .recv_mix = { [MH_RECV_TIMEOUT] = 8, [MH_TRY_RECV] = 4, [MH_RECV_MANY] = 4 },
        .send_batch = LK_DROP_BATCH, .recv_batch = LK_DROP_RECV_BATCH, .timeouts = MH_TO_SHORT,
        .stall = MH_STALL_SPIN, .sends_never_wait = true, .exact_counters = true, .check_leaks = true,
        .end = MH_END_AFTER_PRODUCERS, .end_op = MH_CLOSE, .side = lk_poller, .side_arg = &poll,
        .seed = lk_seed(mode),
    };
    mh_run *s = mh_run_once(&cfg, round);
    cr_assert_eq(atomic_load(&s->errors), 0, "%s round %d: %d errors, first: %s", lk_mode_name[mode], round,
                 atomic_load(&s->errors), s->first_error);
    cr_assert_geq(poll.polls, 2, "the poller took %lld snapshots", poll.polls);
    cr_assert_gt(s->cb_total, 0, "%lld sends by 3 producers into %zu cells evicted nothing", s->total, cap);
    cr_assert_gt(s->received_total, 0);
    /* the final snapshot is no earlier than the poller's last */
    lk_stats_step(s, poll.polls, &poll.last, &s->st[0], cap);
    cr_assert_eq(atomic_load(&s->errors), 0, "%s", s->first_error);
    cr_assert_geq(s->st[0].max_len, 1u);
    cr_log_info("kinds_stress %s round %d: %lld sent, %lld received, %lld evicted, len %zu at close, max_len %zu, "
                "%lld stats polls, timeouts %lld, recv_empty %lld, %.0f ms", lk_mode_name[mode], round, s->total,
                s->received_total, s->cb_total, s->len_at_end, s->st[0].max_len, poll.polls, s->timedout, s->recv_wb,
                s->elapsed_ns / 1e6);
    mh_free(s);
}

Test(kinds_stress, drop_oldest_stats_monotonic_under_load, .timeout = T_TIMEOUT)
{
    lk_rounds(lk_drop_run, LK_DROP_OLDEST, LK_DROP_PER);
}

Test(kinds_stress, conflated_stats_monotonic_under_load, .timeout = T_TIMEOUT)
{
    lk_rounds(lk_drop_run, LK_CONFLATED, LK_DROP_PER);
}

/* ---- conflated: the latest value wins -------------------------------------------------- */

Test(kinds_stress, conflated_latest_value_wins_single_thread, .timeout = T_TIMEOUT)
{
    static t_recorder rec;
    memset(&rec, 0, sizeof rec);
    rec.elem_size = sizeof(int64_t);
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = KCHAN_CONFLATED, .on_undelivered = t_record, .user = &rec };
    cr_assert_eq(kchan_create(&c, sizeof(int64_t), &o), KCHAN_OK);
    cr_assert_eq(kchan_cap(c), 1u);
    int64_t v = -1;
    cr_assert_eq(kchan_peek(c, &v), KCHAN_WOULDBLOCK);

    for (int64_t i = 1; i <= 1000; i++) {
        int rc = i % 3 == 0 ? kchan_send(c, &i) : i % 3 == 1 ? kchan_try_send(c, &i) : kchan_send_timeout(c, &i, 0);
        if (rc != KCHAN_OK) cr_assert_eq(rc, KCHAN_OK, "send %lld: %s", (long long)i, kchan_strerror(rc));
        kchan_stats x = t_stats(c);
        if (kchan_len(c) != 1 || x.len != 1 || x.sends != (uint64_t)i || x.drops_oldest != (uint64_t)(i - 1))
            cr_assert_fail("after send %lld: len %zu (stats %zu), sends %llu, drops_oldest %llu", (long long)i,
                           kchan_len(c), x.len, (unsigned long long)x.sends, (unsigned long long)x.drops_oldest);
    }
    /* peek does not consume */
    for (int i = 0; i < 3; i++) {
        v = -1;
        cr_assert_eq(kchan_peek(c, &v), KCHAN_OK);
        cr_assert_eq(v, 1000);
        cr_assert_eq(kchan_len(c), 1u);
    }
    cr_assert_eq(t_stats(c).recvs, 0u);
    v = -1;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 1000);
    cr_assert_eq(kchan_len(c), 0u);
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_peek(c, &v), KCHAN_WOULDBLOCK);

    cr_assert_eq(atomic_load(&rec.calls), 999);
    cr_assert_eq(atomic_load(&rec.nulls), 0);
    for (int i = 0; i < 999; i++)
        if (rec.values[i] != i + 1)
            cr_assert_eq(rec.values[i], i + 1, "on_undelivered call %d got %lld", i, rec.values[i]);
    kchan_stats x = t_stats(c);
    cr_assert_eq(x.sends, 1000u);
    cr_assert_eq(x.recvs, 1u);
    cr_assert_eq(x.drops_oldest, 999u);
    cr_assert_eq(x.drops_newest + x.undelivered, 0u);
    cr_assert_eq(x.len, 0u);
    cr_assert_eq(x.max_len, 1u);
    cr_assert_eq(x.cap, 1u);
    cr_assert_eq(x.sends, x.recvs + x.drops_oldest + x.drops_newest + x.undelivered + x.len);

    /* the latest wins again; after close it still drains, then CLOSED */
    int64_t a = 2001, b = 2002;
    cr_assert_eq(kchan_send(c, &a), KCHAN_OK);
    cr_assert_eq(kchan_peek(c, &v), KCHAN_OK);
    cr_assert_eq(v, 2001);
    cr_assert_eq(kchan_send(c, &b), KCHAN_OK);
    cr_assert_eq(atomic_load(&rec.calls), 1000);
    cr_assert_eq(rec.values[999], 2001);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    cr_assert_eq(kchan_try_send(c, &a), KCHAN_CLOSED);
    cr_assert_eq(kchan_peek(c, &v), KCHAN_OK);
    cr_assert_eq(v, 2002);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 2002);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_CLOSED);
    cr_assert_eq(kchan_peek(c, &v), KCHAN_CLOSED);
    cr_assert_eq(kchan_cancel(c), KCHAN_CLOSED);
    cr_assert_eq(atomic_load(&rec.calls), 1000, "a refused send or the cancel of an empty channel handed back");
    x = t_stats(c);
    cr_assert_eq(x.sends, 1002u);
    cr_assert_eq(x.recvs, 2u);
    cr_assert_eq(x.drops_oldest, 1000u);
    cr_assert_eq(x.max_len, 1u);
    kchan_destroy(c);
    cr_assert_eq(atomic_load(&rec.calls), 1000);
    cr_assert_eq(test_alloc_live_blocks(), 0);
}
