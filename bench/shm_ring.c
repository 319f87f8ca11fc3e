/* Bounded channels between processes: kchan's shared ring against a pipe, a Unix socket and
 * a POSIX message queue, in the same run.
 *
 * Four rows: SPSC (one producer process, one consumer process) and MPMC (two producers, two
 * consumers) with 8-byte and 4 KiB messages. Every process is fork()ed by this one, which
 * only starts them, waits and checks. One message per call on every transport:
 *   kchan        kchan_send / kchan_recv on a shared channel (kchan_create_shared in an
 *                mmap(MAP_SHARED | MAP_ANONYMOUS) region, 1024 cells, block policy); the
 *                producers use the handle they inherit, the consumers kchan_attach their own.
 *                The end: the parent kchan_closes once the producers have exited.
 *   pipe         write / read of exactly one message (<= PIPE_BUF, so atomic with several
 *                writers, and a read of the same size takes exactly one); default pipe size.
 *                The end: EOF once every write end is closed.
 *   Unix socket  a SOCK_SEQPACKET socketpair (keeps message boundaries with several readers),
 *                send / recv; default buffer sizes. The end: EOF, as the pipe.
 *   mqueue       mq_send / mq_receive on a queue as deep as /proc/sys/fs/mqueue/msg_max allows
 *                (usually 10; the header line says what it got). The end: one sentinel message
 *                per consumer, sent by the parent once the producers have exited.
 *
 * Every message carries its producer and its sequence number (8 bytes: producer << 48 | seq);
 * a 4 KiB message also carries a pattern derived from them in every word. Each consumer checks
 * the content of every message, that each producer's numbers increase (FIFO per producer as
 * seen by one consumer), and counts, sums and xors a hash of every (producer, seq); the parent
 * checks that the counts add up to what was sent and that the sum and xor are the expected
 * ones (nothing lost, nothing twice), and for kchan that the channel's stats agree. Any failure
 * prints what went wrong and exits non-zero.
 *
 * Every transport runs once per repetition, in an order rotated per repetition (rep 1: kchan,
 * pipe, socket, mqueue; rep 2: pipe, socket, mqueue, kchan; ...) so drift hits them alike;
 * each figure is the median over the repetitions. msgs/s: messages over the time from the
 * start signal (every process forked and ready) to the last consumer's exit. CPU and context
 * switches are the worker processes' (getrusage RUSAGE_CHILDREN, user + sys, voluntary +
 * involuntary), from fork to exit, per million messages and per message; they include making
 * and checking every message, the same work on every transport. All four transports of a
 * row carry the same number of messages (500000 of 8 B, 200000 of 4 KiB), so that the slowest
 * take about a second and kchan tens of milliseconds. The last lines give kchan / pipe per row
 * (the goal: >= 10x on 8-byte messages). About a minute on 2 cores; --quick (a tenth
 * of the messages, one repetition) in a few seconds.
 *
 *   build/bench/shm_ring [--quick] [--reps N] [--cap CELLS]
 */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned cap_cells = 1024;     /* kchan's cells (--cap) */
#define BIG 4096u                     /* the large message, = PIPE_BUF on Linux */
#define MAX_SIDE 2                    /* producers or consumers per row, at most */
#define SEQ_MASK ((UINT64_C(1) << 48) - 1)
#define SENTINEL (UINT64_C(0xffff) << 48)     /* mqueue's end-of-stream message */
#define PAT UINT64_C(0x9e3779b97f4a7c15)
#define RUN_LIMIT_S 120u              /* one run longer than this is a hang: exit */

enum { T_KCHAN, T_PIPE, T_SOCK, T_MQ, N_T };
static const char *tname[N_T] = { "kchan shared ring", "pipe", "Unix socket (seqpacket)", "POSIX mqueue" };

static void report_workers(void);
static const char *running = "";      /* which run, for die and the watchdog */

/* The worker processes of the run under way, so that a failure leaves none behind (they also
   die with this process: PR_SET_PDEATHSIG; this reaps them too). */
static pid_t live[2 * MAX_SIDE];
static int n_live;
static void kill_live(void)
{
    for (int i = 0; i < n_live; i++)
        if (live[i] > 0) { kill(live[i], SIGKILL); (void)waitpid(live[i], NULL, 0); live[i] = 0; }
    n_live = 0;
}

static void die(const char *fmt, ...)
{
    kill_live();
    va_list ap;
    va_start(ap, fmt);
    fputs("shm_ring: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    report_workers();
    exit(1);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "shm_ring: a run took too long (hang?); its processes die with this one: ";
    (void)!write(2, msg, sizeof msg - 1);
    (void)!write(2, running, strlen(running));
    (void)!write(2, "\n", 1);
    kill_live();
    _exit(1);
}

/* ---- messages ----------------------------------------------------------------------------- */

static uint64_t key_of(uint32_t producer, uint64_t seq) { return (uint64_t)producer << 48 | seq; }
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30; x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27; x *= UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}
/* A message of `size` bytes (8 or BIG) for key: the key, and for BIG a word pattern from it. */
static void fill(uint64_t *w, size_t size, uint64_t key)
{
    size_t words = size / 8;
    w[0] = key;
    for (size_t i = 1; i + 1 < words; i++) w[i] = key + i * PAT;
    if (words > 1) w[words - 1] = ~key;
}
static bool filled(const uint64_t *w, size_t size, uint64_t key)
{
    size_t words = size / 8;
    if (words == 1) return true;       /* the key is the whole message */
    uint64_t bad = w[words - 1] ^ ~key;
    for (size_t i = 1; i + 1 < words; i++) bad |= w[i] ^ (key + i * PAT);
    return bad == 0;
}

/* ---- results, in shared memory ------------------------------------------------------------ */

typedef struct {
    uint64_t count, sum, x;            /* messages, and the sum and xor of mix(key) over them */
    int failed;
    char why[240];
} side_result;
typedef struct { side_result prod[MAX_SIDE], cons[MAX_SIDE]; } results;

static results *res_now;              /* the run's, for die */

/* What the workers of the failed run said (a worker that failed writes why first). */
static void report_workers(void)
{
    if (!res_now) return;
    for (int i = 0; i < 2 * MAX_SIDE; i++) {
        const side_result *r = i < MAX_SIDE ? &res_now->prod[i] : &res_now->cons[i - MAX_SIDE];
        if (r->failed)
            fprintf(stderr, "shm_ring: %s: %s %d: %s\n", running, i < MAX_SIDE ? "producer" : "consumer",
                    i % MAX_SIDE, r->why[0] ? r->why : "failed");
    }
}

static void child_fail(side_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    r->failed = 1;
    _exit(1);
}

/* ---- transports --------------------------------------------------------------------------- */

typedef struct {
    int kind;
    size_t size;                       /* bytes per message */
    void *region;                      /* kchan */
    size_t region_size;
    kchan_t *ch;
    int rd, wr;                        /* pipe, socket: the consumers' end, the producers' */
    mqd_t mq;
} transport;

static long mq_depth;                  /* what mq_open accepted (probe_mq) */
static int mq_serial;

static kchan_shared_opts kopts(size_t size)
{
    kchan_shared_opts o;
    memset(&o, 0, sizeof o);
    o.elem_size = size;
    o.capacity = cap_cells;
    o.overflow = KCHAN_BLOCK;
    o.peers = 8;
    return o;
}

static mqd_t mq_make(size_t size, long depth)
{
    char name[64];
    snprintf(name, sizeof name, "/kchan_shm_ring.%ld.%d", (long)getpid(), mq_serial++);
    struct mq_attr a;
    memset(&a, 0, sizeof a);
    a.mq_maxmsg = depth;
    a.mq_msgsize = (long)size;
    mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
    if (q != (mqd_t)-1) (void)mq_unlink(name);        /* the descriptors keep it alive */
    return q;
}

/* The deepest queue of BIG messages the limits allow, up to --cap (msg_max, RLIMIT_MSGQUEUE). */
static void probe_mq(void)
{
    long depth = (long)cap_cells;
    FILE *f = fopen("/proc/sys/fs/mqueue/msg_max", "r");
    if (f) {
        long m;
        if (fscanf(f, "%ld", &m) == 1 && m > 0 && m < depth) depth = m;
        fclose(f);
    }
    for (; depth >= 1; depth /= 2) {
        mqd_t q = mq_make(BIG, depth);
        if (q != (mqd_t)-1) { mq_close(q); mq_depth = depth; return; }
        if (errno != EINVAL && errno != ENOMEM && errno != EMFILE) break;
    }
    die("mq_open: %s (no POSIX message queue of %u-byte messages)", strerror(errno), BIG);
}

static void t_open(transport *t, int kind, size_t size)
{
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->size = size;
    t->rd = t->wr = -1;
    int fds[2];
    switch (kind) {
    case T_KCHAN: {
        kchan_shared_opts o = kopts(size);
        t->region_size = kchan_shared_region_size(size, cap_cells, o.peers);
        t->region = mmap(NULL, t->region_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (t->region == MAP_FAILED) die("mmap: %s", strerror(errno));
        int r = kchan_create_shared(&t->ch, t->region, t->region_size, &o);
        if (r != KCHAN_OK) die("kchan_create_shared: %s", kchan_strerror(r));
        break;
    }
    case T_PIPE:
        if (pipe(fds) != 0) die("pipe: %s", strerror(errno));
        t->rd = fds[0]; t->wr = fds[1];
        break;
    case T_SOCK:
        if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) != 0) die("socketpair: %s", strerror(errno));
        t->rd = fds[0]; t->wr = fds[1];
        break;
    default:
        t->mq = mq_make(size, mq_depth);
        if (t->mq == (mqd_t)-1) die("mq_open: %s", strerror(errno));
    }
}

/* In a producer (consumer = false) or a consumer: drop the other side's end, attach. */
static void t_child(transport *t, bool consumer, side_result *r)
{
    if (t->kind == T_PIPE || t->kind == T_SOCK) {
        close(consumer ? t->wr : t->rd);
        if (consumer) t->wr = -1; else t->rd = -1;
    } else if (t->kind == T_KCHAN && consumer) {
        kchan_shared_opts o = kopts(t->size);
        const char *why = NULL;
        int st = kchan_attach(&t->ch, t->region, t->region_size, &o, &why);
        if (st != KCHAN_OK) child_fail(r, "kchan_attach: %s (%s)", kchan_strerror(st), why);
    }
}

/* One message out: 0, or -1 with the reason in r. */
static int t_put(transport *t, const void *m, side_result *r)
{
    ssize_t n;
    switch (t->kind) {
    case T_KCHAN: {
        int st = kchan_send(t->ch, m);
        if (st == KCHAN_OK) return 0;
        snprintf(r->why, sizeof r->why, "kchan_send: %s", kchan_strerror(st));
        return -1;
    }
    case T_PIPE: n = write(t->wr, m, t->size); break;
    case T_SOCK: n = send(t->wr, m, t->size, 0); break;
    default:
        if (mq_send(t->mq, m, t->size, 0) == 0) return 0;
        snprintf(r->why, sizeof r->why, "mq_send: %s", strerror(errno));
        return -1;
    }
    if (n == (ssize_t)t->size) return 0;
    snprintf(r->why, sizeof r->why, "write/send gave %zd of %zu bytes: %s", n, t->size, n < 0 ? strerror(errno) : "short");
    return -1;
}

/* One message in: 1, 0 at the end, -1 with the reason in r. */
static int t_get(transport *t, void *m, side_result *r)
{
    ssize_t n;
    switch (t->kind) {
    case T_KCHAN: {
        int st = kchan_recv(t->ch, m);
        if (st == KCHAN_OK) return 1;
        if (st == KCHAN_CLOSED) return 0;
        snprintf(r->why, sizeof r->why, "kchan_recv: %s", kchan_strerror(st));
        return -1;
    }
    case T_PIPE: n = read(t->rd, m, t->size); break;
    case T_SOCK: n = recv(t->rd, m, t->size, 0); break;
    default:
        n = mq_receive(t->mq, m, t->size, NULL);
        if (n == (ssize_t)t->size) return *(const uint64_t *)m == SENTINEL ? 0 : 1;
    }
    if (n == (ssize_t)t->size) return 1;
    if (n == 0 && t->kind != T_MQ) return 0;
    snprintf(r->why, sizeof r->why, "read/recv gave %zd of %zu bytes: %s", n, t->size, n < 0 ? strerror(errno) : "short");
    return -1;
}

/* In the parent, the producers gone: the consumers' end of the stream. */
static void t_end(transport *t, int consumers)
{
    if (t->kind == T_KCHAN) {
        if (kchan_close(t->ch) != KCHAN_OK) die("kchan_close: closed already?");
    } else if (t->kind == T_MQ) {
        uint64_t *m = aligned_alloc(64, BIG);
        if (!m) die("out of memory");
        fill(m, t->size, SENTINEL);
        struct timespec until;         /* a live consumer takes them at once; a dead one never */
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        for (int i = 0; i < consumers; i++)
            if (mq_timedsend(t->mq, (const char *)m, t->size, 0, &until) != 0)
                die("%s: mq_send (end of stream): %s", running, strerror(errno));
        free(m);
    }
}

static void t_free(transport *t)
{
    if (t->kind == T_KCHAN) {
        kchan_destroy(t->ch);
        munmap(t->region, t->region_size);
    }
    if (t->rd >= 0) close(t->rd);
    if (t->wr >= 0) close(t->wr);
    if (t->kind == T_MQ) mq_close(t->mq);
}

/* ---- one run ------------------------------------------------------------------------------ */

typedef struct { double rate, cpu, csw; } sample;   /* msgs/s, CPU s per M msgs, csw per msg */

/* A row: its processes, its message size and count (per producer), and the expected
   sum and xor over every key. */
typedef struct {
    const char *name;
    int producers, consumers;
    size_t size;
    uint64_t per_producer;
    uint64_t sum, x;
} row;

static void producer(transport *t, const row *w, uint32_t id, side_result *r)
{
    uint64_t *m = aligned_alloc(64, BIG);
    if (!m) child_fail(r, "out of memory");
    for (uint64_t seq = 0; seq < w->per_producer; seq++) {
        fill(m, w->size, key_of(id, seq));
        if (t_put(t, m, r) != 0) { r->failed = 1; _exit(1); }
    }
    r->count = w->per_producer;
    if (t->kind == T_KCHAN) kchan_destroy(t->ch);
    _exit(0);
}

static void consumer(transport *t, const row *w, side_result *r)
{
    uint64_t *m = aligned_alloc(64, BIG);
    if (!m) child_fail(r, "out of memory");
    uint64_t next[MAX_SIDE] = { 0 }, count = 0, sum = 0, x = 0;
    int got;
    while ((got = t_get(t, m, r)) == 1) {
        uint64_t key = m[0], id = key >> 48, seq = key & SEQ_MASK;
        if (id >= (uint64_t)w->producers || seq >= w->per_producer)
            child_fail(r, "message %llu: no such producer/sequence (key %#llx)", (unsigned long long)count,
                       (unsigned long long)key);
        if (!filled(m, w->size, key))
            child_fail(r, "message %llu (producer %llu, seq %llu): wrong content", (unsigned long long)count,
                       (unsigned long long)id, (unsigned long long)seq);
        if (seq < next[id])
            child_fail(r, "producer %llu's seq %llu came after its seq %llu (not FIFO)", (unsigned long long)id,
                       (unsigned long long)seq, (unsigned long long)next[id] - 1);
        next[id] = seq + 1;
        uint64_t h = mix(key);
        count++; sum += h; x ^= h;
    }
    if (got < 0) { r->failed = 1; _exit(1); }
    r->count = count; r->sum = sum; r->x = x;
    if (t->kind == T_KCHAN) kchan_destroy(t->ch);
    _exit(0);
}

static double secs(struct timeval a) { return (double)a.tv_sec + (double)a.tv_usec / 1e6; }

/* Waits for the run's workers (pids: the producers, then the consumers) in the order they
   end; once every producer has, ends the stream (t_end). The first that fails (or a
   failure of t_end) kills the others and ends the program, with every reason a worker gave. */
static void reap_all(transport *t, const row *w, const pid_t *pids, const results *res)
{
    int n = w->producers + w->consumers, producers_left = w->producers;
    for (int left = n; left > 0;) {
        int st;
        pid_t p = waitpid(-1, &st, 0);
        if (p < 0) {
            if (errno == EINTR) continue;
            die("%s: waitpid: %s", running, strerror(errno));
        }
        int i = 0;
        while (i < n && pids[i] != p) i++;
        if (i == n) continue;          /* not one of ours */
        for (int k = 0; k < n_live; k++)
            if (live[k] == p) live[k] = 0;
        bool cons = i >= w->producers;
        int k = cons ? i - w->producers : i;
        const side_result *r = cons ? &res->cons[k] : &res->prod[k];
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || r->failed) {
            if (WIFSIGNALED(st)) die("%s: %s %d died of signal %d", running, cons ? "consumer" : "producer", k, WTERMSIG(st));
            die("%s: %s %d exited with status %d", running, cons ? "consumer" : "producer", k, WEXITSTATUS(st));
        }
        left--;
        if (!cons && --producers_left == 0) t_end(t, w->consumers);
    }
}

static sample run(int kind, const row *w, results *res)
{
    static char label[128];
    snprintf(label, sizeof label, "%s, %s", w->name, tname[kind]);
    running = label;
    memset(res, 0, sizeof *res);
    res_now = res;
    transport t;
    t_open(&t, kind, w->size);
    int ready[2], go[2];
    if (pipe(ready) != 0 || pipe(go) != 0) die("pipe: %s", strerror(errno));
    int n = w->producers + w->consumers;
    pid_t pids[2 * MAX_SIDE], parent = getpid();
    struct rusage r0, r1;
    getrusage(RUSAGE_CHILDREN, &r0);
    alarm(RUN_LIMIT_S);
    for (int i = 0; i < n; i++) {
        bool cons = i >= w->producers;
        int k = cons ? i - w->producers : i;
        side_result *r = cons ? &res->cons[k] : &res->prod[k];
        fflush(NULL);
        if ((pids[i] = fork()) < 0) die("fork: %s", strerror(errno));
        if (pids[i] > 0) live[n_live++] = pids[i];
        if (pids[i] == 0) {
            n_live = 0;
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(99);
            alarm(0);
            close(ready[0]); close(go[1]);
            t_child(&t, cons, r);
            char c = 1;
            if (write(ready[1], &c, 1) != 1) child_fail(r, "ready: %s", strerror(errno));
            close(ready[1]);           /* the parent's read ends when every child is ready or dead */
            if (read(go[0], &c, 1) != 0) child_fail(r, "go: not EOF");   /* the start: the parent closes go */
            close(go[0]);
            if (cons) consumer(&t, w, r);
            else producer(&t, w, (uint32_t)k, r);
        }
    }
    close(ready[1]); close(go[0]);
    if (t.kind == T_PIPE || t.kind == T_SOCK) { close(t.wr); t.wr = -1; }   /* EOF once the producers exit */
    for (int got = 0; got < n;) {
        char c[8];
        ssize_t k = read(ready[0], c, sizeof c);
        if (k <= 0) break;             /* a child failed before it was ready: reaped below */
        got += (int)k;
    }
    close(ready[0]);
    int64_t t0 = kchan_now_ns();
    close(go[1]);                      /* go */
    reap_all(&t, w, pids, res);
    int64_t t1 = kchan_now_ns();
    alarm(0);
    n_live = 0;
    getrusage(RUSAGE_CHILDREN, &r1);

    uint64_t total = (uint64_t)w->producers * w->per_producer, count = 0, sum = 0, x = 0;
    for (int i = 0; i < w->consumers; i++) { count += res->cons[i].count; sum += res->cons[i].sum; x ^= res->cons[i].x; }
    for (int i = 0; i < w->producers; i++)
        if (res->prod[i].count != w->per_producer) die("%s: producer %d sent %llu", label, i, (unsigned long long)res->prod[i].count);
    if (count != total) die("%s: the consumers received %llu messages, %llu were sent", label,
                            (unsigned long long)count, (unsigned long long)total);
    if (sum != w->sum || x != w->x) die("%s: %llu messages received, but not the ones sent (checksum)", label,
                                        (unsigned long long)count);
    if (kind == T_KCHAN) {
        kchan_stats s;
        memset(&s, 0, sizeof s);
        s.version = KCHAN_STATS_VERSION;
        kchan_stats_get(t.ch, &s);
        if (s.sends != total || s.recvs != total || s.len != 0 || !s.closed || s.lost_sending || s.lost_receiving ||
            s.undelivered || s.drops_newest || s.drops_oldest)
            die("%s: stats disagree: sends %llu recvs %llu len %zu closed %d lost %llu/%llu", label,
                (unsigned long long)s.sends, (unsigned long long)s.recvs, s.len, (int)s.closed,
                (unsigned long long)s.lost_sending, (unsigned long long)s.lost_receiving);
    }
    t_free(&t);

    sample sm;
    sm.rate = (double)total / ((double)(t1 - t0) / 1e9);
    sm.cpu = (secs(r1.ru_utime) - secs(r0.ru_utime) + secs(r1.ru_stime) - secs(r0.ru_stime)) / (double)total * 1e6;
    sm.csw = (double)(r1.ru_nvcsw - r0.ru_nvcsw + r1.ru_nivcsw - r0.ru_nivcsw) / (double)total;
    return sm;
}

/* ---- tables ------------------------------------------------------------------------------- */

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Runs the row's four transports `reps` times, prints its table; kchan / pipe. */
static double table(row *w, int reps, results *res)
{
    static double v[3][N_T][50];
    w->sum = w->x = 0;
    for (int p = 0; p < w->producers; p++)
        for (uint64_t s = 0; s < w->per_producer; s++) { uint64_t h = mix(key_of((uint32_t)p, s)); w->sum += h; w->x ^= h; }
    uint64_t total = (uint64_t)w->producers * w->per_producer;
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < N_T; k++) {
            int c = (k + r) % N_T;
            sample s = run(c, w, res);
            v[0][c][r] = s.rate; v[1][c][r] = s.cpu; v[2][c][r] = s.csw;
        }
    }
    printf("\n%s: %d producer%s, %d consumer%s (processes), %llu messages of %zu B, medians of %d\n", w->name,
           w->producers, w->producers > 1 ? "s" : "", w->consumers, w->consumers > 1 ? "s" : "",
           (unsigned long long)total, w->size, reps);
    printf("%-26s %12s %10s %9s %14s %10s\n", "transport", "msgs/s", "MB/s", "vs pipe", "CPU s/M msgs", "csw/msg");
    double m[N_T][3];
    for (int c = 0; c < N_T; c++)
        for (int i = 0; i < 3; i++) m[c][i] = median(v[i][c], reps);
    for (int c = 0; c < N_T; c++)
        printf("%-26s %12.0f %10.1f %8.2fx %14.3f %10.3f\n", tname[c], m[c][0], m[c][0] * (double)w->size / 1e6,
               m[c][0] / m[T_PIPE][0], m[c][1], m[c][2]);
    fflush(stdout);
    return m[T_KCHAN][0] / m[T_PIPE][0];
}

int main(int argc, char **argv)
{
    int reps = 5;
    uint64_t scale = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) { scale = 10; reps = 1; }
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cap") && i + 1 < argc) cap_cells = (unsigned)atoi(argv[++i]);
        else { fprintf(stderr, "usage: %s [--quick] [--reps N] [--cap CELLS]\n", argv[0]); return 2; }
    }
    if (reps < 1 || reps > 50) die("--reps: 1 to 50");
    if (cap_cells < 1 || cap_cells > (1u << 20)) die("--cap: 1 to 1048576");
    signal(SIGALRM, on_alarm);
    probe_mq();
    results *res = mmap(NULL, sizeof(results), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (res == MAP_FAILED) die("mmap: %s", strerror(errno));
    int fds[2];
    long pipe_bytes = -1;
    int sndbuf = -1;
    socklen_t sl = sizeof sndbuf;
    if (pipe(fds) == 0) { pipe_bytes = fcntl(fds[0], F_GETPIPE_SZ); close(fds[0]); close(fds[1]); }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0) {
        (void)getsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl);
        close(fds[0]); close(fds[1]);
    }
    printf("shm_ring: bounded channels between processes, one message per call\n");
    printf("kchan ring %u cells; pipe %ld B; Unix socket SOCK_SEQPACKET, SO_SNDBUF %d B; mqueue %ld messages (msg_max)\n",
           cap_cells, pipe_bytes, sndbuf, mq_depth);

    row rows[] = {
        { "SPSC 8 B", 1, 1, 8, 500000 / scale, 0, 0 },
        { "SPSC 4 KiB", 1, 1, BIG, 200000 / scale, 0, 0 },
        { "MPMC 8 B", 2, 2, 8, 250000 / scale, 0, 0 },      /* per producer: the same totals */
        { "MPMC 4 KiB", 2, 2, BIG, 100000 / scale, 0, 0 },
    };
    enum { N_ROWS = sizeof rows / sizeof rows[0] };
    double ratio[N_ROWS];
    for (int i = 0; i < N_ROWS; i++) ratio[i] = table(&rows[i], reps, res);
    printf("\n");
    for (int i = 0; i < N_ROWS; i++) {
        printf("kchan / pipe on %s: %.2fx", rows[i].name, ratio[i]);
        if (rows[i].size == 8) printf(" (goal >= 10x: %s)", ratio[i] >= 10 ? "met" : "NOT met");
        printf("\n");
    }
    munmap(res, sizeof(results));
    return 0;
}
