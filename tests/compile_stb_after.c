/* The kchan implementation file of a program that uses stb_ds itself: kchan.h
   first, then the user's own stb_ds.h with its implementation, short names
   (arrput) and default allocator. kchan's private stb_ds instance must leave no
   macro behind that changes what the user's include means. Linked with
   compile_stb_user.c, which includes stb_ds.h after kchan.h in a plain file. */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"
#define STB_DS_IMPLEMENTATION
#include <stb_ds.h>

/* The user's stb_ds: a public stbds_arrgrowf over realloc, and its short names. */
int stb_after_sum(int n);
int stb_after_sum(int n)
{
    int *a = NULL, sum = 0;
    for (int i = 0; i < n; i++) arrput(a, i);
    for (size_t i = 0; i < arrlenu(a); i++) sum += a[i];
    /* One of the public names kchan renames in its own copy: the user's is a real
       extern function here (hmput needs typeof, which gcc -std=c11 lacks). */
    char key[] = "kchan";
    sum += stbds_hash_string(key, 1) == stbds_hash_string(key, 1) ? 0 : 1000000;
    arrfree(a);
    return sum;
}
