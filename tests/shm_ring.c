/* Bounded channels between processes (docs/API.md, "Shared channels between processes"):
   the region's validation, the ops and policies through a kchan_t handle, exactly-once and
   per-producer FIFO delivery across fork()ed producers and consumers, wakes and close
   across processes, select over shared and in-process channels together, and a process
   killed at any moment: at the test points inside a send and a receive (deterministic),
   and in the kill campaign (SHM_KILLS rounds, a random producer or consumer killed at a
   random moment). ASan+UBSan on both engines (make test-shm); why not TSan: see
   tests/shm_latest.c. Every element carries its producer and sequence number (and, when
   larger, content derived from them), so a lost, duplicated, reordered or torn element
   fails the test. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#define KCHAN_TESTING          /* kchan__sh_test_point: a process dies inside its op */
#include "../kchan.h"
#include "shm_common.h"

/* ---- helpers ------------------------------------------------------------------------ */

/* A new channel in a fresh shared mapping; the mapping's size in *size. */
static void *t_ring(size_t elem_size, size_t cap, kchan_overflow ov, uint32_t peers, kchan_t **c, size_t *size)
{
    *size = kchan_shared_region_size(elem_size, cap, peers);
    cr_assert(*size > 0);
    void *m = t_map(*size);
    kchan_shared_opts o = { .elem_size = elem_size, .capacity = cap, .overflow = ov, .peers = peers };
    cr_assert_eq(kchan_create_shared(c, m, *size, &o), KCHAN_OK);
    return m;
}

/* An element: its id (producer << 32 | sequence), then words mixed from the id, then a
   check word, so a torn element or one built from two sends fails t_elem_ok. */
#define T_MAX_WORDS 512
static void t_elem_fill(uint64_t *w, size_t words, uint64_t id)
{
    uint64_t h = id;
    w[0] = id;
    for (size_t i = 1; i + 1 < words; i++) { w[i] = t_mix(id * 7919u + i); h = t_mix(h ^ w[i]); }
    if (words > 1) w[words - 1] = h;
}
static bool t_elem_ok(const uint64_t *w, size_t words)
{
    uint64_t id = w[0], h = id;
    for (size_t i = 1; i + 1 < words; i++) { if (w[i] != t_mix(id * 7919u + i)) return false; h = t_mix(h ^ w[i]); }
    return words < 2 || w[words - 1] == h;
}

/* What the processes of a delivery test share: for each (producer, sequence) how many
   times it was received, each producer's last sequence whose send returned KCHAN_OK,
   and the faults the consumers saw. */
#define T_PRODUCERS 4
#define T_PER_MAX   20000
typedef struct {
    _Atomic uint32_t got[T_PRODUCERS][T_PER_MAX];
    _Atomic int64_t  last_ok[T_PRODUCERS];
    _Atomic uint64_t received, torn, reordered, unexpected;
    _Atomic int      bad_status;
} t_ledger;

/* A producer: sequences 0 .. n-1 of `words`-word elements; records each one sent. */
static void t_produce(kchan_t *c, t_ledger *L, int p, int n, size_t words)
{
    uint64_t e[T_MAX_WORDS];
    for (int i = 0; i < n; i++) {
        t_elem_fill(e, words, (uint64_t)p << 32 | (uint32_t)i);
        int r = kchan_send_timeout(c, e, KCHAN_SEC(20));
        if (r != KCHAN_OK) { atomic_store(&L->bad_status, r); _exit(3); }
        atomic_store(&L->last_ok[p], i);
    }
}

/* A consumer: receives until closed and drained; checks content and per-producer order. */
static void t_consume(kchan_t *c, t_ledger *L, size_t words, int producers)
{
    uint64_t e[T_MAX_WORDS];
    int64_t last[T_PRODUCERS];
    for (int p = 0; p < T_PRODUCERS; p++) last[p] = -1;
    for (;;) {
        int r = kchan_recv_timeout(c, e, KCHAN_SEC(20));
        if (r == KCHAN_CLOSED) return;
        if (r != KCHAN_OK) { atomic_store(&L->bad_status, r); _exit(4); }
        uint64_t p = e[0] >> 32, i = (uint32_t)e[0];
        if (!t_elem_ok(e, words)) { atomic_fetch_add(&L->torn, 1); continue; }
        if (p >= (uint64_t)producers || i >= T_PER_MAX) { atomic_fetch_add(&L->unexpected, 1); continue; }
        if ((int64_t)i <= last[p]) atomic_fetch_add(&L->reordered, 1);
        last[p] = (int64_t)i;
        atomic_fetch_add(&L->got[p][i], 1);
        atomic_fetch_add(&L->received, 1);
    }
}

/* The conservation law of a shared channel's stats (docs/API.md section 25). */
static void t_conserved(const kchan_stats *s)
{
    cr_assert_eq(s->sends, s->recvs + s->len + s->drops_newest + s->drops_oldest + s->undelivered + s->lost_receiving,
                 "sends %llu", (unsigned long long)s->sends);
}

static void t_ledger_clear(t_ledger *L)
{
    memset((void *)L, 0, sizeof *L);
    for (int p = 0; p < T_PRODUCERS; p++) atomic_store(&L->last_ok[p], -1);
}

/* ---- the region and its validation ------------------------------------------------- */

Test(shared, region_size_rejects_what_cannot_exist, .timeout = T_TIMEOUT)
{
    cr_assert_eq(kchan_shared_region_size(0, 4, 0), 0, "elements of 0 bytes");
    cr_assert_eq(kchan_shared_region_size(8, 0, 0), 0, "capacity 0 (no rendezvous between processes)");
    cr_assert_eq(kchan_shared_region_size(8, KCHAN_UNLIMITED, 0), 0, "unlimited");
    cr_assert_eq(kchan_shared_region_size(8, 4, 4097), 0, "too many peers");
    cr_assert_eq(kchan_shared_region_size(SIZE_MAX, 2, 0), 0, "an element that cannot fit");
    cr_assert_eq(kchan_shared_region_size(SIZE_MAX / 8, 1u << 20, 0), 0, "capacity x element overflow");
    size_t s = kchan_shared_region_size(8, 4, 0);
    cr_assert(s > 0 && s % 64 == 0 && s >= 4 * 16, "got %zu", s);
    cr_assert(kchan_shared_region_size(4096, 16, 0) >= 16u * 4096);
    cr_assert(kchan_shared_region_size(8, 4, 1000) > kchan_shared_region_size(8, 4, 1), "peers take room");
}

Test(shared, create_rejects_bad_arguments, .timeout = T_TIMEOUT)
{
    size_t size = kchan_shared_region_size(8, 4, 0);
    unsigned char *m = t_map(size + 64);
    kchan_shared_opts o = { .elem_size = 8, .capacity = 4 };
    kchan_t *c = (kchan_t *)&o;
    cr_assert_eq(kchan_create_shared(NULL, m, size, &o), KCHAN_INVAL);
    cr_assert_eq(kchan_create_shared(&c, NULL, size, &o), KCHAN_INVAL);
    cr_assert_null(c, "out is cleared first");
    cr_assert_eq(kchan_create_shared(&c, m, size, NULL), KCHAN_INVAL);
    cr_assert_eq(kchan_create_shared(&c, m + 8, size, &o), KCHAN_INVAL, "not on a cache line");
    cr_assert_eq(kchan_create_shared(&c, m, size - 1, &o), KCHAN_INVAL, "too small");
    o.overflow = (kchan_overflow)7;
    cr_assert_eq(kchan_create_shared(&c, m, size, &o), KCHAN_INVAL, "no such policy");
    o.overflow = KCHAN_DROP_OLDEST;
    kchan_shared_opts big = { .elem_size = KCHAN_EVICT_MAX + 1, .capacity = 2, .overflow = KCHAN_DROP_OLDEST,
                              .on_undelivered = (void (*)(void *, void *))abort };
    size_t bsize = kchan_shared_region_size(big.elem_size, 2, 0);
    unsigned char *bm = t_map(bsize);
    cr_assert_eq(kchan_create_shared(&c, bm, bsize, &big), KCHAN_INVAL, "an eviction's copy would not fit");
    cr_assert_eq(kchan_create_shared(&c, m, size, &o), KCHAN_OK);
    kchan_destroy(c);
    munmap(bm, bsize);
    munmap(m, size + 64);
}

Test(shared, attach_says_what_is_wrong, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_t *c, *a = NULL;
    unsigned char *m = t_ring(8, 4, KCHAN_BLOCK, 0, &c, &size);
    const char *why = NULL;
    kchan_shared_opts want = { .elem_size = 8, .capacity = 4 };
    cr_assert_eq(kchan_attach(&a, m, size, &want, &why), KCHAN_OK, "%s", why);
    cr_assert_str_eq(why, "none");
    kchan_destroy(a);
    cr_assert_eq(kchan_attach(&a, m, size, NULL, NULL), KCHAN_OK, "no expectations, no reason wanted");
    kchan_destroy(a);

    struct { kchan_shared_opts o; const char *why; } mism[] = {
        { { .elem_size = 16 }, "elem_size" }, { { .capacity = 8 }, "capacity" },
        { { .overflow = KCHAN_DROP_NEWEST }, "overflow" }, { { .peers = 3 }, "peers" },
    };
    for (size_t i = 0; i < sizeof mism / sizeof mism[0]; i++) {
        cr_assert_eq(kchan_attach(&a, m, size, &mism[i].o, &why), KCHAN_MISMATCH, "%s", mism[i].why);
        cr_assert_str_eq(why, mism[i].why);
        cr_assert_null(a);
    }
    cr_assert_eq(kchan_attach(&a, m, 100, NULL, &why), KCHAN_BADREGION);
    cr_assert(strstr(why, "size") != NULL, "%s", why);
    cr_assert_eq(kchan_attach(&a, m, size - 1, NULL, &why), KCHAN_BADREGION);
    cr_assert(strstr(why, "truncated") != NULL, "%s", why);
    cr_assert_eq(kchan_attach(&a, m + 8, size - 8, NULL, &why), KCHAN_INVAL, "not on a cache line");

    /* Every bit of the head's numbers and magic: each flip is refused (the checksum). */
    unsigned char save[128];
    memcpy(save, m, sizeof save);
    for (size_t bit = 0; bit < 80 * 8; bit++) {
        m[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        int r = kchan_attach(&a, m, size, NULL, &why);
        cr_assert(r == KCHAN_BADREGION, "bit %zu flipped: %d (%s)", bit, r, why);
        m[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    /* The other byte order's magic is named as such. */
    uint64_t magic;
    memcpy(&magic, m, 8);
    uint64_t swapped = __builtin_bswap64(magic);
    memcpy(m, &swapped, 8);
    cr_assert_eq(kchan_attach(&a, m, size, NULL, &why), KCHAN_BADREGION);
    cr_assert(strstr(why, "byte order") != NULL, "%s", why);
    memcpy(m, save, sizeof save);

    /* Zeroed, garbage, and a latest-value region. */
    unsigned char *z = t_map(size);
    cr_assert_eq(kchan_attach(&a, z, size, NULL, &why), KCHAN_BADREGION);
    cr_assert(strstr(why, "magic") != NULL, "%s", why);
    srand(7);
    for (int round = 0; round < 20000; round++) {
        for (size_t i = 0; i < 128; i++) z[i] = (unsigned char)rand();
        if (round % 2) memcpy(z, m, 8);          /* the right magic, the rest garbage */
        cr_assert_eq(kchan_attach(&a, z, size, NULL, &why), KCHAN_BADREGION, "round %d", round);
    }
    size_t lsize = kchan_latest_region_size(8, 2);
    unsigned char *lm = t_map(lsize);
    kchan_latest h;
    kchan_latest_opts lo = { 8, 2 };
    cr_assert_eq(kchan_latest_create(&h, lm, lsize, &lo), KCHAN_OK);
    cr_assert_eq(kchan_attach(&a, lm, lsize, NULL, &why), KCHAN_BADREGION);
    cr_assert(strstr(why, "latest") != NULL, "%s", why);
    cr_assert_eq(kchan_attach(&a, m, size, NULL, &why), KCHAN_OK, "the region itself was restored: %s", why);
    kchan_destroy(a);
    kchan_destroy(c);
}

/* ---- ops in one process ------------------------------------------------------------- */

Test(shared, fifo_try_timeout_len_and_counts, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_t *c;
    (void)t_ring(sizeof(int), 3, KCHAN_BLOCK, 0, &c, &size);
    int v = 0;
    cr_assert_eq(kchan_cap(c), 3);
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_recv_timeout(c, &v, KCHAN_MS(5)), KCHAN_TIMEDOUT);
    for (int round = 0; round < 20; round++) {       /* many laps of a 3-cell ring */
        for (int i = 0; i < 3; i++) { v = round * 10 + i; cr_assert_eq(kchan_try_send(c, &v), KCHAN_OK); }
        cr_assert_eq(kchan_len(c), 3);
        cr_assert_eq(kchan_try_send(c, &v), KCHAN_WOULDBLOCK);
        cr_assert_eq(kchan_send_timeout(c, &v, KCHAN_MS(1)), KCHAN_TIMEDOUT);
        for (int i = 0; i < 3; i++) {
            cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
            cr_assert_eq(v, round * 10 + i, "FIFO");
        }
    }
    kchan_stats s;
    kchan_stats_get(c, &s);
    cr_assert_eq(s.version, KCHAN_STATS_VERSION);
    cr_assert_eq(s.sends, 60);
    cr_assert_eq(s.recvs, 60);
    cr_assert_eq(s.len, 0);
    cr_assert_eq(s.cap, 3);
    cr_assert_eq(s.send_full, 20);
    cr_assert_eq(s.recv_empty, 1);
    cr_assert_eq(s.timeouts, 21);
    cr_assert_eq(s.blocked_sends, 20);
    cr_assert_eq(s.blocked_recvs, 1);
    cr_assert(!s.closed);
    char buf[512];
    cr_assert(kchan_dump(c, buf, sizeof buf) > 0);
    cr_assert(strstr(buf, "kind=shared") && strstr(buf, "sends=60") && strstr(buf, "lost_sending=0"), "%s", buf);
    cr_assert_eq(kchan_send(c, NULL), KCHAN_INVAL);
    cr_assert_eq(kchan_recv_timeout(c, &v, -5), KCHAN_INVAL);
    kchan_destroy(c);
}

Test(shared, close_drains_then_says_closed, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_t *c;
    (void)t_ring(sizeof(int), 4, KCHAN_BLOCK, 0, &c, &size);
    for (int i = 0; i < 3; i++) cr_assert_eq(kchan_send(c, &i), KCHAN_OK);
    cr_assert_eq(kchan_close_with(c, 42), KCHAN_OK);
    cr_assert_eq(kchan_close(c), KCHAN_CLOSED, "the second close");
    cr_assert(kchan_is_closed(c));
    cr_assert_eq(kchan_close_reason(c), 42);
    int v = 9;
    cr_assert_eq(kchan_send(c, &v), KCHAN_CLOSED);
    cr_assert_eq(kchan_try_send(c, &v), KCHAN_CLOSED);
    for (int i = 0; i < 3; i++) { cr_assert_eq(kchan_recv(c, &v), KCHAN_OK); cr_assert_eq(v, i); }
    cr_assert_eq(kchan_recv(c, &v), KCHAN_CLOSED);
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_CLOSED);
    cr_assert_eq(kchan_peek(c, &v), KCHAN_CLOSED);
    kchan_stats s;
    kchan_stats_get(c, &s);
    cr_assert(s.closed && s.sends == 3 && s.recvs == 3 && s.len == 0);
    kchan_destroy(c);
}

static _Atomic int t_dropped_sum, t_dropped_n;
static void t_on_drop(void *e, void *user)
{
    cr_assert_eq(user, (void *)&t_dropped_n);
    atomic_fetch_add(&t_dropped_sum, *(int *)e);
    atomic_fetch_add(&t_dropped_n, 1);
}

Test(shared, drop_newest_and_drop_oldest, .timeout = T_TIMEOUT)
{
    for (int ov = KCHAN_DROP_NEWEST; ov <= KCHAN_DROP_OLDEST; ov++) {
        size_t size = kchan_shared_region_size(sizeof(int), 4, 0);
        void *m = t_map(size);
        kchan_shared_opts o = { .elem_size = sizeof(int), .capacity = 4, .overflow = (kchan_overflow)ov,
                                .on_undelivered = t_on_drop, .user = (void *)&t_dropped_n };
        kchan_t *c;
        cr_assert_eq(kchan_create_shared(&c, m, size, &o), KCHAN_OK);
        atomic_store(&t_dropped_sum, 0);
        atomic_store(&t_dropped_n, 0);
        for (int i = 0; i < 10; i++) cr_assert_eq(kchan_try_send(c, &i), KCHAN_OK, "a dropping send never blocks");
        int v, want = ov == KCHAN_DROP_NEWEST ? 0 : 6;      /* the first four kept, or the last four */
        for (int i = 0; i < 4; i++) { cr_assert_eq(kchan_recv(c, &v), KCHAN_OK); cr_assert_eq(v, want + i); }
        cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
        cr_assert_eq(atomic_load(&t_dropped_n), 6);
        cr_assert_eq(atomic_load(&t_dropped_sum), ov == KCHAN_DROP_NEWEST ? 4 + 5 + 6 + 7 + 8 + 9 : 0 + 1 + 2 + 3 + 4 + 5);
        kchan_stats s;
        kchan_stats_get(c, &s);
        cr_assert_eq(s.sends, 10);
        cr_assert_eq(s.recvs, 4);
        cr_assert_eq(ov == KCHAN_DROP_NEWEST ? s.drops_newest : s.drops_oldest, 6);
        t_conserved(&s);
        kchan_destroy(c);
        munmap(m, size);
    }
}

Test(shared, peek_batches_and_cancel, .timeout = T_TIMEOUT)
{
    size_t size = kchan_shared_region_size(sizeof(int), 8, 0);
    void *m = t_map(size);
    kchan_shared_opts o = { .elem_size = sizeof(int), .capacity = 8, .on_undelivered = t_on_drop,
                            .user = (void *)&t_dropped_n };
    kchan_t *c;
    cr_assert_eq(kchan_create_shared(&c, m, size, &o), KCHAN_OK);
    int in[12], out[12], v;
    for (int i = 0; i < 12; i++) in[i] = 100 + i;
    size_t n = 0;
    cr_assert_eq(kchan_peek(c, &v), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_send_many(c, in, 12, &n, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(n, 8, "as many as fit");
    cr_assert_eq(kchan_peek(c, &v), KCHAN_OK);
    cr_assert_eq(v, 100);
    cr_assert_eq(kchan_recv_many(c, out, 5, &n, KCHAN_FOREVER), KCHAN_OK);
    cr_assert_eq(n, 5);
    for (int i = 0; i < 5; i++) cr_assert_eq(out[i], 100 + i);
    cr_assert_eq(kchan_len(c), 3);
    atomic_store(&t_dropped_sum, 0);
    atomic_store(&t_dropped_n, 0);
    cr_assert_eq(kchan_cancel(c), KCHAN_OK);
    cr_assert_eq(atomic_load(&t_dropped_n), 3, "what was left is handed to on_undelivered");
    cr_assert_eq(atomic_load(&t_dropped_sum), 105 + 106 + 107);
    cr_assert_eq(kchan_recv_many(c, out, 5, &n, 0), KCHAN_CLOSED);
    cr_assert_eq(n, 0);
    kchan_stats s;
    kchan_stats_get(c, &s);
    cr_assert_eq(s.undelivered, 3);
    t_conserved(&s);
    kchan_destroy(c);
    munmap(m, size);
}

/* One memfd mapped twice, at two addresses: the region holds no pointers. */
Test(shared, two_mappings_one_channel, .timeout = T_TIMEOUT)
{
    size_t size = kchan_shared_region_size(sizeof(uint64_t), 16, 0);
    int fd = memfd_create("kchan-test", 0);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, (off_t)size), 0);
    void *m1 = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    void *m2 = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert(m1 != MAP_FAILED && m2 != MAP_FAILED && m1 != m2);
    kchan_shared_opts o = { .elem_size = sizeof(uint64_t), .capacity = 16 };
    kchan_t *a, *b;
    cr_assert_eq(kchan_create_shared(&a, m1, size, &o), KCHAN_OK);
    cr_assert_eq(kchan_attach(&b, m2, size, &o, NULL), KCHAN_OK);
    for (uint64_t i = 0; i < 100; i++) {
        uint64_t v = i * 3, w = 0;
        cr_assert_eq(kchan_send(i % 2 ? a : b, &v), KCHAN_OK);
        cr_assert_eq(kchan_recv(i % 2 ? b : a, &w), KCHAN_OK);
        cr_assert_eq(w, v);
    }
    kchan_destroy(a);
    kchan_destroy(b);
    munmap(m1, size);
    munmap(m2, size);
    close(fd);
}

/* ---- across processes --------------------------------------------------------------- */

/* producers x consumers processes, n elements each of `words` words through a ring of
   `cap`; producers use the handle they inherit, consumers attach their own. Every element
   received exactly once, in each producer's order, whole. */
static void t_deliver(int producers, int consumers, int n, size_t words, size_t cap)
{
    size_t size;
    kchan_t *c;
    void *m = t_ring(words * 8, cap, KCHAN_BLOCK, 0, &c, &size);
    t_ledger *L = (t_ledger *)t_map(sizeof *L);
    t_ledger_clear(L);
    pid_t pid[8];
    for (int i = 0; i < consumers; i++)
        if ((pid[producers + i] = t_fork()) == 0) {
            kchan_t *mine;
            if (kchan_attach(&mine, m, size, NULL, NULL) != KCHAN_OK) _exit(5);
            t_consume(mine, L, words, producers);
            kchan_destroy(mine);
            _exit(0);
        }
    for (int p = 0; p < producers; p++)
        if ((pid[p] = t_fork()) == 0) { t_produce(c, L, p, n, words); _exit(0); }
    for (int p = 0; p < producers; p++) cr_assert_eq(t_join(pid[p]), 0, "producer %d (status %d)", p, atomic_load(&L->bad_status));
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    for (int i = 0; i < consumers; i++) cr_assert_eq(t_join(pid[producers + i]), 0, "consumer %d (status %d)", i, atomic_load(&L->bad_status));
    cr_assert_eq(atomic_load(&L->torn), 0);
    cr_assert_eq(atomic_load(&L->reordered), 0);
    cr_assert_eq(atomic_load(&L->unexpected), 0);
    cr_assert_eq(atomic_load(&L->received), (uint64_t)producers * (uint64_t)n);
    for (int p = 0; p < producers; p++)
        for (int i = 0; i < n; i++) cr_assert_eq(atomic_load(&L->got[p][i]), 1, "producer %d element %d", p, i);
    kchan_stats s;
    kchan_stats_get(c, &s);
    cr_assert_eq(s.sends, (uint64_t)producers * (uint64_t)n);
    cr_assert_eq(s.recvs, s.sends);
    cr_assert(s.len == 0 && s.lost_sending == 0 && s.lost_receiving == 0 && s.closed);
    kchan_destroy(c);
    munmap(L, sizeof *L);
    munmap(m, size);
}

Test(shared, exactly_once_spsc_small_elements, .timeout = T_TIMEOUT) { t_deliver(1, 1, 20000, 1, 8); }
Test(shared, exactly_once_mpmc_small_ring, .timeout = T_TIMEOUT) { t_deliver(3, 3, 6000, 1, 2); }
Test(shared, exactly_once_mpmc_large_elements, .timeout = T_TIMEOUT) { t_deliver(2, 2, 2000, 512, 4); }
Test(shared, exactly_once_one_cell, .timeout = T_TIMEOUT) { t_deliver(2, 2, 3000, 3, 1); }

/* A receiver and a sender asleep in other processes: woken by a send, a receive, a close. */
Test(shared, wakes_and_close_cross_processes, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_t *c;
    void *m = t_ring(sizeof(int), 1, KCHAN_BLOCK, 0, &c, &size);
    _Atomic int *flag = (_Atomic int *)t_map(64);
    pid_t r = t_fork();
    if (r == 0) {                      /* receives 2, then sleeps in recv until the close */
        int v;
        atomic_store(flag, 1);
        if (kchan_recv_timeout(c, &v, KCHAN_SEC(20)) != KCHAN_OK || v != 7) _exit(1);
        if (kchan_recv_timeout(c, &v, KCHAN_SEC(20)) != KCHAN_OK || v != 8) _exit(2);
        atomic_store(flag, 2);
        _exit(kchan_recv_timeout(c, &v, KCHAN_SEC(20)) == KCHAN_CLOSED ? 0 : 3);
    }
    while (atomic_load(flag) != 1) sched_yield();
    int v = 7;
    cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
    v = 8;
    cr_assert_eq(kchan_send_timeout(c, &v, KCHAN_SEC(20)), KCHAN_OK, "room made by the other process");
    while (atomic_load(flag) != 2) sched_yield();
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    cr_assert_eq(t_join(r), 0);

    /* A sender asleep on a full ring wakes with KCHAN_CLOSED. */
    kchan_t *d;
    void *m2 = t_ring(sizeof(int), 1, KCHAN_BLOCK, 0, &d, &size);
    v = 1;
    cr_assert_eq(kchan_send(d, &v), KCHAN_OK);
    atomic_store(flag, 0);
    pid_t s = t_fork();
    if (s == 0) {
        atomic_store(flag, 1);
        _exit(kchan_send_timeout(d, &v, KCHAN_SEC(20)) == KCHAN_CLOSED ? 0 : 1);
    }
    while (atomic_load(flag) != 1) sched_yield();
    cr_assert_eq(kchan_close(d), KCHAN_OK);
    cr_assert_eq(t_join(s), 0);
    cr_assert_eq(kchan_recv(d, &v), KCHAN_OK, "the element sent before the close stays");
    cr_assert_eq(kchan_recv(d, &v), KCHAN_CLOSED);
    kchan_destroy(c);
    kchan_destroy(d);
    munmap(m, size);
    munmap(m2, size);
}

/* A select over a shared channel (fed by another process) and an in-process one (fed by
   a thread): each case completes when its partner comes, and a timeout with neither. */
static void *t_feed(void *arg)
{
    int v = 5;
    return (void *)(intptr_t)kchan_send((kchan_t *)arg, &v);
}

Test(shared, select_over_shared_and_in_process, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_t *sh, *local = kchan_new(sizeof(int), 0);
    void *m = t_ring(sizeof(int), 2, KCHAN_BLOCK, 0, &sh, &size);
    int a = 0, b = 0;
    kchan_case cs[2] = { { sh, KCHAN_OP_RECV, &a, 0 }, { local, KCHAN_OP_RECV, &b, 0 } };
    cr_assert_eq(kchan_select(cs, 2, 0), KCHAN_WOULDBLOCK);
    cr_assert_eq(kchan_select(cs, 2, KCHAN_MS(3)), KCHAN_TIMEDOUT);
    pid_t p = t_fork();
    if (p == 0) { int v = 11; _exit(kchan_send(sh, &v) == KCHAN_OK ? 0 : 1); }
    cr_assert_eq(kchan_select(cs, 2, KCHAN_SEC(20)), 0);
    cr_assert_eq(cs[0].status, KCHAN_OK);
    cr_assert_eq(a, 11);
    cr_assert_eq(t_join(p), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, t_feed, local), 0);
    cr_assert_eq(kchan_select(cs, 2, KCHAN_SEC(20)), 1);
    cr_assert_eq(b, 5);
    void *ret;
    pthread_join(th, &ret);
    cr_assert_eq((intptr_t)ret, KCHAN_OK);
    /* A send case on a full shared ring completes once another process makes room. */
    int one = 1;
    cr_assert_eq(kchan_send(sh, &one), KCHAN_OK);
    cr_assert_eq(kchan_send(sh, &one), KCHAN_OK);
    kchan_case snd[1] = { { sh, KCHAN_OP_SEND, &one, 0 } };
    cr_assert_eq(kchan_select(snd, 1, 0), KCHAN_WOULDBLOCK);
    p = t_fork();
    if (p == 0) { int v; _exit(kchan_recv(sh, &v) == KCHAN_OK ? 0 : 1); }
    cr_assert_eq(kchan_select(snd, 1, KCHAN_SEC(20)), 0);
    cr_assert_eq(t_join(p), 0);
    cr_assert_eq(kchan_close(sh), KCHAN_OK);
    cr_assert_eq(kchan_select(cs, 2, KCHAN_SEC(20)), 0, "elements before the close first");
    cr_assert_eq(kchan_select(cs, 2, KCHAN_SEC(20)), 0);
    cr_assert_eq(kchan_select(cs, 2, KCHAN_SEC(20)), 0);
    cr_assert_eq(cs[0].status, KCHAN_CLOSED);
    kchan_destroy(sh);
    kchan_destroy(local);
    munmap(m, size);
}

/* ---- a process that dies mid-op ------------------------------------------------------ */

static int t_die_at;
static void t_die_hook(const kchan_t *c, int point)
{
    (void)c;
    if (point == t_die_at) raise(SIGKILL);
}

/* A child process that sends (or receives) on c and dies at `point` inside the op. */
static void t_child_dies_at(kchan_t *c, int point)
{
    pid_t p = t_fork();
    if (p == 0) {
        uint64_t x = 99;
        t_die_at = point;
        kchan__sh_test_point = t_die_hook;
        if (point == KCHAN__TP_SH_TAKEN) (void)kchan_recv(c, &x);
        else (void)kchan_send(c, &x);
        _exit(1);                      /* not reached */
    }
    cr_assert_eq(t_join(p), 128 + SIGKILL, "the child died inside its op");
}

/* A child dies at `point` inside its op on a ring of `cap`; the survivor's blocked op
   completes after the liveness check and the dead one's claim shows as lost. */
static void t_die_mid_op(int point, size_t cap)
{
    size_t size;
    kchan_t *c;
    void *m = t_ring(sizeof(uint64_t), cap, KCHAN_BLOCK, 0, &c, &size);
    uint64_t v = 0, w = 0;
    if (point == KCHAN__TP_SH_TAKEN)   /* something for the dying receiver to take */
        for (v = 1; v <= cap; v++) cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
    t_child_dies_at(c, point);
    kchan_stats s;
    if (point == KCHAN__TP_SH_TAKEN) {
        /* The ring is full, its oldest cell held by the dead: a send waits, then finds it. */
        v = 1000;
        cr_assert_eq(kchan_send_timeout(c, &v, KCHAN_SEC(5)), KCHAN_OK);
        for (uint64_t i = 2; i <= cap; i++) { cr_assert_eq(kchan_recv(c, &w), KCHAN_OK); cr_assert_eq(w, i); }
        cr_assert_eq(kchan_recv(c, &w), KCHAN_OK);
        cr_assert_eq(w, 1000);
        kchan_stats_get(c, &s);
        cr_assert_eq(s.lost_receiving, 1);
        cr_assert_eq(s.lost_sending, 0);
        cr_assert_eq(s.recvs, cap);    /* 2..cap and 1000; element 1 died with its receiver */
    } else {
        /* The dead sender's cell is first in line: a receive waits, then finds it. */
        cr_assert_eq(kchan_recv_timeout(c, &w, KCHAN_MS(100)), KCHAN_TIMEDOUT, "nothing was sent");
        v = 5;
        cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
        cr_assert_eq(kchan_recv_timeout(c, &w, KCHAN_SEC(5)), KCHAN_OK);
        cr_assert_eq(w, 5, "never the dead one's element");
        kchan_stats_get(c, &s);
        cr_assert_eq(s.lost_sending, 1);
        cr_assert_eq(s.lost_receiving, 0);
        cr_assert_eq(s.sends, 1);
        cr_assert_eq(s.recvs, 1);
    }
    cr_assert_eq(s.len, 0);
    t_conserved(&s);
    kchan_destroy(c);
    munmap(m, size);
}

Test(shared, sender_dies_after_its_claim, .timeout = T_TIMEOUT) { t_die_mid_op(KCHAN__TP_SH_CLAIMED, 4); }
Test(shared, sender_dies_after_its_claim_counted, .timeout = T_TIMEOUT) { t_die_mid_op(KCHAN__TP_SH_COMMITTED, 4); }
Test(shared, receiver_dies_holding_an_element, .timeout = T_TIMEOUT) { t_die_mid_op(KCHAN__TP_SH_TAKEN, 3); }

/* A sender that dies after its claim, before it counted, with the channel then closed:
   its claim never counted; the receivers drain and end. */
Test(shared, uncounted_claim_of_the_dead_after_close, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_t *c;
    void *m = t_ring(sizeof(uint64_t), 4, KCHAN_BLOCK, 0, &c, &size);
    uint64_t v = 1;
    cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
    t_child_dies_at(c, KCHAN__TP_SH_CLAIMED);
    cr_assert_eq(kchan_close(c), KCHAN_OK);
    cr_assert_eq(kchan_recv(c, &v), KCHAN_OK);
    cr_assert_eq(kchan_recv_timeout(c, &v, KCHAN_SEC(5)), KCHAN_CLOSED);
    kchan_stats s;
    kchan_stats_get(c, &s);
    cr_assert(s.sends == 1 && s.recvs == 1 && s.lost_sending == 0 && s.lost_receiving == 0);
    kchan_destroy(c);
    munmap(m, size);
}

/* Ops that never wait long (try, short timeouts, select) still get past a dead claimer:
   any op that finds a claimed cell in its way asks, at most every 20 ms per handle. */
Test(shared, try_and_select_get_past_the_dead, .timeout = T_TIMEOUT)
{
    for (int use_select = 0; use_select < 2; use_select++) {
        size_t size;
        kchan_t *c;
        void *m = t_ring(sizeof(uint64_t), 4, KCHAN_BLOCK, 0, &c, &size);
        t_child_dies_at(c, KCHAN__TP_SH_COMMITTED);
        uint64_t v = 5, w = 0;
        cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
        int r = KCHAN_WOULDBLOCK;
        int64_t until = kchan_now_ns() + KCHAN_SEC(5);
        while (r != KCHAN_OK && kchan_now_ns() < until) {
            if (use_select) {
                kchan_case k[1] = { { c, KCHAN_OP_RECV, &w, 0 } };
                r = kchan_select(k, 1, KCHAN_MS(5)) == 0 ? k[0].status : KCHAN_WOULDBLOCK;
            } else {
                r = kchan_try_recv(c, &w);
                if (r != KCHAN_OK) sched_yield();
            }
        }
        cr_assert_eq(r, KCHAN_OK, "%s never got past the dead sender's cell", use_select ? "select" : "try_recv");
        cr_assert_eq(w, 5);
        kchan_stats s;
        kchan_stats_get(c, &s);
        cr_assert_eq(s.lost_sending, 1);
        kchan_destroy(c);
        munmap(m, size);
    }
}

/* A sender a lap behind a dead sender's claim (one cell) gets past it too. */
Test(shared, sender_gets_past_a_dead_sender_a_lap_back, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_t *c;
    void *m = t_ring(sizeof(uint64_t), 1, KCHAN_BLOCK, 0, &c, &size);
    t_child_dies_at(c, KCHAN__TP_SH_COMMITTED);
    uint64_t v = 7, w = 0;
    cr_assert_eq(kchan_send_timeout(c, &v, KCHAN_SEC(5)), KCHAN_OK);
    cr_assert_eq(kchan_try_recv(c, &w), KCHAN_OK);
    cr_assert_eq(w, 7);
    kchan_stats s;
    kchan_stats_get(c, &s);
    cr_assert(s.lost_sending == 1 && s.sends == 1 && s.recvs == 1);
    kchan_destroy(c);
    munmap(m, size);
}

/* A drop-oldest send whose oldest element is in a stopped receiver's hands keeps to its
   timeout (it waits like a blocked send), and gets past it once that receiver is dead. */
static void t_stop_hook(const kchan_t *c, int point)
{
    (void)c;
    if (point == KCHAN__TP_SH_TAKEN) raise(SIGSTOP);
}

Test(shared, drop_oldest_send_keeps_its_timeout, .timeout = T_TIMEOUT)
{
    size_t size = kchan_shared_region_size(sizeof(uint64_t), 1, 0);
    void *m = t_map(size);
    kchan_shared_opts o = { .elem_size = sizeof(uint64_t), .capacity = 1, .overflow = KCHAN_DROP_OLDEST };
    kchan_t *c;
    cr_assert_eq(kchan_create_shared(&c, m, size, &o), KCHAN_OK);
    uint64_t v = 1, w = 0;
    cr_assert_eq(kchan_send(c, &v), KCHAN_OK);
    pid_t p = t_fork();
    if (p == 0) {
        kchan__sh_test_point = t_stop_hook;
        (void)kchan_recv(c, &w);
        _exit(0);
    }
    int st;
    cr_assert_eq(waitpid(p, &st, WUNTRACED), p);
    cr_assert(WIFSTOPPED(st), "the receiver stops holding element 1");
    v = 2;
    int64_t t0 = kchan_now_ns();
    cr_assert_eq(kchan_try_send(c, &v), KCHAN_WOULDBLOCK, "its oldest is being read");
    cr_assert_eq(kchan_send_timeout(c, &v, KCHAN_MS(30)), KCHAN_TIMEDOUT);
    cr_assert(kchan_now_ns() - t0 < KCHAN_SEC(2), "took %lld ns", (long long)(kchan_now_ns() - t0));
    kill(p, SIGKILL);
    cr_assert_eq(t_join(p), 128 + SIGKILL);
    cr_assert_eq(kchan_send_timeout(c, &v, KCHAN_SEC(5)), KCHAN_OK);
    cr_assert_eq(kchan_recv(c, &w), KCHAN_OK);
    cr_assert_eq(w, 2);
    kchan_stats s;
    kchan_stats_get(c, &s);
    cr_assert_eq(s.lost_receiving, 1);
    t_conserved(&s);
    kchan_destroy(c);
    munmap(m, size);
}

/* A select that waits on a shared case counts no withdrawn registrations and no failed
   tries for it, however long it waits. */
Test(shared, select_counts_nothing_while_it_polls, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_t *c;
    void *m = t_ring(sizeof(int), 2, KCHAN_BLOCK, 0, &c, &size);
    int v;
    kchan_case k[1] = { { c, KCHAN_OP_RECV, &v, 0 } };
    cr_assert_eq(kchan_select(k, 1, KCHAN_MS(50)), KCHAN_TIMEDOUT);
    kchan_stats s;
    kchan_stats_get(c, &s);
    cr_assert_eq(s.cancelled_waiters, 0);
    cr_assert_eq(s.recv_empty, 0);
    kchan_destroy(c);
    munmap(m, size);
}

/* A process whose main thread has exited (pthread_exit) while another thread works shows
   as a zombie in /proc: it is alive, and keeps its peer slot. */
static _Atomic int *t_zflag;
static void *t_zworker(void *arg)
{
    uint64_t v = 1;
    if (kchan_send((kchan_t *)arg, &v) != KCHAN_OK) _exit(1);   /* takes the one slot */
    atomic_store(t_zflag, 1);
    while (atomic_load(t_zflag) != 2) sched_yield();
    _exit(0);
}

Test(shared, a_process_without_its_main_thread_lives, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_t *c;
    void *m = t_ring(sizeof(uint64_t), 4, KCHAN_BLOCK, 1, &c, &size);
    t_zflag = (_Atomic int *)t_map(64);
    pid_t p = t_fork();
    if (p == 0) {
        pthread_t th;
        if (pthread_create(&th, NULL, t_zworker, c) != 0) _exit(2);
        pthread_exit(NULL);
    }
    while (atomic_load(t_zflag) != 1) sched_yield();
    char path[64], st[256] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
    for (int64_t until = kchan_now_ns() + KCHAN_SEC(5); kchan_now_ns() < until; sched_yield()) {
        FILE *f = fopen(path, "r");    /* until the main thread's exit shows: state Z */
        bool z = f && fgets(st, sizeof st, f) && strstr(st, ") Z ");
        if (f) fclose(f);
        if (z) break;
    }
    cr_assert(strstr(st, ") Z ") != NULL, "the leader never showed as a zombie: %s", st);
    uint64_t v = 2;
    cr_assert_eq(kchan_try_send(c, &v), KCHAN_NOMEM, "the slot's process still runs a thread");
    atomic_store(t_zflag, 2);
    cr_assert_eq(t_join(p), 0);
    cr_assert_eq(kchan_try_send(c, &v), KCHAN_OK, "now it has exited");
    kchan_destroy(c);
    munmap(m, size);
}

/* Two peer slots, one held by this process. Processes that exit without kchan_destroy
   leave theirs; one dies with a claim in a cell. The next process takes its slot over,
   and first recovers the claim (seen at once by a try_recv, which never waits for the
   liveness check). With both slots held by live processes, a third cannot take part. */
Test(shared, dead_peers_slots_are_taken_over, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_t *c;
    void *m = t_ring(sizeof(uint64_t), 8, KCHAN_BLOCK, 2, &c, &size);
    uint64_t v = 1;
    cr_assert_eq(kchan_send(c, &v), KCHAN_OK, "this process takes slot 1");
    for (int round = 0; round < 4; round++) {
        pid_t p = t_fork();
        if (p == 0) {
            v = 10 + (uint64_t)round;
            if (round == 1) { t_die_at = KCHAN__TP_SH_COMMITTED; kchan__sh_test_point = t_die_hook; }
            _exit(kchan_send(c, &v) == KCHAN_OK ? 0 : 1);
        }
        cr_assert_eq(t_join(p), round == 1 ? 128 + SIGKILL : 0, "round %d", round);
    }
    uint64_t want[] = { 1, 10, 12, 13 };
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(kchan_try_recv(c, &v), KCHAN_OK, "element %d: the dead claim was recovered at the takeover", i);
        cr_assert_eq(v, want[i]);
    }
    cr_assert_eq(kchan_try_recv(c, &v), KCHAN_WOULDBLOCK);
    kchan_stats s;
    kchan_stats_get(c, &s);
    cr_assert_eq(s.lost_sending, 1);
    cr_assert_eq(s.sends, 4);
    _Atomic int *hold = (_Atomic int *)t_map(64);
    pid_t a = t_fork();
    if (a == 0) {
        if (kchan_send(c, &v) != KCHAN_OK) _exit(1);
        atomic_store(hold, 1);
        while (atomic_load(hold) != 2) sched_yield();
        _exit(0);
    }
    while (atomic_load(hold) != 1) sched_yield();
    pid_t b = t_fork();
    if (b == 0) _exit(kchan_try_send(c, &v) == KCHAN_NOMEM ? 0 : 1);
    cr_assert_eq(t_join(b), 0, "no free peer slot: KCHAN_NOMEM");
    atomic_store(hold, 2);
    cr_assert_eq(t_join(a), 0);
    b = t_fork();
    if (b == 0) _exit(kchan_try_send(c, &v) == KCHAN_OK ? 0 : 1);
    cr_assert_eq(t_join(b), 0, "the dead slot is taken over");
    kchan_destroy(c);
    munmap(m, size);
}

/* Random writes into the live words and cells while ops go on: statuses, never a crash
   or an access outside the region (ASan), never a wait past its timeout. */
Test(shared, hostile_live_words, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_t *c;
    unsigned char *m = t_ring(16, 4, KCHAN_BLOCK, 2, &c, &size);
    srand(11);
    unsigned char e[16] = { 0 };
    for (int round = 0; round < 3000; round++) {
        size_t off = 128 + (size_t)rand() % (size - 128 - 8);
        uint64_t junk = (uint64_t)rand() << 33 ^ (uint64_t)rand() << 7 ^ (uint64_t)rand();
        if (round % 3 == 0) junk &= 0xffff;      /* small numbers, near real positions */
        memcpy(m + (off & ~(size_t)7), &junk, 8);
        int r = round % 2 ? kchan_try_send(c, e) : kchan_recv_timeout(c, e, KCHAN_US(50));
        cr_assert(r <= 0 && r >= KCHAN_MISMATCH, "status %d", r);
        kchan_stats s;
        kchan_stats_get(c, &s);
        (void)kchan_len(c);
        (void)kchan_peek(c, e);
    }
    kchan_destroy(c);
}

/* ---- the kill campaign --------------------------------------------------------------- */

/* In the campaign's children: now and then linger inside an op (after a claim), so that
   a good share of the kills land between a claim and its end. */
static void t_dawdle(const kchan_t *c, int point)
{
    (void)c; (void)point;
    static unsigned x = 1;
    x = x * 1103515245u + 12345u + (unsigned)getpid();
    if ((x >> 16) % 8 == 0) for (int i = 0; i < 20; i++) sched_yield();
}

/* Each round: 2 producers and 2 consumers (processes) on a small ring; SIGKILL to one of
   the four at a random moment. The survivors finish (the parent closes the channel once
   the live producers are done) and then: nothing received twice, nothing received that
   was not sent, every producer's order kept within each consumer, no torn element; every
   element whose send returned KCHAN_OK received, except at most one if a consumer was
   killed (lost in its hands, or received and not yet recorded); lost_receiving <= 1 and
   only for a killed consumer, lost_sending <= 1 and only for a killed producer. */
Test(shared, kill_campaign, .timeout = 600)
{
    const char *env = getenv("SHM_KILLS");
    int rounds = env ? atoi(env) : 150;
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    t_ledger *L = (t_ledger *)t_map(sizeof *L);
    uint64_t kills[2] = { 0, 0 }, lost_s = 0, lost_r = 0, missing = 0;
    for (int round = 0; round < rounds; round++) {
        size_t words = round % 3 == 0 ? 8 : 1, cap = 1 + (size_t)rand() % 6;
        int n = 300;
        size_t size;
        kchan_t *c;
        void *m = t_ring(words * 8, cap, KCHAN_BLOCK, 8, &c, &size);
        t_ledger_clear(L);
        pid_t pid[4];
        for (int i = 0; i < 2; i++)
            if ((pid[2 + i] = t_fork()) == 0) {
                kchan_t *mine = c;
                kchan__sh_test_point = t_dawdle;
                if (round % 2 && kchan_attach(&mine, m, size, NULL, NULL) != KCHAN_OK) _exit(5);
                t_consume(mine, L, words, 2);
                _exit(0);
            }
        for (int p = 0; p < 2; p++)
            if ((pid[p] = t_fork()) == 0) { kchan__sh_test_point = t_dawdle; t_produce(c, L, p, n, words); _exit(0); }
        int victim = rand() % 4;
        uint64_t at = (uint64_t)(rand() % (2 * n));
        int64_t give_up = kchan_now_ns() + KCHAN_SEC(10);
        while (atomic_load(&L->received) < at && kchan_now_ns() < give_up) sched_yield();
        for (int k = rand() % 200; k > 0; k--) __asm__ volatile("" ::: "memory");
        kill(pid[victim], SIGKILL);
        int st[4];
        for (int p = 0; p < 2; p++) st[p] = t_join(pid[p]);
        cr_assert_eq(kchan_close(c), KCHAN_OK);
        for (int i = 2; i < 4; i++) st[i] = t_join(pid[i]);
        for (int i = 0; i < 4; i++)
            cr_assert(st[i] == 0 || (i == victim && st[i] == 128 + SIGKILL),
                      "round %d (seed %u): process %d ended %d, status %d", round, seed, i, st[i], atomic_load(&L->bad_status));
        bool killed = st[victim] == 128 + SIGKILL, consumer = victim >= 2;
        if (killed) kills[consumer]++;
        cr_assert_eq(atomic_load(&L->torn), 0, "round %d (seed %u)", round, seed);
        cr_assert_eq(atomic_load(&L->reordered), 0, "round %d (seed %u)", round, seed);
        cr_assert_eq(atomic_load(&L->unexpected), 0, "round %d (seed %u)", round, seed);
        uint64_t miss = 0;
        for (int p = 0; p < 2; p++) {
            int64_t ok = atomic_load(&L->last_ok[p]);
            for (int i = 0; i < n; i++) {
                uint32_t g = atomic_load(&L->got[p][i]);
                cr_assert(g <= 1, "round %d (seed %u): producer %d element %d received %u times", round, seed, p, i, g);
                cr_assert(g == 0 || i <= ok + 1, "round %d (seed %u): element %d of producer %d never sent", round, seed, i, p);
                if (i <= ok && g == 0) miss++;
            }
        }
        kchan_stats s;
        kchan_stats_get(c, &s);
        cr_assert(miss <= (uint64_t)(killed && consumer), "round %d (seed %u): %lu sent elements missing",
                  round, seed, (unsigned long)miss);
        cr_assert(s.lost_receiving <= (uint64_t)(killed && consumer), "round %d (seed %u)", round, seed);
        cr_assert(s.lost_sending <= (uint64_t)(killed && !consumer), "round %d (seed %u)", round, seed);
        cr_assert_eq(s.len, 0, "round %d (seed %u): drained", round, seed);
        cr_assert_eq(s.sends, s.recvs + s.lost_receiving, "round %d (seed %u)", round, seed);
        lost_s += s.lost_sending;
        lost_r += s.lost_receiving;
        missing += miss;
        kchan_destroy(c);
        munmap(m, size);
    }
    fprintf(stderr, "shared kill campaign: %d rounds (seed %u), %lu producers and %lu consumers killed; "
                    "lost_sending %lu, lost_receiving %lu, sent elements missing %lu\n",
            rounds, seed, (unsigned long)kills[0], (unsigned long)kills[1], (unsigned long)lost_s,
            (unsigned long)lost_r, (unsigned long)missing);
    munmap(L, sizeof *L);
}
