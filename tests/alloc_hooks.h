/* Counting, failable allocator shared by the tests and their kchan instance. */
#ifndef KCHAN_TEST_ALLOC_HOOKS_H
#define KCHAN_TEST_ALLOC_HOOKS_H
#include <stddef.h>
#include <stdint.h>

void  *test_malloc(size_t sz);
void  *test_realloc(void *p, size_t sz);
void   test_free(void *p);

int64_t test_alloc_calls(void);      /* malloc + realloc calls so far (successful or not) */
int64_t test_alloc_live_blocks(void);/* blocks allocated and not yet freed */
int64_t test_alloc_live_bytes(void); /* bytes in those blocks */
/* Make the n-th allocation call from now fail (1 = the next one), and every call
   after it while `sticky` is non-zero; n <= 0 turns failure injection off. */
void    test_alloc_fail_at(int64_t n, int sticky);
/* Make every allocation call take at least `ns` nanoseconds (0 = off). Not an ordering
   tool: it only widens a window (an allocation under a channel lock) so a race that
   needs a slow partner shows up every run instead of once in a thousand. */
void    test_alloc_delay_ns(int64_t ns);
#endif
