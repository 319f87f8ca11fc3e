/* Timer channels (issue 19; kchan.h section timer): kchan_after, kchan_tick, kchan_never and
   their _in forms. What each delivers and when (the scheduled instant, never early, then
   nothing), the tick grid with the latest due instant and the skipped ticks as drops_oldest,
   never, sends refused, every receive op, stats/len/dump, close, cancel, select (sleeping,
   not polling; timeouts; with data channels of the engine under test; NULL cases), a select
   over a tick and a data channel that keeps both moving, 1,000 afters in selects with no
   thread created, accuracy, and the _in forms allocating nothing. Every test is short (the
   suite runs 12 times in make test): waits are a few milliseconds; where a test sleeps, the
   sleep is the thing measured (a slow receiver), never a proof of ordering. */
#include "common.h"
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#define MS (INT64_C(1000000))
#define US (INT64_C(1000))

KCHAN_DEFINE_TIMER(ttm);

/* ---- helpers ------------------------------------------------------------------- */

static int64_t now(void) { return kchan_now_ns(); }

static void sleep_ns(int64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    cr_assert_eq(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts), 0);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Voluntary context switches of this thread: a wait that sleeps until its deadline costs
   one or two; a wait that polls costs one per poll. */
static long thread_vcsw(void)
{
    struct rusage ru;
    cr_assert_eq(getrusage(RUSAGE_THREAD, &ru), 0);
    return ru.ru_nvcsw;
}

/* Threads of this process: the entries of /proc/self/task. */
static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* The thread count once the kernel has reaped the threads just joined: a joined thread
   (its tid cleared at exit) can stay in /proc/self/task a moment longer. Waits up to
   max_ms for the count to come down to `want` (threads only leave here), then returns it. */
static int count_threads_down_to(int want, int max_ms)
{
    int n = count_threads();
    for (int i = 0; i < max_ms && n > want; i++) {
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
        n = count_threads();
    }
    return n;
}

/* A timer channel's invariants: cap 1, len 0 or 1, no drop at send, and conservation
   (sends == recvs + drops_oldest + undelivered + len). */
static kchan_stats check_timer_stats(const kchan_t *c, const char *what)
{
    kchan_stats s = t_stats(c);
    cr_assert_eq(s.version, KCHAN_STATS_VERSION, "%s", what);
    cr_assert_eq(s.cap, 1, "%s: cap %zu", what, s.cap);
    cr_assert_leq(s.len, 1, "%s: len %zu", what, s.len);
    cr_assert_leq(s.max_len, 1, "%s: max_len %zu", what, s.max_len);
    cr_assert_eq(s.drops_newest, 0, "%s", what);
    cr_assert_eq(s.send_full, 0, "%s", what);
    cr_assert_eq(s.blocked_sends, 0, "%s", what);
    cr_assert_eq(s.sends, s.recvs + s.drops_oldest + s.undelivered + s.len,
                 "%s: conservation: sends %" PRIu64 " recvs %" PRIu64 " drops_oldest %" PRIu64
                 " undelivered %" PRIu64 " len %zu", what, s.sends, s.recvs, s.drops_oldest,
                 s.undelivered, s.len);
    return s;
}

static kchan_case rcase(kchan_t *c, void *p) { kchan_case k = { c, KCHAN_OP_RECV, p, -99 }; return k; }
static kchan_case scase(kchan_t *c, const void *p)
{
    kchan_case k = { c, KCHAN_OP_SEND, (void *)(uintptr_t)p, -99 };
    return k;
}

static kchan_t *mk_data(size_t cap)
{
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = cap };
    cr_assert_eq(kchan_create(&c, sizeof(int), &o), KCHAN_OK);
    cr_assert_not_null(c);
    return c;
}

/* Waits (bounded, yielding) until c shows a parked receiver; returns whether it did. */
static bool wait_parked(const kchan_t *c, int64_t max_ns)
{
    int64_t end = now() + max_ns;
    while (now() < end) {
        if (t_stats(c).waiting_receivers >= 1) return true;
        sched_yield();
    }
    return false;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- after ------------------------------------------------------------------------ */

Test(timer, after_delivers_the_scheduled_instant_once, .timeout = T_TIMEOUT)
{
    const int64_t d = 20 * MS;
    int64_t before = now();
    kchan_t *c = kchan_after(d);
    int64_t after = now();
    cr_assert_not_null(c);
    int64_t v = -1;
    int r = kchan_try_recv(c, &v);
    int64_t tried = now();
    bool early_try = tried < before + d;       /* the try certainly ran before the instant */
    if (early_try) {
        cr_assert_eq(r, KCHAN_WOULDBLOCK, "try_recv before the instant: %d", r);
        cr_assert_eq(v, -1, "a failed try_recv wrote its out");
        cr_assert_eq(kchan_len(c), 0);
    }
    cr_assert(r == KCHAN_OK || r == KCHAN_WOULDBLOCK, "try_recv: %d", r);
    int64_t pre_recv = now();
    if (r != KCHAN_OK) cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);  /* else: the machine stalled */
    int64_t got_at = now();
    cr_assert_geq(v, before + d, "value %" PRId64 " before the instant (%" PRId64 ")", v, before + d);
    cr_assert_leq(v, after + d, "value %" PRId64 " after the latest possible instant %" PRId64, v, after + d);
    cr_assert_geq(got_at, v, "delivered early: at %" PRId64 ", instant %" PRId64, got_at, v);
    /* then nothing, ever, and the timer is not closed */
    int64_t w = -7;
    cr_assert_eq(kchan_try_recv(c, &w), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_recv_timeout(c, &w, 2 * MS), KCHAN_TIMEDOUT);
    cr_assert_eq(kchan_try_recv(c, &w), KCHAN_WOULDBLOCK);
    cr_assert_eq(w, -7);
    cr_assert_not(kchan_is_closed(c));
    kchan_stats s = check_timer_stats(c, "after");
    cr_assert_eq(s.sends, 1);
    cr_assert_eq(s.recvs, 1);
    cr_assert_eq(s.len, 0);
    cr_assert_eq(s.drops_oldest, 0);
    cr_assert_eq(s.undelivered, 0);
    cr_assert_eq(s.timeouts, 1, "the recv_timeout that expired");
    cr_assert_eq(s.recv_empty, r == KCHAN_WOULDBLOCK ? 3 : 2, "recv_empty counts the try_recv WOULDBLOCKs");
    if (r != KCHAN_OK && pre_recv < before + d)   /* the recv had to wait, and the recv_timeout */
        cr_assert_eq(s.blocked_recvs, 2, "blocked_recvs %" PRIu64, s.blocked_recvs);
    cr_assert_eq(s.waiting_receivers, 0);
    cr_assert_not(s.closed);
    kchan_destroy(c);
}

Test(timer, after_zero_is_ready_at_once, .timeout = T_TIMEOUT)
{
    int64_t before = now();
    kchan_t *c = kchan_after(0);
    int64_t after = now();
    cr_assert_not_null(c);
    cr_assert_eq(kchan_len(c), 1, "due at once");
    int64_t v = -1;
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK);
    cr_assert_geq(v, before);
    cr_assert_leq(v, after);
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_len(c), 0);
    kchan_stats s = check_timer_stats(c, "after(0)");
    cr_assert_eq(s.sends, 1);
    cr_assert_eq(s.recvs, 1);
    cr_assert_eq(s.blocked_recvs, 0);
    cr_assert_eq(s.recv_empty, 1);
    kchan_destroy(c);
}

static void after_negative_delay_is_null(void)
{
    int64_t blocks0 = test_alloc_live_blocks();
    cr_assert_null(kchan_after(-1));
    cr_assert_null(kchan_after(KCHAN_FOREVER));
    cr_assert_null(kchan_after(INT64_MIN));
    cr_assert_eq(test_alloc_live_blocks(), blocks0, "a refused create leaked");
}

Test(timer, after_overflowing_instant_never_fires, .timeout = T_TIMEOUT)
{
    kchan_t *a = kchan_after(INT64_MAX);
    cr_assert_not_null(a);
    kchan_t *b = kchan_after(INT64_MAX - now() + 1000 * MS);
    cr_assert_not_null(b);
    kchan_t *ts[2] = { a, b };
    for (int i = 0; i < 2; i++) {
        int64_t v = -1;
        cr_assert_eq(kchan_try_recv(ts[i], &v), KCHAN_WOULDBLOCK, "timer %d", i);
        cr_assert_eq(kchan_peek(ts[i], &v), KCHAN_WOULDBLOCK, "timer %d", i);
        cr_assert_eq(kchan_recv_timeout(ts[i], &v, 3 * MS), KCHAN_TIMEDOUT, "timer %d", i);
        cr_assert_eq(v, -1);
        cr_assert_eq(kchan_len(ts[i]), 0);
        kchan_stats s = check_timer_stats(ts[i], "overflowing after");
        cr_assert_eq(s.sends, 0);
        cr_assert_eq(s.timeouts, 1);
    }
    /* in a select too: the timeout wins */
    int64_t va = -1, vb = -1;
    kchan_case cs[2] = { rcase(a, &va), rcase(b, &vb) };
    cr_assert_eq(kchan_select(cs, 2, 2 * MS), KCHAN_TIMEDOUT);
    kchan_destroy(a);
    kchan_destroy(b);
}

/* ---- tick ------------------------------------------------------------------------- */

Test(timer, tick_instants_lie_on_a_fixed_grid, .timeout = T_TIMEOUT)
{
    const int64_t p = 2 * MS;
    int64_t before = now();
    kchan_t *c = kchan_tick(p);
    int64_t after = now();
    cr_assert_not_null(c);
    int64_t first = -1, prev = -1;
    for (int i = 0; i < 6; i++) {
        int64_t v = -1;
        cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
        int64_t at = now();
        cr_assert_geq(at, v, "tick %d delivered early", i);
        if (i == 0) {
            first = v;
            cr_assert_geq(v, before + p, "first tick before t0 + period");
        } else {
            cr_assert_gt(v, prev, "tick %d: %" PRId64 " not after %" PRId64, i, v, prev);
            cr_assert_eq((v - first) % p, 0, "tick %d off the grid by %" PRId64, i, (v - first) % p);
        }
        prev = v;
    }
    /* the grid is t0 + k * period with t0 in [before, after] */
    int64_t off = (first - before) % p;
    cr_assert_leq(off, after - before, "the first tick is not t0 + k*period for t0 in [before, after]");
    check_timer_stats(c, "tick after recvs");
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    kchan_stats s = check_timer_stats(c, "closed tick");
    cr_assert_geq(s.recvs, 6);
    kchan_destroy(c);
}

static void tick_nonpositive_period_is_null(void)
{
    int64_t blocks0 = test_alloc_live_blocks();
    cr_assert_null(kchan_tick(0));
    cr_assert_null(kchan_tick(-1));
    cr_assert_null(kchan_tick(INT64_MIN));
    cr_assert_eq(test_alloc_live_blocks(), blocks0, "a refused create leaked");
}

Test(timer, bad_delay_or_period_is_null, .timeout = T_TIMEOUT)
{
    after_negative_delay_is_null();
    tick_nonpositive_period_is_null();
}

Test(timer, tick_slow_receiver_gets_no_backlog, .timeout = T_TIMEOUT)
{
    const int64_t p = 5 * MS;
    kchan_t *c = kchan_tick(p);
    cr_assert_not_null(c);
    sleep_ns(10 * p);                 /* the slow receiver: the thing under test */
    int64_t woke = now();
    int64_t v = -1, w = -1;
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK);
    int r = kchan_try_recv(c, &w);
    int64_t t2 = now();
    cr_assert_geq(v, woke - p, "not the latest due tick: %" PRId64 " < %" PRId64, v, woke - p);
    cr_assert_leq(v, t2);
    if (t2 < v + p)
        cr_assert_eq(r, KCHAN_WOULDBLOCK, "a backlog: a second tick right after the first");
    else if (r == KCHAN_OK)
        cr_assert_geq(w, v + p);
    kchan_stats s = check_timer_stats(c, "slow receiver");
    cr_assert_geq(s.drops_oldest, 8, "10 periods asleep skip >= 8 ticks, drops_oldest %" PRIu64,
                  s.drops_oldest);
    cr_assert_geq(s.sends, 10);
    kchan_destroy(c);
}

Test(timer, tick_missed_ticks_are_drops_oldest, .timeout = T_TIMEOUT)
{
    const int64_t p = 1 * MS;
    kchan_t *c = kchan_tick(p);
    cr_assert_not_null(c);
    int64_t v1 = -1, v2 = -1;
    cr_assert_eq(kchan_recv(c, &v1), KCHAN_OK);
    uint64_t d0 = t_stats(c).drops_oldest;
    int64_t n0 = now();
    sleep_ns(10 * MS);                /* the slow receiver: the thing under test */
    cr_assert_eq(kchan_recv(c, &v2), KCHAN_OK);
    uint64_t d1 = t_stats(c).drops_oldest;
    int64_t n1 = now();
    cr_assert_eq((v2 - v1) % p, 0);
    int64_t expect = (v2 - v1) / p - 1;
    cr_assert_geq(expect, 8, "v2 - v1 = %" PRId64 " ns after a 10 ms sleep", v2 - v1);
    /* ticks that came due between a receive and the stats read just after it may already
       be counted (a second one supersedes the first): the slack each side, usually 0 */
    int64_t slack0 = (n0 - v1) / p - 1, slack1 = (n1 - v2) / p - 1;
    if (slack0 < 0) slack0 = 0;
    if (slack1 < 0) slack1 = 0;
    int64_t got = (int64_t)(d1 - d0);
    cr_assert(got >= expect - slack0 && got <= expect + slack1,
              "drops_oldest grew by %" PRId64 ", the instants say %" PRId64 " (slack -%" PRId64
              " +%" PRId64 ")", got, expect, slack0, slack1);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    check_timer_stats(c, "closed tick");
    kchan_destroy(c);
}

Test(timer, tick_unreceived_then_superseded_counts_as_drop, .timeout = T_TIMEOUT)
{
    const int64_t p = 2 * MS;
    int64_t before = now();
    kchan_t *c = kchan_tick(p);
    cr_assert_not_null(c);
    sleep_ns(7 * MS);                 /* nobody receives: ticks at 2, 4, 6 ms come due */
    int64_t n = now();
    kchan_stats s = check_timer_stats(c, "unreceived ticks");
    cr_assert_eq(s.recvs, 0);
    cr_assert_eq(s.len, 1, "the latest due tick waits");
    cr_assert_geq(s.sends, 3, "sends %" PRIu64, s.sends);
    cr_assert_leq((int64_t)s.sends, (now() - before) / p);
    cr_assert_eq(s.drops_oldest, s.sends - 1, "every due tick but the latest was superseded");
    cr_assert_eq(kchan_len(c), 1);
    int64_t v = -1;
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK);
    cr_assert_geq(v, n - p, "not the latest due");
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    check_timer_stats(c, "closed");
    kchan_destroy(c);
}

/* ---- never ------------------------------------------------------------------------ */

Test(timer, never_is_never_ready, .timeout = T_TIMEOUT)
{
    kchan_t *c = kchan_never();
    cr_assert_not_null(c);
    int64_t v = -1, arr[4] = { -1, -1, -1, -1 };
    size_t got = 99;
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_peek(c, &v), KCHAN_WOULDBLOCK);
    int64_t t0 = now();
    cr_assert_eq(kchan_recv_timeout(c, &v, 3 * MS), KCHAN_TIMEDOUT);
    cr_assert_geq(now() - t0, 3 * MS, "the timeout was cut short");
    cr_assert_eq(kchan_recv_many(c, arr, 4, &got, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(got, 0);
    cr_assert_eq(v, -1);
    cr_assert_eq(kchan_len(c), 0);
    kchan_stats s = check_timer_stats(c, "never");
    cr_assert_eq(s.sends, 0);
    cr_assert_eq(s.recvs, 0);
    cr_assert_eq(s.recv_empty, 2);
    cr_assert_eq(s.timeouts, 1);
    cr_assert_eq(s.blocked_recvs, 1);
    /* in a select it never wins: a ready data channel does, every time */
    kchan_t *d = mk_data(1);
    for (int i = 0; i < 50; i++) {
        int x = i, y = -1;
        cr_assert_eq(kchan_send(d, &x), KCHAN_OK);
        kchan_case cs[2] = { rcase(c, &v), rcase(d, &y) };
        cr_assert_eq(kchan_select(cs, 2, KCHAN_FOREVER), 1, "round %d", i);
        cr_assert_eq(cs[1].status, KCHAN_OK);
        cr_assert_eq(y, i);
        cr_assert_eq(kchan_send(d, &x), KCHAN_OK);
        cr_assert_eq(kchan_select_biased(cs, 2, 0), 1, "biased round %d", i);
    }
    kchan_case one[1] = { rcase(c, &v) };
    cr_assert_eq(kchan_select(one, 1, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_select(one, 1, 2 * MS), KCHAN_TIMEDOUT);
    cr_assert_eq(v, -1);
    cr_assert_eq(t_stats(c).recvs, 0);
    kchan_destroy(d);
    kchan_destroy(c);
}

/* ---- the _in forms ---------------------------------------------------------------- */

static _Alignas(64) unsigned char in_mem[3][KCHAN_TIMER_FOOTPRINT + 64];

Test(timer, in_forms_any_alignment_allocate_nothing, .timeout = T_TIMEOUT)
{
    int64_t calls0 = test_alloc_calls();
    int64_t blocks0 = test_alloc_live_blocks();
    /* KCHAN_TIMER_FOOTPRINT bytes suffice at every alignment */
    for (size_t off = 0; off < 64; off++) {
        kchan_t *a = NULL, *t = NULL, *n = NULL;
        cr_assert_eq(kchan_after_in(&a, in_mem[0] + off, KCHAN_TIMER_FOOTPRINT, 0), KCHAN_OK, "offset %zu", off);
        cr_assert_eq(kchan_tick_in(&t, in_mem[1] + off, KCHAN_TIMER_FOOTPRINT, 1000 * MS), KCHAN_OK, "offset %zu", off);
        cr_assert_eq(kchan_never_in(&n, in_mem[2] + off, KCHAN_TIMER_FOOTPRINT), KCHAN_OK, "offset %zu", off);
        cr_assert_not_null(a);
        cr_assert_not_null(t);
        cr_assert_not_null(n);
        int64_t v = -1;
        cr_assert_eq(kchan_try_recv(a, &v), KCHAN_OK);
        cr_assert_eq(kchan_try_recv(t, &v), KCHAN_WOULDBLOCK);
        cr_assert_eq(kchan_try_recv(n, &v), KCHAN_WOULDBLOCK);
        kchan_destroy(a);
        kchan_destroy(t);
        kchan_destroy(n);
    }
    /* every op on _in timers: blocking recv, select, peek, stats, dump, close, cancel */
    kchan_t *a = NULL, *t = NULL, *n = NULL, *a2 = NULL;
    cr_assert_eq(kchan_after_in(&a, in_mem[0] + 3, KCHAN_TIMER_FOOTPRINT, 1 * MS), KCHAN_OK);
    cr_assert_eq(kchan_tick_in(&t, in_mem[1] + 5, KCHAN_TIMER_FOOTPRINT, 1 * MS), KCHAN_OK);
    cr_assert_eq(kchan_never_in(&n, in_mem[2] + 7, KCHAN_TIMER_FOOTPRINT), KCHAN_OK);
    int64_t v = -1, vt = -1, vn = -1;
    cr_assert_eq(kchan_recv(a, &v), KCHAN_OK);
    cr_assert_eq(kchan_recv(t, &vt), KCHAN_OK);
    int64_t prev = vt;
    for (int i = 0; i < 3; i++) {
        kchan_case cs[3] = { rcase(n, &vn), rcase(a, &v), rcase(t, &vt) };
        cr_assert_eq(kchan_select(cs, 3, KCHAN_FOREVER), 2);
        cr_assert_eq(cs[2].status, KCHAN_OK);
        cr_assert_gt(vt, prev);
        prev = vt;
    }
    int64_t pk = -1;
    (void)kchan_peek(t, &pk);
    char line[512];
    cr_assert_gt(kchan_dump(t, line, sizeof line), 0);
    kchan_stats s = check_timer_stats(t, "tick_in");
    cr_assert_geq(s.recvs, 4);
    cr_assert_eq(kchan_close(t), KCHAN_OK);
    kchan_destroy(a);   /* the same memory again, now with a due, unreceived instant */
    cr_assert_eq(kchan_after_in(&a2, in_mem[0] + 3, KCHAN_TIMER_FOOTPRINT, 0), KCHAN_OK);
    cr_assert_eq(kchan_cancel(a2), KCHAN_OK);
    cr_assert_eq(t_stats(a2).undelivered, 1);
    kchan_destroy(a2);
    cr_assert_eq(kchan_after_in(&a2, in_mem[0] + 3, KCHAN_TIMER_FOOTPRINT, 0), KCHAN_OK);
    kchan_destroy(a2);  /* destroyed holding a due instant: frees nothing */
    kchan_destroy(t);
    kchan_destroy(n);
    cr_assert_eq(test_alloc_calls(), calls0, "an _in timer allocated");
    cr_assert_eq(test_alloc_live_blocks(), blocks0);
}

Test(timer, in_forms_bad_input_is_inval, .timeout = T_TIMEOUT)
{
    int64_t calls0 = test_alloc_calls();
    kchan_t *c = NULL;
    const size_t fp = KCHAN_TIMER_FOOTPRINT;
    unsigned char *m = in_mem[0];
    /* too small at any alignment (KCHAN_TIMER_FOOTPRINT carries 63 bytes of alignment
       slack, so fp - 1 still fits 64-aligned memory, as with kchan_create_in) */
    const size_t small[] = { 1, 16, 64 };
    for (size_t k = 0; k < 3; k++) {
        cr_assert_eq(kchan_after_in(&c, m + 1, small[k], 0), KCHAN_INVAL, "too small: %zu", small[k]);
        cr_assert_eq(kchan_tick_in(&c, m, small[k], MS), KCHAN_INVAL, "too small: %zu", small[k]);
        cr_assert_eq(kchan_never_in(&c, m + 3, small[k]), KCHAN_INVAL, "too small: %zu", small[k]);
        cr_assert_null(c);
    }
    cr_assert_eq(kchan_after_in(&c, m, 0, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_after_in(NULL, m, fp, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_tick_in(NULL, m, fp, MS), KCHAN_INVAL);
    cr_assert_eq(kchan_never_in(NULL, m, fp), KCHAN_INVAL);
    cr_assert_eq(kchan_after_in(&c, NULL, fp, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_tick_in(&c, NULL, fp, MS), KCHAN_INVAL);
    cr_assert_eq(kchan_never_in(&c, NULL, fp), KCHAN_INVAL);
    cr_assert_eq(kchan_after_in(&c, m, fp, -1), KCHAN_INVAL, "negative delay");
    cr_assert_eq(kchan_after_in(&c, m, fp, INT64_MIN), KCHAN_INVAL, "negative delay");
    cr_assert_eq(kchan_tick_in(&c, m, fp, 0), KCHAN_INVAL, "period 0");
    cr_assert_eq(kchan_tick_in(&c, m, fp, -5), KCHAN_INVAL, "negative period");
    cr_assert_eq(test_alloc_calls(), calls0);
    /* the typed forms too */
    ttm *tt = NULL;
    cr_assert_eq(ttm_after_in(NULL, m, fp, 0), KCHAN_INVAL);
    cr_assert_eq(ttm_tick_in(&tt, m, fp, 0), KCHAN_INVAL);
    cr_assert_eq(ttm_never_in(&tt, m, 16), KCHAN_INVAL);
    cr_assert_null(tt);
    /* and a good one still works in the same memory afterwards */
    cr_assert_eq(kchan_after_in(&c, m, fp, 0), KCHAN_OK);
    int64_t v = -1;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    kchan_destroy(c);
}

/* ---- sends are refused -------------------------------------------------------------- */

Test(timer, sends_are_inval, .timeout = T_TIMEOUT)
{
    kchan_t *ts[3] = { kchan_after(0), kchan_tick(1000 * MS), kchan_never() };
    kchan_t *d = mk_data(2);
    for (int i = 0; i < 3; i++) {
        kchan_t *c = ts[i];
        cr_assert_not_null(c);
        int64_t x = 12345, arr[3] = { 1, 2, 3 };
        size_t sent = 99;
        cr_assert_eq(kchan_send(c, &x), KCHAN_INVAL, "timer %d", i);
        cr_assert_eq(kchan_try_send(c, &x), KCHAN_INVAL, "timer %d", i);
        cr_assert_eq(kchan_send_timeout(c, &x, 0), KCHAN_INVAL, "timer %d", i);
        cr_assert_eq(kchan_send_timeout(c, &x, 2 * MS), KCHAN_INVAL, "timer %d", i);
        cr_assert_eq(kchan_send_timeout(c, &x, KCHAN_FOREVER), KCHAN_INVAL, "timer %d", i);
        cr_assert_eq(kchan_send_many(c, arr, 3, &sent, KCHAN_FOREVER), KCHAN_INVAL, "timer %d", i);
        cr_assert_eq(sent, 0, "timer %d: sent %zu", i, sent);
        /* a select with a send case on a timer: nothing happens anywhere */
        int one = 77, y = -1;
        cr_assert_eq(kchan_send(d, &one), KCHAN_OK);
        kchan_case cs[2] = { rcase(d, &y), scase(c, &x) };
        cr_assert_eq(kchan_select(cs, 2, KCHAN_FOREVER), KCHAN_INVAL, "timer %d", i);
        cr_assert_eq(kchan_select_biased(cs, 2, 0), KCHAN_INVAL, "timer %d", i);
        kchan_case alone[1] = { scase(c, &x) };
        cr_assert_eq(kchan_select(alone, 1, 0), KCHAN_INVAL, "timer %d", i);
        cr_assert_eq(y, -1, "the data case ran");
        cr_assert_eq(kchan_len(d), 1, "the data case ran");
        cr_assert_eq(kchan_recv(d, &y), KCHAN_OK);
        kchan_stats s = check_timer_stats(c, "after refused sends");
        cr_assert_eq(s.sends, i == 0 ? 1 : 0, "a refused send counted: timer %d", i);
        cr_assert_eq(s.waiting_senders, 0);
        cr_assert_not(s.closed);
    }
    int64_t v = -1;
    cr_assert_eq(kchan_try_recv(ts[0], &v), KCHAN_OK, "after(0) still delivers its instant");
    cr_assert_neq(v, 12345);
    cr_assert_eq(t_stats(d).recvs, 3);
    for (int i = 0; i < 3; i++) kchan_destroy(ts[i]);
    kchan_destroy(d);
}

/* ---- the receive ops ---------------------------------------------------------------- */

Test(timer, recv_timeout_shorter_and_longer_than_the_delay, .timeout = T_TIMEOUT)
{
    const int64_t d = 30 * MS;
    int64_t before = now();
    kchan_t *c = kchan_after(d);
    int64_t after = now();
    cr_assert_not_null(c);
    int64_t v = -1;
    int r = kchan_recv_timeout(c, &v, 3 * MS);
    int64_t t1 = now();
    if (t1 < before + d) {
        cr_assert_eq(r, KCHAN_TIMEDOUT, "%d", r);
        cr_assert_eq(v, -1);
        kchan_stats s = t_stats(c);
        cr_assert_eq(s.timeouts, 1);
        cr_assert_eq(s.blocked_recvs, 1);
        cr_assert_eq(s.recvs, 0);
        cr_assert_eq(kchan_recv_timeout(c, &v, 1000 * MS), KCHAN_OK);
    } else {
        cr_assert_eq(r, KCHAN_OK);   /* the machine stalled past the instant */
    }
    cr_assert_geq(v, before + d);
    cr_assert_leq(v, after + d);
    cr_assert_geq(now(), v);
    check_timer_stats(c, "after recv_timeout");
    kchan_destroy(c);
}

Test(timer, recv_many_gets_at_most_one, .timeout = T_TIMEOUT)
{
    const int64_t p = 1 * MS;
    kchan_t *t = kchan_tick(p);
    cr_assert_not_null(t);
    sleep_ns(5 * MS);                 /* several ticks due: still one comes out */
    int64_t out[8];
    for (int i = 0; i < 8; i++) out[i] = -1;
    size_t got = 99;
    int64_t t1 = now();
    cr_assert_eq(kchan_recv_many(t, out, 8, &got, 0), KCHAN_OK);
    cr_assert_eq(got, 1);
    for (int i = 1; i < 8; i++) cr_assert_eq(out[i], -1, "recv_many wrote out[%d]", i);
    cr_assert_geq(out[0], t1 - p, "not the latest due tick");
    got = 99;
    int r = kchan_recv_many(t, out + 1, 8, &got, 0);
    int64_t t2 = now();
    if (t2 < out[0] + p) {
        cr_assert_eq(r, KCHAN_WOULDBLOCK);
        cr_assert_eq(got, 0);
    }
    got = 99;
    cr_assert_eq(kchan_recv_many(t, out + 1, 8, &got, KCHAN_FOREVER), KCHAN_OK);
    cr_assert_eq(got, 1);
    cr_assert_eq(out[2], -1);
    cr_assert_gt(out[1], out[0]);
    cr_assert_eq((out[1] - out[0]) % p, 0);
    cr_assert_eq(kchan_recv_many(t, out, 0, &got, 0), KCHAN_INVAL, "max 0");
    kchan_destroy(t);

    kchan_t *a = kchan_after(0);
    cr_assert_not_null(a);
    got = 99;
    cr_assert_eq(kchan_recv_many(a, out, 4, &got, KCHAN_FOREVER), KCHAN_OK);
    cr_assert_eq(got, 1);
    got = 99;
    cr_assert_eq(kchan_recv_many(a, out, 4, &got, 2 * MS), KCHAN_TIMEDOUT);
    cr_assert_eq(got, 0);
    kchan_stats s = check_timer_stats(a, "after recv_many");
    cr_assert_eq(s.recvs, 1);
    cr_assert_eq(s.timeouts, 1);
    kchan_destroy(a);
}

Test(timer, peek_copies_the_due_instant_without_taking_it, .timeout = T_TIMEOUT)
{
    kchan_t *far = kchan_after(1000 * MS);
    cr_assert_not_null(far);
    int64_t v = -1, w = -1;
    cr_assert_eq(kchan_peek(far, &v), KCHAN_WOULDBLOCK, "nothing due yet");
    cr_assert_eq(v, -1);
    kchan_destroy(far);

    kchan_t *a = kchan_after(0);
    cr_assert_not_null(a);
    cr_assert_eq(kchan_peek(a, &v), KCHAN_OK);
    cr_assert_eq(kchan_len(a), 1, "peek took it");
    cr_assert_eq(kchan_peek(a, &w), KCHAN_OK);
    cr_assert_eq(w, v);
    w = -1;
    cr_assert_eq(kchan_try_recv(a, &w), KCHAN_OK);
    cr_assert_eq(w, v, "peek and recv disagree");
    cr_assert_eq(kchan_peek(a, &w), KCHAN_WOULDBLOCK);
    cr_assert_eq(t_stats(a).recvs, 1);
    cr_assert_eq(kchan_close(a), KCHAN_OK);
    cr_assert_eq(kchan_peek(a, &w), KCHAN_CLOSED, "closed and drained");
    kchan_destroy(a);

    const int64_t p = 2 * MS;
    kchan_t *t = kchan_tick(p);
    cr_assert_not_null(t);
    sleep_ns(5 * MS);
    cr_assert_eq(kchan_peek(t, &v), KCHAN_OK);
    cr_assert_eq(kchan_try_recv(t, &w), KCHAN_OK);
    cr_assert_geq(w, v, "recv older than the peek");
    cr_assert_eq((w - v) % p, 0);
    kchan_destroy(t);
}

/* ---- typed timers and KCHAN_FOREACH ------------------------------------------------ */

typedef struct {
    ttm *t;
    kchan_counter *seen;
    int64_t after;
    int64_t closed_at;     /* kchan_now_ns() right after the close returned */
    int rc;
} closer_arg;

static void *closer_main(void *p)
{
    closer_arg *a = p;
    a->rc = kchan_counter_wait_ge(a->seen, a->after, 10000 * MS);
    if (a->rc == KCHAN_OK) a->rc = ttm_close(a->t);
    a->closed_at = now();
    return NULL;
}

Test(timer, foreach_over_a_typed_tick_closed_by_another_thread, .timeout = T_TIMEOUT)
{
    const int64_t p = 2 * MS;
    ttm *t = ttm_tick(p);
    cr_assert_not_null(t);
    cr_assert_eq(ttm_cap(t), 1);
    kchan_counter seen = KCHAN_COUNTER_INIT(0);
    closer_arg ca = { .t = t, .seen = &seen, .after = 5, .rc = -99 };
    pthread_t th = t_spawn(closer_main, &ca);
    int64_t vals[64];
    int n = 0;
    KCHAN_FOREACH(ttm, v, t) {
        if (n < 64) vals[n] = v;
        n++;
        kchan_counter_add(&seen, 1);
    }
    t_join(th);
    cr_assert_eq(ca.rc, KCHAN_OK);
    cr_assert_geq(n, 5);
    cr_assert_leq(n, 64);
    for (int i = 0; i < n; i++) {
        cr_assert_leq(vals[i], ca.closed_at, "tick %d came due after the close", i);
        if (i) cr_assert_gt(vals[i], vals[i - 1]);
        if (i) cr_assert_eq((vals[i] - vals[0]) % p, 0);
    }
    int64_t x = -1;
    cr_assert_eq(ttm_try_recv(t, &x), KCHAN_CLOSED);
    cr_assert(ttm_is_closed(t));
    kchan_stats s = check_timer_stats(ttm_base(t), "closed typed tick");
    cr_assert_eq(s.recvs, (uint64_t)n);
    ttm_destroy(t);
}

Test(timer, foreach_loop_body_closes_after_n_ticks, .timeout = T_TIMEOUT)
{
    const int64_t p = 2 * MS;
    ttm *t = ttm_tick(p);
    cr_assert_not_null(t);
    int n = 0;
    int64_t closed_at = INT64_MAX, last = -1;
    KCHAN_FOREACH(ttm, v, t) {
        n++;
        last = v;
        if (n == 3) { cr_assert_eq(ttm_close(t), KCHAN_OK); closed_at = now(); }
        cr_assert_leq(n, 4, "ticks after the close");
    }
    cr_assert_geq(n, 3);
    cr_assert_leq(last, closed_at, "a tick that came due after the close was delivered");
    ttm_destroy(t);

    /* the other typed makers, and a typed timer in KCHAN_SELECT */
    ttm *a = ttm_after(0), *nv = ttm_never();
    cr_assert_not_null(a);
    cr_assert_not_null(nv);
    int64_t va = -1, vn = -1;
    cr_assert_eq(KCHAN_SELECT(KCHAN_FOREVER, ttm_recv_case(nv, &vn), ttm_recv_case(a, &va)), 1);
    cr_assert_geq(va, 0);
    cr_assert_eq(vn, -1);
    static _Alignas(8) unsigned char tmem[KCHAN_TIMER_FOOTPRINT];
    ttm *ti = NULL;
    cr_assert_eq(ttm_after_in(&ti, tmem, sizeof tmem, 0), KCHAN_OK);
    cr_assert_not_null(ti);
    cr_assert_eq(ttm_recv(ti, &va), KCHAN_OK);
    ttm_destroy(ti);
    cr_assert_eq(ttm_never_in(&ti, tmem, sizeof tmem), KCHAN_OK);
    cr_assert_eq(ttm_try_recv(ti, &va), KCHAN_WOULDBLOCK);
    ttm_destroy(ti);
    cr_assert_eq(ttm_tick_in(&ti, tmem, sizeof tmem, MS), KCHAN_OK);
    cr_assert_eq(ttm_recv(ti, &va), KCHAN_OK);
    ttm_destroy(ti);
    ttm_destroy(a);
    ttm_destroy(nv);
}

/* ---- stats, len, dump ---------------------------------------------------------------- */

Test(timer, len_is_one_exactly_while_an_instant_waits, .timeout = T_TIMEOUT)
{
    kchan_t *far = kchan_after(1000 * MS), *now0 = kchan_after(0);
    cr_assert_not_null(far);
    cr_assert_not_null(now0);
    cr_assert_eq(kchan_len(far), 0);
    cr_assert_eq(kchan_cap(far), 1);
    cr_assert_eq(t_stats(far).len, 0);
    cr_assert_eq(t_stats(far).sends, 0);
    cr_assert_eq(kchan_len(now0), 1);
    kchan_stats s = check_timer_stats(now0, "due after(0)");
    cr_assert_eq(s.len, 1);
    cr_assert_eq(s.sends, 1, "the due instant counts as sent");
    int64_t v;
    cr_assert_eq(kchan_recv(now0, &v), KCHAN_OK);
    cr_assert_eq(kchan_len(now0), 0);
    cr_assert_eq(t_stats(now0).len, 0);
    cr_assert_eq(t_stats(now0).max_len, 1);

    /* kchan_len alone (no stats, no receive) brings a tick up to date */
    kchan_t *t = kchan_tick(2 * MS);
    cr_assert_not_null(t);
    sleep_ns(5 * MS);
    cr_assert_eq(kchan_len(t), 1, "kchan_len did not see the due tick");
    cr_assert_eq(kchan_try_recv(t, &v), KCHAN_OK);
    cr_assert_eq(kchan_close(t), KCHAN_OK);
    cr_assert_eq(kchan_len(t), 0, "nothing comes due after the close");
    kchan_t *nv = kchan_never();
    cr_assert_eq(kchan_len(nv), 0);
    cr_assert_eq(kchan_cap(nv), 1);
    kchan_destroy(nv);
    kchan_destroy(t);
    kchan_destroy(far);
    kchan_destroy(now0);
}

static void expect_in(const char *line, const char *part)
{
    cr_assert_not_null(strstr(line, part), "dump line lacks \"%s\": %s", part, line);
}

Test(timer, dump_names_the_kind, .timeout = T_TIMEOUT)
{
    kchan_t *a = kchan_after(0), *t = kchan_tick(1000 * MS), *n = kchan_never();
    char line[512];
    int r = kchan_dump(a, line, sizeof line);
    cr_assert_eq(r, (int)strlen(line));
    expect_in(line, " kind=after ");
    expect_in(line, " policy=drop_oldest ");
    expect_in(line, " cap=1 ");
    expect_in(line, " len=1 ");
    expect_in(line, " sends=1 ");
    expect_in(line, "state=open");
    r = kchan_dump(t, line, sizeof line);
    cr_assert_eq(r, (int)strlen(line));
    expect_in(line, " kind=tick ");
    expect_in(line, " policy=drop_oldest ");
    expect_in(line, " cap=1 ");
    expect_in(line, " len=0 ");
    cr_assert_eq(kchan_close(n), KCHAN_OK);
    r = kchan_dump(n, line, sizeof line);
    cr_assert_eq(r, (int)strlen(line));
    expect_in(line, " kind=never ");
    expect_in(line, " policy=drop_oldest ");
    expect_in(line, " cap=1 ");
    expect_in(line, "state=closed");
    kchan_destroy(a);
    kchan_destroy(t);
    kchan_destroy(n);
}

/* ---- close and cancel ---------------------------------------------------------------- */

Test(timer, close_drains_a_due_instant_then_closed, .timeout = T_TIMEOUT)
{
    /* after: due at the close, still received; then CLOSED */
    kchan_t *a = kchan_after(0);
    cr_assert_not_null(a);
    cr_assert_eq(kchan_close(a), KCHAN_OK);
    cr_assert_eq(kchan_close(a), KCHAN_CLOSED, "second close");
    int64_t v = -1;
    cr_assert_eq(kchan_recv(a, &v), KCHAN_OK, "the due instant is drained");
    cr_assert_eq(kchan_try_recv(a, &v), KCHAN_CLOSED);
    cr_assert_eq(kchan_recv(a, &v), KCHAN_CLOSED);
    cr_assert_eq(kchan_recv_timeout(a, &v, 2 * MS), KCHAN_CLOSED);
    cr_assert(t_stats(a).closed);
    check_timer_stats(a, "closed after(0)");
    kchan_destroy(a);

    /* after closed before its instant: never delivers, even once the instant has passed */
    int64_t b0 = now();
    kchan_t *b = kchan_after(5 * MS);
    cr_assert_not_null(b);
    cr_assert_eq(kchan_close(b), KCHAN_OK);
    bool closed_early = now() < b0 + 5 * MS;   /* else the machine stalled past the instant */
    sleep_ns(8 * MS);
    if (closed_early) {
        cr_assert_eq(kchan_try_recv(b, &v), KCHAN_CLOSED);
        cr_assert_eq(kchan_recv(b, &v), KCHAN_CLOSED);
        cr_assert_eq(kchan_len(b), 0);
    }
    kchan_stats s = check_timer_stats(b, "after closed early");
    if (closed_early) cr_assert_eq(s.sends, 0, "an instant after the close was counted");

    /* tick: the latest instant due at the close, then CLOSED; the tick stops */
    const int64_t p = 1 * MS;
    int64_t before = now();
    kchan_t *t = kchan_tick(p);
    cr_assert_not_null(t);
    sleep_ns(3500 * US);
    cr_assert_eq(kchan_close(t), KCHAN_OK);
    int64_t closed_at = now();
    cr_assert_eq(kchan_recv(t, &v), KCHAN_OK);
    cr_assert_leq(v, closed_at);
    cr_assert_geq(v, before + p);
    cr_assert_eq(kchan_recv(t, &v), KCHAN_CLOSED);
    kchan_stats s1 = check_timer_stats(t, "closed tick");
    cr_assert_leq((int64_t)s1.sends, (closed_at - before) / p);
    sleep_ns(3 * MS);
    cr_assert_eq(kchan_try_recv(t, &v), KCHAN_CLOSED);
    kchan_stats s2 = check_timer_stats(t, "closed tick later");
    cr_assert_eq(s2.sends, s1.sends, "the tick kept ticking after the close");
    cr_assert_eq(s2.drops_oldest, s1.drops_oldest);
    kchan_destroy(t);
    kchan_destroy(b);
}

static void close_wakes_a_blocked_recv(void)
{
    kchan_t *c = kchan_after(10000 * MS);
    cr_assert_not_null(c);
    t_op op = { .c = c, .v = -1, .rc = -99 };
    pthread_t th = t_spawn(t_recv_thread, &op);
    bool parked = wait_parked(c, 300 * MS);
    int64_t t0 = now();
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    t_join(th);
    cr_assert_eq(op.rc, KCHAN_CLOSED);
    cr_assert_eq(op.v, -1);
    cr_assert_lt(now() - t0, 2000 * MS, "the close did not wake the receiver");
    kchan_stats s = check_timer_stats(c, "closed with a parked receiver");
    cr_assert_eq(s.waiting_receivers, 0);
    if (parked) cr_assert_eq(s.blocked_recvs, 1);
    else cr_log_warn("the receiver parked on the timer never showed in waiting_receivers");
    kchan_destroy(c);
}

typedef struct {
    kchan_case cs[2];
    int64_t tv;
    int dv;
    int rc;
} sel_wait;

static void *sel_wait_main(void *p)
{
    sel_wait *a = p;
    a->rc = kchan_select(a->cs, 2, KCHAN_FOREVER);
    return NULL;
}

static void close_wakes_a_parked_select(void)
{
    kchan_t *kinds[2] = { kchan_after(10000 * MS), kchan_tick(10000 * MS) };
    for (int k = 0; k < 2; k++) {
        kchan_t *c = kinds[k];
        cr_assert_not_null(c);
        kchan_t *d = mk_data(1);
        sel_wait a = { .tv = -1, .dv = -1, .rc = -99 };
        a.cs[0] = rcase(d, &a.dv);
        a.cs[1] = rcase(c, &a.tv);
        pthread_t th = t_spawn(sel_wait_main, &a);
        t_wait_receivers(d, 1);       /* the select is registered: it is parked or parking */
        (void)wait_parked(c, 100 * MS);
        cr_assert_eq(kchan_close(c), KCHAN_OK);
        t_join(th);
        cr_assert_eq(a.rc, 1, "kind %d: the select returned %d", k, a.rc);
        cr_assert_eq(a.cs[1].status, KCHAN_CLOSED);
        cr_assert_eq(a.tv, -1);
        cr_assert_eq(a.dv, -1);
        cr_assert_eq(t_stats(d).waiting_receivers, 0, "the select left its registration");
        cr_assert_eq(t_stats(c).waiting_receivers, 0);
        check_timer_stats(c, "closed under a select");
        kchan_destroy(d);
        kchan_destroy(c);
    }
}

Test(timer, close_wakes_a_blocked_recv_and_a_parked_select, .timeout = T_TIMEOUT)
{
    close_wakes_a_blocked_recv();
    close_wakes_a_parked_select();
}

Test(timer, cancel_discards_a_due_instant, .timeout = T_TIMEOUT)
{
    kchan_t *a = kchan_after(0);
    cr_assert_not_null(a);
    cr_assert_eq(kchan_cancel(a), KCHAN_OK);
    kchan_stats s = check_timer_stats(a, "cancelled after(0)");
    cr_assert_eq(s.undelivered, 1);
    cr_assert_eq(s.len, 0);
    cr_assert(s.closed);
    int64_t v = -1;
    cr_assert_eq(kchan_try_recv(a, &v), KCHAN_CLOSED, "cancel discarded nothing");
    cr_assert_eq(kchan_cancel(a), KCHAN_CLOSED, "second cancel");
    cr_assert_eq(t_stats(a).undelivered, 1);
    kchan_destroy(a);

    kchan_t *t = kchan_tick(1 * MS);
    cr_assert_not_null(t);
    sleep_ns(3 * MS);
    cr_assert_eq(kchan_cancel(t), KCHAN_OK);
    s = check_timer_stats(t, "cancelled tick");
    cr_assert_eq(s.undelivered, 1);
    cr_assert_geq(s.drops_oldest, 1);
    cr_assert_eq(kchan_recv(t, &v), KCHAN_CLOSED);
    kchan_destroy(t);

    kchan_t *far = kchan_after(1000 * MS);
    cr_assert_not_null(far);
    cr_assert_eq(kchan_close(far), KCHAN_OK);
    cr_assert_eq(kchan_cancel(far), KCHAN_CLOSED);
    s = check_timer_stats(far, "cancelled before due");
    cr_assert_eq(s.undelivered, 0);
    cr_assert_eq(s.sends, 0);
    kchan_destroy(far);

    /* destroy with a due, unreceived instant (ASan checks for leaks) */
    kchan_t *due = kchan_after(0), *ticking = kchan_tick(1 * MS);
    cr_assert_not_null(due);
    cr_assert_not_null(ticking);
    sleep_ns(2 * MS);
    kchan_destroy(due);
    kchan_destroy(ticking);
}

/* ---- select ----------------------------------------------------------------------------- */

/* A select over an idle data channel and an after sleeps until the instant: it returns the
   after's case not early and not much later, using little CPU and few context switches. */
static void select_sleeps_until_the_after(void)
{
    const int64_t d = 50 * MS;
    kchan_t *data = mk_data(4);
    int64_t before = now();
    kchan_t *a = kchan_after(d);
    int64_t after = now();
    cr_assert_not_null(a);
    int x = -1;
    int64_t v = -1;
    kchan_case cs[2] = { rcase(data, &x), rcase(a, &v) };
    int64_t cpu0 = thread_cpu_ns();
    long sw0 = thread_vcsw();
    int r = kchan_select(cs, 2, KCHAN_FOREVER);
    int64_t back = now();
    int64_t cpu = thread_cpu_ns() - cpu0;
    long sw = thread_vcsw() - sw0;
    cr_assert_eq(r, 1);
    cr_assert_eq(cs[1].status, KCHAN_OK);
    cr_assert_eq(x, -1);
    cr_assert_geq(v, before + d);
    cr_assert_leq(v, after + d);
    cr_assert_geq(back, before + d, "returned early");
    cr_assert_lt(back - v, 100 * MS, "returned %" PRId64 " us after the instant", (back - v) / US);
    cr_assert_lt(cpu, 10 * MS, "the select used %" PRId64 " us of CPU in a %" PRId64 " ms wait",
                 cpu / US, d / MS);
    cr_assert_leq(sw, 10, "%ld context switches in a %" PRId64 " ms wait: polling?", sw, d / MS);
    cr_assert_eq(t_stats(a).recvs, 1);
    cr_assert_eq(t_stats(a).waiting_receivers, 0);
    cr_assert_eq(t_stats(data).waiting_receivers, 0);
    kchan_destroy(a);
    kchan_destroy(data);
}

static void recv_sleeps_until_the_after(void)
{
    const int64_t d = 50 * MS;
    int64_t before = now();
    kchan_t *a = kchan_after(d);
    cr_assert_not_null(a);
    int64_t v = -1;
    int64_t cpu0 = thread_cpu_ns();
    long sw0 = thread_vcsw();
    cr_assert_eq(kchan_recv(a, &v), KCHAN_OK);
    int64_t back = now();
    int64_t cpu = thread_cpu_ns() - cpu0;
    long sw = thread_vcsw() - sw0;
    cr_assert_geq(back, before + d);
    cr_assert_geq(back, v);
    cr_assert_lt(cpu, 10 * MS, "the recv used %" PRId64 " us of CPU in a %" PRId64 " ms wait",
                 cpu / US, d / MS);
    cr_assert_leq(sw, 10, "%ld context switches in a %" PRId64 " ms wait: polling?", sw, d / MS);
    cr_assert_eq(t_stats(a).blocked_recvs, 1);
    kchan_destroy(a);
}

Test(timer, select_and_recv_sleep_until_the_after, .timeout = T_TIMEOUT)
{
    select_sleeps_until_the_after();
    recv_sleeps_until_the_after();
}

Test(timer, select_timeout_against_the_timer, .timeout = T_TIMEOUT)
{
    kchan_t *data = mk_data(2);
    int x = -1;
    int64_t v = -1;
    /* timeout shorter than the delay */
    kchan_t *far = kchan_after(1000 * MS);
    cr_assert_not_null(far);
    kchan_case cs[2] = { rcase(data, &x), rcase(far, &v) };
    int64_t t0 = now();
    cr_assert_eq(kchan_select(cs, 2, 3 * MS), KCHAN_TIMEDOUT);
    cr_assert_geq(now() - t0, 3 * MS);
    cr_assert_eq(kchan_select_biased(cs, 2, 2 * MS), KCHAN_TIMEDOUT);
    cr_assert_eq(kchan_select(cs, 2, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(v, -1);
    kchan_stats s = check_timer_stats(far, "after lost selects");
    cr_assert_eq(s.recvs, 0);
    cr_assert_eq(s.timeouts, 0, "a select's timeout is not the channel's");
    kchan_destroy(far);
    /* timeout longer than the delay: the timer's case */
    for (int biased = 0; biased < 2; biased++) {
        int64_t before = now();
        kchan_t *a = kchan_after(5 * MS);
        cr_assert_not_null(a);
        cs[1] = rcase(a, &v);
        int r = biased ? kchan_select_biased(cs, 2, 1000 * MS) : kchan_select(cs, 2, 1000 * MS);
        int64_t back = now();
        cr_assert_eq(r, 1, "biased %d: %d", biased, r);
        cr_assert_eq(cs[1].status, KCHAN_OK);
        cr_assert_geq(v, before + 5 * MS);
        cr_assert_geq(back, v);
        cr_assert_eq(x, -1);
        kchan_destroy(a);
    }
    /* timeout 0 with a due timer */
    kchan_t *z = kchan_after(0);
    cs[1] = rcase(z, &v);
    cr_assert_eq(kchan_select(cs, 2, 0), 1);
    cr_assert_eq(t_stats(z).recvs, 1);
    kchan_destroy(z);
    kchan_destroy(data);
}

static void select_biased_order_with_due_timers(void)
{
    kchan_t *d = mk_data(2);
    int x = -1;
    int64_t v = -1;
    int one = 1;
    kchan_t *a = kchan_after(0);
    cr_assert_eq(kchan_send(d, &one), KCHAN_OK);
    kchan_case tf[2] = { rcase(a, &v), rcase(d, &x) };
    cr_assert_eq(kchan_select_biased(tf, 2, 0), 0, "the due timer is first");
    cr_assert_eq(x, -1);
    kchan_destroy(a);
    a = kchan_after(0);
    kchan_case df[2] = { rcase(d, &x), rcase(a, &v) };
    cr_assert_eq(kchan_select_biased(df, 2, 0), 0, "the data channel is first");
    cr_assert_eq(x, 1);
    cr_assert_eq(kchan_len(a), 1, "the due instant stayed");
    cr_assert_eq(kchan_select_biased(df, 2, 0), 1);
    cr_assert_eq(kchan_len(a), 0);
    kchan_destroy(a);
    kchan_destroy(d);
}

/* Both ready: an unbiased select picks either, so over many rounds both win. */
static void select_fair_between_due_timer_and_data(void)
{
    kchan_t *d = mk_data(1);
    int wins[2] = { 0, 0 };
    for (int i = 0; i < 200; i++) {
        kchan_t *a = kchan_after(0);
        cr_assert_not_null(a);
        int x = i, y = -1;
        if (kchan_len(d) == 0) cr_assert_eq(kchan_send(d, &x), KCHAN_OK);
        int64_t v = -1;
        kchan_case cs[2] = { rcase(a, &v), rcase(d, &y) };
        int r = kchan_select(cs, 2, 0);
        cr_assert(r == 0 || r == 1, "%d", r);
        wins[r]++;
        kchan_destroy(a);
    }
    cr_assert_gt(wins[0], 20, "timer wins %d of 200", wins[0]);
    cr_assert_gt(wins[1], 20, "data wins %d of 200", wins[1]);
    kchan_destroy(d);
}

Test(timer, select_bias_and_fairness_with_a_due_timer, .timeout = T_TIMEOUT)
{
    select_biased_order_with_due_timers();
    select_fair_between_due_timer_and_data();
}

/* A tick and a data channel fed by another thread: over ~150 ms the select loop gets both
   ticks and every message, in order. */
typedef struct {
    kchan_t *d;
    int64_t until;
    int sent;
    int rc;
} feeder;

static void *feeder_main(void *p)
{
    feeder *f = p;
    f->rc = KCHAN_OK;
    for (int i = 0; now() < f->until; i++) {
        int r = kchan_send(f->d, &i);
        if (r != KCHAN_OK) { f->rc = r; break; }
        f->sent++;
    }
    if (kchan_close(f->d) != KCHAN_OK) f->rc = -100;
    return NULL;
}

Test(timer, select_over_tick_and_data_keeps_both_moving, .timeout = T_TIMEOUT)
{
    const int64_t p = 2 * MS, span = 150 * MS;
    kchan_t *t = kchan_tick(p);
    kchan_t *d = mk_data(4);
    cr_assert_not_null(t);
    feeder f = { .d = d, .until = now() + span, .rc = -99 };
    pthread_t th = t_spawn(feeder_main, &f);
    int next = 0, ticks = 0;
    int64_t first = -1, prev = -1;
    for (;;) {
        int x = -1;
        int64_t v = -1;
        kchan_case cs[2] = { rcase(t, &v), rcase(d, &x) };
        int r = kchan_select(cs, 2, 5000 * MS);
        cr_assert(r == 0 || r == 1, "select returned %d", r);
        if (r == 0) {
            cr_assert_eq(cs[0].status, KCHAN_OK);
            if (ticks == 0) first = v;
            else {
                cr_assert_gt(v, prev);
                cr_assert_eq((v - first) % p, 0);
            }
            prev = v;
            ticks++;
            continue;
        }
        if (cs[1].status == KCHAN_CLOSED) break;
        cr_assert_eq(cs[1].status, KCHAN_OK);
        cr_assert_eq(x, next, "message %d out of order (%d)", next, x);
        next++;
    }
    t_join(th);
    cr_assert_eq(f.rc, KCHAN_OK);
    cr_assert_eq(next, f.sent, "received %d of %d messages", next, f.sent);
    cr_assert_gt(f.sent, 100, "the feeder sent only %d", f.sent);
    cr_assert_geq(ticks, (int)(span / p / 4), "%d ticks in %" PRId64 " ms", ticks, span / MS);
    cr_assert_eq(kchan_close(t), KCHAN_OK);
    kchan_stats s = check_timer_stats(t, "tick under select");
    cr_assert_eq(s.recvs, (uint64_t)ticks);
    kchan_destroy(t);
    kchan_destroy(d);
}

static void select_null_case_next_to_a_timer(void)
{
    int64_t v = -1, nv = -1;
    kchan_t *a = kchan_after(0);
    kchan_case cs[2] = { rcase(NULL, &nv), rcase(a, &v) };
    cr_assert_eq(kchan_select(cs, 2, KCHAN_FOREVER), 1);
    cr_assert_eq(cs[1].status, KCHAN_OK);
    cr_assert_eq(nv, -1);
    kchan_destroy(a);
    kchan_t *far = kchan_after(1000 * MS);
    cs[1] = rcase(far, &v);
    cr_assert_eq(kchan_select(cs, 2, 3 * MS), KCHAN_TIMEDOUT);
    cr_assert_eq(kchan_select_biased(cs, 2, 0), KCHAN_WOULDBLOCK);
    kchan_destroy(far);
    kchan_t *b = kchan_after(2 * MS);
    cs[1] = rcase(b, &v);
    cr_assert_eq(kchan_select_biased(cs, 2, KCHAN_FOREVER), 1);
    kchan_destroy(b);
}

static void null_out_is_inval(void)
{
    kchan_t *a = kchan_after(0);
    cr_assert_not_null(a);
    size_t got = 99;
    cr_assert_eq(kchan_recv(a, NULL), KCHAN_INVAL);
    cr_assert_eq(kchan_try_recv(a, NULL), KCHAN_INVAL);
    cr_assert_eq(kchan_recv_timeout(a, NULL, 2 * MS), KCHAN_INVAL);
    cr_assert_eq(kchan_recv_many(a, NULL, 1, &got, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_peek(a, NULL), KCHAN_INVAL);
    kchan_case cs[1] = { rcase(a, NULL) };
    cr_assert_eq(kchan_select(cs, 1, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_len(a), 1, "a refused op took the instant");
    int64_t v = -1;
    cr_assert_eq(kchan_recv(a, &v), KCHAN_OK);
    check_timer_stats(a, "after refused ops");
    kchan_destroy(a);
    /* NULL channel */
    cr_assert_eq(kchan_recv(NULL, &v), KCHAN_INVAL);
}

Test(timer, null_case_and_null_out, .timeout = T_TIMEOUT)
{
    select_null_case_next_to_a_timer();
    null_out_is_inval();
}

/* ---- 1,000 afters in selects, no thread created -------------------------------------- */

enum { K_N = 1000, K_W = 4, K_SEL = KCHAN_SELECT_MAX < 64 ? KCHAN_SELECT_MAX : 64 };
static kchan_t *k_t[K_N];
static int64_t k_delay[K_N], k_lo[K_N], k_hi[K_N], k_val[K_N], k_at[K_N];
static atomic_int k_got[K_N];
static kchan_counter k_fired = KCHAN_COUNTER_INIT(0);
static pthread_barrier_t k_bar, k_done;

typedef struct { int w; int err; int bad_status; int early; } k_worker;

static void *k_worker_main(void *p)
{
    k_worker *a = p;
    int rem[K_N / K_W + 1], nrem = 0;
    for (int i = a->w; i < K_N; i += K_W) rem[nrem++] = i;
    pthread_barrier_wait(&k_bar);
    while (nrem > 0) {
        int n = nrem < K_SEL ? nrem : K_SEL;
        kchan_case cs[K_SEL];
        int64_t vals[K_SEL];
        for (int j = 0; j < n; j++) { vals[j] = -1; cs[j] = rcase(k_t[rem[j]], &vals[j]); }
        int r = kchan_select(cs, (size_t)n, 5000 * MS);
        int64_t at = now();
        if (r < 0 || r >= n) { a->err = r < 0 ? r : -100; break; }
        if (cs[r].status != KCHAN_OK) a->bad_status++;
        int i = rem[r];
        if (at < vals[r]) a->early++;
        k_val[i] = vals[r];
        k_at[i] = at;
        atomic_fetch_add_explicit(&k_got[i], 1, memory_order_relaxed);  /* read after join */
        rem[r] = rem[--nrem];
        kchan_counter_add(&k_fired, 1);
    }
    pthread_barrier_wait(&k_done);    /* alive until the test has counted threads */
    return NULL;
}

static void *noop_main(void *p) { return p; }

Test(timer, thousand_afters_in_selects_create_no_thread, .timeout = T_TIMEOUT)
{
    /* one thread spawned and joined first, so a sanitizer's lazily started helper thread
       exists before the count */
    int before = count_threads();
    t_join(t_spawn(noop_main, NULL));
    /* the noop thread gone (a sanitizer's helper thread, if one started, stays) */
    int threads0 = count_threads_down_to(before, 200);
    for (int i = 0; i < K_N; i++) {
        k_delay[i] = (int64_t)(i * 7919 % K_N) * 50 * MS / K_N;   /* spread over 0-50 ms */
        k_lo[i] = now();
        k_t[i] = kchan_after(k_delay[i]);
        k_hi[i] = now();
        cr_assert_not_null(k_t[i]);
    }
    cr_assert_eq(count_threads(), threads0, "creating timers created threads");
    cr_assert_eq(pthread_barrier_init(&k_bar, NULL, K_W + 1), 0);
    cr_assert_eq(pthread_barrier_init(&k_done, NULL, K_W + 1), 0);
    k_worker ws[K_W];
    pthread_t th[K_W];
    for (int w = 0; w < K_W; w++) {
        ws[w] = (k_worker){ .w = w };
        th[w] = t_spawn(k_worker_main, &ws[w]);
    }
    pthread_barrier_wait(&k_bar);
    cr_assert_eq(kchan_counter_wait_ge(&k_fired, K_N / 10, 10000 * MS), KCHAN_OK);
    int during = count_threads();
    cr_assert_eq(kchan_counter_wait_ge(&k_fired, K_N, 10000 * MS), KCHAN_OK, "not every timer fired");
    int at_end = count_threads();
    pthread_barrier_wait(&k_done);
    for (int w = 0; w < K_W; w++) t_join(th[w]);
    cr_assert_eq(during, threads0 + K_W, "threads: %d before, %d with %d workers selecting",
                 threads0, during, K_W);
    cr_assert_eq(at_end, threads0 + K_W, "threads: %d before, %d once all fired", threads0, at_end);
    cr_assert_eq(count_threads_down_to(threads0, 2000), threads0, "the workers, joined, never left");
    pthread_barrier_destroy(&k_bar);
    pthread_barrier_destroy(&k_done);
    for (int w = 0; w < K_W; w++) {
        cr_assert_eq(ws[w].err, 0, "worker %d: select returned %d", w, ws[w].err);
        cr_assert_eq(ws[w].bad_status, 0, "worker %d", w);
        cr_assert_eq(ws[w].early, 0, "worker %d: %d instants delivered early", w, ws[w].early);
    }
    for (int i = 0; i < K_N; i++) {
        cr_assert_eq(atomic_load_explicit(&k_got[i], memory_order_relaxed), 1, "timer %d received %d times",
                     i, atomic_load_explicit(&k_got[i], memory_order_relaxed)); /* workers joined */
        cr_assert_geq(k_val[i], k_lo[i] + k_delay[i], "timer %d: wrong instant", i);
        cr_assert_leq(k_val[i], k_hi[i] + k_delay[i], "timer %d: wrong instant", i);
        cr_assert_geq(k_at[i], k_val[i], "timer %d early", i);
        int64_t v;
        cr_assert_eq(kchan_try_recv(k_t[i], &v), KCHAN_WOULDBLOCK, "timer %d delivered twice", i);
        kchan_stats s = check_timer_stats(k_t[i], "one of 1000");
        cr_assert_eq(s.sends, 1);
        cr_assert_eq(s.recvs, 1);
        kchan_destroy(k_t[i]);
    }
}

/* ---- accuracy ------------------------------------------------------------------------ */

Test(timer, accuracy_of_blocking_recv_on_afters, .timeout = T_TIMEOUT)
{
    enum { N = 100 };
    int64_t over[N];
    for (int i = 0; i < N; i++) {
        int64_t d = 1 * MS + (i % 5) * 250 * US;     /* 1 - 2 ms */
        int64_t before = now();
        kchan_t *a = kchan_after(d);
        int64_t after = now();
        cr_assert_not_null(a);
        int64_t v = -1;
        cr_assert_eq(kchan_recv(a, &v), KCHAN_OK);
        int64_t back = now();
        cr_assert_geq(v, before + d);
        cr_assert_leq(v, after + d);
        cr_assert_geq(back, v, "timer %d delivered %" PRId64 " ns early", i, v - back);
        over[i] = back - v;
        kchan_destroy(a);
    }
    qsort(over, N, sizeof over[0], cmp_i64);
    cr_log_info("after overshoot over %d timers: median %" PRId64 " us, worst %" PRId64 " us",
                N, over[N / 2] / US, over[N - 1] / US);
    cr_assert_lt(over[N / 2], 2 * MS, "median overshoot %" PRId64 " us", over[N / 2] / US);
    cr_assert_lt(over[N - 1], 50 * MS, "worst overshoot %" PRId64 " us", over[N - 1] / US);
}
