/* Compile-only check: a single-translation-unit build (KCHAN_STATIC) with a
   typed channel, using almost nothing, so most core and generated functions go
   unused: must stay warning-free under gcc and clang -Wall -Wextra -Werror. */
#define KCHAN_STATIC
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"

KCHAN_DEFINE(static_intch, int);

int main(void)
{
    static_intch *c = static_intch_new(1);
    if (!c) return 1;
    int r = static_intch_try_send(c, 1);
    static_intch_destroy(c);
    return r == KCHAN_OK ? 0 : 1;
}
