/* Fault injection (suite `faults`): for every N reachable, the N-th allocation fails
   (test_alloc_fail_at), in kchan_create and its variants and in unlimited growth and shrink.
   Each failure must be KCHAN_NOMEM (or NULL from kchan_new / a typed _new), leak nothing
   (test_alloc_live_blocks back to the baseline after destroy; LeakSanitizer also runs in the
   ASan build), and lose nothing already accepted: once injection is off again, every value
   accepted before the failure comes out intact and in order. Channels that must not allocate
   after creation (bounded, rendezvous, conflated, caller memory) keep working with every
   allocation failing. */
#include "common.h"
#include <stdint.h>
#include <stdio.h>

KCHAN_DEFINE(flt_ich, int64_t);

static long injected;          /* failures actually delivered, reported at the end of a test */

/* Run `attempt` with the n-th allocation failing, for n = 1, 2, ... until a run makes fewer
   than n allocation calls after arming (nothing left to fail). attempt arms the injection with
   arm() where it wants it counted from, and returns 1 if it saw the failure. */
typedef int (*fault_fn)(void *ctx, int64_t n);
static int64_t armed_calls;
static void arm(int64_t n, int sticky) { armed_calls = test_alloc_calls(); test_alloc_fail_at(n, sticky); }
static void for_every_n(fault_fn attempt, void *ctx, const char *what)
{
    int64_t n = 1;
    for (;; n++) {
        cr_assert_lt(n, 100000, "%s: no end to the allocations", what);
        int64_t live0 = test_alloc_live_blocks();
        armed_calls = INT64_MAX;
        int saw = attempt(ctx, n);
        cr_assert_neq(armed_calls, INT64_MAX, "%s: never armed", what);
        int64_t calls = test_alloc_calls() - armed_calls;
        test_alloc_fail_at(0, 0);
        cr_assert_eq(test_alloc_live_blocks(), live0, "%s, failing allocation %lld: %lld blocks leaked",
                     what, (long long)n, (long long)(test_alloc_live_blocks() - live0));
        if (calls < n) { cr_assert_not(saw, "%s: reported a failure that was not injected", what); break; }
        injected++;
    }
    cr_log_info("%s: %lld allocation points, each failed once", what, (long long)(n - 1));
}

/* ---- creation ------------------------------------------------------------------------------- */
typedef struct { size_t es, cap; kchan_overflow pol; int variant; } create_ctx;

static int create_attempt(void *p, int64_t n)
{
    create_ctx *x = p;
    arm(n, 0);
    kchan_opts o = { .capacity = x->cap, .overflow = x->pol };
    kchan_t *c = (kchan_t *)(uintptr_t)1;
    int r;
    flt_ich *tc = NULL;
    switch (x->variant) {
    case 0: r = kchan_create(&c, x->es, &o); break;
    case 1: c = kchan_new(x->es, x->cap); r = c ? KCHAN_OK : KCHAN_NOMEM; break;
    case 2: tc = flt_ich_new(x->cap); c = (kchan_t *)tc; r = c ? KCHAN_OK : KCHAN_NOMEM; break;
    default: r = flt_ich_create(&tc, &o); c = (kchan_t *)tc; break;
    }
    if (r != KCHAN_OK) {
        cr_assert_eq(r, KCHAN_NOMEM, "create variant %d: %s", x->variant, kchan_strerror(r));
        cr_assert_null(c, "a failed create must leave *out NULL");
        return 1;
    }
    /* it works: one value through, then destroy */
    int64_t v[4] = { 42, 43, 44, 45 }, w[4] = { 0, 0, 0, 0 };
    if (x->cap != KCHAN_RENDEZVOUS) {
        int r1 = kchan_try_send(c, v);
        if (r1 == KCHAN_NOMEM && x->cap == KCHAN_UNLIMITED) {   /* its first growth failed */
            cr_assert_eq(kchan_len(c), 0);
            kchan_destroy(c);
            return 1;
        }
        cr_assert_eq(r1, KCHAN_OK);
        cr_assert_eq(kchan_try_recv(c, w), KCHAN_OK);
        cr_assert(memcmp(v, w, x->es) == 0);
    }
    kchan_destroy(c);
    return 0;
}

Test(faults, create_every_kind_and_variant, .timeout = T_TIMEOUT)
{
    static const size_t caps[] = { KCHAN_RENDEZVOUS, 1, 7, KCHAN_UNLIMITED, KCHAN_CONFLATED };
    static const size_t ess[] = { 0, 8, 24 };
    char what[96];
    for (int variant = 0; variant < 4; variant++)
        for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++)
            for (size_t e = 0; e < (variant >= 2 ? 1u : 3u); e++)
                for (int pol = 0; pol < (caps[k] == 1 || caps[k] == 7 ? 3 : 1); pol++) {
                    create_ctx x = { variant >= 2 ? sizeof(int64_t) : ess[e], caps[k], (kchan_overflow)pol, variant };
                    if (variant == 1 || variant == 2) { if (pol) continue; }
                    snprintf(what, sizeof what, "create variant %d cap %zd es %zu policy %d",
                             variant, (ssize_t)x.cap, x.es, pol);
                    for_every_n(create_attempt, &x, what);
                }
    cr_assert_gt(injected, 0);
    fprintf(stderr, "faults: creation: %ld allocation failures injected\n", injected);
}

/* ---- unlimited growth ---------------------------------------------------------------------- */
typedef struct { size_t es; int how; int total; } grow_ctx;

static void put(uint8_t *e, size_t es, int64_t v) { for (size_t j = 0; j < es; j++) e[j] = (uint8_t)(v * 7 + (int64_t)j); }
static int is(const uint8_t *e, size_t es, int64_t v)
{
    for (size_t j = 0; j < es; j++) if (e[j] != (uint8_t)(v * 7 + (int64_t)j)) return 0;
    return 1;
}

/* Send values 0..total-1 with the chosen op while the n-th allocation fails; on KCHAN_NOMEM
   check nothing was stored, turn injection off and go on. Then receive everything and check
   it is exactly 0..total-1 in order. */
static int grow_attempt(void *p, int64_t n)
{
    grow_ctx *x = p;
    kchan_opts o = { .capacity = KCHAN_UNLIMITED };
    kchan_t *c = NULL;
    test_alloc_fail_at(0, 0);
    cr_assert_eq(kchan_create(&c, x->es, &o), KCHAN_OK);
    arm(n, 0);                                   /* counted from here */
    int saw = 0;
    uint8_t e[64 * 16];
    int64_t v = 0;
    while (v < x->total) {
        kchan_stats before, after;
        kchan_stats_get(c, &before);
        int r;
        size_t sent = 0, batch = 1;
        put(e, x->es, v);
        switch (x->how) {
        case 0: r = kchan_send(c, e); break;
        case 1: r = kchan_try_send(c, e); break;
        case 2: r = kchan_send_timeout(c, e, 1000000); break;
        case 3: {
            batch = (size_t)(x->total - v) < 5 ? (size_t)(x->total - v) : 5;
            for (size_t i = 0; i < batch; i++) put(e + i * x->es, x->es, v + (int64_t)i);
            r = kchan_send_many(c, e, batch, &sent, KCHAN_FOREVER);
            break;
        }
        default: {
            kchan_case k = { c, KCHAN_OP_SEND, e, -99 };
            r = kchan_select(&k, 1, 0);
            if (r == 0) { cr_assert_eq(k.status, KCHAN_OK); r = KCHAN_OK; }
            break;
        }
        }
        if (x->how != 3) sent = r == KCHAN_OK;
        kchan_stats_get(c, &after);
        cr_assert_eq(after.sends, before.sends + sent, "sends counted %llu, expected %zu more",
                     (unsigned long long)(after.sends - before.sends), sent);
        cr_assert_eq(after.len, before.len + sent);
        v += (int64_t)sent;
        if (r == KCHAN_NOMEM) {
            saw = 1;
            cr_assert(sent < batch);
            test_alloc_fail_at(0, 0);            /* memory is back: the rest must go through */
        } else {
            cr_assert_eq(r, KCHAN_OK, "send op %d: %s", x->how, kchan_strerror(r));
        }
    }
    test_alloc_fail_at(0, 0);
    for (int64_t i = 0; i < x->total; i++) {
        uint8_t out[64];
        cr_assert_eq(kchan_try_recv(c, out), KCHAN_OK, "value %lld lost", (long long)i);
        cr_assert(is(out, x->es, i), "value %lld came out wrong", (long long)i);
    }
    cr_assert_eq(kchan_try_recv(c, e), KCHAN_WOULDBLOCK);
    kchan_stats s;
    kchan_stats_get(c, &s);
    cr_assert_eq(s.sends, (uint64_t)x->total);
    cr_assert_eq(s.recvs, (uint64_t)x->total);
    kchan_destroy(c);
    return saw;
}

Test(faults, unlimited_growth_every_allocation, .timeout = T_TIMEOUT)
{
    static const size_t ess[] = { 1, 8, 24, 64 };
    char what[96];
    for (size_t k = 0; k < sizeof ess / sizeof ess[0]; k++)
        for (int how = 0; how < 5; how++) {
            grow_ctx x = { ess[k], how, 0 };
            x.total = (int)(4 * (1024 / ess[k] > 16 ? 1024 / ess[k] : 16)) + 3;   /* a few doublings */
            snprintf(what, sizeof what, "unlimited growth es %zu op %d", x.es, how);
            for_every_n(grow_attempt, &x, what);
        }
    fprintf(stderr, "faults: unlimited growth: %ld allocation failures injected\n", injected);
}

/* ---- unlimited shrink (and growth again after a failed shrink) ------------------------------ */
typedef struct { size_t es; int total; int sticky; } shrink_ctx;

static int shrink_attempt(void *p, int64_t n)
{
    shrink_ctx *x = p;
    kchan_opts o = { .capacity = KCHAN_UNLIMITED };
    kchan_t *c = NULL;
    uint8_t e[64];
    cr_assert_eq(kchan_create(&c, x->es, &o), KCHAN_OK);
    for (int64_t v = 0; v < x->total; v++) { put(e, x->es, v); cr_assert_eq(kchan_send(c, e), KCHAN_OK); }
    arm(n, x->sticky);
    /* drain 7/8 (shrinking on the way), refill, drain all: every recv must succeed */
    int64_t next_out = 0, next_in = x->total;
    for (; next_out < x->total * 7 / 8; next_out++) {
        cr_assert_eq(kchan_recv(c, e), KCHAN_OK);
        cr_assert(is(e, x->es, next_out), "value %lld came out wrong", (long long)next_out);
    }
    int saw = 0;
    for (int k = 0; k < x->total / 2; k++) {
        put(e, x->es, next_in);
        int r = kchan_try_send(c, e);
        if (r == KCHAN_NOMEM) { saw = 1; continue; }   /* growth refused: not stored */
        cr_assert_eq(r, KCHAN_OK);
        next_in++;
    }
    test_alloc_fail_at(0, 0);
    for (; next_out < next_in; next_out++) {
        cr_assert_eq(kchan_try_recv(c, e), KCHAN_OK, "value %lld lost", (long long)next_out);
        cr_assert(is(e, x->es, next_out), "value %lld came out wrong", (long long)next_out);
    }
    cr_assert_eq(kchan_try_recv(c, e), KCHAN_WOULDBLOCK);
    int64_t calls = test_alloc_calls() - armed_calls;
    kchan_destroy(c);
    /* a failed shrink is silent; count it as seen when the n-th call happened */
    return saw || calls >= n;
}

Test(faults, unlimited_shrink_every_allocation, .timeout = T_TIMEOUT)
{
    static const size_t ess[] = { 1, 8, 40 };
    char what[96];
    for (size_t k = 0; k < sizeof ess / sizeof ess[0]; k++)
        for (int sticky = 0; sticky < 2; sticky++) {
            size_t min = 1024 / ess[k] > 16 ? 1024 / ess[k] : 16;
            shrink_ctx x = { ess[k], (int)(8 * min), sticky };
            snprintf(what, sizeof what, "unlimited shrink es %zu sticky %d", x.es, sticky);
            for_every_n(shrink_attempt, &x, what);
        }
    fprintf(stderr, "faults: unlimited shrink: %ld allocation failures injected\n", injected);
}

/* A select whose only case is a send to an unlimited channel that cannot grow: KCHAN_NOMEM,
   nothing happened; with another ready case that one wins instead. */
Test(faults, select_send_unlimited_nomem, .timeout = T_TIMEOUT)
{
    kchan_opts o = { .capacity = KCHAN_UNLIMITED };
    kchan_t *u = NULL, *b = kchan_new(sizeof(int64_t), 1);
    cr_assert_not_null(b);
    cr_assert_eq(kchan_create(&u, sizeof(int64_t), &o), KCHAN_OK);
    int64_t v = 7, w = 0;
    size_t held = 0;
    test_alloc_fail_at(1, 1);
    /* fill what the channel has without growing (the mutex engine: nothing; the lock-free
       list: the rest of its first segment) */
    while (kchan_try_send(u, &v) == KCHAN_OK) cr_assert_lt(++held, 1000u, "grew with every allocation failing");
    kchan_case k[2] = { { u, KCHAN_OP_SEND, &v, -99 }, { b, KCHAN_OP_RECV, &w, -99 } };
    cr_assert_eq(kchan_select(k, 1, 0), KCHAN_NOMEM);
    cr_assert_eq(kchan_select(k, 1, 1000000), KCHAN_NOMEM);
    cr_assert_eq(k[0].status, -99);
    cr_assert_eq(kchan_len(u), held);
    cr_assert_eq(kchan_try_send(b, &v), KCHAN_OK);      /* bounded: allocates nothing */
    cr_assert_eq(kchan_select(k, 2, 0), 1);
    cr_assert_eq(k[1].status, KCHAN_OK);
    cr_assert_eq(w, 7);
    injected += 3;
    test_alloc_fail_at(0, 0);
    cr_assert_eq(kchan_select(k, 1, 0), 0);
    cr_assert_eq(kchan_try_recv(u, &w), KCHAN_OK);
    kchan_destroy(u);
    kchan_destroy(b);
    cr_assert_eq(test_alloc_live_blocks(), 0);
}

/* ---- a select whose unlimited send cannot grow keeps waiting on its other cases ------------ */
/* An unlimited channel filled to what it holds without growing, with every allocation failing
   from now on (sticky), and an empty bounded channel: the two channels of the tests below. */
typedef struct { kchan_t *u, *b; size_t held; } starved;

static starved starved_open(void)
{
    starved s = { NULL, kchan_new(sizeof(int64_t), 1), 0 };
    kchan_opts o = { .capacity = KCHAN_UNLIMITED };
    cr_assert_not_null(s.b);
    cr_assert_eq(kchan_create(&s.u, sizeof(int64_t), &o), KCHAN_OK);
    int64_t v = 7;
    test_alloc_fail_at(1, 1);
    /* the mutex engine's array holds nothing yet; the lock-free list has the rest of its
       first segment: after this, the next send must allocate */
    while (kchan_try_send(s.u, &v) == KCHAN_OK) cr_assert_lt(++s.held, 1000u, "grew with every allocation failing");
    cr_assert_eq(kchan_try_send(s.u, &v), KCHAN_NOMEM);
    return s;
}

/* Injection off; the held elements (and `extra` more, valued 99) come out of u, nothing else;
   both destroyed. */
static void starved_close(starved *s, size_t extra)
{
    int64_t w = 0;
    test_alloc_fail_at(0, 0);
    for (size_t i = 0; i < s->held; i++) {
        cr_assert_eq(kchan_try_recv(s->u, &w), KCHAN_OK, "held element %zu lost", i);
        cr_assert_eq(w, 7);
    }
    for (size_t i = 0; i < extra; i++) {
        cr_assert_eq(kchan_try_recv(s->u, &w), KCHAN_OK, "the select's element was not stored");
        cr_assert_eq(w, 99);
    }
    cr_assert_eq(kchan_try_recv(s->u, &w), kchan_is_closed(s->u) ? KCHAN_CLOSED : KCHAN_WOULDBLOCK,
                 "the failed send stored something");
    kchan_destroy(s->u);
    kchan_destroy(s->b);
    cr_assert_eq(test_alloc_live_blocks(), 0);
}

/* Helper thread: once the select is parked (a receiver waits on b), do `what`: send on b,
   turn allocation failure off, or close u. Gives up when `done` says the select returned. */
enum { SEND_B, MEMORY_BACK, CLOSE_U };
typedef struct { kchan_t *b, *u; int what; atomic_int done, saw, rc; } starved_helper;

static void *starved_helper_run(void *p)
{
    starved_helper *h = p;
    int64_t v = 42, give_up = kchan_now_ns() + 10 * 1000000000ll;
    while (!atomic_load(&h->done) && kchan_now_ns() < give_up) {
        if (t_stats(h->b).waiting_receivers != 1) { sched_yield(); continue; }
        atomic_store(&h->saw, 1);
        if (h->what == MEMORY_BACK) test_alloc_fail_at(0, 0);
        else if (h->what == CLOSE_U) atomic_store(&h->rc, kchan_close(h->u));
        else atomic_store(&h->rc, kchan_send(h->b, &v));
        break;
    }
    return NULL;
}

Test(faults, select_nomem_waits_for_other_case, .timeout = T_TIMEOUT)
{
    starved s = starved_open();
    int64_t v = 99, w = 0;
    kchan_case k[2] = { { s.u, KCHAN_OP_SEND, &v, -99 }, { s.b, KCHAN_OP_RECV, &w, -99 } };
    starved_helper h = { .b = s.b, .u = s.u, .what = SEND_B, .rc = -99 };
    pthread_t t = t_spawn(starved_helper_run, &h);
    int r = kchan_select(k, 2, 2000000000ll);
    atomic_store(&h.done, 1);
    t_join(t);
    test_alloc_fail_at(0, 0);
    cr_assert(atomic_load(&h.saw), "the select never waited on its receive (returned %d: %s)",
              r, r < 0 ? kchan_strerror(r) : "a case");
    cr_assert_eq(r, 1, "select returned %d (%s), expected the receive", r, r < 0 ? kchan_strerror(r) : "a case");
    cr_assert_eq(atomic_load(&h.rc), KCHAN_OK);
    cr_assert_eq(k[1].status, KCHAN_OK);
    cr_assert_eq(k[0].status, -99);
    cr_assert_eq(w, 42);
    starved_close(&s, 0);
}

Test(faults, select_nomem_at_deadline, .timeout = T_TIMEOUT)
{
    starved s = starved_open();
    int64_t v = 99, w = 0;
    kchan_case k[2] = { { s.u, KCHAN_OP_SEND, &v, -99 }, { s.b, KCHAN_OP_RECV, &w, -99 } };
    int64_t t0 = kchan_now_ns();
    int r = kchan_select(k, 2, 50000000);
    int64_t elapsed = kchan_now_ns() - t0;
    test_alloc_fail_at(0, 0);
    cr_assert_eq(r, KCHAN_NOMEM, "select returned %d (%s)", r, r < 0 ? kchan_strerror(r) : "a case");
    cr_assert_geq(elapsed, 50000000, "KCHAN_NOMEM after %lld ns, before the 50 ms deadline", (long long)elapsed);
    cr_assert_eq(k[0].status, -99);
    cr_assert_eq(k[1].status, -99);
    cr_assert_eq(t_stats(s.b).waiting_receivers, 0);
    cr_assert_eq(t_stats(s.u).waiting_senders, 0);
    /* each poll withdrew one registration per case: it waited registered, and backed off
       (1, 2, 4 ... ms: a handful of rounds in 50 ms, not a spin) */
    uint64_t polls = t_stats(s.b).cancelled_waiters;
    cr_log_info("select_nomem_at_deadline: %llu polls", (unsigned long long)polls);
    cr_assert(polls >= 1 && polls <= 10, "%llu polls in 50 ms", (unsigned long long)polls);
    starved_close(&s, 0);
}

Test(faults, select_nomem_memory_comes_back, .timeout = T_TIMEOUT)
{
    starved s = starved_open();
    int64_t v = 99, w = 0;
    kchan_case k[2] = { { s.u, KCHAN_OP_SEND, &v, -99 }, { s.b, KCHAN_OP_RECV, &w, -99 } };
    /* sticky failure, turned off once the select is parked: its polls must find it gone */
    starved_helper h = { .b = s.b, .u = s.u, .what = MEMORY_BACK, .rc = -99 };
    pthread_t t = t_spawn(starved_helper_run, &h);
    int r = kchan_select(k, 2, KCHAN_FOREVER);
    atomic_store(&h.done, 1);
    t_join(t);
    test_alloc_fail_at(0, 0);
    cr_assert(atomic_load(&h.saw), "the select never waited (returned %d: %s)", r, r < 0 ? kchan_strerror(r) : "a case");
    cr_assert_eq(r, 0, "select returned %d (%s), expected the send", r, r < 0 ? kchan_strerror(r) : "a case");
    cr_assert_eq(k[0].status, KCHAN_OK);
    cr_assert_eq(k[1].status, -99);
    starved_close(&s, 1);
}

/* Closing the channel the starved send waits on ends the select: the send says KCHAN_CLOSED. */
Test(faults, select_nomem_then_close, .timeout = T_TIMEOUT)
{
    starved s = starved_open();
    int64_t v = 99, w = 0;
    kchan_case k[2] = { { s.u, KCHAN_OP_SEND, &v, -99 }, { s.b, KCHAN_OP_RECV, &w, -99 } };
    starved_helper h = { .b = s.b, .u = s.u, .what = CLOSE_U, .rc = -99 };
    pthread_t t = t_spawn(starved_helper_run, &h);
    int r = kchan_select(k, 2, KCHAN_FOREVER);
    atomic_store(&h.done, 1);
    t_join(t);
    test_alloc_fail_at(0, 0);
    cr_assert(atomic_load(&h.saw), "the select never waited (returned %d: %s)", r, r < 0 ? kchan_strerror(r) : "a case");
    cr_assert_eq(atomic_load(&h.rc), KCHAN_OK);
    cr_assert_eq(r, 0, "select returned %d (%s), expected the send", r, r < 0 ? kchan_strerror(r) : "a case");
    cr_assert_eq(k[0].status, KCHAN_CLOSED);
    starved_close(&s, 0);
}

Test(faults, select_nomem_try_says_nomem_at_once, .timeout = T_TIMEOUT)
{
    starved s = starved_open();
    int64_t v = 99, w = 0;
    kchan_case k[2] = { { s.u, KCHAN_OP_SEND, &v, -99 }, { s.b, KCHAN_OP_RECV, &w, -99 } };
    int64_t t0 = kchan_now_ns();
    int r = kchan_select(k, 2, 0);
    int64_t elapsed = kchan_now_ns() - t0;
    test_alloc_fail_at(0, 0);
    cr_assert_eq(r, KCHAN_NOMEM, "select returned %d (%s)", r, r < 0 ? kchan_strerror(r) : "a case");
    cr_assert_lt(elapsed, 1000000000, "a try took %lld ns", (long long)elapsed);   /* it never parks */
    cr_assert_eq(k[0].status, -99);
    cr_assert_eq(k[1].status, -99);
    cr_assert_eq(t_stats(s.b).cancelled_waiters, 0, "a try registered");
    starved_close(&s, 0);
}

/* With every allocation failing after creation, channels that must not allocate keep working:
   every kind but unlimited, and caller memory channels, through every op and a select. */
Test(faults, no_allocation_after_create, .timeout = T_TIMEOUT)
{
    static const size_t caps[] = { 1, 4, KCHAN_CONFLATED };
    static unsigned char mem[KCHAN_FOOTPRINT(sizeof(int64_t), 4) + 1];
    for (size_t k = 0; k < 4; k++) {
        kchan_t *c = NULL;
        kchan_opts o = { .capacity = k < 3 ? caps[k] : 4, .overflow = KCHAN_BLOCK };
        if (k < 3) cr_assert_eq(kchan_create(&c, sizeof(int64_t), &o), KCHAN_OK);
        else cr_assert_eq(kchan_create_in(&c, mem + 1, sizeof mem - 1, sizeof(int64_t), &o), KCHAN_OK);
        kchan_t *r = kchan_new(sizeof(int64_t), KCHAN_RENDEZVOUS);
        cr_assert_not_null(r);
        int64_t calls0 = test_alloc_calls();
        test_alloc_fail_at(1, 1);
        int64_t v = 5, w = 0, batch[3] = { 1, 2, 3 };
        size_t n = 0;
        cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
        cr_assert_eq(kchan_peek(c, &w), KCHAN_OK);
        cr_assert_eq(kchan_recv_timeout(c, &w, 1000), KCHAN_OK);
        cr_assert_eq(w, 5);
        int rc = kchan_send_many(c, batch, 3, &n, 0);
        cr_assert(rc == KCHAN_OK || rc == KCHAN_WOULDBLOCK);
        cr_assert_eq(kchan_recv_many(c, batch, 3, &n, 0), KCHAN_OK);
        cr_assert_eq(kchan_send_timeout(r, &v, 1000), KCHAN_TIMEDOUT);
        kchan_case cs[2] = { { r, KCHAN_OP_RECV, &w, -99 }, { c, KCHAN_OP_RECV, &w, -99 } };
        cr_assert_eq(kchan_select(cs, 2, 1000), KCHAN_TIMEDOUT);
        char buf[256];
        cr_assert_gt(kchan_dump(c, buf, sizeof buf), 0);
        cr_assert_eq(kchan_cancel(c), KCHAN_OK);
        cr_assert_eq(test_alloc_calls(), calls0 + 0, "an op allocated");
        test_alloc_fail_at(0, 0);
        kchan_destroy(c);
        kchan_destroy(r);
    }
    cr_assert_eq(test_alloc_live_blocks(), 0);
}
