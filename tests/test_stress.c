/* MPMC stress (bounded in time): 4 producers x 4 consumers over bounded 1,
   bounded 64, rendezvous and unlimited channels. Values encode (producer, seq):
   every value sent is received exactly once (a count per value), and each
   consumer sees each producer's values in increasing order. Variants: close in
   the middle (producers stop on KCHAN_CLOSED, conservation still exact) and
   send_many/recv_many batches. The *_long soaks run the same with up to 100x the
   counts (time-budgeted) and return at once unless KCHAN_STRESS is set (`make stress`). */
#include "common.h"
#include "mpmc_harness.h"
#include <stdint.h>
#include <stdlib.h>

static const char *kind_name(size_t cap)
{
    return cap == KCHAN_RENDEZVOUS ? "rendezvous" : cap == KCHAN_UNLIMITED ? "unlimited"
         : cap == 1 ? "bounded 1" : "bounded 64";
}

/* A 4 x 4 run on one channel of 8-byte values: blocking send / recv, or send_many /
   recv_many batches of 1..16 (timeouts forever); close_mid: main closes once a third
   was received, producers stop on KCHAN_CLOSED. The harness checks the rest. */
static void ss_run(size_t cap, int64_t per, int many, int close_mid)
{
    mh_config cfg = {
        .name = "stress", .np = 4, .nc = 4, .nch = 1, .esz = sizeof(int64_t), .cap = { cap },
        .per = per, .send_batch = 16, .recv_batch = 16, .timeouts = MH_TO_FOREVER, .stall = MH_STALL_NONE,
        .exact_counters = true, .end = close_mid ? MH_END_AT_RECEIVED : MH_END_AFTER_PRODUCERS,
        .end_op = MH_CLOSE, .end_share = 1.0 / 3, .seed = 0x2545f491u,
    };
    cfg.send_mix[many ? MH_SEND_MANY : MH_SEND] = 1;
    cfg.recv_mix[many ? MH_RECV_MANY : MH_RECV] = 1;
    mh_run *s = mh_run_once(&cfg, 0);
    cr_assert_eq(atomic_load(&s->errors), 0, "%s %s%s: %s", cfg.name, kind_name(cap), many ? " many" : "",
                 s->first_error);
    cr_log_info("stress %s%s%s: %lld values (of %lld) in %.0f ms, blocked sends %llu recvs %llu",
                kind_name(cap), many ? " many" : "", close_mid ? " close-mid" : "", s->total,
                (long long)(4 * per), s->elapsed_ns / 1e6, (unsigned long long)s->st[0].blocked_sends,
                (unsigned long long)s->st[0].blocked_recvs);
    mh_free(s);
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
#define SOAK_BUDGET_NS (3500 * MH_MS)

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
