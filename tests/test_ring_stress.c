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
#include "mpmc_harness.h"
#include <stdint.h>
#include <stdlib.h>

#define LF_US MH_US
#define LF_MS MH_MS

enum { MODE_CLOSE, MODE_DROP, MODE_CANCEL };
static const char *const lf_mode_name[] = { "close", "drop_newest", "cancel" };

/* Producers' values per capacity and round: 4 * LF_PER planned, about half accepted. */
#define LF_PER 4000
/* KCHAN_STRESS: 10x the rounds per capacity, within a wall-clock budget per capacity (3
   capacities must stay well inside T_TIMEOUT). */
#define LF_STRESS_ROUNDS 10
#define LF_STRESS_BUDGET_NS (4000 * LF_MS)

/* One run: 4 x 4 on a ring of `cap`, every op but select, batches of 1..17, short timeouts,
   random stalls; main closes (cancels) at half the plan. The harness checks the rest. */
static void lf_run(int mode, size_t cap, int64_t per, int round)
{
    uint32_t parts[2] = { (uint32_t)mode, (uint32_t)cap };
    mh_config cfg = {
        .name = "ring_stress", .np = 4, .nc = 4, .nch = 1, .esz = sizeof(mh_elem), .cap = { cap },
        .overflow = { mode == MODE_DROP ? KCHAN_DROP_NEWEST : KCHAN_BLOCK }, .per = per,
        .send_mix = { [MH_SEND] = 2, [MH_SEND_TIMEOUT] = 2, [MH_TRY_SEND] = 2, [MH_SEND_MANY] = 2 },
        .recv_mix = { [MH_RECV] = 4, [MH_RECV_TIMEOUT] = 4, [MH_TRY_RECV] = 3, [MH_PEEK] = 1, [MH_RECV_MANY] = 4 },
        .send_batch = 17, .recv_batch = 17, .timeouts = MH_TO_SHORT, .stall = MH_STALL_SPIN,
        .slow_producers = mode == MODE_DROP, .slow_consumers = mode == MODE_CANCEL,
        .sends_never_wait = mode == MODE_DROP, .exact_counters = true, .end = MH_END_AT_ACCEPTED,
        .end_share = 0.5, .end_op = mode == MODE_CANCEL ? MH_CANCEL : MH_CLOSE,
        .seed = mh_seed_from(0x9e3779b9u, parts, 2),
    };
    mh_run *s = mh_run_once(&cfg, round);
    cr_assert_eq(atomic_load(&s->errors), 0, "%s cap %zu round %d: %d errors, first: %s", lf_mode_name[mode], cap,
                 round, atomic_load(&s->errors), s->first_error);
    cr_log_info("ring_stress %s cap %zu round %d: %lld of %lld accepted (%lld at close), received %lld, "
                "handed back %lld, timeouts %lld, send_full %lld, recv_empty %lld, peeks %lld, max_len %zu, "
                "%.0f ms", lf_mode_name[mode], cap, round, s->total, (long long)(4 * per), (long long)s->at_end,
                s->received_total, s->cb_total, s->timedout, s->send_wb, s->recv_wb, s->peeks, s->st[0].max_len,
                s->elapsed_ns / 1e6);
    mh_free(s);
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
