/* Latest-value channel between processes: does the writer depend on its readers?
 *
 * The writer (this process) writes 1 MiB frames into a kchan latest-value region of 4 slots,
 * with 0, 1, 2 and 4 reader processes attached. Each reader reads KCHAN_READ_LATEST and then
 * works (sleeps) for four frame periods, so it runs at about a quarter of the writer's rate.
 * For comparison the same frames go through a pipe and a Unix stream socket to one reader of
 * the same speed. A POSIX message queue cannot carry a 1 MiB message with Linux's default
 * limits (/proc/sys/fs/mqueue/msgsize_max is 8192), so it has no row.
 *
 * Two tables:
 *   paced      the writer aims at 1000 frames a second (1 GB/s) for one second; the rows
 *              give the rate it achieved and how long one write took (median, 99th
 *              percentile). kchan's writer never waits, so its rate should not move; a pipe's
 *              writer waits for its reader.
 *   unpaced    the writer writes 2000 frames as fast as it can: the cost of a write when
 *              readers copy the same memory (the cache lines move between cores).
 * The last row of each is a control: two readers that copy 1 MiB of their own memory at the
 * same pace instead of reading the channel (the cost of copying without sharing).
 *
 * Every configuration runs once per repetition, in an order rotated per repetition; each
 * figure is the median over the repetitions. CPU is the writer's (getrusage), context
 * switches are the writer's, per frame. Every reader checks every frame it gets (its number
 * at both ends and a sample of words in between) and the kchan readers' counts must add up
 * (reads + gaps + lates = frames gone past); any failure exits non-zero.
 *
 *   build/bench/shm_latest [--quick] [--reps N]
 */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FRAME ((size_t)1 << 20)
#define WORDS (FRAME / 8)
#define SLOTS 4u
#define MAX_FRAMES 4000

static void die(const char *what) { fprintf(stderr, "shm_latest: %s\n", what); exit(1); }

static void stamp(uint64_t *w, uint64_t f)
{
    w[0] = f;
    for (size_t i = 1; i + 1 < WORDS; i += 4093) w[i] = f * 31 + i;
    w[WORDS - 1] = ~f;
}
static bool stamped(const uint64_t *w, uint64_t f)
{
    if (w[0] != f || w[WORDS - 1] != ~f) return false;
    for (size_t i = 1; i + 1 < WORDS; i += 4093) if (w[i] != f * 31 + i) return false;
    return true;
}

static void sleep_ns(int64_t ns)
{
    if (ns <= 0) return;
    struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
    nanosleep(&ts, NULL);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double pct(double *v, int n, double q)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    int i = (int)(q * (n - 1) + 0.5);
    return v[i];
}

/* One run's figures: the writer's achieved rate, write time median and p99 (us), CPU and
   context switches per frame. */
typedef struct { double rate, p50, p99, cpu, csw; } sample;

/* The writer's loop, common to every configuration: `put` writes one frame. */
typedef int (*put_fn)(void *ctx, const uint64_t *frame);
static sample write_frames(put_fn put, void *ctx, uint64_t frames, int64_t period_ns, uint64_t *buf)
{
    static double took[MAX_FRAMES];
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    int64_t t0 = kchan_now_ns();
    for (uint64_t f = 0; f < frames; f++) {
        stamp(buf, f);
        int64_t a = kchan_now_ns();
        if (put(ctx, buf) != 0) die("write");
        took[f] = (double)(kchan_now_ns() - a) / 1e3;
        if (period_ns) sleep_ns(t0 + (int64_t)(f + 1) * period_ns - kchan_now_ns());
    }
    int64_t t1 = kchan_now_ns();
    getrusage(RUSAGE_SELF, &r1);
    sample s;
    s.rate = (double)frames / ((double)(t1 - t0) / 1e9);
    s.cpu = ((double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
             (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6) /
            (double)frames * 1e6;
    s.csw = (double)(r1.ru_nvcsw - r0.ru_nvcsw + r1.ru_nivcsw - r0.ru_nivcsw) / (double)frames;
    s.p50 = pct(took, (int)frames, 0.5);
    s.p99 = pct(took, (int)frames, 0.99);
    return s;
}

typedef struct { uint64_t reads, gaps, lates, first, last, bad; int status; _Atomic int stop; } result;

static int put_latest(void *ctx, const uint64_t *frame) { return kchan_latest_write(ctx, frame); }

/* kchan: the writer here, `readers` reader processes working `work_ns` after each read.
   `control`: the readers copy 1 MiB of their own memory instead of reading the channel
   (at the same pace), to tell the cost of sharing from the cost of copying. */
static sample run_latest(int readers, bool control, uint64_t frames, int64_t period_ns, int64_t work_ns, uint64_t *buf)
{
    size_t size = kchan_latest_region_size(FRAME, SLOTS);
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    result *res = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || res == MAP_FAILED) die("mmap");
    const kchan_latest_opts o = { FRAME, SLOTS };
    kchan_latest w;
    if (kchan_latest_create(&w, m, size, &o) != KCHAN_OK) die("create");
    pid_t pids[8];
    for (int i = 0; i < readers; i++) {
        if ((pids[i] = fork()) == 0) {
            kchan_latest h;
            uint64_t *out = malloc(FRAME), no, prev = 0, n = 0, bad = 0;
            if (kchan_latest_attach(&h, m, size, &o) != KCHAN_OK) _exit(2);
            int st;
            if (control) {
                uint64_t *own = malloc(FRAME);
                stamp(own, 0);
                do {
                    memcpy(out, own, FRAME);
                    if (!stamped(out, 0)) bad++;
                    sleep_ns(work_ns);
                } while (!atomic_load_explicit(&res[7].stop, memory_order_relaxed) && getppid() != 1);
                res[i].reads = 1; res[i].bad = bad; res[i].status = KCHAN_CLOSED;
                _exit(0);
            }
            while ((st = kchan_latest_read(&h, out, KCHAN_READ_LATEST, &no, KCHAN_SEC(10))) == KCHAN_OK) {
                if (!stamped(out, no) || (n++ > 0 && no <= prev)) bad++;
                prev = no;
                sleep_ns(work_ns);
            }
            kchan_latest_stats ks;
            kchan_latest_stats_get(&h, &ks);
            res[i].reads = ks.reads; res[i].gaps = ks.gaps; res[i].lates = ks.lates;
            res[i].first = ks.first; res[i].last = prev; res[i].bad = bad; res[i].status = st;
            _exit(0);
        }
    }
    sleep_ns(20000000);                        /* let the readers attach and sleep */
    sample s = write_frames(put_latest, &w, frames, period_ns, buf);
    (void)kchan_latest_close(&w);
    atomic_store_explicit(&res[7].stop, 1, memory_order_relaxed);   /* the control readers */
    for (int i = 0; i < readers; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) die("a reader failed");
        if (res[i].status != KCHAN_CLOSED || res[i].bad) die("a reader saw a wrong frame");
        if (!control && (res[i].reads == 0 || res[i].reads + res[i].gaps + res[i].lates != res[i].last + 1 - res[i].first))
            die("a reader's counts do not add up");
    }
    munmap(m, size);
    munmap(res, 4096);
    return s;
}

static int put_stream(void *ctx, const uint64_t *frame)
{
    int fd = *(int *)ctx;
    for (size_t done = 0; done < FRAME;) {
        ssize_t n = write(fd, (const char *)frame + done, FRAME - done);
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    return 0;
}

/* A pipe or a Unix stream socket: fds[1] the writer's end, fds[0] the reader's. */
static sample run_stream(int fds[2], uint64_t frames, int64_t period_ns, int64_t work_ns, uint64_t *buf)
{
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        uint64_t *in = malloc(FRAME);
        for (uint64_t f = 0; f < frames; f++) {
            for (size_t got = 0; got < FRAME;) {
                ssize_t n = read(fds[0], (char *)in + got, FRAME - got);
                if (n <= 0) _exit(3);
                got += (size_t)n;
            }
            if (!stamped(in, f)) _exit(4);
            sleep_ns(work_ns);
        }
        _exit(0);
    }
    close(fds[0]);
    sample s = write_frames(put_stream, &fds[1], frames, period_ns, buf);
    close(fds[1]);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) die("the stream reader failed");
    return s;
}

enum { N_CONF = 7 };
static const char *names[N_CONF] = { "kchan latest, 0 readers", "kchan latest, 1 reader",
                                     "kchan latest, 2 readers", "kchan latest, 4 readers",
                                     "pipe, 1 reader", "Unix socket, 1 reader",
                                     "control: 2 copy own mem" };

static sample run(int c, uint64_t frames, int64_t period_ns, int64_t work_ns, uint64_t *buf)
{
    if (c < 4) return run_latest(c == 3 ? 4 : c, false, frames, period_ns, work_ns, buf);
    if (c == 6) return run_latest(2, true, frames, period_ns, work_ns, buf);
    int fds[2];
    if (c == 4 ? pipe(fds) != 0 : socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) die("pipe/socketpair");
    return run_stream(fds, frames, period_ns, work_ns, buf);
}

static void table(const char *title, int reps, uint64_t frames, int64_t period_ns, int64_t work_ns, uint64_t *buf)
{
    static double v[5][N_CONF][50];
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < N_CONF; k++) {
            int c = (k + r) % N_CONF;
            sample s = run(c, frames, period_ns, work_ns, buf);
            v[0][c][r] = s.rate; v[1][c][r] = s.p50; v[2][c][r] = s.p99; v[3][c][r] = s.cpu; v[4][c][r] = s.csw;
        }
    }
    printf("\n%s: %llu frames of 1 MiB, readers work %.0f us after each read, medians of %d\n", title,
           (unsigned long long)frames, (double)work_ns / 1e3, reps);
    printf("%-26s %10s %8s %12s %12s %12s %10s %10s\n", "writer", "frames/s", "GB/s", "write p50 us",
           "write p99 us", "CPU us/frame", "csw/frame", "vs alone");
    double alone = 0;
    for (int c = 0; c < N_CONF; c++) {
        double m[5];
        for (int i = 0; i < 5; i++) m[i] = pct(v[i][c], reps, 0.5);
        if (c == 0) alone = m[0];
        printf("%-26s %10.0f %8.2f %12.1f %12.1f %12.1f %10.3f %9.2fx\n", names[c], m[0], m[0] * (double)FRAME / 1e9,
               m[1], m[2], m[3], m[4], m[0] / alone);
    }
}

int main(int argc, char **argv)
{
    int reps = 5;
    uint64_t paced = 1000, unpaced = 2000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) { paced = 100; unpaced = 200; reps = 1; }
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else { fprintf(stderr, "usage: %s [--quick] [--reps N]\n", argv[0]); return 2; }
    }
    if (reps < 1 || reps > 50) die("--reps: 1 to 50");
    uint64_t *buf = malloc(FRAME);
    printf("shm_latest: kchan latest-value channel (4 slots) vs pipe and Unix socket, 1 MiB frames\n");
    /* Paced: 1000 frames a second; readers at a quarter of that. */
    table("paced at 1000 frames/s", reps, paced, 1000000, 4000000, buf);
    /* Unpaced: as fast as it can; readers work 4 x one write alone (calibrated). */
    sample c = run(0, 200, 0, 0, buf);
    table("unpaced", reps, unpaced, 0, (int64_t)(4e9 / c.rate), buf);
    free(buf);
    return 0;
}
