/* Regression tests for bugs found in review, one per bug, each named after what broke. */
#include "common.h"
#include <limits.h>

#define MS 1000000LL

typedef struct { kchan_t *c; int64_t timeout; int rc; int64_t value, elapsed; } timed_recv;

static void *recv_with_timeout(void *p)
{
    timed_recv *a = p;
    int64_t t0 = kchan_now_ns();
    a->value = -1;
    a->rc = kchan_recv_timeout(a->c, &a->value, a->timeout);
    a->elapsed = kchan_now_ns() - t0;
    return NULL;
}

/* A receiver whose timeout expires just after a sender claimed it must wait for the
   sender to finish the hand-off: returning early let the sender write into the dead
   stack frame (a second park treated "already parked" as "done"). The sender's second
   element needs the unlimited ring to grow, and the allocator is slowed so the sender
   holds the claim well past the receiver's deadline. (The lock-free engine's unlimited list
   allocates before it claims anyone, so its hand-off has no slow window: there the test
   checks only that the element reaches the receiver.) */
Test(regress, claimed_at_deadline_waits_for_the_handoff, .timeout = T_TIMEOUT)
{
    kchan_t *c = kchan_new(sizeof(int64_t), KCHAN_UNLIMITED);
    cr_assert_not_null(c);
    timed_recv r = { c, 20 * MS, 0, 0, 0 };
    pthread_t t = t_spawn(recv_with_timeout, &r);
    t_wait_receivers(c, 1);
    test_alloc_delay_ns(150 * MS);            /* the growth below holds the lock 150 ms */
    int64_t two[2] = { 41, 42 };
    size_t sent = 0;
    int64_t calls0 = test_alloc_calls();
    cr_assert_eq(kchan_send_many(c, two, 2, &sent, KCHAN_FOREVER), KCHAN_OK);
    int grew_during_handoff = test_alloc_calls() > calls0;
    test_alloc_delay_ns(0);
    t_join(t);
    cr_assert_eq(sent, 2);
    cr_assert_eq(r.rc, KCHAN_OK, "claimed before its withdrawal: the element is its");
    cr_assert_eq(r.value, 41);
    if (grew_during_handoff)
        cr_assert_geq(r.elapsed, 100 * MS, "returned after the hand-off ended, not at its deadline");
    int64_t v;
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 42);
    kchan_destroy(c);
}

/* The same situation for a select: it keeps the element it was claimed for and reports
   the winning case, not a timeout. (Its clean-up must take the sender's channel lock, so
   it cannot return early the way the single op could; the test above is the one that
   catches the early return.) */
typedef struct { kchan_t *a, *b; int idx; int64_t value, elapsed; } sel_arg;
static void *select_with_timeout(void *p)
{
    sel_arg *s = p;
    kchan_case cs[2] = { { s->a, KCHAN_OP_RECV, &s->value, 0 }, { s->b, KCHAN_OP_RECV, &s->value, 0 } };
    int64_t t0 = kchan_now_ns();
    s->idx = kchan_select(cs, 2, 20 * MS);
    s->elapsed = kchan_now_ns() - t0;
    return NULL;
}

Test(regress, select_claimed_at_deadline_keeps_its_element, .timeout = T_TIMEOUT)
{
    kchan_t *a = kchan_new(sizeof(int64_t), KCHAN_UNLIMITED), *b = kchan_new(sizeof(int64_t), 4);
    sel_arg s = { a, b, -99, -1, 0 };
    pthread_t t = t_spawn(select_with_timeout, &s);
    t_wait_receivers(a, 1);
    t_wait_receivers(b, 1);
    test_alloc_delay_ns(150 * MS);
    int64_t two[2] = { 7, 8 };
    size_t sent = 0;
    cr_assert_eq(kchan_send_many(a, two, 2, &sent, KCHAN_FOREVER), KCHAN_OK);
    test_alloc_delay_ns(0);
    t_join(t);
    cr_assert_eq(s.idx, 0, "the select won case 0; it must not report a timeout and lose 7");
    cr_assert_eq(s.value, 7);
    kchan_stats st;
    kchan_stats_get(b, &st);
    cr_assert_eq(st.waiting_receivers, 0);
    cr_assert_eq(st.cancelled_waiters, 1);
    kchan_destroy(a);
    kchan_destroy(b);
}

/* peek on a zero-size unlimited channel computed a slot address from a NULL ring. */
Test(regress, peek_zero_size_unlimited, .timeout = T_TIMEOUT)
{
    kchan_t *c = kchan_new(0, KCHAN_UNLIMITED);
    cr_assert_eq(kchan_try_send(c, NULL), KCHAN_OK);
    cr_assert_eq(kchan_peek(c, NULL), KCHAN_OK);
    cr_assert_eq(kchan_len(c), 1);
    kchan_destroy(c);
}

/* counter_add wrapped with a signed overflow (UB) when computing the returned value. */
Test(regress, counter_add_wraps_without_ub, .timeout = T_TIMEOUT)
{
    kchan_counter k = KCHAN_COUNTER_INIT(INT64_MAX);
    cr_assert_eq(kchan_counter_add(&k, 1), INT64_MIN);
    cr_assert_eq(kchan_counter_load(&k), INT64_MIN);
}

/* is_closed and close_reason: a thread that sees the channel closed sees its reason. */
typedef struct { kchan_t *c; int reason_seen; } reason_arg;
static void *watch_reason(void *p)
{
    reason_arg *a = p;
    while (!kchan_is_closed(a->c)) sched_yield();
    a->reason_seen = kchan_close_reason(a->c);
    return NULL;
}

Test(regress, closed_implies_reason_visible, .timeout = T_TIMEOUT)
{
    for (int i = 0; i < 50; i++) {
        kchan_t *c = kchan_new(4, 1);
        reason_arg a = { c, 0 };
        pthread_t t = t_spawn(watch_reason, &a);
        cr_assert_eq(kchan_close_with(c, 1000 + i), KCHAN_OK);
        t_join(t);
        cr_assert_eq(a.reason_seen, 1000 + i);
        kchan_destroy(c);
    }
}
