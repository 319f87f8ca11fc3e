/* Bad input never aborts: NULL channels, NULL elements, bad options, impossible
   capacities and invalid select cases return KCHAN_INVAL (or the harmless
   answers API.md lists for functions without a status), with no effect. */
#include "common.h"
#include <stdint.h>

KCHAN_DEFINE(badch, int64_t);

static void ignore_elem(void *elem, void *user) { (void)elem; (void)user; }

/* ---- creation ---- */

Test(badinput, create_null_out, .timeout = T_TIMEOUT)
{
    kchan_opts o = { .capacity = 4 };
    cr_assert_eq(kchan_create(NULL, 8, &o), KCHAN_INVAL);
    cr_assert_eq(kchan_create(NULL, 8, NULL), KCHAN_INVAL);
    static unsigned char mem[KCHAN_FOOTPRINT(8, 4)];
    cr_assert_eq(kchan_create_in(NULL, mem, sizeof mem, 8, &o), KCHAN_INVAL);
    cr_assert_eq(test_alloc_live_blocks(), 0);
}

Test(badinput, create_null_opts_is_rendezvous, .timeout = T_TIMEOUT)
{
    kchan_t *c = NULL;
    cr_assert_eq(kchan_create(&c, 8, NULL), KCHAN_OK);
    cr_assert_not_null(c);
    cr_assert_eq(kchan_cap(c), 0);
    int64_t v = 1;
    cr_assert_eq(kchan_try_send(c, &v), KCHAN_WOULDBLOCK, "NULL opts did not make a rendezvous channel");
    kchan_destroy(c);
}

Test(badinput, create_bad_options, .timeout = T_TIMEOUT)
{
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = 4, .overflow = (kchan_overflow)7 };
    cr_assert_eq(kchan_create(&c, 8, &o), KCHAN_INVAL, "overflow value not in the enum");
    o.overflow = (kchan_overflow)-1;
    cr_assert_eq(kchan_create(&c, 8, &o), KCHAN_INVAL);
    o.overflow = (kchan_overflow)(KCHAN_DROP_OLDEST + 1);
    cr_assert_eq(kchan_create(&c, 8, &o), KCHAN_INVAL);

    size_t not_bounded[] = { KCHAN_RENDEZVOUS, KCHAN_UNLIMITED, KCHAN_CONFLATED };
    kchan_overflow drops[] = { KCHAN_DROP_NEWEST, KCHAN_DROP_OLDEST };
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 2; j++) {
            if (not_bounded[i] == KCHAN_CONFLATED && drops[j] == KCHAN_DROP_OLDEST)
                continue;     /* what conflated does: accepted (tests/test_typed.c) */
            kchan_opts p = { .capacity = not_bounded[i], .overflow = drops[j] };
            cr_assert_eq(kchan_create(&c, 8, &p), KCHAN_INVAL, "drop policy %d on capacity %zu",
                         (int)drops[j], not_bounded[i]);
            p.on_undelivered = ignore_elem;
            cr_assert_eq(kchan_create(&c, 8, &p), KCHAN_INVAL);
        }
        /* the same capacities with KCHAN_BLOCK are fine */
        kchan_opts ok = { .capacity = not_bounded[i] };
        cr_assert_eq(kchan_create(&c, 8, &ok), KCHAN_OK);
        kchan_destroy(c);
    }
    /* drop policies on a bounded channel are fine */
    for (size_t j = 0; j < 2; j++) {
        kchan_opts p = { .capacity = 3, .overflow = drops[j] };
        cr_assert_eq(kchan_create(&c, 8, &p), KCHAN_OK);
        kchan_destroy(c);
    }
    cr_assert_eq(test_alloc_live_blocks(), 0, "a rejected create leaked");
}

Test(badinput, capacity_times_elem_size_overflow, .timeout = T_TIMEOUT)
{
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = SIZE_MAX / 2 };          /* * 8 overflows size_t */
    cr_assert_eq(kchan_create(&c, 8, &o), KCHAN_INVAL);
    o.capacity = SIZE_MAX / 8 + 1;
    cr_assert_eq(kchan_create(&c, 8, &o), KCHAN_INVAL);
    o.capacity = 3;
    cr_assert_eq(kchan_create(&c, SIZE_MAX / 2, &o), KCHAN_INVAL);
    o.capacity = 2;
    cr_assert_eq(kchan_create(&c, SIZE_MAX, &o), KCHAN_INVAL);
    o.capacity = SIZE_MAX / 2;
    o.overflow = KCHAN_DROP_OLDEST;
    cr_assert_eq(kchan_create(&c, 16, &o), KCHAN_INVAL);
    cr_assert_null(kchan_new(8, SIZE_MAX / 2));
    cr_assert_null(kchan_new(SIZE_MAX / 4, 5));
    static unsigned char mem[4096];
    kchan_opts p = { .capacity = SIZE_MAX / 2 };
    cr_assert_eq(kchan_create_in(&c, mem, sizeof mem, 8, &p), KCHAN_INVAL);
    cr_assert_eq(test_alloc_live_blocks(), 0);
}

Test(badinput, new_with_bad_arguments_is_null, .timeout = T_TIMEOUT)
{
    cr_assert_null(kchan_new(8, SIZE_MAX / 2));
    kchan_t *ok = kchan_new(8, KCHAN_CONFLATED);
    cr_assert_not_null(ok);
    cr_assert_eq(kchan_cap(ok), 1);
    kchan_destroy(ok);
    cr_assert_eq(test_alloc_live_blocks(), 0);
}

Test(badinput, create_in_bad_memory, .timeout = T_TIMEOUT)
{
    int64_t calls0 = test_alloc_calls();
    static unsigned char mem[KCHAN_FOOTPRINT(8, 16) + 64];
    kchan_t *c = NULL;
    kchan_opts o = { .capacity = 16 };
    cr_assert_eq(kchan_create_in(&c, NULL, sizeof mem, 8, &o), KCHAN_INVAL, "NULL mem");
    cr_assert_eq(kchan_create_in(&c, mem, 0, 8, &o), KCHAN_INVAL, "no memory");
    cr_assert_eq(kchan_create_in(&c, mem, 16, 8, &o), KCHAN_INVAL, "16 bytes cannot hold a channel");
    /* the elements alone need 8000 bytes */
    kchan_opts big = { .capacity = 1000 };
    cr_assert_eq(kchan_create_in(&c, mem, sizeof mem, 8, &big), KCHAN_INVAL, "too small for the ring");
    kchan_opts unl = { .capacity = KCHAN_UNLIMITED };
    cr_assert_eq(kchan_create_in(&c, mem, sizeof mem, 8, &unl), KCHAN_INVAL, "unlimited in caller memory");
    kchan_opts bad = { .capacity = KCHAN_CONFLATED, .overflow = KCHAN_DROP_NEWEST };
    cr_assert_eq(kchan_create_in(&c, mem, sizeof mem, 8, &bad), KCHAN_INVAL, "bad options");
    kchan_opts bad2 = { .capacity = 4, .overflow = (kchan_overflow)9 };
    cr_assert_eq(kchan_create_in(&c, mem, sizeof mem, 8, &bad2), KCHAN_INVAL);
    /* what the footprint promises does work, at an odd address too */
    cr_assert_eq(kchan_create_in(&c, mem + 3, KCHAN_FOOTPRINT(8, 16), 8, &o), KCHAN_OK);
    int64_t v = 5;
    cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
    kchan_destroy(c);
    cr_assert_eq(test_alloc_calls(), calls0, "create_in allocated");
}

/* ---- impossible element sizes and footprints (issue 14, adversarial review) ----
   The rule (kchan.h LIMITS), the same on both engines: a channel needs n cells of
   elem_size + 2 words, n = capacity + 1 for rendezvous (0), bounded and conflated (1),
   and 32 for unlimited (a segment of 31 and its header); more than SIZE_MAX / 4 bytes of
   cells cannot exist, so kchan_create says KCHAN_INVAL before allocating anything. */
#define T_CELL_EXTRA (2 * sizeof(size_t))
#define T_ROOM (SIZE_MAX / 4)

/* The largest element size a channel of n cells may have. */
static size_t t_largest_elem(size_t n) { return T_ROOM / n - T_CELL_EXTRA; }

static void ignore_undelivered(void *elem, void *user) { (void)elem; (void)user; }

/* kchan_create, kchan_new and kchan_create_in all say "invalid" without touching memory. */
static void t_assert_impossible(size_t elem_size, const kchan_opts *o)
{
    static unsigned char mem[4096];
    kchan_t *c = (kchan_t *)(void *)mem;                  /* must be cleared */
    cr_assert_eq(kchan_create(&c, elem_size, o), KCHAN_INVAL, "create: elem_size %zu capacity %zu policy %d",
                 elem_size, o->capacity, (int)o->overflow);
    cr_assert_null(c);
    c = (kchan_t *)(void *)mem;
    cr_assert_eq(kchan_create_in(&c, mem, sizeof mem, elem_size, o), KCHAN_INVAL,
                 "create_in: elem_size %zu capacity %zu", elem_size, o->capacity);
    cr_assert_null(c);
    if (o->overflow == KCHAN_BLOCK && !o->on_undelivered)
        cr_assert_null(kchan_new(elem_size, o->capacity), "new: elem_size %zu capacity %zu", elem_size, o->capacity);
}

Test(badinput, absurd_elem_size_unlimited_is_inval, .timeout = T_TIMEOUT)
{
    /* The review's sizes: the lock-free cell stride wrapped (division by zero while planning,
       or a 31-cell segment of 8 bytes written past its end); the mutex engine accepted them. */
    const size_t sizes[] = { SIZE_MAX - 7, SIZE_MAX, SIZE_MAX - 8, SIZE_MAX - 15, SIZE_MAX / 31 + 1,
                             SIZE_MAX / 2, SIZE_MAX / 4, SIZE_MAX / 32, t_largest_elem(32) + 1 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        kchan_opts o = { .capacity = KCHAN_UNLIMITED };
        t_assert_impossible(sizes[i], &o);
    }
    cr_assert_eq(test_alloc_live_blocks(), 0, "a rejected create leaked");
}

Test(badinput, absurd_elem_size_is_inval_on_every_kind, .timeout = T_TIMEOUT)
{
    const size_t sizes[] = { SIZE_MAX, SIZE_MAX - 7, SIZE_MAX / 2, SIZE_MAX / 4, t_largest_elem(1) + 1 };
    const struct { size_t cap; kchan_overflow policy; bool callback; } kinds[] = {
        { KCHAN_RENDEZVOUS, KCHAN_BLOCK, false }, { 1, KCHAN_BLOCK, false },
        { 3, KCHAN_DROP_NEWEST, true }, { 3, KCHAN_DROP_OLDEST, false },
        { KCHAN_CONFLATED, KCHAN_BLOCK, false }, { KCHAN_UNLIMITED, KCHAN_BLOCK, false },
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            kchan_opts o = { .capacity = kinds[k].cap, .overflow = kinds[k].policy,
                             .on_undelivered = kinds[k].callback ? ignore_undelivered : NULL };
            t_assert_impossible(sizes[i], &o);
        }
    cr_assert_eq(test_alloc_live_blocks(), 0, "a rejected create leaked");
}

/* The same limit on both engines, to the byte: with every allocation failing, a possible
   channel says KCHAN_NOMEM (it got as far as allocating), an impossible one KCHAN_INVAL. */
static void t_assert_limit(size_t largest_elem, const kchan_opts *o)
{
    kchan_t *c = NULL;
    cr_assert_eq(kchan_create(&c, largest_elem, o), KCHAN_NOMEM,
                 "elem_size %zu capacity %zu policy %d is possible", largest_elem, o->capacity, (int)o->overflow);
    cr_assert_eq(kchan_create(&c, largest_elem + 1, o), KCHAN_INVAL,
                 "elem_size %zu capacity %zu policy %d is not", largest_elem + 1, o->capacity, (int)o->overflow);
}

Test(badinput, size_limit_is_the_same_on_both_engines, .timeout = T_TIMEOUT)
{
    test_alloc_fail_at(1, 1);
    kchan_opts unl = { .capacity = KCHAN_UNLIMITED }, rdv = { .capacity = KCHAN_RENDEZVOUS },
               cfl = { .capacity = KCHAN_CONFLATED };
    t_assert_limit(t_largest_elem(32), &unl);
    t_assert_limit(t_largest_elem(1), &rdv);
    t_assert_limit(t_largest_elem(2), &cfl);
    const size_t caps[] = { 1, 2, 7, 31, 1000 };
    const kchan_overflow policies[] = { KCHAN_BLOCK, KCHAN_DROP_NEWEST, KCHAN_DROP_OLDEST };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        for (size_t p = 0; p < 3; p++) {
            kchan_opts o = { .capacity = caps[i], .overflow = policies[p] };
            t_assert_limit(t_largest_elem(caps[i] + 1), &o);
        }
    /* and the largest capacity for a given element size */
    const size_t elem_sizes[] = { 1, 4, 8, 24, 4096 };
    for (size_t i = 0; i < sizeof elem_sizes / sizeof elem_sizes[0]; i++)
        for (size_t p = 0; p < 3; p++) {
            size_t largest_cap = T_ROOM / (elem_sizes[i] + T_CELL_EXTRA) - 1;
            kchan_opts o = { .capacity = largest_cap, .overflow = policies[p] };
            kchan_t *c = NULL;
            cr_assert_eq(kchan_create(&c, elem_sizes[i], &o), KCHAN_NOMEM, "capacity %zu of %zu bytes is possible",
                         largest_cap, elem_sizes[i]);
            o.capacity = largest_cap + 1;
            cr_assert_eq(kchan_create(&c, elem_sizes[i], &o), KCHAN_INVAL, "capacity %zu of %zu bytes is not",
                         largest_cap + 1, elem_sizes[i]);
        }
    test_alloc_fail_at(0, 0);
    cr_assert_eq(test_alloc_live_blocks(), 0);
}

/* KCHAN_FOOTPRINT never wraps to a small number: it saturates at SIZE_MAX (an array of that
   size does not compile, and kchan_create_in refuses any buffer for such a channel). */
_Static_assert(KCHAN_FOOTPRINT(0, SIZE_MAX / 16 + 1 - 64) >= KCHAN_FOOTPRINT(0, 1),
               "KCHAN_FOOTPRINT(0, 2^60 - 64) wrapped");
_Static_assert(KCHAN_FOOTPRINT(SIZE_MAX, 2) == SIZE_MAX, "KCHAN_FOOTPRINT(SIZE_MAX, 2) wrapped");
_Static_assert(KCHAN_FOOTPRINT(8, SIZE_MAX / 4) == SIZE_MAX, "KCHAN_FOOTPRINT(8, SIZE_MAX / 4) wrapped");
_Static_assert(KCHAN_FOOTPRINT(SIZE_MAX - 7, KCHAN_CONFLATED) == SIZE_MAX, "conflated footprint wrapped");

Test(badinput, footprint_saturates_instead_of_wrapping, .timeout = T_TIMEOUT)
{
    /* What the footprint must cover at least: the elements themselves and the fixed part. */
    const size_t sizes[] = { 0, 1, 8, 4096, SIZE_MAX / 64, SIZE_MAX / 16, SIZE_MAX / 2, SIZE_MAX - 16,
                             SIZE_MAX - 15, SIZE_MAX - 8, SIZE_MAX - 7, SIZE_MAX };
    const size_t caps[] = { KCHAN_RENDEZVOUS, 1, 2, 1000, SIZE_MAX / 32, SIZE_MAX / 16 + 1 - 64,
                            SIZE_MAX / 16, SIZE_MAX / 4, SIZE_MAX / 2, SIZE_MAX - 3, KCHAN_CONFLATED };
    static unsigned char mem[4096];
    size_t fixed = KCHAN_FOOTPRINT(0, KCHAN_RENDEZVOUS);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
            volatile size_t es = sizes[i], cap = caps[k];           /* runtime values */
            size_t fp = KCHAN_FOOTPRINT(es, cap);
            size_t slots = cap == KCHAN_CONFLATED ? 1 : cap;
            cr_assert(fp >= fixed, "KCHAN_FOOTPRINT(%zu, %zu) = %zu is below its fixed part %zu", sizes[i], caps[k], fp, fixed);
            /* fp >= slots * es, computed without the product (fp / es >= slots says the same) */
            cr_assert(fp == SIZE_MAX || es == 0 || fp / es >= slots,
                      "KCHAN_FOOTPRINT(%zu, %zu) = %zu wrapped", sizes[i], caps[k], fp);
            cr_assert(k == 0 || caps[k] == KCHAN_CONFLATED || fp >= KCHAN_FOOTPRINT(es, caps[k - 1]),
                      "KCHAN_FOOTPRINT(%zu, %zu) = %zu shrank as the capacity grew", sizes[i], caps[k], fp);
            if (fp == SIZE_MAX) {             /* what cannot be had: create_in refuses, cleanly */
                kchan_opts o = { .capacity = cap };
                kchan_t *c = NULL;
                cr_assert_eq(kchan_create_in(&c, mem, sizeof mem, es, &o), KCHAN_INVAL,
                             "elem_size %zu capacity %zu in %zu bytes", sizes[i], caps[k], sizeof mem);
            }
        }
    /* the review's case, at run time too */
    volatile size_t cap60 = SIZE_MAX / 16 + 1 - 64;
    cr_assert_geq(KCHAN_FOOTPRINT(0, cap60), fixed, "KCHAN_FOOTPRINT(0, 2^60 - 64) = %zu", KCHAN_FOOTPRINT(0, cap60));
    cr_assert_eq(test_alloc_live_blocks(), 0);
}

/* ---- a NULL channel ---- */

Test(badinput, null_channel_everywhere, .timeout = T_TIMEOUT)
{
    int64_t v = 1, arr[4] = { 0 };
    size_t n = 77;
    cr_assert_eq(kchan_send(NULL, &v), KCHAN_INVAL);
    cr_assert_eq(kchan_recv(NULL, &v), KCHAN_INVAL);
    cr_assert_eq(kchan_try_send(NULL, &v), KCHAN_INVAL);
    cr_assert_eq(kchan_try_recv(NULL, &v), KCHAN_INVAL);
    cr_assert_eq(kchan_send_timeout(NULL, &v, KCHAN_FOREVER), KCHAN_INVAL);
    cr_assert_eq(kchan_recv_timeout(NULL, &v, KCHAN_FOREVER), KCHAN_INVAL);
    cr_assert_eq(kchan_send_timeout(NULL, &v, 1000000), KCHAN_INVAL);
    cr_assert_eq(kchan_recv_timeout(NULL, &v, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_send_many(NULL, arr, 4, &n, KCHAN_FOREVER), KCHAN_INVAL);
    cr_assert_eq(kchan_recv_many(NULL, arr, 4, &n, KCHAN_FOREVER), KCHAN_INVAL);
    cr_assert_eq(kchan_send_many(NULL, arr, 4, NULL, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_recv_many(NULL, arr, 4, NULL, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_peek(NULL, &v), KCHAN_INVAL);
    cr_assert_eq(kchan_close(NULL), KCHAN_INVAL);
    cr_assert_eq(kchan_close_with(NULL, 3), KCHAN_INVAL);
    cr_assert_eq(kchan_cancel(NULL), KCHAN_INVAL);

    /* functions without a status answer harmlessly */
    cr_assert(kchan_is_closed(NULL));
    cr_assert_eq(kchan_len(NULL), 0);
    cr_assert_eq(kchan_cap(NULL), 0);
    cr_assert_eq(kchan_close_reason(NULL), 0);
    char buf[64];
    memset(buf, 'x', sizeof buf);
    cr_assert_eq(kchan_dump(NULL, buf, sizeof buf), KCHAN_INVAL);
    cr_assert_eq(kchan_dump(NULL, NULL, 0), KCHAN_INVAL);

    kchan_stats s;
    memset(&s, 0xAB, sizeof s);
    kchan_stats_get(NULL, &s);
    cr_assert_eq(s.version, 0, "version not zeroed");
    cr_assert_eq(s.sends, 0);
    cr_assert_eq(s.recvs, 0);
    cr_assert_eq(s.drops_newest, 0);
    cr_assert_eq(s.drops_oldest, 0);
    cr_assert_eq(s.undelivered, 0);
    cr_assert_eq(s.send_full, 0);
    cr_assert_eq(s.recv_empty, 0);
    cr_assert_eq(s.timeouts, 0);
    cr_assert_eq(s.cancelled_waiters, 0);
    cr_assert_eq(s.blocked_sends, 0);
    cr_assert_eq(s.blocked_recvs, 0);
    cr_assert_eq(s.len, 0);
    cr_assert_eq(s.cap, 0);
    cr_assert_eq(s.max_len, 0);
    cr_assert_eq(s.waiting_senders, 0);
    cr_assert_eq(s.waiting_receivers, 0);
    cr_assert_eq(s.closed, false);

    kchan_stats_get(NULL, NULL);   /* must not crash */
    kchan_destroy(NULL);           /* a no-op */

    /* the typed wrappers pass it on */
    cr_assert_eq(badch_send(NULL, 1), KCHAN_INVAL);
    cr_assert_eq(badch_recv(NULL, &v), KCHAN_INVAL);
    cr_assert_eq(badch_len(NULL), 0);
    cr_assert(badch_is_closed(NULL));
    cr_assert_eq(badch_create(NULL, NULL), KCHAN_INVAL);
}

/* ---- a NULL element where the element size is not 0 ---- */

Test(badinput, null_element_is_inval_and_has_no_effect, .timeout = T_TIMEOUT)
{
    size_t caps[] = { KCHAN_RENDEZVOUS, 4, KCHAN_UNLIMITED, KCHAN_CONFLATED };
    for (size_t k = 0; k < 4; k++) {
        kchan_t *c = t_chan(8, caps[k]);
        size_t n = 77;
        cr_assert_eq(kchan_send(c, NULL), KCHAN_INVAL);
        cr_assert_eq(kchan_try_send(c, NULL), KCHAN_INVAL);
        cr_assert_eq(kchan_send_timeout(c, NULL, KCHAN_FOREVER), KCHAN_INVAL);
        cr_assert_eq(kchan_send_timeout(c, NULL, 1000000), KCHAN_INVAL);
        cr_assert_eq(kchan_send_many(c, NULL, 3, &n, KCHAN_FOREVER), KCHAN_INVAL);
        cr_assert_eq(kchan_len(c), 0, "an invalid send stored something");
        /* with an element buffered, receives into NULL leave it there */
        int64_t v = 42;
        if (caps[k] != KCHAN_RENDEZVOUS) cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
        size_t len = kchan_len(c);
        cr_assert_eq(kchan_recv(c, NULL), KCHAN_INVAL);
        cr_assert_eq(kchan_try_recv(c, NULL), KCHAN_INVAL);
        cr_assert_eq(kchan_recv_timeout(c, NULL, KCHAN_FOREVER), KCHAN_INVAL);
        cr_assert_eq(kchan_recv_timeout(c, NULL, 1000000), KCHAN_INVAL);
        cr_assert_eq(kchan_recv_many(c, NULL, 3, &n, KCHAN_FOREVER), KCHAN_INVAL);
        cr_assert_eq(kchan_peek(c, NULL), KCHAN_INVAL);
        cr_assert_eq(kchan_len(c), len, "an invalid recv took something");
        kchan_stats st = t_stats(c);
        cr_assert_eq(st.recvs, 0);
        cr_assert_eq(st.sends, caps[k] == KCHAN_RENDEZVOUS ? 0 : 1);
        cr_assert_eq(st.send_full + st.recv_empty + st.timeouts + st.blocked_sends + st.blocked_recvs, 0,
                     "an invalid op was counted");
        if (caps[k] != KCHAN_RENDEZVOUS) {
            int64_t out = -1;
            cr_assert_eq(kchan_recv(c, &out), KCHAN_OK);
            cr_assert_eq(out, 42);
        }
        kchan_destroy(c);
    }
}

Test(badinput, recv_many_max_zero_is_inval, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(8, 4);
    int64_t v = 1, out[4];
    cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
    size_t got = 77;
    cr_assert_eq(kchan_recv_many(c, out, 0, &got, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_recv_many(c, out, 0, &got, KCHAN_FOREVER), KCHAN_INVAL);
    cr_assert_eq(kchan_recv_many(c, out, 0, NULL, 1000000), KCHAN_INVAL);
    cr_assert_eq(kchan_len(c), 1);
    kchan_destroy(c);
}

Test(badinput, elem_size_zero_accepts_null, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(0, 2);
    size_t n = 0;
    cr_assert_eq(kchan_send(c, NULL), KCHAN_OK);
    cr_assert_eq(kchan_send_many(c, NULL, 1, &n, 0), KCHAN_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(kchan_peek(c, NULL), KCHAN_OK);
    cr_assert_eq(kchan_recv(c, NULL), KCHAN_OK);
    cr_assert_eq(kchan_recv_many(c, NULL, 4, &n, 0), KCHAN_OK);
    cr_assert_eq(n, 1);
    kchan_destroy(c);
}

/* ---- select ---- */

Test(badinput, select_invalid_cases, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(8, 4);
    int64_t v = 5, out = -1;
    cr_assert_eq(kchan_send(c, &v), KCHAN_OK);

    cr_assert_eq(kchan_select(NULL, 1, KCHAN_FOREVER), KCHAN_INVAL);
    cr_assert_eq(kchan_select_biased(NULL, 3, 0), KCHAN_INVAL);

    /* bad op, even where chan is NULL, and even with a ready case first */
    int ops[] = { 0, 3, -1, KCHAN_OP_SEND | KCHAN_OP_RECV };
    for (size_t i = 0; i < 4; i++) {
        kchan_case cs[2] = { { c, KCHAN_OP_RECV, &out, 99 }, { NULL, ops[i], &out, 99 } };
        cr_assert_eq(kchan_select(cs, 2, KCHAN_FOREVER), KCHAN_INVAL, "op %d", ops[i]);
        cr_assert_eq(kchan_select_biased(cs, 2, KCHAN_FOREVER), KCHAN_INVAL);
        kchan_case cs2[2] = { { c, KCHAN_OP_RECV, &out, 99 }, { c, ops[i], &out, 99 } };
        cr_assert_eq(kchan_select(cs2, 2, 0), KCHAN_INVAL);
    }
    /* NULL elem with a non-zero element size, send and recv */
    kchan_case ns[2] = { { c, KCHAN_OP_RECV, &out, 99 }, { c, KCHAN_OP_SEND, NULL, 99 } };
    cr_assert_eq(kchan_select(ns, 2, KCHAN_FOREVER), KCHAN_INVAL);
    cr_assert_eq(kchan_select_biased(ns, 2, KCHAN_FOREVER), KCHAN_INVAL);
    kchan_case nr[2] = { { c, KCHAN_OP_RECV, &out, 99 }, { c, KCHAN_OP_RECV, NULL, 99 } };
    cr_assert_eq(kchan_select(nr, 2, KCHAN_FOREVER), KCHAN_INVAL);
    cr_assert_eq(kchan_select_biased(nr, 2, 0), KCHAN_INVAL);

    /* too many cases */
    static kchan_case many[KCHAN_SELECT_MAX + 1];
    for (size_t i = 0; i < KCHAN_SELECT_MAX + 1; i++) many[i] = (kchan_case){ c, KCHAN_OP_RECV, &out, 99 };
    cr_assert_eq(kchan_select(many, KCHAN_SELECT_MAX + 1, KCHAN_FOREVER), KCHAN_INVAL);
    cr_assert_eq(kchan_select_biased(many, KCHAN_SELECT_MAX + 1, KCHAN_FOREVER), KCHAN_INVAL);

    /* none of it had any effect */
    cr_assert_eq(out, -1, "an invalid select received");
    cr_assert_eq(kchan_len(c), 1);
    kchan_stats st = t_stats(c);
    cr_assert_eq(st.recvs, 0);
    cr_assert_eq(st.sends, 1);
    cr_assert_eq(st.cancelled_waiters, 0);
    cr_assert_eq(st.waiting_receivers, 0);

    /* exactly KCHAN_SELECT_MAX is allowed */
    int r = kchan_select(many, KCHAN_SELECT_MAX, 0);
    cr_assert(r >= 0 && r < KCHAN_SELECT_MAX, "select of KCHAN_SELECT_MAX cases returned %d", r);
    cr_assert_eq(many[r].status, KCHAN_OK);
    cr_assert_eq(out, 5);
    kchan_destroy(c);
}

Test(badinput, select_zero_cases_waits_out_timeout, .timeout = T_TIMEOUT)
{
    cr_assert_eq(kchan_select(NULL, 0, 0), KCHAN_WOULDBLOCK, "n 0 with NULL cases is not invalid");
    int64_t t0 = kchan_now_ns();
    cr_assert_eq(kchan_select(NULL, 0, 5000000), KCHAN_TIMEDOUT);
    cr_assert_geq(kchan_now_ns() - t0, 5000000);
}

/* ---- counters ---- */

Test(badinput, counter_null, .timeout = T_TIMEOUT)
{
    cr_assert_eq(kchan_counter_wait_ge(NULL, 1, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_counter_wait_ge(NULL, 1, KCHAN_FOREVER), KCHAN_INVAL);
    cr_assert_eq(kchan_counter_wait_ge(NULL, 1, 1000000), KCHAN_INVAL);
    /* the others have no status; they must not crash */
    kchan_counter_init(NULL, 5);
    kchan_counter_store(NULL, 5);
    (void)kchan_counter_add(NULL, 1);
    (void)kchan_counter_load(NULL);
    kchan_counter k = KCHAN_COUNTER_INIT(3);
    cr_assert_eq(kchan_counter_wait_ge(&k, 3, 0), KCHAN_OK);
}

/* ---- double close ---- */

Test(badinput, double_close_is_closed, .timeout = T_TIMEOUT)
{
    size_t caps[] = { KCHAN_RENDEZVOUS, 4, KCHAN_UNLIMITED, KCHAN_CONFLATED };
    for (size_t k = 0; k < 4; k++) {
        kchan_t *c = t_chan(8, caps[k]);
        cr_assert_eq(kchan_close(c), KCHAN_OK);
        cr_assert_eq(kchan_close(c), KCHAN_CLOSED);
        cr_assert_eq(kchan_close_with(c, 4), KCHAN_CLOSED);
        cr_assert_eq(kchan_cancel(c), KCHAN_CLOSED);
        cr_assert_eq(kchan_close(c), KCHAN_CLOSED);
        cr_assert(kchan_is_closed(c));
        cr_assert_eq(kchan_close_reason(c), 0);
        kchan_destroy(c);
    }
}

/* ---- dump / stats with odd buffers ---- */

Test(badinput, dump_and_stats_odd_buffers, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(8, 4);
    int needed = kchan_dump(c, NULL, 0);
    cr_assert_gt(needed, 0, "dump with no buffer returns the length needed");
    char buf[8];
    memset(buf, 'x', sizeof buf);
    cr_assert_eq(kchan_dump(c, buf, 0), needed);
    cr_assert_eq(buf[0], 'x', "dump wrote into a 0-byte buffer");
    cr_assert_eq(kchan_dump(c, buf, sizeof buf), needed);
    cr_assert_eq(buf[sizeof buf - 1], '\0', "a truncated dump is still terminated");
    kchan_stats_get(c, NULL);   /* must not crash */
    kchan_destroy(c);
}

/* ---- negative timeouts other than KCHAN_FOREVER (issue 17 item 6) ----
   Only KCHAN_FOREVER (-1) means forever; any other negative timeout (an overflowed
   `secs * 1000000000`) is KCHAN_INVAL before anything happens, even where the op could
   complete at once: no element moves, no stat moves, no case status is written. */

static const int64_t t_bad_timeouts[] = { -2, -1000000, INT64_MIN + 1, INT64_MIN };

/* The channel's dump line: every counter and the state, compared as one string. */
static void t_dump(const kchan_t *c, char *buf, size_t n)
{
    cr_assert_lt(kchan_dump(c, buf, n), (int)n);
}

/* Each op that takes a timeout, with each bad timeout, on channel c (elements int64_t, or
   size 0 where elem_size is 0). */
static void t_bad_timeouts_leave_no_trace(kchan_t *c, size_t elem_size)
{
    char before[512], after[512];
    t_dump(c, before, sizeof before);
    size_t len = kchan_len(c);
    for (size_t i = 0; i < sizeof t_bad_timeouts / sizeof t_bad_timeouts[0]; i++) {
        int64_t t = t_bad_timeouts[i], v = 7, out = -99, arr[2] = { 8, 9 }, outs[2] = { -99, -99 };
        void *vp = elem_size ? (void *)&v : NULL, *op = elem_size ? (void *)&out : NULL;
        size_t n = 77;
        cr_assert_eq(kchan_send_timeout(c, vp, t), KCHAN_INVAL, "send_timeout %lld", (long long)t);
        cr_assert_eq(kchan_recv_timeout(c, op, t), KCHAN_INVAL, "recv_timeout %lld", (long long)t);
        cr_assert_eq(kchan_send_many(c, arr, 2, &n, t), KCHAN_INVAL, "send_many %lld", (long long)t);
        cr_assert_eq(n, 0);
        n = 77;
        cr_assert_eq(kchan_recv_many(c, outs, 2, &n, t), KCHAN_INVAL, "recv_many %lld", (long long)t);
        cr_assert_eq(n, 0);
        kchan_case cs[2] = { { c, KCHAN_OP_RECV, op, -99 }, { c, KCHAN_OP_SEND, vp, -99 } };
        cr_assert_eq(kchan_select(cs, 2, t), KCHAN_INVAL, "select %lld", (long long)t);
        cr_assert_eq(kchan_select_biased(cs, 2, t), KCHAN_INVAL, "select_biased %lld", (long long)t);
        cr_assert_eq(cs[0].status, -99, "an invalid select wrote a case status");
        cr_assert_eq(cs[1].status, -99);
        cr_assert_eq(out, -99, "an invalid op received");
        cr_assert_eq(outs[0], -99);
        cr_assert_eq(kchan_len(c), len, "an invalid op moved an element");
        t_dump(c, after, sizeof after);
        cr_assert_str_eq(after, before, "an invalid op changed the stats");
    }
}

Test(badinput, negative_timeout_is_inval_on_every_op, .timeout = T_TIMEOUT)
{
    size_t caps[] = { KCHAN_RENDEZVOUS, 1, 4, KCHAN_UNLIMITED, KCHAN_CONFLATED };
    size_t sizes[] = { 8, 0 };
    for (size_t s = 0; s < 2; s++) {
        for (size_t k = 0; k < 5; k++) {
            kchan_t *c = t_chan(sizes[s], caps[k]);
            t_bad_timeouts_leave_no_trace(c, sizes[s]);       /* empty: a send could complete */
            if (caps[k] != KCHAN_RENDEZVOUS) {
                int64_t v = 42, out = -1;
                cr_assert_eq(kchan_send(c, sizes[s] ? &v : NULL), KCHAN_OK);
                t_bad_timeouts_leave_no_trace(c, sizes[s]);   /* a recv could complete */
                cr_assert_eq(kchan_recv(c, sizes[s] ? &out : NULL), KCHAN_OK);
                if (sizes[s]) cr_assert_eq(out, 42, "the buffered element was not kept");
            }
            kchan_destroy(c);
        }
    }
}

/* A parked partner is not served by an op with a bad timeout. */
Test(badinput, negative_timeout_leaves_parked_partners, .timeout = T_TIMEOUT)
{
    kchan_t *c = t_chan(8, KCHAN_RENDEZVOUS);
    t_op a = { .c = c, .v = -1, .rc = 1 };
    pthread_t t = t_spawn(t_recv_thread, &a);
    t_wait_receivers(c, 1);
    t_bad_timeouts_leave_no_trace(c, 8);
    int64_t v = 5;
    cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
    t_join(t);
    cr_assert_eq(a.rc, KCHAN_OK);
    cr_assert_eq(a.v, 5);
    kchan_destroy(c);
}

Test(badinput, negative_timeout_select_without_channels, .timeout = T_TIMEOUT)
{
    int64_t out = -1;
    kchan_case nil[1] = { { NULL, KCHAN_OP_RECV, &out, -99 } };
    for (size_t i = 0; i < sizeof t_bad_timeouts / sizeof t_bad_timeouts[0]; i++) {
        cr_assert_eq(kchan_select(NULL, 0, t_bad_timeouts[i]), KCHAN_INVAL, "not a wait forever");
        cr_assert_eq(kchan_select(nil, 1, t_bad_timeouts[i]), KCHAN_INVAL);
        cr_assert_eq(kchan_select_biased(nil, 1, t_bad_timeouts[i]), KCHAN_INVAL);
    }
    cr_assert_eq(nil[0].status, -99);
}

Test(badinput, negative_timeout_counter_wait, .timeout = T_TIMEOUT)
{
    kchan_counter k = KCHAN_COUNTER_INIT(3);
    for (size_t i = 0; i < sizeof t_bad_timeouts / sizeof t_bad_timeouts[0]; i++) {
        cr_assert_eq(kchan_counter_wait_ge(&k, 3, t_bad_timeouts[i]), KCHAN_INVAL, "even when reached");
        cr_assert_eq(kchan_counter_wait_ge(&k, 4, t_bad_timeouts[i]), KCHAN_INVAL);
    }
    cr_assert_eq(kchan_counter_load(&k), 3);
    cr_assert_eq(kchan_counter_wait_ge(&k, 3, KCHAN_FOREVER), KCHAN_OK);
}
