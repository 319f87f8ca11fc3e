/* The copy-one-file build: this file and kchan.h alone in a folder, built with
   `cc -std=c11 main.c -lpthread` and no -I. With Debian's libstb-dev, stb_ds.h is
   <stb/stb_ds.h>, which kchan finds by itself through __has_include. Without any
   stb_ds.h (tests/compile_no_stb.sh hides it) the build must stop with an #error
   that names the fix: the include path, or KCHAN_NO_UNLIMITED. */
#define KCHAN_IMPLEMENTATION
#include "kchan.h"
#include <stdio.h>

int main(void)
{
    kchan_opts o = { 0 };
#ifdef KCHAN_NO_UNLIMITED
    o.capacity = 4;
#else
    o.capacity = KCHAN_UNLIMITED;
#endif
    kchan_t *c = NULL;
    if (kchan_create(&c, sizeof(int), &o) != KCHAN_OK) return 1;
    for (int i = 0; i < 4; i++)
        if (kchan_send(c, &i) != KCHAN_OK) return 2;
    int v = -1, sum = 0;
    while (kchan_try_recv(c, &v) == KCHAN_OK) sum += v;
    kchan_destroy(c);
    printf("compile_alone: sum %d\n", sum);
    return sum == 6 ? 0 : 3;
}
