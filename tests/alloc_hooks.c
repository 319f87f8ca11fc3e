#include "alloc_hooks.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Each block carries its size in a header so frees can be counted in bytes.
   All counters are relaxed: tests read them only after joining their threads. */
typedef struct { size_t size; size_t pad; } hdr;   /* 16 bytes keeps max_align_t alignment */

static atomic_llong calls, live_blocks, live_bytes, fail_countdown;
static atomic_int fail_sticky;
static atomic_llong delay_ns;

static void maybe_delay(void)
{
    long long ns = atomic_load_explicit(&delay_ns, memory_order_relaxed);
    if (ns <= 0) return;
    struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
    while (nanosleep(&ts, &ts) != 0) {}
}

static int should_fail(void)
{
    maybe_delay();
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    long long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (n <= 0) return 0;
    n = atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed);
    if (n == 1) {
        if (atomic_load_explicit(&fail_sticky, memory_order_relaxed))
            atomic_store_explicit(&fail_countdown, 1, memory_order_relaxed);
        return 1;
    }
    return 0;
}

void *test_malloc(size_t sz)
{
    if (should_fail()) return NULL;
    hdr *h = malloc(sizeof(hdr) + sz);
    if (!h) return NULL;
    h->size = sz;
    atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&live_bytes, (long long)sz, memory_order_relaxed);
    return h + 1;
}

void *test_realloc(void *p, size_t sz)
{
    if (!p) return test_malloc(sz);
    if (should_fail()) return NULL;
    hdr *old = (hdr *)p - 1;
    size_t old_size = old->size;
    hdr *h = realloc(old, sizeof(hdr) + sz);
    if (!h) return NULL;
    h->size = sz;
    atomic_fetch_add_explicit(&live_bytes, (long long)sz - (long long)old_size, memory_order_relaxed);
    return h + 1;
}

void test_free(void *p)
{
    if (!p) return;
    hdr *h = (hdr *)p - 1;
    atomic_fetch_sub_explicit(&live_blocks, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&live_bytes, (long long)h->size, memory_order_relaxed);
    free(h);
}

int64_t test_alloc_calls(void)       { return atomic_load_explicit(&calls, memory_order_relaxed); }
int64_t test_alloc_live_blocks(void) { return atomic_load_explicit(&live_blocks, memory_order_relaxed); }
int64_t test_alloc_live_bytes(void)  { return atomic_load_explicit(&live_bytes, memory_order_relaxed); }

void test_alloc_fail_at(int64_t n, int sticky)
{
    atomic_store_explicit(&fail_sticky, sticky, memory_order_relaxed);
    atomic_store_explicit(&fail_countdown, n > 0 ? n : 0, memory_order_relaxed);
}

void test_alloc_delay_ns(int64_t ns) { atomic_store_explicit(&delay_ns, ns, memory_order_relaxed); }
