/* 02_pipeline.c — an ordered processing pipeline: retries, a commit window, progress, fatal stop.
 *
 * Shows: a scheduler that must wait on several channels at once (kchan_select over
 * "receive a result", "receive a fatal error" and "send the next job"), a bounded jobs
 * channel whose capacity is the high-water mark of queued work, a tagged-union payload
 * carried by value, retries, dropping duplicate finals, an in-order writer driven by a
 * kchan_counter ("next to write"), live progress from kchan_counters, and a clean shutdown
 * through close / cancel when a fatal error is raised.
 *
 *   scheduler --jobs (bounded, cap HIGH_WATER)--------------> N_WORKERS workers
 *   workers   --results (ok | failed, by value)--------------> scheduler
 *   scheduler --finals (bounded, cap WINDOW, one per seq)----> writer (commits in seq order)
 *   writer    --fatal (bounded 1, drop-newest: first wins)---> scheduler
 *
 * Failures are pseudo-random but seeded and a function of (seq, attempt) only, so every
 * run makes the same decisions whatever the thread timing; a few sequence numbers go
 * through a "flaky transport" that delivers their result twice. The first run processes
 * N_SEQ sequence numbers and checks that each was written exactly once, in order, with
 * the expected ok / error / retry / duplicate counts. A second, quiet run (the "fatal
 * drill") makes the writer fail part-way and checks that every thread stops cleanly.
 * Exits non-zero on any mismatch.
 *
 * Build:  cc -std=c11 -O2 $(pkg-config --cflags stb) examples/02_pipeline.c -lpthread
 */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>                 /* isatty */

enum {
    N_SEQ = 4000,                   /* sequence numbers in the main run */
    N_WORKERS = 4,
    HIGH_WATER = 8,                 /* most jobs queued for the workers: the jobs capacity */
    RESULTS_CAP = 16,
    WINDOW = 16,                    /* most sequence numbers issued but not yet written */
    MAX_ATTEMPTS = 3,
    FAIL_PERCENT = 15,              /* chance that one attempt fails */
    DUP_EVERY = 1000, DUP_AT = 777, /* seq % DUP_EVERY == DUP_AT: result delivered twice */
    DRILL_SEQ = 1500,               /* the fatal drill: ... */
    DRILL_FAIL_AT = 600,            /* ... the writer fails when it reaches this seq */
    N_THREADS = N_WORKERS + 2       /* workers, scheduler, writer */
};
#define SEED UINT64_C(0x5eed2024)
#define MS(x) ((int64_t)(x) * 1000000)

/* ---- messages: plain values, no pointers into shared state ---------------------------- */
typedef struct job { uint32_t seq, attempt; } job;

typedef enum { RESULT_OK, RESULT_FAILED } result_tag;
enum { ERR_NONE, ERR_TIMEOUT, ERR_CHECKSUM, ERR_BUSY };

typedef struct result {
    result_tag tag;
    uint32_t seq, attempt;
    union {
        struct { uint64_t digest; } ok;        /* tag == RESULT_OK */
        struct { int code; } failed;           /* tag == RESULT_FAILED: ERR_* */
    } as;
} result;

typedef struct fatal_msg { int code; uint32_t seq; char what[32]; } fatal_msg;

KCHAN_DEFINE(jobch, job);
KCHAN_DEFINE(resultch, result);
KCHAN_DEFINE(fatalch, fatal_msg);

typedef struct pipeline {
    /* counters first: each is one 64-byte line, so they never share a line with the rest */
    kchan_counter next_to_write;   /* the writer's "next sequence number to commit" */
    kchan_counter ok, errors, retries, in_flight, duplicates;
    kchan_counter workers_live;    /* the last worker out closes `results` */
    kchan_counter exited;          /* threads that have returned */

    uint32_t n_seq;
    int64_t fail_write_at;         /* -1: never */
    jobch *jobs;
    resultch *results, *finals;
    fatalch *fatal;

    /* written by the writer, read by main after the joins */
    uint32_t *log;                 /* committed seqs, in commit order */
    uint8_t *times_written;        /* per seq */
    uint32_t n_written;
    uint64_t checksum;             /* order-sensitive hash over the committed records */
    int64_t fatal_at_ns;
    /* written by the scheduler, read by main after the joins */
    bool saw_fatal;
    fatal_msg fatal_info;
    uint64_t refused;              /* finals the writer no longer took (after its failure) */
    uint64_t abandoned;            /* results that arrived after the fatal stop */
} pipeline;

static bool g_tty;                 /* stderr is a terminal: redraw the progress line in place */

static uint64_t mix(uint64_t x)    /* splitmix64 finaliser */
{
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

static bool is_flaky(uint32_t seq) { return seq % DUP_EVERY == DUP_AT; }

/* The decision for one attempt depends on (seed, seq, attempt) only: reproducible. */
static int attempt_error(uint32_t seq, uint32_t attempt)
{
    if (is_flaky(seq)) return ERR_NONE;          /* flaky-transport seqs succeed at once */
    uint64_t h = mix(SEED ^ ((uint64_t)seq << 8) ^ attempt);
    return h % 100 < FAIL_PERCENT ? 1 + (int)((h >> 32) % 3) : ERR_NONE;
}

static uint64_t digest_of(uint32_t seq) { return mix(SEED + seq); }

static uint64_t fold(uint64_t sum, const result *r)
{
    return mix(sum ^ (r->tag == RESULT_OK ? r->as.ok.digest : (uint64_t)r->as.failed.code) ^ r->seq);
}

static void sleep_us(long us)
{
    struct timespec ts = { 0, us * 1000 };
    nanosleep(&ts, NULL);
}

static void warn(const char *fmt, uint32_t a, uint32_t b)
{
    fprintf(stderr, "%swarning: ", g_tty ? "\r\033[K" : "");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

/* ---- workers: jobs in, one result (or, on the flaky transport, two) out ---------------- */
static void *worker(void *arg)
{
    pipeline *p = (pipeline *)arg;
    job j;
    while (jobch_recv(p->jobs, &j) == KCHAN_OK) {          /* KCHAN_CLOSED: no more work */
        sleep_us(100 + (long)(mix(j.seq ^ ((uint64_t)j.attempt << 32)) % 200));   /* "work" */
        result r = { .seq = j.seq, .attempt = j.attempt };
        int code = attempt_error(j.seq, j.attempt);
        if (code == ERR_NONE) { r.tag = RESULT_OK; r.as.ok.digest = digest_of(j.seq); }
        else                  { r.tag = RESULT_FAILED; r.as.failed.code = code; }
        int copies = is_flaky(j.seq) ? 2 : 1;              /* at-least-once delivery */
        for (int k = 0; k < copies; k++)
            if (resultch_send(p->results, r) != KCHAN_OK) goto out;
    }
out:
    if (kchan_counter_add(&p->workers_live, -1) == 0)
        resultch_close(p->results);                        /* last one out: no more results */
    kchan_counter_add(&p->exited, 1);
    return NULL;
}

/* ---- scheduler: hands out seqs and retries, forwards one final per seq ----------------- */
static void *scheduler(void *arg)
{
    pipeline *p = (pipeline *)arg;
    const uint32_t n = p->n_seq;
    uint8_t *attempt = calloc(n, 1);       /* attempt now outstanding per seq (0: not issued) */
    bool *final_sent = calloc(n, sizeof *final_sent);
    job retry_q[WINDOW];                   /* retries never exceed the outstanding window */
    unsigned retry_head = 0, retry_len = 0;
    uint32_t next_new = 0, finalized = 0;
    int64_t in_flight = 0;
    bool stop = false;
    if (!attempt || !final_sent) { fprintf(stderr, "scheduler: out of memory\n"); exit(1); }

    while (finalized < n && !stop) {
        int64_t written = kchan_counter_load(&p->next_to_write);
        job out;
        bool have_job = true;
        if (retry_len > 0) out = retry_q[retry_head];
        else if (next_new < n && next_new - written < WINDOW) out = (job){ next_new, 1 };
        else have_job = false;

        /* Everything outstanding is with the writer and the window is full: nothing will
           arrive on results until the writer moves, so wait for it on its counter (in short
           slices, so a fatal error is still noticed), then poll the channels. */
        bool stalled = !have_job && in_flight == 0;
        if (stalled) (void)kchan_counter_wait_ge(&p->next_to_write, written + 1, MS(5));

        result in;
        fatal_msg f;
        kchan_case cs[] = {
            resultch_recv_case(p->results, &in),
            fatalch_recv_case(p->fatal, &f),
            jobch_send_case(have_job ? p->jobs : NULL, &out),   /* NULL: case skipped */
        };
        int i = kchan_select(cs, 3, stalled ? 0 : KCHAN_FOREVER);
        if (i == KCHAN_WOULDBLOCK) continue;
        if (i < 0) { fprintf(stderr, "scheduler: select: %s\n", kchan_strerror(i)); exit(1); }

        if (i == 2) {                                        /* a job went out */
            if (retry_len > 0) { retry_head = (retry_head + 1) % WINDOW; retry_len--; }
            else next_new++;
            attempt[out.seq] = (uint8_t)out.attempt;
            in_flight++;
            kchan_counter_add(&p->in_flight, 1);
        } else if (i == 1) {                                 /* fatal error (or closed) */
            if (cs[1].status == KCHAN_OK) p->fatal_info = f;
            else snprintf(p->fatal_info.what, sizeof p->fatal_info.what, "fatal channel closed");
            p->saw_fatal = true;
            stop = true;
        } else if (cs[0].status != KCHAN_OK) {               /* results closed: cannot happen */
            fprintf(stderr, "scheduler: results closed early\n");
            exit(1);
        } else if (in.seq >= n || final_sent[in.seq] || in.attempt != attempt[in.seq]) {
            warn("duplicate final for seq %" PRIu32 " (attempt %" PRIu32 ") dropped", in.seq, in.attempt);
            kchan_counter_add(&p->duplicates, 1);
        } else {
            in_flight--;
            kchan_counter_add(&p->in_flight, -1);
            if (in.tag == RESULT_FAILED && in.attempt < MAX_ATTEMPTS) {
                kchan_counter_add(&p->retries, 1);
                retry_q[(retry_head + retry_len++) % WINDOW] = (job){ in.seq, in.attempt + 1 };
                continue;
            }
            kchan_counter_add(in.tag == RESULT_OK ? &p->ok : &p->errors, 1);
            final_sent[in.seq] = true;
            finalized++;
            /* Never waits: at most WINDOW seqs are unwritten, so finals has room. It fails
               only once the writer has given up; its fatal error is then on p->fatal. */
            if (resultch_send(p->finals, in) != KCHAN_OK) p->refused++;
        }
    }

    /* Shut down. On a fatal stop, recall the queued jobs (cancel discards them); otherwise
       close: workers finish, the last closes results, and we drain it (late duplicates). */
    if (stop) jobch_cancel(p->jobs);
    else jobch_close(p->jobs);
    resultch_close(p->finals);                               /* the writer drains, then stops */
    result late;
    while (resultch_recv(p->results, &late) == KCHAN_OK) {
        if (stop) { p->abandoned++; continue; }
        warn("duplicate final for seq %" PRIu32 " (attempt %" PRIu32 ") dropped", late.seq, late.attempt);
        kchan_counter_add(&p->duplicates, 1);
    }
    free(attempt);
    free(final_sent);
    kchan_counter_add(&p->exited, 1);
    return NULL;
}

/* The first fatal error wins: the channel is bounded 1, drop-newest, so this never waits. */
static void raise_fatal(pipeline *p, int code, uint32_t seq, const char *what)
{
    fatal_msg f = { .code = code, .seq = seq };
    snprintf(f.what, sizeof f.what, "%s", what);
    if (fatalch_send(p->fatal, f) != KCHAN_OK) fprintf(stderr, "writer: fatal channel closed\n");
}

/* ---- writer: commits strictly in sequence order, holding at most WINDOW early finals --- */
static void *writer(void *arg)
{
    pipeline *p = (pipeline *)arg;
    result held[WINDOW];
    bool have[WINDOW] = { false };
    result r;
    while (resultch_recv(p->finals, &r) == KCHAN_OK) {
        int64_t next = kchan_counter_load(&p->next_to_write);    /* only this thread moves it */
        if (r.seq < next || r.seq >= next + WINDOW || have[r.seq % WINDOW]) {
            raise_fatal(p, 2, r.seq, "final outside the window");
            break;
        }
        held[r.seq % WINDOW] = r;
        have[r.seq % WINDOW] = true;
        while (have[next % WINDOW]) {
            const result *c = &held[next % WINDOW];
            if (next == p->fail_write_at) {                       /* the drill: "disk full" */
                p->fatal_at_ns = kchan_now_ns();
                raise_fatal(p, 28, c->seq, "disk full");
                resultch_cancel(p->finals);        /* take no more; the scheduler's sends fail */
                goto out;
            }
            p->log[p->n_written++] = c->seq;
            p->times_written[c->seq]++;
            p->checksum = fold(p->checksum, c);
            have[next % WINDOW] = false;
            next = kchan_counter_add(&p->next_to_write, 1);       /* wakes a stalled scheduler */
        }
    }
out:
    kchan_counter_add(&p->exited, 1);
    return NULL;
}

/* ---- progress: one short line on stderr, redrawn in place on a terminal ---------------- */
static void progress(pipeline *p, bool last)
{
    fprintf(stderr, "%s[pipeline] written %5" PRId64 "/%" PRIu32 "  ok %" PRId64 "  err %" PRId64
            "  retry %" PRId64 "  in-flight %2" PRId64 "%s",
            g_tty ? "\r\033[K" : "", kchan_counter_load(&p->next_to_write), p->n_seq,
            kchan_counter_load(&p->ok), kchan_counter_load(&p->errors),
            kchan_counter_load(&p->retries), kchan_counter_load(&p->in_flight),
            g_tty && !last ? "" : "\n");
}

static bool conserved(const char *what, kchan_t *c)
{
    kchan_stats s;
    kchan_stats_get(c, &s);
    if (s.sends == s.recvs + s.drops_newest + s.drops_oldest + s.undelivered + s.len) return true;
    fprintf(stderr, "pipeline: %s: stats do not add up\n", what);
    return false;
}

/* One run; returns the number of failed checks. */
static int run(pipeline *p, uint32_t n_seq, int64_t fail_write_at, bool show)
{
    static const kchan_opts jobs_o = { .capacity = HIGH_WATER, .name = "jobs" };
    static const kchan_opts results_o = { .capacity = RESULTS_CAP, .name = "results" };
    static const kchan_opts finals_o = { .capacity = WINDOW, .name = "finals" };
    static const kchan_opts fatal_o = { .capacity = 1, .overflow = KCHAN_DROP_NEWEST, .name = "fatal" };
    int bad = 0;

    memset(p, 0, sizeof *p);
    kchan_counter_init(&p->workers_live, N_WORKERS);      /* the rest start at 0 */
    p->n_seq = n_seq;
    p->fail_write_at = fail_write_at;
    p->log = calloc(n_seq, sizeof *p->log);
    p->times_written = calloc(n_seq, 1);
    if (!p->log || !p->times_written || jobch_create(&p->jobs, &jobs_o) != KCHAN_OK ||
        resultch_create(&p->results, &results_o) != KCHAN_OK ||
        resultch_create(&p->finals, &finals_o) != KCHAN_OK ||
        fatalch_create(&p->fatal, &fatal_o) != KCHAN_OK) {
        fprintf(stderr, "pipeline: setup failed\n");
        exit(1);
    }

    int64_t t0 = kchan_now_ns(), last_print = t0;
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_WORKERS; i++) pthread_create(&th[i], NULL, worker, p);
    pthread_create(&th[N_WORKERS], NULL, scheduler, p);
    pthread_create(&th[N_WORKERS + 1], NULL, writer, p);

    /* Wait for every thread to finish, drawing progress meanwhile (throttled). */
    while (kchan_counter_wait_ge(&p->exited, N_THREADS, MS(100)) != KCHAN_OK) {
        int64_t now = kchan_now_ns();
        if (show && now - last_print >= (g_tty ? MS(100) : MS(250))) { progress(p, false); last_print = now; }
        if (now - t0 > MS(20000)) { fprintf(stderr, "pipeline: stuck\n"); exit(1); }
    }
    double secs = (double)(kchan_now_ns() - t0) / 1e9;
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
    if (show) progress(p, true);

    /* Checks common to both runs: a gap-free, in-order prefix was written, each once. */
    for (uint32_t i = 0; i < p->n_written; i++)
        if (p->log[i] != i || p->times_written[i] != 1) {
            fprintf(stderr, "pipeline: write %" PRIu32 " is seq %" PRIu32 " (written %d times)\n",
                    i, p->log[i], p->times_written[p->log[i]]);
            bad++;
            break;
        }
    bad += !conserved("jobs", jobch_base(p->jobs)) + !conserved("results", resultch_base(p->results)) +
           !conserved("finals", resultch_base(p->finals)) + !conserved("fatal", fatalch_base(p->fatal));
    if (kchan_counter_load(&p->next_to_write) != p->n_written) { fprintf(stderr, "pipeline: counter != log\n"); bad++; }

    if (fail_write_at < 0) {
        /* The main run: compare everything with what the seeded decisions predict. */
        int64_t want_ok = 0, want_err = 0, want_retry = 0, want_dup = 0;
        uint64_t want_sum = 0;
        for (uint32_t s = 0; s < n_seq; s++) {
            uint32_t a = 1;
            while (a < MAX_ATTEMPTS && attempt_error(s, a) != ERR_NONE) a++;
            result r = { .seq = s, .attempt = a };
            int code = attempt_error(s, a);
            if (code == ERR_NONE) { r.tag = RESULT_OK; r.as.ok.digest = digest_of(s); want_ok++; }
            else                  { r.tag = RESULT_FAILED; r.as.failed.code = code; want_err++; }
            want_retry += a - 1;
            want_dup += is_flaky(s);
            want_sum = fold(want_sum, &r);
        }
        int64_t ok = kchan_counter_load(&p->ok), err = kchan_counter_load(&p->errors);
        int64_t retry = kchan_counter_load(&p->retries), dup = kchan_counter_load(&p->duplicates);
        printf("totals: %" PRIu32 "/%" PRIu32 " written in order in %.2f s; ok %" PRId64 ", error %" PRId64
               " (after %d attempts), retries %" PRId64 ", duplicates dropped %" PRId64 "\n",
               p->n_written, n_seq, secs, ok, err, MAX_ATTEMPTS, retry, dup);
        if (p->n_written != n_seq || p->checksum != want_sum || ok != want_ok || err != want_err ||
            retry != want_retry || dup != want_dup || kchan_counter_load(&p->in_flight) != 0 || p->saw_fatal) {
            fprintf(stderr, "pipeline: expected ok %" PRId64 " error %" PRId64 " retries %" PRId64
                    " duplicates %" PRId64 "%s%s\n", want_ok, want_err, want_retry, want_dup,
                    p->checksum != want_sum ? ", and the checksum differs" : "",
                    p->saw_fatal ? ", and no fatal error" : "");
            bad++;
        }
        char line[512];
        jobch_dump(p->jobs, line, sizeof line);        printf("%s\n", line);
        resultch_dump(p->results, line, sizeof line);  printf("%s\n", line);
        resultch_dump(p->finals, line, sizeof line);   printf("%s\n", line);
        fatalch_dump(p->fatal, line, sizeof line);     printf("%s\n", line);
    } else {
        /* The drill: the scheduler heard the writer, everything stopped, nothing was lost
           silently, and exactly the seqs before the failure were written. */
        kchan_stats js;
        jobch_stats_get(p->jobs, &js);
        double ms = (double)(kchan_now_ns() - p->fatal_at_ns) / 1e6;
        printf("fatal drill: writer failed at seq %" PRId64 " (%s); %" PRIu32 " written in order, "
               "%" PRIu64 " queued jobs recalled, %" PRIu64 " finals refused, %" PRIu64 " late results "
               "dropped; all %d threads joined %.1f ms after the error\n", fail_write_at,
               p->fatal_info.what, p->n_written, js.undelivered, p->refused, p->abandoned, N_THREADS, ms);
        if (!p->saw_fatal || p->fatal_info.code != 28 || p->n_written != (uint32_t)fail_write_at ||
            !jobch_is_closed(p->jobs) || !resultch_is_closed(p->results) || !resultch_is_closed(p->finals)) {
            fprintf(stderr, "pipeline: the fatal drill did not shut down as expected\n");
            bad++;
        }
    }

    jobch_destroy(p->jobs);
    resultch_destroy(p->results);
    resultch_destroy(p->finals);
    fatalch_destroy(p->fatal);
    free(p->log);
    free(p->times_written);
    return bad;
}

int main(void)
{
    static pipeline p;             /* static: the counters want their 64-byte alignment */
    g_tty = isatty(2);
    printf("pipeline: %d seqs, %d workers, jobs cap %d (high-water mark), window %d, "
           "%d attempts, %d%% failing attempts, seed %#" PRIx64 "\n",
           N_SEQ, N_WORKERS, HIGH_WATER, WINDOW, MAX_ATTEMPTS, FAIL_PERCENT, SEED);
    fflush(stdout);
    int bad = run(&p, N_SEQ, -1, true);
    bad += run(&p, DRILL_SEQ, DRILL_FAIL_AT, false);
    if (bad) { fprintf(stderr, "pipeline: %d check(s) FAILED\n", bad); return 1; }
    printf("pipeline: all checks passed\n");
    return 0;
}
