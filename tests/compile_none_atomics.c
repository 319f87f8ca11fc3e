/* _NONE and the user's <stdatomic.h>: kchan's plain single-threaded atomics go by kchan's
   own names, so the standard names mean the same whether <stdatomic.h> comes before
   kchan.h (STDATOMIC_FIRST), after it, or not at all, and kchan behaves the same each way.
   Built and run by make compile-checks in all three orders. */
#ifdef STDATOMIC_FIRST
#  include <stdatomic.h>
#endif
#define KCHAN_PLATFORM_NONE
#define KCHAN_STATIC
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"
#ifdef STDATOMIC_AFTER
#  include <stdatomic.h>
#endif

int main(void)
{
#if defined(STDATOMIC_FIRST) || defined(STDATOMIC_AFTER)
    _Atomic int mine = 1;        /* the user's atomics are C11's, untouched by kchan */
    atomic_fetch_add_explicit(&mine, 1, memory_order_relaxed);
    if (atomic_load_explicit(&mine, memory_order_seq_cst) != 2) return 1;
#endif
    kchan_t *c = kchan_new(sizeof(int), 2);
    int v = 7, out = 0;
    if (!c || kchan_try_send(c, &v) != KCHAN_OK || kchan_len(c) != 1) return 2;
    if (kchan_recv(c, &out) != KCHAN_OK || out != 7) return 3;
    if (kchan_recv(c, &out) != KCHAN_WOULDBLOCK) return 4;   /* _NONE never waits */
    kchan_destroy(c);
    return 0;
}
