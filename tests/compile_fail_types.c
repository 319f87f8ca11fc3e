/* Must NOT compile: typed channels are distinct types, so handing an intch to
   a dblch function is a compile error under -Werror. With KCHAN_TYPES_MATCH
   defined it passes the right type: the control that must compile, proving the
   failure comes from the type mismatch and nothing else. */
#include "../kchan.h"

KCHAN_DEFINE(intch, int);
KCHAN_DEFINE(dblch, double);

int mix_types(intch *ic, dblch *dc);
int mix_types(intch *ic, dblch *dc)
{
#ifdef KCHAN_TYPES_MATCH
    (void)ic;
    return dblch_send(dc, 1.5);
#else
    (void)dc;
    return dblch_send(ic, 1.5);   /* intch * where a dblch * is expected */
#endif
}
