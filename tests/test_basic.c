/* Basic behaviour of every channel kind: send/recv across threads, FIFO order,
   rendezvous hand-off, bounded blocking, signal channels, peek, len/cap, typed
   channels, batch ops, caller memory, allocation rules, strerror. */
#include "common.h"
#include <stdint.h>

KCHAN_DEFINE(i64ch, int64_t);

/* ---- helpers (threads never assert: they store results, the main thread checks) ---- */

typedef struct {
    kchan_t *c;
    int64_t v;
    int rc;
    atomic_int done;
} op_arg;

static void *recv_thread(void *p)
{
    op_arg *a = (op_arg *)p;
    a->rc = kchan_recv(a->c, &a->v);
    atomic_store_explicit(&a->done, 1, memory_order_release);
    return NULL;
}

static void *send_thread(void *p)
{
    op_arg *a = (op_arg *)p;
    a->rc = kchan_send(a->c, &a->v);
    atomic_store_explicit(&a->done, 1, memory_order_release);
    return NULL;
}

static void *recv_null_thread(void *p)
{
    op_arg *a = (op_arg *)p;
    a->rc = kchan_recv(a->c, NULL);
    return NULL;
}

/* ---- every kind across threads, FIFO ---- */

enum { KIND_N = 2000 };

typedef struct {
    kchan_t *c;
    int64_t n;
    int bad_rc;          /* first non-OK send status, 0 if none */
} producer_arg;

static void *seq_producer(void *p)
{
    producer_arg *a = (producer_arg *)p;
    for (int64_t i = 1; i <= a->n; i++) {
        int rc = kchan_send(a->c, &i);
        if (rc != KCHAN_OK && !a->bad_rc) a->bad_rc = rc;
    }
    return NULL;
}

static void run_kind(size_t cap)
{
    kchan_t *c = t_chan(sizeof(int64_t), cap);
    producer_arg pa = { .c = c, .n = KIND_N };
    pthread_t t = t_spawn(seq_producer, &pa);
    int64_t last = 0, count = 0;
    bool in_order = true;
    /* The consumer stops after the last value: it knows the producer sends 1..N. */
    while (last < KIND_N) {
        int64_t v = -1;
        cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
        if (cap == KCHAN_CONFLATED) { if (v <= last) in_order = false; }
        else if (v != last + 1) in_order = false;
        last = v;
        count++;
    }
    t_join(t);
    cr_assert_eq(pa.bad_rc, 0, "send failed with %d", pa.bad_rc);
    cr_assert(in_order, "values out of order for capacity %zu", cap);
    int64_t v;
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    kchan_stats s = t_stats(c);
    cr_assert_eq(s.sends, (uint64_t)KIND_N);
    cr_assert_eq(s.recvs, (uint64_t)count);
    if (cap == KCHAN_CONFLATED)
        cr_assert_eq((uint64_t)count + s.drops_oldest, (uint64_t)KIND_N);
    else
        cr_assert_eq(count, KIND_N);
    kchan_destroy(c);
}

Test(basic, rendezvous_across_threads_fifo, .timeout = T_TIMEOUT) { run_kind(KCHAN_RENDEZVOUS); }
Test(basic, bounded_across_threads_fifo, .timeout = T_TIMEOUT) { run_kind(4); }
Test(basic, bounded1_across_threads_fifo, .timeout = T_TIMEOUT) { run_kind(1); }
Test(basic, unlimited_across_threads_fifo, .timeout = T_TIMEOUT) { run_kind(KCHAN_UNLIMITED); }
Test(basic, conflated_across_threads_increasing, .timeout = T_TIMEOUT) { run_kind(KCHAN_CONFLATED); }

Test(basic, fifo_single_thread_every_buffered_kind, .timeout = T_TIMEOUT)
{
    size_t caps[] = { 1, 7, 64, KCHAN_UNLIMITED };
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        kchan_t *c = t_chan(sizeof(int64_t), caps[k]);
        size_t n = caps[k] == KCHAN_UNLIMITED ? 500 : caps[k];
        /* wrap around the ring a few times */
        int64_t next_in = 0, next_out = 0;
        for (int round = 0; round < 5; round++) {
            /* bounded: fill up to capacity; unlimited: add n more */
            size_t add = caps[k] == KCHAN_UNLIMITED ? n : n - (size_t)(next_in - next_out);
            for (size_t i = 0; i < add; i++) { cr_assert_eq(kchan_try_send(c, &next_in), KCHAN_OK); next_in++; }
            if (caps[k] != KCHAN_UNLIMITED) {
                cr_assert_eq(kchan_len(c), caps[k]);
                cr_assert_eq(kchan_try_send(c, &next_in), KCHAN_WOULDBLOCK);
            }
            for (size_t i = 0; i < n / 2 + 1; i++) {
                int64_t v = -1;
                cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK);
                cr_assert_eq(v, next_out, "cap %zu: got %lld want %lld", caps[k], (long long)v, (long long)next_out);
                next_out++;
            }
        }
        while (next_out < next_in) {
            int64_t v = -1;
            cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK);
            cr_assert_eq(v, next_out);
            next_out++;
        }
        cr_assert_eq(kchan_len(c), 0);
        kchan_destroy(c);
    }
}

/* ---- rendezvous ---- */

Test(basic, rendezvous_try_send_needs_a_receiver, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(sizeof(int64_t), KCHAN_RENDEZVOUS);
    int64_t v = 5;
    cr_assert_eq(kchan_try_send(c, &v), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_len(c), 0);
    int64_t out;
    cr_assert_eq(kchan_try_recv(c, &out), KCHAN_WOULDBLOCK, "the failed try_send must not have left anything");

    op_arg r = { .c = c, .v = -1 };
    pthread_t t = t_spawn(recv_thread, &r);
    t_wait_receivers(c, 1);
    v = 77;
    cr_assert_eq(kchan_try_send(c, &v), KCHAN_OK);
    t_join(t);
    cr_assert_eq(r.rc, KCHAN_OK);
    cr_assert_eq(r.v, 77);
    cr_assert_eq(kchan_len(c), 0);
    cr_assert_eq(kchan_try_send(c, &v), KCHAN_WOULDBLOCK, "no receiver left");
    kchan_destroy(c);
}

Test(basic, rendezvous_send_completes_only_when_taken, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(sizeof(int64_t), KCHAN_RENDEZVOUS);
    op_arg s = { .c = c, .v = 1234 };
    pthread_t t = t_spawn(send_thread, &s);
    t_wait_senders(c, 1);
    /* Parked: the send has not completed, nothing is buffered. */
    cr_assert_eq(atomic_load_explicit(&s.done, memory_order_acquire), 0);
    cr_assert_eq(kchan_len(c), 0);
    cr_assert_eq(t_stats(c).waiting_senders, 1);
    int64_t v = -1;
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 1234);
    t_join(t);
    cr_assert_eq(s.rc, KCHAN_OK);
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.sends, 1);
    cr_assert_eq(st.recvs, 1);
    cr_assert_eq(st.waiting_senders, 0);
    kchan_destroy(c);
}

/* ---- bounded, BLOCK ---- */

Test(basic, bounded_send_waits_while_full, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(sizeof(int64_t), 2);
    for (int64_t i = 0; i < 2; i++) cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
    int64_t x = 9;
    cr_assert_eq(kchan_try_send(c, &x), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_len(c), 2);

    op_arg s = { .c = c, .v = 2 };
    pthread_t t = t_spawn(send_thread, &s);
    t_wait_senders(c, 1);
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.waiting_senders, 1);
    cr_assert_geq(st.blocked_sends, 1);
    cr_assert_eq(st.len, 2);
    cr_assert_eq(atomic_load_explicit(&s.done, memory_order_acquire), 0, "send returned while full");

    int64_t v = -1;
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 0);
    t_join(t);
    cr_assert_eq(s.rc, KCHAN_OK);
    for (int64_t want = 1; want <= 2; want++) {
        cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
        cr_assert_eq(v, want);
    }
    st = t_stats(c);
    cr_assert_eq(st.waiting_senders, 0);
    cr_assert_eq(st.sends, 3);
    cr_assert_eq(st.recvs, 3);
    kchan_destroy(c);
}

/* ---- elem_size 0 ---- */

Test(basic, signal_channels_elem_size_zero, .timeout = T_TIMEOUT)
{
    kchan_t *b = t_chan(0, 3);
    for (int i = 0; i < 3; i++) cr_assert_eq(kchan_send(b, NULL), KCHAN_OK);
    cr_assert_eq(kchan_len(b), 3);
    cr_assert_eq(kchan_try_send(b, NULL), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_peek(b, NULL), KCHAN_OK);
    for (int i = 0; i < 3; i++) cr_assert_eq(kchan_recv(b, NULL), KCHAN_OK);
    cr_assert_eq(kchan_try_recv(b, NULL), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_peek(b, NULL), KCHAN_WOULDBLOCK);
    size_t got = 0, sent = 0;
    cr_assert_eq(kchan_send_many(b, NULL, 2, &sent, 0), KCHAN_OK);
    cr_assert_eq(sent, 2);
    cr_assert_eq(kchan_recv_many(b, NULL, 5, &got, 0), KCHAN_OK);
    cr_assert_eq(got, 2);
    kchan_destroy(b);

    kchan_t *r = t_chan(0, KCHAN_RENDEZVOUS);
    cr_assert_eq(kchan_try_send(r, NULL), KCHAN_WOULDBLOCK);
    op_arg a = { .c = r };
    pthread_t t = t_spawn(recv_null_thread, &a);
    t_wait_receivers(r, 1);
    cr_assert_eq(kchan_try_send(r, NULL), KCHAN_OK);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK);
    kchan_destroy(r);

    kchan_t *u = t_chan(0, KCHAN_UNLIMITED);
    for (int i = 0; i < 1000; i++) cr_assert_eq(kchan_try_send(u, NULL), KCHAN_OK);
    cr_assert_eq(kchan_len(u), 1000);
    for (int i = 0; i < 1000; i++) cr_assert_eq(kchan_try_recv(u, NULL), KCHAN_OK);
    cr_assert_eq(kchan_try_recv(u, NULL), KCHAN_WOULDBLOCK);
    kchan_destroy(u);

    kchan_t *f = t_chan(0, KCHAN_CONFLATED);
    for (int i = 0; i < 3; i++) cr_assert_eq(kchan_send(f, NULL), KCHAN_OK);
    cr_assert_eq(kchan_len(f), 1);
    cr_assert_eq(kchan_recv(f, NULL), KCHAN_OK);
    cr_assert_eq(kchan_try_recv(f, NULL), KCHAN_WOULDBLOCK);
    kchan_destroy(f);
}

/* ---- peek ---- */

Test(basic, peek_copies_without_taking, .timeout = T_TIMEOUT)
{
    size_t caps[] = { 4, KCHAN_UNLIMITED, KCHAN_CONFLATED };
    for (size_t k = 0; k < 3; k++) {
        kchan_t *c = t_chan(sizeof(int64_t), caps[k]);
        int64_t v = -1;
        cr_assert_eq(kchan_peek(c, &v), KCHAN_WOULDBLOCK);
        cr_assert_eq(v, -1, "peek on empty wrote into out");
        int64_t a = 7, b = 8;
        cr_assert_eq(kchan_send(c, &a), KCHAN_OK);
        if (caps[k] != KCHAN_CONFLATED) cr_assert_eq(kchan_send(c, &b), KCHAN_OK);
        size_t len = kchan_len(c);
        cr_assert_eq(kchan_peek(c, &v), KCHAN_OK);
        cr_assert_eq(v, 7);
        cr_assert_eq(kchan_peek(c, &v), KCHAN_OK);
        cr_assert_eq(v, 7);
        cr_assert_eq(kchan_len(c), len, "peek took an element");
        cr_assert_eq(t_stats(c).recvs, 0, "peek counted as a recv");
        v = -1;
        cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
        cr_assert_eq(v, 7);
        cr_assert_eq(kchan_close(c), KCHAN_OK);
        if (caps[k] != KCHAN_CONFLATED) {
            /* closed but not drained: peek still sees the element */
            cr_assert_eq(kchan_peek(c, &v), KCHAN_OK);
            cr_assert_eq(v, 8);
            cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
            cr_assert_eq(v, 8);
        }
        cr_assert_eq(kchan_peek(c, &v), KCHAN_CLOSED);
        kchan_destroy(c);
    }
}

Test(basic, peek_rendezvous_always_wouldblock, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(sizeof(int64_t), KCHAN_RENDEZVOUS);
    int64_t v = -1;
    cr_assert_eq(kchan_peek(c, &v), KCHAN_WOULDBLOCK);
    op_arg s = { .c = c, .v = 55 };
    pthread_t t = t_spawn(send_thread, &s);
    t_wait_senders(c, 1);
    cr_assert_eq(kchan_peek(c, &v), KCHAN_WOULDBLOCK, "peek on rendezvous with a parked sender");
    cr_assert_eq(atomic_load_explicit(&s.done, memory_order_acquire), 0, "peek completed the sender");
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 55);
    t_join(t);
    cr_assert_eq(s.rc, KCHAN_OK);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    cr_assert_eq(kchan_peek(c, &v), KCHAN_CLOSED);
    kchan_destroy(c);
}

/* ---- len / cap ---- */

Test(basic, len_and_cap_per_kind, .timeout = T_TIMEOUT)
{
    kchan_t *r = t_chan(8, KCHAN_RENDEZVOUS);
    kchan_t *b = t_chan(8, 5);
    kchan_t *u = t_chan(8, KCHAN_UNLIMITED);
    kchan_t *f = t_chan(8, KCHAN_CONFLATED);
    cr_assert_eq(kchan_cap(r), 0);
    cr_assert_eq(kchan_cap(b), 5);
    cr_assert_eq(kchan_cap(u), KCHAN_UNLIMITED);
    cr_assert_eq(kchan_cap(f), 1);
    cr_assert_eq(t_stats(b).cap, 5);
    cr_assert_eq(t_stats(f).cap, 1);
    int64_t v = 1;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(kchan_send(b, &v), KCHAN_OK);
        cr_assert_eq(kchan_send(u, &v), KCHAN_OK);
        cr_assert_eq(kchan_send(f, &v), KCHAN_OK);
    }
    cr_assert_eq(kchan_len(r), 0);
    cr_assert_eq(kchan_len(b), 3);
    cr_assert_eq(kchan_len(u), 3);
    cr_assert_eq(kchan_len(f), 1);
    cr_assert_eq(t_stats(b).len, 3);
    cr_assert_eq(kchan_recv(b, &v), KCHAN_OK);
    cr_assert_eq(kchan_len(b), 2);
    cr_assert_eq(kchan_recv(f, &v), KCHAN_OK);
    cr_assert_eq(kchan_len(f), 0);
    kchan_destroy(r); kchan_destroy(b); kchan_destroy(u); kchan_destroy(f);
}

/* ---- typed channels ---- */

typedef struct { i64ch *c; int64_t sum; int64_t count; } foreach_arg;

static void *foreach_consumer(void *p)
{
    foreach_arg *a = (foreach_arg *)p;
    KCHAN_FOREACH(i64ch, v, a->c) {
        a->sum += v;
        a->count++;
    }
    return NULL;
}

Test(basic, typed_define_every_function, .timeout = T_TIMEOUT)
{
    i64ch *c = NULL;
    kchan_opts o = { .capacity = 4, .name = "typed" };
    cr_assert_eq(i64ch_create(&c, &o), KCHAN_OK);
    cr_assert_not_null(c);
    kchan_t *base = i64ch_base(c);
    cr_assert_eq((void *)base, (void *)c);
    cr_assert_eq(i64ch_cap(c), 4);
    cr_assert_eq(kchan_cap(base), 4);

    i64ch_elem e = 10;   /* the element typedef */
    cr_assert_eq(sizeof e, sizeof(int64_t));
    cr_assert_eq(i64ch_send(c, e), KCHAN_OK);
    cr_assert_eq(i64ch_try_send(c, 11), KCHAN_OK);
    cr_assert_eq(i64ch_send_timeout(c, 12, 1000000), KCHAN_OK);
    int64_t many[2] = { 13, 14 };
    size_t sent = 99;
    cr_assert_eq(i64ch_send_many(c, many, 2, &sent, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(sent, 1);
    cr_assert_eq(i64ch_len(c), 4);
    cr_assert_eq(i64ch_try_send(c, 15), KCHAN_WOULDBLOCK);

    int64_t v = -1;
    cr_assert_eq(i64ch_peek(c, &v), KCHAN_OK);
    cr_assert_eq(v, 10);
    cr_assert_eq(i64ch_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 10);
    cr_assert_eq(i64ch_try_recv(c, &v), KCHAN_OK);
    cr_assert_eq(v, 11);
    cr_assert_eq(i64ch_recv_timeout(c, &v, 1000000), KCHAN_OK);
    cr_assert_eq(v, 12);
    int64_t out[4] = { 0 };
    size_t got = 0;
    cr_assert_eq(i64ch_recv_many(c, out, 4, &got, 0), KCHAN_OK);
    cr_assert_eq(got, 1);
    cr_assert_eq(out[0], 13);

    kchan_stats st;
    i64ch_stats_get(c, &st);
    cr_assert_eq(st.version, KCHAN_STATS_VERSION);
    cr_assert_eq(st.sends, 4);
    cr_assert_eq(st.recvs, 4);
    char buf[512];
    int n = i64ch_dump(c, buf, sizeof buf);
    cr_assert_gt(n, 0);
    cr_assert_lt((size_t)n, sizeof buf);
    cr_assert_not_null(strstr(buf, "chan=typed"), "dump: %s", buf);

    /* case builders: shape, and they work in a select */
    int64_t rx = -1, tx = 21;
    kchan_case rc = i64ch_recv_case(c, &rx);
    kchan_case sc = i64ch_send_case(c, &tx);
    cr_assert_eq(rc.chan, base);
    cr_assert_eq(rc.op, KCHAN_OP_RECV);
    cr_assert_eq(rc.elem, (void *)&rx);
    cr_assert_eq(sc.chan, base);
    cr_assert_eq(sc.op, KCHAN_OP_SEND);
    cr_assert_eq(sc.elem, (void *)&tx);
    kchan_case cases1[1] = { sc };
    cr_assert_eq(kchan_select(cases1, 1, 0), 0);
    cr_assert_eq(cases1[0].status, KCHAN_OK);
    kchan_case cases2[1] = { rc };
    cr_assert_eq(kchan_select(cases2, 1, 0), 0);
    cr_assert_eq(cases2[0].status, KCHAN_OK);
    cr_assert_eq(rx, 21);

    cr_assert_not(i64ch_is_closed(c));
    cr_assert_eq(i64ch_close_with(c, 9), KCHAN_OK);
    cr_assert(i64ch_is_closed(c));
    cr_assert_eq(kchan_close_reason(base), 9);
    cr_assert_eq(i64ch_close(c), KCHAN_CLOSED);
    cr_assert_eq(i64ch_send(c, 1), KCHAN_CLOSED);
    i64ch_destroy(c);

    /* _new and _cancel */
    i64ch *d = i64ch_new(2);
    cr_assert_not_null(d);
    cr_assert_eq(i64ch_cap(d), 2);
    cr_assert_eq(i64ch_send(d, 1), KCHAN_OK);
    cr_assert_eq(i64ch_cancel(d), KCHAN_OK);
    cr_assert(i64ch_is_closed(d));
    cr_assert_eq(i64ch_len(d), 0);
    cr_assert_eq(i64ch_recv(d, &v), KCHAN_CLOSED);
    i64ch_destroy(d);
}

Test(basic, typed_foreach_until_closed_and_drained, .timeout = T_TIMEOUT)
{
    i64ch *c = i64ch_new(3);
    cr_assert_not_null(c);
    foreach_arg a = { .c = c };
    pthread_t t = t_spawn(foreach_consumer, &a);
    int64_t want = 0;
    for (int64_t i = 1; i <= 500; i++) { cr_assert_eq(i64ch_send(c, i), KCHAN_OK); want += i; }
    cr_assert_eq(i64ch_close(c), KCHAN_OK);
    t_join(t);
    cr_assert_eq(a.count, 500);
    cr_assert_eq(a.sum, want);

    /* buffered elements are still drained by FOREACH after close */
    i64ch *d = i64ch_new(4);
    cr_assert_not_null(d);
    for (int64_t i = 1; i <= 4; i++) cr_assert_eq(i64ch_send(d, i), KCHAN_OK);
    cr_assert_eq(i64ch_close(d), KCHAN_OK);
    int64_t expect = 1, n = 0;
    KCHAN_FOREACH(i64ch, v, d) {
        cr_assert_eq(v, expect);
        expect++;
        n++;
    }
    cr_assert_eq(n, 4);
    i64ch_destroy(d);
    i64ch_destroy(c);
}

/* ---- send_many / recv_many ---- */

Test(basic, send_many_recv_many_order_and_partial_counts, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(sizeof(int64_t), 4);
    int64_t in[10];
    for (int i = 0; i < 10; i++) in[i] = 100 + i;
    size_t sent = 99;
    cr_assert_eq(kchan_send_many(c, in, 10, &sent, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(sent, 4);
    cr_assert_eq(kchan_len(c), 4);
    sent = 99;
    cr_assert_eq(kchan_send_many(c, in, 0, &sent, 0), KCHAN_OK, "n 0 is OK");
    cr_assert_eq(sent, 0);

    int64_t out[10] = { 0 };
    size_t got = 0;
    cr_assert_eq(kchan_recv_many(c, out, 3, &got, KCHAN_FOREVER), KCHAN_OK);
    cr_assert_eq(got, 3);
    for (int i = 0; i < 3; i++) cr_assert_eq(out[i], 100 + i);
    /* one left: recv_many takes it and does not wait for more */
    int64_t t0 = kchan_now_ns();
    cr_assert_eq(kchan_recv_many(c, out, 10, &got, 2000000000), KCHAN_OK);
    cr_assert_lt(kchan_now_ns() - t0, 1000000000, "recv_many waited again after taking one");
    cr_assert_eq(got, 1);
    cr_assert_eq(out[0], 103);
    cr_assert_eq(kchan_recv_many(c, out, 10, &got, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(got, 0);

    /* sent / got may be NULL */
    cr_assert_eq(kchan_send_many(c, in + 4, 3, NULL, KCHAN_FOREVER), KCHAN_OK);
    cr_assert_eq(kchan_recv_many(c, out, 10, NULL, KCHAN_FOREVER), KCHAN_OK);
    for (int i = 0; i < 3; i++) cr_assert_eq(out[i], 104 + i);
    cr_assert_eq(kchan_len(c), 0);

    kchan_stats st = t_stats(c);
    cr_assert_eq(st.sends, 7, "each element of send_many counts");
    cr_assert_eq(st.recvs, 7, "each element of recv_many counts");

    /* unlimited: everything goes at once, in order */
    kchan_t *u = t_chan(sizeof(int64_t), KCHAN_UNLIMITED);
    cr_assert_eq(kchan_send_many(u, in, 10, &sent, 0), KCHAN_OK);
    cr_assert_eq(sent, 10);
    cr_assert_eq(kchan_recv_many(u, out, 10, &got, 0), KCHAN_OK);
    cr_assert_eq(got, 10);
    for (int i = 0; i < 10; i++) cr_assert_eq(out[i], 100 + i);
    kchan_destroy(u);
    kchan_destroy(c);
}

typedef struct {
    kchan_t *c;
    int64_t out[64];
    size_t got;
    int rc;
} many_arg;

static void *recv_many_thread(void *p)
{
    many_arg *a = (many_arg *)p;
    a->rc = kchan_recv_many(a->c, a->out, 64, &a->got, KCHAN_FOREVER);
    return NULL;
}

typedef struct {
    kchan_t *c;
    int64_t in[64];
    size_t n, sent;
    int rc;
} send_many_arg;

static void *send_many_thread(void *p)
{
    send_many_arg *a = (send_many_arg *)p;
    a->rc = kchan_send_many(a->c, a->in, a->n, &a->sent, KCHAN_FOREVER);
    return NULL;
}

Test(basic, recv_many_parked_wakes_with_at_least_one, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(sizeof(int64_t), 8);
    many_arg a = { .c = c };
    pthread_t t = t_spawn(recv_many_thread, &a);
    t_wait_receivers(c, 1);
    int64_t in[3] = { 1, 2, 3 };
    cr_assert_eq(kchan_send_many(c, in, 3, NULL, KCHAN_FOREVER), KCHAN_OK);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK);
    cr_assert_geq(a.got, 1);
    cr_assert_leq(a.got, 3);
    for (size_t i = 0; i < a.got; i++) cr_assert_eq(a.out[i], (int64_t)i + 1);
    /* the rest is still there, in order */
    for (size_t i = a.got; i < 3; i++) {
        int64_t v;
        cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK);
        cr_assert_eq(v, (int64_t)i + 1);
    }
    kchan_destroy(c);
}

Test(basic, send_many_blocks_then_completes_in_order, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(sizeof(int64_t), 2);
    send_many_arg a = { .c = c, .n = 20 };
    for (int i = 0; i < 20; i++) a.in[i] = i;
    pthread_t t = t_spawn(send_many_thread, &a);
    t_wait_senders(c, 1);
    for (int64_t i = 0; i < 20; i++) {
        int64_t v = -1;
        cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
        cr_assert_eq(v, i);
    }
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK);
    cr_assert_eq(a.sent, 20);
    cr_assert_eq(t_stats(c).sends, 20);
    kchan_destroy(c);
}

/* ---- many producers x many consumers ---- */

enum { MP_PRODUCERS = 4, MP_CONSUMERS = 3, MP_PER = 2000, MP_TOTAL = MP_PRODUCERS * MP_PER };

typedef struct {
    kchan_t *c;
    int id;
    atomic_uchar *seen;
    int64_t count;
    int bad;           /* duplicate, out of range, or a wrong status */
} mp_arg;

static void *mp_producer(void *p)
{
    mp_arg *a = (mp_arg *)p;
    for (int i = 0; i < MP_PER; i++) {
        int64_t v = (int64_t)a->id * MP_PER + i;
        int rc = kchan_send(a->c, &v);
        if (rc != KCHAN_OK) a->bad++;
        else a->count++;
    }
    return NULL;
}

static void *mp_consumer(void *p)
{
    mp_arg *a = (mp_arg *)p;
    int64_t last_per_producer[MP_PRODUCERS];
    for (int i = 0; i < MP_PRODUCERS; i++) last_per_producer[i] = -1;
    for (;;) {
        int64_t v;
        int rc = kchan_recv(a->c, &v);
        if (rc == KCHAN_CLOSED) break;
        if (rc != KCHAN_OK || v < 0 || v >= MP_TOTAL) { a->bad++; continue; }
        if (atomic_fetch_add_explicit(&a->seen[v], 1, memory_order_relaxed) != 0) a->bad++;
        /* per-producer order is preserved (FIFO channel, one consumer sees a subsequence) */
        int prod = (int)(v / MP_PER);
        if (v <= last_per_producer[prod]) a->bad++;
        last_per_producer[prod] = v;
        a->count++;
    }
    return NULL;
}

Test(basic, many_producers_many_consumers_conservation, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(sizeof(int64_t), 8);
    static atomic_uchar seen[MP_TOTAL];
    mp_arg prod[MP_PRODUCERS], cons[MP_CONSUMERS];
    pthread_t pt[MP_PRODUCERS], ct[MP_CONSUMERS];
    for (int i = 0; i < MP_CONSUMERS; i++) {
        cons[i] = (mp_arg){ .c = c, .id = i, .seen = seen };
        ct[i] = t_spawn(mp_consumer, &cons[i]);
    }
    for (int i = 0; i < MP_PRODUCERS; i++) {
        prod[i] = (mp_arg){ .c = c, .id = i, .seen = seen };
        pt[i] = t_spawn(mp_producer, &prod[i]);
    }
    for (int i = 0; i < MP_PRODUCERS; i++) t_join(pt[i]);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    for (int i = 0; i < MP_CONSUMERS; i++) t_join(ct[i]);
    int64_t received = 0;
    for (int i = 0; i < MP_PRODUCERS; i++) cr_assert_eq(prod[i].bad, 0);
    for (int i = 0; i < MP_CONSUMERS; i++) {
        cr_assert_eq(cons[i].bad, 0, "consumer %d saw a duplicate, bad value or reordering", i);
        received += cons[i].count;
    }
    cr_assert_eq(received, MP_TOTAL);
    for (int i = 0; i < MP_TOTAL; i++) cr_assert_eq(atomic_load(&seen[i]), 1, "value %d seen %d times", i, (int)atomic_load(&seen[i]));
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.sends, (uint64_t)MP_TOTAL);
    cr_assert_eq(st.recvs, (uint64_t)MP_TOTAL);
    cr_assert_eq(st.len, 0);
    kchan_destroy(c);
}

/* ---- caller memory ---- */

static unsigned char mem_bounded[KCHAN_FOOTPRINT(sizeof(int64_t), 16) + 1];
static unsigned char mem_rendezvous[KCHAN_FOOTPRINT(sizeof(int64_t), KCHAN_RENDEZVOUS) + 1];
static unsigned char mem_conflated[KCHAN_FOOTPRINT(sizeof(int64_t), KCHAN_CONFLATED) + 1];
/* a constant expression, 0 for unlimited */
_Static_assert(KCHAN_FOOTPRINT(8, KCHAN_UNLIMITED) == 0, "footprint of unlimited is 0");
static unsigned char footprint_unlimited_plus_one[KCHAN_FOOTPRINT(8, KCHAN_UNLIMITED) + 1];

Test(basic, footprint_is_constant_and_zero_for_unlimited, .timeout = T_TIMEOUT)
{
    cr_assert_eq(sizeof footprint_unlimited_plus_one, 1);
    footprint_unlimited_plus_one[0] = 42;
    cr_assert_eq(footprint_unlimited_plus_one[0], 42);
    cr_assert_eq(KCHAN_FOOTPRINT(8, KCHAN_UNLIMITED), 0);
    cr_assert_gt(KCHAN_FOOTPRINT(8, KCHAN_CONFLATED), 8);
    cr_assert_gt(KCHAN_FOOTPRINT(8, KCHAN_RENDEZVOUS), 0);
    cr_assert_geq(KCHAN_FOOTPRINT(8, 100), 800);
    cr_assert_lt(KCHAN_FOOTPRINT(8, KCHAN_CONFLATED), (size_t)1 << 20, "conflated footprint overflowed");
}

static void *rendezvous_echo(void *p)
{
    op_arg *a = (op_arg *)p;
    for (int i = 0; i < 50; i++) {
        int64_t v;
        int rc = kchan_recv(a->c, &v);
        if (rc != KCHAN_OK) { a->rc = rc; return NULL; }
        a->v += v;
    }
    return NULL;
}

Test(basic, create_in_static_misaligned_no_allocation, .timeout = T_TIMEOUT)
{
    int64_t calls0 = test_alloc_calls();
    int64_t blocks0 = test_alloc_live_blocks();

    kchan_t *b = NULL, *r = NULL, *f = NULL;
    kchan_opts ob = { .capacity = 16 };
    kchan_opts orv = { .capacity = KCHAN_RENDEZVOUS };
    kchan_opts of = { .capacity = KCHAN_CONFLATED };
    cr_assert_eq(kchan_create_in(&b, mem_bounded + 1, sizeof mem_bounded - 1, sizeof(int64_t), &ob), KCHAN_OK);
    cr_assert_eq(kchan_create_in(&r, mem_rendezvous + 1, sizeof mem_rendezvous - 1, sizeof(int64_t), &orv), KCHAN_OK);
    cr_assert_eq(kchan_create_in(&f, mem_conflated + 1, sizeof mem_conflated - 1, sizeof(int64_t), &of), KCHAN_OK);
    cr_assert_not_null(b);
    cr_assert_not_null(r);
    cr_assert_not_null(f);
    cr_assert_eq(kchan_cap(b), 16);
    cr_assert_eq(kchan_cap(r), 0);
    cr_assert_eq(kchan_cap(f), 1);

    /* bounded: fill to capacity, wrap around, FIFO */
    for (int64_t round = 0; round < 3; round++) {
        for (int64_t i = 0; i < 16; i++) { int64_t v = round * 100 + i; cr_assert_eq(kchan_send(b, &v), KCHAN_OK); }
        int64_t x = 0;
        cr_assert_eq(kchan_try_send(b, &x), KCHAN_WOULDBLOCK);
        for (int64_t i = 0; i < 16; i++) {
            int64_t v = -1;
            cr_assert_eq(kchan_recv(b, &v), KCHAN_OK);
            cr_assert_eq(v, round * 100 + i);
        }
    }
    /* rendezvous with a partner thread */
    op_arg a = { .c = r };
    pthread_t t = t_spawn(rendezvous_echo, &a);
    int64_t want = 0;
    for (int64_t i = 1; i <= 50; i++) { cr_assert_eq(kchan_send(r, &i), KCHAN_OK); want += i; }
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK);
    cr_assert_eq(a.v, want);
    /* conflated keeps the latest */
    for (int64_t i = 1; i <= 5; i++) cr_assert_eq(kchan_send(f, &i), KCHAN_OK);
    int64_t v = -1;
    cr_assert_eq(kchan_recv(f, &v), KCHAN_OK);
    cr_assert_eq(v, 5);

    cr_assert_eq(kchan_send(b, &v), KCHAN_OK);   /* leave one behind for destroy */
    kchan_destroy(b);
    kchan_destroy(r);
    kchan_destroy(f);
    cr_assert_eq(test_alloc_calls(), calls0, "create_in/ops/destroy allocated");
    cr_assert_eq(test_alloc_live_blocks(), blocks0);
}

/* ---- no allocation after create (bounded, rendezvous, conflated) ---- */

enum { NA_PER = 1500 };

static void *na_producer(void *p)
{
    mp_arg *a = (mp_arg *)p;
    for (int i = 0; i < NA_PER; i++) {
        int64_t v = i;
        int rc;
        if (i % 3 == 0) rc = kchan_send_timeout(a->c, &v, 1000000000);
        else rc = kchan_send(a->c, &v);
        if (rc != KCHAN_OK) a->bad++;
        else a->count++;
    }
    return NULL;
}

static void *na_consumer(void *p)
{
    mp_arg *a = (mp_arg *)p;
    for (;;) {
        int64_t v;
        int rc;
        if (a->count % 4 == 1) {
            kchan_case cs[1] = { { a->c, KCHAN_OP_RECV, &v, 0 } };
            rc = kchan_select(cs, 1, KCHAN_FOREVER);
            if (rc == 0) rc = cs[0].status;
            else { a->bad++; break; }
        } else {
            rc = kchan_recv(a->c, &v);
        }
        if (rc == KCHAN_CLOSED) break;
        if (rc != KCHAN_OK) { a->bad++; break; }
        a->count++;
    }
    return NULL;
}

static void run_no_alloc(size_t cap)
{
    kchan_t *c = t_chan(sizeof(int64_t), cap);
    int64_t calls0 = test_alloc_calls();
    mp_arg prod[2], cons[2];
    pthread_t pt[2], ct[2];
    for (int i = 0; i < 2; i++) {
        cons[i] = (mp_arg){ .c = c, .id = i };
        ct[i] = t_spawn(na_consumer, &cons[i]);
    }
    /* make sure the consumers really park at least once */
    t_wait_receivers(c, 2);
    for (int i = 0; i < 2; i++) {
        prod[i] = (mp_arg){ .c = c, .id = i };
        pt[i] = t_spawn(na_producer, &prod[i]);
    }
    for (int i = 0; i < 2; i++) t_join(pt[i]);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    for (int i = 0; i < 2; i++) t_join(ct[i]);
    int64_t got = 0;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(prod[i].bad, 0);
        cr_assert_eq(cons[i].bad, 0);
        got += cons[i].count;
    }
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.sends, 2 * NA_PER);
    cr_assert_eq(st.recvs, (uint64_t)got);
    if (cap == KCHAN_CONFLATED) cr_assert_eq((uint64_t)got + st.drops_oldest, 2 * NA_PER);
    else cr_assert_eq(got, 2 * NA_PER);
    cr_assert_geq(st.blocked_recvs, 1);
    cr_assert_eq(test_alloc_calls(), calls0, "an op allocated after create (capacity %zu)", cap);
    kchan_destroy(c);
}

Test(basic, bounded_no_allocation_after_create, .timeout = T_TIMEOUT) { run_no_alloc(2); }
Test(basic, rendezvous_no_allocation_after_create, .timeout = T_TIMEOUT) { run_no_alloc(KCHAN_RENDEZVOUS); }
Test(basic, conflated_no_allocation_after_create, .timeout = T_TIMEOUT) { run_no_alloc(KCHAN_CONFLATED); }

/* ---- unlimited memory ---- */

enum { BURST = 1000000, CHUNK = 4096 };

Test(basic, unlimited_burst_gives_memory_back, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(sizeof(int64_t), KCHAN_UNLIMITED);
    int64_t base = test_alloc_live_bytes();
    static int64_t buf[CHUNK];
    int64_t next = 0;
    while (next < BURST) {
        size_t n = BURST - next < CHUNK ? (size_t)(BURST - next) : CHUNK;
        for (size_t i = 0; i < n; i++) buf[i] = next + (int64_t)i;
        size_t sent = 0;
        cr_assert_eq(kchan_send_many(c, buf, n, &sent, 0), KCHAN_OK);
        cr_assert_eq(sent, n);
        next += (int64_t)n;
    }
    cr_assert_eq(kchan_len(c), BURST);
    cr_assert_geq(test_alloc_live_bytes() - base, (int64_t)BURST * 8, "the backlog is not on the heap?");
    int64_t want = 0;
    while (want < BURST) {
        size_t got = 0;
        cr_assert_eq(kchan_recv_many(c, buf, CHUNK, &got, 0), KCHAN_OK);
        cr_assert_gt(got, 0);
        for (size_t i = 0; i < got; i++) {
            if (buf[i] != want) cr_assert_eq(buf[i], want, "order broken at %lld", (long long)want);
            want++;
        }
    }
    int64_t v;
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    int64_t after = test_alloc_live_bytes();
    cr_assert_lt(after - base, 4096, "memory not given back: %lld bytes above the empty channel",
                 (long long)(after - base));
    kchan_destroy(c);
    cr_assert_eq(test_alloc_live_blocks(), 0);
}

Test(basic, unlimited_single_sends_in_order, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(sizeof(int64_t), KCHAN_UNLIMITED);
    /* interleave to move the head around the growing buffer */
    int64_t in = 0, out = 0;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 700; i++) { cr_assert_eq(kchan_send(c, &in), KCHAN_OK); in++; }
        for (int i = 0; i < 500; i++) {
            int64_t v;
            cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
            cr_assert_eq(v, out);
            out++;
        }
    }
    while (out < in) {
        int64_t v;
        cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK);
        cr_assert_eq(v, out);
        out++;
    }
    kchan_destroy(c);
}

Test(basic, unlimited_growth_failure_is_nomem_and_loses_nothing, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(sizeof(int64_t), KCHAN_UNLIMITED);
    int64_t next = 0;
    for (; next < 100; next++) cr_assert_eq(kchan_send(c, &next), KCHAN_OK);
    /* from now on every allocation fails: sends succeed while the buffer has
       room, then the first one that needs growth gets KCHAN_NOMEM */
    test_alloc_fail_at(1, 1);
    int rc = KCHAN_OK;
    for (int i = 0; i < (1 << 22); i++) {
        rc = kchan_try_send(c, &next);
        if (rc != KCHAN_OK) break;
        next++;
    }
    cr_assert_eq(rc, KCHAN_NOMEM);
    size_t len = kchan_len(c);
    cr_assert_eq(len, (size_t)next);
    /* every kind of send reports it and stores nothing */
    int64_t x = -7;
    cr_assert_eq(kchan_send(c, &x), KCHAN_NOMEM);
    cr_assert_eq(kchan_send_timeout(c, &x, 1000000), KCHAN_NOMEM);
    size_t sent = 99;
    int64_t two[2] = { -8, -9 };
    cr_assert_eq(kchan_send_many(c, two, 2, &sent, KCHAN_FOREVER), KCHAN_NOMEM);
    cr_assert_eq(sent, 0);
    cr_assert_eq(kchan_len(c), len, "a failed send stored something");
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.sends, (uint64_t)next, "a failed send was counted");

    test_alloc_fail_at(0, 0);
    int64_t total = next + 1000;
    for (; next < total; next++) cr_assert_eq(kchan_send(c, &next), KCHAN_OK);
    for (int64_t want = 0; want < total; want++) {
        int64_t v = -1;
        cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK);
        cr_assert_eq(v, want);
    }
    cr_assert_eq(kchan_try_recv(c, &x), KCHAN_WOULDBLOCK);
    kchan_destroy(c);
    cr_assert_eq(test_alloc_live_blocks(), 0);
}

Test(basic, new_returns_null_when_allocator_fails, .timeout = T_TIMEOUT)
{
    test_alloc_fail_at(1, 1);
    cr_assert_null(kchan_new(8, 16));
    cr_assert_null(kchan_new(8, KCHAN_UNLIMITED));
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = 16 };
    cr_assert_eq(kchan_create(&c, 8, &o), KCHAN_NOMEM);
    test_alloc_fail_at(0, 0);
    cr_assert_eq(test_alloc_live_blocks(), 0);

    /* failing at each later allocation of a create leaks nothing */
    size_t caps[] = { 0, 16, KCHAN_UNLIMITED, KCHAN_CONFLATED };
    for (size_t k = 0; k < 4; k++) {
        for (int64_t n = 1; n <= 8; n++) {
            test_alloc_fail_at(n, 1);
            kchan_t *d = kchan_new(8, caps[k]);
            test_alloc_fail_at(0, 0);
            if (d) { kchan_destroy(d); break; }
            cr_assert_eq(test_alloc_live_blocks(), 0, "leak after failed create (cap %zu, n %lld)", caps[k], (long long)n);
        }
        cr_assert_eq(test_alloc_live_blocks(), 0);
    }
}

/* ---- strerror ---- */

Test(basic, strerror_distinct_and_never_null, .timeout = T_TIMEOUT)
{
    int codes[] = { KCHAN_OK, KCHAN_CLOSED, KCHAN_WOULDBLOCK, KCHAN_TIMEDOUT, KCHAN_NOMEM, KCHAN_INVAL };
    size_t n = sizeof codes / sizeof codes[0];
    cr_assert_eq(KCHAN_OK, 0);
    for (size_t i = 0; i < n; i++) {
        const char *s = kchan_strerror(codes[i]);
        cr_assert_not_null(s);
        cr_assert_gt(strlen(s), 0);
        if (i > 0) cr_assert_lt(codes[i], 0, "failures are negative");
        for (size_t j = 0; j < i; j++) {
            cr_assert_neq(codes[i], codes[j]);
            cr_assert_str_neq(s, kchan_strerror(codes[j]));
        }
    }
    cr_assert_not_null(kchan_strerror(12345));
    cr_assert_not_null(kchan_strerror(-12345));
    cr_assert_not_null(kchan_strerror(INT32_MIN));
    cr_assert_not_null(kchan_strerror(1));
}
