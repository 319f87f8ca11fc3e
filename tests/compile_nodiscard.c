/* Compile-only, as C and as C++ (-x c++): a (void) cast discards a kchan result
   warning-free under -Werror, untyped and typed, in every language mode; the
   Makefile builds it with gcc and clang in C11, C2x/C23, C++17 and C++20. Built with
   -DKCHAN_DROP_RESULT it drops the same results without the cast, which must warn
   (fail under -Werror) wherever kchan turns the attribute on: everywhere but gcc
   before C23/C++17 (gcc's warn_unused_result cannot be silenced by a cast) and
   with -DKCHAN_NO_NODISCARD, the opt-out, under which it must compile. */
#include "../kchan.h"

KCHAN_DEFINE(nd_intch, int);

int nodiscard_probe(kchan_t *c, nd_intch *t);
int nodiscard_probe(kchan_t *c, nd_intch *t)
{
    int v = 1;
#ifdef KCHAN_DROP_RESULT
    kchan_send(c, &v);
    nd_intch_send(t, 1);
#else
    (void)kchan_send(c, &v);
    (void)kchan_try_recv(c, &v);
    (void)nd_intch_send(t, 1);
    (void)nd_intch_recv_timeout(t, &v, 0);
#endif
    return v;
}
