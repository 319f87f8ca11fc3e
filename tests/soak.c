/* Soak (`make stress-soak`): many threads doing a random mix of every operation over channels
 * of every kind and policy, in rounds, with random stalls; built under TSan and under ASan.
 *
 * Each round: fresh channels (rendezvous, bounded 1 and 4 block, bounded 3 drop-newest and
 * drop-oldest, unlimited, conflated, and a bounded 2 in caller memory), SOAK_P producers doing
 * send / try_send / send_timeout / send_many / select-send, SOAK_C consumers doing recv /
 * try_recv / recv_timeout / recv_many / select-recv / peek, and a chaos thread that closes,
 * close_with's or cancels a channel now and then and reads stats/dump/len all along. Stalls
 * are sched_yield loops and short nanosleeps (stalls only: nothing here relies on timing for
 * ordering). At the end of the round the main thread closes or cancels every channel and joins
 * every thread within a bound (a thread still blocked after close fails the run).
 *
 * Checks: every element is (producer, channel, seq, tag); per (producer, channel) the accepted
 * sequence numbers are exactly 0..n-1 and each of them is received exactly once or handed to
 * on_undelivered exactly once; each consumer sees each producer's elements on each channel in
 * increasing order; stats: sends == accepted, recvs == received, sends == recvs + drops +
 * undelivered + len, nothing parked; on_undelivered ran drops + undelivered times; close_with's
 * reason sticks; no allocation outlives its channel. Totals are printed at the end.
 *
 * The threads, the op mix and every check above are tests/mpmc_harness.h's (one run a round);
 * this file is the soak's configuration, its chaos thread and its totals.
 *
 * Usage: soak [seconds]   (default: $SOAK_SECONDS, else 60)
 *        soak --messages N [--max-seconds S]   volume mode: rounds until N messages were
 *        accepted (and checked as above), then print the count; fails if S seconds (default 1500)
 *        pass first. Same threads, channels, ops and checks; the mix leans on send_many /
 *        recv_many with batches up to VBATCH and stalls 1 op in 512 instead of 1 in 16, since
 *        what limits the plain mix is syscalls: parks, expiring timeouts, yields and sleeps. */
#include "mpmc_harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOAK_P 4
#define SOAK_C 3
#define NCH 8
#define SEQ_MAX (1u << 17)
#define VBATCH 32
static int volume;             /* --messages: bulk-heavy mix, rare stalls */

#define DIE(...) do { fprintf(stderr, "soak: FAIL: "); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); \
                      fflush(stderr); abort(); } while (0)

typedef struct { uint32_t prod, chan; uint64_t seq, tag; } elem;    /* 24 bytes: the element size */

/* ---- totals ---------------------------------------------------------------------------- */
static const char *const op_names[MH_NSEND + MH_NRECV] = { "send", "send_timeout", "try_send", "send_many",
    "select_send", "recv", "recv_timeout", "try_recv", "recv_many", "peek", "select_recv" };
static long long tot_ops[MH_NSEND + MH_NRECV], tot_timeouts, tot_wouldblocks, tot_closed, tot_moved, tot_stalls;
static long long tot_closes, tot_cancels, tot_rounds, tot_drops, tot_undelivered, tot_sent;

static void add_counts(const mh_thread *t)
{
    for (int i = 0; i < MH_NSEND + MH_NRECV; i++) tot_ops[i] += t->ops[i];
    tot_timeouts += t->timedout; tot_wouldblocks += t->wouldblock; tot_closed += t->closed;
    tot_moved += t->received; tot_stalls += t->stalls;
}

/* ---- the chaos thread: closes, close_with's or cancels a channel now and then, and reads
   stats / dump / len all along ---------------------------------------------------------------- */
typedef struct {
    uint32_t seed;
    long long closes, cancels;
    atomic_int reason_set[NCH], reason[NCH];
} chaos_t;

static void *chaos(void *p)
{
    mh_run *s = p;
    chaos_t *x = s->cfg.side_arg;
    uint32_t rng = x->seed;
    char line[512];
    while (!mh_side_stopped(s) && !mh_failed(s)) {
        int ch = (int)(mh_rand(&rng) % NCH);
        kchan_stats st;
        kchan_stats_get(s->c[ch], &st);
        if (st.len > st.cap && st.cap != KCHAN_UNLIMITED) mh_fail(s, "len %zu above cap %zu", st.len, st.cap);
        if (kchan_dump(s->c[ch], line, sizeof line) <= 0) mh_fail(s, "dump failed");
        uint32_t r = mh_rand(&rng) % 20000;
        if (r == 0) { if (kchan_close(s->c[ch]) == KCHAN_OK) x->closes++; }
        else if (r == 1) {
            int reason = 1000 + ch;
            if (kchan_close_with(s->c[ch], reason) == KCHAN_OK) {
                x->closes++;
                atomic_store(&x->reason[ch], reason);
                atomic_store(&x->reason_set[ch], 1);
            }
        } else if (r == 2) {
            atomic_store(&s->cancelled[ch], 1);
            if (kchan_cancel(s->c[ch]) == KCHAN_OK) x->cancels++;
        }
        (void)mh_do_stall(s, &rng, false);
        sched_yield();
    }
    return NULL;
}

/* close_with's reason sticks */
static void check_reasons(mh_run *s)
{
    chaos_t *x = s->cfg.side_arg;
    for (int i = 0; i < NCH; i++)
        if (atomic_load(&x->reason_set[i]) && kchan_close_reason(s->c[i]) != atomic_load(&x->reason[i]))
            mh_fail(s, "chan %d: close reason %d, first close_with said %d", i, kchan_close_reason(s->c[i]),
                    atomic_load(&x->reason[i]));
}

/* ---- one round ------------------------------------------------------------------------------ */
static _Alignas(64) unsigned char mem[KCHAN_FOOTPRINT(sizeof(elem), 2)];

static void run_round(uint32_t seed, int round, int64_t ms)
{
    static chaos_t x;
    memset(&x, 0, sizeof x);
    x.seed = seed ^ 0xC4A05u;
    mh_config cfg = {
        .name = "soak", .np = SOAK_P, .nc = SOAK_C, .nch = NCH, .esz = sizeof(elem),
        .cap = { KCHAN_RENDEZVOUS, 1, 4, 3, 3, KCHAN_UNLIMITED, KCHAN_CONFLATED, 2 },
        .overflow = { KCHAN_BLOCK, KCHAN_BLOCK, KCHAN_BLOCK, KCHAN_DROP_NEWEST, KCHAN_DROP_OLDEST, KCHAN_BLOCK,
                      KCHAN_BLOCK, KCHAN_BLOCK },
        .mem = mem, .mem_size = sizeof mem, .per = SEQ_MAX,
        /* volume: more send_many / recv_many; send, try_send, recv, try_recv kept */
        .send_mix = { [MH_SELECT_SEND] = 3, [MH_SEND_MANY] = volume ? 5 : 2, [MH_SEND] = 1,
                      [MH_TRY_SEND] = volume ? 1 : 4, [MH_SEND_TIMEOUT] = 6 },
        .recv_mix = { [MH_SELECT_RECV] = 3, [MH_RECV_MANY] = volume ? 5 : 2, [MH_PEEK] = 1, [MH_RECV] = 1,
                      [MH_TRY_RECV] = volume ? 1 : 4, [MH_RECV_TIMEOUT] = 5 },
        .send_batch = volume ? VBATCH : 8, .recv_batch = volume ? VBATCH : 8,
        .timeouts = volume ? MH_TO_SOAK_VOLUME : MH_TO_SOAK, .stall = volume ? MH_STALL_SLEEP_RARE : MH_STALL_SLEEP,
        .check_leaks = true, .end = MH_END_TIMED, .end_ms = ms, .end_op = MH_CLOSE_OR_CANCEL,
        .join_bound_ns = 30 * INT64_C(1000000000), .side = chaos, .side_arg = &x, .before_destroy = check_reasons,
        .seed = seed,
    };
    mh_run *s = mh_run_once(&cfg, round);
    if (atomic_load(&s->errors)) DIE("round %d (seed %u): %s", round, seed, s->first_error);
    for (int i = 0; i < SOAK_P; i++) add_counts(&s->prod[i]);
    for (int i = 0; i < SOAK_C; i++) add_counts(&s->cons[i]);
    for (int i = 0; i < NCH; i++) {
        tot_drops += (long long)(s->st[i].drops_newest + s->st[i].drops_oldest);
        tot_undelivered += (long long)s->st[i].undelivered;
    }
    tot_closes += x.closes;
    tot_cancels += x.cancels;
    tot_sent += s->total;
    tot_rounds++;
    mh_free(s);
}

int main(int argc, char **argv)
{
    double secs = 60;
    long long target = 0;
    const char *env = getenv("SOAK_SECONDS");
    if (argc > 2 && strcmp(argv[1], "--messages") == 0) {
        target = atoll(argv[2]);
        secs = argc > 4 && strcmp(argv[3], "--max-seconds") == 0 ? atof(argv[4]) : 1500;
        volume = 1;
        if (target <= 0 || secs <= 0) DIE("usage: soak --messages N [--max-seconds S]");
    } else if (argc > 1) secs = atof(argv[1]);
    else if (env) secs = atof(env);
    uint32_t seed = (uint32_t)kchan_now_ns() | 1;
    if (getenv("SOAK_SEED")) seed = (uint32_t)strtoull(getenv("SOAK_SEED"), NULL, 0) | 1;
    if (target) printf("soak: volume mode, target %lld messages, at most %.0f s\n", target, secs);
    printf("soak: %.0f s, %d producers, %d consumers, 1 chaos thread, %d channels per round, seed %u\n",
           secs, SOAK_P, SOAK_C, NCH, seed);
    fflush(stdout);
    int64_t start = kchan_now_ns(), end = start + (int64_t)(secs * 1e9);
    int round = 0;
    do {
        uint32_t r = mh_rand(&seed);
        run_round(seed, round++, 100 + (int64_t)(r % 700));
    } while (kchan_now_ns() < end && (!target || tot_sent < target));
    printf("soak: %lld rounds, %lld messages accepted, %lld received, %lld dropped, %lld undelivered "
           "(cancel/destroy), %lld closes, %lld cancels by the chaos thread\n",
           tot_rounds, tot_sent, tot_moved, tot_drops, tot_undelivered, tot_closes, tot_cancels);
    printf("soak: ops:");
    long long all = 0;
    for (int i = 0; i < MH_NSEND + MH_NRECV; i++) { printf(" %s=%lld", op_names[i], tot_ops[i]); all += tot_ops[i]; }
    printf("\nsoak: %lld ops, %lld timeouts, %lld wouldblock, %lld saw closed, %lld stalls: all checks passed\n",
           all, tot_timeouts, tot_wouldblocks, tot_closed, tot_stalls);
    if (target) {
        double el = (double)(kchan_now_ns() - start) / 1e9;
        printf("soak: VOLUME %lld messages accepted and checked (target %lld) in %.0f s, %.0f per s: %s\n",
               tot_sent, target, el, (double)tot_sent / el, tot_sent >= target ? "target reached" : "TARGET MISSED");
        if (tot_sent < target) return 1;
    }
    return 0;
}
