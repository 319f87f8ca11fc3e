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
#include "lfharness.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
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

#define LK_US (INT64_C(1000))
#define LK_MS (INT64_C(1000000))

enum { LK_SEG = 31 };                      /* cells per segment of the lock-free unlimited kind */
enum { LK_UNL_P = 4, LK_UNL_C = 4, LK_UNL_BATCH = 70 };
enum { LK_DROP_P = 3, LK_DROP_C = 2, LK_DROP_BATCH = 9, LK_DROP_RECV_BATCH = 6, LK_DROP_CAP = 4 };
enum { LK_MAX_P = 4 };

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

/* A fixed seed per (mode, round, thread). */
static uint32_t lk_seed(int mode, int round, int thread)
{
    uint32_t parts[3] = { (uint32_t)mode, (uint32_t)round, (uint32_t)thread };
    return lf_seed_from(0x6a09e667u, parts, 3);
}

/* forever / try / short, by two bits of r */
static int64_t lk_pick_timeout(uint32_t r)
{
    int kind = (int)(r % 3);
    return kind == 0 ? KCHAN_FOREVER : kind == 1 ? 0 : lf_short(r >> 2);
}

typedef struct lk_state lk_state;

typedef struct {
    lk_state *s;
    int id;
    uint32_t seed;
    /* results, read by main after the join */
    int64_t accepted;          /* producer: values 0..accepted-1 were accepted (OK) */
    bool saw_closed;           /* producer: stopped at KCHAN_CLOSED (else it ran out of plan) */
    long long received;        /* consumer: elements received */
    long long timedout;        /* ops with a positive timeout that returned KCHAN_TIMEDOUT */
    long long wouldblock;      /* ops with timeout 0 that returned KCHAN_WOULDBLOCK */
    long long peeks_ok;        /* consumer: peeks that returned an element */
} lk_arg;

struct lk_state {
    kchan_t *c;
    int mode;
    int np;                       /* producers */
    int64_t per;                  /* values per producer */
    _Atomic unsigned char *got;   /* [np * per]: times each value was received */
    _Atomic unsigned char *gone;  /* [np * per]: times each value went to on_undelivered */
    atomic_long cb_calls, cb_bad;
    kchan_counter accepted;       /* values accepted so far */
    /* unlimited cancel: from halfway until the cancel is done, consumers with an odd id
       start no new operation, so the cancel surely finds a backlog to hand back */
    atomic_int hold;
    kchan_counter released;       /* 1 once the hold is lifted */
    atomic_int errors;
    char first_error[320];        /* written by the first thread to count an error */
    /* drop-oldest / conflated: the stats poller */
    atomic_int stop_poll;
    long long polls;
    kchan_stats last_poll;
};

static bool lk_unlimited(const lk_state *s) { return s->mode == LK_UNL_CLOSE || s->mode == LK_UNL_CANCEL; }

static void lk_fail(lk_state *s, const char *fmt, ...)
{
    if (atomic_fetch_add(&s->errors, 1) != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->first_error, sizeof s->first_error, fmt, ap);
    va_end(ap);
}

static bool lk_failed(lk_state *s) { return atomic_load_explicit(&s->errors, memory_order_relaxed) != 0; }

/* The bitmap index of a well-formed value, or -1. */
static int64_t lk_index(const lk_state *s, const lf_elem *e)
{
    if (e->chk != lf_chk(e->v)) return -1;
    int64_t p = e->v >> 32, q = e->v & 0xffffffff;
    if (p < 0 || p >= s->np || q >= s->per) return -1;
    return p * s->per + q;
}

static void lk_on_undelivered(void *elem, void *user)
{
    lk_state *s = user;
    atomic_fetch_add_explicit(&s->cb_calls, 1, memory_order_relaxed);
    lf_elem e;
    if (!elem) { atomic_fetch_add_explicit(&s->cb_bad, 1, memory_order_relaxed); return; }
    memcpy(&e, elem, sizeof e);
    int64_t i = lk_index(s, &e);
    if (i < 0) { atomic_fetch_add_explicit(&s->cb_bad, 1, memory_order_relaxed); return; }
    atomic_fetch_add_explicit(&s->gone[i], 1, memory_order_relaxed);
}

static lk_state *lk_state_new(int mode, int np, int64_t per)
{
    lk_state *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    s->mode = mode;
    s->np = np;
    s->per = per;
    s->got = calloc((size_t)(np * per), 1);
    s->gone = calloc((size_t)(np * per), 1);
    cr_assert(s->got && s->gone);
    kchan_counter_init(&s->accepted, 0);
    kchan_counter_init(&s->released, 0);
    return s;
}

static void lk_state_free(lk_state *s)
{
    free(s->got);
    free(s->gone);
    free(s);
}

/* After the plan ran out, an unlimited producer waits for main's close and checks that
   every kind of send is then refused (and keeps its element: value `seq` is out of the
   plan, so a consumer that ever got it would report a value never sent). */
static void lk_sends_refused(lk_arg *a, int64_t seq)
{
    lk_state *s = a->s;
    while (!kchan_is_closed(s->c) && !lk_failed(s)) sched_yield();
    if (lk_failed(s)) return;
    lf_elem e[3] = { lf_make(a->id, seq), lf_make(a->id, seq + 1), lf_make(a->id, seq + 2) };
    int rc;
    if ((rc = kchan_send(s->c, &e[0])) != KCHAN_CLOSED) lk_fail(s, "P%d send after close: %s", a->id, kchan_strerror(rc));
    if ((rc = kchan_try_send(s->c, &e[0])) != KCHAN_CLOSED)
        lk_fail(s, "P%d try_send after close: %s", a->id, kchan_strerror(rc));
    if ((rc = kchan_send_timeout(s->c, &e[0], LK_MS)) != KCHAN_CLOSED)
        lk_fail(s, "P%d send_timeout after close: %s", a->id, kchan_strerror(rc));
    size_t sent = (size_t)-7;
    if ((rc = kchan_send_many(s->c, e, 3, &sent, KCHAN_FOREVER)) != KCHAN_CLOSED || sent != 0)
        lk_fail(s, "P%d send_many after close: %s, sent %zu", a->id, kchan_strerror(rc), sent);
}

/* Unlimited: send, send_timeout, try_send, send_many of 1..70. Drop-oldest / conflated:
   send, try_send, send_many of 1..9 (some larger than the ring). None of these may wait or
   fail on these kinds, except with KCHAN_CLOSED. */
static void *lk_producer(void *p)
{
    lk_arg *a = p;
    lk_state *s = a->s;
    uint32_t rng = a->seed;
    const bool unl = lk_unlimited(s);
    const size_t batch_max = unl ? LK_UNL_BATCH : LK_DROP_BATCH;
    int64_t seq = 0;
    lf_elem batch[LK_UNL_BATCH];
    int rc = KCHAN_OK;
    while (seq < s->per && !lk_failed(s)) {
        lf_stall(&rng, false);
        uint32_t r = lf_rand(&rng);
        lf_elem e = lf_make(a->id, seq);
        size_t k = 0;                          /* values this op got accepted */
        int op = (int)(r % 8);
        if (!unl && (op == 2 || op == 3)) op = 0;
        switch (op) {
        case 0: case 1:
            rc = kchan_send(s->c, &e);
            k = rc == KCHAN_OK;
            if (rc != KCHAN_OK && rc != KCHAN_CLOSED)
                lk_fail(s, "P%d send seq %lld: %s", a->id, (long long)seq, kchan_strerror(rc));
            break;
        case 2: case 3: {
            int64_t to = lf_short(r >> 8);
            rc = kchan_send_timeout(s->c, &e, to);
            k = rc == KCHAN_OK;
            if (rc != KCHAN_OK && rc != KCHAN_CLOSED)
                lk_fail(s, "P%d send_timeout(%lld ns) seq %lld on an unlimited channel: %s", a->id, (long long)to,
                        (long long)seq, kchan_strerror(rc));
            break;
        }
        case 4: case 5:
            rc = kchan_try_send(s->c, &e);
            k = rc == KCHAN_OK;
            if (rc != KCHAN_OK && rc != KCHAN_CLOSED)
                lk_fail(s, "P%d try_send seq %lld: %s (a %s channel is never full)", a->id, (long long)seq,
                        kchan_strerror(rc), lk_mode_name[s->mode]);
            break;
        default: {
            size_t n = 1 + (r >> 8) % batch_max;
            if ((int64_t)n > s->per - seq) n = (size_t)(s->per - seq);
            for (size_t i = 0; i < n; i++) batch[i] = lf_make(a->id, seq + (int64_t)i);
            int64_t to = lk_pick_timeout(r >> 16);
            size_t sent = (size_t)-7;
            rc = kchan_send_many(s->c, batch, n, &sent, to);
            if (sent > n || (rc == KCHAN_OK) != (sent == n) || (rc != KCHAN_OK && rc != KCHAN_CLOSED)) {
                lk_fail(s, "P%d send_many(%zu, %lld ns) seq %lld: %s with sent = %zu", a->id, n, (long long)to,
                        (long long)seq, kchan_strerror(rc), sent);
                sent = 0;
            }
            k = sent;
            break;
        }
        }
        if (k) {
            seq += (int64_t)k;
            (void)kchan_counter_add(&s->accepted, (int64_t)k);
        }
        if (rc == KCHAN_CLOSED) break;
    }
    a->accepted = seq;
    a->saw_closed = rc == KCHAN_CLOSED;
    if (unl && !a->saw_closed) lk_sends_refused(a, seq);
    return NULL;
}

/* Check and count the `got` elements a consumer took. last[p]: its last sequence of producer p. */
static void lk_take(lk_arg *a, int64_t *last, const lf_elem *buf, size_t got)
{
    lk_state *s = a->s;
    for (size_t i = 0; i < got; i++) {
        int64_t idx = lk_index(s, &buf[i]);
        if (idx < 0) {
            lk_fail(s, "C%d received a value never sent (or torn): v %#llx chk %#llx (element %zu of %zu)", a->id,
                    (unsigned long long)buf[i].v, (unsigned long long)buf[i].chk, i, got);
            continue;
        }
        int64_t p = idx / s->per, q = idx % s->per;
        if (q <= last[p])
            lk_fail(s, "C%d: producer %lld seq %lld after seq %lld (element %zu of %zu)", a->id, (long long)p,
                    (long long)q, (long long)last[p], i, got);
        last[p] = q;
        atomic_fetch_add_explicit(&s->got[idx], 1, memory_order_relaxed);
    }
    a->received += (long long)got;
}

/* Unlimited: recv, recv_timeout, try_recv, recv_many of 1..70, peek. Drop-oldest /
   conflated: recv_timeout, try_recv, recv_many of 1..6. Until KCHAN_CLOSED. */
static void *lk_consumer(void *p)
{
    lk_arg *a = p;
    lk_state *s = a->s;
    uint32_t rng = a->seed;
    const bool unl = lk_unlimited(s);
    const size_t batch_max = unl ? LK_UNL_BATCH : LK_DROP_RECV_BATCH;
    int64_t last[LK_MAX_P];
    for (int i = 0; i < LK_MAX_P; i++) last[i] = -1;
    lf_elem buf[LK_UNL_BATCH];
    while (!lk_failed(s)) {
        lf_stall(&rng, s->mode == LK_UNL_CANCEL);
        if (a->id % 2 == 1 && atomic_load(&s->hold))
            while (kchan_counter_wait_ge(&s->released, 1, 10 * LK_MS) == KCHAN_TIMEDOUT && !lk_failed(s)) {}
        uint32_t r = lf_rand(&rng);
        size_t got = 0;
        int rc;
        int op = (int)(r % 16);
        if (!unl && op < 4) op = 4;            /* recv -> recv_timeout */
        if (!unl && op == 11) op = 8;          /* peek -> try_recv */
        switch (op) {
        case 0: case 1: case 2: case 3:
            rc = kchan_recv(s->c, &buf[0]);
            got = rc == KCHAN_OK;
            if (rc != KCHAN_OK && rc != KCHAN_CLOSED) lk_fail(s, "C%d recv: %s", a->id, kchan_strerror(rc));
            break;
        case 4: case 5: case 6: case 7: {
            int64_t to = lf_short(r >> 8);
            rc = kchan_recv_timeout(s->c, &buf[0], to);
            got = rc == KCHAN_OK;
            if (rc == KCHAN_TIMEDOUT) a->timedout++;
            else if (rc != KCHAN_OK && rc != KCHAN_CLOSED)
                lk_fail(s, "C%d recv_timeout(%lld ns): %s", a->id, (long long)to, kchan_strerror(rc));
            break;
        }
        case 8: case 9: case 10:
            rc = kchan_try_recv(s->c, &buf[0]);
            got = rc == KCHAN_OK;
            if (rc == KCHAN_WOULDBLOCK) { a->wouldblock++; sched_yield(); }
            else if (rc != KCHAN_OK && rc != KCHAN_CLOSED) lk_fail(s, "C%d try_recv: %s", a->id, kchan_strerror(rc));
            break;
        case 11: {
            /* peek: another consumer may take the element first, so only its form is checked */
            lf_elem e;
            int prc = kchan_peek(s->c, &e);
            if (prc == KCHAN_OK) {
                a->peeks_ok++;
                if (lk_index(s, &e) < 0)
                    lk_fail(s, "C%d peeked a value never sent (or torn): v %#llx chk %#llx", a->id,
                            (unsigned long long)e.v, (unsigned long long)e.chk);
            } else if (prc != KCHAN_WOULDBLOCK && prc != KCHAN_CLOSED) {
                lk_fail(s, "C%d peek: %s", a->id, kchan_strerror(prc));
            }
            continue;                          /* a peek's CLOSED is confirmed by a receive */
        }
        default: {
            size_t max = 1 + (r >> 8) % batch_max;
            int64_t to = lk_pick_timeout(r >> 16);
            got = (size_t)-7;
            rc = kchan_recv_many(s->c, buf, max, &got, to);
            if (rc == KCHAN_OK ? got < 1 || got > max : got != 0) {
                lk_fail(s, "C%d recv_many(%zu, %lld ns): %s with got = %zu", a->id, max, (long long)to,
                        kchan_strerror(rc), got);
                got = 0;
            } else if (rc == KCHAN_WOULDBLOCK && to == 0) {
                a->wouldblock++;
            } else if (rc == KCHAN_TIMEDOUT && to > 0) {
                a->timedout++;
            } else if (rc != KCHAN_OK && rc != KCHAN_CLOSED) {
                lk_fail(s, "C%d recv_many(%zu, %lld ns): %s", a->id, max, (long long)to, kchan_strerror(rc));
            }
            break;
        }
        }
        if (rc == KCHAN_OK) lk_take(a, last, buf, got);
        else if (rc == KCHAN_CLOSED) break;
    }
    return NULL;
}

/* Value by value: accepted => received once xor handed back once; not accepted => neither.
   Returns the totals through n_got / n_gone. */
static void lk_check_bitmaps(lk_state *s, const lk_arg *pa, long long *n_got, long long *n_gone)
{
    long long wrong = 0, both = 0;
    int64_t first_p = -1, first_q = -1;
    int first_got = 0, first_gone = 0;
    *n_got = *n_gone = 0;
    for (int p = 0; p < s->np; p++) {
        for (int64_t q = 0; q < s->per; q++) {
            int g = atomic_load_explicit(&s->got[p * s->per + q], memory_order_relaxed);
            int d = atomic_load_explicit(&s->gone[p * s->per + q], memory_order_relaxed);
            *n_got += g;
            *n_gone += d;
            if (g && d) both++;
            if (g + d != (q < pa[p].accepted ? 1 : 0) && wrong++ == 0) {
                first_p = p; first_q = q; first_got = g; first_gone = d;
            }
        }
    }
    cr_assert_eq(wrong, 0, "%s: %lld values not (received or handed back) exactly once if accepted, or seen "
                 "though not accepted (%lld both received and handed back); first: producer %lld seq %lld "
                 "(accepted %lld): received %d, handed back %d", lk_mode_name[s->mode], wrong, both,
                 (long long)first_p, (long long)first_q, (long long)pa[first_p].accepted, first_got, first_gone);
}

/* ---- unlimited, 4 x 4, close or cancel midway ----------------------------------------- */

static void lk_unl_run(int mode, int64_t per, int round)
{
    lk_state *s = lk_state_new(mode, LK_UNL_P, per);
    kchan_opts o = { .capacity = KCHAN_UNLIMITED, .on_undelivered = lk_on_undelivered, .user = s,
                     .name = "kinds_stress" };
    cr_assert_eq(kchan_create(&s->c, sizeof(lf_elem), &o), KCHAN_OK);
    cr_assert_eq(kchan_cap(s->c), KCHAN_UNLIMITED);

    int64_t t0 = kchan_now_ns();
    lk_arg pa[LK_UNL_P], ca[LK_UNL_C];
    pthread_t pt[LK_UNL_P], ct[LK_UNL_C];
    memset(pa, 0, sizeof pa);
    memset(ca, 0, sizeof ca);
    for (int i = 0; i < LK_UNL_C; i++) {
        ca[i].s = s; ca[i].id = i; ca[i].seed = lk_seed(mode, round, LK_UNL_P + i);
        ct[i] = t_spawn(lk_consumer, &ca[i]);
    }
    for (int i = 0; i < LK_UNL_P; i++) {
        pa[i].s = s; pa[i].id = i; pa[i].seed = lk_seed(mode, round, i);
        pt[i] = t_spawn(lk_producer, &pa[i]);
    }
    /* Close midway: once half the planned sends were accepted (or a thread failed, so that
       everyone parked is released and the failure is reported rather than a hang). */
    const int64_t half = LK_UNL_P * per / 2;
    int wrc;
    do wrc = kchan_counter_wait_ge(&s->accepted, half, 100 * LK_MS);
    while (wrc == KCHAN_TIMEDOUT && !lk_failed(s) && kchan_now_ns() - t0 < 15000 * LK_MS);
    /* Cancel: hold half the consumers and let a backlog build (the producers have half their
       plan left), so that the cancel has something to hand back whatever the scheduler does;
       the other consumers keep receiving through the cancel. */
    if (mode == LK_UNL_CANCEL) {
        atomic_store(&s->hold, 1);
        while (kchan_len(s->c) < LK_UNL_BACKLOG && !lk_failed(s) && kchan_now_ns() - t0 < 15000 * LK_MS)
            (void)kchan_counter_wait_ge(&s->accepted, kchan_counter_load(&s->accepted) + 1, LK_MS);
    }
    int64_t at_close = kchan_counter_load(&s->accepted);
    size_t len_at_close = kchan_len(s->c);
    int crc = mode == LK_UNL_CANCEL ? kchan_cancel(s->c) : kchan_close(s->c);
    kchan_counter_add(&s->released, 1);
    for (int i = 0; i < LK_UNL_P; i++) t_join(pt[i]);
    for (int i = 0; i < LK_UNL_C; i++) t_join(ct[i]);
    int64_t el = kchan_now_ns() - t0;
    cr_assert_eq(atomic_load(&s->errors), 0, "%s round %d: %d errors, first: %s", lk_mode_name[mode], round,
                 atomic_load(&s->errors), s->first_error);
    cr_assert_eq(wrc, KCHAN_OK, "%s: only %lld of %lld sends accepted after 15 s", lk_mode_name[mode],
                 (long long)at_close, (long long)half);
    cr_assert_eq(crc, KCHAN_OK, "the midway %s: %s", mode == LK_UNL_CANCEL ? "cancel" : "close", kchan_strerror(crc));
    cr_assert_eq(atomic_load(&s->cb_bad), 0, "on_undelivered got %ld values never sent, torn, or NULL",
                 atomic_load(&s->cb_bad));

    long long total = 0, received = 0, timedout = 0, recv_wb = 0, peeks = 0;
    int stopped_by_close = 0;
    for (int i = 0; i < LK_UNL_P; i++) {
        cr_assert_leq(pa[i].accepted, per);
        total += pa[i].accepted;
        stopped_by_close += pa[i].saw_closed;
    }
    for (int i = 0; i < LK_UNL_C; i++) {
        received += ca[i].received;
        timedout += ca[i].timedout;
        recv_wb += ca[i].wouldblock;
        peeks += ca[i].peeks_ok;
    }
    cr_assert_geq(total, at_close, "accepted %lld, but %lld were counted before the close", total,
                  (long long)at_close);
    cr_assert_eq(total, kchan_counter_load(&s->accepted));

    long long n_got, n_gone;
    lk_check_bitmaps(s, pa, &n_got, &n_gone);
    cr_assert_eq(n_got, received);
    long cb = atomic_load(&s->cb_calls);
    cr_assert_eq(n_gone, cb);
    cr_assert_eq(received + cb, total);
    if (mode == LK_UNL_CLOSE) cr_assert_eq(cb, 0, "on_undelivered ran %ld times after a plain close", cb);
    /* a backlog of LK_UNL_BACKLOG was held for the cancel; the free consumers cannot drain
       it in the moment between the len read and the cancel */
    if (mode == LK_UNL_CANCEL) cr_assert_gt(cb, 0, "the cancel handed nothing back (len %zu before it)", len_at_close);

    /* Stats after quiescence. */
    kchan_stats x = t_stats(s->c);
    cr_assert_eq(x.version, KCHAN_STATS_VERSION);
    cr_assert_eq(x.sends, (uint64_t)total, "stats.sends %llu, accepted %lld", (unsigned long long)x.sends, total);
    cr_assert_eq(x.recvs, (uint64_t)received, "stats.recvs %llu, received %lld", (unsigned long long)x.recvs,
                 received);
    cr_assert_eq(x.undelivered, (uint64_t)cb, "stats.undelivered %llu, handed back %ld",
                 (unsigned long long)x.undelivered, cb);
    cr_assert_eq(x.drops_newest + x.drops_oldest, 0u);
    cr_assert_eq(x.len, 0u);
    cr_assert_eq(kchan_len(s->c), 0u);
    cr_assert_eq(x.sends, x.recvs + x.drops_newest + x.drops_oldest + x.undelivered + x.len);
    cr_assert_eq(x.cap, KCHAN_UNLIMITED);
    cr_assert_geq(x.max_len, 1u);
    cr_assert_leq(x.max_len, (size_t)total);
    cr_assert(x.closed);
    cr_assert_eq(x.waiting_senders, 0u);
    cr_assert_eq(x.waiting_receivers, 0u);
    cr_assert_eq(x.send_full, 0u, "a try_send on an unlimited channel was counted as full");
    cr_assert_eq(x.blocked_sends, 0u, "a send on an unlimited channel was counted as waiting");
    cr_assert_eq(x.timeouts, (uint64_t)timedout, "stats.timeouts %llu, observed %lld",
                 (unsigned long long)x.timeouts, timedout);
    cr_assert_eq(x.recv_empty, (uint64_t)recv_wb, "stats.recv_empty %llu, observed %lld",
                 (unsigned long long)x.recv_empty, recv_wb);

    /* Closed and drained (or discarded): every further op says so, and hands nothing back. */
    lf_elem e = lf_make(0, 0);
    cr_assert_eq(kchan_peek(s->c, &e), KCHAN_CLOSED);
    cr_assert_eq(kchan_try_recv(s->c, &e), KCHAN_CLOSED);
    cr_assert_eq(kchan_try_send(s->c, &e), KCHAN_CLOSED);
    cr_assert_eq(kchan_close(s->c), KCHAN_CLOSED);
    cr_assert_eq(kchan_cancel(s->c), KCHAN_CLOSED);
    cr_assert_eq(atomic_load(&s->cb_calls), cb, "a second close/cancel handed elements back");
    kchan_destroy(s->c);
    cr_assert_eq(atomic_load(&s->cb_calls), cb, "destroy handed back %ld elements of a drained channel",
                 atomic_load(&s->cb_calls) - cb);
    cr_assert_eq(test_alloc_live_blocks(), 0, "%lld blocks (%lld bytes) left after destroy",
                 (long long)test_alloc_live_blocks(), (long long)test_alloc_live_bytes());

    cr_log_info("kinds_stress %s round %d: %lld of %lld accepted (%lld at the %s, len %zu then), %d of %d producers "
                "stopped by it, received %lld, handed back %ld, timeouts %lld, recv_empty %lld, peeks %lld, "
                "max_len %zu, %.0f ms", lk_mode_name[mode], round, total, (long long)(LK_UNL_P * per),
                (long long)at_close, mode == LK_UNL_CANCEL ? "cancel" : "close", len_at_close, stopped_by_close,
                LK_UNL_P, received, cb, timedout, recv_wb, peeks, x.max_len, el / 1e6);
    lk_state_free(s);
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

Test(kinds_stress, unlimited_mpmc_close_midway, .timeout = T_TIMEOUT)
{
    lk_rounds(lk_unl_run, LK_UNL_CLOSE, LK_UNL_PER);
}

Test(kinds_stress, unlimited_cancel_midway_hands_back_everything, .timeout = T_TIMEOUT)
{
    lk_rounds(lk_unl_run, LK_UNL_CANCEL, LK_UNL_PER);
}

/* ---- unlimited: memory comes back after a concurrent burst ---------------------------- */

enum { LK_BURST_P = 2 };

typedef struct {
    lk_state *s;
    int64_t base;              /* live bytes of the empty channel */
    int64_t backlog_at_start;  /* accepted when the consumer started (nothing received yet) */
    int64_t heap_at_start;     /* live bytes above base then */
} lk_burst_consumer;

static void *lk_burst_producer(void *p)
{
    lk_arg *a = p;
    lk_state *s = a->s;
    uint32_t rng = a->seed;
    lf_elem batch[LK_UNL_BATCH];
    int64_t seq = 0;
    while (seq < s->per && !lk_failed(s)) {
        uint32_t r = lf_rand(&rng);
        size_t n = r % 8 == 0 ? 1 : 1 + (r >> 8) % LK_UNL_BATCH;
        if ((int64_t)n > s->per - seq) n = (size_t)(s->per - seq);
        int rc;
        size_t sent = 0;
        if (n == 1) {
            lf_elem e = lf_make(a->id, seq);
            rc = r % 16 == 0 ? kchan_try_send(s->c, &e) : kchan_send(s->c, &e);
            sent = rc == KCHAN_OK;
        } else {
            for (size_t i = 0; i < n; i++) batch[i] = lf_make(a->id, seq + (int64_t)i);
            rc = kchan_send_many(s->c, batch, n, &sent, (r >> 16) % 2 ? 0 : KCHAN_FOREVER);
        }
        if (rc != KCHAN_OK || sent != n) {
            lk_fail(s, "P%d seq %lld: sending %zu: %s, sent %zu", a->id, (long long)seq, n, kchan_strerror(rc), sent);
            break;
        }
        seq += (int64_t)n;
        (void)kchan_counter_add(&s->accepted, (int64_t)n);
    }
    a->accepted = seq;
    return NULL;
}

static void *lk_burst_drain(void *p)
{
    lk_burst_consumer *bc = p;
    lk_state *s = bc->s;
    const int64_t total = (int64_t)s->np * s->per;
    /* hold back until half the burst is in */
    int wrc;
    do wrc = kchan_counter_wait_ge(&s->accepted, total / 2, 100 * LK_MS);
    while (wrc == KCHAN_TIMEDOUT && !lk_failed(s));
    if (wrc != KCHAN_OK) return NULL;
    bc->backlog_at_start = kchan_counter_load(&s->accepted);
    bc->heap_at_start = test_alloc_live_bytes() - bc->base;
    lk_arg a;
    memset(&a, 0, sizeof a);
    a.s = s;
    uint32_t rng = 0x2545f491u;
    int64_t last[LK_MAX_P];
    for (int i = 0; i < LK_MAX_P; i++) last[i] = -1;
    lf_elem buf[LK_UNL_BATCH];
    while (a.received < total && !lk_failed(s)) {
        uint32_t r = lf_rand(&rng);
        size_t got = 0;
        int rc;
        if (r % 8 == 0) {
            rc = kchan_recv(s->c, &buf[0]);
            got = rc == KCHAN_OK;
        } else {
            rc = kchan_recv_many(s->c, buf, 1 + (r >> 8) % LK_UNL_BATCH, &got, KCHAN_FOREVER);
        }
        if (rc != KCHAN_OK) { lk_fail(s, "drain after %lld: %s", a.received, kchan_strerror(rc)); break; }
        lk_take(&a, last, buf, got);
    }
    return NULL;
}

Test(kinds_stress, unlimited_memory_returns_after_concurrent_burst, .timeout = T_TIMEOUT)
{
    const int64_t per = LK_BURST_PER, total = LK_BURST_P * per;
    lk_state *s = lk_state_new(LK_BURST, LK_BURST_P, per);
    kchan_opts o = { .capacity = KCHAN_UNLIMITED, .on_undelivered = lk_on_undelivered, .user = s };
    cr_assert_eq(kchan_create(&s->c, sizeof(lf_elem), &o), KCHAN_OK);
    lk_burst_consumer bc = { .s = s, .base = test_alloc_live_bytes() };
    int64_t t0 = kchan_now_ns();
    pthread_t ct = t_spawn(lk_burst_drain, &bc);
    lk_arg pa[LK_BURST_P];
    pthread_t pt[LK_BURST_P];
    memset(pa, 0, sizeof pa);
    for (int i = 0; i < LK_BURST_P; i++) {
        pa[i].s = s; pa[i].id = i; pa[i].seed = lk_seed(LK_BURST, 0, i);
        pt[i] = t_spawn(lk_burst_producer, &pa[i]);
    }
    for (int i = 0; i < LK_BURST_P; i++) t_join(pt[i]);
    t_join(ct);
    int64_t el = kchan_now_ns() - t0;
    cr_assert_eq(atomic_load(&s->errors), 0, "%s", s->first_error);
    for (int i = 0; i < LK_BURST_P; i++) cr_assert_eq(pa[i].accepted, per);

    /* the backlog was on the heap when the consumer started */
    cr_assert_geq(bc.backlog_at_start, total / 2);
    cr_assert_geq(bc.heap_at_start, bc.backlog_at_start * (int64_t)sizeof(lf_elem),
                  "%lld elements buffered in %lld bytes above the empty channel", (long long)bc.backlog_at_start,
                  (long long)bc.heap_at_start);

    /* every value once, in order per producer (lk_take checked the order) */
    long long n_got, n_gone;
    lk_check_bitmaps(s, pa, &n_got, &n_gone);
    cr_assert_eq(n_got, total);
    cr_assert_eq(n_gone, 0);

    lf_elem e;
    cr_assert_eq(kchan_try_recv(s->c, &e), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_peek(s->c, &e), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_len(s->c), 0u);
    int64_t after = test_alloc_live_bytes();
    cr_assert_lt(after - bc.base, 4096, "memory not given back: %lld bytes above the empty channel "
                 "(%lld at the peak backlog)", (long long)(after - bc.base), (long long)bc.heap_at_start);
    kchan_stats x = t_stats(s->c);
    cr_assert_eq(x.sends, (uint64_t)total);
    cr_assert_eq(x.recvs, (uint64_t)total);
    cr_assert_eq(x.len, 0u);
    cr_assert_geq(x.max_len, (size_t)bc.backlog_at_start);
    cr_assert_leq(x.max_len, (size_t)total);
    cr_assert_eq(x.drops_newest + x.drops_oldest + x.undelivered, 0u);
    kchan_destroy(s->c);
    cr_assert_eq(atomic_load(&s->cb_calls), 0);
    cr_assert_eq(test_alloc_live_blocks(), 0, "%lld blocks (%lld bytes) left after destroy",
                 (long long)test_alloc_live_blocks(), (long long)test_alloc_live_bytes());
    cr_log_info("kinds_stress burst: %lld elements, consumer started at %lld buffered (%lld bytes), %lld bytes above "
                "empty after the drain, max_len %zu, %.0f ms", (long long)total, (long long)bc.backlog_at_start,
                (long long)bc.heap_at_start, (long long)(after - bc.base), x.max_len, el / 1e6);
    lk_state_free(s);
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
        uint32_t r = lf_rand(&rng);
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

static void lk_mono(lk_state *s, long long poll, const char *field, uint64_t before, uint64_t now)
{
    if (now < before)
        lk_fail(s, "%s poll %lld: stats.%s went back from %llu to %llu", lk_mode_name[s->mode], poll, field,
                (unsigned long long)before, (unsigned long long)now);
}

/* Every field that counts something never decreases; len and max_len stay within cap. */
static void lk_stats_step(lk_state *s, long long poll, const kchan_stats *b, const kchan_stats *a, size_t cap)
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
        lk_fail(s, "%s poll %lld: len %zu, max_len %zu, cap %zu (cap is %zu)", lk_mode_name[s->mode], poll, a->len,
                a->max_len, a->cap, cap);
    if (a->waiting_senders != 0 || a->waiting_receivers > LK_DROP_C)
        lk_fail(s, "%s poll %lld: %u senders and %u receivers parked (senders never wait here, %d receivers)",
                lk_mode_name[s->mode], poll, a->waiting_senders, a->waiting_receivers, LK_DROP_C);
    if (a->version != KCHAN_STATS_VERSION) lk_fail(s, "poll %lld: stats version %u", poll, a->version);
}

static void *lk_poller(void *p)
{
    lk_state *s = p;
    const size_t cap = kchan_cap(s->c);
    kchan_stats prev, cur;
    kchan_stats_get(s->c, &prev);
    lk_stats_step(s, 0, &prev, &prev, cap);
    long long n = 1;
    while (!atomic_load_explicit(&s->stop_poll, memory_order_acquire) && !lk_failed(s)) {
        kchan_stats_get(s->c, &cur);
        lk_stats_step(s, n, &prev, &cur, cap);
        size_t len = kchan_len(s->c);
        if (len > cap) lk_fail(s, "%s poll %lld: kchan_len %zu above cap %zu", lk_mode_name[s->mode], n, len, cap);
        prev = cur;
        if (++n % 64 == 0) sched_yield();
    }
    s->polls = n;
    s->last_poll = prev;
    return NULL;
}

static void lk_drop_run(int mode, int64_t per, int round)
{
    const size_t cap = mode == LK_CONFLATED ? 1 : LK_DROP_CAP;
    lk_state *s = lk_state_new(mode, LK_DROP_P, per);
    kchan_opts o = { .capacity = mode == LK_CONFLATED ? KCHAN_CONFLATED : LK_DROP_CAP,
                     .overflow = mode == LK_CONFLATED ? KCHAN_BLOCK : KCHAN_DROP_OLDEST,
                     .on_undelivered = lk_on_undelivered, .user = s, .name = lk_mode_name[mode] };
    cr_assert_eq(kchan_create(&s->c, sizeof(lf_elem), &o), KCHAN_OK);
    cr_assert_eq(kchan_cap(s->c), cap);

    int64_t t0 = kchan_now_ns();
    lk_arg pa[LK_DROP_P], ca[LK_DROP_C];
    pthread_t pt[LK_DROP_P], ct[LK_DROP_C];
    memset(pa, 0, sizeof pa);
    memset(ca, 0, sizeof ca);
    pthread_t poller = t_spawn(lk_poller, s);
    for (int i = 0; i < LK_DROP_C; i++) {
        ca[i].s = s; ca[i].id = i; ca[i].seed = lk_seed(mode, round, LK_DROP_P + i);
        ct[i] = t_spawn(lk_consumer, &ca[i]);
    }
    for (int i = 0; i < LK_DROP_P; i++) {
        pa[i].s = s; pa[i].id = i; pa[i].seed = lk_seed(mode, round, i);
        pt[i] = t_spawn(lk_producer, &pa[i]);
    }
    for (int i = 0; i < LK_DROP_P; i++) t_join(pt[i]);
    size_t len_at_close = kchan_len(s->c);
    int crc = kchan_close(s->c);
    for (int i = 0; i < LK_DROP_C; i++) t_join(ct[i]);
    atomic_store_explicit(&s->stop_poll, 1, memory_order_release);
    t_join(poller);
    int64_t el = kchan_now_ns() - t0;
    cr_assert_eq(atomic_load(&s->errors), 0, "%s round %d: %d errors, first: %s", lk_mode_name[mode], round,
                 atomic_load(&s->errors), s->first_error);
    cr_assert_eq(crc, KCHAN_OK);
    cr_assert_eq(atomic_load(&s->cb_bad), 0, "on_undelivered got %ld values never sent, torn, or NULL",
                 atomic_load(&s->cb_bad));
    cr_assert_geq(s->polls, 2, "the poller took %lld snapshots", s->polls);

    long long total = 0, received = 0, timedout = 0, recv_wb = 0;
    for (int i = 0; i < LK_DROP_P; i++) {
        cr_assert_eq(pa[i].accepted, per, "producer %d: %lld of %lld accepted before the close", i,
                     (long long)pa[i].accepted, (long long)per);
        total += pa[i].accepted;
    }
    for (int i = 0; i < LK_DROP_C; i++) {
        received += ca[i].received;
        timedout += ca[i].timedout;
        recv_wb += ca[i].wouldblock;
    }
    long long n_got, n_gone;
    lk_check_bitmaps(s, pa, &n_got, &n_gone);
    long cb = atomic_load(&s->cb_calls);
    cr_assert_eq(n_got, received);
    cr_assert_eq(n_gone, cb);
    cr_assert_eq(received + cb, total);
    cr_assert_gt(cb, 0, "%lld sends by 3 producers into %zu cells evicted nothing", total, cap);
    cr_assert_gt(received, 0);

    kchan_stats x = t_stats(s->c);
    /* the final snapshot is no earlier than the poller's last */
    lk_stats_step(s, s->polls, &s->last_poll, &x, cap);
    cr_assert_eq(atomic_load(&s->errors), 0, "%s", s->first_error);
    cr_assert_eq(x.sends, (uint64_t)total, "stats.sends %llu, accepted %lld", (unsigned long long)x.sends, total);
    cr_assert_eq(x.recvs, (uint64_t)received, "stats.recvs %llu, received %lld", (unsigned long long)x.recvs,
                 received);
    cr_assert_eq(x.drops_oldest, (uint64_t)cb, "stats.drops_oldest %llu, evicted %ld",
                 (unsigned long long)x.drops_oldest, cb);
    cr_assert_eq(x.drops_newest, 0u);
    cr_assert_eq(x.undelivered, 0u);
    cr_assert_eq(x.len, 0u);
    cr_assert_eq(kchan_len(s->c), 0u);
    cr_assert_eq(x.sends, x.recvs + x.drops_newest + x.drops_oldest + x.undelivered + x.len);
    cr_assert_eq(x.cap, cap);
    cr_assert_geq(x.max_len, 1u);
    cr_assert_leq(x.max_len, cap);
    cr_assert(x.closed);
    cr_assert_eq(x.waiting_senders + x.waiting_receivers, 0u);
    cr_assert_eq(x.send_full + x.blocked_sends, 0u, "a send on a %s channel was counted as full or waiting",
                 lk_mode_name[mode]);
    cr_assert_eq(x.timeouts, (uint64_t)timedout, "stats.timeouts %llu, observed %lld",
                 (unsigned long long)x.timeouts, timedout);
    cr_assert_eq(x.recv_empty, (uint64_t)recv_wb, "stats.recv_empty %llu, observed %lld",
                 (unsigned long long)x.recv_empty, recv_wb);

    lf_elem e = lf_make(0, 0);
    cr_assert_eq(kchan_peek(s->c, &e), KCHAN_CLOSED);
    cr_assert_eq(kchan_try_send(s->c, &e), KCHAN_CLOSED);
    kchan_destroy(s->c);
    cr_assert_eq(atomic_load(&s->cb_calls), cb, "destroy handed back elements of a drained channel");
    cr_assert_eq(test_alloc_live_blocks(), 0);
    cr_log_info("kinds_stress %s round %d: %lld sent, %lld received, %ld evicted, len %zu at close, max_len %zu, "
                "%lld stats polls, timeouts %lld, recv_empty %lld, %.0f ms", lk_mode_name[mode], round, total,
                received, cb, len_at_close, x.max_len, s->polls, timedout, recv_wb, el / 1e6);
    lk_state_free(s);
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
