/* Close, close_with, close_reason, cancel and destroy: what happens to
   senders, receivers, parked waiters and buffered elements. */
#include "common.h"
#include <stdint.h>


static void *recv_timeout_thread(void *p)
{
    t_op *a = (t_op *)p;
    a->rc = kchan_recv_timeout(a->c, &a->v, (int64_t)10 * 1000000000);
    return NULL;
}

static void *send_thread(void *p)
{
    t_op *a = (t_op *)p;
    a->rc = kchan_send(a->c, &a->v);
    return NULL;
}

static void *send_timeout_thread(void *p)
{
    t_op *a = (t_op *)p;
    a->rc = kchan_send_timeout(a->c, &a->v, (int64_t)10 * 1000000000);
    return NULL;
}

static kchan_t *make_chan(size_t elem_size, size_t cap, t_recorder *rec)
{
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = cap };
    if (rec) { o.on_undelivered = t_record; o.user = rec; }
    cr_assert_eq(kchan_create(&c, elem_size, &o), KCHAN_OK);
    cr_assert_not_null(c);
    return c;
}

static void rec_init(t_recorder *r, size_t elem_size)
{
    memset(r, 0, sizeof *r);
    r->elem_size = elem_size;
}

/* ---- close / close_with / close_reason / is_closed ---- */

Test(close, close_with_first_close_wins, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_chan(8, 4, NULL);
    cr_assert_not(kchan_is_closed(c));
    cr_assert_eq(kchan_close_reason(c), 0);
    cr_assert_not(t_stats(c).closed);
    cr_assert_eq(kchan_close_with(c, 42), KCHAN_OK);
    cr_assert(kchan_is_closed(c));
    cr_assert(t_stats(c).closed);
    cr_assert_eq(kchan_close_reason(c), 42);
    cr_assert_eq(kchan_close_with(c, 7), KCHAN_CLOSED);
    cr_assert_eq(kchan_close_reason(c), 42, "second close_with changed the reason");
    cr_assert_eq(kchan_close(c), KCHAN_CLOSED);
    cr_assert_eq(kchan_close_reason(c), 42, "close after close_with changed the reason");
    cr_assert_eq(kchan_cancel(c), KCHAN_CLOSED);
    cr_assert_eq(kchan_close_reason(c), 42);
    kchan_destroy(c);

    kchan_t *d = make_chan(8, KCHAN_RENDEZVOUS, NULL);
    cr_assert_eq(kchan_close(d), KCHAN_OK);
    cr_assert(kchan_is_closed(d));
    cr_assert_eq(kchan_close_reason(d), 0, "plain close leaves reason 0");
    cr_assert_eq(kchan_close_with(d, 5), KCHAN_CLOSED);
    cr_assert_eq(kchan_close_reason(d), 0, "close_with after close set a reason");
    cr_assert_eq(kchan_close(d), KCHAN_CLOSED);
    kchan_destroy(d);

    /* negative reasons are the user's too */
    kchan_t *e = make_chan(8, KCHAN_UNLIMITED, NULL);
    cr_assert_eq(kchan_close_with(e, -3), KCHAN_OK);
    cr_assert_eq(kchan_close_reason(e), -3);
    kchan_destroy(e);

    /* cancel as the first close: reason 0 */
    kchan_t *f = make_chan(8, KCHAN_CONFLATED, NULL);
    cr_assert_eq(kchan_cancel(f), KCHAN_OK);
    cr_assert(kchan_is_closed(f));
    cr_assert_eq(kchan_close_reason(f), 0);
    cr_assert_eq(kchan_close_with(f, 1), KCHAN_CLOSED);
    cr_assert_eq(kchan_close_reason(f), 0);
    kchan_destroy(f);
}

/* ---- sends after close ---- */

Test(close, sends_after_close_fail_and_store_nothing, .timeout = T_TIMEOUT)
{
    size_t caps[] = { KCHAN_RENDEZVOUS, 4, KCHAN_UNLIMITED, KCHAN_CONFLATED };
    for (size_t k = 0; k < 4; k++) {
        t_recorder rec;
        rec_init(&rec, 8);
        kchan_t *c = make_chan(8, caps[k], &rec);
        int64_t v = 1;
        if (caps[k] != KCHAN_RENDEZVOUS) cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
        cr_assert_eq(kchan_close(c), KCHAN_OK);
        size_t len = kchan_len(c);
        kchan_stats before = t_stats(c);
        int64_t x = 99;
        cr_assert_eq(kchan_send(c, &x), KCHAN_CLOSED);
        cr_assert_eq(kchan_try_send(c, &x), KCHAN_CLOSED);
        cr_assert_eq(kchan_send_timeout(c, &x, 0), KCHAN_CLOSED);
        cr_assert_eq(kchan_send_timeout(c, &x, 1000000), KCHAN_CLOSED);
        cr_assert_eq(kchan_send_timeout(c, &x, KCHAN_FOREVER), KCHAN_CLOSED);
        size_t sent = 77;
        int64_t arr[3] = { 5, 6, 7 };
        cr_assert_eq(kchan_send_many(c, arr, 3, &sent, KCHAN_FOREVER), KCHAN_CLOSED);
        cr_assert_eq(sent, 0);
        cr_assert_eq(kchan_len(c), len, "a send after close stored something (cap %zu)", caps[k]);
        kchan_stats after = t_stats(c);
        cr_assert_eq(after.sends, before.sends, "a failed send was counted");
        cr_assert_eq(atomic_load(&rec.calls), 0, "caller keeps its element: no on_undelivered");
        /* the buffered element still comes out, then CLOSED */
        if (caps[k] != KCHAN_RENDEZVOUS) {
            int64_t out = -1;
            cr_assert_eq(kchan_recv(c, &out), KCHAN_OK);
            cr_assert_eq(out, 1);
        }
        int64_t out = -1;
        cr_assert_eq(kchan_recv(c, &out), KCHAN_CLOSED);
        cr_assert_eq(kchan_try_recv(c, &out), KCHAN_CLOSED);
        kchan_destroy(c);
        cr_assert_eq(atomic_load(&rec.calls), 0);
    }
}

Test(close, receivers_drain_in_order_then_closed, .timeout = T_TIMEOUT)
{
    size_t caps[] = { 8, KCHAN_UNLIMITED };
    for (size_t k = 0; k < 2; k++) {
        kchan_t *c = make_chan(8, caps[k], NULL);
        for (int64_t i = 1; i <= 8; i++) cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
        cr_assert_eq(kchan_close(c), KCHAN_OK);
        cr_assert_eq(kchan_len(c), 8);
        for (int64_t i = 1; i <= 8; i++) {
            int64_t v = -1;
            int rc;
            /* every recv flavour drains */
            switch (i % 4) {
            case 0: rc = kchan_recv(c, &v); break;
            case 1: rc = kchan_try_recv(c, &v); break;
            case 2: rc = kchan_recv_timeout(c, &v, 1000000); break;
            default: rc = kchan_recv_timeout(c, &v, KCHAN_FOREVER); break;
            }
            cr_assert_eq(rc, KCHAN_OK);
            cr_assert_eq(v, i);
        }
        int64_t v;
        cr_assert_eq(kchan_recv(c, &v), KCHAN_CLOSED);
        cr_assert_eq(kchan_try_recv(c, &v), KCHAN_CLOSED);
        cr_assert_eq(kchan_recv_timeout(c, &v, 1000000), KCHAN_CLOSED);
        cr_assert_eq(kchan_recv_timeout(c, &v, 0), KCHAN_CLOSED);
        kchan_destroy(c);
    }
    kchan_t *f = make_chan(8, KCHAN_CONFLATED, NULL);
    for (int64_t i = 1; i <= 3; i++) cr_assert_eq(kchan_send(f, &i), KCHAN_OK);
    cr_assert_eq(kchan_close(f), KCHAN_OK);
    int64_t v = -1;
    cr_assert_eq(kchan_recv(f, &v), KCHAN_OK);
    cr_assert_eq(v, 3);
    cr_assert_eq(kchan_recv(f, &v), KCHAN_CLOSED);
    kchan_destroy(f);
}

/* ---- parked waiters on close ---- */

static void blocked_receivers_wake(size_t cap)
{
    kchan_t *c = make_chan(8, cap, NULL);
    enum { N = 3 };
    t_op a[N + 1];
    pthread_t t[N + 1];
    for (int i = 0; i < N; i++) {
        a[i] = (t_op){ .c = c, .v = -1, .rc = 1 };
        t[i] = t_spawn(t_recv_thread, &a[i]);
    }
    a[N] = (t_op){ .c = c, .v = -1, .rc = 1 };
    t[N] = t_spawn(recv_timeout_thread, &a[N]);
    t_wait_receivers(c, N + 1);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    for (int i = 0; i <= N; i++) {
        t_join(t[i]);
        cr_assert_eq(a[i].rc, KCHAN_CLOSED, "receiver %d woke with %d", i, a[i].rc);
        cr_assert_eq(a[i].v, -1);
    }
    cr_assert_eq(t_stats(c).waiting_receivers, 0);
    kchan_destroy(c);
}

Test(close, blocked_receivers_wake_closed_bounded, .timeout = T_TIMEOUT) { blocked_receivers_wake(4); }
Test(close, blocked_receivers_wake_closed_rendezvous, .timeout = T_TIMEOUT) { blocked_receivers_wake(KCHAN_RENDEZVOUS); }
Test(close, blocked_receivers_wake_closed_unlimited, .timeout = T_TIMEOUT) { blocked_receivers_wake(KCHAN_UNLIMITED); }
Test(close, blocked_receivers_wake_closed_conflated, .timeout = T_TIMEOUT) { blocked_receivers_wake(KCHAN_CONFLATED); }

Test(close, blocked_senders_on_full_bounded_wake_closed, .timeout = T_TIMEOUT)
{
    t_recorder rec;
    rec_init(&rec, 8);
    kchan_t *c = make_chan(8, 1, &rec);
    int64_t first = 1;
    cr_assert_eq(kchan_send(c, &first), KCHAN_OK);
    t_op a[3];
    pthread_t t[3];
    for (int i = 0; i < 2; i++) {
        a[i] = (t_op){ .c = c, .v = 100 + i, .rc = 1 };
        t[i] = t_spawn(send_thread, &a[i]);
    }
    a[2] = (t_op){ .c = c, .v = 102, .rc = 1 };
    t[2] = t_spawn(send_timeout_thread, &a[2]);
    t_wait_senders(c, 3);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    for (int i = 0; i < 3; i++) {
        t_join(t[i]);
        cr_assert_eq(a[i].rc, KCHAN_CLOSED, "sender %d woke with %d", i, a[i].rc);
    }
    int64_t v = -1;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 1);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_CLOSED, "a blocked sender's element was delivered after close");
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.sends, 1);
    cr_assert_eq(st.waiting_senders, 0);
    cr_assert_eq(st.blocked_sends, 3);
    kchan_destroy(c);
    cr_assert_eq(atomic_load(&rec.calls), 0, "the senders kept their elements: nothing undelivered");
}

Test(close, blocked_senders_on_rendezvous_wake_closed, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_chan(8, KCHAN_RENDEZVOUS, NULL);
    t_op a[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        a[i] = (t_op){ .c = c, .v = 100 + i, .rc = 1 };
        t[i] = t_spawn(i ? send_timeout_thread : send_thread, &a[i]);
    }
    t_wait_senders(c, 2);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    for (int i = 0; i < 2; i++) {
        t_join(t[i]);
        cr_assert_eq(a[i].rc, KCHAN_CLOSED);
    }
    int64_t v = -1;
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_CLOSED);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_CLOSED);
    cr_assert_eq(v, -1);
    cr_assert_eq(t_stats(c).sends, 0);
    kchan_destroy(c);
}

/* ---- cancel ---- */

Test(close, cancel_hands_buffered_to_on_undelivered_in_order, .timeout = T_TIMEOUT)
{
    t_recorder rec;
    rec_init(&rec, 8);
    kchan_t *c = make_chan(8, 8, &rec);
    for (int64_t i = 1; i <= 5; i++) cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
    int64_t v;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);   /* 1 delivered */
    cr_assert_eq(kchan_cancel(c), KCHAN_OK);
    cr_assert(kchan_is_closed(c));
    cr_assert_eq(kchan_len(c), 0);
    cr_assert_eq(atomic_load(&rec.calls), 4);
    for (int i = 0; i < 4; i++) cr_assert_eq(rec.values[i], i + 2, "cancel order: [%d] = %lld", i, rec.values[i]);
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.undelivered, 4);
    cr_assert_eq(st.len, 0);
    cr_assert_eq(st.sends, st.recvs + st.drops_newest + st.drops_oldest + st.undelivered + st.len);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_CLOSED);
    /* again: already closed, nothing left to hand over */
    cr_assert_eq(kchan_cancel(c), KCHAN_CLOSED);
    cr_assert_eq(atomic_load(&rec.calls), 4);
    kchan_destroy(c);
    cr_assert_eq(atomic_load(&rec.calls), 4, "destroy handed over an element cancel had already discarded");
}

Test(close, cancel_after_close_still_discards, .timeout = T_TIMEOUT)
{
    size_t caps[] = { 4, KCHAN_UNLIMITED, KCHAN_CONFLATED };
    for (size_t k = 0; k < 3; k++) {
        t_recorder rec;
        rec_init(&rec, 8);
        kchan_t *c = make_chan(8, caps[k], &rec);
        int64_t n = caps[k] == KCHAN_CONFLATED ? 1 : 3;
        for (int64_t i = 1; i <= n; i++) cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
        cr_assert_eq(kchan_close_with(c, 11), KCHAN_OK);
        cr_assert_eq(kchan_len(c), (size_t)n);
        cr_assert_eq(kchan_cancel(c), KCHAN_CLOSED);
        cr_assert_eq(kchan_close_reason(c), 11);
        cr_assert_eq(kchan_len(c), 0);
        cr_assert_eq(atomic_load(&rec.calls), n);
        for (int64_t i = 0; i < n; i++) cr_assert_eq(rec.values[i], i + 1);
        cr_assert_eq(t_stats(c).undelivered, (uint64_t)n);
        int64_t v;
        cr_assert_eq(kchan_recv(c, &v), KCHAN_CLOSED);
        kchan_destroy(c);
        cr_assert_eq(atomic_load(&rec.calls), n);
    }
}

Test(close, cancel_unlimited_many_exactly_once, .timeout = T_TIMEOUT)
{
    t_recorder rec;
    rec_init(&rec, 8);
    kchan_t *c = make_chan(8, KCHAN_UNLIMITED, &rec);
    for (int64_t i = 0; i < 3000; i++) cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
    cr_assert_eq(kchan_cancel(c), KCHAN_OK);
    cr_assert_eq(atomic_load(&rec.calls), 3000);
    for (int i = 0; i < 3000; i++) cr_assert_eq(rec.values[i], i);
    cr_assert_eq(t_stats(c).undelivered, 3000);
    kchan_destroy(c);
    cr_assert_eq(atomic_load(&rec.calls), 3000);
}

Test(close, cancel_wakes_parked_receivers_and_senders, .timeout = T_TIMEOUT)
{
    kchan_t *r = make_chan(8, 2, NULL);
    t_op a = { .c = r, .v = -1, .rc = 1 };
    pthread_t t = t_spawn(t_recv_thread, &a);
    t_wait_receivers(r, 1);
    cr_assert_eq(kchan_cancel(r), KCHAN_OK);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_CLOSED);
    kchan_destroy(r);

    t_recorder rec;
    rec_init(&rec, 8);
    kchan_t *s = make_chan(8, 1, &rec);
    int64_t one = 1;
    cr_assert_eq(kchan_send(s, &one), KCHAN_OK);
    t_op b = { .c = s, .v = 2, .rc = 1 };
    t = t_spawn(send_thread, &b);
    t_wait_senders(s, 1);
    cr_assert_eq(kchan_cancel(s), KCHAN_OK);
    t_join(t);
    cr_assert_eq(b.rc, KCHAN_CLOSED);
    cr_assert_eq(atomic_load(&rec.calls), 1, "only the buffered element is undelivered");
    cr_assert_eq(rec.values[0], 1);
    kchan_destroy(s);
    cr_assert_eq(atomic_load(&rec.calls), 1);
}

/* ---- destroy ---- */

Test(close, destroy_hands_leftovers_exactly_once, .timeout = T_TIMEOUT)
{
    size_t caps[] = { 8, KCHAN_UNLIMITED, KCHAN_CONFLATED };
    for (size_t k = 0; k < 3; k++) {
        t_recorder rec;
        rec_init(&rec, 8);
        kchan_t *c = make_chan(8, caps[k], &rec);
        int64_t n = caps[k] == KCHAN_UNLIMITED ? 1000 : caps[k] == KCHAN_CONFLATED ? 1 : 8;
        for (int64_t i = 0; i < n; i++) cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
        int64_t v;
        if (n > 1) {
            cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
            cr_assert_eq(v, 0);
        }
        cr_assert_eq(atomic_load(&rec.calls), 0);
        kchan_destroy(c);
        int64_t left = n > 1 ? n - 1 : 1;
        cr_assert_eq(atomic_load(&rec.calls), left, "cap %zu: %ld calls, want %lld", caps[k],
                     atomic_load(&rec.calls), (long long)left);
        /* each leftover exactly once */
        static unsigned char seen[1000];
        memset(seen, 0, sizeof seen);
        for (int64_t i = 0; i < left; i++) {
            long long x = rec.values[i];
            cr_assert(x >= 0 && x < n);
            cr_assert_eq(seen[x], 0, "value %lld handed over twice", x);
            seen[x] = 1;
        }
        if (n > 1) cr_assert_eq(seen[0], 0, "a delivered element was handed to on_undelivered");
        cr_assert_eq(test_alloc_live_blocks(), 0);
    }
}

Test(close, destroy_closed_channel_with_leftovers, .timeout = T_TIMEOUT)
{
    t_recorder rec;
    rec_init(&rec, 8);
    kchan_t *c = make_chan(8, 4, &rec);
    for (int64_t i = 0; i < 3; i++) cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    cr_assert_eq(atomic_load(&rec.calls), 0, "close alone must not discard");
    kchan_destroy(c);
    cr_assert_eq(atomic_load(&rec.calls), 3);
}

Test(close, on_undelivered_gets_null_for_elem_size_zero, .timeout = T_TIMEOUT)
{
    t_recorder rec;
    rec_init(&rec, 0);
    kchan_t *c = make_chan(0, 4, &rec);
    for (int i = 0; i < 3; i++) cr_assert_eq(kchan_send(c, NULL), KCHAN_OK);
    cr_assert_eq(kchan_cancel(c), KCHAN_OK);
    cr_assert_eq(atomic_load(&rec.calls), 3);
    cr_assert_eq(atomic_load(&rec.nulls), 3);
    cr_assert_eq(t_stats(c).undelivered, 3);
    kchan_destroy(c);
    cr_assert_eq(atomic_load(&rec.calls), 3);

    t_recorder rec2;
    rec_init(&rec2, 0);
    kchan_t *u = make_chan(0, KCHAN_UNLIMITED, &rec2);
    for (int i = 0; i < 5; i++) cr_assert_eq(kchan_send(u, NULL), KCHAN_OK);
    kchan_destroy(u);
    cr_assert_eq(atomic_load(&rec2.calls), 5);
    cr_assert_eq(atomic_load(&rec2.nulls), 5);
}

/* ---- batch ops and peek after close ---- */

Test(close, many_and_peek_after_close, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_chan(8, 8, NULL);
    int64_t in[3] = { 1, 2, 3 };
    size_t sent = 0, got = 99;
    cr_assert_eq(kchan_send_many(c, in, 3, &sent, 0), KCHAN_OK);
    cr_assert_eq(sent, 3);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    sent = 99;
    cr_assert_eq(kchan_send_many(c, in, 3, &sent, 0), KCHAN_CLOSED);
    cr_assert_eq(sent, 0);
    sent = 99;
    cr_assert_eq(kchan_send_many(c, in, 0, &sent, 0), KCHAN_OK, "n 0 is OK even when closed");
    cr_assert_eq(sent, 0);
    int64_t v = -1;
    cr_assert_eq(kchan_peek(c, &v), KCHAN_OK);
    cr_assert_eq(v, 1);
    int64_t out[8] = { 0 };
    cr_assert_eq(kchan_recv_many(c, out, 2, &got, 0), KCHAN_OK);
    cr_assert_eq(got, 2);
    cr_assert_eq(out[0], 1);
    cr_assert_eq(out[1], 2);
    cr_assert_eq(kchan_recv_many(c, out, 8, &got, KCHAN_FOREVER), KCHAN_OK);
    cr_assert_eq(got, 1);
    cr_assert_eq(out[0], 3);
    got = 99;
    cr_assert_eq(kchan_recv_many(c, out, 8, &got, KCHAN_FOREVER), KCHAN_CLOSED);
    cr_assert_eq(got, 0);
    got = 99;
    cr_assert_eq(kchan_recv_many(c, out, 8, &got, 0), KCHAN_CLOSED);
    cr_assert_eq(got, 0);
    cr_assert_eq(kchan_recv_many(c, out, 8, &got, 1000000), KCHAN_CLOSED);
    cr_assert_eq(kchan_peek(c, &v), KCHAN_CLOSED);
    kchan_destroy(c);
}

typedef struct {
    kchan_t *c;
    int64_t buf[16];
    size_t n, count;
    int rc;
} many_arg;

static void *send_many_thread(void *p)
{
    many_arg *a = (many_arg *)p;
    a->rc = kchan_send_many(a->c, a->buf, a->n, &a->count, KCHAN_FOREVER);
    return NULL;
}

static void *recv_many_thread(void *p)
{
    many_arg *a = (many_arg *)p;
    a->rc = kchan_recv_many(a->c, a->buf, 16, &a->count, KCHAN_FOREVER);
    return NULL;
}

Test(close, send_many_closed_midway_reports_sent, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_chan(8, 2, NULL);
    many_arg a = { .c = c, .n = 5, .count = 99, .rc = 1 };
    for (int i = 0; i < 5; i++) a.buf[i] = 10 + i;
    pthread_t t = t_spawn(send_many_thread, &a);
    t_wait_senders(c, 1);
    cr_assert_eq(kchan_len(c), 2);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_CLOSED);
    cr_assert_eq(a.count, 2);
    int64_t v;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 10);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 11);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_CLOSED);
    cr_assert_eq(t_stats(c).sends, 2);
    kchan_destroy(c);
}

Test(close, parked_recv_many_wakes_closed, .timeout = T_TIMEOUT)
{
    kchan_t *c = make_chan(8, 4, NULL);
    many_arg a = { .c = c, .count = 99, .rc = 1 };
    pthread_t t = t_spawn(recv_many_thread, &a);
    t_wait_receivers(c, 1);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_CLOSED);
    cr_assert_eq(a.count, 0);
    kchan_destroy(c);
}

/* Close right after the last send: a consumer on another thread gets every element, in order. */
typedef struct { kchan_t *c; int64_t sum, count; int order_ok; int rc; } drain_arg;

static void *drain_consumer(void *p)
{
    drain_arg *a = (drain_arg *)p;
    int64_t last = -1;
    a->order_ok = 1;
    for (;;) {
        int64_t v;
        int rc = kchan_recv(a->c, &v);
        if (rc != KCHAN_OK) { a->rc = rc; break; }
        if (v != last + 1) a->order_ok = 0;
        last = v;
        a->sum += v;
        a->count++;
    }
    return NULL;
}

Test(close, close_after_sends_loses_nothing_across_threads, .timeout = T_TIMEOUT)
{
    size_t caps[] = { KCHAN_RENDEZVOUS, 3, KCHAN_UNLIMITED };
    for (size_t k = 0; k < 3; k++) {
        kchan_t *c = make_chan(8, caps[k], NULL);
        enum { N = 2000 };
        drain_arg a = { .c = c };
        pthread_t t = t_spawn(drain_consumer, &a);
        for (int64_t i = 0; i < N; i++) cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
        cr_assert_eq(kchan_close(c), KCHAN_OK);
        t_join(t);
        cr_assert_eq(a.rc, KCHAN_CLOSED);
        cr_assert_eq(a.count, N, "cap %zu: got %lld of %d", caps[k], (long long)a.count, N);
        cr_assert_eq(a.sum, (int64_t)N * (N - 1) / 2);
        cr_assert(a.order_ok);
        kchan_destroy(c);
    }
}
