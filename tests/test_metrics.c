/* Per-channel metrics (API.md "Observability"): every kchan_stats field in small
   deterministic scenarios, exact conservation after a multi-threaded run, and
   the exact kchan_dump line. */
#include "common.h"
#include <inttypes.h>
#include <stdio.h>

#define MS (INT64_C(1000000))

static kchan_t *mk(size_t elem_size, size_t cap, kchan_overflow ov, const char *name,
                   t_recorder *rec)
{
    kchan_opts o = { .capacity = cap, .overflow = ov, .name = name };
    if (rec) {
        rec->elem_size = elem_size;
        o.on_undelivered = t_record;
        o.user = rec;
    }
    kchan_t *c = NULL;
    cr_assert_eq(kchan_create(&c, elem_size, &o), KCHAN_OK);
    cr_assert_not_null(c);
    return c;
}

/* Every field of the snapshot against the expectation (zero where not given). */
static void check_stats(const kchan_t *c, kchan_stats e, const char *where)
{
    kchan_stats s;
    memset(&s, 0xa5, sizeof s);
    kchan_stats_get(c, &s);
#define F(f) cr_assert_eq(s.f, e.f, "%s: stats." #f " = %llu, expected %llu", where, \
                          (unsigned long long)s.f, (unsigned long long)e.f)
    F(version); F(sends); F(recvs); F(drops_newest); F(drops_oldest); F(undelivered);
    F(send_full); F(recv_empty); F(timeouts); F(cancelled_waiters); F(blocked_sends);
    F(blocked_recvs); F(len); F(cap); F(max_len); F(waiting_senders); F(waiting_receivers);
    F(closed);
#undef F
}
#define V KCHAN_STATS_VERSION

static void send_int(kchan_t *c, int v) { cr_assert_eq(kchan_send(c, &v), KCHAN_OK); }
static int recv_int(kchan_t *c)
{
    int v = -1;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    return v;
}

/* A thread doing one op, for blocking scenarios. */
typedef struct {
    kchan_t *c;
    int send;          /* 1 send, 0 recv */
    int val;
    int64_t timeout;
    int rc;
    int out;
} op_arg;
static void *op_main(void *p)
{
    op_arg *a = p;
    if (a->send) a->rc = kchan_send_timeout(a->c, &a->val, a->timeout);
    else a->rc = kchan_recv_timeout(a->c, &a->out, a->timeout);
    return NULL;
}

/* ---- fields one by one ------------------------------------------------------ */

Test(metrics, fresh_channels_every_kind, .timeout = T_TIMEOUT)
{
    kchan_t *b = mk(4, 4, KCHAN_BLOCK, NULL, NULL);
    kchan_t *r = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK, NULL, NULL);
    kchan_t *u = mk(4, KCHAN_UNLIMITED, KCHAN_BLOCK, NULL, NULL);
    kchan_t *f = mk(4, KCHAN_CONFLATED, KCHAN_BLOCK, NULL, NULL);
    kchan_t *z = mk(0, 3, KCHAN_DROP_NEWEST, NULL, NULL);
    check_stats(b, (kchan_stats){ .version = V, .cap = 4 }, "bounded");
    check_stats(r, (kchan_stats){ .version = V, .cap = 0 }, "rendezvous");
    check_stats(u, (kchan_stats){ .version = V, .cap = KCHAN_UNLIMITED }, "unlimited");
    check_stats(f, (kchan_stats){ .version = V, .cap = 1 }, "conflated");
    check_stats(z, (kchan_stats){ .version = V, .cap = 3 }, "zero-size");
    cr_assert_eq(kchan_cap(b), 4);
    cr_assert_eq(kchan_cap(r), 0);
    cr_assert_eq(kchan_cap(u), KCHAN_UNLIMITED);
    cr_assert_eq(kchan_cap(f), 1);
    kchan_destroy(b); kchan_destroy(r); kchan_destroy(u); kchan_destroy(f); kchan_destroy(z);
}

Test(metrics, null_channel_zeroes_stats, .timeout = T_TIMEOUT)
{
    kchan_stats s;
    memset(&s, 0xff, sizeof s);
    kchan_stats_get(NULL, &s);
    kchan_stats zero;
    memset(&zero, 0, sizeof zero);
    cr_assert_eq(s.version, 0);
    cr_assert_eq(s.sends, 0); cr_assert_eq(s.recvs, 0); cr_assert_eq(s.len, 0);
    cr_assert_eq(s.cap, 0); cr_assert_eq(s.max_len, 0); cr_assert_eq(s.closed, false);
    cr_assert_eq(s.waiting_senders, 0); cr_assert_eq(s.waiting_receivers, 0);
    cr_assert_eq(s.cancelled_waiters, 0); cr_assert_eq(s.undelivered, 0);
    cr_assert_eq(kchan_len(NULL), 0);
    cr_assert_eq(kchan_cap(NULL), 0);
    char buf[64];
    cr_assert_eq(kchan_dump(NULL, buf, sizeof buf), KCHAN_INVAL);
}

Test(metrics, sends_recvs_len_max_len, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, 4, KCHAN_BLOCK, NULL, NULL);
    send_int(c, 1); send_int(c, 2); send_int(c, 3);
    check_stats(c, (kchan_stats){ .version = V, .sends = 3, .len = 3, .cap = 4, .max_len = 3 },
                "after 3 sends");
    cr_assert_eq(kchan_len(c), 3);
    cr_assert_eq(recv_int(c), 1); cr_assert_eq(recv_int(c), 2); cr_assert_eq(recv_int(c), 3);
    send_int(c, 4); send_int(c, 5);
    check_stats(c, (kchan_stats){ .version = V, .sends = 5, .recvs = 3, .len = 2, .cap = 4,
                                  .max_len = 3 }, "max_len is a high-water mark");
    int in[3] = { 6, 7, 8 }, out[8];
    size_t n = 99;
    cr_assert_eq(kchan_send_many(c, in, 2, &n, 0), KCHAN_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(kchan_recv_many(c, out, 8, &n, 0), KCHAN_OK);
    cr_assert_eq(n, 4);
    cr_assert_eq(out[0], 4); cr_assert_eq(out[3], 7);
    int v = 9;
    cr_assert_eq(kchan_try_send(c, &v), KCHAN_OK);
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 9);
    cr_assert_eq(kchan_peek(c, &v), KCHAN_WOULDBLOCK);
    check_stats(c, (kchan_stats){ .version = V, .sends = 8, .recvs = 8, .len = 0, .cap = 4,
                                  .max_len = 4, .recv_empty = 0 },
                "many ops count each element; peek counts nothing");
    kchan_destroy(c);

    kchan_t *u = mk(4, KCHAN_UNLIMITED, KCHAN_BLOCK, NULL, NULL);
    for (int i = 0; i < 10; i++) send_int(u, i);
    for (int i = 0; i < 10; i++) cr_assert_eq(recv_int(u), i);
    check_stats(u, (kchan_stats){ .version = V, .sends = 10, .recvs = 10, .cap = KCHAN_UNLIMITED,
                                  .max_len = 10 }, "unlimited");
    kchan_destroy(u);
}

Test(metrics, drops_newest, .timeout = T_TIMEOUT)
{
    static t_recorder rec;
    kchan_t *c = mk(4, 2, KCHAN_DROP_NEWEST, NULL, &rec);
    for (int i = 1; i <= 5; i++) send_int(c, i);
    int v = 6;
    cr_assert_eq(kchan_try_send(c, &v), KCHAN_OK, "drop-newest never reports full");
    check_stats(c, (kchan_stats){ .version = V, .sends = 6, .drops_newest = 4, .len = 2,
                                  .cap = 2, .max_len = 2 }, "drop-newest");
    cr_assert_eq(atomic_load(&rec.calls), 4);
    cr_assert_eq(rec.values[0], 3); cr_assert_eq(rec.values[1], 4);
    cr_assert_eq(rec.values[2], 5); cr_assert_eq(rec.values[3], 6);
    cr_assert_eq(recv_int(c), 1); cr_assert_eq(recv_int(c), 2);
    kchan_destroy(c);
    cr_assert_eq(atomic_load(&rec.calls), 4, "nothing left at destroy");
}

Test(metrics, drops_oldest_and_conflated, .timeout = T_TIMEOUT)
{
    static t_recorder rec, rec2;
    kchan_t *c = mk(4, 2, KCHAN_DROP_OLDEST, NULL, &rec);
    for (int i = 1; i <= 5; i++) send_int(c, i);
    check_stats(c, (kchan_stats){ .version = V, .sends = 5, .drops_oldest = 3, .len = 2,
                                  .cap = 2, .max_len = 2 }, "drop-oldest");
    cr_assert_eq(atomic_load(&rec.calls), 3);
    cr_assert_eq(rec.values[0], 1); cr_assert_eq(rec.values[1], 2); cr_assert_eq(rec.values[2], 3);
    cr_assert_eq(recv_int(c), 4); cr_assert_eq(recv_int(c), 5);
    kchan_destroy(c);

    kchan_t *f = mk(4, KCHAN_CONFLATED, KCHAN_BLOCK, NULL, &rec2);
    for (int i = 1; i <= 3; i++) send_int(f, i);
    check_stats(f, (kchan_stats){ .version = V, .sends = 3, .drops_oldest = 2, .len = 1,
                                  .cap = 1, .max_len = 1 }, "conflated");
    cr_assert_eq(recv_int(f), 3);
    send_int(f, 4);
    check_stats(f, (kchan_stats){ .version = V, .sends = 4, .recvs = 1, .drops_oldest = 2,
                                  .len = 1, .cap = 1, .max_len = 1 }, "conflated, refilled");
    kchan_destroy(f);
    cr_assert_eq(atomic_load(&rec2.calls), 3, "2 replaced + 1 left at destroy");
    cr_assert_eq(rec2.values[0], 1); cr_assert_eq(rec2.values[1], 2); cr_assert_eq(rec2.values[2], 4);
}

Test(metrics, undelivered_cancel_and_destroy, .timeout = T_TIMEOUT)
{
    static t_recorder rec, rec2;
    kchan_t *c = mk(4, 4, KCHAN_BLOCK, NULL, &rec);
    for (int i = 1; i <= 3; i++) send_int(c, i);
    cr_assert_eq(recv_int(c), 1);
    cr_assert_eq(kchan_cancel(c), KCHAN_OK);
    check_stats(c, (kchan_stats){ .version = V, .sends = 3, .recvs = 1, .undelivered = 2,
                                  .cap = 4, .max_len = 3, .closed = true }, "after cancel");
    cr_assert_eq(atomic_load(&rec.calls), 2);
    kchan_destroy(c);
    cr_assert_eq(atomic_load(&rec.calls), 2, "cancel already handed them over");

    kchan_t *d = mk(4, KCHAN_UNLIMITED, KCHAN_BLOCK, NULL, &rec2);
    for (int i = 1; i <= 5; i++) send_int(d, i);
    cr_assert_eq(kchan_close(d), KCHAN_OK);
    check_stats(d, (kchan_stats){ .version = V, .sends = 5, .len = 5, .cap = KCHAN_UNLIMITED,
                                  .max_len = 5, .closed = true }, "closed, not drained");
    kchan_destroy(d);
    cr_assert_eq(atomic_load(&rec2.calls), 5, "destroy hands over what is buffered");
}

Test(metrics, send_full_recv_empty, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, 1, KCHAN_BLOCK, NULL, NULL);
    int v = 1, out[4];
    size_t n = 99;
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_recv_timeout(c, &v, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_recv_many(c, out, 4, &n, 0), KCHAN_WOULDBLOCK);
    send_int(c, 1);
    cr_assert_eq(kchan_try_send(c, &v), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_send_timeout(c, &v, 0), KCHAN_WOULDBLOCK);
    int many[3] = { 2, 3, 4 };
    cr_assert_eq(kchan_send_many(c, many, 3, &n, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(n, 0);
    check_stats(c, (kchan_stats){ .version = V, .sends = 1, .send_full = 3, .recv_empty = 3,
                                  .len = 1, .cap = 1, .max_len = 1 }, "bounded");
    /* a select with timeout 0 and nothing ready is not a single-channel op */
    kchan_case cs[1] = { { c, KCHAN_OP_SEND, &v, 0 } };
    cr_assert_eq(kchan_select(cs, 1, 0), KCHAN_WOULDBLOCK);
    /* a partial _many with timeout 0 counts once */
    cr_assert_eq(recv_int(c), 1);
    kchan_destroy(c);

    kchan_t *c2 = mk(4, 2, KCHAN_BLOCK, NULL, NULL);
    cr_assert_eq(kchan_send_many(c2, many, 3, &n, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(n, 2);
    cr_assert_eq(kchan_recv_many(c2, out, 4, &n, 0), KCHAN_OK);
    cr_assert_eq(n, 2);
    check_stats(c2, (kchan_stats){ .version = V, .sends = 2, .recvs = 2, .send_full = 1,
                                   .cap = 2, .max_len = 2 }, "partial send_many");
    kchan_destroy(c2);

    kchan_t *r = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK, NULL, NULL);
    cr_assert_eq(kchan_try_send(r, &v), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_try_recv(r, &v), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_try_recv(r, &v), KCHAN_WOULDBLOCK);
    check_stats(r, (kchan_stats){ .version = V, .send_full = 1, .recv_empty = 2 }, "rendezvous");
    kchan_destroy(r);
}

Test(metrics, timeouts_blocked_cancelled, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, 2, KCHAN_BLOCK, NULL, NULL);
    int v = 0, out[4];
    size_t n = 99;
    cr_assert_eq(kchan_recv_timeout(c, &v, 2 * MS), KCHAN_TIMEDOUT);
    /* API.md: cancelled_waiters counts select cases only; a single op's timeout is `timeouts` */
    check_stats(c, (kchan_stats){ .version = V, .timeouts = 1, .blocked_recvs = 1,
                                  .cap = 2 }, "recv timed out");
    cr_assert_eq(kchan_recv_many(c, out, 4, &n, 2 * MS), KCHAN_TIMEDOUT);
    cr_assert_eq(n, 0);
    send_int(c, 1); send_int(c, 2);
    cr_assert_eq(kchan_send_timeout(c, &v, 2 * MS), KCHAN_TIMEDOUT);
    check_stats(c, (kchan_stats){ .version = V, .sends = 2, .timeouts = 3, .blocked_recvs = 2,
                                  .blocked_sends = 1, .len = 2, .cap = 2,
                                  .max_len = 2 }, "send timed out");
    cr_assert_eq(recv_int(c), 1);
    int many[3] = { 3, 4, 5 };
    cr_assert_eq(kchan_send_many(c, many, 3, &n, 2 * MS), KCHAN_TIMEDOUT);
    cr_assert_eq(n, 1, "one fitted, then it waited and timed out");
    check_stats(c, (kchan_stats){ .version = V, .sends = 3, .recvs = 1, .timeouts = 4,
                                  .blocked_recvs = 2, .blocked_sends = 2,
                                  .len = 2, .cap = 2, .max_len = 2 }, "send_many timed out");
    kchan_destroy(c);
}

Test(metrics, blocked_and_waiting, .timeout = T_TIMEOUT)
{
    /* a receiver parks on an empty bounded channel */
    kchan_t *c = mk(4, 1, KCHAN_BLOCK, NULL, NULL);
    op_arg a = { c, 0, 0, KCHAN_FOREVER, -99, -1 };
    pthread_t t = t_spawn(op_main, &a);
    t_wait_receivers(c, 1);
    kchan_stats s;
    kchan_stats_get(c, &s);
    cr_assert_eq(s.waiting_receivers, 1);
    cr_assert_eq(s.waiting_senders, 0);
    cr_assert_eq(s.recvs, 0);
    send_int(c, 77);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK);
    cr_assert_eq(a.out, 77);
    check_stats(c, (kchan_stats){ .version = V, .sends = 1, .recvs = 1, .blocked_recvs = 1,
                                  .cap = 1 },
                "parked receiver served: handed over, never buffered (max_len 0)");

    /* a sender parks on the full channel */
    send_int(c, 1);
    op_arg b = { c, 1, 2, KCHAN_FOREVER, -99, -1 };
    t = t_spawn(op_main, &b);
    t_wait_senders(c, 1);
    kchan_stats_get(c, &s);
    cr_assert_eq(s.waiting_senders, 1);
    cr_assert_eq(s.waiting_receivers, 0);
    cr_assert_eq(s.len, 1);
    cr_assert_eq(recv_int(c), 1);
    t_join(t);
    cr_assert_eq(b.rc, KCHAN_OK);
    cr_assert_eq(recv_int(c), 2);
    check_stats(c, (kchan_stats){ .version = V, .sends = 3, .recvs = 3, .blocked_recvs = 1,
                                  .blocked_sends = 1, .cap = 1, .max_len = 1 },
                "parked sender served");
    kchan_destroy(c);

    /* rendezvous: the sender parks, the receiver finds it and does not park */
    kchan_t *r = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK, NULL, NULL);
    op_arg d = { r, 1, 5, KCHAN_FOREVER, -99, -1 };
    t = t_spawn(op_main, &d);
    t_wait_senders(r, 1);
    cr_assert_eq(recv_int(r), 5);
    t_join(t);
    cr_assert_eq(d.rc, KCHAN_OK);
    check_stats(r, (kchan_stats){ .version = V, .sends = 1, .recvs = 1, .blocked_sends = 1 },
                "rendezvous");

    /* two parked receivers are two registrations */
    op_arg e1 = { r, 0, 0, KCHAN_FOREVER, -99, -1 }, e2 = e1;
    pthread_t t1 = t_spawn(op_main, &e1), t2 = t_spawn(op_main, &e2);
    t_wait_receivers(r, 2);
    kchan_stats_get(r, &s);
    cr_assert_eq(s.waiting_receivers, 2);
    send_int(r, 10);
    send_int(r, 11);
    t_join(t1); t_join(t2);
    cr_assert_eq(e1.rc, KCHAN_OK); cr_assert_eq(e2.rc, KCHAN_OK);
    cr_assert_eq(e1.out + e2.out, 21);
    check_stats(r, (kchan_stats){ .version = V, .sends = 3, .recvs = 3, .blocked_sends = 1,
                                  .blocked_recvs = 2 }, "two receivers");
    kchan_destroy(r);
}

/* Every buffered kind, both engines: a send that finds a receiver parked on the empty
   channel hands the element straight over (Go's sendDirect), so it never counts in len or
   max_len, and sends/recvs still count it once each. */
Test(metrics, parked_receiver_handoff_every_kind, .timeout = T_TIMEOUT)
{
    static const struct { size_t cap; kchan_overflow ov; size_t shown_cap; } kinds[] = {
        { 1, KCHAN_BLOCK, 1 }, { 8, KCHAN_BLOCK, 8 }, { 2, KCHAN_DROP_NEWEST, 2 },
        { 2, KCHAN_DROP_OLDEST, 2 }, { KCHAN_CONFLATED, KCHAN_BLOCK, 1 },
        { KCHAN_UNLIMITED, KCHAN_BLOCK, KCHAN_UNLIMITED },
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        kchan_t *c = mk(4, kinds[k].cap, kinds[k].ov, NULL, NULL);
        for (int round = 1; round <= 3; round++) {
            op_arg a = { c, 0, 0, KCHAN_FOREVER, -99, -1 };
            pthread_t t = t_spawn(op_main, &a);
            t_wait_receivers(c, 1);
            send_int(c, 100 * round + (int)k);
            t_join(t);
            cr_assert_eq(a.rc, KCHAN_OK, "kind %zu round %d", k, round);
            cr_assert_eq(a.out, 100 * round + (int)k, "kind %zu round %d", k, round);
            check_stats(c, (kchan_stats){ .version = V, .sends = (uint64_t)round,
                                          .recvs = (uint64_t)round, .blocked_recvs = (uint64_t)round,
                                          .cap = kinds[k].shown_cap },
                        "handed over to a parked receiver");
        }
        /* the buffered path still counts as before */
        send_int(c, 7);
        cr_assert_eq(recv_int(c), 7);
        check_stats(c, (kchan_stats){ .version = V, .sends = 4, .recvs = 4, .blocked_recvs = 3,
                                      .cap = kinds[k].shown_cap, .max_len = 1 },
                    "then one buffered");
        kchan_destroy(c);
    }
}

Test(metrics, closed_flag_and_close_wakes, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, 2, KCHAN_BLOCK, NULL, NULL);
    op_arg a = { c, 0, 0, KCHAN_FOREVER, -99, -1 };
    pthread_t t = t_spawn(op_main, &a);
    t_wait_receivers(c, 1);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_CLOSED);
    kchan_stats s;
    kchan_stats_get(c, &s);
    cr_assert(s.closed);
    cr_assert_eq(s.blocked_recvs, 1);
    cr_assert_eq(s.waiting_receivers, 0);
    cr_assert_eq(s.recvs, 0);
    cr_assert_eq(s.timeouts, 0);
    int v = 1;
    cr_assert_eq(kchan_send(c, &v), KCHAN_CLOSED);
    kchan_stats_get(c, &s);
    cr_assert_eq(s.sends, 0, "a send refused by close is not counted");
    kchan_destroy(c);
}

Test(metrics, select_counts_only_what_it_should, .timeout = T_TIMEOUT)
{
    kchan_t *a = mk(4, 2, KCHAN_BLOCK, NULL, NULL);
    kchan_t *b = mk(4, 2, KCHAN_BLOCK, NULL, NULL);
    int x = -1, y = -1;
    /* immediate completion: only recvs on the winner */
    send_int(b, 9);
    kchan_case cs[2] = { { a, KCHAN_OP_RECV, &x, 0 }, { b, KCHAN_OP_RECV, &y, 0 } };
    cr_assert_eq(kchan_select(cs, 2, KCHAN_FOREVER), 1);
    cr_assert_eq(y, 9);
    check_stats(a, (kchan_stats){ .version = V, .cap = 2 }, "select at once: a");
    check_stats(b, (kchan_stats){ .version = V, .sends = 1, .recvs = 1, .cap = 2, .max_len = 1 },
                "select at once: b");
    /* timeout 0 with nothing ready: nothing at all */
    cr_assert_eq(kchan_select(cs, 2, 0), KCHAN_WOULDBLOCK);
    check_stats(a, (kchan_stats){ .version = V, .cap = 2 }, "select try: a");
    /* positive timeout: a withdrawn registration on each channel, nothing else */
    cr_assert_eq(kchan_select(cs, 2, 2 * MS), KCHAN_TIMEDOUT);
    check_stats(a, (kchan_stats){ .version = V, .cap = 2, .cancelled_waiters = 1 },
                "select timed out: a");
    check_stats(b, (kchan_stats){ .version = V, .sends = 1, .recvs = 1, .cap = 2, .max_len = 1,
                                  .cancelled_waiters = 1 }, "select timed out: b");
    kchan_destroy(a);
    kchan_destroy(b);
}

typedef struct { kchan_case *cs; size_t n; int rc; } sel_arg;
static void *sel_main(void *p)
{
    sel_arg *s = p;
    s->rc = kchan_select(s->cs, s->n, KCHAN_FOREVER);
    return NULL;
}

Test(metrics, blocked_select_win_and_loss, .timeout = T_TIMEOUT)
{
    kchan_t *a = mk(4, 2, KCHAN_BLOCK, NULL, NULL);
    kchan_t *b = mk(4, 2, KCHAN_BLOCK, NULL, NULL);
    int x = -1, y = -1;
    kchan_case cs[2] = { { a, KCHAN_OP_RECV, &x, 0 }, { b, KCHAN_OP_RECV, &y, 0 } };
    sel_arg sa = { cs, 2, -99 };
    pthread_t t = t_spawn(sel_main, &sa);
    t_wait_receivers(a, 1);
    t_wait_receivers(b, 1);
    send_int(a, 3);
    t_join(t);
    cr_assert_eq(sa.rc, 0);
    cr_assert_eq(cs[0].status, KCHAN_OK);
    cr_assert_eq(x, 3);
    check_stats(a, (kchan_stats){ .version = V, .sends = 1, .recvs = 1, .cap = 2 },
                "winner: handed over, never buffered");
    check_stats(b, (kchan_stats){ .version = V, .cap = 2, .cancelled_waiters = 1 }, "loser");
    kchan_destroy(a);
    kchan_destroy(b);
}

/* ---- conservation under concurrency ------------------------------------------ */

enum { CONS_PRODUCERS = 2, CONS_CONSUMERS = 2, CONS_PER_PRODUCER = 1500 };

typedef struct {
    kchan_t *c;
    atomic_int stop;
    atomic_llong sent_ok, sent_sum, send_wouldblock, timedout, recvd, recvd_sum, recv_wouldblock;
    atomic_llong undelivered_calls, undelivered_sum;
    atomic_int errors;
} cons_state;
typedef struct { cons_state *s; int id; } cons_arg;

static void cons_undelivered(void *elem, void *user)
{
    cons_state *s = user;
    int64_t v;
    memcpy(&v, elem, sizeof v);
    atomic_fetch_add_explicit(&s->undelivered_calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->undelivered_sum, v, memory_order_relaxed);
}

static void *cons_producer(void *p)
{
    cons_arg *a = p;
    cons_state *s = a->s;
    long long ok = 0, sum = 0, wb = 0, to = 0;
    for (int i = 0; i < CONS_PER_PRODUCER; i++) {
        int64_t v = (int64_t)a->id * 1000000 + i + 1;
        int rc;
        switch (i % 4) {
        case 0: rc = kchan_try_send(s->c, &v); break;
        case 1: rc = kchan_send_timeout(s->c, &v, 200000); break;
        case 2: { size_t k = 0; rc = kchan_send_many(s->c, &v, 1, &k, 100000);
                  if ((rc == KCHAN_OK) != (k == 1)) atomic_fetch_add(&s->errors, 1); } break;
        default: rc = kchan_send(s->c, &v); break;
        }
        if (rc == KCHAN_OK) { ok++; sum += v; }
        else if (rc == KCHAN_WOULDBLOCK) wb++;
        else if (rc == KCHAN_TIMEDOUT) to++;
        else atomic_fetch_add(&s->errors, 1);
    }
    atomic_fetch_add(&s->sent_ok, ok);
    atomic_fetch_add(&s->sent_sum, sum);
    atomic_fetch_add(&s->send_wouldblock, wb);
    atomic_fetch_add(&s->timedout, to);
    return NULL;
}

static void *cons_consumer(void *p)
{
    cons_arg *a = p;
    cons_state *s = a->s;
    long long got = 0, sum = 0, wb = 0, to = 0;
    int64_t buf[8];
    for (unsigned i = 0; !atomic_load(&s->stop); i++) {
        int rc;
        size_t k = 0;
        switch (i % 3) {
        case 0: rc = kchan_try_recv(s->c, &buf[0]); k = 1; break;
        case 1: rc = kchan_recv_timeout(s->c, &buf[0], 300000); k = 1; break;
        default: rc = kchan_recv_many(s->c, buf, 1 + i % 8, &k, 300000); break;
        }
        if (rc == KCHAN_OK) {
            if (k < 1 || k > 8) atomic_fetch_add(&s->errors, 1);
            for (size_t j = 0; j < k; j++) { got++; sum += buf[j]; }
        } else if (rc == KCHAN_WOULDBLOCK) wb++;
        else if (rc == KCHAN_TIMEDOUT) to++;
        else atomic_fetch_add(&s->errors, 1);
    }
    atomic_fetch_add(&s->recvd, got);
    atomic_fetch_add(&s->recvd_sum, sum);
    atomic_fetch_add(&s->recv_wouldblock, wb);
    atomic_fetch_add(&s->timedout, to);
    return NULL;
}

static void conservation_run(size_t cap, kchan_overflow ov)
{
    static cons_state s;
    memset(&s, 0, sizeof s);
    kchan_opts o = { .capacity = cap, .overflow = ov, .on_undelivered = cons_undelivered, .user = &s };
    cr_assert_eq(kchan_create(&s.c, sizeof(int64_t), &o), KCHAN_OK);
    cons_arg pa[CONS_PRODUCERS], ca[CONS_CONSUMERS];
    pthread_t pt[CONS_PRODUCERS], ct[CONS_CONSUMERS];
    for (int i = 0; i < CONS_CONSUMERS; i++) { ca[i] = (cons_arg){ &s, i }; ct[i] = t_spawn(cons_consumer, &ca[i]); }
    for (int i = 0; i < CONS_PRODUCERS; i++) { pa[i] = (cons_arg){ &s, i + 1 }; pt[i] = t_spawn(cons_producer, &pa[i]); }
    for (int i = 0; i < CONS_PRODUCERS; i++) t_join(pt[i]);
    atomic_store(&s.stop, 1);
    for (int i = 0; i < CONS_CONSUMERS; i++) t_join(ct[i]);
    cr_assert_eq(atomic_load(&s.errors), 0);

    kchan_stats st;
    kchan_stats_get(s.c, &st);
    cr_assert_eq(st.sends, (uint64_t)atomic_load(&s.sent_ok));
    cr_assert_eq(st.recvs, (uint64_t)atomic_load(&s.recvd));
    cr_assert_eq(st.send_full, (uint64_t)atomic_load(&s.send_wouldblock));
    cr_assert_eq(st.recv_empty, (uint64_t)atomic_load(&s.recv_wouldblock));
    cr_assert_eq(st.timeouts, (uint64_t)atomic_load(&s.timedout));
    cr_assert_eq(st.undelivered, 0);
    cr_assert_eq(st.sends, st.recvs + st.drops_newest + st.drops_oldest + st.undelivered + st.len,
                 "conservation: sends %llu recvs %llu drops %llu+%llu undelivered %llu len %zu",
                 (unsigned long long)st.sends, (unsigned long long)st.recvs,
                 (unsigned long long)st.drops_newest, (unsigned long long)st.drops_oldest,
                 (unsigned long long)st.undelivered, st.len);
    cr_assert_eq((uint64_t)atomic_load(&s.undelivered_calls), st.drops_newest + st.drops_oldest);
    cr_assert_eq(st.waiting_senders, 0);
    cr_assert_eq(st.waiting_receivers, 0);
    cr_assert_leq(st.len, st.max_len);
    if (cap != KCHAN_UNLIMITED) cr_assert_leq(st.max_len, kchan_cap(s.c));
    cr_assert_geq(st.blocked_sends + st.blocked_recvs, 0);
    cr_log_info("metrics conservation cap=%zu policy=%d: sends=%llu recvs=%llu drops=%llu+%llu "
                "len=%zu send_full=%llu recv_empty=%llu timeouts=%llu blocked=%llu/%llu",
                cap, (int)ov, (unsigned long long)st.sends, (unsigned long long)st.recvs,
                (unsigned long long)st.drops_newest, (unsigned long long)st.drops_oldest, st.len,
                (unsigned long long)st.send_full, (unsigned long long)st.recv_empty,
                (unsigned long long)st.timeouts, (unsigned long long)st.blocked_sends,
                (unsigned long long)st.blocked_recvs);

    /* cancel hands the rest to on_undelivered; then everything adds up, values too */
    size_t left = st.len;
    int crc = kchan_cancel(s.c);
    cr_assert_eq(crc, KCHAN_OK);
    kchan_stats_get(s.c, &st);
    cr_assert_eq(st.len, 0);
    cr_assert_eq(st.undelivered, left);
    cr_assert(st.closed);
    cr_assert_eq(st.sends, st.recvs + st.drops_newest + st.drops_oldest + st.undelivered);
    cr_assert_eq((uint64_t)atomic_load(&s.undelivered_calls),
                 st.drops_newest + st.drops_oldest + st.undelivered);
    cr_assert_eq(atomic_load(&s.sent_sum), atomic_load(&s.recvd_sum) + atomic_load(&s.undelivered_sum),
                 "values: every accepted element was received or handed to on_undelivered");
    kchan_destroy(s.c);
}

Test(metrics, conservation_bounded_block, .timeout = T_TIMEOUT) { conservation_run(8, KCHAN_BLOCK); }
Test(metrics, conservation_drop_newest, .timeout = T_TIMEOUT) { conservation_run(4, KCHAN_DROP_NEWEST); }
Test(metrics, conservation_drop_oldest, .timeout = T_TIMEOUT) { conservation_run(4, KCHAN_DROP_OLDEST); }
Test(metrics, conservation_unlimited, .timeout = T_TIMEOUT) { conservation_run(KCHAN_UNLIMITED, KCHAN_BLOCK); }
Test(metrics, conservation_conflated, .timeout = T_TIMEOUT) { conservation_run(KCHAN_CONFLATED, KCHAN_BLOCK); }
Test(metrics, conservation_rendezvous, .timeout = T_TIMEOUT) { conservation_run(KCHAN_RENDEZVOUS, KCHAN_BLOCK); }

/* ---- kchan_dump ----------------------------------------------------------------- */

static void expect_dump(const kchan_t *c, const char *expected)
{
    char buf[1024];
    memset(buf, 'x', sizeof buf);
    int r = kchan_dump(c, buf, sizeof buf);
    cr_assert_str_eq(buf, expected);
    cr_assert_eq(r, (int)strlen(expected), "returns the length written");
}

Test(metrics, dump_named_bounded_drop_oldest, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, 4, KCHAN_DROP_OLDEST, "jobs q=1", NULL);
    for (int i = 1; i <= 6; i++) send_int(c, i);
    for (int i = 3; i <= 6; i++) cr_assert_eq(recv_int(c), i);
    int v;
    cr_assert_eq(kchan_recv_timeout(c, &v, 1 * MS), KCHAN_TIMEDOUT);
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    send_int(c, 7); send_int(c, 8);
    expect_dump(c, "chan=jobs_q_1 kind=bounded policy=drop_oldest cap=4 len=2 max_len=4 sends=8 "
                   "recvs=4 drops_newest=0 drops_oldest=2 undelivered=0 send_full=0 recv_empty=1 "
                   "timeouts=1 cancelled_waiters=0 blocked_sends=0 blocked_recvs=1 "
                   "waiting_senders=0 waiting_receivers=0 state=open");
    kchan_destroy(c);
}

Test(metrics, dump_unnamed_bounded_drop_newest, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, 2, KCHAN_DROP_NEWEST, NULL, NULL);
    send_int(c, 1); send_int(c, 2); send_int(c, 3);
    char exp[512];
    snprintf(exp, sizeof exp,
             "chan=0x%" PRIxPTR " kind=bounded policy=drop_newest cap=2 len=2 max_len=2 sends=3 "
             "recvs=0 drops_newest=1 drops_oldest=0 undelivered=0 send_full=0 recv_empty=0 "
             "timeouts=0 cancelled_waiters=0 blocked_sends=0 blocked_recvs=0 "
             "waiting_senders=0 waiting_receivers=0 state=open", (uintptr_t)c);
    expect_dump(c, exp);
    kchan_destroy(c);
}

Test(metrics, dump_unnamed_bounded_block, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, 2, KCHAN_BLOCK, NULL, NULL);
    int v = 0;
    send_int(c, 1); send_int(c, 2);
    cr_assert_eq(kchan_try_send(c, &v), KCHAN_WOULDBLOCK);
    char exp[512];
    snprintf(exp, sizeof exp,
             "chan=0x%" PRIxPTR " kind=bounded policy=block cap=2 len=2 max_len=2 sends=2 "
             "recvs=0 drops_newest=0 drops_oldest=0 undelivered=0 send_full=1 recv_empty=0 "
             "timeouts=0 cancelled_waiters=0 blocked_sends=0 blocked_recvs=0 "
             "waiting_senders=0 waiting_receivers=0 state=open", (uintptr_t)c);
    expect_dump(c, exp);
    kchan_destroy(c);
}

Test(metrics, dump_unlimited, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, KCHAN_UNLIMITED, KCHAN_BLOCK, "big", NULL);
    for (int i = 0; i < 10; i++) send_int(c, i);
    for (int i = 0; i < 3; i++) cr_assert_eq(recv_int(c), i);
    expect_dump(c, "chan=big kind=unlimited policy=block cap=unlimited len=7 max_len=10 sends=10 "
                   "recvs=3 drops_newest=0 drops_oldest=0 undelivered=0 send_full=0 recv_empty=0 "
                   "timeouts=0 cancelled_waiters=0 blocked_sends=0 blocked_recvs=0 "
                   "waiting_senders=0 waiting_receivers=0 state=open");
    kchan_destroy(c);
}

Test(metrics, dump_rendezvous, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK, "rv", NULL);
    int v = 0;
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    op_arg a = { c, 1, 42, KCHAN_FOREVER, -99, -1 };
    pthread_t t = t_spawn(op_main, &a);
    t_wait_senders(c, 1);
    cr_assert_eq(recv_int(c), 42);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK);
    expect_dump(c, "chan=rv kind=rendezvous policy=block cap=0 len=0 max_len=0 sends=1 "
                   "recvs=1 drops_newest=0 drops_oldest=0 undelivered=0 send_full=0 recv_empty=1 "
                   "timeouts=0 cancelled_waiters=0 blocked_sends=1 blocked_recvs=0 "
                   "waiting_senders=0 waiting_receivers=0 state=open");
    kchan_destroy(c);
}

Test(metrics, dump_conflated, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, KCHAN_CONFLATED, KCHAN_BLOCK, "latest", NULL);
    send_int(c, 1); send_int(c, 2); send_int(c, 3);
    expect_dump(c, "chan=latest kind=conflated policy=drop_oldest cap=1 len=1 max_len=1 sends=3 "
                   "recvs=0 drops_newest=0 drops_oldest=2 undelivered=0 send_full=0 recv_empty=0 "
                   "timeouts=0 cancelled_waiters=0 blocked_sends=0 blocked_recvs=0 "
                   "waiting_senders=0 waiting_receivers=0 state=open");
    kchan_destroy(c);
}

Test(metrics, dump_closed_with_waiter_gone, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, 3, KCHAN_BLOCK, "done", NULL);
    send_int(c, 1);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    expect_dump(c, "chan=done kind=bounded policy=block cap=3 len=1 max_len=1 sends=1 "
                   "recvs=0 drops_newest=0 drops_oldest=0 undelivered=0 send_full=0 recv_empty=0 "
                   "timeouts=0 cancelled_waiters=0 blocked_sends=0 blocked_recvs=0 "
                   "waiting_senders=0 waiting_receivers=0 state=closed");
    kchan_destroy(c);
}

Test(metrics, dump_shows_parked_waiters, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, 1, KCHAN_BLOCK, "w", NULL);
    op_arg a = { c, 0, 0, KCHAN_FOREVER, -99, -1 };
    pthread_t t = t_spawn(op_main, &a);
    t_wait_receivers(c, 1);
    char buf[512];
    cr_assert_gt(kchan_dump(c, buf, sizeof buf), 0);
    cr_assert_not_null(strstr(buf, " waiting_senders=0 waiting_receivers=1 state=open"), "%s", buf);
    cr_assert_eq(strncmp(buf, "chan=w kind=bounded policy=block cap=1 len=0 ", 45), 0, "%s", buf);
    send_int(c, 5);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK);
    kchan_destroy(c);
}

Test(metrics, dump_snprintf_return, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, 4, KCHAN_BLOCK, "trunc", NULL);
    char full[512];
    int len = kchan_dump(c, full, sizeof full);
    cr_assert_gt(len, 0);
    cr_assert_eq((size_t)len, strlen(full));
    cr_assert_eq(strncmp(full, "chan=trunc kind=bounded ", 24), 0);
    cr_assert_eq(kchan_dump(c, NULL, 0), len, "NULL buffer, n 0: the length needed");
    char small[11];
    memset(small, 'x', sizeof small);
    cr_assert_eq(kchan_dump(c, small, 10), len, "truncated: still the full length");
    cr_assert_eq(small[9], '\0', "truncated output is terminated");
    cr_assert_eq(small[10], 'x', "nothing written past n");
    cr_assert_eq(strncmp(small, full, 9), 0);
    char one[2] = { 'x', 'x' };
    cr_assert_eq(kchan_dump(c, one, 1), len);
    cr_assert_eq(one[0], '\0');
    cr_assert_eq(one[1], 'x');
    char exact[512];
    cr_assert_eq(kchan_dump(c, exact, (size_t)len + 1), len, "exactly enough room");
    cr_assert_str_eq(exact, full);
    kchan_destroy(c);
}

/* A live snapshot never shows a len above its max_len: a sender keeps growing a large
   channel while this thread takes snapshots (the refactor of #15 once read max_len before
   the mutex engine's len, and 33,947 of 10.9 M snapshots showed len > max_len). */
static atomic_int grow_done;
static void *grow_channel(void *arg)
{
    kchan_t *c = arg;
    uint64_t v = 1;
    for (int i = 0; i < 300000; i++) cr_assert_eq(kchan_try_send(c, &v), KCHAN_OK);
    atomic_store(&grow_done, 1);
    return NULL;
}
Test(metrics, live_snapshot_len_never_above_max_len, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(sizeof(uint64_t), 400000);
    pthread_t t;
    atomic_store(&grow_done, 0);
    cr_assert_eq(pthread_create(&t, NULL, grow_channel, c), 0);
    long snaps = 0, bad = 0;
    kchan_stats s;
    while (!atomic_load(&grow_done) || snaps < 1000) {
        kchan_stats_get(c, &s);
        snaps++;
        if (s.len > s.max_len) bad++;
    }
    pthread_join(t, NULL);
    cr_assert_eq(bad, 0, "%ld of %ld snapshots showed len > max_len", bad, snaps);
    kchan_destroy(c);
}
