/* Typed API gaps and packaging (issue 17 items 7 and 10): name_create_in, the payload-free
   signal channel of KCHAN_DEFINE_SIGNAL, name_stats_get as the one stats name, a conflated
   channel's policy (KCHAN_DROP_OLDEST accepted, and shown by the dump), and the version. */
#include "common.h"
#include <stdint.h>
#include <stdio.h>

/* ---- a conflated channel is drop-oldest ---- */

static int64_t t_sum_dropped;
static void t_add_dropped(void *elem, void *user)
{
    (void)user;
    int64_t v;
    memcpy(&v, elem, sizeof v);
    t_sum_dropped += v;
}

/* "policy=<word> " out of a dump line. */
static void t_policy_of(const kchan_t *c, char *word, size_t n)
{
    char buf[512];
    cr_assert_lt(kchan_dump(c, buf, sizeof buf), (int)sizeof buf);
    const char *p = strstr(buf, " policy=");
    cr_assert_not_null(p, "%s", buf);
    p += strlen(" policy=");
    size_t k = strcspn(p, " ");
    cr_assert_lt(k, n);
    memcpy(word, p, k);
    word[k] = '\0';
}

Test(typed, conflated_accepts_drop_oldest, .timeout = T_TIMEOUT)
{
    kchan_overflow ok[] = { KCHAN_BLOCK, KCHAN_DROP_OLDEST };
    for (size_t i = 0; i < 2; i++) {
        t_sum_dropped = 0;
        kchan_opts o = { .capacity = KCHAN_CONFLATED, .overflow = ok[i], .on_undelivered = t_add_dropped };
        kchan_t *c = NULL;
        cr_assert_eq(kchan_create(&c, sizeof(int64_t), &o), KCHAN_OK, "conflated with policy %d", (int)ok[i]);
        for (int64_t v = 1; v <= 3; v++) cr_assert_eq(kchan_try_send(c, &v), KCHAN_OK);
        int64_t out = 0;
        cr_assert_eq(kchan_recv(c, &out), KCHAN_OK);
        cr_assert_eq(out, 3, "conflated keeps the latest");
        cr_assert_eq(t_sum_dropped, 1 + 2, "the older ones were evicted");
        cr_assert_eq(t_stats(c).drops_oldest, 2);
        char word[32];
        t_policy_of(c, word, sizeof word);
        cr_assert_str_eq(word, "drop_oldest", "the dump shows what a conflated channel does");
        cr_assert_eq(kchan_cap(c), 1);
        kchan_destroy(c);
    }
    /* the same in caller memory */
    static unsigned char mem[KCHAN_FOOTPRINT(sizeof(int64_t), KCHAN_CONFLATED)];
    kchan_opts o = { .capacity = KCHAN_CONFLATED, .overflow = KCHAN_DROP_OLDEST };
    kchan_t *c = NULL;
    cr_assert_eq(kchan_create_in(&c, mem, sizeof mem, sizeof(int64_t), &o), KCHAN_OK);
    kchan_destroy(c);
    /* drop-newest contradicts conflated */
    kchan_opts bad = { .capacity = KCHAN_CONFLATED, .overflow = KCHAN_DROP_NEWEST };
    cr_assert_eq(kchan_create(&c, sizeof(int64_t), &bad), KCHAN_INVAL);
    cr_assert_null(c);
    cr_assert_eq(test_alloc_live_blocks(), 0);
}

/* ---- name_create_in: a typed channel in caller memory ---- */

KCHAN_DEFINE(tych, int64_t);

Test(typed, create_in_uses_caller_memory, .timeout = T_TIMEOUT)
{
    static unsigned char mem[KCHAN_FOOTPRINT(sizeof(int64_t), 4)];
    kchan_opts o = { .capacity = 4, .name = "typed_in" };
    int64_t calls0 = test_alloc_calls();
    tych *c = NULL;
    cr_assert_eq(tych_create_in(&c, mem, sizeof mem, &o), KCHAN_OK);
    cr_assert_not_null(c);
    cr_assert((unsigned char *)c >= mem && (unsigned char *)c < mem + sizeof mem, "not in mem");
    for (int64_t v = 1; v <= 4; v++) cr_assert_eq(tych_try_send(c, v), KCHAN_OK);
    cr_assert_eq(tych_try_send(c, 5), KCHAN_WOULDBLOCK);
    cr_assert_eq(tych_cap(c), 4);
    int64_t out = 0;
    cr_assert_eq(tych_recv(c, &out), KCHAN_OK);
    cr_assert_eq(out, 1);
    tych_destroy(c);
    cr_assert_eq(test_alloc_calls(), calls0, "create_in allocated");
}

Test(typed, create_in_bad_input, .timeout = T_TIMEOUT)
{
    static unsigned char mem[KCHAN_FOOTPRINT(sizeof(int64_t), 4)];
    kchan_opts o = { .capacity = 4 };
    int64_t calls0 = test_alloc_calls();
    tych *c = (tych *)(uintptr_t)1;
    cr_assert_eq(tych_create_in(&c, NULL, sizeof mem, &o), KCHAN_INVAL);
    cr_assert_null(c, "a failed create_in leaves *out NULL");
    c = (tych *)(uintptr_t)1;
    cr_assert_eq(tych_create_in(&c, mem, 16, &o), KCHAN_INVAL, "too small");
    cr_assert_null(c);
    kchan_opts unl = { .capacity = KCHAN_UNLIMITED };
    cr_assert_eq(tych_create_in(&c, mem, sizeof mem, &unl), KCHAN_INVAL);
    cr_assert_eq(tych_create_in(NULL, mem, sizeof mem, &o), KCHAN_INVAL);
    cr_assert_eq(test_alloc_calls(), calls0);
}

/* ---- one name for stats: name_stats_get, as kchan_stats_get ---- */

Test(typed, stats_get_matches_kchan_stats_get, .timeout = T_TIMEOUT)
{
    tych *c = tych_new(2);
    cr_assert_not_null(c);
    cr_assert_eq(tych_send(c, 1), KCHAN_OK);
    cr_assert_eq(tych_try_send(c, 2), KCHAN_OK);
    cr_assert_eq(tych_try_send(c, 3), KCHAN_WOULDBLOCK);
    kchan_stats a, b, old;
    tych_stats_get(c, &a);
    kchan_stats_get(tych_base(c), &b);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    cr_assert_eq(a.sends, 2);
    cr_assert_eq(a.send_full, 1);
    tych_stats(c, &old);                 /* the deprecated name still works */
    cr_assert_eq(memcmp(&a, &old, sizeof a), 0);
    tych_destroy(c);
}

/* ---- KCHAN_DEFINE_SIGNAL: a channel of events with no payload ---- */

KCHAN_DEFINE_SIGNAL(donech);

Test(typed, signal_channel_ops, .timeout = T_TIMEOUT)
{
    donech *d = donech_new(2);
    cr_assert_not_null(d);
    cr_assert_eq(donech_try_recv(d), KCHAN_WOULDBLOCK);
    cr_assert_eq(donech_peek(d), KCHAN_WOULDBLOCK);
    cr_assert_eq(donech_send(d), KCHAN_OK);
    cr_assert_eq(donech_try_send(d), KCHAN_OK);
    cr_assert_eq(donech_send_timeout(d, KCHAN_MS(1)), KCHAN_TIMEDOUT, "full");
    cr_assert_eq(donech_len(d), 2);
    cr_assert_eq(donech_cap(d), 2);
    cr_assert_eq(donech_peek(d), KCHAN_OK);
    cr_assert_eq(donech_recv(d), KCHAN_OK);
    cr_assert_eq(donech_recv_timeout(d, KCHAN_MS(1)), KCHAN_OK);
    cr_assert_eq(donech_recv_timeout(d, KCHAN_MS(1)), KCHAN_TIMEDOUT);
    cr_assert_eq(donech_recv_timeout(d, -2), KCHAN_INVAL);
    kchan_stats s;
    donech_stats_get(d, &s);
    cr_assert_eq(s.sends, 2);
    cr_assert_eq(s.recvs, 2);
    cr_assert_eq(s.timeouts, 2);
    char buf[512];
    cr_assert_lt(donech_dump(d, buf, sizeof buf), (int)sizeof buf);
    cr_assert_not_null(strstr(buf, " kind=bounded "), "%s", buf);
    cr_assert_eq(donech_send(d), KCHAN_OK);
    cr_assert_eq(donech_close_with(d, 7), KCHAN_OK);
    cr_assert(donech_is_closed(d));
    cr_assert_eq(donech_send(d), KCHAN_CLOSED);
    cr_assert_eq(donech_recv(d), KCHAN_OK, "a buffered signal drains after close");
    cr_assert_eq(donech_recv(d), KCHAN_CLOSED);
    cr_assert_eq(kchan_close_reason(donech_base(d)), 7);
    donech_destroy(d);
}

static void *t_signal_waiter(void *p)
{
    donech *d = (donech *)p;
    intptr_t n = 0;
    while (donech_recv(d) == KCHAN_OK) n++;
    return (void *)n;
}

/* The "done" idiom: a rendezvous signal channel; close wakes every waiter. */
Test(typed, signal_channel_rendezvous_and_close, .timeout = T_TIMEOUT)
{
    donech *d = NULL;
    cr_assert_eq(donech_create(&d, NULL), KCHAN_OK);
    cr_assert_eq(donech_cap(d), 0);
    pthread_t t = t_spawn(t_signal_waiter, d);
    for (int i = 0; i < 3; i++) cr_assert_eq(donech_send(d), KCHAN_OK);   /* each meets the waiter */
    cr_assert_eq(donech_close(d), KCHAN_OK);
    cr_assert_eq((intptr_t)t_join(t), 3);
    donech_destroy(d);
}

Test(typed, signal_channel_select_and_create_in, .timeout = T_TIMEOUT)
{
    static unsigned char mem[KCHAN_FOOTPRINT(0, 1)];
    kchan_opts o = { .capacity = 1 };
    donech *d = NULL;
    cr_assert_eq(donech_create_in(&d, mem, sizeof mem, &o), KCHAN_OK);
    tych *c = tych_new(1);
    int64_t v = -1;
    kchan_case cs[2] = { tych_recv_case(c, &v), donech_recv_case(d) };
    cr_assert_eq(kchan_select(cs, 2, 0), KCHAN_WOULDBLOCK);
    kchan_case snd[1] = { donech_send_case(d) };
    cr_assert_eq(kchan_select(snd, 1, 0), 0);
    cr_assert_eq(kchan_select(cs, 2, KCHAN_FOREVER), 1, "the signal is the ready case");
    cr_assert_eq(cs[1].status, KCHAN_OK);
    cr_assert_eq(donech_cancel(d), KCHAN_OK);
    cr_assert_eq(KCHAN_SELECT(KCHAN_MS(50), donech_recv_case(d)), 0, "closed is ready");
    tych_destroy(c);
    donech_destroy(d);
    cr_assert_eq(test_alloc_live_blocks(), 0);
}

/* ---- the version (issue 17 item 10) ---- */

Test(typed, version_macros_agree, .timeout = T_TIMEOUT)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", KCHAN_VERSION_MAJOR, KCHAN_VERSION_MINOR, KCHAN_VERSION_PATCH);
    cr_assert_str_eq(KCHAN_VERSION_STRING, want);
    cr_assert_str_eq(kchan_version(), KCHAN_VERSION_STRING, "the library and the header differ");
#if KCHAN_VERSION_MAJOR < 0 || KCHAN_VERSION_MINOR < 0 || KCHAN_VERSION_PATCH < 0
#  error "the version numbers are usable in #if"
#endif
    /* The header's first line ends in "vMAJOR.MINOR". The suite runs from the repository root
       (make), where __FILE__ is tests/test_typed.c. */
    FILE *f = fopen("kchan.h", "r");
    if (!f) cr_skip_test("kchan.h not found from the working directory: run from the repository root");
    char line[256] = { 0 };
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    char tag[32];
    snprintf(tag, sizeof tag, "v%d.%d\n", KCHAN_VERSION_MAJOR, KCHAN_VERSION_MINOR);
    size_t n = strlen(line), k = strlen(tag);
    cr_assert(n >= k && strcmp(line + n - k, tag) == 0, "first line %s does not end in %s", line, tag);
}
