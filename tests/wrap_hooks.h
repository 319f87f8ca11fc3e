/* The KCHAN_TESTING hooks of kchan.h (defined when the implementation file defines
   KCHAN_TESTING, as tests/kchan_impl.c does; the implementation file includes this header
   too, so the compiler checks these prototypes against the definitions). */
#ifndef KCHAN_TEST_WRAP_HOOKS_H
#define KCHAN_TEST_WRAP_HOOKS_H
#include <stdbool.h>
#include <stddef.h>
#include "../kchan.h"

/* Start a new lock-free channel `laps` laps before its ring positions wrap around size_t.
   KCHAN_INVAL on a mutex-engine channel (which has no positions) or a used one. */
int  kchan__test_place(kchan_t *c, size_t laps);
/* Hold (true) or release (false) a lock-free channel's lock; false on the mutex engine. */
bool kchan__test_hold(kchan_t *c, bool hold);
/* The lock-free engine's readiness re-check for KCHAN_OP_SEND / KCHAN_OP_RECV: 1 ready,
   0 not, -1 on a mutex-engine channel. */
int  kchan__test_ready(kchan_t *c, int op);
/* Have the lock-free re-check call fn(c) between its reads of head and tail (NULL: stop). */
void kchan__test_between_ready_reads(void (*fn)(kchan_t *c));
#endif
