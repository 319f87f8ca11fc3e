/* ring_stress: a stress of the bounded ring through the public API only, so it runs the same on
   both engines (with -DKCHAN_LOCKFREE, bounded block and drop-newest channels are the
   lock-free stamped ring; otherwise the mutex engine's ring).

   The MPMC tests run 4 producers x 4 consumers over capacities 1, 3 (not a power of two) and
   64. Each thread mixes every op (send, send_timeout with short timeouts, try_send, send_many
   with batches of 1..17 and timeouts forever / 0 / short; the receive twins, and peek) with
   random stalls (spins and yields, never sleeps). Main closes (or cancels) the channel once
   half the planned sends were accepted, told by a kchan_counter the producers add to; a
   producer stops at KCHAN_CLOSED, a consumer drains until KCHAN_CLOSED. Values encode
   (producer, sequence) and carry a checksum (a torn copy is caught); a producer sends its
   sequence in order, so the accepted values are exactly its first `accepted` ones. Checked:
   every accepted value was received exactly once or (drop-newest, cancel) handed to
   on_undelivered exactly once, and nothing else anywhere; each consumer sees each producer's
   values in increasing order; the stats add up to the counts the threads observed.

   batch_claims_cross_lap_boundary is single-threaded and exact: send_many / recv_many
   batches that straddle the wrap of a 5-cell ring, against a model FIFO, with peek.

   KCHAN_STRESS set: 10x the rounds per capacity (new seeds each), within a time budget. */
#include "common.h"
#include "lfharness.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define LF_US (INT64_C(1000))
#define LF_MS (INT64_C(1000000))

enum { LP = 4, LC = 4, LF_BATCH_MAX = 17 };
enum { MODE_CLOSE, MODE_DROP, MODE_CANCEL };
static const char *const lf_mode_name[] = { "close", "drop_newest", "cancel" };

/* Producers' values per capacity and round: LP * LF_PER planned, about half accepted. */
#define LF_PER 4000
/* KCHAN_STRESS: 10x the rounds per capacity, within a wall-clock budget per capacity (3
   capacities must stay well inside T_TIMEOUT). */
#define LF_STRESS_ROUNDS 10
#define LF_STRESS_BUDGET_NS (4000 * LF_MS)

/* A fixed seed per (test mode, capacity, round, thread). */
static uint32_t lf_seed(int mode, size_t cap, int round, int thread)
{
    uint32_t parts[4] = { (uint32_t)mode, (uint32_t)cap, (uint32_t)round, (uint32_t)thread };
    return lf_seed_from(0x9e3779b9u, parts, 4);
}

typedef struct lf_state lf_state;

typedef struct {
    lf_state *s;
    int id;
    uint32_t seed;
    /* results, read by main after the join */
    int64_t accepted;          /* producer: values 0..accepted-1 were accepted (OK) */
    long long received;        /* consumer: elements received */
    long long timedout;        /* ops with a positive timeout that returned KCHAN_TIMEDOUT */
    long long wouldblock;      /* ops with timeout 0 that returned KCHAN_WOULDBLOCK */
    long long peeks_ok;        /* consumer: peeks that returned an element */
} lf_arg;

struct lf_state {
    kchan_t *c;
    int mode;
    int64_t per;                  /* values per producer */
    _Atomic unsigned char *got;   /* [LP * per]: times each value was received */
    _Atomic unsigned char *gone;  /* [LP * per]: times each value went to on_undelivered */
    atomic_long cb_calls, cb_bad;
    kchan_counter accepted;       /* values accepted so far (main closes at half) */
    atomic_int errors;
    char first_error[256];        /* written by the first thread to count an error */
};

static void lf_fail(lf_state *s, const char *fmt, ...)
{
    if (atomic_fetch_add(&s->errors, 1) != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->first_error, sizeof s->first_error, fmt, ap);
    va_end(ap);
}

/* The bitmap index of a well-formed value, or -1. */
static int64_t lf_index(const lf_state *s, const lf_elem *e)
{
    if (e->chk != lf_chk(e->v)) return -1;
    int64_t p = e->v >> 32, q = e->v & 0xffffffff;
    if (p < 0 || p >= LP || q >= s->per) return -1;
    return p * s->per + q;
}

static void lf_on_undelivered(void *elem, void *user)
{
    lf_state *s = user;
    atomic_fetch_add_explicit(&s->cb_calls, 1, memory_order_relaxed);
    lf_elem e;
    if (!elem) { atomic_fetch_add_explicit(&s->cb_bad, 1, memory_order_relaxed); return; }
    memcpy(&e, elem, sizeof e);
    int64_t i = lf_index(s, &e);
    if (i < 0) { atomic_fetch_add_explicit(&s->cb_bad, 1, memory_order_relaxed); return; }
    atomic_fetch_add_explicit(&s->gone[i], 1, memory_order_relaxed);
}

/* A short positive timeout: 1..48 us. */

static void *lf_producer(void *p)
{
    lf_arg *a = p;
    lf_state *s = a->s;
    uint32_t rng = a->seed;
    const bool drop = s->mode == MODE_DROP;
    int64_t seq = 0;
    lf_elem batch[LF_BATCH_MAX];
    while (seq < s->per && atomic_load_explicit(&s->errors, memory_order_relaxed) == 0) {
        lf_stall(&rng, drop);
        uint32_t r = lf_rand(&rng);
        lf_elem e = lf_make(a->id, seq);
        size_t k = 0;                          /* values this op got accepted */
        int rc;
        switch (r % 8) {
        case 0: case 1:
            rc = kchan_send(s->c, &e);
            if (rc == KCHAN_OK) k = 1;
            else if (rc != KCHAN_CLOSED) lf_fail(s, "P%d send seq %lld: %s", a->id, (long long)seq, kchan_strerror(rc));
            break;
        case 2: case 3: {
            int64_t to = lf_short(r >> 8);
            rc = kchan_send_timeout(s->c, &e, to);
            if (rc == KCHAN_OK) k = 1;
            else if (rc == KCHAN_TIMEDOUT && !drop) a->timedout++;   /* retried on the next turn */
            else if (rc != KCHAN_CLOSED)
                lf_fail(s, "P%d send_timeout(%lld ns) seq %lld: %s", a->id, (long long)to, (long long)seq,
                        kchan_strerror(rc));
            break;
        }
        case 4: case 5:
            rc = kchan_try_send(s->c, &e);
            if (rc == KCHAN_OK) k = 1;
            else if (rc == KCHAN_WOULDBLOCK && !drop) { a->wouldblock++; sched_yield(); }
            else if (rc != KCHAN_CLOSED) lf_fail(s, "P%d try_send seq %lld: %s", a->id, (long long)seq, kchan_strerror(rc));
            break;
        default: {
            size_t n = 1 + (r >> 8) % LF_BATCH_MAX;
            if ((int64_t)n > s->per - seq) n = (size_t)(s->per - seq);
            for (size_t i = 0; i < n; i++) batch[i] = lf_make(a->id, seq + (int64_t)i);
            int kind = (int)((r >> 16) % 3);
            int64_t to = kind == 0 ? KCHAN_FOREVER : kind == 1 ? 0 : lf_short(r >> 20);
            size_t sent = (size_t)-7;
            rc = kchan_send_many(s->c, batch, n, &sent, to);
            if (sent > n) {
                lf_fail(s, "P%d send_many(%zu, %lld ns): sent = %zu, rc %s", a->id, n, (long long)to, sent,
                        kchan_strerror(rc));
                break;
            }
            k = sent;
            if (rc == KCHAN_OK ? sent != n : sent == n)
                lf_fail(s, "P%d send_many(%zu, %lld ns): %s with sent = %zu", a->id, n, (long long)to,
                        kchan_strerror(rc), sent);
            else if (rc == KCHAN_WOULDBLOCK && to == 0 && !drop) a->wouldblock++;
            else if (rc == KCHAN_TIMEDOUT && to > 0 && !drop) a->timedout++;
            else if (rc != KCHAN_OK && rc != KCHAN_CLOSED)
                lf_fail(s, "P%d send_many(%zu, %lld ns) seq %lld: %s", a->id, n, (long long)to, (long long)seq,
                        kchan_strerror(rc));
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
    return NULL;
}

/* Check and count the `got` elements a consumer took. last[p]: its last sequence of producer p. */
static void lf_take(lf_arg *a, int64_t *last, const lf_elem *buf, size_t got)
{
    lf_state *s = a->s;
    for (size_t i = 0; i < got; i++) {
        int64_t idx = lf_index(s, &buf[i]);
        if (idx < 0) {
            lf_fail(s, "C%d received a value never sent: v %#llx chk %#llx", a->id,
                    (unsigned long long)buf[i].v, (unsigned long long)buf[i].chk);
            continue;
        }
        int64_t p = idx / s->per, q = idx % s->per;
        if (q <= last[p])
            lf_fail(s, "C%d: producer %lld seq %lld after seq %lld", a->id, (long long)p, (long long)q,
                    (long long)last[p]);
        last[p] = q;
        atomic_fetch_add_explicit(&s->got[idx], 1, memory_order_relaxed);
    }
    a->received += (long long)got;
}

static void *lf_consumer(void *p)
{
    lf_arg *a = p;
    lf_state *s = a->s;
    uint32_t rng = a->seed;
    int64_t last[LP];
    for (int i = 0; i < LP; i++) last[i] = -1;
    lf_elem buf[LF_BATCH_MAX];
    while (atomic_load_explicit(&s->errors, memory_order_relaxed) == 0) {
        lf_stall(&rng, s->mode == MODE_CANCEL);
        uint32_t r = lf_rand(&rng);
        size_t got = 0;
        int rc;
        switch (r % 16) {
        case 0: case 1: case 2: case 3:
            rc = kchan_recv(s->c, &buf[0]);
            got = rc == KCHAN_OK;
            if (rc != KCHAN_OK && rc != KCHAN_CLOSED) lf_fail(s, "C%d recv: %s", a->id, kchan_strerror(rc));
            break;
        case 4: case 5: case 6: case 7: {
            int64_t to = lf_short(r >> 8);
            rc = kchan_recv_timeout(s->c, &buf[0], to);
            got = rc == KCHAN_OK;
            if (rc == KCHAN_TIMEDOUT) a->timedout++;
            else if (rc != KCHAN_OK && rc != KCHAN_CLOSED)
                lf_fail(s, "C%d recv_timeout(%lld ns): %s", a->id, (long long)to, kchan_strerror(rc));
            break;
        }
        case 8: case 9: case 10:
            rc = kchan_try_recv(s->c, &buf[0]);
            got = rc == KCHAN_OK;
            if (rc == KCHAN_WOULDBLOCK) { a->wouldblock++; sched_yield(); }
            else if (rc != KCHAN_OK && rc != KCHAN_CLOSED) lf_fail(s, "C%d try_recv: %s", a->id, kchan_strerror(rc));
            break;
        case 11: {
            /* peek: another consumer may take the element first, so only its form is checked */
            lf_elem e;
            int prc = kchan_peek(s->c, &e);
            if (prc == KCHAN_OK) {
                a->peeks_ok++;
                if (lf_index(s, &e) < 0)
                    lf_fail(s, "C%d peeked a value never sent: v %#llx chk %#llx", a->id,
                            (unsigned long long)e.v, (unsigned long long)e.chk);
            } else if (prc != KCHAN_WOULDBLOCK && prc != KCHAN_CLOSED) {
                lf_fail(s, "C%d peek: %s", a->id, kchan_strerror(prc));
            }
            continue;                          /* a peek's CLOSED is confirmed by a receive */
        }
        default: {
            size_t max = 1 + (r >> 8) % LF_BATCH_MAX;
            int kind = (int)((r >> 16) % 3);
            int64_t to = kind == 0 ? KCHAN_FOREVER : kind == 1 ? 0 : lf_short(r >> 20);
            got = (size_t)-7;
            rc = kchan_recv_many(s->c, buf, max, &got, to);
            if (rc == KCHAN_OK ? got < 1 || got > max : got != 0) {
                lf_fail(s, "C%d recv_many(%zu, %lld ns): %s with got = %zu", a->id, max, (long long)to,
                        kchan_strerror(rc), got);
                got = 0;
            } else if (rc == KCHAN_WOULDBLOCK && to == 0) {
                a->wouldblock++;
            } else if (rc == KCHAN_TIMEDOUT && to > 0) {
                a->timedout++;
            } else if (rc != KCHAN_OK && rc != KCHAN_CLOSED) {
                lf_fail(s, "C%d recv_many(%zu, %lld ns): %s", a->id, max, (long long)to, kchan_strerror(rc));
            }
            break;
        }
        }
        if (rc == KCHAN_OK) lf_take(a, last, buf, got);
        else if (rc == KCHAN_CLOSED) break;
    }
    return NULL;
}

static void lf_run(int mode, size_t cap, int64_t per, int round)
{
    lf_state *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    s->mode = mode;
    s->per = per;
    s->got = calloc((size_t)(LP * per), 1);
    s->gone = calloc((size_t)(LP * per), 1);
    cr_assert(s->got && s->gone);
    kchan_counter_init(&s->accepted, 0);
    kchan_opts o = { .capacity = cap, .overflow = mode == MODE_DROP ? KCHAN_DROP_NEWEST : KCHAN_BLOCK,
                     .on_undelivered = lf_on_undelivered, .user = s, .name = "ring_stress" };
    cr_assert_eq(kchan_create(&s->c, sizeof(lf_elem), &o), KCHAN_OK);

    int64_t t0 = kchan_now_ns();
    lf_arg pa[LP], ca[LC];
    pthread_t pt[LP], ct[LC];
    memset(pa, 0, sizeof pa);
    memset(ca, 0, sizeof ca);
    for (int i = 0; i < LC; i++) {
        ca[i].s = s; ca[i].id = i; ca[i].seed = lf_seed(mode, cap, round, LP + i);
        ct[i] = t_spawn(lf_consumer, &ca[i]);
    }
    for (int i = 0; i < LP; i++) {
        pa[i].s = s; pa[i].id = i; pa[i].seed = lf_seed(mode, cap, round, i);
        pt[i] = t_spawn(lf_producer, &pa[i]);
    }
    /* Close midway: once half the planned sends were accepted (or a thread failed, so that
       everyone parked is released and the failure is reported rather than a hang). */
    const int64_t half = LP * per / 2;
    int wrc;
    do wrc = kchan_counter_wait_ge(&s->accepted, half, 100 * LF_MS);
    while (wrc == KCHAN_TIMEDOUT && atomic_load(&s->errors) == 0 && kchan_now_ns() - t0 < 15000 * LF_MS);
    int64_t at_close = kchan_counter_load(&s->accepted);
    int crc = mode == MODE_CANCEL ? kchan_cancel(s->c) : kchan_close(s->c);
    for (int i = 0; i < LP; i++) t_join(pt[i]);
    for (int i = 0; i < LC; i++) t_join(ct[i]);
    int64_t el = kchan_now_ns() - t0;
    cr_assert_eq(atomic_load(&s->errors), 0, "%s cap %zu round %d: %d errors, first: %s", lf_mode_name[mode],
                 cap, round, atomic_load(&s->errors), s->first_error);
    cr_assert_eq(wrc, KCHAN_OK, "%s cap %zu: only %lld of %lld sends accepted after 15 s", lf_mode_name[mode],
                 cap, (long long)at_close, (long long)half);
    cr_assert_eq(crc, KCHAN_OK, "the midway %s: %s", mode == MODE_CANCEL ? "cancel" : "close", kchan_strerror(crc));

    cr_assert_eq(atomic_load(&s->cb_bad), 0, "on_undelivered got %ld values never sent (or NULL)",
                 atomic_load(&s->cb_bad));

    long long total = 0, received = 0, timedout = 0, send_wb = 0, recv_wb = 0, peeks = 0;
    for (int i = 0; i < LP; i++) {
        cr_assert_leq(pa[i].accepted, per);
        total += pa[i].accepted;
        timedout += pa[i].timedout;
        send_wb += pa[i].wouldblock;
    }
    for (int i = 0; i < LC; i++) {
        received += ca[i].received;
        timedout += ca[i].timedout;
        recv_wb += ca[i].wouldblock;
        peeks += ca[i].peeks_ok;
    }
    cr_assert_geq(total, at_close, "accepted %lld, but %lld were counted before the close", total,
                  (long long)at_close);
    cr_assert_eq(total, kchan_counter_load(&s->accepted));

    /* Conservation, value by value: accepted => received once xor handed back once;
       not accepted => neither. */
    long long wrong = 0, n_got = 0, n_gone = 0;
    int64_t first_p = -1, first_q = -1;
    int first_got = 0, first_gone = 0;
    for (int p = 0; p < LP; p++) {
        for (int64_t q = 0; q < per; q++) {
            int g = atomic_load_explicit(&s->got[p * per + q], memory_order_relaxed);
            int d = atomic_load_explicit(&s->gone[p * per + q], memory_order_relaxed);
            n_got += g;
            n_gone += d;
            if (g + d != (q < pa[p].accepted ? 1 : 0) && wrong++ == 0) {
                first_p = p; first_q = q; first_got = g; first_gone = d;
            }
        }
    }
    cr_assert_eq(wrong, 0, "%s cap %zu: %lld values not (received or handed back) exactly once if accepted, "
                 "or seen though not accepted; first: producer %lld seq %lld (accepted %lld): received %d, "
                 "handed back %d", lf_mode_name[mode], cap, wrong, (long long)first_p, (long long)first_q,
                 (long long)pa[first_p].accepted, first_got, first_gone);
    cr_assert_eq(n_got, received);
    long cb = atomic_load(&s->cb_calls);
    cr_assert_eq(n_gone, cb);
    cr_assert_eq(received + cb, total);
    if (mode == MODE_CLOSE) cr_assert_eq(cb, 0, "on_undelivered ran %ld times after a plain close", cb);

    /* Stats after quiescence. */
    kchan_stats x = t_stats(s->c);
    cr_assert_eq(x.version, KCHAN_STATS_VERSION);
    cr_assert_eq(x.sends, (uint64_t)total, "stats.sends %llu, accepted %lld", (unsigned long long)x.sends, total);
    cr_assert_eq(x.recvs, (uint64_t)received, "stats.recvs %llu, received %lld", (unsigned long long)x.recvs,
                 received);
    cr_assert_eq(x.drops_newest, mode == MODE_DROP ? (uint64_t)cb : 0u);
    cr_assert_eq(x.undelivered, mode == MODE_CANCEL ? (uint64_t)cb : 0u);
    cr_assert_eq(x.drops_oldest, 0u);
    cr_assert_eq(x.len, 0u);
    cr_assert_eq(kchan_len(s->c), 0u);
    cr_assert_eq(x.sends, x.recvs + x.drops_newest + x.drops_oldest + x.undelivered + x.len);
    cr_assert_eq(x.cap, cap);
    cr_assert_leq(x.max_len, cap);
    cr_assert(x.closed);
    cr_assert(kchan_is_closed(s->c));
    cr_assert_eq(x.waiting_senders, 0u);
    cr_assert_eq(x.waiting_receivers, 0u);
    cr_assert_eq(x.timeouts, (uint64_t)timedout, "stats.timeouts %llu, observed %lld",
                 (unsigned long long)x.timeouts, timedout);
    cr_assert_eq(x.send_full, (uint64_t)send_wb, "stats.send_full %llu, observed %lld",
                 (unsigned long long)x.send_full, send_wb);
    cr_assert_eq(x.recv_empty, (uint64_t)recv_wb, "stats.recv_empty %llu, observed %lld",
                 (unsigned long long)x.recv_empty, recv_wb);

    /* Closed and drained (or discarded): every further op says so, and hands nothing back. */
    lf_elem e = lf_make(0, 0);
    cr_assert_eq(kchan_peek(s->c, &e), KCHAN_CLOSED);
    cr_assert_eq(kchan_try_recv(s->c, &e), KCHAN_CLOSED);
    cr_assert_eq(kchan_try_send(s->c, &e), KCHAN_CLOSED);
    cr_assert_eq(kchan_close(s->c), KCHAN_CLOSED);
    if (mode == MODE_CANCEL) cr_assert_eq(kchan_cancel(s->c), KCHAN_CLOSED);
    cr_assert_eq(atomic_load(&s->cb_calls), cb, "a second close/cancel handed elements back");
    kchan_destroy(s->c);
    cr_assert_eq(atomic_load(&s->cb_calls), cb, "destroy handed back %ld elements of a drained channel",
                 atomic_load(&s->cb_calls) - cb);

    cr_log_info("ring_stress %s cap %zu round %d: %lld of %lld accepted (%lld at close), received %lld, "
                "handed back %ld, timeouts %lld, send_full %lld, recv_empty %lld, peeks %lld, max_len %zu, "
                "%.0f ms", lf_mode_name[mode], cap, round, total, (long long)(LP * per), (long long)at_close,
                received, cb, timedout, send_wb, recv_wb, peeks, x.max_len, el / 1e6);
    free(s->got);
    free(s->gone);
    free(s);
}

/* Each capacity: `rounds` runs of `per` values per producer (10x the rounds under
   KCHAN_STRESS, within the budget). */
static void lf_suite(int mode, int base_rounds, int64_t per)
{
    static const size_t caps[] = { 1, 3, 64 };
    const int rounds = base_rounds * (getenv("KCHAN_STRESS") ? LF_STRESS_ROUNDS : 1);
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        int64_t t0 = kchan_now_ns(), last = 0;
        int r = 0;
        while (r < rounds && (r == 0 || kchan_now_ns() - t0 + last < LF_STRESS_BUDGET_NS)) {
            int64_t r0 = kchan_now_ns();
            lf_run(mode, caps[k], per, r);
            last = kchan_now_ns() - r0;
            r++;
        }
        if (rounds > base_rounds) cr_log_info("ring_stress %s cap %zu: %d of %d rounds", lf_mode_name[mode], caps[k], r, rounds);
    }
}

Test(ring_stress, mpmc_random_stalls_close_midway, .timeout = T_TIMEOUT) { lf_suite(MODE_CLOSE, 1, LF_PER); }
Test(ring_stress, drop_newest_conservation, .timeout = T_TIMEOUT) { lf_suite(MODE_DROP, 1, LF_PER); }
/* Cancel hands back at most a ring's worth per run: more, shorter runs. */
Test(ring_stress, cancel_midway_hands_back_everything, .timeout = T_TIMEOUT) { lf_suite(MODE_CANCEL, 4, LF_PER / 4); }

/* ---- single-threaded: batches across the ring's wrap ---------------------------------- */

/* send_many / recv_many on a 5-cell ring with batch sizes that do not divide 5 (some larger
   than the ring, and empty sends, which are KCHAN_OK whatever the room), so batch claims
   start at every index and straddle the wrap. The model is the FIFO [next_recv, next_send)
   of consecutive values. An op that can complete at once must, whatever its timeout; one
   that can only partly complete takes what fits and says WOULDBLOCK (timeout 0) or, now and
   then, TIMEDOUT after a short timeout. */
Test(ring_stress, batch_claims_cross_lap_boundary, .timeout = T_TIMEOUT)
{
    enum { CAP = 5, ROUNDS = 4000 };
    static const size_t send_sizes[] = { 2, 3, 0, 4, 6, 7, 1, 3, 4 };
    static const size_t recv_sizes[] = { 3, 2, 4, 7, 1, 6, 4 };
    kchan_t *c = t_chan(sizeof(int64_t), CAP);
    int64_t next_send = 0, next_recv = 0;
    int64_t buf[8];
    long long send_wb = 0, recv_wb = 0, timedout = 0, peeks = 0, partial_sends = 0, empty_recvs = 0;
    int recv_i = 0;
    long long straddle_send[CAP] = { 0 }, straddle_recv[CAP] = { 0 };

    for (int round = 0; round < ROUNDS; round++) {
        /* send a batch */
        size_t len = (size_t)(next_send - next_recv);
        size_t n = send_sizes[round % 9], room = CAP - len, want = n < room ? n : room;
        int64_t to = want < n ? (partial_sends++ % 100 == 7 ? 50 * LF_US : 0)
                              : (round % 3 == 0 ? 0 : round % 3 == 1 ? KCHAN_FOREVER : 1000 * LF_MS);
        for (size_t i = 0; i < n; i++) buf[i] = next_send + (int64_t)i;
        size_t sent = (size_t)-7;
        int rc = kchan_send_many(c, buf, n, &sent, to);
        cr_assert_eq(sent, want, "round %d: send_many(%zu, %lld ns) with len %zu sent %zu", round, n,
                     (long long)to, len, sent);
        cr_assert_eq(rc, want == n ? KCHAN_OK : to == 0 ? KCHAN_WOULDBLOCK : KCHAN_TIMEDOUT,
                     "round %d: send_many(%zu, %lld ns) with len %zu: %s", round, n, (long long)to, len,
                     kchan_strerror(rc));
        if (rc == KCHAN_WOULDBLOCK) send_wb++;
        if (rc == KCHAN_TIMEDOUT) timedout++;
        size_t at = (size_t)(next_send % CAP);
        if (at + sent > CAP) straddle_send[at]++;
        next_send += (int64_t)sent;
        len = (size_t)(next_send - next_recv);
        cr_assert_eq(kchan_len(c), len, "round %d", round);

        /* receive a batch, every fifth round two: peek first, it must agree with the receive */
        for (int twice = round % 5 == 4 ? 2 : 1; twice > 0; twice--, recv_i++) {
            len = (size_t)(next_send - next_recv);
            int64_t pv = -1;
            int prc = kchan_peek(c, &pv);
            cr_assert_eq(prc, len ? KCHAN_OK : KCHAN_WOULDBLOCK, "round %d: peek with len %zu: %s", round, len,
                         kchan_strerror(prc));
            if (len) {
                cr_assert_eq(pv, next_recv, "round %d: peeked %lld, next is %lld", round, (long long)pv,
                             (long long)next_recv);
                peeks++;
            }
            size_t max = recv_sizes[recv_i % 7], expect = max < len ? max : len;
            to = expect == 0 ? (empty_recvs++ % 100 == 7 ? 50 * LF_US : 0)
                             : (recv_i % 3 == 0 ? KCHAN_FOREVER : recv_i % 3 == 1 ? 1000 * LF_MS : 0);
            for (size_t i = 0; i < 8; i++) buf[i] = -1;
            size_t got = (size_t)-7;
            rc = kchan_recv_many(c, buf, max, &got, to);
            cr_assert_eq(got, expect, "round %d: recv_many(%zu, %lld ns) with len %zu got %zu", round, max,
                         (long long)to, len, got);
            cr_assert_eq(rc, expect ? KCHAN_OK : to == 0 ? KCHAN_WOULDBLOCK : KCHAN_TIMEDOUT,
                         "round %d: recv_many(%zu, %lld ns) with len %zu: %s", round, max, (long long)to, len,
                         kchan_strerror(rc));
            if (rc == KCHAN_WOULDBLOCK) recv_wb++;
            if (rc == KCHAN_TIMEDOUT) timedout++;
            for (size_t i = 0; i < got; i++)
                cr_assert_eq(buf[i], next_recv + (int64_t)i, "round %d: element %zu of %zu is %lld, expected %lld",
                             round, i, got, (long long)buf[i], (long long)(next_recv + (int64_t)i));
            for (size_t i = got; i < 8; i++) cr_assert_eq(buf[i], -1, "round %d: recv_many wrote past got", round);
            at = (size_t)(next_recv % CAP);
            if (at + got > CAP) straddle_recv[at]++;
            next_recv += (int64_t)got;
            cr_assert_eq(kchan_len(c), (size_t)(next_send - next_recv), "round %d", round);
        }
    }
    /* every start index that can straddle the wrap did, both ways */
    for (int i = 1; i < CAP; i++) {
        cr_assert_gt(straddle_send[i], 0, "no send batch straddled the wrap from index %d", i);
        cr_assert_gt(straddle_recv[i], 0, "no receive batch straddled the wrap from index %d", i);
    }

    /* close: sends refused, the rest drains in order across the wrap, then CLOSED */
    size_t left = (size_t)(next_send - next_recv);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    size_t sent = (size_t)-7;
    buf[0] = next_send;
    cr_assert_eq(kchan_send_many(c, buf, 1, &sent, KCHAN_FOREVER), KCHAN_CLOSED);
    cr_assert_eq(sent, 0u);
    while (next_recv < next_send) {
        int64_t pv = -1;
        cr_assert_eq(kchan_peek(c, &pv), KCHAN_OK);
        cr_assert_eq(pv, next_recv);
        size_t got = 0;
        cr_assert_eq(kchan_recv_many(c, buf, 2, &got, KCHAN_FOREVER), KCHAN_OK);
        cr_assert_geq(got, 1u);
        for (size_t i = 0; i < got; i++) cr_assert_eq(buf[i], next_recv + (int64_t)i);
        next_recv += (int64_t)got;
    }
    size_t got = (size_t)-7;
    cr_assert_eq(kchan_recv_many(c, buf, 3, &got, KCHAN_FOREVER), KCHAN_CLOSED);
    cr_assert_eq(got, 0u);
    int64_t pv;
    cr_assert_eq(kchan_peek(c, &pv), KCHAN_CLOSED);

    kchan_stats x = t_stats(c);
    cr_assert_eq(x.sends, (uint64_t)next_send);
    cr_assert_eq(x.recvs, (uint64_t)next_recv);
    cr_assert_eq(x.len, 0u);
    cr_assert_eq(x.max_len, (size_t)CAP);
    cr_assert_eq(x.send_full, (uint64_t)send_wb);
    cr_assert_eq(x.recv_empty, (uint64_t)recv_wb);
    cr_assert_eq(x.timeouts, (uint64_t)timedout);
    cr_assert_eq(x.drops_newest + x.drops_oldest + x.undelivered, 0u);
    long long straddles = 0;
    for (int i = 0; i < CAP; i++) straddles += straddle_send[i] + straddle_recv[i];
    cr_log_info("ring_stress batches cap %d: %d rounds, %lld values through, %zu drained after close, %lld batches "
                "straddled the wrap, %lld peeks, send_full %lld, recv_empty %lld, timeouts %lld", CAP, ROUNDS,
                (long long)next_send, left, straddles, peeks, send_wb, recv_wb, timedout);
    kchan_destroy(c);
}
