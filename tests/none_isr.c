/* none_isr.c — KCHAN_PLATFORM_NONE shared with an interrupt handler, checked on the host
 * (`make test-none`). A signal handler plays the interrupt: an interval timer (setitimer,
 * every 20 microseconds) raises SIGALRM, and the kernel runs the handler between any two
 * instructions of the main loop, as an interrupt would. The critical-section hooks of the
 * recipe in kchan.h's doc block are sigprocmask block/unblock of SIGALRM (the host's
 * "disable interrupts").
 *
 *   isr_producer: the handler try_sends 0, 1, 2, ... (a full channel: it retries that number
 *                 at the next signal); the main loop peeks, try_recvs and reads len.
 *   isr_consumer: the main loop try_sends 0, 1, 2, ...; the handler peeks and try_recvs.
 * Each checks that every number arrives once and in order, that a peek shows what the next
 * receive gets, that len never exceeds the capacity, and that the stats agree at the end
 * (sends == recvs == the numbers accepted). A drop-oldest run checks the same with gaps
 * allowed, every gap counted by on_undelivered.
 *
 * Built with -DNONE_ISR_NO_HOOKS it runs the same without the hooks: it is expected to
 * fail there (a lost, repeated or torn element), which shows what the hooks are for; the
 * Makefile target `none-isr-nohooks` runs it and reports, without failing.
 *
 *   timers:       a 200 us tick in caller memory, received by the handler and the main loop
 *                 at once: every instant once, on the grid, in order; the skipped ones
 *                 counted; an after and a never beside it (KCHAN_NOW_NS is the host clock).
 *
 * Also here: kchan_dump formats its numbers without printf (newlib-nano has no %llu or
 * %zu); its line is checked against one printf builds, for normal and extreme values. */
#include <stddef.h>
#ifndef NONE_ISR_NO_HOOKS
static unsigned crit_enter(void);
static void crit_exit(unsigned key);
#  define KCHAN_NONE_CRITICAL_ENTER() crit_enter()
#  define KCHAN_NONE_CRITICAL_EXIT(k) crit_exit(k)
#endif
#include <stdint.h>
static int64_t host_now_ns(void);
#define KCHAN_NOW_NS() host_now_ns()
#define KCHAN_PLATFORM_NONE
#define KCHAN_NO_UNLIMITED
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static int64_t host_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int failed;
#define CHECK(x) do { if (!(x)) { failed++; fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #x); } } while (0)
/* Inside the handler: no stdio; remember the first failure and let the main loop report. */
static volatile sig_atomic_t isr_bad_line;
#define ISR_CHECK(x) do { if (!(x) && !isr_bad_line) isr_bad_line = __LINE__; } while (0)

/* The hooks: block SIGALRM (mask the interrupt) and say whether it was blocked already, so
   nested sections (select's) and a section inside the handler restore what they found. */
#ifndef NONE_ISR_NO_HOOKS
static unsigned crit_enter(void)
{
    sigset_t irq, old;
    sigemptyset(&irq);
    sigaddset(&irq, SIGALRM);
    sigprocmask(SIG_BLOCK, &irq, &old);
    return sigismember(&old, SIGALRM) ? 1u : 0u;
}
static void crit_exit(unsigned key)
{
    if (key) return;
    sigset_t irq;
    sigemptyset(&irq);
    sigaddset(&irq, SIGALRM);
    sigprocmask(SIG_UNBLOCK, &irq, NULL);
}
#endif

enum { CAP = 8 };
static uint32_t total = 20000;            /* numbers per run (argv[1] overrides) */
static kchan_t *ch;
static unsigned char ch_mem[KCHAN_FOOTPRINT(sizeof(uint32_t), CAP)];
static volatile uint32_t irqs;            /* handler runs in this run */
static struct timespec started;

/* What the handler does, per run. */
static volatile sig_atomic_t role;        /* 0 idle, 1 produce, 2 consume */
static volatile uint32_t isr_next;        /* producer: the next number to send */
static volatile uint32_t isr_got;         /* consumer: numbers received */
static volatile uint32_t isr_expect;      /* consumer: the next number due */
static volatile uint32_t undelivered_seen;
static kchan_t *tick;                     /* role 3: the tick both sides receive */
static volatile int64_t tick_last;        /* the latest instant received, by either side (0: none) */
static const int64_t tick_period = 200000;  /* 200 us: several per irq burst */
static volatile uint32_t tick_isr_got;
static volatile int tick_order_bad;

static void on_irq(int sig)
{
    (void)sig;
    irqs++;
    if (role == 1 && isr_next < total) {
        uint32_t v = isr_next;
        if (kchan_try_send(ch, &v) == KCHAN_OK) isr_next = v + 1;
    } else if (role == 2) {
        uint32_t p, v;
        int rp = kchan_peek(ch, &p);
        int r = kchan_try_recv(ch, &v);
        ISR_CHECK(rp == r);
        if (r == KCHAN_OK) {
            ISR_CHECK(p == v);
            ISR_CHECK(v == isr_expect);
            isr_expect = v + 1;
            isr_got++;
        }
    } else if (role == 3) {
        int64_t at;
        if (kchan_try_recv(tick, &at) == KCHAN_OK) {
            ISR_CHECK(!tick_last || (at > tick_last && (at - tick_last) % tick_period == 0));
            tick_last = at;
            tick_isr_got++;
        }
    }
}

static void count_undelivered(void *elem, void *user)
{
    (void)elem; (void)user;
    undelivered_seen++;
}

static void irq_timer(long period_us)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_interval.tv_usec = period_us;
    it.it_value.tv_usec = period_us;
    setitimer(ITIMER_REAL, &it, NULL);
}
static void start_irqs(void)
{
    irqs = 0;
    clock_gettime(CLOCK_MONOTONIC, &started);
    irq_timer(20);
}
static void stop_irqs(void) { irq_timer(0); }
/* A wedged run fails instead of hanging. */
static bool too_long(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - started.tv_sec < 60) return false;
    fprintf(stderr, "none_isr: no progress for 60 s\n");
    failed++;
    return true;
}

static void make_channel(kchan_overflow policy)
{
    kchan_opts o;
    memset(&o, 0, sizeof o);
    o.capacity = CAP;
    o.overflow = policy;
    o.on_undelivered = count_undelivered;
    CHECK(kchan_create_in(&ch, ch_mem, sizeof ch_mem, sizeof(uint32_t), &o) == KCHAN_OK);
}

/* The handler produces; the main loop consumes. With drop-oldest the handler never finds the
   channel full and the main loop sees gaps: each one an element on_undelivered got. */
static void isr_producer(kchan_overflow policy)
{
    make_channel(policy);
    isr_next = 0;
    undelivered_seen = 0;
    uint32_t expect = 0, got = 0, gaps = 0;
    bool all_sent = false;
    role = 1;
    start_irqs();
    while (!failed && !isr_bad_line && ((got & 0xfff) || !too_long())) {
        uint32_t p, v;
        CHECK(kchan_len(ch) <= CAP);
        int rp = kchan_peek(ch, &p);
        int r = kchan_try_recv(ch, &v);
        /* Only we take elements; a drop-oldest handler may evict the one we peeked. */
        if (rp == KCHAN_OK) CHECK(r == KCHAN_OK && (policy == KCHAN_BLOCK ? v == p : v >= p));
        if (r != KCHAN_OK) {
            if (all_sent) break;          /* empty after the handler's last send: all taken */
            all_sent = isr_next == total;
            continue;
        }
        if (policy == KCHAN_BLOCK) {
            if (v != expect) {
                fprintf(stderr, "isr_producer: received %" PRIu32 ", expected %" PRIu32 "\n", v, expect);
                failed++;
            }
        } else {
            CHECK(v >= expect);
            gaps += v - expect;
        }
        expect = v + 1;
        got++;
    }
    stop_irqs();
    role = 0;
    kchan_stats s;
    kchan_stats_get(ch, &s);
    if (policy == KCHAN_BLOCK) {
        CHECK(got == total && s.sends == total && s.recvs == total && s.drops_oldest == 0);
    } else {
        CHECK(s.sends == total && s.recvs == got && s.drops_oldest == gaps &&
              undelivered_seen == gaps && got + gaps == total);
    }
    CHECK(s.len == 0 && s.max_len <= CAP && kchan_len(ch) == 0);
    printf("isr_producer (%s): %" PRIu32 " received in order, %" PRIu32 " dropped by the policy, %" PRIu32 " interrupts\n",
           policy == KCHAN_BLOCK ? "block" : "drop_oldest", got, gaps, (uint32_t)irqs);
    kchan_destroy(ch);
}

/* The main loop produces; the handler consumes. */
static void isr_consumer(void)
{
    make_channel(KCHAN_BLOCK);
    isr_got = 0;
    isr_expect = 0;
    role = 2;
    start_irqs();
    uint32_t next = 0;
    for (uint32_t spins = 1; !failed && !isr_bad_line && isr_got < total; spins++) {
        if ((spins & 0xffff) == 0 && too_long()) break;
        CHECK(kchan_len(ch) <= CAP);
        if (next < total && kchan_try_send(ch, &next) == KCHAN_OK) next++;
    }
    stop_irqs();
    role = 0;
    kchan_stats s;
    kchan_stats_get(ch, &s);
    CHECK(isr_got == total && next == total);
    CHECK(s.sends == total && s.recvs == total && s.len == 0 && s.max_len <= CAP);
    printf("isr_consumer: %" PRIu32 " received in order by the handler, %" PRIu32 " interrupts\n",
           (uint32_t)isr_got, (uint32_t)irqs);
    kchan_destroy(ch);
}

/* ---- kchan_dump without printf ------------------------------------------------------- */
static char want[1024];
static void want_line(const kchan_t *c, const char *kind, const char *policy, const kchan_stats *s)
{
    char name[64];
    if (c->name) snprintf(name, sizeof name, "%s", c->name);
    else snprintf(name, sizeof name, "%p", (const void *)c);
    snprintf(want, sizeof want,
             "chan=%s kind=%s policy=%s cap=%zu len=%zu max_len=%zu sends=%llu recvs=%llu"
             " drops_newest=%llu drops_oldest=%llu undelivered=%llu send_full=%llu recv_empty=%llu"
             " timeouts=%llu cancelled_waiters=%llu blocked_sends=%llu blocked_recvs=%llu"
             " waiting_senders=%lu waiting_receivers=%lu state=%s",
             name, kind, policy, s->cap, s->len, s->max_len, (unsigned long long)s->sends,
             (unsigned long long)s->recvs, (unsigned long long)s->drops_newest,
             (unsigned long long)s->drops_oldest, (unsigned long long)s->undelivered,
             (unsigned long long)s->send_full, (unsigned long long)s->recv_empty,
             (unsigned long long)s->timeouts, (unsigned long long)s->cancelled_waiters,
             (unsigned long long)s->blocked_sends, (unsigned long long)s->blocked_recvs,
             (unsigned long)s->waiting_senders, (unsigned long)s->waiting_receivers,
             s->closed ? "closed" : "open");
}

static void dump_numbers(void)
{
    static unsigned char mem[KCHAN_FOOTPRINT(4, 3)];
    kchan_t *c;
    kchan_opts o;
    memset(&o, 0, sizeof o);
    o.capacity = 3;
    o.overflow = KCHAN_DROP_NEWEST;
    CHECK(kchan_create_in(&c, mem, sizeof mem, 4, &o) == KCHAN_OK);
    int v = 1;
    for (int i = 0; i < 5; i++) CHECK(kchan_try_send(c, &v) == KCHAN_OK);
    CHECK(kchan_try_recv(c, &v) == KCHAN_OK);
    char line[1024];
    kchan_stats s;
    kchan_stats_get(c, &s);
    want_line(c, "bounded", "drop_newest", &s);
    CHECK(kchan_dump(c, line, sizeof line) == (int)strlen(want));
    if (strcmp(line, want) != 0) { failed++; fprintf(stderr, "dump:\n  got  %s\n  want %s\n", line, want); }
    CHECK(strstr(line, " sends=5 recvs=1 drops_newest=2 ") != NULL);

    /* Extreme values, set behind the channel's back (this file is the implementation). */
    c->mx.sends = UINT64_MAX;
    c->mx.recvs = UINT64_MAX - 1;
    c->m.drops_oldest = 10000000000000000000u;
    c->m.timeouts = 4294967296u;                      /* 2^32: past 32 bits */
    c->m.waiting_senders = UINT32_MAX;
    c->mx.len = SIZE_MAX;
    c->m.max_len = (size_t)1000000000;
    c->capacity = SIZE_MAX - 2;
    c->name = "big one";
    kchan_stats_get(c, &s);
    want_line(c, "bounded", "drop_newest", &s);
    /* the name's space is written as '_' */
    char *sp = strstr(want, "big one");
    if (sp) sp[3] = '_';
    CHECK(kchan_dump(c, line, sizeof line) == (int)strlen(want));
    if (strcmp(line, want) != 0) { failed++; fprintf(stderr, "dump:\n  got  %s\n  want %s\n", line, want); }
    CHECK(strstr(line, " sends=18446744073709551615 recvs=18446744073709551614 ") != NULL);
    CHECK(strstr(line, " timeouts=4294967296 ") != NULL);
    /* truncation still counts the whole line and terminates what fits */
    char small[16];
    CHECK(kchan_dump(c, small, sizeof small) == (int)strlen(want) && small[15] == '\0' &&
          strncmp(small, want, 15) == 0);
    kchan_destroy(c);
    printf("dump: numbers formatted without printf match printf's (normal and 2^64 - 1)\n");
}

/* The footprint is the channel header and the ring, exactly, plus alignment slack. */
static void footprint_exact(void)
{
    size_t a = KCHAN__CREATE_IN_ALIGN, fp = KCHAN_FOOTPRINT(4, 16);
    static union { max_align_t align; unsigned char b[KCHAN_FOOTPRINT(4, 16) + 64]; } mem;
    kchan_t *c;
    kchan_opts o;
    memset(&o, 0, sizeof o);
    o.capacity = 16;
    CHECK(fp == a - 1 + (sizeof(struct kchan) + a - 1) / a * a + 16 * 4);
    CHECK(kchan_create_in(&c, mem.b, fp - (a - 1), 4, &o) == KCHAN_OK);     /* aligned: no slack */
    CHECK(kchan_create_in(&c, mem.b, fp - a, 4, &o) == KCHAN_INVAL);        /* one byte short */
    for (size_t skew = 1; skew < a; skew++)
        CHECK(kchan_create_in(&c, mem.b + skew, fp, 4, &o) == KCHAN_OK);
    printf("footprint: KCHAN_FOOTPRINT(4, 16) = %zu (header %zu, align %zu)\n", fp, sizeof(struct kchan), a);
}

#ifndef NONE_ISR_NO_HOOKS
/* Timers on _NONE: they work from KCHAN_NOW_NS, and with the hooks a handler may receive
   from one while the main loop does (each side's receive and its check of the order sit in
   one critical section, so they are one step as the other side sees them). */
static void timers(void)
{
    static unsigned char tick_mem[KCHAN_TIMER_FOOTPRINT], after_mem[KCHAN_TIMER_FOOTPRINT],
                         never_mem[KCHAN_TIMER_FOOTPRINT];
    kchan_t *after, *never;
    const int64_t period = tick_period;
    int64_t t0 = host_now_ns(), at = 0, first = 0;
    CHECK(kchan_tick_in(&tick, tick_mem + 1, sizeof tick_mem - 1, period) == KCHAN_INVAL);  /* short */
    CHECK(kchan_tick_in(&tick, tick_mem, sizeof tick_mem, 0) == KCHAN_INVAL);
    CHECK(kchan_tick_in(&tick, tick_mem, sizeof tick_mem, period) == KCHAN_OK);
    CHECK(kchan_after_in(&after, after_mem, sizeof after_mem, 3 * period) == KCHAN_OK);
    CHECK(kchan_never_in(&never, never_mem, sizeof never_mem) == KCHAN_OK);
    CHECK(kchan_try_send(tick, &at) == KCHAN_INVAL);
    CHECK(kchan_recv(after, &at) == KCHAN_WOULDBLOCK);    /* _NONE never waits */
    tick_last = 0;
    tick_isr_got = 0;
    uint32_t main_got = 0, after_got = 0;
    role = 3;
    start_irqs();
    while (host_now_ns() - t0 < 60 * period) {
        unsigned key = crit_enter();
        if (kchan_try_recv(tick, &at) == KCHAN_OK) {
            if (tick_last && (at <= tick_last || (at - tick_last) % period != 0)) tick_order_bad = 1;
            if (at < t0 + period || at > host_now_ns()) tick_order_bad = 1;   /* never early */
            tick_last = at;
            main_got++;
        }
        crit_exit(key);
        if (kchan_try_recv(after, &at) == KCHAN_OK) {
            after_got++;
            first = at;
        }
        CHECK(kchan_try_recv(never, &at) == KCHAN_WOULDBLOCK);
        kchan_stats s;
        kchan_stats_get(tick, &s);                   /* syncs the timer, then reads in a section */
        CHECK(s.len <= 1);
    }
    role = 0;
    stop_irqs();
    kchan_stats s;
    CHECK(kchan_close(tick) == KCHAN_OK);
    kchan_stats_get(tick, &s);
    CHECK(!tick_order_bad);
    CHECK(after_got == 1 && first >= t0 + 3 * period);
    CHECK(s.recvs == main_got + tick_isr_got);
    CHECK(s.sends == s.recvs + s.drops_oldest + s.len && s.drops_newest == 0 && s.undelivered == 0);
    CHECK(s.sends >= 59);                                /* the instants due in 60 periods */
    CHECK(main_got > 0 && tick_isr_got > 0);
    printf("timers: tick of %d us over %d ms: %" PRIu64 " due, %u received by the main loop, %u by"
           " the handler, %" PRIu64 " skipped; after fired once; never never\n",
           (int)(period / 1000), (int)(60 * period / 1000000), s.sends, main_got,
           (unsigned)tick_isr_got, s.drops_oldest);
    kchan_destroy(tick);
    kchan_destroy(after);
    kchan_destroy(never);
}
#endif

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1) total = (uint32_t)strtoul(argv[1], NULL, 10);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_irq;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);

    dump_numbers();
    footprint_exact();
    isr_producer(KCHAN_BLOCK);
    if (!failed && !isr_bad_line) isr_consumer();
    if (!failed && !isr_bad_line) isr_producer(KCHAN_DROP_OLDEST);
#ifndef NONE_ISR_NO_HOOKS
    if (!failed && !isr_bad_line) timers();
#endif
    if (isr_bad_line) { failed++; fprintf(stderr, "%s:%d: a check in the handler failed\n", __FILE__, (int)isr_bad_line); }
#ifdef NONE_ISR_NO_HOOKS
    printf("none_isr (no hooks): %s\n", failed ? "FAILED, as a channel shared with a handler without the hooks may" : "no failure seen this run");
#else
    printf("none_isr: %s\n", failed ? "FAILED" : "all passed");
#endif
    return failed ? 1 : 0;
}
