/* Soak (`make stress-soak`): many threads doing a random mix of every operation over channels
 * of every kind and policy, in rounds, with random stalls; built under TSan and under ASan.
 *
 * Each round: fresh channels (rendezvous, bounded 1 and 4 block, bounded 3 drop-newest and
 * drop-oldest, unlimited, conflated, and a bounded 2 in caller memory), SOAK_P producers doing
 * send / try_send / send_timeout / send_many / select-send, SOAK_C consumers doing recv /
 * try_recv / recv_timeout / recv_many / select-recv / peek, and a chaos thread that closes,
 * close_with's or cancels a channel now and then and reads stats/dump/len all along. Stalls
 * are sched_yield loops and short nanosleeps (stalls only: nothing here relies on timing for
 * ordering). At the end of the round the main thread closes or cancels every channel and joins
 * every thread within a bound (a thread still blocked after close fails the run).
 *
 * Checks: every element is (producer, channel, seq, tag); per (producer, channel) the accepted
 * sequence numbers are exactly 0..n-1 and each of them is received exactly once or handed to
 * on_undelivered exactly once; each consumer sees each producer's elements on each channel in
 * increasing order; stats: sends == accepted, recvs == received, sends == recvs + drops +
 * undelivered + len, nothing parked; on_undelivered ran drops + undelivered times; close_with's
 * reason sticks; no allocation outlives its channel. Totals are printed at the end.
 *
 * Usage: soak [seconds]   (default: $SOAK_SECONDS, else 60)
 *        soak --messages N [--max-seconds S]   volume mode: rounds until N messages were
 *        accepted (and checked as above), then print the count; fails if S seconds (default 1500)
 *        pass first. Same threads, channels, ops and checks; the mix leans on send_many /
 *        recv_many with batches up to VBATCH and stalls 1 op in 512 instead of 1 in 16, since
 *        what limits the plain mix is syscalls: parks, expiring timeouts, yields and sleeps. */
#include "../kchan.h"
#include "alloc_hooks.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>

#define SOAK_P 4
#define SOAK_C 3
#define NCH 8
#define SEQ_MAX (1u << 17)
#define US (INT64_C(1000))
#define MS (INT64_C(1000000))
#define VBATCH 32
static int volume;             /* --messages: bulk-heavy mix, rare stalls */

#define DIE(...) do { fprintf(stderr, "soak: FAIL: "); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); \
                      fflush(stderr); abort(); } while (0)

typedef struct { uint32_t prod, chan; uint64_t seq, tag; } elem;

static uint64_t tag_of(uint32_t p, uint32_t c, uint64_t s)
{
    uint64_t x = ((uint64_t)p << 56) ^ ((uint64_t)c << 48) ^ s ^ 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
static elem mk(uint32_t p, uint32_t c, uint64_t s) { elem e = { p, c, s, tag_of(p, c, s) }; return e; }
static void validate(const elem *e, int ch, const char *where)
{
    if (e->prod >= SOAK_P || (int)e->chan != ch || e->seq >= SEQ_MAX || e->tag != tag_of(e->prod, e->chan, e->seq))
        DIE("%s: corrupt element on channel %d: prod %u chan %u seq %llu", where, ch, e->prod, e->chan,
            (unsigned long long)e->seq);
}

static uint32_t rnd(uint64_t *s)
{
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return (uint32_t)(*s >> 16);
}

/* ---- totals ---------------------------------------------------------------------------- */
enum { O_SEND, O_TRY_SEND, O_SEND_T, O_SEND_MANY, O_SEL_SEND, O_RECV, O_TRY_RECV, O_RECV_T,
       O_RECV_MANY, O_SEL_RECV, O_PEEK, O_KINDS };
static const char *const op_names[O_KINDS] = { "send", "try_send", "send_timeout", "send_many",
    "select_send", "recv", "try_recv", "recv_timeout", "recv_many", "select_recv", "peek" };
typedef struct { long long ops[O_KINDS], timeouts, wouldblocks, closed, moved, stalls; } counts;
static counts total;
static long long tot_closes, tot_cancels, tot_rounds, tot_drops, tot_undelivered, tot_sent;
static pthread_mutex_t total_lock = PTHREAD_MUTEX_INITIALIZER;
static void add_counts(const counts *c)
{
    pthread_mutex_lock(&total_lock);
    for (int i = 0; i < O_KINDS; i++) total.ops[i] += c->ops[i];
    total.timeouts += c->timeouts; total.wouldblocks += c->wouldblocks; total.closed += c->closed;
    total.moved += c->moved; total.stalls += c->stalls;
    pthread_mutex_unlock(&total_lock);
}

/* ---- one round ----------------------------------------------------------------------------- */
typedef struct {
    kchan_t *c[NCH];
    _Alignas(64) unsigned char mem[KCHAN_FOOTPRINT(sizeof(elem), 2)];
    atomic_uchar *hits;                 /* [SOAK_P][NCH][SEQ_MAX] */
    atomic_llong hits_total, undelivered_calls[NCH], received[NCH];
    uint64_t accepted[SOAK_P][NCH];
    atomic_int stop, chaos_reason_set[NCH], chaos_reason[NCH];
    uint64_t seed;
} round_t;

static atomic_uchar *hit(round_t *r, const elem *e)
{
    return &r->hits[((size_t)e->prod * NCH + e->chan) * SEQ_MAX + e->seq];
}
static void count_hit(round_t *r, const elem *e)
{
    atomic_fetch_add_explicit(hit(r, e), 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->hits_total, 1, memory_order_relaxed);
}

typedef struct { round_t *r; int ch; } cb_user;
static cb_user cb_users[NCH];
static void on_undelivered(void *p, void *user)
{
    cb_user *u = user;
    elem e;
    memcpy(&e, p, sizeof e);
    validate(&e, u->ch, "on_undelivered");
    count_hit(u->r, &e);
    atomic_fetch_add_explicit(&u->r->undelivered_calls[u->ch], 1, memory_order_relaxed);
}

static void stall(uint64_t *s, counts *k)
{
    uint32_t x = rnd(s) % 64;
    if (x < 60 || (volume && (rnd(s) & 31))) return;
    k->stalls++;
    if (x < 63) { for (uint32_t i = rnd(s) % 50; i; i--) sched_yield(); return; }
    struct timespec ts = { 0, (long)(1000 + rnd(s) % 50000) };
    nanosleep(&ts, NULL);
}
static int64_t pick_timeout(uint64_t *s)
{
    uint32_t x = rnd(s) % 32;
    if (x < 8 || (volume && x < 24)) return 0;   /* volume: fewer waits that expire */
    if (x < 18) return (int64_t)(rnd(s) % 50) * US;
    if (x < 31) return (int64_t)(rnd(s) % 2000) * US;
    return KCHAN_FOREVER;     /* released by a partner or by the close at the end of the round */
}

typedef struct { round_t *r; int id; counts k; } targ;

static void *producer(void *p)
{
    targ *a = p;
    round_t *r = a->r;
    uint64_t s = r->seed ^ (0x1000u * (unsigned)(a->id + 1)), next[NCH] = { 0 };
    int closed[NCH] = { 0 }, nclosed = 0;
    elem batch[VBATCH];
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed) && nclosed < NCH) {
        int ch = (int)(rnd(&s) % NCH), rc;
        if (closed[ch]) continue;
        uint32_t kind = rnd(&s) % 16;
        if (volume && kind >= 6 && kind < 9) kind = 3;   /* more send_many; keep send, try_send */
        if (kind < 3) {                                    /* select over 2..3 send cases */
            kchan_case cs[3];
            elem es[3];
            int n = 2 + (int)(rnd(&s) % 2), chs[3];
            for (int i = 0; i < n; i++) {
                chs[i] = i == 0 ? ch : (int)(rnd(&s) % NCH);
                es[i] = mk((uint32_t)a->id, (uint32_t)chs[i], next[chs[i]]);
                cs[i] = (kchan_case){ closed[chs[i]] ? NULL : r->c[chs[i]], KCHAN_OP_SEND, &es[i], -99 };
            }
            a->k.ops[O_SEL_SEND]++;
            rc = (rnd(&s) & 1) ? kchan_select(cs, (size_t)n, pick_timeout(&s))
                               : kchan_select_biased(cs, (size_t)n, pick_timeout(&s));
            if (rc >= 0) {
                int w = chs[rc];
                if (cs[rc].status == KCHAN_OK) next[w]++;
                else if (cs[rc].status == KCHAN_CLOSED) { closed[w] = 1; nclosed++; a->k.closed++; }
                else DIE("select send: case status %d", cs[rc].status);
                for (int i = 0; i < n; i++)
                    if (i != rc && cs[i].status != -99) DIE("select send: losing case %d has status %d", i, cs[i].status);
                /* a channel may appear twice: only the winner's seq was used */
            } else if (rc == KCHAN_TIMEDOUT) a->k.timeouts++;
            else if (rc == KCHAN_WOULDBLOCK) a->k.wouldblocks++;
            else DIE("select send: %s", kchan_strerror(rc));
        } else if (kind < 5) {                             /* send_many */
            size_t n = 1 + rnd(&s) % (volume ? VBATCH : 8), sent = 99;
            for (size_t i = 0; i < n; i++) batch[i] = mk((uint32_t)a->id, (uint32_t)ch, next[ch] + i);
            a->k.ops[O_SEND_MANY]++;
            rc = kchan_send_many(r->c[ch], batch, n, &sent, pick_timeout(&s));
            if (sent > n || (rc == KCHAN_OK && sent != n)) DIE("send_many: sent %zu of %zu, rc %d", sent, n, rc);
            next[ch] += sent;
            if (rc == KCHAN_CLOSED) { closed[ch] = 1; nclosed++; a->k.closed++; }
            else if (rc == KCHAN_TIMEDOUT) a->k.timeouts++;
            else if (rc == KCHAN_WOULDBLOCK) a->k.wouldblocks++;
            else if (rc != KCHAN_OK) DIE("send_many: %s", kchan_strerror(rc));
        } else {
            elem e = mk((uint32_t)a->id, (uint32_t)ch, next[ch]);
            int which = kind < 6 ? O_SEND : kind < 10 ? O_TRY_SEND : O_SEND_T;
            a->k.ops[which]++;
            rc = which == O_SEND ? kchan_send(r->c[ch], &e)
               : which == O_TRY_SEND ? kchan_try_send(r->c[ch], &e)
               : kchan_send_timeout(r->c[ch], &e, pick_timeout(&s));
            if (rc == KCHAN_OK) next[ch]++;
            else if (rc == KCHAN_CLOSED) { closed[ch] = 1; nclosed++; a->k.closed++; }
            else if (rc == KCHAN_TIMEDOUT) a->k.timeouts++;
            else if (rc == KCHAN_WOULDBLOCK) a->k.wouldblocks++;
            else DIE("send: %s", kchan_strerror(rc));
        }
        for (int i = 0; i < NCH; i++)
            if (!closed[i] && next[i] >= SEQ_MAX - 2 * VBATCH) { closed[i] = 1; nclosed++; }   /* out of numbers */
        stall(&s, &a->k);
    }
    for (int i = 0; i < NCH; i++) { r->accepted[a->id][i] = next[i]; }
    return NULL;
}

typedef struct { int64_t last[SOAK_P][NCH]; } order_t;
static void took(round_t *r, targ *a, order_t *o, const elem *e, int ch)
{
    validate(e, ch, "recv");
    if ((int64_t)e->seq <= o->last[e->prod][ch])
        DIE("FIFO: consumer %d got producer %u's seq %llu on channel %d after seq %lld", a->id, e->prod,
            (unsigned long long)e->seq, ch, (long long)o->last[e->prod][ch]);
    o->last[e->prod][ch] = (int64_t)e->seq;
    count_hit(r, e);
    atomic_fetch_add_explicit(&r->received[ch], 1, memory_order_relaxed);
    a->k.moved++;
}

static void *consumer(void *p)
{
    targ *a = p;
    round_t *r = a->r;
    uint64_t s = r->seed ^ (0x777u * (unsigned)(a->id + 1));
    int done[NCH] = { 0 }, ndone = 0;
    order_t o;
    for (int i = 0; i < SOAK_P; i++) for (int j = 0; j < NCH; j++) o.last[i][j] = -1;
    elem buf[VBATCH];
    while (ndone < NCH) {
        int ch = (int)(rnd(&s) % NCH), rc;
        if (done[ch]) continue;
        uint32_t kind = rnd(&s) % 16;
        if (volume && kind >= 7 && kind < 10) kind = 3;  /* more recv_many; keep recv, try_recv */
        if (kind < 3) {
            kchan_case cs[3];
            elem es[3];
            int n = 2 + (int)(rnd(&s) % 2), chs[3];
            for (int i = 0; i < n; i++) {
                chs[i] = i == 0 ? ch : (int)(rnd(&s) % NCH);
                cs[i] = (kchan_case){ done[chs[i]] ? NULL : r->c[chs[i]], KCHAN_OP_RECV, &es[i], -99 };
            }
            a->k.ops[O_SEL_RECV]++;
            rc = (rnd(&s) & 1) ? kchan_select(cs, (size_t)n, pick_timeout(&s))
                               : kchan_select_biased(cs, (size_t)n, pick_timeout(&s));
            if (rc >= 0) {
                int w = chs[rc];
                if (cs[rc].status == KCHAN_OK) took(r, a, &o, &es[rc], w);
                else if (cs[rc].status == KCHAN_CLOSED) { if (!done[w]) { done[w] = 1; ndone++; } a->k.closed++; }
                else DIE("select recv: case status %d", cs[rc].status);
                for (int i = 0; i < n; i++)
                    if (i != rc && cs[i].status != -99) DIE("select recv: losing case %d has status %d", i, cs[i].status);
            } else if (rc == KCHAN_TIMEDOUT) a->k.timeouts++;
            else if (rc == KCHAN_WOULDBLOCK) a->k.wouldblocks++;
            else DIE("select recv: %s", kchan_strerror(rc));
        } else if (kind < 5) {
            size_t max = 1 + rnd(&s) % (volume ? VBATCH : 8), got = 99;
            a->k.ops[O_RECV_MANY]++;
            rc = kchan_recv_many(r->c[ch], buf, max, &got, pick_timeout(&s));
            if (got > max || (rc == KCHAN_OK) != (got > 0)) DIE("recv_many: got %zu of %zu, rc %d", got, max, rc);
            for (size_t i = 0; i < got; i++) took(r, a, &o, &buf[i], ch);
            if (rc == KCHAN_CLOSED) { done[ch] = 1; ndone++; a->k.closed++; }
            else if (rc == KCHAN_TIMEDOUT) a->k.timeouts++;
            else if (rc == KCHAN_WOULDBLOCK) a->k.wouldblocks++;
            else if (rc != KCHAN_OK) DIE("recv_many: %s", kchan_strerror(rc));
        } else if (kind == 5) {
            a->k.ops[O_PEEK]++;
            rc = kchan_peek(r->c[ch], &buf[0]);
            if (rc == KCHAN_OK) validate(&buf[0], ch, "peek");
            else if (rc != KCHAN_WOULDBLOCK && rc != KCHAN_CLOSED) DIE("peek: %s", kchan_strerror(rc));
        } else {
            int which = kind < 7 ? O_RECV : kind < 11 ? O_TRY_RECV : O_RECV_T;
            a->k.ops[which]++;
            rc = which == O_RECV ? kchan_recv(r->c[ch], &buf[0])
               : which == O_TRY_RECV ? kchan_try_recv(r->c[ch], &buf[0])
               : kchan_recv_timeout(r->c[ch], &buf[0], pick_timeout(&s));
            if (rc == KCHAN_OK) took(r, a, &o, &buf[0], ch);
            else if (rc == KCHAN_CLOSED) { done[ch] = 1; ndone++; a->k.closed++; }
            else if (rc == KCHAN_TIMEDOUT) a->k.timeouts++;
            else if (rc == KCHAN_WOULDBLOCK) a->k.wouldblocks++;
            else DIE("recv: %s", kchan_strerror(rc));
        }
        stall(&s, &a->k);
    }
    return NULL;
}

static long long round_closes, round_cancels;
static void *chaos(void *p)
{
    targ *a = p;
    round_t *r = a->r;
    uint64_t s = r->seed ^ 0xC4A05u;
    char line[512];
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
        int ch = (int)(rnd(&s) % NCH);
        kchan_stats st;
        kchan_stats_get(r->c[ch], &st);
        if (st.len > st.cap && st.cap != KCHAN_UNLIMITED) DIE("len %zu above cap %zu", st.len, st.cap);
        if (kchan_dump(r->c[ch], line, sizeof line) <= 0) DIE("dump failed");
        uint32_t x = rnd(&s) % 20000;
        if (x == 0) { if (kchan_close(r->c[ch]) == KCHAN_OK) round_closes++; }
        else if (x == 1) {
            int reason = 1000 + ch;
            if (kchan_close_with(r->c[ch], reason) == KCHAN_OK) {
                round_closes++;
                atomic_store(&r->chaos_reason[ch], reason);
                atomic_store(&r->chaos_reason_set[ch], 1);
            }
        } else if (x == 2) { if (kchan_cancel(r->c[ch]) == KCHAN_OK) round_cancels++; }
        stall(&s, &a->k);
        sched_yield();
    }
    return NULL;
}

static const size_t caps[NCH] = { KCHAN_RENDEZVOUS, 1, 4, 3, 3, KCHAN_UNLIMITED, KCHAN_CONFLATED, 2 };
static const kchan_overflow pols[NCH] = { KCHAN_BLOCK, KCHAN_BLOCK, KCHAN_BLOCK, KCHAN_DROP_NEWEST,
                                           KCHAN_DROP_OLDEST, KCHAN_BLOCK, KCHAN_BLOCK, KCHAN_BLOCK };

static void join_bounded(pthread_t t, const char *who, round_t *r, int64_t bound_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(bound_ns / 1000000000);
    int e = pthread_timedjoin_np(t, NULL, &ts);
    if (e == ETIMEDOUT) {
        char line[512];
        for (int i = 0; i < NCH; i++) {
            kchan_dump(r->c[i], line, sizeof line);
            fprintf(stderr, "  %s\n", line);
        }
        DIE("%s still blocked %lld s after every channel was closed", who, (long long)(bound_ns / 1000000000));
    }
    if (e) DIE("join: %d", e);
}

static void run_round(round_t *r, int64_t ms)
{
    memset(r->hits, 0, (size_t)SOAK_P * NCH * SEQ_MAX);
    atomic_store(&r->hits_total, 0);
    atomic_store(&r->stop, 0);
    round_closes = round_cancels = 0;
    for (int i = 0; i < NCH; i++) {
        atomic_store(&r->undelivered_calls[i], 0);
        atomic_store(&r->received[i], 0);
        atomic_store(&r->chaos_reason_set[i], 0);
        cb_users[i] = (cb_user){ r, i };
        kchan_opts o = { .capacity = caps[i], .overflow = pols[i], .on_undelivered = on_undelivered,
                         .user = &cb_users[i], .name = "soak" };
        int rc = i == NCH - 1 ? kchan_create_in(&r->c[i], r->mem, sizeof r->mem, sizeof(elem), &o)
                              : kchan_create(&r->c[i], sizeof(elem), &o);
        if (rc != KCHAN_OK) DIE("create %d: %s", i, kchan_strerror(rc));
    }
    targ pa[SOAK_P], ca[SOAK_C], xa;
    pthread_t pt[SOAK_P], ct[SOAK_C], xt;
    memset(pa, 0, sizeof pa); memset(ca, 0, sizeof ca); memset(&xa, 0, sizeof xa);
    for (int i = 0; i < SOAK_C; i++) { ca[i].r = r; ca[i].id = i; pthread_create(&ct[i], NULL, consumer, &ca[i]); }
    for (int i = 0; i < SOAK_P; i++) { pa[i].r = r; pa[i].id = i; pthread_create(&pt[i], NULL, producer, &pa[i]); }
    xa.r = r;
    pthread_create(&xt, NULL, chaos, &xa);

    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {}          /* the round's length, nothing more */
    atomic_store(&r->stop, 1);
    join_bounded(xt, "chaos thread", r, 30 * 1000 * MS);
    uint64_t s = r->seed;
    for (int i = 0; i < NCH; i++) {
        int rc = (rnd(&s) & 1) ? kchan_cancel(r->c[i]) : kchan_close(r->c[i]);
        if (rc != KCHAN_OK && rc != KCHAN_CLOSED) DIE("close: %s", kchan_strerror(rc));
    }
    for (int i = 0; i < SOAK_P; i++) join_bounded(pt[i], "a producer", r, 30 * 1000 * MS);
    for (int i = 0; i < SOAK_C; i++) join_bounded(ct[i], "a consumer", r, 30 * 1000 * MS);

    long long accepted_total = 0;
    for (int i = 0; i < NCH; i++) {
        kchan_stats st;
        kchan_stats_get(r->c[i], &st);
        uint64_t acc = 0;
        for (int p = 0; p < SOAK_P; p++) acc += r->accepted[p][i];
        if (st.sends != acc) DIE("chan %d: stats.sends %llu, producers had %llu accepted", i,
                                 (unsigned long long)st.sends, (unsigned long long)acc);
        if (st.recvs != (uint64_t)atomic_load(&r->received[i]))
            DIE("chan %d: stats.recvs %llu, consumers got %lld", i, (unsigned long long)st.recvs,
                (long long)atomic_load(&r->received[i]));
        if (st.sends != st.recvs + st.drops_newest + st.drops_oldest + st.undelivered + st.len)
            DIE("chan %d: conservation broken", i);
        if (st.waiting_senders || st.waiting_receivers) DIE("chan %d: waiters still registered", i);
        if (!st.closed) DIE("chan %d: not closed", i);
        if (atomic_load(&r->chaos_reason_set[i]) && kchan_close_reason(r->c[i]) != atomic_load(&r->chaos_reason[i]))
            DIE("chan %d: close reason %d, first close_with said %d", i, kchan_close_reason(r->c[i]),
                atomic_load(&r->chaos_reason[i]));
        kchan_destroy(r->c[i]);
        long long want_cb = (long long)(st.drops_newest + st.drops_oldest + st.undelivered + st.len);
        if (atomic_load(&r->undelivered_calls[i]) != want_cb)
            DIE("chan %d: on_undelivered ran %lld times, stats say %lld", i,
                (long long)atomic_load(&r->undelivered_calls[i]), want_cb);
        tot_drops += (long long)(st.drops_newest + st.drops_oldest);
        tot_undelivered += (long long)(st.undelivered + st.len);
        accepted_total += (long long)acc;
        for (int p = 0; p < SOAK_P; p++)
            for (uint64_t q = 0; q < r->accepted[p][i]; q++) {
                elem e = mk((uint32_t)p, (uint32_t)i, q);
                unsigned h = atomic_load_explicit(hit(r, &e), memory_order_relaxed);
                if (h != 1) DIE("chan %d: producer %d seq %llu was delivered or handed over %u times",
                                i, p, (unsigned long long)q, h);
            }
    }
    if (atomic_load(&r->hits_total) != accepted_total)
        DIE("%lld elements came out (received or undelivered), %lld were accepted",
            (long long)atomic_load(&r->hits_total), accepted_total);
    if (test_alloc_live_blocks() != 0) DIE("%lld blocks live after destroying every channel",
                                           (long long)test_alloc_live_blocks());
    for (int i = 0; i < SOAK_P; i++) add_counts(&pa[i].k);
    for (int i = 0; i < SOAK_C; i++) add_counts(&ca[i].k);
    tot_closes += round_closes;
    tot_cancels += round_cancels;
    tot_sent += accepted_total;
    tot_rounds++;
}

int main(int argc, char **argv)
{
    double secs = 60;
    long long target = 0;
    const char *env = getenv("SOAK_SECONDS");
    if (argc > 2 && strcmp(argv[1], "--messages") == 0) {
        target = atoll(argv[2]);
        secs = argc > 4 && strcmp(argv[3], "--max-seconds") == 0 ? atof(argv[4]) : 1500;
        volume = 1;
        if (target <= 0 || secs <= 0) DIE("usage: soak --messages N [--max-seconds S]");
    } else if (argc > 1) secs = atof(argv[1]);
    else if (env) secs = atof(env);
    static round_t r;
    r.hits = calloc((size_t)SOAK_P * NCH * SEQ_MAX, 1);
    if (!r.hits) DIE("out of memory");
    uint64_t seed = (uint64_t)kchan_now_ns() | 1;
    if (getenv("SOAK_SEED")) seed = strtoull(getenv("SOAK_SEED"), NULL, 0) | 1;
    if (target) printf("soak: volume mode, target %lld messages, at most %.0f s\n", target, secs);
    printf("soak: %.0f s, %d producers, %d consumers, 1 chaos thread, %d channels per round, seed %llu\n",
           secs, SOAK_P, SOAK_C, NCH, (unsigned long long)seed);
    fflush(stdout);
    int64_t start = kchan_now_ns(), end = start + (int64_t)(secs * 1e9);
    do {
        r.seed = seed;
        rnd(&seed);
        run_round(&r, 100 + (int64_t)(rnd(&seed) % 700));
    } while (kchan_now_ns() < end && (!target || tot_sent < target));
    free(r.hits);
    printf("soak: %lld rounds, %lld messages accepted, %lld received, %lld dropped, %lld undelivered "
           "(cancel/destroy), %lld closes, %lld cancels by the chaos thread\n",
           tot_rounds, tot_sent, total.moved, tot_drops, tot_undelivered, tot_closes, tot_cancels);
    printf("soak: ops:");
    long long all = 0;
    for (int i = 0; i < O_KINDS; i++) { printf(" %s=%lld", op_names[i], total.ops[i]); all += total.ops[i]; }
    printf("\nsoak: %lld ops, %lld timeouts, %lld wouldblock, %lld saw closed, %lld stalls: all checks passed\n",
           all, total.timeouts, total.wouldblocks, total.closed, total.stalls);
    if (target) {
        double el = (double)(kchan_now_ns() - start) / 1e9;
        printf("soak: VOLUME %lld messages accepted and checked (target %lld) in %.0f s, %.0f per s: %s\n",
               tot_sent, target, el, (double)tot_sent / el, tot_sent >= target ? "target reached" : "TARGET MISSED");
        if (tot_sent < target) return 1;
    }
    return 0;
}
