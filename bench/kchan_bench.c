/* kchan_bench — the W1–W13 workloads of WORKLOADS.md, for every engine, in one process.
 *
 *   kchan_bench [--quick] [--json] [--reps N] [--only W1,W5,...] [--engines mutex,limit,...]
 *
 * Runs are interleaved (repetition r runs every workload on every engine before r+1
 * starts), so a noisy neighbour hurts all engines alike; each cell reports the median of
 * the repetitions with min–max, CPU seconds (user+sys, getrusage) per million messages so
 * that spinning cannot pass for speed, and context switches (getrusage RUSAGE_SELF:
 * ru_nvcsw + ru_nivcsw, every thread of the process) per million messages, so that
 * yielding and sleeping in a loop show. Every run checks the count and the sum of what was
 * received: a mismatch aborts the whole benchmark with a message.
 *
 * Engines: kchan's (mutex, lockfree), the hand-written mutex+condvar ring (naive) and the
 * "limit": a raw Vyukov ring that spins and yields but never blocks (limit_ring.h), run
 * only where it can be (bounded, capacity a power of two >= 2, not ping-pong or batch; see
 * engine_runs). --quick divides every message count by 100 (make bench-quick).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench.h"
#include "limit_ring.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const bench_engine *engines[] = {
    &bench_engine_mutex,
#ifdef BENCH_HAVE_LOCKFREE
    &bench_engine_lockfree,
#endif
    &bench_engine_naive,
    &bench_engine_limit,
};
enum { N_ENGINES = sizeof engines / sizeof engines[0], MAX_REPS = 15, MAX_THREADS = 40 };

typedef struct {
    const char *id, *name;
    int kind;                 /* how the workload runs: see run_workload */
    size_t cap, producers, consumers;
    uint64_t messages;        /* messages, or round trips for ping-pongs */
} workload;

/* PIPELINE: the producer is stage 1, the consumers are stages 2..n, each forwarding on the
   next channel (capacity cap each) and the last one only receiving; every stage counts.
   POOL: the producer dispatches jobs on ch[0] to the consumers (workers), which send each
   job + 1 on ch[1] to one more thread, the collector. */
enum { STREAM, PINGPONG, SELECT4, BATCH, PIPELINE, POOL };

static const workload workloads[] = {
    { "W1",  "spsc_bounded",        STREAM,   1024,            1,  1,  10000000 },
    { "W2",  "mpmc_bounded",        STREAM,   1024,            4,  4,  10000000 },
    { "W3",  "spsc_unbounded",      STREAM,   BENCH_UNLIMITED, 1,  1,  10000000 },
    { "W4",  "mpsc_unbounded",      STREAM,   BENCH_UNLIMITED, 4,  1,  10000000 },
    { "W5",  "pingpong_rendezvous", PINGPONG, 0,               1,  1,  1000000 },
    { "W6",  "pingpong_cap1",       PINGPONG, 1,               1,  1,  1000000 },
    { "W7",  "select4",             SELECT4,  1024,            4,  1,  4000000 },
    { "W8",  "handoff_cap1",        STREAM,   1,               1,  1,  2000000 },
    { "W9",  "mpmc_oversub",        STREAM,   64,              16, 16, 4000000 },
    { "W10", "batch_spsc",          BATCH,    1024,            1,  1,  10000000 },
    { "W11", "small_ring_oversub",  STREAM,   4,               4,  4,  4000000 },
    { "W12", "pipeline4",           PIPELINE, 16,              1,  3,  2000000 },
    { "W13", "worker_pool",         POOL,     8,               1,  6,  2000000 },
};
enum { N_WORKLOADS = sizeof workloads / sizeof workloads[0] };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds (user + system) and context switches (voluntary + involuntary) of the whole
   process so far: Linux folds in the threads that have exited. */
static void usage_now(double *cpu, long long *csw)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
    *csw = (long long)ru.ru_nvcsw + (long long)ru.ru_nivcsw;
}

/* Whether name is one of the comma-separated list. */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

static const char *engine_list;       /* --engines: NULL = all */

/* Whether an engine runs a workload: the ones --engines names, and the limit ring only
   where it can (limit_ring.h says why not the others: rendezvous, capacity 1, unlimited,
   batches). */
static int engine_runs(const bench_engine *e, const workload *w)
{
    if (engine_list && !in_list(engine_list, e->name)) return 0;
    if (e != &bench_engine_limit) return 1;
    return w->kind != BATCH && w->kind != PINGPONG && limit_capacity_ok(w->cap);
}

/* ---- one run ------------------------------------------------------------------------ */

typedef struct run run;
typedef struct {
    run *r;
    size_t id;
    uint64_t count, sum;      /* what a consumer received */
    int failed;
} worker;

struct run {
    const bench_engine *e;
    const workload *w;
    bench_chan *ch[4];        /* stream/batch: ch[0]; ping-pong: ch[0] out, ch[1] back; select: 4;
                                 pipeline: ch[k] into stage k+2; pool: ch[0] jobs, ch[1] results */
    uint64_t per_producer;
    atomic_size_t producers_left;
    atomic_size_t workers_left;   /* pool: the last worker to finish closes the results */
    pthread_barrier_t start;
    worker workers[MAX_THREADS];
};

static void producer_done(run *r, bench_chan *c)
{
    /* the last producer closes: consumers drain and stop */
    if (atomic_fetch_sub_explicit(&r->producers_left, 1, memory_order_acq_rel) == 1) r->e->close(c);
}

static void *stream_producer(void *arg)
{
    worker *wk = arg;
    run *r = wk->r;
    uint64_t base = wk->id * r->per_producer;
    pthread_barrier_wait(&r->start);
    for (uint64_t i = 1; i <= r->per_producer; i++)
        if (r->e->send(r->ch[0], base + i)) { wk->failed = 1; break; }
    producer_done(r, r->ch[0]);
    return NULL;
}

static void *stream_consumer(void *arg)
{
    worker *wk = arg;
    run *r = wk->r;
    uint64_t v;
    pthread_barrier_wait(&r->start);
    while (r->e->recv(r->ch[0], &v) == 0) { wk->count++; wk->sum += v; }
    return NULL;
}

enum { BATCH_N = 64 };
static void *batch_producer(void *arg)
{
    worker *wk = arg;
    run *r = wk->r;
    uint64_t buf[BATCH_N], base = wk->id * r->per_producer, i = 1;
    pthread_barrier_wait(&r->start);
    while (i <= r->per_producer) {
        size_t n = 0;
        while (n < BATCH_N && i <= r->per_producer) buf[n++] = base + i++;
        if (r->e->send_many(r->ch[0], buf, n)) { wk->failed = 1; break; }
    }
    producer_done(r, r->ch[0]);
    return NULL;
}

static void *batch_consumer(void *arg)
{
    worker *wk = arg;
    run *r = wk->r;
    uint64_t buf[BATCH_N];
    size_t got;
    pthread_barrier_wait(&r->start);
    while ((got = r->e->recv_many(r->ch[0], buf, BATCH_N)) > 0)
        for (size_t k = 0; k < got; k++) { wk->count++; wk->sum += buf[k]; }
    return NULL;
}

static void *ping(void *arg)   /* sends 1..n on ch[0], expects each back +1 on ch[1] */
{
    worker *wk = arg;
    run *r = wk->r;
    uint64_t v;
    pthread_barrier_wait(&r->start);
    for (uint64_t i = 1; i <= r->w->messages; i++) {
        if (r->e->send(r->ch[0], i) || r->e->recv(r->ch[1], &v) || v != i + 1) { wk->failed = 1; break; }
        wk->count++;
        wk->sum += v;
    }
    r->e->close(r->ch[0]);
    return NULL;
}

static void *pong(void *arg)
{
    worker *wk = arg;
    run *r = wk->r;
    uint64_t v;
    pthread_barrier_wait(&r->start);
    while (r->e->recv(r->ch[0], &v) == 0)
        if (r->e->send(r->ch[1], v + 1)) { wk->failed = 1; break; }
    return NULL;
}

static void *select_producer(void *arg)
{
    worker *wk = arg;
    run *r = wk->r;
    bench_chan *c = r->ch[wk->id];
    uint64_t base = wk->id * r->per_producer;
    pthread_barrier_wait(&r->start);
    for (uint64_t i = 1; i <= r->per_producer; i++)
        if (r->e->send(c, base + i)) { wk->failed = 1; break; }
    r->e->close(c);
    return NULL;
}

static void *select_consumer(void *arg)
{
    worker *wk = arg;
    run *r = wk->r;
    bench_chan *chans[4] = { r->ch[0], r->ch[1], r->ch[2], r->ch[3] };
    uint64_t v;
    pthread_barrier_wait(&r->start);
    while (r->e->select_recv(chans, 4, &v) >= 0) { wk->count++; wk->sum += v; }
    return NULL;
}

static void *pipeline_stage(void *arg)   /* consumer id k: ch[k] in, ch[k+1] out unless last */
{
    worker *wk = arg;
    run *r = wk->r;
    bench_chan *in = r->ch[wk->id], *out = wk->id + 1 < r->w->consumers ? r->ch[wk->id + 1] : NULL;
    uint64_t v;
    pthread_barrier_wait(&r->start);
    while (r->e->recv(in, &v) == 0) {
        wk->count++;
        wk->sum += v;
        if (out && r->e->send(out, v)) { wk->failed = 1; break; }
    }
    if (out) r->e->close(out);           /* upstream closed and drained: pass the close on */
    return NULL;
}

static void *pool_worker(void *arg)      /* jobs in, job + 1 out */
{
    worker *wk = arg;
    run *r = wk->r;
    uint64_t v;
    pthread_barrier_wait(&r->start);
    while (r->e->recv(r->ch[0], &v) == 0) {
        wk->count++;
        wk->sum += v;
        if (r->e->send(r->ch[1], v + 1)) { wk->failed = 1; break; }
    }
    /* acq_rel: every worker's last send happens before the last one closes the results */
    if (atomic_fetch_sub_explicit(&r->workers_left, 1, memory_order_acq_rel) == 1) r->e->close(r->ch[1]);
    return NULL;
}

static void *pool_collector(void *arg)
{
    worker *wk = arg;
    run *r = wk->r;
    uint64_t v;
    pthread_barrier_wait(&r->start);
    while (r->e->recv(r->ch[1], &v) == 0) { wk->count++; wk->sum += v; }
    return NULL;
}

typedef struct { size_t from, to; uint64_t count, sum; } check_group;   /* workers [from, to) */
typedef struct { double seconds, cpu; long long csw, allocs; } result;  /* allocs: during the ops */

static result run_workload(const bench_engine *e, const workload *w, uint64_t messages)
{
    static run r;             /* large; one run at a time */
    pthread_t th[MAX_THREADS];
    size_t nthreads = 0, nch = w->kind == SELECT4 ? 4 : w->kind == PINGPONG || w->kind == POOL ? 2
                             : w->kind == PIPELINE ? w->consumers : 1;
    size_t nworkers = w->producers + w->consumers + (w->kind == POOL);   /* + the collector */
    void *(*prod)(void *) = stream_producer, *(*cons)(void *) = stream_consumer;

    memset(&r, 0, sizeof r);
    r.e = e;
    r.w = w;
    workload wl = *w;
    wl.messages = messages;
    r.w = &wl;
    r.per_producer = messages / w->producers;
    atomic_store(&r.producers_left, w->producers);
    atomic_store(&r.workers_left, w->consumers);
    for (size_t i = 0; i < nch; i++)
        if (!(r.ch[i] = e->create(w->cap))) { fprintf(stderr, "bench: create failed\n"); exit(2); }
    if (w->kind == BATCH) { prod = batch_producer; cons = batch_consumer; }
    if (w->kind == PINGPONG) { prod = ping; cons = pong; }
    if (w->kind == SELECT4) { prod = select_producer; cons = select_consumer; }
    if (w->kind == PIPELINE) cons = pipeline_stage;
    if (w->kind == POOL) cons = pool_worker;
    pthread_barrier_init(&r.start, NULL, (unsigned)(nworkers + 1));
    for (size_t i = 0; i < nworkers; i++) {
        worker *wk = &r.workers[i];
        wk->r = &r;
        wk->id = i < w->producers ? i : i - w->producers;
        pthread_create(&th[nthreads++], NULL, i < w->producers ? prod : i < w->producers + w->consumers ? cons
                                                                        : pool_collector, wk);
    }
    long long a0 = e->alloc_calls ? e->alloc_calls() : 0, s0, s1;
    double c0, c1, t0 = now_s();
    usage_now(&c0, &s0);
    pthread_barrier_wait(&r.start);
    for (size_t i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    double t1 = now_s();
    usage_now(&c1, &s1);
    result res = { t1 - t0, c1 - c0, s1 - s0, e->alloc_calls ? e->alloc_calls() - a0 : -1 };

    /* Check: every message received once (count and sum). Groups of workers whose totals
       must match: ping-pong the pinger; streams all consumers; a pipeline every stage on
       its own; a pool the workers together (the jobs) and the collector (each job + 1). */
    uint64_t n = r.per_producer * w->producers;                      /* values 1..n, each once */
    check_group want[MAX_THREADS];
    size_t ngroups = 0;
    if (w->kind == PINGPONG) {
        n = messages;                                                 /* each i came back as i+1 */
        want[ngroups++] = (check_group){ 0, 1, n, n * (n + 1) / 2 + n };
    } else if (w->kind == PIPELINE) {
        for (size_t k = 0; k < w->consumers; k++)
            want[ngroups++] = (check_group){ w->producers + k, w->producers + k + 1, n, n * (n + 1) / 2 };
    } else {
        want[ngroups++] = (check_group){ w->producers, w->producers + w->consumers, n, n * (n + 1) / 2 };
        if (w->kind == POOL)
            want[ngroups++] = (check_group){ nworkers - 1, nworkers, n, n * (n + 1) / 2 + n };
    }
    int failed = 0;
    for (size_t i = 0; i < nworkers; i++) failed |= r.workers[i].failed;
    for (size_t g = 0; g < ngroups; g++) {
        uint64_t count = 0, sum = 0;
        for (size_t i = want[g].from; i < want[g].to; i++) { count += r.workers[i].count; sum += r.workers[i].sum; }
        if (failed || count != want[g].count || sum != want[g].sum) {
            fprintf(stderr, "bench: %s %s on %s: threads %zu..%zu received %llu values summing to %llu, "
                    "want %llu and %llu%s\n", w->id, w->name, e->name, want[g].from, want[g].to - 1,
                    (unsigned long long)count, (unsigned long long)sum, (unsigned long long)want[g].count,
                    (unsigned long long)want[g].sum, failed ? " (an op failed)" : "");
            exit(1);
        }
    }
    pthread_barrier_destroy(&r.start);
    for (size_t i = 0; i < nch; i++) e->destroy(r.ch[i]);
    return res;
}

/* ---- statistics and output --------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct { double median, min, max, cpu_per_m, csw_per_m; } summary;

static summary summarize(const double *v, const double *cpu, const double *csw, int n, double scale)
{
    double s[MAX_REPS], c[MAX_REPS], k[MAX_REPS];
    for (int i = 0; i < n; i++) { s[i] = v[i] * scale; c[i] = cpu[i]; k[i] = csw[i]; }
    qsort(s, (size_t)n, sizeof s[0], cmp_double);
    qsort(c, (size_t)n, sizeof c[0], cmp_double);
    qsort(k, (size_t)n, sizeof k[0], cmp_double);
    summary out = { s[n / 2], s[0], s[n - 1], c[n / 2], k[n / 2] };
    return out;
}

/* A count in a few characters: 950, 12k, 1.4M. */
static const char *short_count(char *buf, size_t size, double x)
{
    if (x < 1e4) snprintf(buf, size, "%.0f", x);
    else if (x < 1e6) snprintf(buf, size, "%.0fk", x / 1e3);
    else snprintf(buf, size, "%.1fM", x / 1e6);
    return buf;
}

/* Memory figures for every engine with a counting allocator: bytes of an empty channel per
   kind (8-byte elements), bytes per slot, and allocator calls made by the operations of
   W1, W2 and W7 after their channels were created (must be 0: only create allocates). */
static int memory_report(long long (*ops_allocs)[N_ENGINES], const int *selected)
{
    static const struct { const char *kind; size_t cap; } kinds[] = {
        { "rendezvous", 0 }, { "bounded 1", 1 }, { "bounded 1024", 1024 }, { "unlimited (empty)", BENCH_UNLIMITED },
    };
    int bad = 0;
    printf("\nmemory (8-byte elements; allocator calls during a run's operations must be 0 for bounded kinds)\n");
    for (int e = 0; e < N_ENGINES; e++) {
        const bench_engine *en = engines[e];
        if (!en->live_bytes) continue;
        long long bytes[4];
        for (int k = 0; k < 4; k++) {
            long long b0 = en->live_bytes();
            bench_chan *c = en->create(kinds[k].cap);
            bytes[k] = en->live_bytes() - b0;
            en->destroy(c);
        }
        printf("  %-8s empty channel: rendezvous %lld B, bounded-1 %lld B, bounded-1024 %lld B, unlimited %lld B; "
               "%.1f B per slot\n", en->name, bytes[0], bytes[1], bytes[2], bytes[3],
               (double)(bytes[2] - bytes[1]) / 1023.0);
        printf("  %-8s allocator calls during the ops:", en->name);
        for (int w = 0; w < N_WORKLOADS; w++) {
            if (!selected[w] || ops_allocs[w][e] < 0) continue;
            if (workloads[w].cap == BENCH_UNLIMITED) continue;      /* unlimited may grow */
            printf(" %s=%lld", workloads[w].id, ops_allocs[w][e]);
            if (ops_allocs[w][e] != 0) bad = 1;
        }
        printf("\n");
    }
    if (bad) fprintf(stderr, "bench: an operation on a bounded, rendezvous or conflated channel allocated\n");
    return bad;
}

int main(int argc, char **argv)
{
    int quick = 0, json = 0, reps = 5;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--engines") && i + 1 < argc) engine_list = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--json] [--reps N] [--only W1,W2] [--engines mutex,lockfree,naive,limit]\n",
                    argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS) { fprintf(stderr, "bench: --reps 1..%d\n", MAX_REPS); return 2; }
    if (quick && reps == 5) reps = 3;

    static double secs[N_WORKLOADS][N_ENGINES][MAX_REPS], cpus[N_WORKLOADS][N_ENGINES][MAX_REPS];
    static double csws[N_WORKLOADS][N_ENGINES][MAX_REPS];
    static long long ops_allocs[N_WORKLOADS][N_ENGINES];
    uint64_t msgs[N_WORKLOADS];
    int selected[N_WORKLOADS];
    for (int w = 0; w < N_WORKLOADS; w++) {
        selected[w] = !only || in_list(only, workloads[w].id);
        msgs[w] = quick ? workloads[w].messages / 100 : workloads[w].messages;
    }
    for (int rep = 0; rep < reps; rep++)
        for (int w = 0; w < N_WORKLOADS; w++)
            for (int e = 0; e < N_ENGINES; e++) {
                if (!selected[w]) continue;
                /* rotate the engine order per repetition so none always runs first */
                int k = (e + rep) % N_ENGINES;
                if (!engine_runs(engines[k], &workloads[w])) { ops_allocs[w][k] = -1; continue; }
                result r = run_workload(engines[k], &workloads[w], msgs[w]);
                secs[w][k][rep] = r.seconds;
                cpus[w][k][rep] = r.cpu;
                csws[w][k][rep] = (double)r.csw;
                ops_allocs[w][k] += r.allocs < 0 ? 0 : r.allocs;
                if (r.allocs < 0) ops_allocs[w][k] = -1;
                if (!json) { fprintf(stderr, "."); fflush(stderr); }
            }
    if (!json) fprintf(stderr, "\n");

    if (json) printf("{\"reps\": %d, \"quick\": %s, \"results\": [\n", reps, quick ? "true" : "false");
    else {
        printf("kchan_bench: median of %d interleaved runs [min-max]; cpu = CPU seconds per million messages, "
               "cs = context switches per million messages (per million round trips for ns/rt)\n", reps);
        printf("%-24s %-8s", "workload", "unit");
        for (int e = 0; e < N_ENGINES; e++) printf(" %-38s", engines[e]->name);
        printf(" %s\n", "ratios (higher = first engine better)");
    }
    int first = 1;
    for (int w = 0; w < N_WORKLOADS; w++) {
        if (!selected[w]) continue;
        const workload *wl = &workloads[w];
        int rt = wl->kind == PINGPONG;          /* ping-pongs: ns per round trip, lower is better */
        summary s[N_ENGINES];
        int ran[N_ENGINES];
        for (int e = 0; e < N_ENGINES; e++) {
            double v[MAX_REPS], cpu_per_m[MAX_REPS], csw_per_m[MAX_REPS];
            if (!(ran[e] = engine_runs(engines[e], wl))) continue;
            for (int i = 0; i < reps; i++) {
                v[i] = rt ? secs[w][e][i] * 1e9 / (double)msgs[w] : (double)msgs[w] / secs[w][e][i] / 1e6;
                cpu_per_m[i] = cpus[w][e][i] / ((double)msgs[w] / 1e6);
                csw_per_m[i] = csws[w][e][i] / ((double)msgs[w] / 1e6);
            }
            s[e] = summarize(v, cpu_per_m, csw_per_m, reps, 1.0);
        }
        if (json) {
            for (int e = 0; e < N_ENGINES; e++) {
                if (!ran[e]) continue;
                printf("%s  {\"id\": \"%s\", \"workload\": \"%s\", \"engine\": \"%s\", \"unit\": \"%s\", "
                       "\"median\": %.4f, \"min\": %.4f, \"max\": %.4f, \"cpu_s_per_million\": %.4f, "
                       "\"csw_per_million\": %.1f, \"messages\": %llu}",
                       first ? "" : ",\n", wl->id, wl->name, engines[e]->name, rt ? "ns_per_round_trip" : "Mmsg_per_s",
                       s[e].median, s[e].min, s[e].max, s[e].cpu_per_m, s[e].csw_per_m, (unsigned long long)msgs[w]);
                first = 0;
            }
            continue;
        }
        char label[64];
        snprintf(label, sizeof label, "%s %s", wl->id, wl->name);
        printf("%-24s %-8s", label, rt ? "ns/rt" : "Mmsg/s");
        for (int e = 0; e < N_ENGINES; e++) {
            char cell[96], cs[16];
            if (ran[e])
                snprintf(cell, sizeof cell, "%.3g [%.3g-%.3g] cpu %.2f cs %s", s[e].median, s[e].min, s[e].max,
                         s[e].cpu_per_m, short_count(cs, sizeof cs, s[e].csw_per_m));
            else
                snprintf(cell, sizeof cell, "-");
            printf(" %-38s", cell);
        }
        for (int e = 1; e < N_ENGINES; e++)
            if (ran[0] && ran[e])
                printf(" %s/%s=%.2fx", engines[0]->name, engines[e]->name,
                       rt ? s[e].median / s[0].median : s[0].median / s[e].median);
#ifdef BENCH_HAVE_LOCKFREE
        if (ran[1] && ran[N_ENGINES - 1])   /* lockfree against the limit (the last engine) */
            printf(" %s/%s=%.2fx", engines[1]->name, engines[N_ENGINES - 1]->name,
                   s[1].median / s[N_ENGINES - 1].median);
#endif
        printf("\n");
    }
    if (json) { printf("\n]}\n"); return 0; }
    return memory_report(ops_allocs, selected);
}
