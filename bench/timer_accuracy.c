/* timer_accuracy — how late kchan's timer channels deliver (issue 19).
 *
 *   timer_accuracy [--n N]        (make bench-timers builds and runs it on both engines)
 *
 * Overshoot = the moment the waiting thread has the instant back (kchan_now_ns right after
 * the receive returns) minus the instant the timer delivered (its scheduled instant). Over N
 * (200) after timers of 1 ms and N ticks of a 1 ms tick, each waited for by a blocking
 * kchan_recv and by a kchan_select over the timer and an idle data channel; idle, and loaded
 * (2 threads per core ping-ponging ints over two kchan channels in the background). Prints
 * median, p99 and worst overshoot in microseconds and the CPU time (CLOCK_THREAD_CPUTIME_ID)
 * the waiting thread used per timer (creating and destroying the after timers included).
 * Exits non-zero if a timer delivered early (before its instant, or an after's instant not
 * its scheduled one), a tick left its grid or went backwards, or a count is wrong.
 * Built -O2 once per engine (KCHAN_LOCKFREE for the lock-free one); about 2 s a run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef KCHAN_LOCKFREE
#  define ENGINE "lockfree"
#else
#  define ENGINE "mutex"
#endif

#define MS INT64_C(1000000)

static int failures;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "timer_accuracy (" ENGINE "): " __VA_ARGS__); \
            fputc('\n', stderr);                                          \
            failures++;                                                   \
        }                                                                 \
    } while (0)

static int64_t now(void) { return kchan_now_ns(); }

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- the background load: pairs of threads ping-ponging over two channels ---------------- */

typedef struct { kchan_t *ping, *pong; int first; } pp_arg;

static void *pp_main(void *p)
{
    pp_arg *a = p;
    int v = 0;
    if (a->first && kchan_send(a->ping, &v) != KCHAN_OK) return NULL;
    for (;;) {
        if (kchan_recv(a->first ? a->pong : a->ping, &v) != KCHAN_OK) return NULL;
        v++;
        if (kchan_send(a->first ? a->ping : a->pong, &v) != KCHAN_OK) return NULL;
    }
}

typedef struct {
    int pairs;
    kchan_t *ch[64][2];
    pp_arg args[64][2];
    pthread_t th[64][2];
} load;

static void load_start(load *l, int threads)
{
    l->pairs = threads / 2 < 1 ? 1 : threads / 2 > 64 ? 64 : threads / 2;
    for (int i = 0; i < l->pairs; i++) {
        l->ch[i][0] = kchan_new(sizeof(int), 1);
        l->ch[i][1] = kchan_new(sizeof(int), 1);
        if (!l->ch[i][0] || !l->ch[i][1]) { fprintf(stderr, "timer_accuracy: no memory\n"); exit(2); }
        for (int k = 0; k < 2; k++) {
            l->args[i][k] = (pp_arg){ l->ch[i][0], l->ch[i][1], k == 0 };
            if (pthread_create(&l->th[i][k], NULL, pp_main, &l->args[i][k]) != 0) {
                fprintf(stderr, "timer_accuracy: pthread_create failed\n");
                exit(2);
            }
        }
    }
}

static void load_stop(load *l)
{
    for (int i = 0; i < l->pairs; i++) { (void)kchan_close(l->ch[i][0]); (void)kchan_close(l->ch[i][1]); }
    for (int i = 0; i < l->pairs; i++) {
        pthread_join(l->th[i][0], NULL);
        pthread_join(l->th[i][1], NULL);
        kchan_destroy(l->ch[i][0]);
        kchan_destroy(l->ch[i][1]);
    }
}

/* ---- one measurement ------------------------------------------------------------------------- */

enum { KIND_AFTER, KIND_TICK };
enum { WAIT_RECV, WAIT_SELECT };

/* Waits for one instant on t: by kchan_recv or by a select over t and the idle data channel. */
static int wait_one(kchan_t *t, kchan_t *idle, int how, int64_t *v)
{
    if (how == WAIT_RECV) return kchan_recv(t, v);
    int x = 0;
    kchan_case cs[2] = { { idle, KCHAN_OP_RECV, &x, 0 }, { t, KCHAN_OP_RECV, v, 0 } };
    int r = kchan_select(cs, 2, KCHAN_FOREVER);
    if (r == 1) return cs[1].status;
    return r < 0 ? r : KCHAN_INVAL;    /* the idle channel never delivers */
}

static void run(int kind, int how, const char *loadname, int n, kchan_t *idle)
{
    const int64_t period = 1 * MS;
    int64_t *over = malloc((size_t)n * sizeof *over);
    if (!over) { fprintf(stderr, "timer_accuracy: no memory\n"); exit(2); }
    const char *kname = kind == KIND_AFTER ? "after 1ms" : "tick 1ms";
    const char *hname = how == WAIT_RECV ? "recv" : "select";
    int early = 0, got = 0;
    int64_t cpu0 = thread_cpu_ns();
    kchan_t *tick = NULL;
    int64_t prev = -1, first = -1;
    if (kind == KIND_TICK) {
        tick = kchan_tick(period);
        CHECK(tick != NULL, "kchan_tick failed");
        if (!tick) { free(over); return; }
    }
    for (int i = 0; i < n; i++) {
        int64_t v = -1, before = 0, after = 0;
        kchan_t *t = tick;
        if (kind == KIND_AFTER) {
            before = now();
            t = kchan_after(period);
            after = now();
            CHECK(t != NULL, "kchan_after failed");
            if (!t) break;
        }
        int r = wait_one(t, idle, how, &v);
        int64_t back = now();
        CHECK(r == KCHAN_OK, "%s/%s/%s: timer %d: status %d", kname, hname, loadname, i, r);
        if (r != KCHAN_OK) { if (kind == KIND_AFTER) kchan_destroy(t); break; }
        got++;
        over[i] = back - v;
        if (back < v) early++;
        if (kind == KIND_AFTER) {
            CHECK(v >= before + period && v <= after + period,
                  "%s/%s/%s: timer %d: instant %" PRId64 " is not the scheduled one [%" PRId64 ", %" PRId64 "]",
                  kname, hname, loadname, i, v, before + period, after + period);
            int64_t w;
            CHECK(kchan_try_recv(t, &w) == KCHAN_WOULDBLOCK, "%s/%s/%s: timer %d delivered twice",
                  kname, hname, loadname, i);
            kchan_destroy(t);
        } else {
            if (i == 0) first = v;
            CHECK(v > prev, "%s/%s/%s: tick %d went backwards", kname, hname, loadname, i);
            CHECK((v - first) % period == 0, "%s/%s/%s: tick %d off the grid", kname, hname, loadname, i);
            prev = v;
        }
    }
    int64_t cpu = thread_cpu_ns() - cpu0;
    if (tick) {
        kchan_stats s;
        (void)kchan_close(tick);
        kchan_stats_get(tick, &s);
        CHECK(s.recvs == (uint64_t)got, "%s/%s/%s: recvs %" PRIu64 " != %d", kname, hname, loadname, s.recvs, got);
        CHECK(s.sends == s.recvs + s.drops_oldest + s.undelivered + s.len,
              "%s/%s/%s: conservation broken", kname, hname, loadname);
        kchan_destroy(tick);
    }
    CHECK(got == n, "%s/%s/%s: %d of %d timers", kname, hname, loadname, got, n);
    CHECK(early == 0, "%s/%s/%s: %d timers delivered early", kname, hname, loadname, early);
    if (got > 0) {
        qsort(over, (size_t)got, sizeof *over, cmp_i64);
        printf("%-8s %-9s %-6s %-6s  median %7.1f us  p99 %8.1f us  worst %8.1f us  cpu/timer %6.1f us\n",
               ENGINE, kname, hname, loadname, (double)over[got / 2] / 1e3,
               (double)over[(size_t)got * 99 / 100] / 1e3, (double)over[got - 1] / 1e3,
               (double)cpu / 1e3 / got);
    }
    free(over);
}

int main(int argc, char **argv)
{
    int n = 200;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) n = atoi(argv[++i]);
        else { fprintf(stderr, "usage: %s [--n N]\n", argv[0]); return 2; }
    }
    if (n < 1 || n > 1000000) { fprintf(stderr, "timer_accuracy: --n out of range\n"); return 2; }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    kchan_t *idle = kchan_new(sizeof(int), 4);
    if (!idle) { fprintf(stderr, "timer_accuracy: no memory\n"); return 2; }
    printf("timer_accuracy: %d timers per row, overshoot = return of the wait - the instant; "
           "loaded = %ld ping-pong threads\n", n, 2 * cores);
    for (int loaded = 0; loaded < 2; loaded++) {
        load l;
        if (loaded) load_start(&l, (int)(2 * cores));
        const char *ln = loaded ? "loaded" : "idle";
        for (int kind = KIND_AFTER; kind <= KIND_TICK; kind++)
            for (int how = WAIT_RECV; how <= WAIT_SELECT; how++) run(kind, how, ln, n, idle);
        if (loaded) load_stop(&l);
    }
    kchan_stats s;
    kchan_stats_get(idle, &s);
    CHECK(s.recvs == 0 && s.waiting_receivers == 0, "the idle channel was touched");
    kchan_destroy(idle);
    if (failures) { fprintf(stderr, "timer_accuracy (" ENGINE "): %d check(s) failed\n", failures); return 1; }
    return 0;
}
