/* 01_hello.c — the smallest useful kchan program.
 *
 * Shows: a typed channel (KCHAN_DEFINE), a producer thread that sends and then
 * closes, a consumer that drains with KCHAN_FOREACH until the channel is closed,
 * and the channel's one-line stats dump. Exits non-zero if anything was lost.
 *
 * Build:  cc -std=c11 -O2 $(pkg-config --cflags stb) examples/01_hello.c -lpthread
 */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"

#include <pthread.h>
#include <stdio.h>

KCHAN_DEFINE(intch, int);

enum { N = 100000 };

static void *producer(void *arg)
{
    intch *jobs = (intch *)arg;
    for (int i = 1; i <= N; i++) {
        if (intch_send(jobs, i) != KCHAN_OK) return (void *)"send failed";
    }
    intch_close(jobs);                    /* the consumer drains what is left, then stops */
    return NULL;
}

int main(void)
{
    kchan_opts opts = { .capacity = 64, .name = "jobs" };
    intch *jobs;
    if (intch_create(&jobs, &opts) != KCHAN_OK) return 1;

    pthread_t t;
    pthread_create(&t, NULL, producer, jobs);

    long long sum = 0, count = 0;
    KCHAN_FOREACH(intch, v, jobs) {       /* receives until closed and drained */
        sum += v;
        count++;
    }
    void *err;
    pthread_join(t, &err);

    char line[512];
    intch_dump(jobs, line, sizeof line);
    printf("received %lld values, sum %lld\n%s\n", count, sum, line);
    intch_destroy(jobs);

    long long want = (long long)N * (N + 1) / 2;
    if (err || count != N || sum != want) {
        fprintf(stderr, "hello: lost or duplicated values (want %d values, sum %lld)\n", N, want);
        return 1;
    }
    return 0;
}
