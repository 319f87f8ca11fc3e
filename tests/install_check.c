/* install_check.c — make install-check builds this against an installed kchan.h, with only
 * the flags `pkg-config --cflags --libs kchan` gives: the header, stb_ds (an unlimited
 * channel needs it) and the thread library must all come from the .pc file. */
#define KCHAN_IMPLEMENTATION
#include <kchan.h>

#include <pthread.h>
#include <stdio.h>

KCHAN_DEFINE(numch, long);

enum { N = 10000 };

static void *producer(void *arg)
{
    numch *c = (numch *)arg;
    for (long i = 1; i <= N; i++)
        if (numch_send(c, i) != KCHAN_OK) return (void *)"send failed";
    numch_close(c);
    return NULL;
}

int main(void)
{
    kchan_opts opts = { .capacity = KCHAN_UNLIMITED, .name = "install_check" };
    numch *c;
    if (numch_create(&c, &opts) != KCHAN_OK) { puts("install_check: create failed"); return 1; }
    pthread_t t;
    if (pthread_create(&t, NULL, producer, c) != 0) { puts("install_check: no thread"); return 1; }
    long v, sum = 0, count = 0;
    while (numch_recv(c, &v) == KCHAN_OK) { sum += v; count++; }
    void *err;
    pthread_join(t, &err);
    numch_destroy(c);
    if (err || count != N || sum != (long)N * (N + 1) / 2) {
        printf("install_check: got %ld values, sum %ld\n", count, sum);
        return 1;
    }
#ifdef KCHAN_VERSION_STRING
    printf("install_check: kchan %s from the installed header: %ld values through an unlimited channel\n",
           KCHAN_VERSION_STRING, count);
#else
    printf("install_check: installed header: %ld values through an unlimited channel\n", count);
#endif
    return 0;
}
