/* 05_telemetry_drop.c — a drop-oldest channel of heap buffers, and who frees what.
 *
 * Shows: a bounded KCHAN_DROP_OLDEST channel between a telemetry producer and a slower
 * uplink. The producer's send never waits: when the channel is full the oldest record is
 * evicted. Each element is a pointer to a malloc'd record, so ownership matters:
 *   - a record the consumer receives is the consumer's to free;
 *   - a record the channel drops (evicted, or discarded by kchan_cancel, or still
 *     buffered at kchan_destroy) goes to the on_undelivered callback, which frees it;
 *   - a send that returns KCHAN_CLOSED did not take the element: the producer frees it.
 * Part-way the uplink "goes down": the consumer calls kchan_cancel, which closes the
 * channel and hands every buffered record to on_undelivered; the producer's next send
 * fails with KCHAN_CLOSED and it stops.
 *
 * Checks: allocations == frees at the end (no leak, no double free: every record carries
 * a magic word that free poisons), the callback ran drops_oldest + undelivered times, the
 * stats balance, and the uplink saw increasing sequence numbers with intact payloads.
 * Exits non-zero on any mismatch.
 *
 * Build:  cc -std=c11 -O2 $(pkg-config --cflags stb) examples/05_telemetry_drop.c -lpthread
 */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum {
    N_RECORDS = 20000,
    BURST = 100,                   /* the producer: 100 records, then a 1 ms pause */
    BURST_GAP_US = 1000,
    UPLINK_US = 100,               /* the uplink: ~100 us per record, 10x too slow */
    CAPACITY = 32,
    LINK_DOWN_AT = 15000           /* the uplink dies on the first record at or past this */
};
#define MAGIC_LIVE  UINT32_C(0x7E1E7E1E)
#define MAGIC_FREED UINT32_C(0xDEADBEEF)

typedef struct record {
    uint32_t magic;
    uint32_t len;
    uint64_t seq;
    uint32_t sum;                  /* over data[0..len) */
    unsigned char data[];          /* 16..271 bytes of "readings" */
} record;
KCHAN_DEFINE(recch, record *);

/* Who allocated and who freed; kchan_counters are atomic and 64-byte aligned (static). */
static kchan_counter n_alloc, freed_by_uplink, freed_by_callback, freed_by_producer;
static kchan_counter callback_calls;

static uint32_t checksum(const unsigned char *p, uint32_t n)
{
    uint32_t h = 2166136261u;                       /* FNV-1a */
    for (uint32_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static record *record_new(uint64_t seq)
{
    uint32_t len = 16 + (uint32_t)(((seq * 2654435761u) >> 16) & 0xFF);  /* 16..271 */
    record *r = malloc(sizeof *r + len);
    if (!r) return NULL;
    r->magic = MAGIC_LIVE;
    r->len = len;
    r->seq = seq;
    for (uint32_t i = 0; i < len; i++) r->data[i] = (unsigned char)(seq * 31 + i);
    r->sum = checksum(r->data, len);
    kchan_counter_add(&n_alloc, 1);
    return r;
}

static void record_free(record *r, kchan_counter *who)
{
    if (r->magic != MAGIC_LIVE) {                   /* freed twice or never ours */
        fprintf(stderr, "telemetry_drop: bad free of record %" PRIu64 "\n", r->seq);
        exit(1);
    }
    r->magic = MAGIC_FREED;
    free(r);
    kchan_counter_add(who, 1);
}

/* on_undelivered: gets a pointer to the element, which here is itself a pointer. Runs in
   the thread that dropped it (the producer when evicting, the canceller, the destroyer),
   never under a channel lock. */
static void drop_record(void *elem, void *user)
{
    (void)user;
    record_free(*(record **)elem, &freed_by_callback);
    kchan_counter_add(&callback_calls, 1);
}

static void sleep_us(long us)
{
    struct timespec ts = { 0, us * 1000 };
    nanosleep(&ts, NULL);
}

typedef struct producer_result { uint64_t offered, accepted, refused; } producer_result;
typedef struct uplink_result { uint64_t received, last_seq; int errors; } uplink_result;

static recch *ch;

static void *producer(void *arg)
{
    producer_result *pr = (producer_result *)arg;
    for (uint64_t seq = 0; seq < N_RECORDS; seq++) {
        record *r = record_new(seq);
        if (!r) { fprintf(stderr, "telemetry_drop: out of memory\n"); exit(1); }
        pr->offered++;
        int rc = recch_send(ch, r);                 /* drop-oldest: never waits */
        if (rc != KCHAN_OK) {                       /* KCHAN_CLOSED: the record is still ours */
            record_free(r, &freed_by_producer);
            pr->refused++;
            break;
        }
        pr->accepted++;
        if (seq % BURST == BURST - 1) sleep_us(BURST_GAP_US);
    }
    recch_close(ch);               /* KCHAN_CLOSED if the uplink cancelled first: fine */
    return NULL;
}

static void *uplink(void *arg)
{
    uplink_result *ur = (uplink_result *)arg;
    record *r;
    while (recch_recv(ch, &r) == KCHAN_OK) {
        if (r->magic != MAGIC_LIVE || checksum(r->data, r->len) != r->sum ||
            (ur->received > 0 && r->seq <= ur->last_seq))
            ur->errors++;
        ur->last_seq = r->seq;
        ur->received++;
        bool link_down = r->seq >= LINK_DOWN_AT;
        sleep_us(UPLINK_US);                        /* "transmit" */
        record_free(r, &freed_by_uplink);
        if (link_down) {
            recch_cancel(ch);      /* close, and hand the buffered records to drop_record */
            break;
        }
    }
    return NULL;
}

int main(void)
{
    const kchan_opts o = { .capacity = CAPACITY, .overflow = KCHAN_DROP_OLDEST,
                           .on_undelivered = drop_record, .name = "telemetry" };
    if (recch_create(&ch, &o) != KCHAN_OK) { fprintf(stderr, "telemetry_drop: setup failed\n"); return 1; }

    producer_result pr = { 0 };
    uplink_result ur = { 0 };
    pthread_t tp, tu;
    pthread_create(&tu, NULL, uplink, &ur);
    pthread_create(&tp, NULL, producer, &pr);
    pthread_join(tp, NULL);
    pthread_join(tu, NULL);

    kchan_stats s;
    recch_stats_get(ch, &s);
    char line[512];
    recch_dump(ch, line, sizeof line);
    recch_destroy(ch);             /* anything still buffered would go to drop_record too */

    int64_t allocs = kchan_counter_load(&n_alloc);
    int64_t by_uplink = kchan_counter_load(&freed_by_uplink), by_cb = kchan_counter_load(&freed_by_callback);
    int64_t by_producer = kchan_counter_load(&freed_by_producer), calls = kchan_counter_load(&callback_calls);
    int64_t frees = by_uplink + by_cb + by_producer;

    printf("telemetry: %d records offered, %d per burst every %d ms; uplink ~%d us per record; "
           "drop-oldest cap %d\n", N_RECORDS, BURST, BURST_GAP_US / 1000, UPLINK_US, CAPACITY);
    printf("uplink went down at record #%" PRIu64 " after %" PRIu64 " records; the producer stopped after %"
           PRIu64 " (its send returned closed %" PRIu64 " time%s)\n", ur.last_seq, ur.received,
           pr.offered, pr.refused, pr.refused == 1 ? "" : "s");
    printf("allocated %" PRId64 ", freed %" PRId64 ": %" PRId64 " by the uplink, %" PRId64
           " by on_undelivered (%" PRIu64 " evicted + %" PRIu64 " discarded by cancel), %" PRId64
           " by the producer\n", allocs, frees, by_uplink, by_cb, s.drops_oldest, s.undelivered, by_producer);
    printf("%s\n", line);

    int bad = 0;
    if (allocs != frees) { fprintf(stderr, "telemetry_drop: LEAK: %" PRId64 " records\n", allocs - frees); bad++; }
    if (ur.errors) { fprintf(stderr, "telemetry_drop: %d damaged or out-of-order records\n", ur.errors); bad++; }
    if ((uint64_t)calls != s.drops_oldest + s.undelivered || (uint64_t)by_uplink != s.recvs ||
        s.sends != pr.accepted || s.sends != s.recvs + s.drops_oldest + s.drops_newest + s.undelivered + s.len ||
        pr.offered != pr.accepted + pr.refused || (uint64_t)allocs != pr.offered) {
        fprintf(stderr, "telemetry_drop: the counters do not add up\n");
        bad++;
    }
    if (s.drops_oldest == 0) { fprintf(stderr, "telemetry_drop: nothing was evicted?\n"); bad++; }
    if (bad) { fprintf(stderr, "telemetry_drop: %d check(s) FAILED\n", bad); return 1; }
    printf("telemetry_drop: no leak, all checks passed\n");
    return 0;
}
