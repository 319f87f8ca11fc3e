/* kchan_select / kchan_select_biased / KCHAN_SELECT (API.md "Select"): readiness
   over every channel kind, fairness, bias, timeouts, blocking registration on
   every channel, exactly one completion, close, pairing of selects, self-pairing,
   odd inputs, no allocation, the maximum case count, and a mixed stress run. */
#include "common.h"
#include "wrap_hooks.h"
#include <stdint.h>
#include <stdlib.h>

#define MS (INT64_C(1000000))

KCHAN_DEFINE(sel_ich, int);
KCHAN_DEFINE(sel_dch, double);

static kchan_t *mk(size_t elem_size, size_t cap, kchan_overflow ov)
{
    kchan_opts o = { .capacity = cap, .overflow = ov };
    kchan_t *c = NULL;
    cr_assert_eq(kchan_create(&c, elem_size, &o), KCHAN_OK);
    cr_assert_not_null(c);
    return c;
}
static kchan_stats st(const kchan_t *c)
{
    kchan_stats s;
    kchan_stats_get(c, &s);
    return s;
}
static void send_int(kchan_t *c, int v) { cr_assert_eq(kchan_send(c, &v), KCHAN_OK); }
static int recv_int(kchan_t *c)
{
    int v = -1;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    return v;
}
static kchan_case rc_(kchan_t *c, int *p) { kchan_case k = { c, KCHAN_OP_RECV, p, -99 }; return k; }
static kchan_case sc_(kchan_t *c, int *p) { kchan_case k = { c, KCHAN_OP_SEND, p, -99 }; return k; }

/* One select on another thread. */
typedef struct {
    kchan_case *cs;
    size_t n;
    int64_t timeout;
    int biased;
    int rc;
} sel_arg;
static void *sel_main(void *p)
{
    sel_arg *a = p;
    a->rc = a->biased ? kchan_select_biased(a->cs, a->n, a->timeout)
                      : kchan_select(a->cs, a->n, a->timeout);
    return NULL;
}

/* One plain op on another thread. */
typedef struct { kchan_t *c; int send; int val; int rc; int out; } op_arg;
static void *op_main(void *p)
{
    op_arg *a = p;
    if (a->send) a->rc = kchan_send(a->c, &a->val);
    else a->rc = kchan_recv(a->c, &a->out);
    return NULL;
}

/* ---- readiness ----------------------------------------------------------------- */

Test(select, recv_ready_every_buffered_kind, .timeout = T_TIMEOUT)
{
    const struct { size_t cap; kchan_overflow ov; } kinds[] = {
        { 2, KCHAN_BLOCK }, { 2, KCHAN_DROP_NEWEST }, { 2, KCHAN_DROP_OLDEST },
        { KCHAN_UNLIMITED, KCHAN_BLOCK }, { KCHAN_CONFLATED, KCHAN_BLOCK },
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        kchan_t *empty = mk(4, 2, KCHAN_BLOCK);
        kchan_t *c = mk(4, kinds[k].cap, kinds[k].ov);
        send_int(c, 70 + (int)k);
        int x = -1, y = -1;
        kchan_case cs[2] = { rc_(empty, &x), rc_(c, &y) };
        cr_assert_eq(kchan_select(cs, 2, 0), 1, "kind %zu", k);
        cr_assert_eq(cs[1].status, KCHAN_OK);
        cr_assert_eq(y, 70 + (int)k);
        cr_assert_eq(x, -1, "the other case's buffer is untouched");
        cr_assert_eq(kchan_len(c), 0);
        cr_assert_eq(st(c).recvs, 1);
        cr_assert_eq(st(empty).recvs, 0);
        kchan_destroy(empty);
        kchan_destroy(c);
    }
}

Test(select, recv_ready_rendezvous_parked_sender, .timeout = T_TIMEOUT)
{
    kchan_t *r = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    kchan_t *other = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    int x = -1, y = -1;
    kchan_case cs[2] = { rc_(other, &x), rc_(r, &y) };
    cr_assert_eq(kchan_select(cs, 2, 0), KCHAN_WOULDBLOCK, "no sender: not ready");
    op_arg s = { r, 1, 55, -99, 0 };
    pthread_t t = t_spawn(op_main, &s);
    t_wait_senders(r, 1);
    cr_assert_eq(kchan_select(cs, 2, 0), 1);
    cr_assert_eq(cs[1].status, KCHAN_OK);
    cr_assert_eq(y, 55);
    t_join(t);
    cr_assert_eq(s.rc, KCHAN_OK);
    kchan_destroy(r);
    kchan_destroy(other);
}

Test(select, send_ready_every_kind, .timeout = T_TIMEOUT)
{
    const struct { size_t cap; kchan_overflow ov; } kinds[] = {
        { 2, KCHAN_BLOCK }, { 2, KCHAN_DROP_NEWEST }, { 2, KCHAN_DROP_OLDEST },
        { KCHAN_UNLIMITED, KCHAN_BLOCK }, { KCHAN_CONFLATED, KCHAN_BLOCK },
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        kchan_t *full = mk(4, 1, KCHAN_BLOCK);
        send_int(full, 1);
        kchan_t *c = mk(4, kinds[k].cap, kinds[k].ov);
        int x = 10, y = 20 + (int)k;
        kchan_case cs[2] = { sc_(full, &x), sc_(c, &y) };
        cr_assert_eq(kchan_select(cs, 2, KCHAN_FOREVER), 1, "kind %zu", k);
        cr_assert_eq(cs[1].status, KCHAN_OK);
        cr_assert_eq(kchan_len(full), 1);
        cr_assert_eq(st(full).sends, 1);
        cr_assert_eq(recv_int(c), 20 + (int)k);
        cr_assert_eq(recv_int(full), 1, "the full channel kept its own element only");
        kchan_destroy(full);
        kchan_destroy(c);
    }
    /* drop policies never block, so a full drop channel is ready to send */
    kchan_t *dn = mk(4, 1, KCHAN_DROP_NEWEST), *dol = mk(4, 1, KCHAN_DROP_OLDEST);
    send_int(dn, 1); send_int(dol, 1);
    int v = 2;
    kchan_case c1[1] = { sc_(dn, &v) }, c2[1] = { sc_(dol, &v) };
    cr_assert_eq(kchan_select(c1, 1, 0), 0);
    cr_assert_eq(kchan_select(c2, 1, 0), 0);
    cr_assert_eq(recv_int(dn), 1);
    cr_assert_eq(recv_int(dol), 2);
    kchan_destroy(dn); kchan_destroy(dol);
}

Test(select, send_ready_rendezvous_parked_receiver, .timeout = T_TIMEOUT)
{
    kchan_t *r = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    int v = 31;
    kchan_case cs[1] = { sc_(r, &v) };
    cr_assert_eq(kchan_select(cs, 1, 0), KCHAN_WOULDBLOCK);
    op_arg rv = { r, 0, 0, -99, -1 };
    pthread_t t = t_spawn(op_main, &rv);
    t_wait_receivers(r, 1);
    cr_assert_eq(kchan_select(cs, 1, 0), 0);
    cr_assert_eq(cs[0].status, KCHAN_OK);
    t_join(t);
    cr_assert_eq(rv.rc, KCHAN_OK);
    cr_assert_eq(rv.out, 31);
    kchan_destroy(r);
}

Test(select, mixed_send_and_recv_cases, .timeout = T_TIMEOUT)
{
    kchan_t *full = mk(4, 1, KCHAN_BLOCK), *empty = mk(4, 1, KCHAN_BLOCK);
    kchan_t *room = mk(4, 3, KCHAN_BLOCK), *data = mk(4, 3, KCHAN_BLOCK);
    send_int(full, 1);
    int a = 100, b = -1, c = 300, d = -1;
    kchan_case cs[4] = { sc_(full, &a), rc_(empty, &b), sc_(room, &c), rc_(data, &d) };
    cr_assert_eq(kchan_select(cs, 4, 0), 2, "only the send with room is ready");
    cr_assert_eq(cs[2].status, KCHAN_OK);
    cr_assert_eq(kchan_len(room), 1);
    send_int(data, 400);
    cs[2].chan = NULL;
    cr_assert_eq(kchan_select(cs, 4, 0), 3, "only the recv with data is ready");
    cr_assert_eq(cs[3].status, KCHAN_OK);
    cr_assert_eq(d, 400);
    cr_assert_eq(b, -1);
    cr_assert_eq(kchan_len(full), 1);
    cr_assert_eq(kchan_len(empty), 0);
    cr_assert_eq(recv_int(room), 300);
    kchan_destroy(full); kchan_destroy(empty); kchan_destroy(room); kchan_destroy(data);
}

Test(select, typed_cases_and_macro, .timeout = T_TIMEOUT)
{
    sel_ich *a = sel_ich_new(2);
    sel_dch *b = sel_dch_new(2);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    int x = -1;
    double d = -1.0;
    cr_assert_eq(KCHAN_SELECT(0, sel_ich_recv_case(a, &x), sel_dch_recv_case(b, &d)),
                 KCHAN_WOULDBLOCK);
    cr_assert_eq(sel_dch_send(b, 2.5), KCHAN_OK);
    kchan_case cs[2] = { sel_ich_recv_case(a, &x), sel_dch_recv_case(b, &d) };
    cr_assert_eq(cs[0].chan, sel_ich_base(a));
    cr_assert_eq(cs[0].op, KCHAN_OP_RECV);
    cr_assert_eq(cs[1].op, KCHAN_OP_RECV);
    cr_assert_eq(kchan_select(cs, 2, 0), 1);
    cr_assert_eq(cs[1].status, KCHAN_OK);
    cr_assert_eq(d, 2.5);
    int in = 5;
    kchan_case s = sel_ich_send_case(a, &in);
    cr_assert_eq(s.op, KCHAN_OP_SEND);
    cr_assert_eq(KCHAN_SELECT(0, sel_ich_send_case(a, &in)), 0);
    in = 6;
    cr_assert_eq(KCHAN_SELECT(KCHAN_FOREVER, sel_dch_recv_case(b, &d), sel_ich_send_case(a, &in)), 1);
    cr_assert_eq(sel_ich_len(a), 2);
    cr_assert_eq(KCHAN_SELECT(KCHAN_FOREVER, sel_ich_recv_case(a, &x)), 0);
    cr_assert_eq(x, 5);
    cr_assert_eq(sel_ich_recv(a, &x), KCHAN_OK);
    cr_assert_eq(x, 6);
    cr_assert_eq(sel_ich_close(a), KCHAN_OK);
    cr_assert_eq(KCHAN_SELECT(KCHAN_FOREVER, sel_ich_recv_case(a, &x)), 0, "closed is ready");
    sel_ich_destroy(a);
    sel_dch_destroy(b);
}

/* ---- closed channels ----------------------------------------------------------- */

Test(select, closed_channels_complete_with_closed, .timeout = T_TIMEOUT)
{
    kchan_t *open_empty = mk(4, 2, KCHAN_BLOCK);
    kchan_t *c = mk(4, 2, KCHAN_BLOCK);
    send_int(c, 1); send_int(c, 2);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    int x = -1, y = -1;
    kchan_case cs[2] = { rc_(open_empty, &x), rc_(c, &y) };
    /* closed but not drained: elements first, in order */
    cr_assert_eq(kchan_select(cs, 2, KCHAN_FOREVER), 1);
    cr_assert_eq(cs[1].status, KCHAN_OK); cr_assert_eq(y, 1);
    cr_assert_eq(kchan_select(cs, 2, 0), 1);
    cr_assert_eq(cs[1].status, KCHAN_OK); cr_assert_eq(y, 2);
    /* drained: ready, with KCHAN_CLOSED, whatever the timeout */
    cr_assert_eq(kchan_select(cs, 2, 0), 1);
    cr_assert_eq(cs[1].status, KCHAN_CLOSED);
    cr_assert_eq(kchan_select(cs, 2, KCHAN_FOREVER), 1);
    cr_assert_eq(cs[1].status, KCHAN_CLOSED);
    cr_assert_eq(kchan_select_biased(cs, 2, 20 * MS), 1);
    cr_assert_eq(cs[1].status, KCHAN_CLOSED);

    /* send on a closed channel: ready, KCHAN_CLOSED, nothing stored */
    kchan_t *d = mk(4, 2, KCHAN_BLOCK);
    send_int(d, 9);
    cr_assert_eq(kchan_close(d), KCHAN_OK);
    int v = 10;
    kchan_case ss[2] = { rc_(open_empty, &x), sc_(d, &v) };
    cr_assert_eq(kchan_select(ss, 2, KCHAN_FOREVER), 1);
    cr_assert_eq(ss[1].status, KCHAN_CLOSED);
    cr_assert_eq(kchan_len(d), 1);
    cr_assert_eq(st(d).sends, 1);
    cr_assert_eq(recv_int(d), 9);

    /* rendezvous: both directions */
    kchan_t *r = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    cr_assert_eq(kchan_close(r), KCHAN_OK);
    kchan_case rs[1] = { sc_(r, &v) }, rr[1] = { rc_(r, &x) };
    cr_assert_eq(kchan_select(rs, 1, 0), 0);
    cr_assert_eq(rs[0].status, KCHAN_CLOSED);
    cr_assert_eq(kchan_select(rr, 1, 0), 0);
    cr_assert_eq(rr[0].status, KCHAN_CLOSED);
    cr_assert_eq(x, -1);
    cr_assert_eq(st(open_empty).cancelled_waiters, 0, "nothing was registered");
    kchan_destroy(open_empty); kchan_destroy(c); kchan_destroy(d); kchan_destroy(r);
}

Test(select, close_wakes_blocked_select, .timeout = T_TIMEOUT)
{
    kchan_t *a = mk(4, 2, KCHAN_BLOCK), *b = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    int x = -1, y = -1;
    kchan_case cs[2] = { rc_(a, &x), rc_(b, &y) };
    sel_arg sa = { cs, 2, KCHAN_FOREVER, 0, -99 };
    pthread_t t = t_spawn(sel_main, &sa);
    t_wait_receivers(a, 1);
    t_wait_receivers(b, 1);
    cr_assert_eq(kchan_close(b), KCHAN_OK);
    t_join(t);
    cr_assert_eq(sa.rc, 1);
    cr_assert_eq(cs[1].status, KCHAN_CLOSED);
    cr_assert_eq(st(a).waiting_receivers, 0);
    cr_assert_eq(st(a).cancelled_waiters, 1);
    cr_assert_eq(st(b).waiting_receivers, 0);
    send_int(a, 4);
    cr_assert_eq(kchan_len(a), 1, "no stale registration took it");

    /* a blocked send case on a full channel: woken by close, element not stored */
    kchan_t *f = mk(4, 2, KCHAN_BLOCK), *e = mk(4, 1, KCHAN_BLOCK);
    send_int(f, 1); send_int(f, 2);
    int v = 3;
    kchan_case ss[2] = { sc_(f, &v), rc_(e, &y) };
    sel_arg sb = { ss, 2, KCHAN_FOREVER, 0, -99 };
    t = t_spawn(sel_main, &sb);
    t_wait_senders(f, 1);
    t_wait_receivers(e, 1);
    cr_assert_eq(kchan_close(f), KCHAN_OK);
    t_join(t);
    cr_assert_eq(sb.rc, 0);
    cr_assert_eq(ss[0].status, KCHAN_CLOSED);
    cr_assert_eq(kchan_len(f), 2);
    cr_assert_eq(recv_int(f), 1);
    cr_assert_eq(recv_int(f), 2);
    cr_assert_eq(kchan_recv(f, &v), KCHAN_CLOSED);
    cr_assert_eq(st(e).waiting_receivers, 0);
    cr_assert_eq(st(e).cancelled_waiters, 1);

    /* a blocked send case on a rendezvous channel: woken by close */
    kchan_t *r = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    kchan_case rs[1] = { sc_(r, &v) };
    sel_arg sc = { rs, 1, KCHAN_FOREVER, 1, -99 };
    t = t_spawn(sel_main, &sc);
    t_wait_senders(r, 1);
    cr_assert_eq(kchan_close(r), KCHAN_OK);
    t_join(t);
    cr_assert_eq(sc.rc, 0);
    cr_assert_eq(rs[0].status, KCHAN_CLOSED);
    cr_assert_eq(st(r).waiting_senders, 0);
    cr_assert_eq(st(r).sends, 0);
    kchan_destroy(e); kchan_destroy(r);
    kchan_destroy(a); kchan_destroy(b); kchan_destroy(f);
}

/* ---- fairness and bias ----------------------------------------------------------- */

Test(select, fairness_two_ready_recv_cases, .timeout = T_TIMEOUT)
{
    enum { N = 10000 };
    kchan_t *a = mk(4, 4, KCHAN_BLOCK), *b = mk(4, 4, KCHAN_BLOCK);
    for (int i = 0; i < 4; i++) { send_int(a, 0); send_int(b, 1); }
    int x = -1, y = -1;
    kchan_case cs[2] = { rc_(a, &x), rc_(b, &y) };
    long wins[2] = { 0, 0 };
    for (int i = 0; i < N; i++) {
        int r = kchan_select(cs, 2, 0);
        cr_assert(r == 0 || r == 1, "select returned %d", r);
        cr_assert_eq(cs[r].status, KCHAN_OK);
        wins[r]++;
        send_int(r == 0 ? a : b, r);      /* keep both channels non-empty */
    }
    cr_log_info("select fairness (2 ready recv cases, %d selects): case0 %.1f%% case1 %.1f%%",
                N, 100.0 * wins[0] / N, 100.0 * wins[1] / N);
    cr_assert_geq(wins[0], N * 40 / 100, "case 0 won %ld of %d", wins[0], N);
    cr_assert_geq(wins[1], N * 40 / 100, "case 1 won %ld of %d", wins[1], N);
    cr_assert_eq(kchan_len(a), 4);
    cr_assert_eq(kchan_len(b), 4);
    kchan_destroy(a); kchan_destroy(b);
}

Test(select, fairness_ready_send_vs_recv, .timeout = T_TIMEOUT)
{
    enum { N = 10000 };
    kchan_t *a = mk(4, 4, KCHAN_BLOCK), *b = mk(4, 4, KCHAN_BLOCK);
    for (int i = 0; i < 2; i++) { send_int(a, 7); send_int(b, 8); }
    int x = -1, y = 8;
    kchan_case cs[2] = { rc_(a, &x), sc_(b, &y) };
    long wins[2] = { 0, 0 };
    for (int i = 0; i < N; i++) {
        int r = kchan_select(cs, 2, KCHAN_FOREVER);
        cr_assert(r == 0 || r == 1, "select returned %d", r);
        wins[r]++;
        if (r == 0) send_int(a, 7);      /* refill a */
        else cr_assert_eq(recv_int(b), 8);  /* make room in b again */
    }
    cr_log_info("select fairness (ready recv vs ready send, %d selects): recv %.1f%% send %.1f%%",
                N, 100.0 * wins[0] / N, 100.0 * wins[1] / N);
    cr_assert_geq(wins[0], N * 40 / 100);
    cr_assert_geq(wins[1], N * 40 / 100);
    kchan_destroy(a); kchan_destroy(b);
}

Test(select, fairness_four_cases_none_starves, .timeout = T_TIMEOUT)
{
    enum { N = 8000, K = 4 };
    kchan_t *c[K];
    int v[K];
    kchan_case cs[K];
    for (int i = 0; i < K; i++) {
        c[i] = mk(4, 2, KCHAN_BLOCK);
        send_int(c[i], i);
        cs[i] = rc_(c[i], &v[i]);
    }
    long wins[K] = { 0 };
    for (int i = 0; i < N; i++) {
        int r = kchan_select(cs, K, 0);
        cr_assert(r >= 0 && r < K);
        cr_assert_eq(v[r], r);
        wins[r]++;
        send_int(c[r], r);
    }
    for (int i = 0; i < K; i++) {
        cr_assert_geq(wins[i], N / K * 80 / 100, "case %d won %ld of %d", i, wins[i], N);
        kchan_destroy(c[i]);
    }
}

Test(select, biased_picks_first_ready, .timeout = T_TIMEOUT)
{
    kchan_t *a = mk(4, 4, KCHAN_BLOCK), *b = mk(4, 4, KCHAN_BLOCK), *e = mk(4, 4, KCHAN_BLOCK);
    send_int(a, 1); send_int(b, 2);
    int x = -1, y = -1, z = -1;
    kchan_case cs[3] = { rc_(e, &z), rc_(a, &x), rc_(b, &y) };
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(kchan_select_biased(cs, 3, 0), 1, "round %d", i);
        cr_assert_eq(x, 1);
        send_int(a, 1);
    }
    cr_assert_eq(kchan_len(b), 1, "the later ready case never ran");
    cr_assert_eq(recv_int(a), 1);
    cr_assert_eq(kchan_select_biased(cs, 3, KCHAN_FOREVER), 2, "a empty now: b is first ready");
    cr_assert_eq(y, 2);
    cs[0].chan = NULL;
    send_int(b, 3); send_int(a, 4);
    cr_assert_eq(kchan_select_biased(cs, 3, 0), 1, "NULL first case skipped");
    cr_assert_eq(kchan_select_biased(cs, 3, 0), 2);
    cr_assert_eq(kchan_select_biased(cs, 3, 0), KCHAN_WOULDBLOCK);
    kchan_destroy(a); kchan_destroy(b); kchan_destroy(e);
}

/* ---- timeouts ---------------------------------------------------------------------- */

Test(select, timeout_zero_nothing_ready, .timeout = T_TIMEOUT)
{
    kchan_t *a = mk(4, 1, KCHAN_BLOCK), *f = mk(4, 1, KCHAN_BLOCK);
    kchan_t *r = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    send_int(f, 5);
    int x = -1, y = 6, z = 7;
    kchan_case cs[3] = { rc_(a, &x), sc_(f, &y), sc_(r, &z) };
    cr_assert_eq(kchan_select(cs, 3, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_select_biased(cs, 3, 0), KCHAN_WOULDBLOCK);
    kchan_t *all[3] = { a, f, r };
    for (int i = 0; i < 3; i++) {
        kchan_stats s = st(all[i]);
        cr_assert_eq(s.cancelled_waiters, 0, "a try select registers nothing");
        cr_assert_eq(s.waiting_senders + s.waiting_receivers, 0);
        cr_assert_eq(s.send_full + s.recv_empty, 0);
    }
    cr_assert_eq(recv_int(f), 5);
    cr_assert_eq(kchan_len(f), 0);
    kchan_destroy(a); kchan_destroy(f); kchan_destroy(r);
}

static int cmp_i64(const void *p, const void *q)
{
    int64_t a = *(const int64_t *)p, b = *(const int64_t *)q;
    return (a > b) - (a < b);
}

Test(select, positive_timeout_overshoot, .timeout = T_TIMEOUT)
{
    enum { RUNS = 10 };
    const int64_t want = 20 * MS;
    kchan_t *a = mk(4, 1, KCHAN_BLOCK), *r = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    int x = -1, y = 3;
    kchan_case cs[2] = { rc_(a, &x), sc_(r, &y) };
    int64_t over[RUNS];
    for (int i = 0; i < RUNS; i++) {
        int64_t t0 = kchan_now_ns();
        int rc = (i & 1) ? kchan_select_biased(cs, 2, want) : kchan_select(cs, 2, want);
        int64_t el = kchan_now_ns() - t0;
        cr_assert_eq(rc, KCHAN_TIMEDOUT);
        cr_assert_geq(el, want, "run %d returned after %lld ns", i, (long long)el);
        over[i] = el - want;
    }
    qsort(over, RUNS, sizeof over[0], cmp_i64);
    cr_log_info("select 20 ms timeout overshoot over %d runs: min %.3f ms, median %.3f ms, max %.3f ms",
                RUNS, over[0] / 1e6, over[RUNS / 2] / 1e6, over[RUNS - 1] / 1e6);
    cr_assert_lt(over[RUNS / 2], 20 * MS, "median overshoot %lld ns", (long long)over[RUNS / 2]);
    cr_assert_lt(over[RUNS - 1], 250 * MS, "max overshoot %lld ns", (long long)over[RUNS - 1]);
    kchan_stats sa = st(a), sr = st(r);
    cr_assert_eq(sa.cancelled_waiters, RUNS, "each timed-out select withdrew its registration");
    cr_assert_eq(sr.cancelled_waiters, RUNS);
    cr_assert_eq(sa.waiting_receivers, 0);
    cr_assert_eq(sr.waiting_senders, 0);
    cr_assert_eq(sa.timeouts + sr.timeouts, 0, "timeouts counts single-channel ops only");
    kchan_destroy(a); kchan_destroy(r);
}

/* ---- blocking select: registration on every channel, one winner ------------------- */

Test(select, forever_recv_completed_by_partner, .timeout = T_TIMEOUT)
{
    kchan_t *a = mk(4, 2, KCHAN_BLOCK), *b = mk(4, 2, KCHAN_BLOCK);
    kchan_t *r = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    int x = -1, y = -1, z = -1;
    kchan_case cs[3] = { rc_(a, &x), rc_(b, &y), rc_(r, &z) };
    sel_arg sa = { cs, 3, KCHAN_FOREVER, 0, -99 };
    pthread_t t = t_spawn(sel_main, &sa);
    t_wait_receivers(a, 1);
    t_wait_receivers(b, 1);
    t_wait_receivers(r, 1);
    kchan_t *all[3] = { a, b, r };
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(st(all[i]).waiting_receivers, 1, "registered once on channel %d", i);
        cr_assert_eq(st(all[i]).waiting_senders, 0);
    }
    send_int(b, 42);
    t_join(t);
    cr_assert_eq(sa.rc, 1);
    cr_assert_eq(cs[1].status, KCHAN_OK);
    cr_assert_eq(y, 42);
    cr_assert_eq(x, -1);
    cr_assert_eq(z, -1);
    /* the losers: registrations withdrawn, nothing else */
    kchan_stats s = st(a);
    cr_assert_eq(s.waiting_receivers, 0); cr_assert_eq(s.cancelled_waiters, 1);
    cr_assert_eq(s.sends + s.recvs + s.len, 0);
    s = st(r);
    cr_assert_eq(s.waiting_receivers, 0); cr_assert_eq(s.cancelled_waiters, 1);
    cr_assert_eq(s.sends + s.recvs, 0);
    s = st(b);
    cr_assert_eq(s.waiting_receivers, 0); cr_assert_eq(s.cancelled_waiters, 0);
    cr_assert_eq(s.recvs, 1); cr_assert_eq(s.len, 0);
    /* later sends are not taken by a stale registration */
    send_int(a, 1);
    cr_assert_eq(kchan_len(a), 1);
    int v = 9;
    cr_assert_eq(kchan_try_send(r, &v), KCHAN_WOULDBLOCK, "nobody waits on r any more");
    kchan_destroy(a); kchan_destroy(b); kchan_destroy(r);
}

Test(select, forever_recv_on_rendezvous_completed_by_send, .timeout = T_TIMEOUT)
{
    kchan_t *r1 = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK), *r2 = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    int x = -1, y = -1;
    kchan_case cs[2] = { rc_(r1, &x), rc_(r2, &y) };
    sel_arg sa = { cs, 2, KCHAN_FOREVER, 1, -99 };   /* the biased one blocks the same way */
    pthread_t t = t_spawn(sel_main, &sa);
    t_wait_receivers(r1, 1);
    t_wait_receivers(r2, 1);
    send_int(r2, 77);          /* a blocking send: completes with the parked select */
    t_join(t);
    cr_assert_eq(sa.rc, 1);
    cr_assert_eq(y, 77);
    cr_assert_eq(st(r1).waiting_receivers, 0);
    cr_assert_eq(st(r1).cancelled_waiters, 1);
    kchan_destroy(r1); kchan_destroy(r2);
}

Test(select, forever_send_completed_by_partner, .timeout = T_TIMEOUT)
{
    kchan_t *a = mk(4, 2, KCHAN_BLOCK), *b = mk(4, 2, KCHAN_BLOCK);
    send_int(a, 1); send_int(a, 2); send_int(b, 3); send_int(b, 4);
    int x = 10, y = 20;
    kchan_case cs[2] = { sc_(a, &x), sc_(b, &y) };
    sel_arg sa = { cs, 2, KCHAN_FOREVER, 0, -99 };
    pthread_t t = t_spawn(sel_main, &sa);
    t_wait_senders(a, 1);
    t_wait_senders(b, 1);
    cr_assert_eq(st(a).waiting_senders, 1);
    cr_assert_eq(st(b).waiting_senders, 1);
    cr_assert_eq(recv_int(a), 1);    /* makes room in a: the select's send goes there */
    t_join(t);
    cr_assert_eq(sa.rc, 0);
    cr_assert_eq(cs[0].status, KCHAN_OK);
    cr_assert_eq(recv_int(a), 2);
    cr_assert_eq(recv_int(a), 10);
    /* b: contents and counters as before, registration gone */
    kchan_stats s = st(b);
    cr_assert_eq(s.len, 2); cr_assert_eq(s.sends, 2); cr_assert_eq(s.recvs, 0);
    cr_assert_eq(s.waiting_senders, 0); cr_assert_eq(s.cancelled_waiters, 1);
    cr_assert_eq(recv_int(b), 3);
    cr_assert_eq(recv_int(b), 4);
    cr_assert_eq(kchan_try_recv(b, &x), KCHAN_WOULDBLOCK, "the losing element was not stored");
    kchan_destroy(a); kchan_destroy(b);
}

Test(select, forever_mixed_send_and_recv, .timeout = T_TIMEOUT)
{
    kchan_t *in = mk(4, 2, KCHAN_BLOCK), *out = mk(4, 1, KCHAN_BLOCK);
    send_int(out, 5);
    int x = -1, y = 6;
    kchan_case cs[2] = { rc_(in, &x), sc_(out, &y) };
    sel_arg sa = { cs, 2, KCHAN_FOREVER, 0, -99 };
    /* round 1: the send side wins when room appears */
    pthread_t t = t_spawn(sel_main, &sa);
    t_wait_receivers(in, 1);
    t_wait_senders(out, 1);
    cr_assert_eq(recv_int(out), 5);
    t_join(t);
    cr_assert_eq(sa.rc, 1);
    cr_assert_eq(recv_int(out), 6);
    send_int(out, 7);
    cr_assert_eq(st(in).waiting_receivers, 0);
    cr_assert_eq(st(in).cancelled_waiters, 1);
    /* round 2: the recv side wins when data appears */
    t = t_spawn(sel_main, &sa);
    t_wait_receivers(in, 1);
    t_wait_senders(out, 1);
    send_int(in, 8);
    t_join(t);
    cr_assert_eq(sa.rc, 0);
    cr_assert_eq(x, 8);
    cr_assert_eq(kchan_len(out), 1);
    cr_assert_eq(recv_int(out), 7, "the losing send stored nothing");
    cr_assert_eq(st(out).waiting_senders, 0);
    cr_assert_eq(st(out).cancelled_waiters, 1);
    kchan_destroy(in); kchan_destroy(out);
}

/* Two partners race for one blocked select over two rendezvous channels: exactly
   one of them pairs with it, the other is left for the main thread. */
enum { RACE_ROUNDS = 150 };
typedef struct {
    kchan_t *r[2];
    pthread_barrier_t bar;
    kchan_counter sel_done;
    int sel_rc[RACE_ROUNDS];
    int sel_val[RACE_ROUNDS];
    int send_rc[2][RACE_ROUNDS];
} race_state;
typedef struct { race_state *s; int who; } race_arg;

static void *race_selector(void *p)
{
    race_arg *a = p;
    race_state *s = a->s;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        int x = -1, y = -1;
        kchan_case cs[2] = { rc_(s->r[0], &x), rc_(s->r[1], &y) };
        pthread_barrier_wait(&s->bar);
        int rc = kchan_select(cs, 2, KCHAN_FOREVER);
        s->sel_rc[i] = rc;
        s->sel_val[i] = rc == 0 ? x : rc == 1 ? y : -1;
        (void)kchan_counter_add(&s->sel_done, 1);
    }
    return NULL;
}
static void *race_sender(void *p)
{
    race_arg *a = p;
    race_state *s = a->s;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        int v = (a->who + 1) * 1000 + i;
        pthread_barrier_wait(&s->bar);
        s->send_rc[a->who][i] = kchan_send(s->r[a->who], &v);
    }
    return NULL;
}

Test(select, exactly_one_of_racing_partners, .timeout = T_TIMEOUT)
{
    static race_state s;
    s.r[0] = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    s.r[1] = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    kchan_counter_init(&s.sel_done, 0);
    cr_assert_eq(pthread_barrier_init(&s.bar, NULL, 4), 0);
    race_arg as = { &s, 0 }, a0 = { &s, 0 }, a1 = { &s, 1 };
    pthread_t ts = t_spawn(race_selector, &as);
    pthread_t t0 = t_spawn(race_sender, &a0), t1 = t_spawn(race_sender, &a1);
    int main_val[RACE_ROUNDS];
    for (int i = 0; i < RACE_ROUNDS; i++) {
        pthread_barrier_wait(&s.bar);
        cr_assert_eq(kchan_counter_wait_ge(&s.sel_done, i + 1, 10000 * MS), KCHAN_OK);
        int rc = s.sel_rc[i];
        cr_assert(rc == 0 || rc == 1, "round %d: select returned %d", i, rc);
        main_val[i] = recv_int(s.r[1 - rc]);   /* release the partner that lost */
    }
    t_join(ts); t_join(t0); t_join(t1);
    int wins[2] = { 0, 0 };
    for (int i = 0; i < RACE_ROUNDS; i++) {
        int rc = s.sel_rc[i];
        wins[rc]++;
        cr_assert_eq(s.sel_val[i], (rc + 1) * 1000 + i, "round %d: select got %d", i, s.sel_val[i]);
        cr_assert_eq(main_val[i], (2 - rc) * 1000 + i, "round %d: main got %d", i, main_val[i]);
        cr_assert_eq(s.send_rc[0][i], KCHAN_OK);
        cr_assert_eq(s.send_rc[1][i], KCHAN_OK);
    }
    cr_log_info("racing partners: channel 0 won %d, channel 1 won %d of %d", wins[0], wins[1],
                RACE_ROUNDS);
    for (int k = 0; k < 2; k++) {
        kchan_stats x = st(s.r[k]);
        cr_assert_eq(x.waiting_senders + x.waiting_receivers, 0);
        cr_assert_eq(x.sends, RACE_ROUNDS);
        cr_assert_eq(x.recvs, RACE_ROUNDS);
    }
    pthread_barrier_destroy(&s.bar);
    kchan_destroy(s.r[0]); kchan_destroy(s.r[1]);
}

/* ---- selects pairing with each other, and never with themselves -------------------- */

enum { PAIR_ROUNDS = 200 };
typedef struct {
    kchan_t *r, *idle, *full;
    pthread_barrier_t bar;
    int rc[2][PAIR_ROUNDS];
    int got[PAIR_ROUNDS];
} pair_state;
typedef struct { pair_state *s; int sender; } pair_arg;

static void *pair_main(void *p)
{
    pair_arg *a = p;
    pair_state *s = a->s;
    for (int i = 0; i < PAIR_ROUNDS; i++) {
        int v = i * 3 + 1, x = -1, dummy = -1, dummy2 = 99;
        kchan_case cs[2];
        if (a->sender) { cs[0] = sc_(s->r, &v); cs[1] = rc_(s->idle, &dummy); }
        else { cs[0] = rc_(s->r, &x); cs[1] = sc_(s->full, &dummy2); }
        pthread_barrier_wait(&s->bar);
        s->rc[a->sender][i] = kchan_select(cs, 2, KCHAN_FOREVER);
        if (!a->sender) s->got[i] = x;
    }
    return NULL;
}

Test(select, selects_pair_on_rendezvous, .timeout = T_TIMEOUT)
{
    static pair_state s;
    s.r = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    s.idle = mk(4, 1, KCHAN_BLOCK);
    s.full = mk(4, 1, KCHAN_BLOCK);
    send_int(s.full, 500);
    cr_assert_eq(pthread_barrier_init(&s.bar, NULL, 2), 0);
    pair_arg as = { &s, 1 }, ar = { &s, 0 };
    pthread_t ts = t_spawn(pair_main, &as), tr = t_spawn(pair_main, &ar);
    t_join(ts); t_join(tr);
    for (int i = 0; i < PAIR_ROUNDS; i++) {
        cr_assert_eq(s.rc[1][i], 0, "round %d: sending select returned %d", i, s.rc[1][i]);
        cr_assert_eq(s.rc[0][i], 0, "round %d: receiving select returned %d", i, s.rc[0][i]);
        cr_assert_eq(s.got[i], i * 3 + 1);
    }
    kchan_stats r = st(s.r), idle = st(s.idle), full = st(s.full);
    cr_assert_eq(r.sends, PAIR_ROUNDS);
    cr_assert_eq(r.recvs, PAIR_ROUNDS);
    cr_assert_eq(r.waiting_senders + r.waiting_receivers, 0);
    cr_assert_eq(idle.len + idle.sends + idle.recvs + idle.waiting_receivers, 0);
    cr_assert_eq(full.len, 1);
    cr_assert_eq(full.sends, 1);
    cr_assert_eq(full.waiting_senders, 0);
    cr_assert_eq(recv_int(s.full), 500);
    pthread_barrier_destroy(&s.bar);
    kchan_destroy(s.r); kchan_destroy(s.idle); kchan_destroy(s.full);
}

Test(select, never_pairs_with_itself, .timeout = T_TIMEOUT)
{
    kchan_t *r = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    int x = 11, y = -1;
    kchan_case cs[2] = { sc_(r, &x), rc_(r, &y) };
    /* alone: nothing to pair with */
    cr_assert_eq(kchan_select(cs, 2, 0), KCHAN_WOULDBLOCK);
    int64_t t0 = kchan_now_ns();
    cr_assert_eq(kchan_select(cs, 2, 20 * MS), KCHAN_TIMEDOUT);
    cr_assert_geq(kchan_now_ns() - t0, 20 * MS);
    cr_assert_eq(y, -1);
    kchan_stats s = st(r);
    cr_assert_eq(s.sends + s.recvs, 0);
    cr_assert_eq(s.waiting_senders + s.waiting_receivers, 0);
    cr_assert_eq(s.cancelled_waiters, 2, "both registrations withdrawn");

    /* parked first, then a receiving partner arrives: the send case wins */
    sel_arg sa = { cs, 2, KCHAN_FOREVER, 0, -99 };
    pthread_t t = t_spawn(sel_main, &sa);
    t_wait_senders(r, 1);
    t_wait_receivers(r, 1);
    cr_assert_eq(recv_int(r), 11);
    t_join(t);
    cr_assert_eq(sa.rc, 0);
    cr_assert_eq(cs[0].status, KCHAN_OK);
    cr_assert_eq(y, -1);
    /* parked first, then a sending partner: the recv case wins */
    t = t_spawn(sel_main, &sa);
    t_wait_senders(r, 1);
    t_wait_receivers(r, 1);
    send_int(r, 12);
    t_join(t);
    cr_assert_eq(sa.rc, 1);
    cr_assert_eq(y, 12);
    /* partner parked first, in each direction */
    op_arg rv = { r, 0, 0, -99, -1 };
    t = t_spawn(op_main, &rv);
    t_wait_receivers(r, 1);
    cr_assert_eq(kchan_select(cs, 2, KCHAN_FOREVER), 0);
    t_join(t);
    cr_assert_eq(rv.out, 11);
    op_arg sd = { r, 1, 13, -99, -1 };
    t = t_spawn(op_main, &sd);
    t_wait_senders(r, 1);
    cr_assert_eq(kchan_select(cs, 2, KCHAN_FOREVER), 1);
    t_join(t);
    cr_assert_eq(sd.rc, KCHAN_OK);
    cr_assert_eq(y, 13);
    s = st(r);
    cr_assert_eq(s.sends, 4);
    cr_assert_eq(s.recvs, 4);
    cr_assert_eq(s.waiting_senders + s.waiting_receivers, 0);
    kchan_destroy(r);
}

/* ---- odd inputs -------------------------------------------------------------------- */

Test(select, same_channel_in_several_cases, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, 2, KCHAN_BLOCK);
    int x = -1, y = -1;
    kchan_case rr[2] = { rc_(c, &x), rc_(c, &y) };
    send_int(c, 1);
    int r = kchan_select(rr, 2, 0);
    cr_assert(r == 0 || r == 1);
    cr_assert_eq(r == 0 ? x : y, 1);
    cr_assert_eq(kchan_len(c), 0, "one element taken once");
    cr_assert_eq(kchan_select(rr, 2, 0), KCHAN_WOULDBLOCK);

    int a = 5, b = 6;
    kchan_case ss[2] = { sc_(c, &a), sc_(c, &b) };
    r = kchan_select(ss, 2, 0);
    cr_assert(r == 0 || r == 1);
    cr_assert_eq(kchan_len(c), 1, "exactly one send");
    cr_assert_eq(recv_int(c), r == 0 ? 5 : 6);

    /* send and recv on the same buffered channel */
    kchan_case sr[2] = { sc_(c, &a), rc_(c, &x) };
    cr_assert_eq(kchan_select(sr, 2, 0), 0, "empty: only the send is ready");
    send_int(c, 7);
    cr_assert_eq(kchan_select(sr, 2, 0), 1, "full: only the recv is ready");
    cr_assert_eq(x, 5);
    cr_assert_eq(recv_int(c), 7);

    /* blocked on two recv cases of one channel: two registrations, one completes */
    kchan_stats before = st(c);
    sel_arg sa = { rr, 2, KCHAN_FOREVER, 0, -99 };
    pthread_t t = t_spawn(sel_main, &sa);
    t_wait_receivers(c, 2);
    send_int(c, 9);
    t_join(t);
    cr_assert(sa.rc == 0 || sa.rc == 1);
    cr_assert_eq(sa.rc == 0 ? x : y, 9);
    kchan_stats s = st(c);
    cr_assert_eq(s.waiting_receivers, 0);
    cr_assert_eq(s.cancelled_waiters, before.cancelled_waiters + 1, "the other case withdrew");
    cr_assert_eq(s.len, 0);
    send_int(c, 10);
    cr_assert_eq(kchan_len(c), 1, "no stale registration");
    kchan_destroy(c);
}

Test(select, null_chan_cases_are_skipped, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, 2, KCHAN_BLOCK);
    int x = -1, y = -1, v = 3;
    send_int(c, 8);
    kchan_case cs[3] = { rc_(NULL, &x), sc_(NULL, &v), rc_(c, &y) };
    cr_assert_eq(kchan_select(cs, 3, 0), 2);
    cr_assert_eq(y, 8);
    cr_assert_eq(x, -1);
    cr_assert_eq(kchan_select(cs, 3, 0), KCHAN_WOULDBLOCK);
    /* blocked with NULL cases mixed in */
    sel_arg sa = { cs, 3, KCHAN_FOREVER, 0, -99 };
    pthread_t t = t_spawn(sel_main, &sa);
    t_wait_receivers(c, 1);
    send_int(c, 9);
    t_join(t);
    cr_assert_eq(sa.rc, 2);
    cr_assert_eq(y, 9);
    kchan_destroy(c);
}

Test(select, all_null_or_no_cases_wait_out_the_timeout, .timeout = T_TIMEOUT)
{
    int x = -1, v = 1;
    kchan_case cs[2] = { rc_(NULL, &x), sc_(NULL, &v) };
    cr_assert_eq(kchan_select(cs, 2, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_select_biased(cs, 2, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_select(NULL, 0, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_select(cs, 0, 0), KCHAN_WOULDBLOCK);
    int64_t t0 = kchan_now_ns();
    cr_assert_eq(kchan_select(cs, 2, 20 * MS), KCHAN_TIMEDOUT);
    int64_t t1 = kchan_now_ns();
    cr_assert_eq(kchan_select(NULL, 0, 20 * MS), KCHAN_TIMEDOUT);
    int64_t t2 = kchan_now_ns();
    cr_assert_eq(kchan_select_biased(NULL, 0, 20 * MS), KCHAN_TIMEDOUT);
    int64_t t3 = kchan_now_ns();
    cr_assert_geq(t1 - t0, 20 * MS, "all-NULL select waited only %lld ns", (long long)(t1 - t0));
    cr_assert_geq(t2 - t1, 20 * MS, "n == 0 select waited only %lld ns", (long long)(t2 - t1));
    cr_assert_geq(t3 - t2, 20 * MS);
    cr_assert_lt(t3 - t0, 2000 * MS);
    cr_assert_eq(x, -1);
}

Test(select, invalid_input_is_inval_with_no_effect, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(4, 2, KCHAN_BLOCK), *d = mk(4, 2, KCHAN_BLOCK);
    send_int(c, 1);
    int x = -1, y = -1;
    /* bad op, on a real channel and on a NULL one */
    const int bad_ops[] = { 0, 3, -1, KCHAN_OP_SEND | KCHAN_OP_RECV };
    for (size_t i = 0; i < sizeof bad_ops / sizeof bad_ops[0]; i++) {
        kchan_case cs[2] = { rc_(c, &x), { d, bad_ops[i], &y, -99 } };
        cr_assert_eq(kchan_select(cs, 2, 0), KCHAN_INVAL, "op %d", bad_ops[i]);
        cr_assert_eq(kchan_select_biased(cs, 2, KCHAN_FOREVER), KCHAN_INVAL);
        cs[1].chan = NULL;
        cr_assert_eq(kchan_select(cs, 2, KCHAN_FOREVER), KCHAN_INVAL, "op %d, chan NULL", bad_ops[i]);
        cr_assert_eq(kchan_select_biased(cs, 2, 0), KCHAN_INVAL);
        kchan_case later[2] = { { NULL, bad_ops[i], &y, -99 }, rc_(c, &x) };
        cr_assert_eq(kchan_select_biased(later, 2, 0), KCHAN_INVAL, "bad case first, chan NULL");
    }
    /* NULL elem on a channel with a non-zero element size, recv and send */
    kchan_case ne1[2] = { rc_(c, &x), { d, KCHAN_OP_RECV, NULL, -99 } };
    cr_assert_eq(kchan_select(ne1, 2, 0), KCHAN_INVAL);
    kchan_case ne2[2] = { { d, KCHAN_OP_SEND, NULL, -99 }, rc_(c, &x) };
    cr_assert_eq(kchan_select(ne2, 2, KCHAN_FOREVER), KCHAN_INVAL);
    cr_assert_eq(kchan_select_biased(ne2, 2, 0), KCHAN_INVAL);
    /* NULL cases with n > 0 */
    cr_assert_eq(kchan_select(NULL, 1, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_select(NULL, 3, KCHAN_FOREVER), KCHAN_INVAL);
    cr_assert_eq(kchan_select_biased(NULL, 1, 0), KCHAN_INVAL);
    /* too many cases, all valid, one ready */
    static kchan_case many[KCHAN_SELECT_MAX + 1];
    for (size_t i = 0; i <= KCHAN_SELECT_MAX; i++) many[i] = rc_(d, &y);
    many[KCHAN_SELECT_MAX] = rc_(c, &x);
    cr_assert_eq(kchan_select(many, KCHAN_SELECT_MAX + 1, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_select(many, (size_t)-1, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_select_biased(many, KCHAN_SELECT_MAX + 1, KCHAN_FOREVER), KCHAN_INVAL);
    /* nothing happened anywhere */
    cr_assert_eq(x, -1);
    cr_assert_eq(y, -1);
    kchan_stats s = st(c);
    cr_assert_eq(s.len, 1); cr_assert_eq(s.recvs, 0); cr_assert_eq(s.cancelled_waiters, 0);
    s = st(d);
    cr_assert_eq(s.len + s.sends + s.recvs + s.cancelled_waiters, 0);
    /* a parked partner is not taken by an invalid select */
    kchan_t *r = mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    op_arg sd = { r, 1, 66, -99, -1 };
    pthread_t t = t_spawn(op_main, &sd);
    t_wait_senders(r, 1);
    kchan_case withr[2] = { rc_(r, &x), { NULL, 0, &y, -99 } };
    cr_assert_eq(kchan_select(withr, 2, 0), KCHAN_INVAL);
    cr_assert_eq(x, -1);
    cr_assert_eq(st(r).waiting_senders, 1, "the parked sender is still there");
    cr_assert_eq(recv_int(r), 66);
    t_join(t);
    cr_assert_eq(recv_int(c), 1);
    kchan_destroy(c); kchan_destroy(d); kchan_destroy(r);
}

Test(select, zero_size_elements_take_null, .timeout = T_TIMEOUT)
{
    kchan_t *sig = mk(0, 2, KCHAN_BLOCK), *rz = mk(0, KCHAN_RENDEZVOUS, KCHAN_BLOCK);
    kchan_case snd[1] = { { sig, KCHAN_OP_SEND, NULL, -99 } };
    kchan_case rcv[2] = { { rz, KCHAN_OP_RECV, NULL, -99 }, { sig, KCHAN_OP_RECV, NULL, -99 } };
    cr_assert_eq(kchan_select(snd, 1, 0), 0);
    cr_assert_eq(kchan_len(sig), 1);
    cr_assert_eq(kchan_select(rcv, 2, 0), 1);
    cr_assert_eq(kchan_len(sig), 0);
    sel_arg sa = { rcv, 2, KCHAN_FOREVER, 0, -99 };
    pthread_t t = t_spawn(sel_main, &sa);
    t_wait_receivers(rz, 1);
    t_wait_receivers(sig, 1);
    cr_assert_eq(kchan_send(rz, NULL), KCHAN_OK);
    t_join(t);
    cr_assert_eq(sa.rc, 0);
    cr_assert_eq(rcv[0].status, KCHAN_OK);
    kchan_destroy(sig); kchan_destroy(rz);
}

/* ---- resources ----------------------------------------------------------------------- */

enum { PING_ROUNDS = 300 };
typedef struct { kchan_t *ping, *pong, *idle; int errors; } ping_state;
static void *pong_main(void *p)
{
    ping_state *s = p;
    for (int i = 0; i < PING_ROUNDS; i++) {
        int v = -1, dummy = -1;
        kchan_case in[2] = { rc_(s->ping, &v), rc_(s->idle, &dummy) };
        if (kchan_select(in, 2, KCHAN_FOREVER) != 0 || v != i) s->errors++;
        v += 1;
        kchan_case out[2] = { rc_(s->idle, &dummy), sc_(s->pong, &v) };
        if (kchan_select(out, 2, KCHAN_FOREVER) != 1) s->errors++;
    }
    return NULL;
}

Test(select, no_allocation_in_blocking_selects, .timeout = T_TIMEOUT)
{
    ping_state s = { mk(4, KCHAN_RENDEZVOUS, KCHAN_BLOCK), mk(4, 1, KCHAN_BLOCK),
                     mk(4, 4, KCHAN_BLOCK), 0 };
    int64_t allocs = test_alloc_calls();
    pthread_t t = t_spawn(pong_main, &s);
    for (int i = 0; i < PING_ROUNDS; i++) {
        int v = i, back = -1, dummy = -1;
        kchan_case out[2] = { sc_(s.ping, &v), rc_(s.idle, &dummy) };
        cr_assert_eq(kchan_select(out, 2, KCHAN_FOREVER), 0);
        kchan_case in[1] = { rc_(s.pong, &back) };
        cr_assert_eq(kchan_select(in, 1, KCHAN_FOREVER), 0);
        cr_assert_eq(back, i + 1);
    }
    t_join(t);
    cr_assert_eq(s.errors, 0);
    int x;
    kchan_case to[2] = { rc_(s.idle, &x), rc_(s.pong, &x) };
    for (int i = 0; i < 5; i++) cr_assert_eq(kchan_select(to, 2, 1 * MS), KCHAN_TIMEDOUT);
    cr_assert_eq(test_alloc_calls(), allocs, "a select allocated");
    kchan_destroy(s.ping); kchan_destroy(s.pong); kchan_destroy(s.idle);
}

Test(select, select_max_cases, .timeout = T_TIMEOUT)
{
    enum { M = KCHAN_SELECT_MAX };
    static kchan_t *c[M];
    static int v[M];
    static kchan_case cs[M];
    for (int i = 0; i < M; i++) {
        c[i] = mk(4, 1, KCHAN_BLOCK);
        v[i] = -1;
        cs[i] = rc_(c[i], &v[i]);
    }
    cr_assert_eq(kchan_select(cs, M, 0), KCHAN_WOULDBLOCK);
    send_int(c[M / 2 + 5], 37);
    cr_assert_eq(kchan_select(cs, M, 0), M / 2 + 5);
    cr_assert_eq(v[M / 2 + 5], 37);
    sel_arg sa = { cs, M, KCHAN_FOREVER, 0, -99 };
    pthread_t t = t_spawn(sel_main, &sa);
    for (int i = 0; i < M; i++) t_wait_receivers(c[i], 1);
    send_int(c[M - 1], 99);
    t_join(t);
    cr_assert_eq(sa.rc, M - 1);
    cr_assert_eq(v[M - 1], 99);
    for (int i = 0; i < M; i++) {
        kchan_stats s = st(c[i]);
        cr_assert_eq(s.waiting_receivers, 0, "channel %d", i);
        cr_assert_eq(s.cancelled_waiters, i == M - 1 ? 0u : 1u, "channel %d", i);
    }
    for (int i = 0; i < M; i++) send_int(c[i], i);
    cr_assert_eq(kchan_select_biased(cs, M, 0), 0);
    for (int i = 0; i < M; i++) kchan_destroy(c[i]);
}

/* ---- stress: random mixes of select/send/recv/try over four kinds --------------------- */

enum { SX_THREADS = 8, SX_OPS = 8000, SX_SEQ = 16384, SX_CHANS = 4 };
typedef struct {
    kchan_t *ch[SX_CHANS];
    _Atomic unsigned char sent[SX_THREADS * SX_SEQ];
    _Atomic unsigned char got[SX_THREADS * SX_SEQ];
    atomic_llong progress;
    atomic_int errors;
    atomic_int bad_value;
    kchan_counter done;
} sx_state;
typedef struct { sx_state *s; int id; } sx_arg;

static void sx_mark_got(sx_state *s, int64_t v)
{
    if (v < 0 || v >= SX_THREADS * SX_SEQ) { atomic_fetch_add(&s->bad_value, 1); return; }
    atomic_fetch_add_explicit(&s->got[v], 1, memory_order_relaxed);
}
static void sx_undelivered(void *elem, void *user)
{
    int64_t v;
    memcpy(&v, elem, sizeof v);
    sx_mark_got(user, v);
}
static uint32_t sx_rand(uint32_t *x)
{
    *x ^= *x << 13; *x ^= *x >> 17; *x ^= *x << 5;
    return *x;
}
static int64_t sx_timeout(uint32_t *rng)
{
    uint32_t r = sx_rand(rng) % 10;
    return r < 3 ? 0 : r < 8 ? (int64_t)(100000 + sx_rand(rng) % 900000) : KCHAN_FOREVER;
}
static void sx_check(sx_state *s, int rc)
{
    if (rc != KCHAN_OK && rc != KCHAN_CLOSED && rc != KCHAN_WOULDBLOCK && rc != KCHAN_TIMEDOUT)
        atomic_fetch_add(&s->errors, 1);
}

static void *sx_worker(void *p)
{
    sx_arg *a = p;
    sx_state *s = a->s;
    uint32_t rng = 0x9e3779b9u * (uint32_t)(a->id + 1);
    int64_t seq = 0;
    for (int op = 0; op < SX_OPS; op++) {
        uint32_t kind = sx_rand(&rng) % 10;
        kchan_t *c = s->ch[sx_rand(&rng) % SX_CHANS];
        if (kind < 4) {                                  /* select */
            kchan_case cs[4];
            int64_t buf[4];
            int n = 1 + (int)(sx_rand(&rng) % 4);
            for (int i = 0; i < n; i++) {
                kchan_t *ci = s->ch[sx_rand(&rng) % SX_CHANS];
                if (sx_rand(&rng) & 1) {
                    buf[i] = seq < SX_SEQ ? (int64_t)a->id * SX_SEQ + seq++ : -1;
                    cs[i] = (kchan_case){ buf[i] < 0 ? NULL : ci, KCHAN_OP_SEND, &buf[i], -99 };
                } else {
                    buf[i] = -1;
                    cs[i] = (kchan_case){ ci, KCHAN_OP_RECV, &buf[i], -99 };
                }
            }
            int64_t to = sx_timeout(&rng);
            int rc = (sx_rand(&rng) % 4 == 0) ? kchan_select_biased(cs, (size_t)n, to)
                                              : kchan_select(cs, (size_t)n, to);
            if (rc >= 0 && rc < n) {
                if (cs[rc].status == KCHAN_OK) {
                    if (cs[rc].op == KCHAN_OP_SEND) atomic_store(&s->sent[buf[rc]], 1);
                    else sx_mark_got(s, buf[rc]);
                } else if (cs[rc].status != KCHAN_CLOSED) atomic_fetch_add(&s->errors, 1);
            } else if (rc >= 0 || (rc != KCHAN_WOULDBLOCK && rc != KCHAN_TIMEDOUT)) {
                atomic_fetch_add(&s->errors, 1);
            }
        } else if (kind < 7) {                           /* send */
            if (seq >= SX_SEQ) continue;
            int64_t v = (int64_t)a->id * SX_SEQ + seq++;
            int rc = kind == 4 ? kchan_try_send(c, &v) : kchan_send_timeout(c, &v, sx_timeout(&rng));
            sx_check(s, rc);
            if (rc == KCHAN_OK) atomic_store(&s->sent[v], 1);
        } else {                                         /* recv */
            int64_t v = -1;
            int rc = kind == 7 ? kchan_try_recv(c, &v) : kchan_recv_timeout(c, &v, sx_timeout(&rng));
            sx_check(s, rc);
            if (rc == KCHAN_OK) sx_mark_got(s, v);
        }
        atomic_fetch_add_explicit(&s->progress, 1, memory_order_relaxed);
    }
    (void)kchan_counter_add(&s->done, 1);
    return NULL;
}

Test(select, stress_mixed_ops_conservation, .timeout = T_TIMEOUT)
{
    static sx_state s;
    memset(&s, 0, sizeof s);
    kchan_counter_init(&s.done, 0);
    kchan_opts o[SX_CHANS] = {
        { .capacity = KCHAN_RENDEZVOUS },
        { .capacity = 4 },
        { .capacity = KCHAN_UNLIMITED },
        { .capacity = 4, .overflow = KCHAN_DROP_OLDEST, .on_undelivered = sx_undelivered, .user = &s },
    };
    for (int i = 0; i < SX_CHANS; i++) cr_assert_eq(kchan_create(&s.ch[i], sizeof(int64_t), &o[i]), KCHAN_OK);
    sx_arg args[SX_THREADS];
    pthread_t t[SX_THREADS];
    int64_t t0 = kchan_now_ns();
    for (int i = 0; i < SX_THREADS; i++) { args[i] = (sx_arg){ &s, i }; t[i] = t_spawn(sx_worker, &args[i]); }
    /* the closer: when every worker is done, or nobody made progress for a while
       (all left are parked with nothing to pair with), close everything */
    long long last = -1;
    for (;;) {
        if (kchan_counter_wait_ge(&s.done, SX_THREADS, 30 * MS) == KCHAN_OK) break;
        long long now = atomic_load(&s.progress);
        if (now == last) break;
        last = now;
    }
    for (int i = 0; i < SX_CHANS; i++) cr_assert_eq(kchan_close(s.ch[i]), KCHAN_OK);
    for (int i = 0; i < SX_THREADS; i++) t_join(t[i]);
    int64_t el = kchan_now_ns() - t0;
    /* drain what is left; then nothing may be parked anywhere */
    for (int i = 0; i < SX_CHANS; i++) {
        int64_t v;
        int rc;
        while ((rc = kchan_recv(s.ch[i], &v)) == KCHAN_OK) sx_mark_got(&s, v);
        cr_assert_eq(rc, KCHAN_CLOSED);
        kchan_stats x = st(s.ch[i]);
        cr_assert_eq(x.waiting_senders + x.waiting_receivers, 0, "channel %d: a thread left parked", i);
        cr_assert_eq(x.len, 0);
        cr_assert_eq(x.sends, x.recvs + x.drops_newest + x.drops_oldest + x.undelivered,
                     "channel %d: stats conservation", i);
    }
    cr_assert_eq(atomic_load(&s.errors), 0);
    cr_assert_eq(atomic_load(&s.bad_value), 0, "received a value never sent");
    long sent = 0, delivered = 0;
    for (int v = 0; v < SX_THREADS * SX_SEQ; v++) {
        int sv = atomic_load(&s.sent[v]), gv = atomic_load(&s.got[v]);
        cr_assert_eq(gv, sv, "value %d: sent %d, received/undelivered %d times", v, sv, gv);
        sent += sv;
        delivered += gv;
    }
    uint64_t ops = 0;
    for (int i = 0; i < SX_CHANS; i++) ops += st(s.ch[i]).sends;
    cr_assert_eq((uint64_t)sent, ops, "stats.sends agree with the senders' count");
    cr_log_info("select stress: %ld values sent, %ld received or handed to on_undelivered, "
                "%lld ops, %.0f ms", sent, delivered, (long long)atomic_load(&s.progress), el / 1e6);
    for (int i = 0; i < SX_CHANS; i++) kchan_destroy(s.ch[i]);
}

/* ---- fairness with one channel in several cases (issue 14, item 2) ----------------- */

/* Two threads each make N selects over K cases on one channel, one side all sends, the
   other all receives. Whichever side parks is completed by the other through the oldest
   registration on the channel, so registrations must be queued in the random try order,
   not in index order, for each case to win about 1/K of the time. */
enum { DUP_N = 10000, DUP_K = 5 };
typedef struct { kchan_t *c; int send; long wins[DUP_K]; int bad; } dup_side;

static void *dup_main(void *p)
{
    dup_side *d = (dup_side *)p;
    int v[DUP_K];
    kchan_case cs[DUP_K];
    for (int k = 0; k < DUP_K; k++) {
        v[k] = k;
        kchan_case x = { d->c, d->send ? KCHAN_OP_SEND : KCHAN_OP_RECV, &v[k], -99 };
        cs[k] = x;
    }
    for (int i = 0; i < DUP_N; i++) {
        int r = kchan_select(cs, DUP_K, KCHAN_FOREVER);
        if (r < 0 || r >= DUP_K || cs[r].status != KCHAN_OK) { d->bad++; continue; }
        d->wins[r]++;
        if (!d->send) v[r] = r;
    }
    return NULL;
}

static void dup_check(const char *what, const dup_side *d)
{
    cr_log_info("select fairness, %s, %d cases on one channel: %ld %ld %ld %ld %ld", what, DUP_K,
                d->wins[0], d->wins[1], d->wins[2], d->wins[3], d->wins[4]);
    cr_assert_eq(d->bad, 0);
    for (int k = 0; k < DUP_K; k++)   /* at least 1/K - 5% */
        cr_assert_geq(d->wins[k], DUP_N / DUP_K - DUP_N * 5 / 100, "%s: case %d won %ld of %d",
                      what, k, d->wins[k], DUP_N);
}

static void dup_run(size_t cap)
{
    kchan_t *c = mk(4, cap, KCHAN_BLOCK);
    dup_side s = { c, 1, { 0 }, 0 }, r = { c, 0, { 0 }, 0 };
    pthread_t ts = t_spawn(dup_main, &s), tr = t_spawn(dup_main, &r);
    t_join(ts);
    t_join(tr);
    dup_check(cap == KCHAN_RENDEZVOUS ? "rendezvous, send side" : "bounded-2, send side", &s);
    dup_check(cap == KCHAN_RENDEZVOUS ? "rendezvous, recv side" : "bounded-2, recv side", &r);
    cr_assert_eq(kchan_len(c), 0);
    kchan_destroy(c);
}

Test(select, fairness_duplicate_channel_rendezvous, .timeout = T_TIMEOUT) { dup_run(KCHAN_RENDEZVOUS); }
Test(select, fairness_duplicate_channel_bounded, .timeout = T_TIMEOUT) { dup_run(2); }

/* A select parked with two receive cases on one channel, completed by plain sends: the
   send takes the oldest registration, which must be either case with equal chance. */
static void dup_parked(size_t cap)
{
    enum { N = 2000 };
    kchan_t *c = mk(4, cap, KCHAN_BLOCK);
    long wins[2] = { 0, 0 };
    for (int i = 0; i < N; i++) {
        int x = -1, y = -1;
        kchan_case rr[2] = { rc_(c, &x), rc_(c, &y) };
        sel_arg sa = { rr, 2, KCHAN_FOREVER, 0, -99 };
        pthread_t t = t_spawn(sel_main, &sa);
        t_wait_receivers(c, 2);                /* parked: both cases registered */
        send_int(c, i);
        t_join(t);
        cr_assert(sa.rc == 0 || sa.rc == 1, "select returned %d", sa.rc);
        cr_assert_eq(sa.rc == 0 ? x : y, i);
        wins[sa.rc]++;
    }
    cr_log_info("parked select, two recv cases on one %s channel: case0 %ld case1 %ld of %d",
                cap == KCHAN_RENDEZVOUS ? "rendezvous" : "bounded", wins[0], wins[1], N);
    cr_assert_geq(wins[0], N * 45 / 100, "case 0 won %ld of %d", wins[0], N);
    cr_assert_geq(wins[1], N * 45 / 100, "case 1 won %ld of %d", wins[1], N);
    kchan_destroy(c);
}

Test(select, fairness_parked_duplicate_rendezvous, .timeout = T_TIMEOUT) { dup_parked(KCHAN_RENDEZVOUS); }
Test(select, fairness_parked_duplicate_bounded, .timeout = T_TIMEOUT) { dup_parked(4); }

/* ---- a winning registration that comes to nothing is counted (issue 14, item 3) ----- */

/* A select over {recv c, recv z}: z never gets an element, so each registration round
   withdraws z's registration (z.cancelled_waiters + 1), and c's too unless c completed in
   that round. A round where c "won" but its retry found the element taken by a thief
   withdraws c's registration as well. So over one select, c's count must grow by at least
   z's minus one (the round that completed). The thief makes such lost retries common on
   the lock-free engine. */
typedef struct { kchan_t *c; atomic_int stop; long stolen; } thief_arg;
static void *thief_main(void *p)
{
    thief_arg *a = (thief_arg *)p;
    int v;
    while (!atomic_load(&a->stop))
        if (kchan_try_recv(a->c, &v) == KCHAN_OK) a->stolen++;
        else sched_yield();
    return NULL;
}
typedef struct { kchan_t *c; long sent; } feeder_arg;
static void *feeder_main(void *p)
{
    feeder_arg *a = (feeder_arg *)p;
    int v = 1;
    while (kchan_send(a->c, &v) == KCHAN_OK) a->sent++;
    return NULL;
}

Test(select, lost_retry_counts_as_cancelled, .timeout = T_TIMEOUT)
{
    enum { N = 20000 };
    kchan_t *c = mk(4, 1, KCHAN_BLOCK), *z = mk(0, 1, KCHAN_BLOCK);
    thief_arg th = { c, 0, 0 };
    feeder_arg fd = { c, 0 };
    pthread_t tt = t_spawn(thief_main, &th), tf = t_spawn(feeder_main, &fd);
    long got = 0, rounds = 0, short_counted = 0;
    for (int i = 0; i < N; i++) {
        int x = 0;
        kchan_case cs[2] = { rc_(c, &x), { z, KCHAN_OP_RECV, NULL, -99 } };
        uint64_t c0 = st(c).cancelled_waiters, z0 = st(z).cancelled_waiters;
        int r = kchan_select(cs, 2, KCHAN_FOREVER);
        cr_assert_eq(r, 0);
        got++;
        uint64_t dc = st(c).cancelled_waiters - c0, dz = st(z).cancelled_waiters - z0;
        rounds += (long)dz;
        if (dc + 1 < dz) short_counted++;
    }
    atomic_store(&th.stop, 1);
    t_join(tt);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    t_join(tf);
    int v;
    while (kchan_try_recv(c, &v) == KCHAN_OK) got++;
    cr_log_info("lost retries: %d selects, %ld registration rounds, thief took %ld, %ld selects under-counted",
                N, rounds, th.stolen, short_counted);
    cr_assert_eq(got + th.stolen, fd.sent, "every element received once");
    cr_assert_eq(short_counted, 0, "%ld selects withdrew a winning registration without counting it",
                 short_counted);
    kchan_destroy(c); kchan_destroy(z);
}

/* Timeout 0 says KCHAN_WOULDBLOCK, never KCHAN_TIMEDOUT (API.md), even when the select goes
   round: here a lock-free case's look sees the positions move (a send and a receive run
   between its reads, once), so the select tries the case again and then finds nothing. The
   second round took a timeout-0 deadline (now) as expired and said KCHAN_TIMEDOUT. On the
   mutex engine the hook never runs and the select says KCHAN_WOULDBLOCK at once. */
static int sel_pairs_left, sel_pair_errors;
static void sel_pair_once(kchan_t *c)
{
    int v = 5, got = 0;
    if (sel_pairs_left <= 0) return;
    sel_pairs_left--;
    if (kchan_try_send(c, &v) != KCHAN_OK || kchan_try_recv(c, &got) != KCHAN_OK || got != 5)
        sel_pair_errors++;
}
Test(select, timeout_zero_going_round_is_wouldblock, .timeout = T_TIMEOUT)
{
    kchan_t *c = mk(sizeof(int), 4, KCHAN_BLOCK);
    bool lf = kchan__test_ready(c, KCHAN_OP_RECV) >= 0;
    int x = -1;
    for (int biased = 0; biased < 2; biased++) {
        kchan_case cs[2] = { rc_(c, &x), rc_(NULL, &x) };
        sel_pairs_left = 1;
        sel_pair_errors = 0;
        kchan__test_between_ready_reads(sel_pair_once);
        int r = biased ? kchan_select_biased(cs, 2, 0) : kchan_select(cs, 2, 0);
        kchan__test_between_ready_reads(NULL);
        cr_assert_eq(sel_pair_errors, 0, "the pair between the reads failed");
        cr_assert_eq(sel_pairs_left, lf ? 0 : 1, "the look %s", lf ? "never ran" : "ran on the mutex engine");
        cr_assert_eq(r, KCHAN_WOULDBLOCK, "select(timeout 0) after going round: %d (%s)", r, kchan_strerror(r));
        cr_assert_eq(x, -1);
    }
    kchan_destroy(c);
}
