/* Linearizability (suite `lin`): short concurrent histories checked against the sequential
   specification with a Wing & Gong search, pruned Lowe-style (memo of linearized-set x state).
 *
 * Each history: 3 threads x 4 ops on one fresh channel, the ops drawn from try_send, try_recv,
 * send_timeout and recv_timeout (timeouts of 20 us .. 1 ms), every sent value distinct.
 * Invocation and response are stamped with kchan_now_ns (the channel's own monotonic clock)
 * just before the call and just after it returns, so "a responded before b was invoked" is a
 * real-time fact. After the threads are joined the main thread drains the channel with
 * try_recv (those ops come strictly after everything else), so a lost element shows too.
 *
 * Sequential spec (API.md): FIFO buffer; a bounded BLOCK channel's send succeeds iff there is
 * room and WOULDBLOCK/TIMEDOUT is legal only while it is full; drop-newest / drop-oldest /
 * conflated sends always succeed (dropping the new / evicting the oldest); a recv takes the
 * head and WOULDBLOCK/TIMEDOUT is legal only while empty. Rendezvous: a completed send and the
 * completed recv of its value are one event, placed at one instant inside both intervals, and
 * two `try` ops can never pair (neither waits, and a try op completes only with a waiting
 * partner); failures are always legal there (whether a partner was parked is not observable).
 *
 * A few hundred histories normally; thousands with KCHAN_STRESS set (time-capped per test). A
 * history with no linearization fails the test and is printed. lin/checker_self_test feeds the
 * checker hand-made histories first, so a checker that accepts everything cannot pass. */
#include "common.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define US (INT64_C(1000))
#define LT 3                 /* threads */
#define LOPS 4               /* ops per thread */
#define LMAX (LT * LOPS + 16)/* history length, drain included */

enum { L_TRY_SEND, L_TRY_RECV, L_SEND_T, L_RECV_T };
static const char *const l_kind_name[] = { "try_send", "try_recv", "send_timeout", "recv_timeout" };

typedef struct {
    int thread, kind, value;       /* value: sent (send) or received (recv OK) */
    int status;
    int64_t timeout, inv, resp;
} l_op;

typedef struct {
    size_t cap;                    /* 0 rendezvous, N, KCHAN_UNLIMITED, KCHAN_CONFLATED */
    kchan_overflow policy;
} l_spec;

/* ---- the checker ---------------------------------------------------------------------- */
/* State: the FIFO packed 4 bits per value (values are 1..15), head in the low bits. */
static int st_len(uint64_t s) { int n = 0; while (s) { n++; s >>= 4; } return n; }
static uint64_t st_push(uint64_t s, int v) { return s | ((uint64_t)v << (4 * st_len(s))); }
static int st_head(uint64_t s) { return (int)(s & 15); }
static uint64_t st_pop(uint64_t s) { return s >> 4; }

static size_t sp_bound(const l_spec *sp)
{
    if (sp->cap == KCHAN_UNLIMITED) return 15;
    if (sp->cap == KCHAN_CONFLATED) return 1;
    return sp->cap;
}
static int is_send(int k) { return k == L_TRY_SEND || k == L_SEND_T; }

/* One buffered-channel op applied to s: returns 1 and sets *out if legal. */
static int l_apply(const l_spec *sp, uint64_t s, const l_op *o, uint64_t *out)
{
    int len = st_len(s);
    size_t bound = sp_bound(sp);
    int evicts = sp->cap == KCHAN_CONFLATED || sp->policy == KCHAN_DROP_OLDEST;
    if (is_send(o->kind)) {
        if (o->status == KCHAN_OK) {
            if ((size_t)len < bound) { *out = st_push(s, o->value); return 1; }
            if (sp->policy == KCHAN_DROP_NEWEST) { *out = s; return 1; }
            if (evicts) { *out = st_push(st_pop(s), o->value); return 1; }
            return 0;
        }
        if (o->status == KCHAN_WOULDBLOCK || o->status == KCHAN_TIMEDOUT) {
            *out = s;
            return (size_t)len == bound && !evicts && sp->policy == KCHAN_BLOCK && sp->cap != KCHAN_UNLIMITED;
        }
        return 0;
    }
    if (o->status == KCHAN_OK) {
        if (len == 0 || st_head(s) != o->value) return 0;
        *out = st_pop(s);
        return 1;
    }
    if (o->status == KCHAN_WOULDBLOCK || o->status == KCHAN_TIMEDOUT) { *out = s; return len == 0; }
    return 0;
}

/* Memo of (linearized set, state) already known to fail: open addressing, cleared by epoch. */
#define MEMO_BITS 14
typedef struct { uint32_t epoch, mask; uint64_t state; } memo_slot;
static memo_slot memo[1u << MEMO_BITS];
static uint32_t memo_epoch;
static uint32_t memo_hash(uint32_t mask, uint64_t s)
{
    uint64_t h = (s * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)mask * 0xC2B2AE3D27D4EB4Full);
    return (uint32_t)(h >> (64 - MEMO_BITS));
}
static int memo_seen(uint32_t mask, uint64_t s, int insert)
{
    uint32_t i = memo_hash(mask, s);
    for (uint32_t k = 0; k < (1u << MEMO_BITS); k++, i = (i + 1) & ((1u << MEMO_BITS) - 1)) {
        memo_slot *m = &memo[i];
        if (m->epoch != memo_epoch) {
            if (insert) { m->epoch = memo_epoch; m->mask = mask; m->state = s; }
            return 0;
        }
        if (m->mask == mask && m->state == s) return 1;
    }
    return 0;   /* full: just do not remember */
}

typedef struct { const l_spec *sp; const l_op *ops; int n; uint64_t steps; } l_search;

static int l_partner(const l_search *S, int i)
{
    const l_op *o = &S->ops[i];
    for (int j = 0; j < S->n; j++) {
        const l_op *p = &S->ops[j];
        if (j != i && p->status == KCHAN_OK && is_send(p->kind) != is_send(o->kind) && p->value == o->value)
            return j;
    }
    return -1;
}

static int l_dfs(l_search *S, uint32_t mask, uint64_t s)
{
    uint32_t full = (1u << S->n) - 1;
    if (mask == full) return 1;
    if (memo_seen(mask, s, 0)) return 0;
    S->steps++;
    int64_t min_resp = INT64_MAX;
    for (int i = 0; i < S->n; i++)
        if (!(mask & (1u << i)) && S->ops[i].resp < min_resp) min_resp = S->ops[i].resp;
    for (int i = 0; i < S->n; i++) {
        const l_op *o = &S->ops[i];
        if ((mask & (1u << i)) || o->inv > min_resp) continue;   /* someone responded before o began */
        if (S->sp->cap == KCHAN_RENDEZVOUS) {
            if (o->status == KCHAN_OK) {
                int j = l_partner(S, i);
                if (j < 0 || (mask & (1u << j)) || S->ops[j].inv > min_resp) continue;
                if (j < i) continue;                                   /* try each pair once */
                int both_try = (o->kind == L_TRY_SEND || o->kind == L_TRY_RECV) &&
                               (S->ops[j].kind == L_TRY_SEND || S->ops[j].kind == L_TRY_RECV);
                if (both_try) continue;
                if (l_dfs(S, mask | (1u << i) | (1u << j), s)) return 1;
            } else if (o->status == KCHAN_WOULDBLOCK || o->status == KCHAN_TIMEDOUT) {
                if (l_dfs(S, mask | (1u << i), s)) return 1;
            }
            continue;
        }
        uint64_t t;
        if (l_apply(S->sp, s, o, &t) && l_dfs(S, mask | (1u << i), t)) return 1;
    }
    memo_seen(mask, s, 1);
    return 0;
}

static int l_check(const l_spec *sp, const l_op *ops, int n, uint64_t *steps)
{
    l_search S = { sp, ops, n, 0 };
    memo_epoch++;
    int ok = l_dfs(&S, 0, 0);
    if (steps) *steps += S.steps;
    return ok;
}

static void l_print(const l_spec *sp, const l_op *ops, int n)
{
    int64_t t0 = INT64_MAX;
    for (int i = 0; i < n; i++) if (ops[i].inv < t0) t0 = ops[i].inv;
    fprintf(stderr, "non-linearizable history (cap %zd, policy %d), times in ns from the first invocation:\n",
            (ssize_t)sp->cap, (int)sp->policy);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "  T%d %-12s value %2d -> %-16s [%9lld, %9lld] timeout %lld\n", ops[i].thread,
                l_kind_name[ops[i].kind], ops[i].value, kchan_strerror(ops[i].status),
                (long long)(ops[i].inv - t0), (long long)(ops[i].resp - t0), (long long)ops[i].timeout);
}

/* ---- recording ---------------------------------------------------------------------------- */
typedef struct {
    kchan_t *c;
    l_op *ops;                     /* this thread's LOPS ops, filled in */
    atomic_int *go;
    atomic_int *ready;
} l_worker;

static void *l_thread(void *p)
{
    l_worker *w = p;
    atomic_fetch_add(w->ready, 1);
    while (!atomic_load(w->go)) sched_yield();
    for (int i = 0; i < LOPS; i++) {
        l_op *o = &w->ops[i];
        int v = o->value;
        o->inv = kchan_now_ns();
        switch (o->kind) {
        case L_TRY_SEND: o->status = kchan_try_send(w->c, &v); break;
        case L_SEND_T:   o->status = kchan_send_timeout(w->c, &v, o->timeout); break;
        case L_TRY_RECV: v = 0; o->status = kchan_try_recv(w->c, &v); break;
        default:         v = 0; o->status = kchan_recv_timeout(w->c, &v, o->timeout); break;
        }
        o->resp = kchan_now_ns();
        if (!is_send(o->kind)) o->value = o->status == KCHAN_OK ? v : 0;
    }
    return NULL;
}


static uint32_t l_rand(uint32_t *x) { *x ^= *x << 13; *x ^= *x >> 17; *x ^= *x << 5; return *x; }

/* Record one history; returns its length (drain included). */
static int l_record(const l_spec *sp, uint32_t *rng, l_op *ops)
{
    static const int64_t timeouts[] = { 20 * US, 200 * US, 1000 * US };
    kchan_opts o = { .capacity = sp->cap, .overflow = sp->policy };
    kchan_t *c = NULL;
    cr_assert_eq(kchan_create(&c, sizeof(int), &o), KCHAN_OK);
    if (sp->cap == KCHAN_UNLIMITED) {
        /* move the positions 20..30 cells on (the channel is empty again), so the history
           crosses the end of the lock-free list's first 31-cell segment */
        int warm = 20 + (int)(l_rand(rng) % 11), x = 0;
        for (int i = 0; i < warm; i++) cr_assert_eq(kchan_try_send(c, &i), KCHAN_OK);
        for (int i = 0; i < warm; i++) { cr_assert_eq(kchan_try_recv(c, &x), KCHAN_OK); cr_assert_eq(x, i); }
    }
    int n = 0;
    for (int t = 0; t < LT; t++)
        for (int i = 0; i < LOPS; i++, n++) {
            l_op *op = &ops[n];
            memset(op, 0, sizeof *op);
            op->thread = t;
            op->kind = (int)(l_rand(rng) % 4);
            op->value = is_send(op->kind) ? n + 1 : 0;
            op->timeout = timeouts[l_rand(rng) % 3];
            op->status = 99;
        }
    atomic_int go = 0, ready = 0;
    l_worker w[LT];
    pthread_t th[LT];
    for (int t = 0; t < LT; t++) {
        w[t] = (l_worker){ c, &ops[t * LOPS], &go, &ready };
        th[t] = t_spawn(l_thread, &w[t]);
    }
    while (atomic_load(&ready) < LT) sched_yield();
    atomic_store(&go, 1);
    for (int t = 0; t < LT; t++) t_join(th[t]);
    for (;;) {                     /* drain: strictly after every op above */
        cr_assert_lt(n, LMAX);
        l_op *op = &ops[n++];
        memset(op, 0, sizeof *op);
        int v = 0;
        op->thread = LT;
        op->kind = L_TRY_RECV;
        op->inv = kchan_now_ns();
        op->status = kchan_try_recv(c, &v);
        op->resp = kchan_now_ns();
        op->value = op->status == KCHAN_OK ? v : 0;
        if (op->status != KCHAN_OK) break;
    }
    for (int i = 0; i < n; i++)
        if (!is_send(ops[i].kind) && ops[i].status == KCHAN_OK && (ops[i].value < 1 || ops[i].value > LT * LOPS))
            cr_assert_fail("received value %d, which no thread sent", ops[i].value);
    kchan_stats s;
    kchan_stats_get(c, &s);
    cr_assert_eq(s.sends, s.recvs + s.drops_newest + s.drops_oldest + s.undelivered + s.len);
    cr_assert_eq(s.waiting_senders + s.waiting_receivers, 0u);
    kchan_destroy(c);
    return n;
}

static void l_run(size_t cap, kchan_overflow policy, uint32_t seed)
{
    l_spec sp = { cap, policy };
    int stress = getenv("KCHAN_STRESS") != NULL;
    int histories = stress ? 4000 : 80;
    int64_t budget = (stress ? 12000 : 8000) * INT64_C(1000000), t0 = kchan_now_ns();
    uint32_t rng = seed;
    uint64_t steps = 0;
    long ok_ops = 0, fail_ops = 0;
    int h = 0;
    l_op ops[LMAX];
    for (; h < histories && (h < 20 || kchan_now_ns() - t0 < budget); h++) {
        int n = l_record(&sp, &rng, ops);
        for (int i = 0; i < n; i++) { if (ops[i].status == KCHAN_OK) ok_ops++; else fail_ops++; }
        if (!l_check(&sp, ops, n, &steps)) {
            l_print(&sp, ops, n);
            cr_assert_fail("history %d is not linearizable (printed above)", h);
            return;
        }
    }
    cr_log_info("lin cap=%zd policy=%d: %d histories linearizable (%ld ok ops, %ld failed ops, %llu search steps)",
                (ssize_t)cap, (int)policy, h, ok_ops, fail_ops, (unsigned long long)steps);
    fprintf(stderr, "lin: cap=%zd policy=%d: %d histories checked\n", (ssize_t)cap, (int)policy, h);
}

Test(lin, bounded1, .timeout = T_TIMEOUT) { l_run(1, KCHAN_BLOCK, 0x1234567u); }
Test(lin, bounded2, .timeout = T_TIMEOUT) { l_run(2, KCHAN_BLOCK, 0x2345671u); }
Test(lin, rendezvous, .timeout = T_TIMEOUT) { l_run(KCHAN_RENDEZVOUS, KCHAN_BLOCK, 0x3456712u); }
Test(lin, bounded2_drop_oldest, .timeout = T_TIMEOUT) { l_run(2, KCHAN_DROP_OLDEST, 0x4567123u); }
Test(lin, bounded1_drop_newest, .timeout = T_TIMEOUT) { l_run(1, KCHAN_DROP_NEWEST, 0x5671234u); }
Test(lin, conflated, .timeout = T_TIMEOUT) { l_run(KCHAN_CONFLATED, KCHAN_BLOCK, 0x6712345u); }
Test(lin, unlimited, .timeout = T_TIMEOUT) { l_run(KCHAN_UNLIMITED, KCHAN_BLOCK, 0x7123456u); }
Test(lin, bounded1_drop_oldest, .timeout = T_TIMEOUT) { l_run(1, KCHAN_DROP_OLDEST, 0x1726354u); }

/* The checker must reject what is wrong, or the tests above prove nothing. */
static l_op mk(int thread, int kind, int value, int status, int64_t inv, int64_t resp)
{
    l_op o = { thread, kind, value, status, 0, inv, resp };
    return o;
}
Test(lin, checker_self_test, .timeout = T_TIMEOUT)
{
    l_spec b1 = { 1, KCHAN_BLOCK }, rdv = { KCHAN_RENDEZVOUS, KCHAN_BLOCK }, b2 = { 2, KCHAN_BLOCK };
    l_spec dro = { 2, KCHAN_DROP_OLDEST };
    /* sequential send 1 then recv 1: fine; recv 2 instead: wrong value */
    l_op h1[] = { mk(0, L_TRY_SEND, 1, KCHAN_OK, 0, 10), mk(1, L_TRY_RECV, 1, KCHAN_OK, 20, 30) };
    cr_assert(l_check(&b1, h1, 2, NULL));
    h1[1].value = 2;
    cr_assert_not(l_check(&b1, h1, 2, NULL));
    /* recv completes before the send starts: impossible; overlapping: fine */
    l_op h2[] = { mk(1, L_RECV_T, 1, KCHAN_OK, 0, 10), mk(0, L_TRY_SEND, 1, KCHAN_OK, 20, 30) };
    cr_assert_not(l_check(&b1, h2, 2, NULL));
    h2[1].inv = 5;
    cr_assert(l_check(&b1, h2, 2, NULL));
    /* FIFO: 1 then 2 sent sequentially, received 2 first */
    l_op h3[] = { mk(0, L_TRY_SEND, 1, KCHAN_OK, 0, 1), mk(0, L_TRY_SEND, 2, KCHAN_OK, 2, 3),
                  mk(1, L_TRY_RECV, 2, KCHAN_OK, 4, 5), mk(1, L_TRY_RECV, 1, KCHAN_OK, 6, 7) };
    cr_assert_not(l_check(&b2, h3, 4, NULL));
    /* bounded 1: second send must not succeed while the first is still buffered */
    l_op h4[] = { mk(0, L_TRY_SEND, 1, KCHAN_OK, 0, 1), mk(0, L_TRY_SEND, 2, KCHAN_OK, 2, 3) };
    cr_assert_not(l_check(&b1, h4, 2, NULL));
    h4[1].status = KCHAN_WOULDBLOCK;
    cr_assert(l_check(&b1, h4, 2, NULL));
    /* try_recv WOULDBLOCK while an element is surely buffered */
    l_op h5[] = { mk(0, L_TRY_SEND, 1, KCHAN_OK, 0, 1), mk(1, L_TRY_RECV, 0, KCHAN_WOULDBLOCK, 2, 3) };
    cr_assert_not(l_check(&b1, h5, 2, NULL));
    /* drop-oldest: 1, 2, 3 sent sequentially to a 2-slot channel; 1 was evicted */
    l_op h6[] = { mk(0, L_TRY_SEND, 1, KCHAN_OK, 0, 1), mk(0, L_TRY_SEND, 2, KCHAN_OK, 2, 3),
                  mk(0, L_TRY_SEND, 3, KCHAN_OK, 4, 5), mk(1, L_TRY_RECV, 1, KCHAN_OK, 6, 7) };
    cr_assert_not(l_check(&dro, h6, 4, NULL));
    h6[3].value = 2;
    cr_assert(l_check(&dro, h6, 4, NULL));
    /* rendezvous: overlapping blocking pair fine; disjoint pair not; try/try never; unmatched send not */
    l_op r1[] = { mk(0, L_SEND_T, 1, KCHAN_OK, 0, 10), mk(1, L_RECV_T, 1, KCHAN_OK, 5, 15) };
    cr_assert(l_check(&rdv, r1, 2, NULL));
    r1[1].inv = 11;
    cr_assert_not(l_check(&rdv, r1, 2, NULL));
    l_op r2[] = { mk(0, L_TRY_SEND, 1, KCHAN_OK, 0, 10), mk(1, L_TRY_RECV, 1, KCHAN_OK, 5, 15) };
    cr_assert_not(l_check(&rdv, r2, 2, NULL));
    r2[1].kind = L_RECV_T;
    cr_assert(l_check(&rdv, r2, 2, NULL));
    l_op r3[] = { mk(0, L_SEND_T, 1, KCHAN_OK, 0, 10), mk(1, L_RECV_T, 0, KCHAN_TIMEDOUT, 5, 15) };
    cr_assert_not(l_check(&rdv, r3, 2, NULL));
    /* a value received twice */
    l_op h7[] = { mk(0, L_TRY_SEND, 1, KCHAN_OK, 0, 1), mk(1, L_TRY_RECV, 1, KCHAN_OK, 2, 3),
                  mk(2, L_TRY_RECV, 1, KCHAN_OK, 2, 3) };
    cr_assert_not(l_check(&b2, h7, 3, NULL));
}
