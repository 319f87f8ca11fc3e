/* The implementation translation unit every test binary links, built once per
   engine (the Makefile adds -DKCHAN_LOCKFREE for the lock-free one). Its
   allocator (alloc_hooks.c) counts live blocks and bytes and can be told to
   fail, so tests can prove "no allocation after create", "memory given back"
   and "NOMEM loses nothing". Only <stddef.h> comes before kchan.h, as the
   header's doc block asks of an implementation file. KCHAN_TESTING adds the test
   hooks tests/wrap_hooks.h declares (test_wrap.c places rings near the wrap). */
#include <stddef.h>
void *test_malloc(size_t sz);
void *test_realloc(void *p, size_t sz);
void  test_free(void *p);

#define KCHAN_MALLOC(sz)     test_malloc(sz)
#define KCHAN_REALLOC(p, sz) test_realloc((p), (sz))
#define KCHAN_FREE(p)        test_free(p)
#define KCHAN_TESTING        /* test points (test_evict.c) and wrap hooks (test_wrap.c) */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"
#include "wrap_hooks.h"
