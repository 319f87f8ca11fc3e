/* Timeouts: 0 means try, positive expires with KCHAN_TIMEDOUT after at least the
   time asked, KCHAN_FOREVER means forever (any other negative is KCHAN_INVAL:
   tests/test_badinput.c), INT64_MAX does not overflow, and a timed-out op has no effect. */
#include "common.h"
#include <stdint.h>
#include <time.h>

#define MS ((int64_t)1000000)

typedef struct {
    kchan_t *c;
    int64_t v;
    int64_t timeout;
    int rc;
} op_arg;

static void *recv_timeout_thread(void *p)
{
    op_arg *a = (op_arg *)p;
    a->rc = kchan_recv_timeout(a->c, &a->v, a->timeout);
    return NULL;
}

static void *send_timeout_thread(void *p)
{
    op_arg *a = (op_arg *)p;
    a->rc = kchan_send_timeout(a->c, &a->v, a->timeout);
    return NULL;
}

static kchan_t *make_chan(size_t cap)
{
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = cap };
    cr_assert_eq(kchan_create(&c, sizeof(int64_t), &o), KCHAN_OK);
    cr_assert_not_null(c);
    return c;
}

/* A full channel (send impossible) of the given kind, or NULL for conflated/unlimited. */
static kchan_t *make_full(size_t cap)
{
    kchan_t *c = make_chan(cap);
    for (size_t i = 0; cap != KCHAN_RENDEZVOUS && i < cap; i++) {
        int64_t v = (int64_t)i;
        cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
    }
    return c;
}

/* ---- timeout 0 = try ---- */

Test(timeout, zero_timeout_is_try, .timeout = T_TIMEOUT)
{
    size_t caps[] = { KCHAN_RENDEZVOUS, 2 };
    for (size_t k = 0; k < 2; k++) {
        kchan_t *c = make_full(caps[k]);
        int64_t x = 42;
        size_t n = 99;
        int64_t arr[3] = { 1, 2, 3 };
        int64_t t0 = kchan_now_ns();
        cr_assert_eq(kchan_send_timeout(c, &x, 0), KCHAN_WOULDBLOCK);
        cr_assert_eq(kchan_try_send(c, &x), KCHAN_WOULDBLOCK);
        cr_assert_eq(kchan_send_many(c, arr, 3, &n, 0), KCHAN_WOULDBLOCK);
        cr_assert_eq(n, 0);
        cr_assert_lt(kchan_now_ns() - t0, 1000 * MS, "a try waited");
        kchan_stats st = t_stats(c);
        cr_assert_eq(st.send_full, 3, "send_full counts the try calls");
        cr_assert_eq(st.timeouts, 0);
        cr_assert_eq(st.blocked_sends, 0);
        cr_assert_eq(st.cancelled_waiters, 0);
        cr_assert_eq(st.len, caps[k] == KCHAN_RENDEZVOUS ? 0 : 2);
        kchan_destroy(c);
    }
    size_t rcaps[] = { KCHAN_RENDEZVOUS, 2, KCHAN_UNLIMITED, KCHAN_CONFLATED };
    for (size_t k = 0; k < 4; k++) {
        kchan_t *c = make_chan(rcaps[k]);
        int64_t v = -1, out[4];
        size_t got = 99;
        cr_assert_eq(kchan_recv_timeout(c, &v, 0), KCHAN_WOULDBLOCK);
        cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
        cr_assert_eq(kchan_recv_many(c, out, 4, &got, 0), KCHAN_WOULDBLOCK);
        cr_assert_eq(got, 0);
        cr_assert_eq(v, -1);
        kchan_stats st = t_stats(c);
        cr_assert_eq(st.recv_empty, 3);
        cr_assert_eq(st.timeouts, 0);
        cr_assert_eq(st.blocked_recvs, 0);
        kchan_destroy(c);
    }
}

/* ---- positive timeout on an impossible op ---- */

static void check_elapsed(int64_t t0, int64_t asked)
{
    int64_t el = kchan_now_ns() - t0;
    cr_assert_geq(el, asked, "returned after %lld ns, asked %lld", (long long)el, (long long)asked);
    cr_assert_lt(el, 2000 * MS, "took %lld ns for a %lld ns timeout", (long long)el, (long long)asked);
}

Test(timeout, positive_timeout_expires_send, .timeout = T_TIMEOUT)
{
    size_t caps[] = { KCHAN_RENDEZVOUS, 1, 3 };
    for (size_t k = 0; k < 3; k++) {
        kchan_t *c = make_full(caps[k]);
        size_t len = kchan_len(c);
        int64_t x = 99;
        int64_t t0 = kchan_now_ns();
        cr_assert_eq(kchan_send_timeout(c, &x, 20 * MS), KCHAN_TIMEDOUT);
        check_elapsed(t0, 20 * MS);
        kchan_stats st = t_stats(c);
        cr_assert_eq(st.timeouts, 1);
        cr_assert_eq(st.blocked_sends, 1);
        cr_assert_eq(st.cancelled_waiters, 0, "API.md: cancelled_waiters counts select cases only");
        cr_assert_eq(st.waiting_senders, 0);
        cr_assert_eq(st.send_full, 0, "a positive timeout is not a try");
        cr_assert_eq(st.len, len, "the timed-out element was stored");
        /* nothing of it is left: the buffered ones come out, then nothing */
        for (size_t i = 0; i < len; i++) {
            int64_t v = -1;
            cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK);
            cr_assert_eq(v, (int64_t)i);
        }
        int64_t v = -1;
        cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK, "a timed-out send left its element");
        kchan_destroy(c);
    }
}

Test(timeout, positive_timeout_expires_recv, .timeout = T_TIMEOUT)
{
    size_t caps[] = { KCHAN_RENDEZVOUS, 4, KCHAN_UNLIMITED, KCHAN_CONFLATED };
    for (size_t k = 0; k < 4; k++) {
        kchan_t *c = make_chan(caps[k]);
        int64_t v = -1;
        int64_t t0 = kchan_now_ns();
        cr_assert_eq(kchan_recv_timeout(c, &v, 20 * MS), KCHAN_TIMEDOUT);
        check_elapsed(t0, 20 * MS);
        cr_assert_eq(v, -1);
        kchan_stats st = t_stats(c);
        cr_assert_eq(st.timeouts, 1);
        cr_assert_eq(st.blocked_recvs, 1);
        cr_assert_eq(st.cancelled_waiters, 0, "API.md: cancelled_waiters counts select cases only");
        cr_assert_eq(st.waiting_receivers, 0);
        cr_assert_eq(st.recv_empty, 0);
        /* the timed-out receiver takes nothing sent afterwards */
        if (caps[k] != KCHAN_RENDEZVOUS) {
            int64_t x = 5;
            cr_assert_eq(kchan_send(c, &x), KCHAN_OK);
            cr_assert_eq(kchan_len(c), 1);
            cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK);
            cr_assert_eq(v, 5);
        } else {
            int64_t x = 5;
            cr_assert_eq(kchan_try_send(c, &x), KCHAN_WOULDBLOCK, "a timed-out receiver is still registered");
        }
        kchan_destroy(c);
    }
}

Test(timeout, positive_timeout_expires_many, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_chan(2);
    int64_t arr[5] = { 1, 2, 3, 4, 5 };
    size_t sent = 99;
    int64_t t0 = kchan_now_ns();
    cr_assert_eq(kchan_send_many(c, arr, 5, &sent, 20 * MS), KCHAN_TIMEDOUT);
    check_elapsed(t0, 20 * MS);
    cr_assert_eq(sent, 2, "timeout midway reports what went");
    cr_assert_eq(kchan_len(c), 2);
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.timeouts, 1, "a _many call counts once");
    cr_assert_eq(st.blocked_sends, 1);
    cr_assert_eq(st.sends, 2);
    int64_t out[5];
    size_t got = 0;
    cr_assert_eq(kchan_recv_many(c, out, 5, &got, 20 * MS), KCHAN_OK);
    cr_assert_eq(got, 2);
    cr_assert_eq(out[0], 1);
    cr_assert_eq(out[1], 2);
    got = 99;
    t0 = kchan_now_ns();
    cr_assert_eq(kchan_recv_many(c, out, 5, &got, 20 * MS), KCHAN_TIMEDOUT);
    check_elapsed(t0, 20 * MS);
    cr_assert_eq(got, 0);
    st = t_stats(c);
    cr_assert_eq(st.timeouts, 2);
    cr_assert_eq(st.blocked_recvs, 1);
    cr_assert_eq(st.recvs, 2);
    kchan_destroy(c);
}

Test(timeout, short_timeouts_still_wait_at_least_asked, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_chan(KCHAN_RENDEZVOUS);
    int64_t asks[] = { 1, 1000, 100000, 2 * MS };
    for (size_t i = 0; i < 4; i++) {
        int64_t v;
        int64_t t0 = kchan_now_ns();
        cr_assert_eq(kchan_recv_timeout(c, &v, asks[i]), KCHAN_TIMEDOUT, "timeout %lld ns", (long long)asks[i]);
        check_elapsed(t0, asks[i]);
    }
    cr_assert_eq(t_stats(c).timeouts, 4);
    kchan_destroy(c);
}

/* ---- ops that can complete at once succeed with any timeout ---- */

Test(timeout, ready_op_succeeds_with_any_timeout, .timeout = T_TIMEOUT)
{
    int64_t timeouts[] = { 0, 20 * MS, 1, KCHAN_FOREVER, INT64_MAX, INT64_MAX - 1 };
    size_t caps[] = { 1, 4, KCHAN_UNLIMITED, KCHAN_CONFLATED };
    for (size_t k = 0; k < 4; k++) {
        kchan_t *c = make_chan(caps[k]);
        for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
            int64_t x = (int64_t)i, v = -1;
            int64_t t0 = kchan_now_ns();
            cr_assert_eq(kchan_send_timeout(c, &x, timeouts[i]), KCHAN_OK);
            cr_assert_eq(kchan_recv_timeout(c, &v, timeouts[i]), KCHAN_OK);
            cr_assert_eq(v, x);
            size_t n = 0;
            cr_assert_eq(kchan_send_many(c, &x, 1, &n, timeouts[i]), KCHAN_OK);
            cr_assert_eq(n, 1);
            cr_assert_eq(kchan_recv_many(c, &v, 1, &n, timeouts[i]), KCHAN_OK);
            cr_assert_eq(n, 1);
            cr_assert_eq(v, x);
            cr_assert_lt(kchan_now_ns() - t0, 1000 * MS, "a ready op waited");
        }
        kchan_stats st = t_stats(c);
        cr_assert_eq(st.timeouts, 0);
        cr_assert_eq(st.blocked_sends, 0);
        cr_assert_eq(st.blocked_recvs, 0);
        cr_assert_eq(st.send_full + st.recv_empty, 0);
        kchan_destroy(c);
    }
}

/* ---- KCHAN_FOREVER and INT64_MAX timeouts wait for a partner ---- */

static void parked_recv_completed(int64_t timeout, size_t cap)
{
    kchan_t *c = make_chan(cap);
    op_arg a = { .c = c, .v = -1, .timeout = timeout, .rc = 1 };
    pthread_t t = t_spawn(recv_timeout_thread, &a);
    t_wait_receivers(c, 1);
    int64_t x = 31337;
    cr_assert_eq(kchan_send(c, &x), KCHAN_OK);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK, "timeout %lld: recv returned %d", (long long)timeout, a.rc);
    cr_assert_eq(a.v, 31337);
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.blocked_recvs, 1);
    cr_assert_eq(st.timeouts, 0);
    cr_assert_eq(st.cancelled_waiters, 0, "a completed wait is not withdrawn");
    kchan_destroy(c);
}

static void parked_send_completed(int64_t timeout, size_t cap)
{
    kchan_t *c = make_full(cap);
    size_t len = kchan_len(c);
    op_arg a = { .c = c, .v = 777, .timeout = timeout, .rc = 1 };
    pthread_t t = t_spawn(send_timeout_thread, &a);
    t_wait_senders(c, 1);
    for (size_t i = 0; i < len; i++) {
        int64_t v = -1;
        cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
        cr_assert_eq(v, (int64_t)i);
    }
    int64_t v = -1;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 777);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK, "timeout %lld: send returned %d", (long long)timeout, a.rc);
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.blocked_sends, 1);
    cr_assert_eq(st.timeouts, 0);
    kchan_destroy(c);
}

Test(timeout, forever_timeout_waits_recv, .timeout = T_TIMEOUT)
{
    parked_recv_completed(KCHAN_FOREVER, 4);
    parked_recv_completed(KCHAN_FOREVER, KCHAN_RENDEZVOUS);
    parked_recv_completed(KCHAN_FOREVER, KCHAN_UNLIMITED);
    parked_recv_completed(KCHAN_FOREVER, KCHAN_CONFLATED);
}

Test(timeout, forever_timeout_waits_send, .timeout = T_TIMEOUT)
{
    parked_send_completed(KCHAN_FOREVER, 2);
    parked_send_completed(KCHAN_FOREVER, KCHAN_RENDEZVOUS);
    parked_send_completed(KCHAN_FOREVER, 1);
}

Test(timeout, int64_max_does_not_overflow, .timeout = T_TIMEOUT)
{
    parked_recv_completed(INT64_MAX, 4);
    parked_recv_completed(INT64_MAX, KCHAN_RENDEZVOUS);
    parked_send_completed(INT64_MAX, 2);
    parked_send_completed(INT64_MAX, KCHAN_RENDEZVOUS);
    parked_recv_completed(INT64_MAX - 1, 4);
}

/* A huge timeout parked then closed: woken by the close, not by an overflowed deadline. */
Test(timeout, int64_max_parked_woken_by_close, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_chan(4);
    op_arg a = { .c = c, .v = -1, .timeout = INT64_MAX, .rc = 1 };
    pthread_t t = t_spawn(recv_timeout_thread, &a);
    t_wait_receivers(c, 1);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_CLOSED);
    kchan_destroy(c);
}

/* ---- far finite deadlines sleep, they do not spin (issue 14, adversarial review) ----
   A finite timeout so large that "now + timeout" on some clock overflows (the C11 layer adds
   it to the TIME_UTC clock, ~1.7e18 ns today) must still park the thread: before the fix the
   C11 layer's deadline wrapped, cnd_timedwait failed at once, and the op spun a whole core
   until a partner came. Measured by the parked thread's own CPU clock. */

static const int64_t far_timeouts[] = { (int64_t)8000000000000000000, INT64_MAX - (int64_t)100000000000000,
                                        INT64_MAX - 1, (int64_t)4000000000000000000 };

static void *select_recv_thread(void *p)
{
    op_arg *a = (op_arg *)p;
    kchan_case cases[1] = { { .chan = a->c, .op = KCHAN_OP_RECV, .elem = &a->v } };
    int r = kchan_select(cases, 1, a->timeout);
    a->rc = r == 0 ? cases[0].status : r;
    return NULL;
}

static int64_t thread_cpu_ns(pthread_t t)
{
    clockid_t id;
    struct timespec ts;
    cr_assert_eq(pthread_getcpuclockid(t, &id), 0);
    cr_assert_eq(clock_gettime(id, &ts), 0);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The thread `t`, parked with a far timeout, uses (almost) no CPU in a 300 ms window. The
   sleep is only the measurement window, never an ordering proof: the caller already saw the
   thread registered as a waiter. */
static void assert_parked_idle(pthread_t t, int64_t timeout, const char *what)
{
    int64_t cpu0 = thread_cpu_ns(t);
    struct timespec window = { 0, 300 * MS };
    while (nanosleep(&window, &window) != 0) {}
    int64_t used = thread_cpu_ns(t) - cpu0;
    cr_assert_lt(used, 100 * MS, "%s with timeout %lld used %.3f s of CPU in 0.3 s parked: it spins",
                 what, (long long)timeout, (double)used / 1e9);
}

Test(timeout, far_deadline_recv_parks_without_spinning, .timeout = T_TIMEOUT)
{
    for (size_t i = 0; i < 2; i++) {
        kchan_t *c = make_chan(4);
        op_arg a = { .c = c, .v = -1, .timeout = far_timeouts[i], .rc = 1 };
        pthread_t t = t_spawn(recv_timeout_thread, &a);
        t_wait_receivers(c, 1);
        assert_parked_idle(t, far_timeouts[i], "recv_timeout");
        int64_t x = 4242;
        cr_assert_eq(kchan_send(c, &x), KCHAN_OK);
        t_join(t);
        cr_assert_eq(a.rc, KCHAN_OK, "timeout %lld: recv returned %d", (long long)far_timeouts[i], a.rc);
        cr_assert_eq(a.v, 4242);
        cr_assert_eq(t_stats(c).timeouts, 0);
        kchan_destroy(c);
    }
}

Test(timeout, far_deadline_send_parks_without_spinning, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_full(1);
    op_arg a = { .c = c, .v = 99, .timeout = far_timeouts[0], .rc = 1 };
    pthread_t t = t_spawn(send_timeout_thread, &a);
    t_wait_senders(c, 1);
    assert_parked_idle(t, far_timeouts[0], "send_timeout");
    int64_t v = -1;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 0);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK, "send returned %d", a.rc);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 99);
    kchan_destroy(c);
}

Test(timeout, far_deadline_select_parks_without_spinning, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_chan(KCHAN_UNLIMITED);
    op_arg a = { .c = c, .v = -1, .timeout = far_timeouts[1], .rc = 1 };
    pthread_t t = t_spawn(select_recv_thread, &a);
    t_wait_receivers(c, 1);
    assert_parked_idle(t, far_timeouts[1], "select");
    int64_t x = 5;
    cr_assert_eq(kchan_send(c, &x), KCHAN_OK);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK, "select returned %d", a.rc);
    cr_assert_eq(a.v, 5);
    kchan_destroy(c);
}

/* Every far timeout, on every kind and both directions, still completes when a partner
   comes, and counts no timeout. */
Test(timeout, far_deadline_completes_when_partner_comes, .timeout = T_TIMEOUT)
{
    for (size_t i = 0; i < sizeof far_timeouts / sizeof far_timeouts[0]; i++) {
        parked_recv_completed(far_timeouts[i], 4);
        parked_recv_completed(far_timeouts[i], KCHAN_RENDEZVOUS);
        parked_recv_completed(far_timeouts[i], KCHAN_UNLIMITED);
        parked_recv_completed(far_timeouts[i], KCHAN_CONFLATED);
        parked_send_completed(far_timeouts[i], 2);
        parked_send_completed(far_timeouts[i], KCHAN_RENDEZVOUS);
    }
}

typedef struct {
    kchan_counter *k;
    int64_t timeout;
    int rc;
} counter_arg;

static void *counter_wait_thread(void *p)
{
    counter_arg *a = (counter_arg *)p;
    a->rc = kchan_counter_wait_ge(a->k, 3, a->timeout);
    return NULL;
}

Test(timeout, far_deadline_counter_wait_completes, .timeout = T_TIMEOUT)
{
    static kchan_counter k;
    for (size_t i = 0; i < sizeof far_timeouts / sizeof far_timeouts[0]; i++) {
        kchan_counter_init(&k, 0);
        counter_arg a = { .k = &k, .timeout = far_timeouts[i], .rc = 1 };
        pthread_t t = t_spawn(counter_wait_thread, &a);
        /* White-box: wait until the waiter has announced itself (acquire: nothing to
           publish, it only orders this check before the adds below). */
        while (__atomic_load_n(&k.waiters__, __ATOMIC_ACQUIRE) == 0) sched_yield();
        for (int n = 0; n < 3; n++) kchan_counter_add(&k, 1);
        t_join(t);
        cr_assert_eq(a.rc, KCHAN_OK, "timeout %lld: wait_ge returned %d", (long long)far_timeouts[i], a.rc);
    }
}

/* ---- a timed-out op has no effect on later partners ---- */

Test(timeout, timed_out_rendezvous_send_not_delivered_later, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_chan(KCHAN_RENDEZVOUS);
    int64_t x = 1;
    cr_assert_eq(kchan_send_timeout(c, &x, 5 * MS), KCHAN_TIMEDOUT);
    /* a receiver arriving later waits for a new sender, not the departed one */
    op_arg a = { .c = c, .v = -1, .timeout = KCHAN_FOREVER, .rc = 1 };
    pthread_t t = t_spawn(recv_timeout_thread, &a);
    t_wait_receivers(c, 1);
    int64_t y = 2;
    cr_assert_eq(kchan_send(c, &y), KCHAN_OK);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK);
    cr_assert_eq(a.v, 2, "the receiver got the timed-out element");
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.sends, 1);
    cr_assert_eq(st.recvs, 1);
    kchan_destroy(c);
}

Test(timeout, timed_out_recv_takes_nothing, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_chan(KCHAN_RENDEZVOUS);
    int64_t v = -1;
    cr_assert_eq(kchan_recv_timeout(c, &v, 5 * MS), KCHAN_TIMEDOUT);
    /* a sender arriving later finds no receiver */
    int64_t x = 3;
    cr_assert_eq(kchan_try_send(c, &x), KCHAN_WOULDBLOCK);
    op_arg a = { .c = c, .v = 4, .timeout = KCHAN_FOREVER, .rc = 1 };
    pthread_t t = t_spawn(send_timeout_thread, &a);
    t_wait_senders(c, 1);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 4);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK);
    cr_assert_eq(v, 4);
    kchan_destroy(c);
}

/* Several timed-out waiters leave the wait queue clean: later pairs still meet. */
Test(timeout, many_timed_out_waiters_leave_no_trace, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_chan(KCHAN_RENDEZVOUS);
    enum { N = 4 };
    op_arg a[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        a[i] = (op_arg){ .c = c, .v = -1, .timeout = 30 * MS, .rc = 1 };
        t[i] = t_spawn(recv_timeout_thread, &a[i]);
    }
    for (int i = 0; i < N; i++) {
        t_join(t[i]);
        cr_assert_eq(a[i].rc, KCHAN_TIMEDOUT);
    }
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.waiting_receivers, 0);
    cr_assert_eq(st.timeouts, N);
    cr_assert_eq(st.blocked_recvs, N);
    cr_assert_eq(st.cancelled_waiters, 0, "single ops count timeouts, not cancelled_waiters");
    int64_t x = 1;
    cr_assert_eq(kchan_try_send(c, &x), KCHAN_WOULDBLOCK);
    kchan_destroy(c);
}

/* ---- the clock ---- */

Test(timeout, now_ns_monotonic, .timeout = T_TIMEOUT)
{
    int64_t prev = kchan_now_ns();
    cr_assert_gt(prev, 0);
    for (int i = 0; i < 20000; i++) {
        int64_t now = kchan_now_ns();
        cr_assert_geq(now, prev, "clock went back at %d", i);
        prev = now;
    }
    /* and it advances over a real wait */
    kchan_t *c = make_chan(KCHAN_RENDEZVOUS);
    int64_t v, t0 = kchan_now_ns();
    cr_assert_eq(kchan_recv_timeout(c, &v, 10 * MS), KCHAN_TIMEDOUT);
    cr_assert_geq(kchan_now_ns() - t0, 10 * MS);
    kchan_destroy(c);
}

/* ---- KCHAN_US / KCHAN_MS / KCHAN_SEC (issue 17 item 6) ----
   The argument becomes an int64_t before the multiply (an `int secs` cannot overflow in
   int), a product beyond int64_t saturates instead of wrapping, and no result is ever
   KCHAN_FOREVER: a negative argument gives a negative timeout, which an op calls KCHAN_INVAL. */

Test(timeout, unit_macros_convert, .timeout = T_TIMEOUT)
{
    int secs = 3;
    long ms = 250;
    int64_t us = 7;
    unsigned short small = 2;
    cr_assert_eq(KCHAN_SEC(secs), (int64_t)3000000000, "int seconds overflowed");
    cr_assert_eq(KCHAN_MS(ms), 250 * MS);
    cr_assert_eq(KCHAN_US(us), 7000);
    cr_assert_eq(KCHAN_SEC(small), 2000000000);
    cr_assert_eq(KCHAN_MS(1), MS);
    cr_assert_eq(KCHAN_US(1), 1000);
    cr_assert_eq(KCHAN_SEC(1), 1000 * MS);
    cr_assert_eq(KCHAN_SEC(0), 0);
    cr_assert_eq(KCHAN_SEC(2 + 1), (int64_t)3000000000, "a constant expression argument");
    cr_assert_eq(KCHAN_SEC(INT32_MAX), (int64_t)INT32_MAX * 1000000000);
    int i = 0;
    cr_assert_eq(KCHAN_MS(i++), 0);
    cr_assert_eq(i, 1, "the argument is evaluated once");
}

/* The unit's macro at its limits: exact up to the largest multiple, saturated past it. */
static void unit_limits(int64_t (*conv)(int64_t), int64_t unit)
{
    int64_t top = INT64_MAX / unit, bottom = INT64_MIN / unit;
    cr_assert_eq(conv(top), top * unit, "unit %lld: the largest exact value", (long long)unit);
    cr_assert_eq(conv(top + 1), INT64_MAX, "unit %lld: saturates, does not wrap", (long long)unit);
    cr_assert_eq(conv(INT64_MAX), INT64_MAX);
    cr_assert_eq(conv(bottom), bottom * unit);
    cr_assert_eq(conv(bottom - 1), INT64_MIN);
    cr_assert_eq(conv(INT64_MIN), INT64_MIN);
    for (int64_t v = -3; v < 0; v++) {
        cr_assert_lt(conv(v), 0);
        cr_assert_neq(conv(v), KCHAN_FOREVER, "a negative argument must not mean forever");
    }
    cr_assert_eq(conv(-1), -unit);
}
static int64_t conv_us(int64_t v) { return KCHAN_US(v); }
static int64_t conv_ms(int64_t v) { return KCHAN_MS(v); }
static int64_t conv_sec(int64_t v) { return KCHAN_SEC(v); }

Test(timeout, unit_macros_saturate, .timeout = T_TIMEOUT)
{
    unit_limits(conv_us, 1000);
    unit_limits(conv_ms, 1000000);
    unit_limits(conv_sec, 1000000000);
    cr_assert_eq(KCHAN_SEC(INT64_MAX / 1000000000 + 1), INT64_MAX);
    cr_assert_eq(KCHAN_MS(INT64_MAX), INT64_MAX);
    cr_assert_eq(KCHAN_US(INT64_MIN), INT64_MIN);
}

Test(timeout, unit_macros_in_ops, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_chan(4);
    int64_t v = -1, t0 = kchan_now_ns();
    cr_assert_eq(kchan_recv_timeout(c, &v, KCHAN_MS(20)), KCHAN_TIMEDOUT);
    check_elapsed(t0, 20 * MS);
    t0 = kchan_now_ns();
    kchan_case k[1] = { { c, KCHAN_OP_RECV, &v, -99 } };
    cr_assert_eq(kchan_select(k, 1, KCHAN_US(20000)), KCHAN_TIMEDOUT);
    check_elapsed(t0, 20 * MS);
    kchan_counter n = KCHAN_COUNTER_INIT(0);
    t0 = kchan_now_ns();
    cr_assert_eq(kchan_counter_wait_ge(&n, 1, KCHAN_MS(20)), KCHAN_TIMEDOUT);
    check_elapsed(t0, 20 * MS);
    /* negative arguments are KCHAN_INVAL, not forever, whatever their type */
    int minus = -3;
    uint64_t huge = UINT64_MAX;    /* converts to -1 (wraps), then -1000 ms: still not forever */
    cr_assert_eq(kchan_recv_timeout(c, &v, KCHAN_SEC(minus)), KCHAN_INVAL);
    cr_assert_eq(kchan_recv_timeout(c, &v, KCHAN_MS(huge)), KCHAN_INVAL);
    cr_assert_eq(kchan_counter_wait_ge(&n, 1, KCHAN_US(-1)), KCHAN_INVAL);
    cr_assert_eq(t_stats(c).timeouts, 1);
    kchan_destroy(c);
    /* a saturated timeout waits for its partner */
    parked_recv_completed(KCHAN_SEC(INT64_MAX), 4);
    parked_send_completed(KCHAN_MS(INT64_MAX / 1000), KCHAN_RENDEZVOUS);
}
