/* Compile-only check: kchan.h as a plain C header (no implementation here).
   Included twice to prove the include guard; KCHAN_DEFINE used at file scope the
   way a project header would, and the generated API referenced so every
   declaration is type-checked. Built with the project's full warning set. */
#include "../kchan.h"
#include "../kchan.h"   /* second inclusion: the guard must make it a no-op */

KCHAN_DEFINE(compile_c_intch, int);
typedef struct { double x, y; } compile_c_point;
KCHAN_DEFINE(compile_c_pointch, compile_c_point);

/* An extern function so the compiler sees real uses of the declarations. */
int compile_c_probe(compile_c_intch *ic, compile_c_pointch *pc);
int compile_c_probe(compile_c_intch *ic, compile_c_pointch *pc)
{
    int v = 0;
    compile_c_point p = { 1.0, 2.0 };
    kchan_stats st;
    static kchan_counter progress = KCHAN_COUNTER_INIT(0);
    kchan_case cases[2];
    (void)compile_c_intch_send(ic, 1);   /* (void) discards a result under gcc and clang -Werror */
    cases[0] = compile_c_intch_recv_case(ic, &v);
    cases[1] = compile_c_pointch_send_case(pc, &p);
    int r = kchan_select(cases, 2, 0);
    if (r < 0 && r != KCHAN_WOULDBLOCK) return r;
    r = KCHAN_SELECT(0, compile_c_intch_recv_case(ic, &v));
    if (r < 0 && r != KCHAN_WOULDBLOCK) return r;
    compile_c_intch_stats(ic, &st);
    (void)kchan_counter_add(&progress, 1);
    if (compile_c_intch_send(ic, 3) != KCHAN_OK) return -1;
    KCHAN_FOREACH(compile_c_intch, x, ic) { v += x; }
    return v + (int)st.len + (int)compile_c_pointch_len(pc) + (int)sizeof(compile_c_intch_elem);
}
