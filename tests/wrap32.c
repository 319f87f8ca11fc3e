/* `make test-wrap-32`: the wrap tests of wrap_cases.h on a 32-bit build (gcc -m32), where
   size_t positions wrap after 2^32 and real traffic gets there (~10^9 operations on a
   capacity-1 channel); kchan__test_place starts each channel a few laps before it. One
   translation unit, no Criterion (it may not exist for i386): a failed check prints where
   and why, then the summary, and exits 1. Built once per engine. */
#include <stddef.h>
#define KCHAN_IMPLEMENTATION
#define KCHAN_TESTING
#include "../kchan.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int wrap_passed;
static const char *wrap_current = "";

static void wrap_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL %s: %s:%d: ", wrap_current, file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nwrap32: %d passed, 1 failed\n", wrap_passed);
    exit(1);                    /* a stuck partner thread may remain: do not join it */
}
#define WRAP_CHECK(cond, ...) do { if (!(cond)) wrap_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#include "wrap_cases.h"

static void run(const char *name, void (*fn)(void))
{
    wrap_current = name;
    fn();
    wrap_passed++;
}

static void model(void) { for (size_t i = 0; i < WRAP_NCFGS; i++) wrap_model_run(&wrap_cfgs[i]); }
static void three_sends(void) { wrap_drop_oldest_three_sends(); }
static void send_after_recv(void) { wrap_send_after_recv(INT64_C(500000000)); }
static void send_after_recv_forever(void) { wrap_send_after_recv(KCHAN_FOREVER); }
static void ready_interleaved(void) { wrap_ready_interleaved(0); wrap_ready_interleaved(1); }
static void ready_churn(void) { wrap_ready_churn(0, 50000); }
static void ready_churn_at_wrap(void) { wrap_ready_churn(1, 50000); }
static void max_len(void) { wrap_max_len_monotonic(0); wrap_max_len_monotonic(1); }

int main(void)
{
    if (sizeof(size_t) != 4) printf("wrap32: note: size_t is %zu bytes, not a 32-bit build\n", sizeof(size_t));
    run("model_every_kind_across_the_wrap", model);
    run("drop_oldest_three_sends_at_the_wrap_evict_nothing", three_sends);
    run("sender_registering_after_a_recv_at_the_wrap_finds_room", send_after_recv);
    run("sender_registering_after_a_recv_at_the_wrap_forever_does_not_hang", send_after_recv_forever);
    run("ready_reads_head_before_tail", ready_interleaved);
    run("ready_never_says_no_room_on_a_nearly_empty_ring", ready_churn);
    run("ready_never_says_no_room_on_a_nearly_empty_ring_at_the_wrap", ready_churn_at_wrap);
    run("max_len_never_goes_back", max_len);
    printf("wrap32 (%s engine, %zu-bit size_t): %d passed, 0 failed\n",
           WRAP_LOCKFREE ? "lock-free" : "mutex", sizeof(size_t) * 8, wrap_passed);
    return 0;
}
