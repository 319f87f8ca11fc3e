/* Overflow policies: drop-newest, drop-oldest, conflated; on_undelivered
   accounting, callbacks that re-enter the channel, the KCHAN_EVICT_MAX rule. */
#include "common.h"
#include <stdint.h>


static void rec_init(t_recorder *r, size_t elem_size)
{
    memset(r, 0, sizeof *r);
    r->elem_size = elem_size;
}

static kchan_t *make_policy(size_t cap, kchan_overflow ov, t_recorder *rec)
{
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = cap, .overflow = ov };
    if (rec) { o.on_undelivered = t_record; o.user = rec; }
    cr_assert_eq(kchan_create(&c, sizeof(int64_t), &o), KCHAN_OK);
    cr_assert_not_null(c);
    return c;
}

static void check_conservation(const kchan_t *c, const t_recorder *rec)
{
    kchan_stats s = t_stats(c);
    cr_assert_eq(s.sends, s.recvs + s.drops_newest + s.drops_oldest + s.undelivered + s.len,
                 "sends %llu recvs %llu dn %llu do %llu und %llu len %zu",
                 (unsigned long long)s.sends, (unsigned long long)s.recvs,
                 (unsigned long long)s.drops_newest, (unsigned long long)s.drops_oldest,
                 (unsigned long long)s.undelivered, s.len);
    if (rec)
        cr_assert_eq((uint64_t)atomic_load(&rec->calls), s.drops_newest + s.drops_oldest + s.undelivered);
}

/* ---- drop newest ---- */

Test(policy, drop_newest_drops_the_new_element, .timeout = T_TIMEOUT)
{
    t_recorder rec;
    rec_init(&rec, 8);
    kchan_t *c = make_policy(2, KCHAN_DROP_NEWEST, &rec);
    int64_t v;
    v = 1; cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
    v = 2; cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
    cr_assert_eq(atomic_load(&rec.calls), 0);
    v = 3; cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
    v = 4; cr_assert_eq(kchan_try_send(c, &v), KCHAN_OK);
    v = 5; cr_assert_eq(kchan_send_timeout(c, &v, 0), KCHAN_OK);
    v = 6; cr_assert_eq(kchan_send_timeout(c, &v, 10 * 1000000), KCHAN_OK);
    cr_assert_eq(kchan_len(c), 2);
    cr_assert_eq(atomic_load(&rec.calls), 4);
    for (int i = 0; i < 4; i++) cr_assert_eq(rec.values[i], 3 + i);
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.drops_newest, 4);
    cr_assert_eq(st.drops_oldest, 0);
    cr_assert_eq(st.sends, 6, "a drop-newest send counts in sends");
    cr_assert_eq(st.send_full, 0, "a drop is not a WOULDBLOCK");
    cr_assert_eq(st.blocked_sends, 0);
    cr_assert_eq(st.timeouts, 0);
    check_conservation(c, &rec);
    for (int64_t want = 1; want <= 2; want++) {
        cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
        cr_assert_eq(v, want);
    }
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    /* room again: stored, not dropped */
    v = 7; cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
    cr_assert_eq(atomic_load(&rec.calls), 4);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 7);
    check_conservation(c, &rec);
    kchan_destroy(c);
    cr_assert_eq(atomic_load(&rec.calls), 4);
}

typedef struct {
    const void *ptr;
    int64_t value;
    int calls;
} ptr_rec;

static void record_ptr(void *elem, void *user)
{
    ptr_rec *r = (ptr_rec *)user;
    r->ptr = elem;
    memcpy(&r->value, elem, sizeof r->value);
    r->calls++;
}

Test(policy, drop_newest_callback_gets_callers_element, .timeout = T_TIMEOUT)
{
    ptr_rec r = { 0 };
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = 1, .overflow = KCHAN_DROP_NEWEST, .on_undelivered = record_ptr, .user = &r };
    cr_assert_eq(kchan_create(&c, 8, &o), KCHAN_OK);
    int64_t a = 10, b = 20;
    cr_assert_eq(kchan_send(c, &a), KCHAN_OK);
    cr_assert_eq(kchan_send(c, &b), KCHAN_OK);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.value, 20);
    cr_assert_eq(r.ptr, (const void *)&b, "drop-newest hands over the caller's own element pointer");
    kchan_destroy(c);
    cr_assert_eq(r.calls, 2);
    cr_assert_eq(r.value, 10);
}

Test(policy, drop_newest_send_many_never_blocks, .timeout = T_TIMEOUT)
{
    t_recorder rec;
    rec_init(&rec, 8);
    kchan_t *c = make_policy(2, KCHAN_DROP_NEWEST, &rec);
    int64_t in[5] = { 1, 2, 3, 4, 5 };
    size_t sent = 0;
    cr_assert_eq(kchan_send_many(c, in, 5, &sent, KCHAN_FOREVER), KCHAN_OK);
    cr_assert_eq(sent, 5);
    cr_assert_eq(atomic_load(&rec.calls), 3);
    for (int i = 0; i < 3; i++) cr_assert_eq(rec.values[i], 3 + i);
    int64_t out[5];
    size_t got = 0;
    cr_assert_eq(kchan_recv_many(c, out, 5, &got, 0), KCHAN_OK);
    cr_assert_eq(got, 2);
    cr_assert_eq(out[0], 1);
    cr_assert_eq(out[1], 2);
    cr_assert_eq(t_stats(c).drops_newest, 3);
    check_conservation(c, &rec);
    kchan_destroy(c);
}

/* ---- drop oldest ---- */

Test(policy, drop_oldest_evicts_in_fifo_order, .timeout = T_TIMEOUT)
{
    t_recorder rec;
    rec_init(&rec, 8);
    kchan_t *c = make_policy(3, KCHAN_DROP_OLDEST, &rec);
    for (int64_t i = 1; i <= 6; i++) {
        cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
        cr_assert_leq(kchan_len(c), 3);
    }
    cr_assert_eq(kchan_len(c), 3);
    cr_assert_eq(atomic_load(&rec.calls), 3);
    for (int i = 0; i < 3; i++) cr_assert_eq(rec.values[i], 1 + i, "evicted[%d] = %lld", i, rec.values[i]);
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.drops_oldest, 3);
    cr_assert_eq(st.drops_newest, 0);
    cr_assert_eq(st.sends, 6);
    cr_assert_eq(st.blocked_sends, 0);
    check_conservation(c, &rec);
    int64_t v = -1;
    cr_assert_eq(kchan_peek(c, &v), KCHAN_OK);
    cr_assert_eq(v, 4);
    for (int64_t want = 4; want <= 6; want++) {
        cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
        cr_assert_eq(v, want);
    }
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    /* survivors stay FIFO across more wrap-arounds */
    for (int64_t i = 7; i <= 20; i++) cr_assert_eq(kchan_try_send(c, &i), KCHAN_OK);
    for (int64_t want = 18; want <= 20; want++) {
        cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
        cr_assert_eq(v, want);
    }
    cr_assert_eq(atomic_load(&rec.calls), 3 + 11);
    for (int i = 3; i < 14; i++) cr_assert_eq(rec.values[i], 4 + i);
    check_conservation(c, &rec);
    kchan_destroy(c);
}

Test(policy, drop_oldest_send_many_keeps_the_last, .timeout = T_TIMEOUT)
{
    t_recorder rec;
    rec_init(&rec, 8);
    kchan_t *c = make_policy(2, KCHAN_DROP_OLDEST, &rec);
    int64_t in[5] = { 1, 2, 3, 4, 5 };
    size_t sent = 0;
    cr_assert_eq(kchan_send_many(c, in, 5, &sent, 0), KCHAN_OK);
    cr_assert_eq(sent, 5);
    cr_assert_eq(atomic_load(&rec.calls), 3);
    for (int i = 0; i < 3; i++) cr_assert_eq(rec.values[i], 1 + i);
    int64_t v;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 4);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 5);
    cr_assert_eq(t_stats(c).send_full, 0);
    check_conservation(c, &rec);
    kchan_destroy(c);
}

/* ---- conflated ---- */

Test(policy, conflated_keeps_the_latest, .timeout = T_TIMEOUT)
{
    t_recorder rec;
    rec_init(&rec, 8);
    kchan_t *c = make_policy(KCHAN_CONFLATED, KCHAN_BLOCK, &rec);
    for (int64_t i = 1; i <= 3; i++) {
        cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
        cr_assert_eq(kchan_len(c), 1);
    }
    cr_assert_eq(atomic_load(&rec.calls), 2);
    cr_assert_eq(rec.values[0], 1);
    cr_assert_eq(rec.values[1], 2);
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.drops_oldest, 2, "each replacement counts as a drop of the oldest");
    cr_assert_eq(st.sends, 3);
    int64_t v = -1;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 3);
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    int64_t x = 4;
    cr_assert_eq(kchan_try_send(c, &x), KCHAN_OK);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 4);
    cr_assert_eq(atomic_load(&rec.calls), 2, "a value received is not undelivered");
    check_conservation(c, &rec);
    x = 5;
    cr_assert_eq(kchan_send(c, &x), KCHAN_OK);
    kchan_destroy(c);
    cr_assert_eq(atomic_load(&rec.calls), 3);
    cr_assert_eq(rec.values[2], 5);
}

Test(policy, conflated_parked_receiver_gets_value_directly, .timeout = T_TIMEOUT)
{
    t_recorder rec;
    rec_init(&rec, 8);
    kchan_t *c = make_policy(KCHAN_CONFLATED, KCHAN_BLOCK, &rec);
    t_op a = { .c = c, .v = -1, .rc = 1 };
    pthread_t t = t_spawn(t_recv_thread, &a);
    t_wait_receivers(c, 1);
    int64_t x = 42;
    cr_assert_eq(kchan_send(c, &x), KCHAN_OK);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK);
    cr_assert_eq(a.v, 42);
    cr_assert_eq(kchan_len(c), 0);
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.drops_oldest, 0);
    cr_assert_eq(st.recvs, 1);
    cr_assert_eq(atomic_load(&rec.calls), 0);
    /* a second send after the hand-off does not evict anything */
    x = 43;
    cr_assert_eq(kchan_send(c, &x), KCHAN_OK);
    cr_assert_eq(atomic_load(&rec.calls), 0);
    cr_assert_eq(kchan_len(c), 1);
    check_conservation(c, &rec);
    kchan_destroy(c);
    cr_assert_eq(atomic_load(&rec.calls), 1);
}

/* ---- drop policies never block ---- */

Test(policy, drop_policies_never_block, .timeout = T_TIMEOUT)
{
    struct { size_t cap; kchan_overflow ov; } kinds[] = {
        { 1, KCHAN_DROP_NEWEST }, { 3, KCHAN_DROP_OLDEST }, { KCHAN_CONFLATED, KCHAN_BLOCK },
        { 1, KCHAN_DROP_OLDEST }, { 3, KCHAN_DROP_NEWEST },
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        kchan_t *c = make_policy(kinds[k].cap, kinds[k].ov, NULL);   /* no callback: fine too */
        int64_t t0 = kchan_now_ns();
        for (int64_t i = 0; i < 200; i++) {
            cr_assert_eq(kchan_try_send(c, &i), KCHAN_OK);
            cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
            cr_assert_eq(kchan_send_timeout(c, &i, 0), KCHAN_OK);
            cr_assert_eq(kchan_send_timeout(c, &i, KCHAN_FOREVER), KCHAN_OK);
        }
        cr_assert_lt(kchan_now_ns() - t0, (int64_t)2000 * 1000000);
        kchan_stats st = t_stats(c);
        cr_assert_eq(st.blocked_sends, 0);
        cr_assert_eq(st.send_full, 0);
        cr_assert_eq(st.waiting_senders, 0);
        cr_assert_eq(st.sends, 800);
        cr_assert_eq(st.len, kinds[k].cap == KCHAN_CONFLATED ? 1 : kinds[k].cap);
        cr_assert_eq(st.drops_newest + st.drops_oldest, 800 - st.len);
        kchan_destroy(c);
    }
}

/* ---- on_undelivered re-enters the channel: not under a lock ---- */

typedef struct {
    kchan_t *c;
    int depth;
    int calls;
    size_t len_seen;
    int try_recv_rc, try_send_rc;
    int64_t taken;
    bool closed_seen;
    kchan_stats st;
} reenter_rec;

static void reenter(void *elem, void *user)
{
    reenter_rec *r = (reenter_rec *)user;
    (void)elem;
    r->calls++;
    if (r->depth > 0) return;        /* a nested drop: just count it */
    r->depth++;
    r->len_seen = kchan_len(r->c);
    kchan_stats_get(r->c, &r->st);
    r->closed_seen = kchan_is_closed(r->c);
    r->try_recv_rc = kchan_try_recv(r->c, &r->taken);
    int64_t y = 1000;
    r->try_send_rc = kchan_try_send(r->c, &y);
    r->depth--;
}

static kchan_t *make_reenter(size_t cap, kchan_overflow ov, reenter_rec *r)
{
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = cap, .overflow = ov, .on_undelivered = reenter, .user = r };
    cr_assert_eq(kchan_create(&c, 8, &o), KCHAN_OK);
    r->c = c;
    return c;
}

Test(policy, on_undelivered_may_reenter_drop_oldest, .timeout = T_TIMEOUT)
{
    reenter_rec r = { .try_recv_rc = 1, .try_send_rc = 1 };
    kchan_t *c = make_reenter(2, KCHAN_DROP_OLDEST, &r);
    for (int64_t i = 1; i <= 3; i++) cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.len_seen, 2);
    cr_assert_eq(r.try_recv_rc, KCHAN_OK);
    cr_assert_eq(r.taken, 2);
    cr_assert_eq(r.try_send_rc, KCHAN_OK);
    int64_t v;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 3);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 1000);
    kchan_destroy(c);
}

Test(policy, on_undelivered_may_reenter_drop_newest, .timeout = T_TIMEOUT)
{
    reenter_rec r = { .try_recv_rc = 1, .try_send_rc = 1 };
    kchan_t *c = make_reenter(2, KCHAN_DROP_NEWEST, &r);
    for (int64_t i = 1; i <= 3; i++) cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.len_seen, 2);
    cr_assert_eq(r.try_recv_rc, KCHAN_OK);
    cr_assert_eq(r.taken, 1);
    cr_assert_eq(r.try_send_rc, KCHAN_OK);
    int64_t v;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 2);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 1000);
    kchan_destroy(c);
}

Test(policy, on_undelivered_may_reenter_conflated, .timeout = T_TIMEOUT)
{
    reenter_rec r = { .try_recv_rc = 1, .try_send_rc = 1 };
    kchan_t *c = make_reenter(KCHAN_CONFLATED, KCHAN_BLOCK, &r);
    for (int64_t i = 1; i <= 2; i++) cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.len_seen, 1);
    cr_assert_eq(r.try_recv_rc, KCHAN_OK);
    cr_assert_eq(r.taken, 2);
    cr_assert_eq(r.try_send_rc, KCHAN_OK);
    int64_t v;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 1000);
    kchan_destroy(c);
}

Test(policy, on_undelivered_may_reenter_cancel, .timeout = T_TIMEOUT)
{
    reenter_rec r = { .try_recv_rc = 1, .try_send_rc = 1 };
    kchan_t *c = make_reenter(4, KCHAN_DROP_OLDEST, &r);
    for (int64_t i = 1; i <= 3; i++) cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
    cr_assert_eq(kchan_cancel(c), KCHAN_OK);
    cr_assert_eq(r.calls, 3);
    cr_assert(r.closed_seen);
    cr_assert(r.st.closed);
    cr_assert_eq(r.try_send_rc, KCHAN_CLOSED);
    cr_assert_eq(r.try_recv_rc, KCHAN_CLOSED, "cancel left something to receive while its callbacks ran");
    cr_assert_eq(r.len_seen, 0);
    kchan_destroy(c);
    cr_assert_eq(r.calls, 3);
}

/* ---- multi-threaded accounting: every accepted element received or dropped, once ---- */

enum { MT_PRODUCERS = 3, MT_PER = 3000, MT_TOTAL = MT_PRODUCERS * MT_PER };

typedef struct {
    atomic_uchar seen[MT_TOTAL];
    atomic_llong dropped, dropped_sum;
    atomic_int bad;
} mt_acc;

static void mt_on_drop(void *elem, void *user)
{
    mt_acc *a = (mt_acc *)user;
    int64_t v;
    memcpy(&v, elem, sizeof v);
    if (v < 0 || v >= MT_TOTAL) { atomic_fetch_add(&a->bad, 1); return; }
    if (atomic_fetch_add(&a->seen[v], 1) != 0) atomic_fetch_add(&a->bad, 1);
    atomic_fetch_add(&a->dropped, 1);
    atomic_fetch_add(&a->dropped_sum, v);
}

typedef struct {
    kchan_t *c;
    mt_acc *acc;
    int id;
    int64_t count, sum;
    int bad;
} mt_arg;

static void *mt_producer(void *p)
{
    mt_arg *a = (mt_arg *)p;
    for (int i = 0; i < MT_PER; i++) {
        int64_t v = (int64_t)a->id * MT_PER + i;
        if (kchan_send(a->c, &v) != KCHAN_OK) a->bad++;
    }
    return NULL;
}

static void *mt_consumer(void *p)
{
    mt_arg *a = (mt_arg *)p;
    int64_t last[MT_PRODUCERS];
    for (int i = 0; i < MT_PRODUCERS; i++) last[i] = -1;
    for (;;) {
        int64_t v;
        int rc = kchan_recv(a->c, &v);
        if (rc == KCHAN_CLOSED) break;
        if (rc != KCHAN_OK || v < 0 || v >= MT_TOTAL) { a->bad++; break; }
        if (atomic_fetch_add(&a->acc->seen[v], 1) != 0) a->bad++;
        int prod = (int)(v / MT_PER);
        if (v <= last[prod]) a->bad++;    /* survivors keep each producer's order */
        last[prod] = v;
        a->count++;
        a->sum += v;
    }
    return NULL;
}

static void run_drop_mt(size_t cap, kchan_overflow ov, int consumers)
{
    static mt_acc acc;
    memset(&acc, 0, sizeof acc);
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = cap, .overflow = ov, .on_undelivered = mt_on_drop, .user = &acc };
    cr_assert_eq(kchan_create(&c, 8, &o), KCHAN_OK);
    mt_arg prod[MT_PRODUCERS], cons[2];
    pthread_t pt[MT_PRODUCERS], ct[2];
    for (int i = 0; i < consumers; i++) {
        cons[i] = (mt_arg){ .c = c, .acc = &acc, .id = i };
        ct[i] = t_spawn(mt_consumer, &cons[i]);
    }
    for (int i = 0; i < MT_PRODUCERS; i++) {
        prod[i] = (mt_arg){ .c = c, .acc = &acc, .id = i };
        pt[i] = t_spawn(mt_producer, &prod[i]);
    }
    for (int i = 0; i < MT_PRODUCERS; i++) t_join(pt[i]);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    for (int i = 0; i < consumers; i++) t_join(ct[i]);
    int64_t received = 0, received_sum = 0;
    for (int i = 0; i < MT_PRODUCERS; i++) cr_assert_eq(prod[i].bad, 0);
    for (int i = 0; i < consumers; i++) {
        cr_assert_eq(cons[i].bad, 0, "consumer %d: duplicate, bad value or reordering", i);
        received += cons[i].count;
        received_sum += cons[i].sum;
    }
    cr_assert_eq(atomic_load(&acc.bad), 0, "on_undelivered saw a duplicate or a bad value");
    int64_t dropped = atomic_load(&acc.dropped);
    cr_assert_eq(received + dropped, MT_TOTAL, "received %lld + dropped %lld != %d",
                 (long long)received, (long long)dropped, MT_TOTAL);
    cr_assert_eq(received_sum + atomic_load(&acc.dropped_sum), (int64_t)MT_TOTAL * (MT_TOTAL - 1) / 2);
    for (int i = 0; i < MT_TOTAL; i++) cr_assert_eq(atomic_load(&acc.seen[i]), 1, "value %d seen %d times", i, (int)atomic_load(&acc.seen[i]));
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.sends, (uint64_t)MT_TOTAL);
    cr_assert_eq(st.recvs, (uint64_t)received);
    cr_assert_eq(st.drops_newest + st.drops_oldest, (uint64_t)dropped);
    if (ov == KCHAN_DROP_NEWEST) cr_assert_eq(st.drops_oldest, 0);
    else cr_assert_eq(st.drops_newest, 0);
    cr_assert_eq(st.len, 0);
    cr_assert_eq(st.undelivered, 0);
    kchan_destroy(c);
    cr_assert_eq(atomic_load(&acc.dropped), dropped, "destroy of a drained channel handed something over");
}

Test(policy, drop_oldest_multithreaded_accounting, .timeout = T_TIMEOUT) { run_drop_mt(4, KCHAN_DROP_OLDEST, 2); }
Test(policy, drop_newest_multithreaded_accounting, .timeout = T_TIMEOUT) { run_drop_mt(4, KCHAN_DROP_NEWEST, 2); }
Test(policy, conflated_multithreaded_accounting, .timeout = T_TIMEOUT) { run_drop_mt(KCHAN_CONFLATED, KCHAN_BLOCK, 1); }

/* ---- KCHAN_EVICT_MAX ---- */

typedef struct { unsigned char b[KCHAN_EVICT_MAX]; } big_elem;
typedef struct { unsigned char b[KCHAN_EVICT_MAX + 1]; } too_big_elem;

typedef struct {
    int calls;
    unsigned char first_byte[8];
    int intact;
} big_rec;

static void on_big(void *elem, void *user)
{
    big_rec *r = (big_rec *)user;
    const unsigned char *p = (const unsigned char *)elem;
    int ok = 1;
    for (size_t i = 0; i < KCHAN_EVICT_MAX; i++) if (p[i] != (unsigned char)(p[0] + i)) ok = 0;
    if (r->calls < 8) r->first_byte[r->calls] = p[0];
    r->intact += ok;
    r->calls++;
}

static void fill_big(unsigned char *p, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i);
}

Test(policy, evict_max_rule, .timeout = T_TIMEOUT)
{
    big_rec r = { 0 };
    kchan_t *c = (kchan_t *)NULL;
    int64_t blocks0 = test_alloc_live_blocks();

    /* with a callback: drop-oldest and conflated take at most KCHAN_EVICT_MAX bytes */
    kchan_opts o_old = { .capacity = 2, .overflow = KCHAN_DROP_OLDEST, .on_undelivered = on_big, .user = &r };
    kchan_opts o_conf = { .capacity = KCHAN_CONFLATED, .on_undelivered = on_big, .user = &r };
    cr_assert_eq(kchan_create(&c, sizeof(too_big_elem), &o_old), KCHAN_INVAL);
    cr_assert_eq(kchan_create(&c, sizeof(too_big_elem), &o_conf), KCHAN_INVAL);
    cr_assert_eq(kchan_create(&c, 100000, &o_conf), KCHAN_INVAL);
    cr_assert_eq(test_alloc_live_blocks(), blocks0, "a rejected create leaked");

    /* exactly KCHAN_EVICT_MAX is fine, and the evicted copy is intact */
    cr_assert_eq(kchan_create(&c, sizeof(big_elem), &o_old), KCHAN_OK);
    big_elem e, out;
    for (int i = 0; i < 3; i++) {
        fill_big(e.b, sizeof e.b, (unsigned char)(10 * i + 1));
        cr_assert_eq(kchan_send(c, &e), KCHAN_OK);
    }
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.intact, 1, "the evicted element reached the callback damaged");
    cr_assert_eq(r.first_byte[0], 1);
    cr_assert_eq(kchan_recv(c, &out), KCHAN_OK);
    cr_assert_eq(out.b[0], 11);
    kchan_destroy(c);
    cr_assert_eq(r.calls, 2);
    cr_assert_eq(r.intact, 2);

    memset(&r, 0, sizeof r);
    cr_assert_eq(kchan_create(&c, sizeof(big_elem), &o_conf), KCHAN_OK);
    for (int i = 0; i < 2; i++) {
        fill_big(e.b, sizeof e.b, (unsigned char)(50 + i));
        cr_assert_eq(kchan_send(c, &e), KCHAN_OK);
    }
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.intact, 1);
    cr_assert_eq(r.first_byte[0], 50);
    cr_assert_eq(kchan_recv(c, &out), KCHAN_OK);
    cr_assert_eq(out.b[0], 51);
    kchan_destroy(c);

    /* without a callback any size is fine, and eviction works */
    kchan_opts n_old = { .capacity = 2, .overflow = KCHAN_DROP_OLDEST };
    kchan_opts n_conf = { .capacity = KCHAN_CONFLATED };
    static unsigned char huge_in[4096], huge_out[4096];
    size_t sizes[] = { sizeof(too_big_elem), sizeof huge_in };
    for (size_t s = 0; s < 2; s++) {
        kchan_t *d = NULL, *f = NULL;
        cr_assert_eq(kchan_create(&d, sizes[s], &n_old), KCHAN_OK);
        cr_assert_eq(kchan_create(&f, sizes[s], &n_conf), KCHAN_OK);
        for (int i = 0; i < 3; i++) {
            fill_big(huge_in, sizes[s], (unsigned char)(i + 1));
            cr_assert_eq(kchan_send(d, huge_in), KCHAN_OK);
            cr_assert_eq(kchan_send(f, huge_in), KCHAN_OK);
        }
        cr_assert_eq(kchan_recv(d, huge_out), KCHAN_OK);
        cr_assert_eq(huge_out[0], 2);
        cr_assert_eq(huge_out[sizes[s] - 1], (unsigned char)(2 + sizes[s] - 1));
        cr_assert_eq(kchan_recv(f, huge_out), KCHAN_OK);
        cr_assert_eq(huge_out[0], 3);
        cr_assert_eq(huge_out[sizes[s] - 1], (unsigned char)(3 + sizes[s] - 1));
        cr_assert_eq(t_stats(d).drops_oldest, 1);
        cr_assert_eq(t_stats(f).drops_oldest, 2);
        kchan_destroy(d);
        kchan_destroy(f);
    }

    /* the rule is for eviction only: drop-newest and block take any size with a callback */
    kchan_opts o_new = { .capacity = 1, .overflow = KCHAN_DROP_NEWEST, .on_undelivered = on_big, .user = &r };
    kchan_opts o_blk = { .capacity = 1, .overflow = KCHAN_BLOCK, .on_undelivered = on_big, .user = &r };
    cr_assert_eq(kchan_create(&c, sizeof(too_big_elem), &o_new), KCHAN_OK);
    kchan_destroy(c);
    cr_assert_eq(kchan_create(&c, sizeof(too_big_elem), &o_blk), KCHAN_OK);
    kchan_destroy(c);
    cr_assert_eq(test_alloc_live_blocks(), blocks0);
}
