/* MPMC stress (bounded in time): 4 producers x 4 consumers over bounded 1,
   bounded 64, rendezvous and unlimited channels. Values encode (producer, seq):
   every value sent is received exactly once (a count per value), and each
   consumer sees each producer's values in increasing order. Variants: close in
   the middle (producers stop on KCHAN_CLOSED, conservation still exact) and
   send_many/recv_many batches. The *_long soaks run the same with up to 100x the
   counts (time-budgeted) and return at once unless KCHAN_STRESS is set (`make stress`). */
#include "common.h"
#include <stdint.h>
#include <stdlib.h>

#define MS (INT64_C(1000000))

enum { SP = 4, SC = 4 };

typedef struct {
    kchan_t *c;
    int64_t per;               /* values per producer */
    int many;                  /* batches through send_many / recv_many */
    int close_mid;             /* main closes once a third has been received */
    _Atomic unsigned char *got;/* [SP * per]: times each value was received */
    atomic_llong sent[SP];     /* values producer p sent OK: always a prefix 0..sent-1 */
    atomic_llong recvd;
    atomic_int errors, order_errors, bad_values;
    kchan_counter received;
} ss_state;
typedef struct { ss_state *s; int id; } ss_arg;

static uint32_t ss_rand(uint32_t *x)
{
    *x ^= *x << 13; *x ^= *x >> 17; *x ^= *x << 5;
    return *x;
}

static void *ss_producer(void *p)
{
    ss_arg *a = p;
    ss_state *s = a->s;
    uint32_t rng = 0x2545f491u * (uint32_t)(a->id + 1);
    int64_t seq = 0;
    int64_t batch[16];
    while (seq < s->per) {
        int rc;
        if (s->many) {
            size_t n = 1 + ss_rand(&rng) % 16, sent = 0;
            if ((int64_t)n > s->per - seq) n = (size_t)(s->per - seq);
            for (size_t i = 0; i < n; i++) batch[i] = ((int64_t)a->id << 32) | (seq + (int64_t)i);
            rc = kchan_send_many(s->c, batch, n, &sent, KCHAN_FOREVER);
            if (sent > n || (rc == KCHAN_OK && sent != n)) atomic_fetch_add(&s->errors, 1);
            seq += (int64_t)sent;
        } else {
            int64_t v = ((int64_t)a->id << 32) | seq;
            rc = kchan_send(s->c, &v);
            if (rc == KCHAN_OK) seq++;
        }
        if (rc == KCHAN_CLOSED && s->close_mid) break;
        if (rc != KCHAN_OK) { atomic_fetch_add(&s->errors, 1); break; }
    }
    atomic_store(&s->sent[a->id], seq);
    return NULL;
}

static void *ss_consumer(void *p)
{
    ss_arg *a = p;
    ss_state *s = a->s;
    uint32_t rng = 0x68e31da4u * (uint32_t)(a->id + 1);
    int64_t last[SP];
    for (int i = 0; i < SP; i++) last[i] = -1;
    int64_t buf[16];
    for (;;) {
        size_t got = 0;
        int rc;
        if (s->many) {
            rc = kchan_recv_many(s->c, buf, 1 + ss_rand(&rng) % 16, &got, KCHAN_FOREVER);
            if (rc == KCHAN_OK && got == 0) atomic_fetch_add(&s->errors, 1);
        } else {
            rc = kchan_recv(s->c, &buf[0]);
            got = rc == KCHAN_OK;
        }
        if (rc == KCHAN_CLOSED) { if (got) atomic_fetch_add(&s->errors, 1); break; }
        if (rc != KCHAN_OK) { atomic_fetch_add(&s->errors, 1); break; }
        for (size_t i = 0; i < got; i++) {
            int64_t prod = buf[i] >> 32, seq = buf[i] & 0xffffffff;
            if (prod < 0 || prod >= SP || seq >= s->per) { atomic_fetch_add(&s->bad_values, 1); continue; }
            if (seq <= last[prod]) atomic_fetch_add(&s->order_errors, 1);
            last[prod] = seq;
            atomic_fetch_add_explicit(&s->got[prod * s->per + seq], 1, memory_order_relaxed);
        }
        atomic_fetch_add(&s->recvd, (long long)got);
        (void)kchan_counter_add(&s->received, (int64_t)got);
    }
    return NULL;
}

static const char *kind_name(size_t cap)
{
    return cap == KCHAN_RENDEZVOUS ? "rendezvous" : cap == KCHAN_UNLIMITED ? "unlimited"
         : cap == 1 ? "bounded 1" : "bounded 64";
}

static void ss_run(size_t cap, int64_t per, int many, int close_mid)
{
    ss_state *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    s->per = per;
    s->many = many;
    s->close_mid = close_mid;
    s->got = calloc((size_t)(SP * per), 1);
    cr_assert_not_null(s->got);
    kchan_counter_init(&s->received, 0);
    kchan_opts o = { .capacity = cap };
    cr_assert_eq(kchan_create(&s->c, sizeof(int64_t), &o), KCHAN_OK);

    int64_t t0 = kchan_now_ns();
    ss_arg pa[SP], ca[SC];
    pthread_t pt[SP], ct[SC];
    for (int i = 0; i < SC; i++) { ca[i] = (ss_arg){ s, i }; ct[i] = t_spawn(ss_consumer, &ca[i]); }
    for (int i = 0; i < SP; i++) { pa[i] = (ss_arg){ s, i }; pt[i] = t_spawn(ss_producer, &pa[i]); }
    if (close_mid) {
        cr_assert_eq(kchan_counter_wait_ge(&s->received, SP * per / 3, 60000 * MS), KCHAN_OK);
        cr_assert_eq(kchan_close(s->c), KCHAN_OK);
    }
    for (int i = 0; i < SP; i++) t_join(pt[i]);
    if (!close_mid) cr_assert_eq(kchan_close(s->c), KCHAN_OK);
    for (int i = 0; i < SC; i++) t_join(ct[i]);
    int64_t el = kchan_now_ns() - t0;

    cr_assert_eq(atomic_load(&s->errors), 0);
    cr_assert_eq(atomic_load(&s->bad_values), 0, "received a value never sent");
    cr_assert_eq(atomic_load(&s->order_errors), 0, "a consumer saw a producer's values out of order");
    long long total = 0, wrong = 0, first_p = -1, first_q = -1;
    for (int p = 0; p < SP; p++) {
        long long k = atomic_load(&s->sent[p]);
        if (!close_mid) cr_assert_eq(k, per, "producer %d sent only %lld", p, k);
        total += k;
        for (int64_t q = 0; q < per; q++) {
            int g = atomic_load_explicit(&s->got[p * per + q], memory_order_relaxed);
            if (g != (q < k ? 1 : 0) && wrong++ == 0) { first_p = p; first_q = q; }
        }
    }
    cr_assert_eq(wrong, 0, "%lld values not received exactly once (sent) or at all (not sent); "
                 "first: producer %lld seq %lld", wrong, first_p, first_q);
    cr_assert_eq(atomic_load(&s->recvd), total);
    kchan_stats x;
    kchan_stats_get(s->c, &x);
    cr_assert_eq(x.sends, (uint64_t)total);
    cr_assert_eq(x.recvs, (uint64_t)total);
    cr_assert_eq(x.len, 0);
    cr_assert_eq(x.waiting_senders + x.waiting_receivers, 0);
    cr_assert(x.closed);
    if (cap != KCHAN_UNLIMITED) cr_assert_leq(x.max_len, kchan_cap(s->c));
    cr_log_info("stress %s%s%s: %lld values (of %lld) in %.0f ms, blocked sends %llu recvs %llu",
                kind_name(cap), many ? " many" : "", close_mid ? " close-mid" : "", total,
                (long long)(SP * per), el / 1e6, (unsigned long long)x.blocked_sends,
                (unsigned long long)x.blocked_recvs);
    kchan_destroy(s->c);
    free(s->got);
    free(s);
}

static int stress_enabled(void) { return getenv("KCHAN_STRESS") != NULL; }

/* Not cr_skip_test: with it in a multi-test run, Criterion 2.4.1's runner was seen
   to leak 48 bytes, failing the ASan run's leak check; the soaks return early (and
   say so) instead. */
static void soak_off(void) { cr_log_info("soak not run: set KCHAN_STRESS (make stress)"); }

/* per-producer counts for the regular runs (kept ~1 s under TSan on 2 cores) */
enum { N_BOUNDED1 = 8000, N_BOUNDED64 = 20000, N_RENDEZVOUS = 6000, N_UNLIMITED = 20000 };
static const struct { size_t cap; int64_t n; } kinds[] = {
    { 1, N_BOUNDED1 }, { 64, N_BOUNDED64 }, { KCHAN_RENDEZVOUS, N_RENDEZVOUS },
    { KCHAN_UNLIMITED, N_UNLIMITED },
};

Test(stress, mpmc_bounded1, .timeout = T_TIMEOUT) { ss_run(1, N_BOUNDED1, 0, 0); }
Test(stress, mpmc_bounded64, .timeout = T_TIMEOUT) { ss_run(64, N_BOUNDED64, 0, 0); }
Test(stress, mpmc_rendezvous, .timeout = T_TIMEOUT) { ss_run(KCHAN_RENDEZVOUS, N_RENDEZVOUS, 0, 0); }
Test(stress, mpmc_unlimited, .timeout = T_TIMEOUT) { ss_run(KCHAN_UNLIMITED, N_UNLIMITED, 0, 0); }

Test(stress, close_in_the_middle, .timeout = T_TIMEOUT)
{
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) ss_run(kinds[k].cap, kinds[k].n, 0, 1);
}

Test(stress, many_bounded1, .timeout = T_TIMEOUT) { ss_run(1, N_BOUNDED1, 1, 0); }
Test(stress, many_bounded64, .timeout = T_TIMEOUT) { ss_run(64, N_BOUNDED64, 1, 0); }
Test(stress, many_rendezvous, .timeout = T_TIMEOUT) { ss_run(KCHAN_RENDEZVOUS, N_RENDEZVOUS, 1, 0); }
Test(stress, many_unlimited, .timeout = T_TIMEOUT) { ss_run(KCHAN_UNLIMITED, N_UNLIMITED, 1, 0); }

Test(stress, many_close_in_the_middle, .timeout = T_TIMEOUT)
{
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) ss_run(kinds[k].cap, kinds[k].n, 1, 1);
}

/* ---- soaks: `make stress` (KCHAN_STRESS=1), up to 100x the counts ----------------
   Each soak runs up to 50 rounds of 2x the counts per channel kind (100x in all),
   stopping early when the next round would pass a wall-clock budget per kind, so the
   test stays under T_TIMEOUT: a larger per-test .timeout (e.g. 600) makes Criterion
   2.4.1's runner leak 48 bytes under --jobs=2, which fails the ASan run's leak check. */
#define SOAK_BUDGET_NS (3500 * MS)

static void soak(int many, int close_mid)
{
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        int64_t t0 = kchan_now_ns(), last = 0;
        int rounds = 0;
        while (rounds < 50 && kchan_now_ns() - t0 + last < SOAK_BUDGET_NS) {
            int64_t r0 = kchan_now_ns();
            ss_run(kinds[k].cap, kinds[k].n * 2, many, close_mid);
            last = kchan_now_ns() - r0;
            rounds++;
        }
        cr_log_info("soak %s%s%s: %d of 50 rounds of 2x the counts", kind_name(kinds[k].cap),
                    many ? " many" : "", close_mid ? " close-mid" : "", rounds);
    }
}

Test(stress, mpmc_long, .timeout = T_TIMEOUT)
{
    if (!stress_enabled()) { soak_off(); return; }
    soak(0, 0);
}

Test(stress, close_in_the_middle_long, .timeout = T_TIMEOUT)
{
    if (!stress_enabled()) { soak_off(); return; }
    soak(0, 1);
}

Test(stress, many_long, .timeout = T_TIMEOUT)
{
    if (!stress_enabled()) { soak_off(); return; }
    soak(1, 0);
}

Test(stress, many_close_in_the_middle_long, .timeout = T_TIMEOUT)
{
    if (!stress_enabled()) { soak_off(); return; }
    soak(1, 1);
}
