/* KCHAN_FOOTPRINT is the same in every file whatever the engine: this file is compiled
   WITHOUT KCHAN_LOCKFREE (a user's file knows nothing of the backend) and linked with an
   implementation built with it and without it (make compile-checks does both). Every
   channel kchan_create_in can build must fit in KCHAN_FOOTPRINT bytes at any alignment. */
#include "../kchan.h"
#include <stdio.h>
#include <string.h>

static _Alignas(64) unsigned char mem[KCHAN_FOOTPRINT(24, 64) + 64];

static int check(size_t es, size_t cap, kchan_overflow ov, size_t fp)
{
    kchan_opts o;
    memset(&o, 0, sizeof o);
    o.capacity = cap;
    o.overflow = ov;
    for (size_t skew = 0; skew < 64; skew += 7) {
        kchan_t *c = NULL;
        if (fp + skew > sizeof mem) return 1;
        int r = kchan_create_in(&c, mem + skew, fp, es, &o);
        if (r != KCHAN_OK) {
            printf("footprint_user: kchan_create_in(elem %zu, cap %zu, overflow %d) in KCHAN_FOOTPRINT = %zu "
                   "bytes at offset %zu: %s\n", es, cap, (int)ov, fp, skew, kchan_strerror(r));
            return 1;
        }
        kchan_destroy(c);
    }
    return 0;
}

int main(void)
{
    int bad = 0;
    bad |= check(8, 16, KCHAN_BLOCK, KCHAN_FOOTPRINT(8, 16));
    bad |= check(24, 64, KCHAN_DROP_OLDEST, KCHAN_FOOTPRINT(24, 64));
    bad |= check(4, 1, KCHAN_DROP_NEWEST, KCHAN_FOOTPRINT(4, 1));
    bad |= check(8, KCHAN_CONFLATED, KCHAN_DROP_OLDEST, KCHAN_FOOTPRINT(8, KCHAN_CONFLATED));
    bad |= check(8, KCHAN_RENDEZVOUS, KCHAN_BLOCK, KCHAN_FOOTPRINT(8, KCHAN_RENDEZVOUS));
    bad |= check(0, 5, KCHAN_BLOCK, KCHAN_FOOTPRINT(0, 5));
    if (!bad) printf("footprint_user: KCHAN_FOOTPRINT from a file without the engine flag fits\n");
    return bad;
}
