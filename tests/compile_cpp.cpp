// Compile-and-run check: kchan.h from C++17 (extern "C" declarations, the
// KCHAN_DEFINE wrappers as C++, quiet under -Wold-style-cast and friends), linked
// with the implementation in compile_cpp_impl.c, compiled as C and as C++23.
// Uses only libc so a C driver can link it.
#include "../kchan.h"
#include "../kchan.h"

KCHAN_DEFINE(cpp_intch, int);

int cpp_roundtrip(void);
int cpp_roundtrip(void)
{
    // Untyped API: a bounded channel of int.
    kchan_t *c = nullptr;
    kchan_opts o = {};
    o.capacity = 4;
    o.name = "cpp";
    if (kchan_create(&c, sizeof(int), &o) != KCHAN_OK || !c) return 1;
    int in = 41, out = 0;
    if (kchan_send(c, &in) != KCHAN_OK) return 2;
    if (kchan_recv(c, &out) != KCHAN_OK || out != 41) return 3;
    if (kchan_close(c) != KCHAN_OK) return 4;
    if (kchan_recv(c, &out) != KCHAN_CLOSED) return 5;
    kchan_destroy(c);

    // Typed API.
    cpp_intch *t = cpp_intch_new(2);
    if (!t) return 6;
    if (cpp_intch_send(t, 7) != KCHAN_OK) return 7;
    if (cpp_intch_send(t, 8) != KCHAN_OK) return 8;
    cpp_intch_elem v = 0;
    if (cpp_intch_recv(t, &v) != KCHAN_OK || v != 7) return 9;
    kchan_case cs[1] = { cpp_intch_recv_case(t, &v) };
    if (kchan_select(cs, 1, 0) != 0 || cs[0].status != KCHAN_OK || v != 8) return 10;
    if (cpp_intch_close(t) != KCHAN_OK || !cpp_intch_is_closed(t)) return 11;
    if (cpp_intch_recv(t, &v) != KCHAN_CLOSED) return 12;
    cpp_intch_destroy(t);

    // An unlimited channel grows through kchan's stb_ds copy (the C++-compiled
    // implementation's too), and a send case takes a const element.
    kchan_opts u = {};
    u.capacity = KCHAN_UNLIMITED;
    if (kchan_create(&c, sizeof(int), &u) != KCHAN_OK) return 15;
    for (int i = 0; i < 100; i++)
        if (kchan_send(c, &i) != KCHAN_OK) return 16;
    int sum = 0;
    while (kchan_try_recv(c, &out) == KCHAN_OK) sum += out;
    kchan_destroy(c);
    if (sum != 4950) return 17;
    cpp_intch *s = nullptr;
    if (cpp_intch_create(&s, &o) != KCHAN_OK) return 18;
    const int one = 1;
    kchan_case sc[1] = { cpp_intch_send_case(s, &one) };
    if (kchan_select(sc, 1, 0) != 0 || cpp_intch_len(s) != 1) return 19;
    cpp_intch_destroy(s);

    kchan_counter k;
    kchan_counter_init(&k, 1);
    if (kchan_counter_add(&k, 2) != 3) return 13;
    if (kchan_counter_wait_ge(&k, 3, 0) != KCHAN_OK) return 14;
    return 0;
}

int main()
{
    return cpp_roundtrip();
}
