/* 04_sensor_latest.c — a fast sensor, slow readers that want the latest value, a decimator.
 *
 * Shows: a conflated channel (KCHAN_CONFLATED) as a "latest value" mailbox: the sensor's
 * send never waits and replaces whatever was not read yet, so a slow reader always gets
 * the newest sample and never works through a backlog. Two slow readers share it: a logger
 * that takes samples with recv, and a display that only looks with peek (it never takes a
 * sample away from the logger). A decimating reader gets every DECIMATE-th sample through
 * its own bounded, blocking channel, so none of those is ever lost. At the end the
 * conflated channel's stats say how many samples were replaced before anyone read them.
 *
 * Checks: each reader sees increasing sample numbers (the display: never decreasing, as a
 * look may see the same sample twice) and intact payloads; the logger gets the very last
 * sample (close drains); the decimator gets exactly every DECIMATE-th sample; and the
 * stats balance: sends == recvs + drops_oldest + len. Exits non-zero on any mismatch.
 *
 * Build:  cc -std=c11 -O2 $(pkg-config --cflags stb) examples/04_sensor_latest.c -lpthread
 */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

enum {
    N_SAMPLES = 100000,
    PERIOD_NS = 3000,              /* the sensor: one sample every 3 us ... */
    BURST = 64,                    /* ... paced in bursts of 64 (think DMA) */
    DECIMATE = 1000,               /* the decimator wants every 1000th sample */
    LOGGER_US = 1000,              /* the logger reads every 1 ms */
    DISPLAY_US = 2000              /* the display looks every 2 ms */
};

typedef struct sample { uint64_t seq; int32_t milli_c; uint32_t check; } sample;
KCHAN_DEFINE(samplech, sample);

typedef struct reader_result {
    uint64_t count, distinct, last;
    int errors;
} reader_result;

static samplech *latest, *decimated;

static int32_t temperature(uint64_t seq) { return 21000 + (int32_t)(seq % 2000) - 1000; }
static uint32_t check_of(uint64_t seq) { return (uint32_t)(seq * 2654435761u) ^ 0xA5A5A5A5u; }
static bool intact(const sample *s) { return s->milli_c == temperature(s->seq) && s->check == check_of(s->seq); }

static void sleep_ns(int64_t ns)
{
    if (ns <= 0) return;
    struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
    nanosleep(&ts, NULL);
}

static void *sensor(void *arg)
{
    int *errors = (int *)arg;
    int64_t t0 = kchan_now_ns();
    for (uint64_t seq = 0; seq < N_SAMPLES; seq++) {
        sample s = { seq, temperature(seq), check_of(seq) };
        if (samplech_send(latest, s) != KCHAN_OK) (*errors)++;          /* never waits */
        if (seq % DECIMATE == 0 && samplech_send(decimated, s) != KCHAN_OK) (*errors)++;  /* may wait */
        if (seq % BURST == BURST - 1) sleep_ns(t0 + (int64_t)(seq + 1) * PERIOD_NS - kchan_now_ns());
    }
    samplech_close(latest);        /* readers drain what is left, then see KCHAN_CLOSED */
    samplech_close(decimated);
    return NULL;
}

static void *logger(void *arg)     /* takes the latest sample, slowly */
{
    reader_result *r = (reader_result *)arg;
    sample s;
    while (samplech_recv(latest, &s) == KCHAN_OK) {
        if (!intact(&s) || (r->count > 0 && s.seq <= r->last)) r->errors++;
        r->last = s.seq;
        r->count++;
        sleep_ns((int64_t)LOGGER_US * 1000);
    }
    r->distinct = r->count;
    return NULL;
}

static void *display(void *arg)    /* looks at the latest sample without taking it */
{
    reader_result *r = (reader_result *)arg;
    for (;;) {
        sample s;
        int rc = samplech_peek(latest, &s);
        if (rc == KCHAN_CLOSED) break;                  /* closed and drained */
        if (rc == KCHAN_OK) {                           /* KCHAN_WOULDBLOCK: the logger just took it */
            if (!intact(&s) || (r->count > 0 && s.seq < r->last)) r->errors++;
            r->distinct += r->count == 0 || s.seq != r->last;
            r->last = s.seq;
            r->count++;
        }
        sleep_ns((int64_t)DISPLAY_US * 1000);
    }
    return NULL;
}

static void *decimator(void *arg)  /* every DECIMATE-th sample, none lost */
{
    reader_result *r = (reader_result *)arg;
    KCHAN_FOREACH(samplech, s, decimated) {
        if (!intact(&s) || s.seq != r->count * DECIMATE) r->errors++;
        r->last = s.seq;
        r->count++;
    }
    r->distinct = r->count;
    return NULL;
}

int main(void)
{
    static const kchan_opts latest_o = { .capacity = KCHAN_CONFLATED, .name = "latest" };
    static const kchan_opts decimated_o = { .capacity = 8, .name = "decimated" };
    if (samplech_create(&latest, &latest_o) != KCHAN_OK || samplech_create(&decimated, &decimated_o) != KCHAN_OK) {
        fprintf(stderr, "sensor_latest: setup failed\n");
        return 1;
    }

    int sensor_errors = 0;
    reader_result log_r = { 0 }, disp_r = { 0 }, dec_r = { 0 };
    pthread_t th[4];
    int64_t t0 = kchan_now_ns();
    pthread_create(&th[0], NULL, logger, &log_r);
    pthread_create(&th[1], NULL, display, &disp_r);
    pthread_create(&th[2], NULL, decimator, &dec_r);
    pthread_create(&th[3], NULL, sensor, &sensor_errors);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    double secs = (double)(kchan_now_ns() - t0) / 1e9;

    kchan_stats ls, ds;
    samplech_stats_get(latest, &ls);
    samplech_stats_get(decimated, &ds);
    printf("sensor: %d samples in %.2f s (one every %d us); the decimator gets every %dth\n",
           N_SAMPLES, secs, PERIOD_NS / 1000, DECIMATE);
    printf("logger  (recv every %d ms): %" PRIu64 " samples, increasing, last #%" PRIu64 "\n",
           LOGGER_US / 1000, log_r.count, log_r.last);
    printf("display (peek every %d ms): %" PRIu64 " looks, %" PRIu64 " distinct samples\n",
           DISPLAY_US / 1000, disp_r.count, disp_r.distinct);
    printf("decimator (bounded %zu): %" PRIu64 " samples, exactly every %dth\n",
           samplech_cap(decimated), dec_r.count, DECIMATE);
    printf("latest: sends %" PRIu64 " = recvs %" PRIu64 " + conflated away %" PRIu64 " + left %zu\n",
           ls.sends, ls.recvs, ls.drops_oldest, ls.len);

    int bad = 0;
    if (sensor_errors || log_r.errors || disp_r.errors || dec_r.errors) {
        fprintf(stderr, "sensor_latest: out-of-order or damaged samples (%d/%d/%d/%d)\n",
                sensor_errors, log_r.errors, disp_r.errors, dec_r.errors);
        bad++;
    }
    if (ls.sends != N_SAMPLES || ls.sends != ls.recvs + ls.drops_oldest + ls.drops_newest + ls.undelivered + ls.len ||
        ls.recvs != log_r.count || ls.len != 0 || log_r.last != N_SAMPLES - 1) {
        fprintf(stderr, "sensor_latest: the conflated channel's books do not balance\n");
        bad++;
    }
    if (dec_r.count != N_SAMPLES / DECIMATE || ds.sends != dec_r.count || ds.recvs != dec_r.count ||
        ds.drops_oldest + ds.drops_newest + ds.undelivered != 0) {
        fprintf(stderr, "sensor_latest: the decimator lost samples\n");
        bad++;
    }

    char line[512];
    samplech_dump(latest, line, sizeof line);     printf("%s\n", line);
    samplech_dump(decimated, line, sizeof line);  printf("%s\n", line);
    samplech_destroy(latest);
    samplech_destroy(decimated);
    if (bad) { fprintf(stderr, "sensor_latest: %d check(s) FAILED\n", bad); return 1; }
    printf("sensor_latest: all checks passed\n");
    return 0;
}
