/* 03_worker_pool.c — request/response with KCHAN_SELECT, deadlines and one-shot cancellation.
 *
 * Shows: a pool of workers that wait with KCHAN_SELECT on "a request" or "done"; a `done`
 * channel (element size 0) that nobody ever sends on: closing it wakes every select that
 * lists it, so one kchan_close cancels all workers, even in the middle of their work; a
 * per-request deadline (the worker's "work" is a select on done with the time left as its
 * timeout); a reply channel carried inside each request; and a tick timer (kchan_tick: no
 * thread behind it; a slow reader gets the latest tick, never a backlog, and the ticks it
 * missed are counted), which the client selects on as its housekeeping clock to spot
 * overdue requests.
 *
 * Phase 1 sends N_REQ requests, every SLOW_EVERY-th of which needs more time than its
 * deadline allows, and checks that each request got exactly one response: ok for the
 * normal ones, "deadline exceeded" for the slow ones. Phase 2 gives every worker a request
 * that would take 10 s, closes `done`, and checks that all of them answer "cancelled" and
 * stop at once. Exits non-zero on any mismatch.
 *
 * Build:  cc -std=c11 -O2 $(pkg-config --cflags stb) examples/03_worker_pool.c -lpthread
 */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#define MS(x) ((int64_t)(x) * 1000000)
#define US(x) ((int64_t)(x) * 1000)

enum {
    N_WORKERS = 4,
    N_REQ = 160,                   /* phase 1 */
    N_TOTAL = N_REQ + N_WORKERS,   /* plus one stuck request per worker in phase 2 */
    SLOW_EVERY = 8,                /* id % SLOW_EVERY == SLOW_EVERY - 3: needs too long */
};
#define NORMAL_DEADLINE MS(1500)
#define SLOW_COST       MS(40)
#define SLOW_DEADLINE   MS(4)
#define STUCK_COST      MS(10000)
#define TICK_PERIOD     MS(5)
#define OVERDUE_GRACE   MS(500)    /* past its deadline by this much, unanswered: lost */
#define SLOW_TICK       4          /* on this tick the client stalls for a while ... */
#define STALL           MS(30)     /* ... so the ticks sent meanwhile conflate into one */

typedef enum { RESP_OK, RESP_DEADLINE, RESP_CANCELLED } resp_status;
static const char *const status_names[] = { "ok", "deadline exceeded", "cancelled" };

typedef struct response { uint32_t id; resp_status status; uint64_t value; } response;
KCHAN_DEFINE(respch, response);

typedef struct request {
    uint32_t id;
    int64_t deadline_ns;           /* absolute, on the kchan_now_ns clock */
    int64_t cost_ns;               /* how long the work takes */
    respch *reply;                 /* where the response goes */
} request;
KCHAN_DEFINE(reqch, request);
KCHAN_DEFINE_TIMER(tickch);        /* tickch over int64_t, with tickch_tick() and kin */

typedef struct pool {
    kchan_counter started;         /* requests taken by a worker */
    kchan_t *done;                 /* element size 0, never sent on: closed = stop */
    reqch *requests;
    tickch *ticks;                 /* a timer: the instant of each period */
    kchan_counter replies_refused; /* try_send to a reply channel failed: must stay 0 */
} pool;

static kchan_case done_case(kchan_t *done)
{
    kchan_case k = { done, KCHAN_OP_RECV, NULL, 0 };    /* elem may be NULL: size 0 */
    return k;
}

static uint64_t answer(uint32_t id) { return (uint64_t)id * id + 7; }

static bool is_slow(uint32_t id) { return id < N_REQ && id % SLOW_EVERY == SLOW_EVERY - 3; }

static request make_request(uint32_t id, respch *reply)
{
    request r = { .id = id, .reply = reply };
    int64_t now = kchan_now_ns();
    if (id >= N_REQ)     { r.cost_ns = STUCK_COST; r.deadline_ns = now + 2 * STUCK_COST; }
    else if (is_slow(id)) { r.cost_ns = SLOW_COST; r.deadline_ns = now + SLOW_DEADLINE; }
    else                 { r.cost_ns = US(1000 + 250 * (id % 4)); r.deadline_ns = now + NORMAL_DEADLINE; }
    return r;
}

static void *worker(void *arg)
{
    pool *p = (pool *)arg;
    for (;;) {
        request rq;
        /* `requests` is never closed (done is the one way to stop), so case 0 always
           carries a request; case 1 completes only because done was closed. */
        if (KCHAN_SELECT(KCHAN_FOREVER, reqch_recv_case(p->requests, &rq), done_case(p->done)) != 0)
            break;
        kchan_counter_add(&p->started, 1);

        response rs = { .id = rq.id };
        int64_t left = rq.deadline_ns - kchan_now_ns();
        if (left <= 0) {
            rs.status = RESP_DEADLINE;                 /* expired while queued */
        } else {
            /* The work: a sleep of cost_ns, cut short by the deadline or by close(done). */
            int64_t wait = rq.cost_ns < left ? rq.cost_ns : left;
            if (KCHAN_SELECT(wait, done_case(p->done)) == 0) rs.status = RESP_CANCELLED;
            else if (rq.cost_ns > left)                     rs.status = RESP_DEADLINE;
            else { rs.status = RESP_OK; rs.value = answer(rq.id); }
        }
        /* Reply channels are sized for every request, so this never has to wait. */
        if (respch_try_send(rq.reply, rs) != KCHAN_OK) kchan_counter_add(&p->replies_refused, 1);
        if (rs.status == RESP_CANCELLED) break;
    }
    return NULL;
}

int main(void)
{
    static pool p;                  /* static: the counter wants its 64-byte alignment */
    static const kchan_opts req_o = { .capacity = 8, .name = "requests" };
    static const kchan_opts rep_o = { .capacity = N_TOTAL, .name = "replies" };
    static int64_t deadline[N_TOTAL];
    static int got[N_TOTAL];
    static resp_status status[N_TOTAL];
    respch *replies;
    int bad = 0;

    p.done = kchan_new(0, KCHAN_RENDEZVOUS);
    if (!p.done || reqch_create(&p.requests, &req_o) != KCHAN_OK ||
        respch_create(&replies, &rep_o) != KCHAN_OK || !(p.ticks = tickch_tick(TICK_PERIOD))) {
        fprintf(stderr, "worker_pool: setup failed\n");
        return 1;
    }
    printf("worker_pool: %d workers, %d requests (every %dth needs %d ms but has %d ms), tick %d ms\n",
           N_WORKERS, N_REQ, SLOW_EVERY, (int)(SLOW_COST / MS(1)), (int)(SLOW_DEADLINE / MS(1)),
           (int)(TICK_PERIOD / MS(1)));

    pthread_t th[N_WORKERS];
    for (int i = 0; i < N_WORKERS; i++) pthread_create(&th[i], NULL, worker, &p);

    /* ---- phase 1: the client sends, collects and keeps house on ticks, all in one select */
    uint32_t sent = 0, answered = 0;
    int64_t ticks_seen = 0, first_tick = 0, last_tick = 0, stall_skipped = -1;
    request next = make_request(0, replies);
    while (answered < N_REQ) {
        response rs;
        int64_t tick;
        switch (KCHAN_SELECT(MS(2000),
                             reqch_send_case(sent < N_REQ ? p.requests : NULL, &next),  /* NULL: off */
                             respch_recv_case(replies, &rs),
                             tickch_recv_case(p.ticks, &tick))) {
        case 0:                                            /* a request went out */
            deadline[next.id] = next.deadline_ns;
            if (++sent < N_REQ) next = make_request(sent, replies);
            break;
        case 1:                                            /* a response came back */
            if (rs.id >= N_TOTAL) { fprintf(stderr, "worker_pool: bad id %" PRIu32 "\n", rs.id); return 1; }
            got[rs.id]++;
            status[rs.id] = rs.status;
            if (rs.status == RESP_OK && rs.value != answer(rs.id)) bad++;
            answered++;
            break;
        case 2: {                                          /* housekeeping: anything overdue? */
            /* The instant of a period: later than the last, on the tick's grid, not early. */
            if (++ticks_seen == 1) first_tick = tick;
            if ((ticks_seen > 1 && tick <= last_tick) || (tick - first_tick) % TICK_PERIOD != 0 ||
                tick > kchan_now_ns()) {
                fprintf(stderr, "worker_pool: tick at %" PRId64 " ns after %" PRId64 "\n", tick, last_tick);
                bad++;
            }
            if (ticks_seen == SLOW_TICK + 1) stall_skipped = (tick - last_tick) / TICK_PERIOD - 1;
            last_tick = tick;
            if (ticks_seen == SLOW_TICK) {     /* a slow chore (say, flushing a report): the */
                struct timespec stall = { 0, (long)STALL };   /* ticks due meanwhile do not */
                nanosleep(&stall, NULL);        /* queue up; the next one received is the latest */
            }
            int64_t now = kchan_now_ns();
            for (uint32_t id = 0; id < sent; id++)
                if (!got[id] && now > deadline[id] + OVERDUE_GRACE) {
                    fprintf(stderr, "worker_pool: request %" PRIu32 " is overdue\n", id);
                    return 1;
                }
            break;
        }
        default:
            fprintf(stderr, "worker_pool: no progress for 2 s (%" PRIu32 " answered)\n", answered);
            return 1;
        }
    }
    int n_ok = 0, n_deadline = 0;
    for (uint32_t id = 0; id < N_REQ; id++) {
        resp_status want = is_slow(id) ? RESP_DEADLINE : RESP_OK;
        if (got[id] != 1 || status[id] != want) {
            fprintf(stderr, "worker_pool: request %" PRIu32 ": %d responses, last %s, want one %s\n",
                    id, got[id], status_names[status[id]], status_names[want]);
            bad++;
        }
        n_ok += got[id] == 1 && status[id] == RESP_OK;
        n_deadline += got[id] == 1 && status[id] == RESP_DEADLINE;
    }
    printf("phase 1: %d requests -> %d ok, %d deadline exceeded; %" PRId64 " ticks seen over %.0f ms"
           " (the client stalled %d ms on tick %d: the next tick received was the latest, %" PRId64
           " skipped)\n", N_REQ, n_ok, n_deadline, ticks_seen, (double)(last_tick - first_tick) / 1e6,
           (int)(STALL / MS(1)), SLOW_TICK, stall_skipped);
    if (stall_skipped < STALL / TICK_PERIOD - 1) {
        fprintf(stderr, "worker_pool: the stall should have skipped ticks\n");
        bad++;
    }

    /* ---- phase 2: occupy every worker for 10 s, then cancel them all with one close ------ */
    for (uint32_t id = N_REQ; id < N_TOTAL; id++)
        if (reqch_send(p.requests, make_request(id, replies)) != KCHAN_OK) bad++;
    if (kchan_counter_wait_ge(&p.started, N_TOTAL, MS(2000)) != KCHAN_OK) {
        fprintf(stderr, "worker_pool: the stuck requests were not picked up\n");
        return 1;
    }
    int64_t t0 = kchan_now_ns();
    kchan_close(p.done);                                   /* wakes every select on it */
    for (int i = 0; i < N_WORKERS; i++) pthread_join(th[i], NULL);
    double ms = (double)(kchan_now_ns() - t0) / 1e6;
    response rs;
    while (respch_try_recv(replies, &rs) == KCHAN_OK) {
        if (rs.id >= N_TOTAL) { bad++; continue; }
        got[rs.id]++;
        status[rs.id] = rs.status;
    }
    int n_cancelled = 0;
    for (uint32_t id = N_REQ; id < N_TOTAL; id++) n_cancelled += got[id] == 1 && status[id] == RESP_CANCELLED;
    printf("phase 2: %d workers busy on %d s requests; close(done) -> %d cancelled, "
           "all %d threads out in %.1f ms\n", N_WORKERS, (int)(STUCK_COST / MS(1000)), n_cancelled,
           N_WORKERS, ms);
    if (n_cancelled != N_WORKERS || ms > 1000.0 || kchan_counter_load(&p.replies_refused) || reqch_len(p.requests) != 0) {
        fprintf(stderr, "worker_pool: cancellation did not reach every worker promptly\n");
        bad++;
    }

    /* ---- the tick's books: every tick due was received or skipped (or is still there) */
    tickch_close(p.ticks);                                 /* stops it: no tick after this */
    kchan_stats ts;
    tickch_stats_get(p.ticks, &ts);
    printf("tick: %" PRIu64 " ticks due, %" PRIu64 " received, %" PRIu64 " skipped, %zu left\n",
           ts.sends, ts.recvs, ts.drops_oldest, ts.len);
    if (ts.sends != ts.recvs + ts.drops_oldest + ts.len || (int64_t)ts.recvs != ticks_seen ||
        (int64_t)ts.drops_oldest < stall_skipped) {
        fprintf(stderr, "worker_pool: tick accounting does not add up\n");
        bad++;
    }

    char line[512];
    reqch_dump(p.requests, line, sizeof line);  printf("%s\n", line);
    respch_dump(replies, line, sizeof line);    printf("%s\n", line);
    tickch_dump(p.ticks, line, sizeof line);    printf("%s\n", line);
    reqch_destroy(p.requests);
    respch_destroy(replies);
    tickch_destroy(p.ticks);
    kchan_destroy(p.done);

    if (bad) { fprintf(stderr, "worker_pool: %d check(s) FAILED\n", bad); return 1; }
    printf("worker_pool: all checks passed\n");
    return 0;
}
