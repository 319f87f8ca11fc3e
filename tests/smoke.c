/* smoke.c — a framework-free smoke suite: every public function, select and close, in
 * one file that builds with nothing but a C11 compiler. It is what runs where Criterion
 * cannot: Windows (mingw + wine), -m32, and KCHAN_PLATFORM_NONE (single-threaded: the
 * threaded part is left out and waits must say KCHAN_WOULDBLOCK).
 * Ends with the line "smoke: N passed, M failed"; exits non-zero on any failure. */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"

#include <stdio.h>
#include <string.h>

#if !defined(KCHAN_PLATFORM_NONE)
#  if defined(_WIN32)
#    include <windows.h>
typedef HANDLE smoke_thread;
typedef struct { void *(*fn)(void *); void *arg; } smoke_start;
static DWORD WINAPI smoke_trampoline(LPVOID p)
{
    smoke_start *s = (smoke_start *)p;
    s->fn(s->arg);
    return 0;
}
static smoke_thread smoke_spawn(smoke_start *s) { return CreateThread(NULL, 0, smoke_trampoline, s, 0, NULL); }
static void smoke_join(smoke_thread t) { WaitForSingleObject(t, INFINITE); CloseHandle(t); }
#  else
#    include <pthread.h>
#    include <time.h>
typedef pthread_t smoke_thread;
typedef struct { void *(*fn)(void *); void *arg; } smoke_start;
static smoke_thread smoke_spawn(smoke_start *s) { pthread_t t; pthread_create(&t, NULL, s->fn, s->arg); return t; }
static void smoke_join(smoke_thread t) { pthread_join(t, NULL); }
#  endif
#endif

#if defined(KCHAN_PLATFORM_NONE)
#  define SMOKE_CAN_WAIT 0
#else
#  define SMOKE_CAN_WAIT 1
#endif

static int passed, failed;
#define CHECK(x) do { if (x) passed++; else { failed++; fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #x); } } while (0)

KCHAN_DEFINE(intch, int);

static int undelivered_calls;
static void count_undelivered(void *elem, void *user) { (void)elem; (void)user; undelivered_calls++; }

static void single_threaded(void)
{
    /* status strings, creation, kinds */
    CHECK(strcmp(kchan_strerror(KCHAN_OK), kchan_strerror(KCHAN_CLOSED)) != 0);
    CHECK(kchan_strerror(12345) != NULL);
    kchan_t *b = kchan_new(sizeof(int), 4);
    CHECK(b != NULL && kchan_cap(b) == 4);
    kchan_opts o;
    memset(&o, 0, sizeof o);
    o.capacity = 2;
    o.overflow = KCHAN_DROP_OLDEST;
    o.on_undelivered = count_undelivered;
    o.name = "smoke q";
    kchan_t *d;
    CHECK(kchan_create(&d, sizeof(int), &o) == KCHAN_OK);
    CHECK(kchan_create(NULL, sizeof(int), &o) == KCHAN_INVAL);

    /* send/recv family */
    int v = 1, out = 0;
    CHECK(kchan_send(b, &v) == KCHAN_OK);
    CHECK(kchan_try_send(b, &v) == KCHAN_OK);
    CHECK(kchan_send_timeout(b, &v, 1000) == KCHAN_OK);
    CHECK(kchan_len(b) == 3);
    CHECK(kchan_peek(b, &out) == KCHAN_OK && out == 1 && kchan_len(b) == 3);
    CHECK(kchan_recv(b, &out) == KCHAN_OK);
    CHECK(kchan_try_recv(b, &out) == KCHAN_OK);
    CHECK(kchan_recv_timeout(b, &out, 1000) == KCHAN_OK);
    CHECK(kchan_try_recv(b, &out) == KCHAN_WOULDBLOCK);
    CHECK(kchan_recv_timeout(b, &out, 1000000) == (SMOKE_CAN_WAIT ? KCHAN_TIMEDOUT : KCHAN_WOULDBLOCK));
    int many[4] = { 10, 11, 12, 13 }, got_many[8];
    size_t sent = 0, got = 0;
    CHECK(kchan_send_many(b, many, 4, &sent, 0) == KCHAN_OK && sent == 4);
    CHECK(kchan_send_many(b, many, 1, &sent, 0) == KCHAN_WOULDBLOCK && sent == 0);
    CHECK(kchan_recv_many(b, got_many, 8, &got, 0) == KCHAN_OK && got == 4 && got_many[3] == 13);

    /* policies: drop-oldest evicts and reports */
    for (int i = 0; i < 5; i++) CHECK(kchan_try_send(d, &i) == KCHAN_OK);
    CHECK(undelivered_calls == 3);
    CHECK(kchan_recv(d, &out) == KCHAN_OK && out == 3);

    /* stats, dump */
    kchan_stats s;
    kchan_stats_get(d, &s);
    CHECK(s.version == KCHAN_STATS_VERSION && s.sends == 5 && s.drops_oldest == 3 && s.recvs == 1);
    char line[512];
    int n = kchan_dump(d, line, sizeof line);
    CHECK(n > 0 && strstr(line, "chan=smoke_q kind=bounded policy=drop_oldest cap=2") == line);

    /* select: biased picks the first ready case, a try select with nothing ready says so */
    int x = 7, y = 0;
    kchan_case cs[2] = { { b, KCHAN_OP_SEND, &x, 0 }, { d, KCHAN_OP_RECV, &y, 0 } };
    CHECK(kchan_select_biased(cs, 2, 0) == 0 && cs[0].status == KCHAN_OK);
    CHECK(kchan_select(cs + 1, 1, 0) == 0 && y == 4);
    CHECK(kchan_select(cs + 1, 1, 0) == KCHAN_WOULDBLOCK);
    CHECK(KCHAN_SELECT(0, intch_recv_case((intch *)b, &y)) == 0 && y == 7);

    /* close, close_with, reason, cancel */
    CHECK(kchan_close_with(d, 42) == KCHAN_OK);
    CHECK(kchan_close(d) == KCHAN_CLOSED && kchan_close_reason(d) == 42 && kchan_is_closed(d));
    CHECK(kchan_send(d, &v) == KCHAN_CLOSED);
    CHECK(kchan_select(cs + 1, 1, 0) == 0 && cs[1].status == KCHAN_CLOSED);
    CHECK(kchan_try_send(b, &v) == KCHAN_OK && kchan_cancel(b) == KCHAN_OK && kchan_len(b) == 0);
    CHECK(kchan_recv(b, &out) == KCHAN_CLOSED);
    kchan_destroy(b);
    kchan_destroy(d);

    /* caller memory, conflated, typed */
    static unsigned char mem[KCHAN_FOOTPRINT(sizeof(int), 8) + 1];
    kchan_t *m;
    o.capacity = 8;
    o.overflow = KCHAN_BLOCK;
    o.on_undelivered = NULL;
    CHECK(kchan_create_in(&m, mem + 1, sizeof mem - 1, sizeof(int), &o) == KCHAN_OK);
    CHECK(kchan_send(m, &v) == KCHAN_OK && kchan_len(m) == 1);
    kchan_destroy(m);
    intch *t = intch_new(KCHAN_CONFLATED);
    CHECK(t && intch_send(t, 1) == KCHAN_OK && intch_send(t, 2) == KCHAN_OK && intch_cap(t) == 1);
    CHECK(intch_recv(t, &out) == KCHAN_OK && out == 2);
    intch_close(t);
    intch_destroy(t);
#ifndef KCHAN_NO_UNLIMITED
    kchan_t *u = kchan_new(sizeof(int), KCHAN_UNLIMITED);
    for (int i = 0; i < 1000; i++) CHECK(kchan_try_send(u, &i) == KCHAN_OK);
    CHECK(kchan_len(u) == 1000 && kchan_cap(u) == KCHAN_UNLIMITED);
    kchan_destroy(u);
#endif

    /* counter */
    kchan_counter k = KCHAN_COUNTER_INIT(0);
    kchan_counter_init(&k, 5);
    CHECK(kchan_counter_add(&k, 2) == 7 && kchan_counter_load(&k) == 7);
    kchan_counter_store(&k, 1);
    CHECK(kchan_counter_wait_ge(&k, 1, 0) == KCHAN_OK && kchan_counter_wait_ge(&k, 2, 0) == KCHAN_WOULDBLOCK);
    CHECK(kchan_now_ns() >= 0);
}

/* Impossible sizes and footprints on this target's size_t (-m32 too): KCHAN_INVAL at create
   and a saturated footprint, never a wrap (issue 14). The rule is in kchan.h's LIMITS. */
_Static_assert(KCHAN_FOOTPRINT(SIZE_MAX, 2) == SIZE_MAX, "KCHAN_FOOTPRINT(SIZE_MAX, 2) wrapped");
_Static_assert(KCHAN_FOOTPRINT(8, SIZE_MAX / 4) == SIZE_MAX, "KCHAN_FOOTPRINT(8, SIZE_MAX / 4) wrapped");
_Static_assert(KCHAN_FOOTPRINT(0, SIZE_MAX / 16 - 63) >= KCHAN_FOOTPRINT(0, 1), "KCHAN_FOOTPRINT(0, big) wrapped");

static void sizes(void)
{
    const size_t room = SIZE_MAX / 4, extra = 2 * sizeof(size_t);
    const size_t absurd[] = { SIZE_MAX, SIZE_MAX - 7, SIZE_MAX / 31 + 1, SIZE_MAX / 2, room / 32 - extra + 1 };
    const size_t caps[] = { KCHAN_UNLIMITED, KCHAN_RENDEZVOUS, 1, KCHAN_CONFLATED };
    static unsigned char mem[1024];
    for (size_t i = 0; i < sizeof absurd / sizeof absurd[0]; i++) {
        for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
            kchan_opts o;
            memset(&o, 0, sizeof o);
            o.capacity = caps[k];
            kchan_t *c = (kchan_t *)(void *)mem;
            if (caps[k] != KCHAN_UNLIMITED && absurd[i] <= room - extra) continue;   /* possible */
            CHECK(kchan_create(&c, absurd[i], &o) == KCHAN_INVAL && c == NULL);
            CHECK(kchan_create_in(&c, mem, sizeof mem, absurd[i], &o) == KCHAN_INVAL);
        }
    }
    /* the largest unlimited element is possible (allocation may still fail on a small target) */
    kchan_t *c = NULL;
    kchan_opts u;
    memset(&u, 0, sizeof u);
    u.capacity = KCHAN_UNLIMITED;
    int r = kchan_create(&c, room / 32 - extra, &u);
#ifdef KCHAN_NO_UNLIMITED
    CHECK(r == KCHAN_INVAL);
#else
    CHECK(r == KCHAN_OK || r == KCHAN_NOMEM);
#endif
    kchan_destroy(c);
    /* bounded: capacity * elem_size too large */
    u.capacity = room / (8 + extra);
    CHECK(kchan_create(&c, 8, &u) == KCHAN_INVAL);
    u.capacity = SIZE_MAX / 2;
    CHECK(kchan_create(&c, 8, &u) == KCHAN_INVAL);
    volatile size_t big = SIZE_MAX / 8;
    CHECK(KCHAN_FOOTPRINT(big, 9) == SIZE_MAX && KCHAN_FOOTPRINT(SIZE_MAX - 7, big) == SIZE_MAX);
    CHECK(KCHAN_FOOTPRINT(8, 16) >= 16 * 8 && KCHAN_FOOTPRINT(8, 16) < 4096);
}

#if !defined(KCHAN_PLATFORM_NONE)
/* A finite timeout far beyond what time_t holds on this target (a 32-bit time_t ends in
   2038) still parks: the thread uses almost no CPU until a partner comes. */
static kchan_t *far_chan;
static int far_rc = 1;
static int64_t far_value;
static void *far_receiver(void *arg)
{
    (void)arg;
    far_rc = kchan_recv_timeout(far_chan, &far_value, (int64_t)8000000000000000000);
    return NULL;
}
#  if !defined(_WIN32)
static int64_t smoke_cpu_ns(smoke_thread t)
{
    clockid_t id;
    struct timespec ts;
    if (pthread_getcpuclockid(t, &id) != 0 || clock_gettime(id, &ts) != 0) return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
#  endif
static void far_timeout(void)
{
    far_chan = kchan_new(sizeof(int64_t), 4);
    smoke_start s = { far_receiver, NULL };
    smoke_thread t = smoke_spawn(&s);
    kchan_stats st;
    do { kchan_stats_get(far_chan, &st); } while (st.waiting_receivers == 0);   /* parked */
#  if !defined(_WIN32)
    int64_t cpu0 = smoke_cpu_ns(t), wall0 = kchan_now_ns();
    /* The sleeps below are only a measurement window, never an ordering proof: the loop
       above already saw the receiver registered as a waiter. */
    while (kchan_now_ns() - wall0 < 200000000) {          /* a 0.2 s measurement window */
        struct timespec w = { 0, 20000000 };
        nanosleep(&w, NULL);
    }
    int64_t used = smoke_cpu_ns(t) - cpu0;
    if (used >= 50000000) fprintf(stderr, "far timeout: %.3f s of CPU in 0.2 s parked\n", (double)used / 1e9);
    CHECK(cpu0 >= 0 && used < 50000000);
#  endif
    int64_t v = 77;
    CHECK(kchan_send(far_chan, &v) == KCHAN_OK);
    smoke_join(t);
    CHECK(far_rc == KCHAN_OK && far_value == 77);
    kchan_destroy(far_chan);
}

enum { N = 20000 };
static void *producer(void *arg)
{
    intch *c = (intch *)arg;
    for (int i = 1; i <= N; i++) if (intch_send(c, i) != KCHAN_OK) break;
    intch_close(c);
    return NULL;
}
static kchan_counter progress = KCHAN_COUNTER_INIT(0);
static void *bumper(void *arg) { (void)arg; kchan_counter_add(&progress, 1); return NULL; }
static void *closer(void *arg)
{
    kchan_t *c = (kchan_t *)arg;
    kchan_stats s;
    do kchan_stats_get(c, &s); while (s.waiting_receivers == 0);   /* the select is parked */
    kchan_close(c);
    return NULL;
}

static void threaded(void)
{
    /* a producer and FOREACH across threads, over rendezvous and bounded channels */
    size_t caps[2] = { 0, 16 };
    for (int k = 0; k < 2; k++) {
        intch *c = intch_new(caps[k]);
        smoke_start st = { producer, c };
        smoke_thread t = smoke_spawn(&st);
        long long sum = 0, count = 0;
        KCHAN_FOREACH(intch, v, c) { sum += v; count++; }
        smoke_join(t);
        CHECK(count == N && sum == (long long)N * (N + 1) / 2);
        intch_destroy(c);
    }
    /* a blocked select is woken by close */
    kchan_t *c = kchan_new(sizeof(int), 1);
    int out;
    kchan_case cs[1] = { { c, KCHAN_OP_RECV, &out, 0 } };
    smoke_start st = { closer, c };
    smoke_thread t = smoke_spawn(&st);
    CHECK(kchan_select(cs, 1, KCHAN_FOREVER) == 0 && cs[0].status == KCHAN_CLOSED);
    smoke_join(t);
    kchan_destroy(c);
    /* a timed wait expires no earlier than asked */
    kchan_t *e = kchan_new(sizeof(int), 1);
    int64_t t0 = kchan_now_ns();
    CHECK(kchan_recv_timeout(e, &out, 20000000) == KCHAN_TIMEDOUT && kchan_now_ns() - t0 >= 20000000);
    kchan_destroy(e);
    /* counter wait woken by another thread */
    smoke_start bs = { bumper, NULL };
    smoke_thread b = smoke_spawn(&bs);
    CHECK(kchan_counter_wait_ge(&progress, 1, KCHAN_FOREVER) == KCHAN_OK);
    smoke_join(b);
}
#endif

int main(void)
{
    single_threaded();
    sizes();
#if !defined(KCHAN_PLATFORM_NONE)
    threaded();
    far_timeout();
#endif
    printf("smoke: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
