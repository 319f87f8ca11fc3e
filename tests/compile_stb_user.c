/* A plain file of a program that uses stb_ds itself, including it after kchan.h.
   Its main checks both libraries work side by side: the user's arrays (their
   stb_ds implementation is in compile_stb_after.c, or in the before-file's
   own TU) and kchan's unlimited channel, which grows through kchan's private
   stb_ds instance. */
#include "../kchan.h"
#include <stb_ds.h>
#include <stdio.h>

int stb_after_sum(int n);

static int channel_sum(int n)
{
    kchan_opts o = { 0 };
    o.capacity = KCHAN_UNLIMITED;
    kchan_t *c = NULL;
    if (kchan_create(&c, sizeof(int), &o) != KCHAN_OK) return -1;
    for (int i = 0; i < n; i++)               /* several doublings of the ring */
        if (kchan_send(c, &i) != KCHAN_OK) return -2;
    int v, sum = 0;
    while (kchan_try_recv(c, &v) == KCHAN_OK) sum += v;
    kchan_destroy(c);
    return sum;
}

int main(void)
{
    int *a = NULL;
    arrput(a, 5);
    arrput(a, 6);
    int own = a[0] + a[1];
    arrfree(a);
    int want = 1000 * 999 / 2;
    int s1 = stb_after_sum(1000), s2 = channel_sum(1000);
    printf("compile_stb: user arrays %d, user sum %d, channel sum %d (want 11, %d, %d)\n",
           own, s1, s2, want, want);
    return own == 11 && s1 == want && s2 == want ? 0 : 1;
}
