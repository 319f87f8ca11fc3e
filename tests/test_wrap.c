/* The lock-free engine's ring positions at the wrap of size_t (issue 14's review finding,
   issue 20 item 3), the order of the readiness re-check's reads, and max_len's monotonicity.
   The bodies are in wrap_cases.h, which `make test-wrap-32` also runs on a 32-bit build, where
   the wrap is reached by real traffic (after ~10^9 operations on a capacity-1 channel); here
   kchan__test_place starts each channel a few laps before the 2^64 wrap. */
#include "common.h"
#define WRAP_CHECK(cond, ...) cr_assert(cond, __VA_ARGS__)
#include "wrap_cases.h"

/* Every kind, random try ops (sends, batches, peeks, receives) across the wrap; len, stats,
   callbacks and readiness compared with a model after every op, then cancel. */
Test(wrap, model_every_kind_across_the_wrap, .timeout = T_TIMEOUT)
{
    for (size_t i = 0; i < WRAP_NCFGS; i++) wrap_model_run(&wrap_cfgs[i]);
}

Test(wrap, drop_oldest_three_sends_at_the_wrap_evict_nothing, .timeout = T_TIMEOUT)
{
    wrap_drop_oldest_three_sends();
}

Test(wrap, sender_registering_after_a_recv_at_the_wrap_finds_room, .timeout = T_TIMEOUT)
{
    wrap_send_after_recv(INT64_C(500000000));
}

Test(wrap, sender_registering_after_a_recv_at_the_wrap_forever_does_not_hang, .timeout = T_TIMEOUT)
{
    wrap_send_after_recv(KCHAN_FOREVER);
}

Test(wrap, ready_reads_head_before_tail, .timeout = T_TIMEOUT)
{
    wrap_ready_interleaved(0);
    wrap_ready_interleaved(1);
}

Test(wrap, ready_never_says_no_room_on_a_nearly_empty_ring, .timeout = T_TIMEOUT)
{
    wrap_ready_churn(0, 200000);
}

Test(wrap, ready_never_says_no_room_on_a_nearly_empty_ring_at_the_wrap, .timeout = T_TIMEOUT)
{
    wrap_ready_churn(1, 200000);
}

Test(wrap, max_len_never_goes_back, .timeout = T_TIMEOUT)
{
    wrap_max_len_monotonic(0);
    wrap_max_len_monotonic(1);                 /* and with the list's positions at the wrap */
}
