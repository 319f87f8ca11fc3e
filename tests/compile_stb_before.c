/* The kchan implementation file of a program that uses stb_ds itself, this time
   including stb_ds.h BEFORE kchan.h: with its implementation when built with
   -DSTB_DS_IMPLEMENTATION (then standalone), without it otherwise (then linked with
   compile_stb_after.o, which holds the user's stb_ds implementation). kchan is
   KCHAN_STATIC here so it can share a program with compile_stb_after.o's copy. The
   user's short names, allocator and arrays must keep working after kchan.h, and
   kchan's unlimited channel must still grow through its own private instance. */
#include <stb_ds.h>
#define KCHAN_STATIC
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"
#include <stdio.h>

int main(void)
{
    int *a = NULL;
    for (int i = 0; i < 100; i++) arrput(a, i);
    int own = 0;
    for (ptrdiff_t i = 0; i < arrlen(a); i++) own += a[i];
    arrfree(a);

    kchan_opts o = { 0 };
    o.capacity = KCHAN_UNLIMITED;
    kchan_t *c = NULL;
    if (kchan_create(&c, sizeof(int), &o) != KCHAN_OK) return 1;
    for (int i = 0; i < 1000; i++)
        if (kchan_send(c, &i) != KCHAN_OK) return 2;
    int v, sum = 0;
    while (kchan_try_recv(c, &v) == KCHAN_OK) sum += v;
    kchan_destroy(c);
    printf("compile_stb_before: user sum %d, channel sum %d (want 4950, 499500)\n", own, sum);
    return own == 4950 && sum == 499500 ? 0 : 3;
}
