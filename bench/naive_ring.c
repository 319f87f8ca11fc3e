/* The baseline: the channel a C programmer writes by hand in an afternoon. One mutex,
   two condition variables (not_full, not_empty), a ring that grows with realloc when
   unlimited, a one-slot handshake for rendezvous, and select by trying every channel and
   sleeping on a shared condition variable that senders signal. */
#define _GNU_SOURCE
#include "bench.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct notifier { pthread_mutex_t m; pthread_cond_t cv; uint64_t seq; } notifier;

struct bench_chan {
    pthread_mutex_t m;
    pthread_cond_t not_full, not_empty;
    uint64_t *buf;
    size_t cap, head, len;          /* cap 0: rendezvous handshake through buf[0] */
    int unlimited, closed;
    uint64_t put_seq, taken_seq;    /* rendezvous: a send returns once its value is taken */
    notifier *sel;                  /* set by select_recv: senders poke it */
};

static notifier select_notifier = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };

static bench_chan *n_create(size_t cap)
{
    bench_chan *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_mutex_init(&c->m, NULL);
    pthread_cond_init(&c->not_full, NULL);
    pthread_cond_init(&c->not_empty, NULL);
    c->unlimited = cap == BENCH_UNLIMITED;
    c->cap = c->unlimited ? 16 : cap;
    c->buf = malloc((c->cap ? c->cap : 1) * sizeof(uint64_t));
    return c;
}

static void n_destroy(bench_chan *c)
{
    pthread_mutex_destroy(&c->m);
    pthread_cond_destroy(&c->not_full);
    pthread_cond_destroy(&c->not_empty);
    free(c->buf);
    free(c);
}

/* n: the channel's sel, read while holding the channel's lock (select sets it under that lock) */
static void poke(notifier *n)
{
    if (!n) return;
    pthread_mutex_lock(&n->m);
    n->seq++;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->m);
}

static int put_locked(bench_chan *c, uint64_t v)   /* room guaranteed */
{
    if (c->unlimited && c->len == c->cap) {
        uint64_t *nb = malloc(2 * c->cap * sizeof *nb);
        if (!nb) return -1;
        for (size_t i = 0; i < c->len; i++) nb[i] = c->buf[(c->head + i) % c->cap];
        free(c->buf);
        c->buf = nb;
        c->head = 0;
        c->cap *= 2;
    }
    c->buf[(c->head + c->len) % c->cap] = v;
    c->len++;
    return 0;
}

static int n_send(bench_chan *c, uint64_t v)
{
    pthread_mutex_lock(&c->m);
    if (c->cap == 0) {                                  /* rendezvous */
        while (c->len && !c->closed) pthread_cond_wait(&c->not_full, &c->m);
        if (c->closed) { pthread_mutex_unlock(&c->m); return -1; }
        c->buf[0] = v;
        c->len = 1;
        uint64_t mine = ++c->put_seq;
        pthread_cond_signal(&c->not_empty);
        while (c->taken_seq < mine && !c->closed) pthread_cond_wait(&c->not_full, &c->m);
        int r = c->taken_seq >= mine ? 0 : -1;
        pthread_mutex_unlock(&c->m);
        return r;
    }
    while (!c->unlimited && c->len == c->cap && !c->closed) pthread_cond_wait(&c->not_full, &c->m);
    int r = c->closed ? -1 : put_locked(c, v);
    pthread_cond_signal(&c->not_empty);
    notifier *sel = c->sel;
    pthread_mutex_unlock(&c->m);
    if (r == 0) poke(sel);
    return r;
}

static int n_try_send(bench_chan *c, uint64_t v)
{
    pthread_mutex_lock(&c->m);
    int r = -1;
    if (!c->closed && c->cap && (c->unlimited || c->len < c->cap)) {
        r = put_locked(c, v);
        pthread_cond_signal(&c->not_empty);
    }
    pthread_mutex_unlock(&c->m);
    return r;
}

static uint64_t take_locked(bench_chan *c)
{
    uint64_t v;
    if (c->cap == 0) {
        v = c->buf[0];
        c->len = 0;
        c->taken_seq++;
        pthread_cond_broadcast(&c->not_full);           /* the sender and the next one */
        return v;
    }
    v = c->buf[c->head];
    c->head = (c->head + 1) % c->cap;
    c->len--;
    pthread_cond_signal(&c->not_full);
    return v;
}

static int n_recv(bench_chan *c, uint64_t *v)
{
    pthread_mutex_lock(&c->m);
    while (!c->len && !c->closed) pthread_cond_wait(&c->not_empty, &c->m);
    int r = -1;
    if (c->len) { *v = take_locked(c); r = 0; }
    pthread_mutex_unlock(&c->m);
    return r;
}

static int n_try_recv(bench_chan *c, uint64_t *v)
{
    pthread_mutex_lock(&c->m);
    int r = -1;
    if (c->len) { *v = take_locked(c); r = 0; }
    pthread_mutex_unlock(&c->m);
    return r;
}

static int n_send_many(bench_chan *c, const uint64_t *v, size_t n)
{
    size_t i = 0;
    if (c->cap == 0) {
        for (; i < n; i++) if (n_send(c, v[i])) return -1;
        return 0;
    }
    pthread_mutex_lock(&c->m);
    while (i < n) {
        while (!c->unlimited && c->len == c->cap && !c->closed) pthread_cond_wait(&c->not_full, &c->m);
        if (c->closed) break;
        while (i < n && (c->unlimited || c->len < c->cap)) if (put_locked(c, v[i++])) break;
        pthread_cond_broadcast(&c->not_empty);
    }
    notifier *sel = c->sel;
    pthread_mutex_unlock(&c->m);
    poke(sel);
    return i == n ? 0 : -1;
}

static size_t n_recv_many(bench_chan *c, uint64_t *v, size_t max)
{
    pthread_mutex_lock(&c->m);
    while (!c->len && !c->closed) pthread_cond_wait(&c->not_empty, &c->m);
    size_t got = 0;
    while (got < max && c->len) v[got++] = take_locked(c);
    if (got && c->cap) pthread_cond_broadcast(&c->not_full);
    pthread_mutex_unlock(&c->m);
    return got;
}

static void n_close(bench_chan *c)
{
    pthread_mutex_lock(&c->m);
    c->closed = 1;
    pthread_cond_broadcast(&c->not_full);
    pthread_cond_broadcast(&c->not_empty);
    notifier *sel = c->sel;
    pthread_mutex_unlock(&c->m);
    poke(sel);
}

static int n_select_recv(bench_chan **chans, size_t n, uint64_t *v)
{
    notifier *sn = &select_notifier;
    for (size_t i = 0; i < n; i++)
        if (chans[i]) { pthread_mutex_lock(&chans[i]->m); chans[i]->sel = sn; pthread_mutex_unlock(&chans[i]->m); }
    for (;;) {
        pthread_mutex_lock(&sn->m);
        uint64_t seen = sn->seq;
        pthread_mutex_unlock(&sn->m);
        size_t live = 0;
        for (size_t i = 0; i < n; i++) {
            bench_chan *c = chans[i];
            if (!c) continue;
            pthread_mutex_lock(&c->m);
            int got = c->len > 0, done = !c->len && c->closed;
            if (got) *v = take_locked(c);
            pthread_mutex_unlock(&c->m);
            if (got) return (int)i;
            if (done) chans[i] = NULL; else live++;
        }
        if (!live) return -1;
        pthread_mutex_lock(&sn->m);
        while (sn->seq == seen) pthread_cond_wait(&sn->cv, &sn->m);
        pthread_mutex_unlock(&sn->m);
    }
}

const bench_engine bench_engine_naive = {
    "naive", n_create, n_destroy, n_send, n_recv, n_send_many, n_recv_many, n_close, n_select_recv,
    n_try_send, n_try_recv, NULL, NULL,
};
