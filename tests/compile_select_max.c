/* KCHAN_SELECT_MAX is bounded: a select keeps arrays of KCHAN_SELECT_MAX entries on its
   stack (about 50 bytes a case on 64-bit targets). Built with -DKCHAN_SELECT_MAX=256, the
   largest allowed, it must compile and run: a select over 256 cases finds the one ready case,
   the last (its index needs all of a byte), and one more case is KCHAN_INVAL. Built without
   it (257) it must stop at kchan.h's #error, which names the limit and the cost. */
#ifndef KCHAN_SELECT_MAX
#  define KCHAN_SELECT_MAX 257
#endif
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"
#include <stdio.h>

#define N KCHAN_SELECT_MAX

int main(void)
{
    static kchan_t *c[N];
    static kchan_case cs[N + 1];
    kchan_opts o = { .capacity = 1 };
    int in = 42, out = -1, bad = 0;
    for (int i = 0; i < N; i++) {
        if (kchan_create(&c[i], sizeof(int), &o) != KCHAN_OK) return 1;
        cs[i] = (kchan_case){ c[i], KCHAN_OP_RECV, &out, 0 };
    }
    cs[N] = cs[0];
    for (int biased = 0; biased < 2; biased++) {
        out = -1;
        bad |= kchan_send(c[N - 1], &in) != KCHAN_OK;
        int r = biased ? kchan_select_biased(cs, N, 0) : kchan_select(cs, N, 0);
        bad |= r != N - 1 || out != 42;
        bad |= kchan_select(cs, N, 0) != KCHAN_WOULDBLOCK;
        bad |= kchan_select(cs, N + 1, 0) != KCHAN_INVAL;
    }
    for (int i = 0; i < N; i++) kchan_destroy(c[i]);
    if (bad) printf("compile_select_max: a select over %d cases went wrong\n", N);
    return bad;
}
