/* Parked waiters are served in arrival order (API.md: a newcomer may complete ahead of
   parked waiters, but parked waiters complete in the order they parked), and how often a
   newcomer overtakes a parked waiter (the bypass bound).

   Each round parks three senders (receivers) one after another, each confirmed parked by
   the channel's waiting count before the next starts, while a newcomer thread on the other
   core hammers try_send (try_recv) to steal the room (element) that each hand-over needs.
   The three parked values must come out in arrival order whatever the newcomer takes. */
#define KCHAN_TESTING
#include "common.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Measured (lock-free engine, TSan, 2 cores): a parked sender 0 times in ~1,000 rounds (up to
   178 in one round before kchan__lf_swap), a parked receiver at most 3; the mutex engine 0. */
enum { OR_MAX_ROUNDS = 100000, OR_BYPASS_BOUND = 64 };
#define OR_MS INT64_C(1000000)
/* Time per test: short in make test (four tests, twelve suite runs), long under make stress. */
#define OR_BUDGET_NS (getenv("KCHAN_STRESS") ? 20000 * OR_MS : 700 * OR_MS)

static void or_pin(int cpu)
{
    cpu_set_t set;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);   /* best effort */
}

typedef struct {
    kchan_t *c;
    atomic_int stop;
    long long taken;           /* newcomer: elements it got in (or out) */
} or_newcomer;

static void *or_try_sender(void *p)
{
    or_newcomer *n = p;
    or_pin(1);
    int64_t v = 1000;
    while (!atomic_load_explicit(&n->stop, memory_order_relaxed))   /* a test flag */
        if (kchan_try_send(n->c, &v) == KCHAN_OK) { n->taken++; v++; }
    return NULL;
}

static void *or_try_receiver(void *p)
{
    or_newcomer *n = p;
    or_pin(1);
    int64_t v;
    while (!atomic_load_explicit(&n->stop, memory_order_relaxed))   /* a test flag */
        if (kchan_try_recv(n->c, &v) == KCHAN_OK) n->taken++;
    return NULL;
}

typedef struct {
    kchan_t *c;
    int64_t v;
    int rc;
    kchan_counter *done;
} or_op;

static void *or_send(void *p)
{
    or_op *o = p;
    o->rc = kchan_send(o->c, &o->v);
    kchan_counter_add(o->done, 1);
    return NULL;
}

static void *or_recv(void *p)
{
    or_op *o = p;
    o->rc = kchan_recv(o->c, &o->v);
    kchan_counter_add(o->done, 1);
    return NULL;
}

/* Senders S1, S2, S3 park on a full capacity-1 channel, in that order; main receives
   while the newcomer tries to send. S1's value must come out before S2's before S3's. */
Test(order, parked_senders_served_in_arrival_order, .timeout = T_TIMEOUT)
{
    or_pin(0);
    int64_t t0 = kchan_now_ns();
    int rounds = 0, bad = 0;
    char first_bad[96] = "";
    while (rounds < OR_MAX_ROUNDS && kchan_now_ns() - t0 < OR_BUDGET_NS) {
        kchan_t *c = t_chan(sizeof(int64_t), 1);
        int64_t filler = 0;
        cr_assert_eq(kchan_try_send(c, &filler), KCHAN_OK);
        kchan_counter done;
        kchan_counter_init(&done, 0);
        or_op s[3];
        pthread_t st[3];
        for (int i = 0; i < 3; i++) {
            s[i] = (or_op){ .c = c, .v = i + 1, .done = &done };
            st[i] = t_spawn(or_send, &s[i]);
            t_wait_senders(c, (uint32_t)i + 1);
        }
        or_newcomer n = { .c = c };
        pthread_t nt = t_spawn(or_try_sender, &n);
        int pos[4] = { 0, 0, 0, 0 }, k = 0;
        while (!(pos[1] && pos[2] && pos[3])) {
            int64_t v;
            cr_assert_eq(kchan_recv_timeout(c, &v, (5000 * OR_MS)), KCHAN_OK, "round %d: a parked sender's value "
                         "never came", rounds);
            k++;
            if (v >= 1 && v <= 3) pos[v] = k;
        }
        atomic_store(&n.stop, 1);
        t_join(nt);
        for (int i = 0; i < 3; i++) t_join(st[i]);
        for (int i = 0; i < 3; i++) cr_assert_eq(s[i].rc, KCHAN_OK);
        if (!(pos[1] < pos[2] && pos[2] < pos[3]) && bad++ == 0)
            snprintf(first_bad, sizeof first_bad, "round %d: received S1 %d-th, S2 %d-th, S3 %d-th", rounds, pos[1],
                     pos[2], pos[3]);
        kchan_destroy(c);
        rounds++;
    }
    cr_log_info("order senders: %d rounds, %d out of arrival order", rounds, bad);
    cr_assert_eq(bad, 0, "%d of %d rounds served parked senders out of arrival order; first: %s", bad, rounds,
                 first_bad);
}

/* Receivers R1, R2, R3 park on an empty channel, in that order; main sends 1, 2, 3 in one
   send_many, then 4, 5, ... until all three got one, while the newcomer tries to receive.
   R1's value must be below R2's, below R3's. */
Test(order, parked_receivers_served_in_arrival_order, .timeout = T_TIMEOUT)
{
    or_pin(0);
    int64_t t0 = kchan_now_ns();
    int rounds = 0, bad = 0;
    char first_bad[96] = "";
    while (rounds < OR_MAX_ROUNDS && kchan_now_ns() - t0 < OR_BUDGET_NS) {
        kchan_t *c = t_chan(sizeof(int64_t), 4);
        kchan_counter done;
        kchan_counter_init(&done, 0);
        or_op r[3];
        pthread_t rt[3];
        for (int i = 0; i < 3; i++) {
            r[i] = (or_op){ .c = c, .v = -1, .done = &done };
            rt[i] = t_spawn(or_recv, &r[i]);
            t_wait_receivers(c, (uint32_t)i + 1);
        }
        or_newcomer n = { .c = c };
        pthread_t nt = t_spawn(or_try_receiver, &n);
        int64_t first[3] = { 1, 2, 3 }, next = 4;
        size_t sent = 0;
        cr_assert_eq(kchan_send_many(c, first, 3, &sent, (5000 * OR_MS)), KCHAN_OK);
        cr_assert_eq(sent, 3u);
        while (kchan_counter_wait_ge(&done, 3, (1 * OR_MS)) == KCHAN_TIMEDOUT) {
            cr_assert_lt(next, 100000, "round %d: parked receivers never all served", rounds);
            cr_assert_eq(kchan_send_timeout(c, &next, (5000 * OR_MS)), KCHAN_OK);
            next++;
        }
        atomic_store(&n.stop, 1);
        t_join(nt);
        for (int i = 0; i < 3; i++) t_join(rt[i]);
        for (int i = 0; i < 3; i++) cr_assert_eq(r[i].rc, KCHAN_OK);
        if (!(r[0].v < r[1].v && r[1].v < r[2].v) && bad++ == 0)
            snprintf(first_bad, sizeof first_bad, "round %d: R1 got %lld, R2 %lld, R3 %lld", rounds,
                     (long long)r[0].v, (long long)r[1].v, (long long)r[2].v);
        kchan_destroy(c);
        rounds++;
    }
    cr_log_info("order receivers: %d rounds, %d out of arrival order", rounds, bad);
    cr_assert_eq(bad, 0, "%d of %d rounds served parked receivers out of arrival order; first: %s", bad, rounds,
                 first_bad);
}

/* The bypass bound: how many times a newcomer overtakes one parked waiter. A parked sender
   S on a full capacity-1 channel; main receives while the newcomer tries to send on the
   other core: every newcomer element main receives before S's overtook S. (Go and the mutex
   engine move S's element into the room in the same step as the receive: never.) */
Test(order, bypass_bound_parked_sender, .timeout = T_TIMEOUT)
{
    or_pin(0);
    int64_t t0 = kchan_now_ns();
    int rounds = 0;
    long long total = 0, worst = 0;
    while (rounds < OR_MAX_ROUNDS && kchan_now_ns() - t0 < OR_BUDGET_NS) {
        kchan_t *c = t_chan(sizeof(int64_t), 1);
        int64_t filler = 0;
        cr_assert_eq(kchan_try_send(c, &filler), KCHAN_OK);
        kchan_counter done;
        kchan_counter_init(&done, 0);
        or_op s = { .c = c, .v = -1, .done = &done };
        pthread_t st = t_spawn(or_send, &s);
        t_wait_senders(c, 1);
        or_newcomer n = { .c = c };
        pthread_t nt = t_spawn(or_try_sender, &n);
        long long before = -1;                 /* the filler is not an overtake */
        for (;;) {
            int64_t v;
            cr_assert_eq(kchan_recv_timeout(c, &v, 5000 * OR_MS), KCHAN_OK, "round %d: the parked sender's value "
                         "never came (%lld overtakes so far)", rounds, before);
            if (v == -1) break;
            before++;
        }
        atomic_store(&n.stop, 1);
        t_join(nt);
        t_join(st);
        cr_assert_eq(s.rc, KCHAN_OK);
        total += before;
        if (before > worst) worst = before;
        kchan_destroy(c);
        rounds++;
    }
    cr_log_info("bypass, parked sender: %d rounds, overtaken %lld times in all, at most %lld in one round", rounds,
                total, worst);
    cr_assert_leq(worst, OR_BYPASS_BOUND, "a parked sender was overtaken %lld times in one round", worst);
}

/* The same for a parked receiver R on an empty channel: main sends 1, 2, 3, ... (in pairs,
   with send_many, so that the elements go through the ring rather than straight into R's
   buffer) while the newcomer tries to receive; R's value minus one is how many newcomer
   receives overtook R. */
Test(order, bypass_bound_parked_receiver, .timeout = T_TIMEOUT)
{
    or_pin(0);
    int64_t t0 = kchan_now_ns();
    int rounds = 0;
    long long total = 0, worst = 0;
    while (rounds < OR_MAX_ROUNDS && kchan_now_ns() - t0 < OR_BUDGET_NS) {
        kchan_t *c = t_chan(sizeof(int64_t), 2);
        kchan_counter done;
        kchan_counter_init(&done, 0);
        or_op r = { .c = c, .v = -1, .done = &done };
        pthread_t rt = t_spawn(or_recv, &r);
        t_wait_receivers(c, 1);
        or_newcomer n = { .c = c };
        pthread_t nt = t_spawn(or_try_receiver, &n);
        int64_t next = 1;
        while (kchan_counter_load(&done) == 0) {
            cr_assert_lt(next, 1000000, "round %d: the parked receiver was never served", rounds);
            int64_t pair[2] = { next, next + 1 };
            size_t sent = 0;
            int src = kchan_send_many(c, pair, 2, &sent, 5000 * OR_MS);
            kchan_stats x = t_stats(c);
            cr_assert_eq(src, KCHAN_OK, "round %d: send_many %lld: %s (len %zu, waiting senders %u, receivers %u, "
                         "receiver done %lld)", rounds, (long long)next, kchan_strerror(src), x.len,
                         x.waiting_senders, x.waiting_receivers, (long long)kchan_counter_load(&done));
            cr_assert_eq(sent, 2u);
            next += 2;
        }
        atomic_store(&n.stop, 1);
        t_join(nt);
        t_join(rt);
        cr_assert_eq(r.rc, KCHAN_OK);
        cr_assert_geq(r.v, 1);
        total += r.v - 1;
        if (r.v - 1 > worst) worst = r.v - 1;
        kchan_destroy(c);
        rounds++;
    }
    cr_log_info("bypass, parked receiver: %d rounds, overtaken %lld times in all, at most %lld in one round", rounds,
                total, worst);
    cr_assert_leq(worst, OR_BYPASS_BOUND, "a parked receiver was overtaken %lld times in one round", worst);
}

/* ---- a swap's push wakes a receiver that registered before it (review of the swap) ----
   On a full capacity-1 ring with sender S1 parked, receiver R2 registers (it found the ring
   empty before S0 filled it), then R1's try_recv swaps: between its head and tail moves
   the ring looks empty, and R2's re-check falls in there. The swap's push must then notify
   R2 as every push does ([L10]); before, R2 slept with S1's element in the channel.
   Lock-free only (test points hold R2 and R1 at those places); the mutex engine runs the
   same ops one after another. */
#ifdef KCHAN_LOCKFREE
static _Atomic(const kchan_t *) sw_chan;
static atomic_int sw_armed[16], sw_held[16], sw_release[16];

static _Thread_local int sw_is_r2;          /* the wait points hold R2 only, never S1 */

static void sw_hook(const kchan_t *c, int point)
{
    int one = 1;
    if (c != atomic_load(&sw_chan) || point < 0 || point >= 16) return;
    if (point != KCHAN__TP_SWAP && !sw_is_r2) return;
    if (!atomic_compare_exchange_strong(&sw_armed[point], &one, 0)) return;   /* hold once */
    atomic_store(&sw_held[point], 1);
    while (!atomic_load(&sw_release[point])) sched_yield();
}

static void sw_wait_held(int point)
{
    int64_t end = kchan_now_ns() + 10000 * OR_MS;
    while (!atomic_load(&sw_held[point])) {
        cr_assert_lt(kchan_now_ns(), end, "no thread reached test point %d", point);
        sched_yield();
    }
}
#endif

typedef struct { kchan_t *c; int64_t v; int rc; } sw_op;
__attribute__((unused)) static void *sw_recv_timeout(void *p)
{
    sw_op *o = p;
#ifdef KCHAN_LOCKFREE
    sw_is_r2 = 1;
#endif
    o->rc = kchan_recv_timeout(o->c, &o->v, 2000 * OR_MS);
    return NULL;
}
__attribute__((unused)) static void *sw_try_recv(void *p) { sw_op *o = p; o->rc = kchan_try_recv(o->c, &o->v); return NULL; }
static void *sw_send(void *p) { sw_op *o = p; o->rc = kchan_send(o->c, &o->v); return NULL; }

Test(order, swap_push_wakes_a_registered_receiver, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(sizeof(int64_t), 1);
    sw_op r2 = { .c = c, .v = -1 }, r1 = { .c = c, .v = -1 }, s1 = { .c = c, .v = 11 };
    int64_t s0 = 10;
#ifdef KCHAN_LOCKFREE
    atomic_store(&sw_chan, c);
    atomic_store(&sw_armed[KCHAN__TP_WAIT_ENTER], 1);
    kchan__test_point = sw_hook;
    pthread_t t2 = t_spawn(sw_recv_timeout, &r2);  /* finds the ring empty, held before registering */
    sw_wait_held(KCHAN__TP_WAIT_ENTER);
    cr_assert_eq(kchan_try_send(c, &s0), KCHAN_OK);   /* S0 fills the ring; nobody registered yet */
    pthread_t ts = t_spawn(sw_send, &s1);             /* S1 parks */
    t_wait_senders(c, 1);
    atomic_store(&sw_armed[KCHAN__TP_WAIT_REGISTERED], 1);
    atomic_store(&sw_release[KCHAN__TP_WAIT_ENTER], 1);
    sw_wait_held(KCHAN__TP_WAIT_REGISTERED);          /* R2 registered, not yet looked again */
    atomic_store(&sw_armed[KCHAN__TP_SWAP], 1);
    pthread_t t1 = t_spawn(sw_try_recv, &r1);         /* R1 swaps: held with head moved */
    sw_wait_held(KCHAN__TP_SWAP);
    atomic_store(&sw_release[KCHAN__TP_WAIT_PARK], 1);  /* only noted, not held */
    atomic_store(&sw_armed[KCHAN__TP_WAIT_PARK], 1);
    atomic_store(&sw_release[KCHAN__TP_WAIT_REGISTERED], 1);
    sw_wait_held(KCHAN__TP_WAIT_PARK);                /* R2's look saw head == tail: it parks */
    atomic_store(&sw_release[KCHAN__TP_SWAP], 1);
    t_join(t1);
    t_join(t2);
    t_join(ts);
    kchan__test_point = NULL;
#else
    r2.rc = kchan_try_recv(c, &r2.v);                 /* empty */
    cr_assert_eq(r2.rc, KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_try_send(c, &s0), KCHAN_OK);
    pthread_t ts = t_spawn(sw_send, &s1);
    t_wait_senders(c, 1);
    r1.rc = kchan_try_recv(c, &r1.v);
    r2.rc = kchan_recv_timeout(c, &r2.v, 2000 * OR_MS);
    t_join(ts);
#endif
    cr_expect_eq(r1.rc, KCHAN_OK);
    cr_expect_eq(r1.v, 10);
    cr_expect_eq(s1.rc, KCHAN_OK);
    cr_expect_eq(r2.rc, KCHAN_OK, "the registered receiver: %s with %zu element(s) in the channel",
                 kchan_strerror(r2.rc), kchan_len(c));
    cr_expect_eq(r2.v, 11);
    kchan_destroy(c);
}
