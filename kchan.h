/* kchan.h — typed channels for C11 threads, in one header.             v0.2
 *
 * Go/crossbeam-style channels: rendezvous, bounded, unlimited and conflated
 * kinds; block / drop-newest / drop-oldest overflow policies; close with
 * drain; timeouts; batch send/receive; a fair multi-channel select; per-channel
 * metrics; progress counters. Between processes (Linux, POSIX): latest-value
 * channels of large frames (section latest) and bounded MPMC channels that
 * survive a killed peer (section shared), in shared memory.
 *
 * DO THIS, in exactly one .c file (include kchan.h first in that file):
 *
 *     #define KCHAN_IMPLEMENTATION
 *     #include "kchan.h"
 *
 * and build with the stb_ds folder on the include path:
 *     cc -std=c11 $(pkg-config --cflags stb) ... -lpthread
 * (gcc, clang and MSVC find Debian's /usr/include/stb/stb_ds.h without it; without any
 * stb_ds.h, define KCHAN_NO_UNLIMITED).
 * Every other file just includes kchan.h.
 *
 * CONFIG (define before including, in the implementation file)
 *   macro                     default            effect
 *   KCHAN_IMPLEMENTATION      -                  emit the implementation here
 *   KCHAN_STATIC              -                  every symbol static (single-TU builds)
 *   KCHAN_LOCKFREE            -                  buffered channels use the lock-free ring or
 *                                                segment list (section engine_lockfree); only
 *                                                the implementation file needs it
 *   KCHAN_PLATFORM_LINUX      auto on Linux      futex lock and futex parking
 *   KCHAN_PLATFORM_WIN32      auto on Windows    SRW locks, WaitOnAddress (-lsynchronization)
 *   KCHAN_PLATFORM_POSIX      auto elsewhere     pthread mutex, parking lot of condvars
 *   KCHAN_PLATFORM_C11        -                  <threads.h> mutex, parking lot of condvars
 *   KCHAN_PLATFORM_CUSTOM     -                  your RTOS/scheduler hooks (below)
 *   KCHAN_PLATFORM_NONE       -                  one thread, no locks: every op that would
 *                                                wait returns KCHAN_WOULDBLOCK
 *   KCHAN_NOW_NS()            -                  _NONE only: kchan_now_ns() (else it is 0)
 *   KCHAN_NONE_CRITICAL_ENTER() -                _NONE only, with _EXIT(key): channels shared
 *   KCHAN_NONE_CRITICAL_EXIT(k) -                with interrupt handlers (INTERRUPTS below)
 *   KCHAN_MALLOC/REALLOC/FREE malloc/realloc/free all three or none; stb_ds uses them too
 *   KCHAN_ASSERT(x)           assert(x)          internal invariants only, never input
 *   KCHAN_SELECT_MAX          64                 most cases one select may take (<= 256): its
 *                                                stack carries ~50 bytes a case (~30 on 32-bit)
 *   KCHAN_EVICT_MAX           256                largest element a drop-oldest/conflated
 *                                                channel hands to on_undelivered (see LIMITS);
 *                                                an evicting send's stack carries this much
 *   KCHAN_NO_UNLIMITED        -                  no unlimited kind, no stb_ds dependency
 *   KCHAN_NO_TIMERS           -                  no timer channels (kchan_after and its kin say
 *                                                NULL / KCHAN_INVAL): ~400 bytes less code
 *   KCHAN_NO_NODISCARD        -                  no unused-result warnings (otherwise C23/C++17
 *                                                [[nodiscard]], or clang's warn_unused_result;
 *                                                either way (void) discards a result)
 *
 * CUSTOM PLATFORM HOOKS (KCHAN_PLATFORM_CUSTOM): define, before including in the
 * implementation file, functions or macros of these shapes (L = KCHAN_CUSTOM_LOCK_T, a type
 * of at most 64 bytes):
 *   #define KCHAN_CUSTOM_LOCK_T my_lock
 *   void    kchan_custom_lock_init(L *l);    void kchan_custom_lock_destroy(L *l);
 *   void    kchan_custom_lock_acquire(L *l); void kchan_custom_lock_release(L *l);
 *   int     kchan_custom_wait(const volatile uint32_t *word, uint32_t expected, int64_t deadline_ns);
 *           sleep while *word == expected, until woken or until the absolute deadline on
 *           kchan_custom_now_ns's clock (-1: none); return 0 (woken, maybe spuriously: kchan
 *           re-checks) or KCHAN_TIMEDOUT. It must not miss a wake that follows a change of
 *           *word (check the word and sleep atomically with respect to wake_all).
 *   void    kchan_custom_wake_all(const volatile uint32_t *word);
 *           wake every sleeper on word. Never dereference it: it is only a key, and the
 *           memory may already belong to someone else.
 *   int64_t kchan_custom_now_ns(void);        monotonic nanoseconds
 *   #define KCHAN_CUSTOM_YIELD() my_yield()   required with KCHAN_LOCKFREE, optional otherwise:
 *           let every other ready thread run for a moment, LOWER priorities included (e.g.
 *           sleep one tick: vTaskDelay(1), k_sleep(K_TICKS(1))); a yield to equal priorities
 *           only (taskYIELD, k_yield) is not enough. The lock-free engine spins on a cell a
 *           partner has claimed until the partner finishes it (the stamped ring's one wait),
 *           then calls this between tries; with a higher priority than a preempted partner,
 *           an empty yield would spin forever. Hence an #error if KCHAN_LOCKFREE has no
 *           yield. The mutex engine only spins a bounded while before kchan_custom_wait, so
 *           without KCHAN_LOCKFREE it defaults to nothing.
 * The lock needs no fairness and is never taken recursively; kchan holds at most one
 * channel lock at a time except in select, which takes its channels' locks in address
 * order. The port must give C11 atomics on 32-bit words (ARMv6-M: the __atomic_*_4
 * helpers, e.g. by masking interrupts); kchan_counter also uses 64-bit atomics. No
 * thread-local storage is needed. tests/custom_hooks_impl.c is a complete port on pthreads.
 *
 * INTERRUPT HANDLERS (the full table is in API.md)
 *   _NONE has no locks: with a channel the main loop uses too, no call is safe from an
 *   interrupt handler, unless the implementation file defines critical-section hooks
 *   (Zephyr's irq_lock shape: ENTER() returns an unsigned key, EXIT(key) restores; both must
 *   be compiler barriers). On Cortex-M with CMSIS, for instance:
 *     static inline unsigned irq_save(void) { unsigned k = __get_PRIMASK(); __disable_irq(); return k; }
 *     #define KCHAN_NONE_CRITICAL_ENTER()  irq_save()
 *     #define KCHAN_NONE_CRITICAL_EXIT(k)  __set_PRIMASK(k)
 *   Every change of channel state then runs with interrupts masked (one op at a time), and a
 *   handler and the main loop may share a channel either way round: try_send, try_recv,
 *   peek, len, cap, is_closed, close, stats_get, dump, select with timeout 0 (on _NONE every
 *   op is a try). Never from a handler: create/destroy, unlimited channels (they allocate),
 *   kchan_counter_* (plain 64-bit words). on_undelivered runs where the op that dropped runs,
 *   maybe in the handler. Mutex engine only (#error with KCHAN_LOCKFREE). tests/none_isr.c
 *   checks it, a signal handler playing the interrupt.
 *   _CUSTOM: ops take kchan_custom_lock_* and may call kchan_custom_wake_all. try ops, peek,
 *   stats_get and dump are safe from a handler only if that lock masks the handler (a
 *   critical section, never an RTOS mutex) and wake_all may run there (FreeRTOS's FromISR
 *   calls); never with KCHAN_LOCKFREE (a handler may spin on a cell that the code it
 *   interrupted claimed). len, cap and is_closed only read. Ops that wait: never.
 *
 * API              blocks?                         allocates?
 *   kchan_create / kchan_new   no                  yes (once; never after, but unlimited growth)
 *   kchan_create_in            no                  no (caller memory)
 *   kchan_destroy              no                  frees
 *   kchan_send / kchan_recv    until done/closed   no (unlimited send: may grow the buffer)
 *   kchan_try_*                never               no (unlimited try_send: may grow)
 *   kchan_*_timeout            up to the timeout   no (as above)
 *   kchan_send_many/recv_many  like send/recv      no (as above)
 *   kchan_peek                 never               no
 *   kchan_close/_with/cancel   never               no
 *   kchan_select(_biased)      up to the timeout   no (waiter records on the caller's stack)
 *   kchan_stats_get/dump/len   never (wait-free)   no
 *   kchan_counter_*            wait_ge only        no
 *   kchan_version/strerror     never               no
 * Typed: KCHAN_DEFINE(name, T) gives name_create/_create_in/_new, name_send(c, v), ...,
 * name_stats_get (name_stats: the old name); KCHAN_DEFINE_SIGNAL(name) the same without a
 * payload (name_send(c), name_recv(c), ...). Version: KCHAN_VERSION_MAJOR/_MINOR/_PATCH and
 * KCHAN_VERSION_STRING, the header's; kchan_version(), the implementation's.
 *
 * SEMANTICS worth knowing (the full contract is docs/API.md)
 *   - A timeout of 0 means "try" (KCHAN_WOULDBLOCK); only KCHAN_FOREVER (-1) means
 *     forever, any other negative timeout is KCHAN_INVAL (nothing happens); an op that
 *     can complete at once succeeds whatever its valid timeout. INT64_MAX never overflows.
 *     KCHAN_US(x), KCHAN_MS(x), KCHAN_SEC(x) give nanoseconds from any integer, saturating
 *     instead of wrapping, never KCHAN_FOREVER (a negative x gives KCHAN_INVAL).
 *   - Close: sends fail with KCHAN_CLOSED (the caller keeps its element), receivers
 *     drain what is buffered, then get KCHAN_CLOSED.
 *   - on_undelivered runs once for every accepted element no receiver will get
 *     (dropped, evicted, left at destroy, discarded by cancel), never under a lock.
 *   - A send takes effect at one instant; from then on it counts in kchan_len, stats.len
 *     and stats.sends, and a receive gets its element. On the mutex engine that instant is
 *     inside the channel lock; on the lock-free engine it is the claim of the send's cell,
 *     before its copy: a receive that comes for that element in between (try_recv too)
 *     waits out the copy, a few nanoseconds unless the sender is preempted. So counts never
 *     disagree with what a receive finds (tests/test_evict.c, inflight_send_*).
 *   - stats.cancelled_waiters counts withdrawn select registrations: the cases that lost
 *     and the cases of a select that timed out (single ops count in `timeouts`).
 *   - A select with a send to an unlimited channel that cannot grow keeps waiting on its
 *     other cases and retries the send now and then (nothing signals that memory is
 *     back: every 1 ms, doubling to 50 ms; each retry withdraws its registrations, counted
 *     in cancelled_waiters). KCHAN_NOMEM (nothing happened) only if the send still could
 *     not grow at the deadline and no case completed; at once for a timeout of 0.
 *   - A conflated channel is drop-oldest: kchan_create takes KCHAN_DROP_OLDEST or the default
 *     KCHAN_BLOCK for it (KCHAN_DROP_NEWEST is KCHAN_INVAL) and kchan_dump says drop_oldest.
 *   - Latest-value channels (kchan_latest_*, where KCHAN_HAVE_LATEST) live in memory that
 *     processes share: one writer that never waits, readers that take the newest frame or
 *     the next one and count what they skipped (gaps) or lost to the writer (lates); never
 *     a torn frame. Attach validates the region. A dead writer closes the channel and loses
 *     at most the frame it was writing. docs/API.md section 24.
 *   - Shared channels (kchan_create_shared, kchan_attach, where KCHAN_HAVE_SHARED) are
 *     bounded MPMC channels in memory that processes share, used through a per-process
 *     kchan_t handle with every kchan_* function; kchan_destroy detaches. A process killed
 *     mid-op is noticed within 20 ms by whoever waits behind its cell, which is recovered
 *     and counted (stats.lost_sending / lost_receiving); every send that returned KCHAN_OK
 *     is received once or counted. A select looks at shared cases every 1 ms. Section 25.
 *   - Timers (kchan_after, kchan_tick, kchan_never) are receive-only channels of int64_t
 *     instants with no thread behind them: whoever touches one (a receive, a select, stats)
 *     first sends what has come due; waiting receivers and selects sleep until the next
 *     instant. A tick's skipped instants count as drops_oldest; close stops a timer.
 *   - KCHAN_SELECT(...) builds its cases in a compound literal, so a case's status
 *     is not visible afterwards: use it when "received" and "closed" need no
 *     distinction (a done channel); otherwise pass a named kchan_case array.
 *
 * LIMITS
 *   - Sizes that cannot exist are KCHAN_INVAL at create, the same on both engines: a
 *     channel needs n cells of elem_size + 2 * sizeof(size_t) bytes, n = capacity + 1
 *     (rendezvous 0, conflated 1) or 32 for unlimited, and these must fit in SIZE_MAX / 4
 *     bytes (on 32-bit: an unlimited channel takes elements of up to 32 MiB - 8 bytes).
 *   - A drop-oldest or conflated channel with an on_undelivered callback takes
 *     elements of at most KCHAN_EVICT_MAX bytes (kchan_create says KCHAN_INVAL
 *     otherwise): the evicted element is copied to the evicting thread's stack so
 *     the callback can run after the lock is released, and nothing may allocate. Only
 *     sends that may evict carry that room; define KCHAN_EVICT_MAX to your largest such
 *     element to shrink it.
 *   - Your own stb_ds.h may come before or after kchan.h, in the implementation file too
 *     (kchan's copy is private); with compilers other than gcc, clang and MSVC, after only.
 *   - KCHAN_LOCKFREE serves bounded (every policy), conflated and unlimited channels with
 *     elements of at least one byte; rendezvous channels and size-0 elements keep the
 *     mutex engine in the same build (select mixes both). It needs threads (not
 *     KCHAN_PLATFORM_NONE); KCHAN_FOOTPRINT gives room for its channels in every build, so
 *     files that use the macro need not know the engine. On it, kchan_cancel and kchan_peek
 *     on an unlimited channel
 *     briefly hold back receivers (a peek of any other kind holds back nothing).
 *
 * LICENSE: MIT or public domain (Unlicense), your choice; see the end of the file.
 */
#if defined(KCHAN_IMPLEMENTATION) && !defined(KCHAN__FEATURES_SET)
#  define KCHAN__FEATURES_SET
   /* The implementation needs POSIX clocks and, on Linux, syscall(): ask for them
      before the first system header (this is why kchan.h comes first there). */
#  if !defined(_WIN32) && !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#    define _POSIX_C_SOURCE 200809L
#  endif
#  if defined(__linux__) && !defined(_DEFAULT_SOURCE) && !defined(_GNU_SOURCE)
#    define _DEFAULT_SOURCE
#  endif
#  if defined(__APPLE__) && !defined(_DARWIN_C_SOURCE)
#    define _DARWIN_C_SOURCE   /* _POSIX_C_SOURCE alone hides pthread_cond_timedwait_relative_np */
#  endif
#endif

#ifndef KCHAN_H_INCLUDED
#define KCHAN_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef KCHAN_STATIC
#  if defined(__GNUC__) || defined(__clang__)
#    define KCHAN_DEF static __attribute__((unused))
#  else
#    define KCHAN_DEF static
#  endif
#else
#  define KCHAN_DEF extern
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define KCHAN__WRAP static inline __attribute__((unused))
#else
#  define KCHAN__WRAP static inline
#endif

/* Results worth checking warn when dropped; (void) discards one. C23 and C++17 have
   [[nodiscard]], which a cast silences everywhere; before them only clang's
   warn_unused_result does (gcc's cannot be silenced by a cast: under -Werror that would
   forbid the standard way to discard, so older gcc modes get nothing). It leads the
   declaration, before KCHAN_DEF / KCHAN__WRAP, where [[...]] must stand.
   KCHAN_NO_NODISCARD turns it off. */
#if defined(KCHAN_NO_NODISCARD)
#  define KCHAN__NODISCARD
#elif defined(__cplusplus) && __cplusplus >= 201703L
#  define KCHAN__NODISCARD [[nodiscard]]
#elif defined(_MSVC_LANG) && _MSVC_LANG >= 201703L
#  define KCHAN__NODISCARD [[nodiscard]]
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ > 201710L && \
      defined(__has_c_attribute)
#  if __has_c_attribute(nodiscard)
#    define KCHAN__NODISCARD [[nodiscard]]
#  endif
#endif
#if !defined(KCHAN__NODISCARD) && defined(__clang__)
#  define KCHAN__NODISCARD __attribute__((warn_unused_result))
#elif !defined(KCHAN__NODISCARD)
#  define KCHAN__NODISCARD
#endif

#ifdef __cplusplus
#  define KCHAN__ALIGN64 alignas(64)
#else
#  define KCHAN__ALIGN64 _Alignas(64)
#endif

#ifndef KCHAN_SELECT_MAX
#  define KCHAN_SELECT_MAX 64
#endif
/* A select keeps a waiter, a lock pointer and a byte of case order per possible case on its
   stack (no allocation, no VLA): about 50 bytes a case on 64-bit targets, 30 on 32-bit. */
#if KCHAN_SELECT_MAX < 1 || KCHAN_SELECT_MAX > 256
#  error "kchan: KCHAN_SELECT_MAX must be between 1 and 256: a select's stack frame carries about 50 bytes per case it may take (12.8 KB at 256)"
#endif
#ifndef KCHAN_EVICT_MAX
#  define KCHAN_EVICT_MAX 256
#endif

#ifdef __cplusplus
extern "C" {
#endif

// >>types

/* The release: numbers for #if, the string for messages; kchan_version() is the string the
   implementation was built with (compare them to catch a header/library mismatch). */
#define KCHAN_VERSION_MAJOR 0
#define KCHAN_VERSION_MINOR 2
#define KCHAN_VERSION_PATCH 0
#define KCHAN_VERSION_STRING "0.2.0"

/* One list makes the status enum and kchan_strerror. */
#define KCHAN__STATUS(X)                                                      \
    X(KCHAN_OK,          0, "ok")                                             \
    X(KCHAN_CLOSED,     -1, "channel closed")                                 \
    X(KCHAN_WOULDBLOCK, -2, "operation would block")                          \
    X(KCHAN_TIMEDOUT,   -3, "timed out")                                      \
    X(KCHAN_NOMEM,      -4, "out of memory")                                  \
    X(KCHAN_INVAL,      -5, "invalid argument")                               \
    X(KCHAN_BADREGION,  -6, "shared region is not a usable kchan region")     \
    X(KCHAN_MISMATCH,   -7, "shared region differs from what was expected")

#define KCHAN__ENUM_ITEM(name, value, text) name = value,
enum { KCHAN__STATUS(KCHAN__ENUM_ITEM) KCHAN__STATUS_END };
#undef KCHAN__ENUM_ITEM

#define KCHAN_RENDEZVOUS 0
#define KCHAN_UNLIMITED  SIZE_MAX           /* no casts: C++ users may build with -Wold-style-cast */
#define KCHAN_CONFLATED  (SIZE_MAX - 1)
#define KCHAN_FOREVER    (-INT64_C(1))

/* Timeouts in nanoseconds from other units: kchan_recv_timeout(c, &v, KCHAN_MS(250)).
   The argument (any integer type) becomes an int64_t before the multiply, so an `int secs`
   cannot overflow in int; a product beyond int64_t saturates to INT64_MAX (forever in
   practice) or INT64_MIN instead of wrapping. No result is KCHAN_FOREVER: a negative
   argument gives a negative timeout, which an op refuses with KCHAN_INVAL. The argument is
   evaluated once; the result is not a constant expression (write the nanoseconds there). */
#define KCHAN_US(x)  kchan__scale_ns((x), 1000)
#define KCHAN_MS(x)  kchan__scale_ns((x), 1000000)
#define KCHAN_SEC(x) kchan__scale_ns((x), 1000000000)
KCHAN__WRAP int64_t kchan__scale_ns(int64_t v, int64_t unit)
{ return v > INT64_MAX / unit ? INT64_MAX : v < INT64_MIN / unit ? INT64_MIN : v * unit; }

typedef struct kchan kchan_t;

typedef enum { KCHAN_BLOCK, KCHAN_DROP_NEWEST, KCHAN_DROP_OLDEST } kchan_overflow;

typedef struct kchan_opts {
    size_t capacity;                 /* 0, N, KCHAN_UNLIMITED or KCHAN_CONFLATED */
    kchan_overflow overflow;         /* bounded channels; conflated is KCHAN_DROP_OLDEST whether
                                        you say so or leave KCHAN_BLOCK; others: KCHAN_BLOCK */
    void (*on_undelivered)(void *elem, void *user);  /* may be NULL */
    void *user;
    const char *name;                /* shown by kchan_dump; may be NULL */
} kchan_opts;

enum { KCHAN_OP_SEND = 1, KCHAN_OP_RECV = 2 };
typedef struct kchan_case { kchan_t *chan; int op; void *elem; int status; } kchan_case;

#define KCHAN_STATS_VERSION 2u
typedef struct kchan_stats {
    uint32_t version;                           /* KCHAN_STATS_VERSION */
    uint64_t sends;            /* sends that took effect, i.e. return KCHAN_OK (a drop-newest
                                  send counts); see SEMANTICS for the instant */
    uint64_t recvs;            /* elements received */
    uint64_t drops_newest, drops_oldest;  /* dropped at send / evicted (drop-oldest, conflated) */
    uint64_t undelivered;      /* left at destroy or discarded by cancel (drops not included) */
    uint64_t send_full, recv_empty;       /* ops with timeout 0 that returned KCHAN_WOULDBLOCK */
    uint64_t timeouts;         /* single-channel ops with a positive timeout that returned KCHAN_TIMEDOUT */
    uint64_t cancelled_waiters;/* registrations withdrawn: lost or timed-out select cases */
    uint64_t blocked_sends, blocked_recvs;  /* ops that had to wait, whatever the outcome */
    size_t   len, cap, max_len;                 /* max_len: high-water mark of len */
    uint32_t waiting_senders, waiting_receivers;  /* registrations now parked */
    bool     closed;
    uint64_t lost_sending;     /* shared channels: sends a process that died had claimed but
                                  not finished (never counted in sends) */
    uint64_t lost_receiving;   /* shared channels: sent elements a process that died had taken
                                  but not finished receiving */
} kchan_stats;

/* A progress counter: one cache line, embeddable anywhere, allocates nothing.
   The fields are private: use the kchan_counter_* functions only. */
typedef struct kchan_counter {
    KCHAN__ALIGN64 int64_t value__;
    uint32_t epoch__;          /* futex word: bumped on every change seen by a waiter */
    uint32_t waiters__;        /* threads inside kchan_counter_wait_ge */
    unsigned char pad__[64 - sizeof(int64_t) - 2 * sizeof(uint32_t)];
} kchan_counter;
#define KCHAN_COUNTER_INIT(v) { (v), 0, 0, { 0 } }

/* Bytes of caller memory that suffice for kchan_create_in: a constant expression, the
   same in every file whatever the engine the implementation file chose (KCHAN_LOCKFREE is
   not needed here): room for the larger of the two engines' channels, so for a mutex-engine
   build up to one cache line of header and two words per cell more than it uses; exact on
   _NONE, which has only the mutex engine. The fixed part is the channel header (kchan__shape:
   struct kchan's size on this target, which the implementation checks) rounded up to the
   alignment kchan_create_in gives it, plus that alignment less one byte of slack, so mem
   may have any alignment; 0 for KCHAN_UNLIMITED. The lock's room: exact on _NONE, and on
   _CUSTOM where the port's KCHAN_CUSTOM_LOCK_T is visible; 64 bytes elsewhere (any system
   lock fits). A channel too large for size_t saturates at SIZE_MAX instead of wrapping to a
   small number (an array of that size does not compile, and kchan_create_in refuses such a
   channel). */
#if defined(KCHAN_PLATFORM_NONE)
typedef struct { unsigned int key; } kchan__lock_room;
#elif defined(KCHAN_PLATFORM_CUSTOM) && defined(KCHAN_CUSTOM_LOCK_T)
typedef KCHAN_CUSTOM_LOCK_T kchan__lock_room;
#else
typedef union { unsigned char bytes[64]; void *p; uint64_t u; } kchan__lock_room;
#endif
#if !defined(KCHAN_PLATFORM_NONE) && defined(__GCC_ATOMIC_LLONG_LOCK_FREE) && __GCC_ATOMIC_LLONG_LOCK_FREE != 2
typedef uintptr_t kchan__count_room;       /* as kchan__count: no lock-free 64-bit atomics */
#else
typedef uint64_t kchan__count_room;
#endif
typedef struct kchan__shape {              /* struct kchan, field for field */
    kchan__lock_room lock;
    size_t elem_size, capacity;
    struct { void *head, *tail; uint32_t count; } sendq, recvq;
    void (*on_undelivered)(void *, void *);
    void *user;
    const char *name;
    unsigned char kind, policy, caller_memory, lockfree;
    struct {
        uint32_t waiting_senders, waiting_receivers;
        kchan__count_room handoffs;
        int closed, reason;
        kchan__count_room counts[9];
        size_t max_len;
    } m;
    struct {
        void *slots;
        size_t size, head, count;
        kchan__count_room sends, recvs;
        size_t len;
    } mx;
    struct { int64_t due, period; } tm;
#if !defined(KCHAN_PLATFORM_NONE)
    struct {
        void *cells;
        size_t size, stride, mark, one_lap;
        unsigned lap_shift;
        size_t origin;
        uint32_t discarded;
        uint16_t snooze_credit[2];
        char pad0[64];
        size_t tail;
        void *tail_seg, *spare_seg;
        char pad1[64 - sizeof(size_t) - 2 * sizeof(void *)];
        size_t head;
        void *head_seg;
        char pad2[64 - sizeof(size_t) - sizeof(void *)];
        kchan__count_room recvs_floor;
        size_t evictions;
    } lf;
#endif
} kchan__shape;
#ifdef __cplusplus
#  define KCHAN__ALIGNOF(T) alignof(T)
#else
#  define KCHAN__ALIGNOF(T) _Alignof(T)
#endif
/* Where kchan_create_in puts the channel: on a cache line (the lock-free engine's positions
   sit on lines of their own); on _NONE as malloc would. */
#if !defined(KCHAN_PLATFORM_NONE)
#  define KCHAN__CREATE_IN_ALIGN ((size_t)64)
#else
#  define KCHAN__CREATE_IN_ALIGN ((size_t)KCHAN__ALIGNOF(max_align_t))
#endif
#define KCHAN__FOOTPRINT_FIXED                                                 \
    (KCHAN__CREATE_IN_ALIGN - 1 +                                             \
     (sizeof(kchan__shape) + KCHAN__CREATE_IN_ALIGN - 1) / KCHAN__CREATE_IN_ALIGN * KCHAN__CREATE_IN_ALIGN)
#if !defined(KCHAN_PLATFORM_NONE)  /* lock-free cells carry a stamp (up to 2 words more */
                                   /* each); drop-oldest and conflated rings a spare cell */
#  define KCHAN__FOOTPRINT_CELL(elem_size) ((size_t)(elem_size) + 2 * sizeof(size_t))
#  define KCHAN__FOOTPRINT_CELLS(capacity) ((size_t)(capacity) + 1)
#  define KCHAN__FOOTPRINT_CELL_WRAPS(elem_size) (SIZE_MAX - (size_t)(elem_size) < 2 * sizeof(size_t))
#else
#  define KCHAN__FOOTPRINT_CELL(elem_size) ((size_t)(elem_size))
#  define KCHAN__FOOTPRINT_CELLS(capacity) ((size_t)(capacity))
#  define KCHAN__FOOTPRINT_CELL_WRAPS(elem_size) 0
#endif
#define KCHAN__FOOTPRINT_N(capacity)                                           \
    KCHAN__FOOTPRINT_CELLS((size_t)(capacity) == KCHAN_CONFLATED ? (size_t)1 : (size_t)(capacity))
/* Cell or total beyond SIZE_MAX. "n + 1 > q + 1" is "n > q" (neither side can wrap) without
   a comparison that gcc's -Wtype-limits calls always false when n is the constant 0. */
#define KCHAN__FOOTPRINT_WRAPS(elem_size, capacity)                                        \
    (KCHAN__FOOTPRINT_CELL_WRAPS(elem_size) ||                                             \
     (KCHAN__FOOTPRINT_CELL(elem_size) != 0 &&                                            \
      KCHAN__FOOTPRINT_N(capacity) + 1 > (SIZE_MAX - KCHAN__FOOTPRINT_FIXED) /             \
          (KCHAN__FOOTPRINT_CELL(elem_size) + (KCHAN__FOOTPRINT_CELL(elem_size) == 0)) + 1))
#define KCHAN_FOOTPRINT(elem_size, capacity)                                   \
    ((size_t)(capacity) == KCHAN_UNLIMITED ? (size_t)0                        \
     : KCHAN__FOOTPRINT_WRAPS(elem_size, capacity) ? SIZE_MAX                 \
     : (size_t)KCHAN__FOOTPRINT_FIXED + KCHAN__FOOTPRINT_N(capacity) * KCHAN__FOOTPRINT_CELL(elem_size))

// >>api

KCHAN_DEF const char *kchan_strerror(int status);
KCHAN_DEF const char *kchan_version(void);

KCHAN_DEF int      kchan_create(kchan_t **out, size_t elem_size, const kchan_opts *opts);
KCHAN_DEF kchan_t *kchan_new(size_t elem_size, size_t capacity);
KCHAN_DEF int      kchan_create_in(kchan_t **out, void *mem, size_t mem_size, size_t elem_size,
                                   const kchan_opts *opts);
KCHAN_DEF void     kchan_destroy(kchan_t *c);

KCHAN__NODISCARD KCHAN_DEF int kchan_send(kchan_t *c, const void *elem);
KCHAN__NODISCARD KCHAN_DEF int kchan_recv(kchan_t *c, void *out);
KCHAN__NODISCARD KCHAN_DEF int kchan_try_send(kchan_t *c, const void *elem);
KCHAN__NODISCARD KCHAN_DEF int kchan_try_recv(kchan_t *c, void *out);
KCHAN__NODISCARD KCHAN_DEF int kchan_send_timeout(kchan_t *c, const void *elem, int64_t timeout_ns);
KCHAN__NODISCARD KCHAN_DEF int kchan_recv_timeout(kchan_t *c, void *out, int64_t timeout_ns);
KCHAN__NODISCARD KCHAN_DEF int kchan_send_many(kchan_t *c, const void *elems, size_t n,
                                               size_t *sent, int64_t timeout_ns);
KCHAN__NODISCARD KCHAN_DEF int kchan_recv_many(kchan_t *c, void *out, size_t max,
                                               size_t *got, int64_t timeout_ns);
KCHAN_DEF int      kchan_peek(kchan_t *c, void *out);
KCHAN_DEF int64_t  kchan_now_ns(void);

KCHAN_DEF int      kchan_close(kchan_t *c);
KCHAN_DEF int      kchan_close_with(kchan_t *c, int reason);
KCHAN_DEF int      kchan_close_reason(const kchan_t *c);
KCHAN_DEF bool     kchan_is_closed(const kchan_t *c);
KCHAN_DEF int      kchan_cancel(kchan_t *c);

/* Timer channels (section timer): receive-only channels of int64_t instants on kchan_now_ns's
   clock that need no thread. after: one instant, now + delay_ns, once it has come; tick: the
   instants now + k * period_ns, k = 1, 2, ..., a receiver getting the latest one due (the ticks
   it skipped count as drops_oldest); never: nothing, ever. A send is KCHAN_INVAL; close stops
   a timer (an instant already due is still received, then KCHAN_CLOSED). NULL (or KCHAN_INVAL
   from the _in forms) for a negative delay, a period <= 0, no memory, or on _NONE without
   KCHAN_NOW_NS. The _in forms place the timer in KCHAN_TIMER_FOOTPRINT bytes of caller memory. */
KCHAN_DEF kchan_t *kchan_after(int64_t delay_ns);
KCHAN_DEF kchan_t *kchan_tick(int64_t period_ns);
KCHAN_DEF kchan_t *kchan_never(void);
KCHAN_DEF int      kchan_after_in(kchan_t **out, void *mem, size_t mem_size, int64_t delay_ns);
KCHAN_DEF int      kchan_tick_in(kchan_t **out, void *mem, size_t mem_size, int64_t period_ns);
KCHAN_DEF int      kchan_never_in(kchan_t **out, void *mem, size_t mem_size);
#define KCHAN_TIMER_FOOTPRINT KCHAN_FOOTPRINT(sizeof(int64_t), 1)

KCHAN__NODISCARD KCHAN_DEF int kchan_select(kchan_case *cases, size_t n, int64_t timeout_ns);
KCHAN__NODISCARD KCHAN_DEF int kchan_select_biased(kchan_case *cases, size_t n, int64_t timeout_ns);

KCHAN_DEF void     kchan_stats_get(const kchan_t *c, kchan_stats *out);
KCHAN_DEF int      kchan_dump(const kchan_t *c, char *buf, size_t n);
KCHAN_DEF size_t   kchan_len(const kchan_t *c);
KCHAN_DEF size_t   kchan_cap(const kchan_t *c);

KCHAN_DEF void     kchan_counter_init(kchan_counter *k, int64_t v);
KCHAN_DEF int64_t  kchan_counter_add(kchan_counter *k, int64_t delta);
KCHAN_DEF int64_t  kchan_counter_load(const kchan_counter *k);
KCHAN_DEF void     kchan_counter_store(kchan_counter *k, int64_t v);
KCHAN_DEF int      kchan_counter_wait_ge(kchan_counter *k, int64_t target, int64_t timeout_ns);

/* Latest-value channels between processes (section latest; Linux and other POSIX systems):
   one writer publishes frames into a region of shared memory (shm_open, memfd_create +
   mmap(MAP_SHARED), or any mapping), any number of readers in any processes copy them out.
   The writer never waits for readers; the region keeps the last `slots` frames, each under
   its own sequence word, so a reader never returns a frame the writer was overwriting
   (it retries instead, and counts it). A reader asks for KCHAN_READ_LATEST (skip to the
   newest frame) or KCHAN_READ_NEXT (the frame after the last one it read, or the oldest
   still kept), and its handle counts exactly what it skipped (gaps) and what it lost to
   the writer mid-copy (lates). The region holds offsets and numbers only; attach checks
   its header against what you expect and keeps its own copy of the geometry, so a
   corrupt or hostile region gives a status, never a wild access. A writer that dies
   closes the channel (the frame it was writing, if any, counts as lost). docs/API.md,
   "Latest-value channels", is the contract. */
#if defined(KCHAN_PLATFORM_LINUX) || defined(KCHAN_PLATFORM_POSIX) ||                          \
    (!defined(KCHAN_PLATFORM_C11) && !defined(KCHAN_PLATFORM_WIN32) && !defined(KCHAN_PLATFORM_CUSTOM) && \
     !defined(KCHAN_PLATFORM_NONE) && !defined(_WIN32) && (defined(__unix__) || defined(__APPLE__)))
#  if !defined(__GCC_ATOMIC_LLONG_LOCK_FREE) || __GCC_ATOMIC_LLONG_LOCK_FREE == 2
#    define KCHAN_HAVE_LATEST 1      /* this build has them: LINUX or POSIX, lock-free 64-bit atomics */
#    define KCHAN_HAVE_SHARED 1      /* ... and shared bounded channels (kchan_create_shared) */
#  endif
#endif
#ifdef KCHAN_HAVE_LATEST
typedef struct kchan_latest_opts {
    size_t   frame_size;       /* bytes per frame, >= 1 (attach: 0 accepts any) */
    uint32_t slots;            /* frames kept, 2 .. 65536 (attach: 0 accepts any) */
} kchan_latest_opts;

/* A process's handle on a region: one thread at a time (a reader's place and counts live
   here); attach one handle per reading thread. Fields private. */
typedef struct kchan_latest {
    unsigned char *base__;
    uint64_t frame_size__, slots__, stride__, epoch__;
    uint64_t next__, first__, reads__, gaps__, lates__;
    int64_t  checked__;        /* when a waiting reader last asked whether the writer lives */
    const char *why__;         /* what attach found wrong */
    bool     writer__;         /* this handle took the writer role */
} kchan_latest;

enum { KCHAN_READ_LATEST = 1, KCHAN_READ_NEXT = 2 };

#define KCHAN_LATEST_STATS_VERSION 1u
typedef struct kchan_latest_stats {
    uint32_t version;          /* KCHAN_LATEST_STATS_VERSION */
    uint64_t frames;           /* frames published since creation */
    uint64_t lost;             /* frames a dead writer left half-written (0 or 1) */
    uint64_t first;            /* this handle: the frame number it started at */
    uint64_t reads, gaps, lates;  /* this handle: frames read, skipped, lost mid-copy;
                                     reads + gaps + lates = frames this handle went past */
    uint64_t epoch;            /* the region's creation stamp */
    size_t   frame_size;
    uint32_t slots;
    int32_t  writer_pid;       /* the process holding the writer role, 0 before the first write */
    bool     writer_dead;      /* that process has exited */
    bool     closed;           /* by kchan_latest_close, or because the writer died */
} kchan_latest_stats;

KCHAN_DEF size_t kchan_latest_region_size(size_t frame_size, uint32_t slots);
KCHAN__NODISCARD KCHAN_DEF int kchan_latest_create(kchan_latest *h, void *mem, size_t mem_size,
                                                   const kchan_latest_opts *opts);
KCHAN__NODISCARD KCHAN_DEF int kchan_latest_attach(kchan_latest *h, void *mem, size_t mem_size,
                                                   const kchan_latest_opts *expect);
KCHAN_DEF const char *kchan_latest_error(const kchan_latest *h);
KCHAN__NODISCARD KCHAN_DEF int kchan_latest_write(kchan_latest *h, const void *frame);
KCHAN__NODISCARD KCHAN_DEF int kchan_latest_read(kchan_latest *h, void *frame, int mode,
                                                 uint64_t *frame_no, int64_t timeout_ns);
KCHAN_DEF int      kchan_latest_close(kchan_latest *h);
KCHAN_DEF void     kchan_latest_stats_get(const kchan_latest *h, kchan_latest_stats *out);
KCHAN_DEF int      kchan_latest_dump(const kchan_latest *h, char *buf, size_t n);

/* Bounded channels between processes (section shared): a multi-producer multi-consumer
   ring in a region of shared memory the caller maps, with the block, drop-newest or
   drop-oldest policy. kchan_create_shared lays the channel out in the region and
   kchan_attach (in any process) checks it against what you expect; both give a kchan_t
   handle, this process's own, that every kchan_* function takes: send, recv, try, timeout,
   batches, peek, close, select (which notices a shared case within 1 ms: no process can
   wake another's select), stats, dump. kchan_destroy detaches the handle; the channel lives
   in the region. A process that dies mid-op (SIGKILL) holds nobody up for longer than a
   liveness check (20 ms): its claimed cell is recovered and counted in lost_sending or
   lost_receiving. docs/API.md, "Shared channels between processes", is the contract. */
typedef struct kchan_shared_opts {
    size_t   elem_size;        /* bytes per element, >= 1 (attach: 0 accepts any) */
    size_t   capacity;         /* elements, 1 .. 2^40 (attach: 0 accepts any) */
    kchan_overflow overflow;   /* the policy (attach: must match) */
    uint32_t peers;            /* processes attached at once, 1 .. 4096; 0: 64 (attach: 0 accepts any) */
    void (*on_undelivered)(void *elem, void *user);  /* this handle's: what its sends drop */
    void *user;
    const char *name;          /* this handle's, for kchan_dump */
} kchan_shared_opts;

KCHAN_DEF size_t kchan_shared_region_size(size_t elem_size, size_t capacity, uint32_t peers);
KCHAN__NODISCARD KCHAN_DEF int kchan_create_shared(kchan_t **out, void *mem, size_t mem_size,
                                                   const kchan_shared_opts *opts);
KCHAN__NODISCARD KCHAN_DEF int kchan_attach(kchan_t **out, void *mem, size_t mem_size,
                                            const kchan_shared_opts *expect, const char **why);
#endif /* KCHAN_HAVE_LATEST */

/* Private: the typed creates (write the new channel through out without aliasing). */
KCHAN_DEF int      kchan__create_typed(void *out, size_t elem_size, const kchan_opts *opts);
KCHAN_DEF int      kchan__create_in_typed(void *out, void *mem, size_t mem_size, size_t elem_size,
                                          const kchan_opts *opts);

#ifdef KCHAN_TESTING
/* Test builds only (tests/kchan_impl.c and the suites that define KCHAN_TESTING): when set,
   the lock-free engine calls this at the named points, so a test can hold a thread there
   (tests/test_evict.c). Never set it in production code. */
enum { KCHAN__TP_PEEK = 1, KCHAN__TP_EVICT, KCHAN__TP_PUSHED, KCHAN__TP_CLAIMED,
       KCHAN__TP_WAIT_ENTER, KCHAN__TP_WAIT_REGISTERED, KCHAN__TP_WAIT_PARK, KCHAN__TP_SWAP };
extern void (*kchan__test_point)(const kchan_t *c, int point);
/* Section shared's points (tests/shm_ring.c kills a process there): a send's claim made,
   then counted; a receive's claim made. */
enum { KCHAN__TP_SH_CLAIMED = 32, KCHAN__TP_SH_COMMITTED, KCHAN__TP_SH_TAKEN };
extern void (*kchan__sh_test_point)(const kchan_t *c, int point);
#endif

// >>typed

/* The wrappers' casts, C++-style in C++ so -Wold-style-cast stays quiet in users' code. */
#ifdef __cplusplus
#  define KCHAN__REINTERPRET(P, x) reinterpret_cast<P>(x)
#  define KCHAN__TO_VOID(x)        static_cast<void *>(x)
#  define KCHAN__UNCONST(T, x)     static_cast<void *>(const_cast<T *>(x))
#else
#  define KCHAN__REINTERPRET(P, x) ((P)(x))
#  define KCHAN__TO_VOID(x)        ((void *)(x))
#  define KCHAN__UNCONST(T, x)     ((void *)(uintptr_t)(x))   /* no -Wcast-qual */
#endif

/* What a typed channel and a typed signal channel share: everything but the ops that move
   an element. ES is the element size (0 for a signal channel). */
#define KCHAN__DEFINE_COMMON(name, ES)                                                        \
    KCHAN__WRAP int name##_create(name **out, const kchan_opts *o) { return kchan__create_typed(KCHAN__TO_VOID(out), ES, o); } \
    KCHAN__WRAP int name##_create_in(name **out, void *mem, size_t mem_size, const kchan_opts *o) { return kchan__create_in_typed(KCHAN__TO_VOID(out), mem, mem_size, ES, o); } \
    KCHAN__WRAP name *name##_new(size_t cap) { return KCHAN__REINTERPRET(name *, kchan_new(ES, cap)); }     \
    KCHAN__WRAP void name##_destroy(name *c) { kchan_destroy(KCHAN__REINTERPRET(kchan_t *, c)); }                  \
    KCHAN__WRAP kchan_t *name##_base(name *c) { return KCHAN__REINTERPRET(kchan_t *, c); }                         \
    KCHAN__WRAP int name##_close(name *c) { return kchan_close(KCHAN__REINTERPRET(kchan_t *, c)); }                \
    KCHAN__WRAP int name##_close_with(name *c, int reason) { return kchan_close_with(KCHAN__REINTERPRET(kchan_t *, c), reason); } \
    KCHAN__WRAP int name##_cancel(name *c) { return kchan_cancel(KCHAN__REINTERPRET(kchan_t *, c)); }              \
    KCHAN__WRAP bool name##_is_closed(const name *c) { return kchan_is_closed(KCHAN__REINTERPRET(const kchan_t *, c)); } \
    KCHAN__WRAP size_t name##_len(const name *c) { return kchan_len(KCHAN__REINTERPRET(const kchan_t *, c)); }     \
    KCHAN__WRAP size_t name##_cap(const name *c) { return kchan_cap(KCHAN__REINTERPRET(const kchan_t *, c)); }     \
    KCHAN__WRAP void name##_stats_get(const name *c, kchan_stats *out) { kchan_stats_get(KCHAN__REINTERPRET(const kchan_t *, c), out); } \
    KCHAN__WRAP int name##_dump(const name *c, char *buf, size_t n) { return kchan_dump(KCHAN__REINTERPRET(const kchan_t *, c), buf, n); }

/* KCHAN_DEFINE(name, T); generates the typed channel `name` over elements of type T.
   Every function is a one-line wrapper over the type-erased core. name_stats is the old
   name of name_stats_get (as kchan_stats_get), kept for now: prefer name_stats_get. */
#define KCHAN_DEFINE(name, T)                                                                   \
    typedef struct name name;                                                                   \
    KCHAN__DEFINE_COMMON(name, sizeof(T))                                                                        \
    KCHAN__NODISCARD KCHAN__WRAP int name##_send(name *c, T v) { return kchan_send(KCHAN__REINTERPRET(kchan_t *, c), &v); } \
    KCHAN__NODISCARD KCHAN__WRAP int name##_recv(name *c, T *out) { return kchan_recv(KCHAN__REINTERPRET(kchan_t *, c), out); } \
    KCHAN__NODISCARD KCHAN__WRAP int name##_try_send(name *c, T v) { return kchan_try_send(KCHAN__REINTERPRET(kchan_t *, c), &v); } \
    KCHAN__NODISCARD KCHAN__WRAP int name##_try_recv(name *c, T *out) { return kchan_try_recv(KCHAN__REINTERPRET(kchan_t *, c), out); } \
    KCHAN__NODISCARD KCHAN__WRAP int name##_send_timeout(name *c, T v, int64_t ns) { return kchan_send_timeout(KCHAN__REINTERPRET(kchan_t *, c), &v, ns); } \
    KCHAN__NODISCARD KCHAN__WRAP int name##_recv_timeout(name *c, T *out, int64_t ns) { return kchan_recv_timeout(KCHAN__REINTERPRET(kchan_t *, c), out, ns); } \
    KCHAN__NODISCARD KCHAN__WRAP int name##_send_many(name *c, const T *v, size_t n, size_t *sent, int64_t ns) { return kchan_send_many(KCHAN__REINTERPRET(kchan_t *, c), v, n, sent, ns); } \
    KCHAN__NODISCARD KCHAN__WRAP int name##_recv_many(name *c, T *out, size_t max, size_t *got, int64_t ns) { return kchan_recv_many(KCHAN__REINTERPRET(kchan_t *, c), out, max, got, ns); } \
    KCHAN__WRAP int name##_peek(name *c, T *out) { return kchan_peek(KCHAN__REINTERPRET(kchan_t *, c), out); }     \
    KCHAN__WRAP void name##_stats(const name *c, kchan_stats *out) { kchan_stats_get(KCHAN__REINTERPRET(const kchan_t *, c), out); } \
    KCHAN__WRAP kchan_case name##_recv_case(name *c, T *out) { kchan_case k = { KCHAN__REINTERPRET(kchan_t *, c), KCHAN_OP_RECV, KCHAN__TO_VOID(out), 0 }; return k; } \
    KCHAN__WRAP kchan_case name##_send_case(name *c, const T *in) { kchan_case k = { KCHAN__REINTERPRET(kchan_t *, c), KCHAN_OP_SEND, KCHAN__UNCONST(T, in), 0 }; return k; } \
    typedef T name##_elem

/* KCHAN_DEFINE_SIGNAL(name); generates `name`, a typed channel of events with no payload
   (element size 0: a "done" or "wake up" channel, any kind, in caller memory too). The
   functions of KCHAN_DEFINE without the element: name_send(c), name_recv(c), name_try_send,
   name_try_recv, name_send_timeout(c, ns), name_recv_timeout(c, ns), name_peek(c) (KCHAN_OK
   if a signal is waiting), name_send_case(c), name_recv_case(c); no _many, no KCHAN_FOREACH. */
#define KCHAN_DEFINE_SIGNAL(name)                                                               \
    typedef struct name name;                                                                   \
    KCHAN__DEFINE_COMMON(name, 0)                                                                               \
    KCHAN__NODISCARD KCHAN__WRAP int name##_send(name *c) { return kchan_send(KCHAN__REINTERPRET(kchan_t *, c), NULL); } \
    KCHAN__NODISCARD KCHAN__WRAP int name##_recv(name *c) { return kchan_recv(KCHAN__REINTERPRET(kchan_t *, c), NULL); } \
    KCHAN__NODISCARD KCHAN__WRAP int name##_try_send(name *c) { return kchan_try_send(KCHAN__REINTERPRET(kchan_t *, c), NULL); } \
    KCHAN__NODISCARD KCHAN__WRAP int name##_try_recv(name *c) { return kchan_try_recv(KCHAN__REINTERPRET(kchan_t *, c), NULL); } \
    KCHAN__NODISCARD KCHAN__WRAP int name##_send_timeout(name *c, int64_t ns) { return kchan_send_timeout(KCHAN__REINTERPRET(kchan_t *, c), NULL, ns); } \
    KCHAN__NODISCARD KCHAN__WRAP int name##_recv_timeout(name *c, int64_t ns) { return kchan_recv_timeout(KCHAN__REINTERPRET(kchan_t *, c), NULL, ns); } \
    KCHAN__WRAP int name##_peek(name *c) { return kchan_peek(KCHAN__REINTERPRET(kchan_t *, c), NULL); }            \
    KCHAN__WRAP kchan_case name##_recv_case(name *c) { kchan_case k = { KCHAN__REINTERPRET(kchan_t *, c), KCHAN_OP_RECV, NULL, 0 }; return k; } \
    KCHAN__WRAP kchan_case name##_send_case(name *c) { kchan_case k = { KCHAN__REINTERPRET(kchan_t *, c), KCHAN_OP_SEND, NULL, 0 }; return k; } \
    typedef void name##_elem

/* KCHAN_DEFINE_TIMER(name); generates `name`, a typed channel of int64_t (KCHAN_DEFINE), and
   its timers: name_after(delay_ns), name_tick(period_ns), name_never(), and name_after_in,
   name_tick_in, name_never_in(out, mem, mem_size, ...) as kchan_after and its kin. */
#define KCHAN_DEFINE_TIMER(name)                                                                \
    KCHAN_DEFINE(name, int64_t);                                                                \
    KCHAN__WRAP name *name##_after(int64_t ns) { return KCHAN__REINTERPRET(name *, kchan_after(ns)); } \
    KCHAN__WRAP name *name##_tick(int64_t ns) { return KCHAN__REINTERPRET(name *, kchan_tick(ns)); }   \
    KCHAN__WRAP name *name##_never(void) { return KCHAN__REINTERPRET(name *, kchan_never()); }         \
    KCHAN__WRAP int name##_after_in(name **out, void *mem, size_t mem_size, int64_t ns) { kchan_t *c = NULL; if (!out) return KCHAN_INVAL; int r = kchan_after_in(&c, mem, mem_size, ns); *out = KCHAN__REINTERPRET(name *, c); return r; } \
    KCHAN__WRAP int name##_tick_in(name **out, void *mem, size_t mem_size, int64_t ns) { kchan_t *c = NULL; if (!out) return KCHAN_INVAL; int r = kchan_tick_in(&c, mem, mem_size, ns); *out = KCHAN__REINTERPRET(name *, c); return r; } \
    KCHAN__WRAP int name##_never_in(name **out, void *mem, size_t mem_size) { kchan_t *c = NULL; if (!out) return KCHAN_INVAL; int r = kchan_never_in(&c, mem, mem_size); *out = KCHAN__REINTERPRET(name *, c); return r; } \
    KCHAN__WRAP name *name##_never(void)     /* redeclared: the user's ';' ends the macro */

/* Receive into `v` (declared here, of name##_elem) until `ch` is closed and drained. */
#define KCHAN_FOREACH(name, v, ch) \
    for (name##_elem v; name##_recv((ch), &v) == KCHAN_OK;)

/* kchan_select over a compound literal of cases (C only):
   switch (KCHAN_SELECT(KCHAN_FOREVER, intch_recv_case(a, &x), intch_send_case(b, &y))) ... */
#define KCHAN_SELECT(timeout_ns, ...)                                          \
    kchan_select((kchan_case[]){ __VA_ARGS__ },                               \
                 sizeof((kchan_case[]){ __VA_ARGS__ }) / sizeof(kchan_case), (timeout_ns))

#ifdef __cplusplus
}
#endif

#endif /* KCHAN_H_INCLUDED */

/* ======================================================================================= */
#if defined(KCHAN_IMPLEMENTATION) && !defined(KCHAN__IMPLEMENTED)
#define KCHAN__IMPLEMENTED


#include <string.h>
#include <stdio.h>
#include <limits.h>

#if defined(KCHAN_MALLOC) && defined(KCHAN_REALLOC) && defined(KCHAN_FREE)
#elif !defined(KCHAN_MALLOC) && !defined(KCHAN_REALLOC) && !defined(KCHAN_FREE)
#  include <stdlib.h>
#  define KCHAN_MALLOC(sz)     malloc(sz)
#  define KCHAN_REALLOC(p, sz) realloc((p), (sz))
#  define KCHAN_FREE(p)        free(p)
#else
#  error "kchan: define all of KCHAN_MALLOC, KCHAN_REALLOC and KCHAN_FREE, or none"
#endif

#ifndef KCHAN_ASSERT
#  include <assert.h>
#  define KCHAN_ASSERT(x) assert(x)
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define KCHAN__PRIV static __attribute__((unused))
#  define KCHAN__LIKELY(x) __builtin_expect(!!(x), 1)
#  define KCHAN__NOINLINE static __attribute__((unused, noinline))
#  define KCHAN__INLINE static inline __attribute__((unused, always_inline))
#elif defined(_MSC_VER)
#  define KCHAN__PRIV static
#  define KCHAN__LIKELY(x) (x)
#  define KCHAN__NOINLINE static __declspec(noinline)
#  define KCHAN__INLINE static __forceinline
#else
#  define KCHAN__PRIV static
#  define KCHAN__LIKELY(x) (x)
#  define KCHAN__NOINLINE static
#  define KCHAN__INLINE static inline
#endif

#define KCHAN__CACHELINE 64

// >>platform
/* Each platform provides the same few private functions:
     kchan__lock (type)   kchan__lock_init / _destroy / _acquire / _release
     kchan__wait(word, expected, deadline_ns)  sleep while *word == expected (0 or KCHAN_TIMEDOUT)
     kchan__wake_all(word)                     wake every sleeper on word; never dereferences it
     kchan__clock_ns()                         monotonic nanoseconds
     kchan__yield(), kchan__cpu_relax()        give the core away / ease a spin
   and KCHAN__CAN_WAIT (0 only for _NONE, where every op that would wait says
   KCHAN_WOULDBLOCK). Deadlines are absolute on kchan__clock_ns; -1 means none. */

#if defined(KCHAN_PLATFORM_LINUX) + defined(KCHAN_PLATFORM_POSIX) + defined(KCHAN_PLATFORM_C11) + \
    defined(KCHAN_PLATFORM_WIN32) + defined(KCHAN_PLATFORM_CUSTOM) + defined(KCHAN_PLATFORM_NONE) > 1
#  error "kchan: define at most one KCHAN_PLATFORM_* (LINUX, POSIX, C11, WIN32, CUSTOM or NONE)"
#endif
#if !defined(KCHAN_PLATFORM_LINUX) && !defined(KCHAN_PLATFORM_POSIX) && !defined(KCHAN_PLATFORM_C11) && \
    !defined(KCHAN_PLATFORM_WIN32) && !defined(KCHAN_PLATFORM_CUSTOM) && !defined(KCHAN_PLATFORM_NONE)
#  if defined(__linux__)
#    define KCHAN_PLATFORM_LINUX
#  elif defined(_WIN32)
#    define KCHAN_PLATFORM_WIN32
#  elif defined(__unix__) || defined(__APPLE__)
#    define KCHAN_PLATFORM_POSIX
#  elif !defined(__STDC_NO_THREADS__)
#    define KCHAN_PLATFORM_C11
#  else
#    error "kchan: no platform layer detected: define KCHAN_PLATFORM_CUSTOM (RTOS hooks) or KCHAN_PLATFORM_NONE (single-threaded)"
#  endif
#endif
#if defined(KCHAN_PLATFORM_LINUX) && !defined(__linux__)
#  error "kchan: KCHAN_PLATFORM_LINUX needs Linux (futex); use KCHAN_PLATFORM_POSIX elsewhere"
#endif
#if defined(KCHAN_PLATFORM_WIN32) && !defined(_WIN32)
#  error "kchan: KCHAN_PLATFORM_WIN32 needs a Windows target"
#endif

#ifdef __cplusplus
/* The implementation compiled as C++: C++23's <stdatomic.h> gives _Atomic(T) and the C
   atomic functions over std::atomic; before C++23 there is no C-compatible atomic at all.
   The C11 keywords the implementation uses are spelled the C++ way (undone at the end). */
#  if (defined(_MSVC_LANG) ? _MSVC_LANG : __cplusplus) <= 202002L
#    error "kchan: the implementation (KCHAN_IMPLEMENTATION) compiled as C++ needs C++23 (-std=c++23 or -std=c++2b: <stdatomic.h> with _Atomic(T)); or compile that one file as C. kchan.h itself works in any C++ from C++11."
#  endif
#  define KCHAN__CXX_KEYWORDS
#  define _Static_assert static_assert
#  define _Alignas alignas
#  define _Alignof alignof
#  define _Thread_local thread_local
#endif

#if defined(KCHAN_PLATFORM_NONE)
/* Single-threaded: kchan's atomic operations are plain accesses, so small cores need no
   libatomic. They go by kchan's own names on every platform, so the standard <stdatomic.h>
   names stay the user's, included or not, before or after kchan.h; here the memory-order
   arguments are dropped unexpanded. */
#  define KCHAN__ATOMIC(T) T
#  define KCHAN__PLAIN_ATOMICS
KCHAN__PRIV uint32_t kchan__plain_xchg32(uint32_t *p, uint32_t v) { uint32_t o = *p; *p = v; return o; }
KCHAN__PRIV uint32_t kchan__plain_add32(uint32_t *p, uint32_t v) { uint32_t o = *p; *p = o + v; return o; }
KCHAN__PRIV int64_t kchan__plain_add64(int64_t *p, int64_t v)
{ int64_t o = *p; *p = (int64_t)((uint64_t)o + (uint64_t)v); return o; }
KCHAN__PRIV uint64_t kchan__plain_addu64(uint64_t *p, uint64_t v) { uint64_t o = *p; *p = o + v; return o; }
KCHAN__PRIV bool kchan__plain_cas32(uint32_t *p, uint32_t *expected, uint32_t desired)
{
    if (*p == *expected) { *p = desired; return true; }
    *expected = *p;
    return false;
}
#  define kchan__atomic_load(p, mo)        (*(p))
#  define kchan__atomic_store(p, v, mo)    ((void)(*(p) = (v)))
#  define kchan__atomic_exchange(p, v, mo) kchan__plain_xchg32((p), (v))
#  define kchan__atomic_cas_strong(p, e, d, s, f) kchan__plain_cas32((p), (e), (d))
#  define kchan__atomic_cas_weak(p, e, d, s, f)   kchan__plain_cas32((p), (e), (d))
#  define kchan__atomic_fetch_add(p, v, mo) \
       _Generic((p), int64_t *: kchan__plain_add64, uint64_t *: kchan__plain_addu64, \
                      default: kchan__plain_add32)((p), (v))
#  define kchan__atomic_fetch_sub(p, v, mo) kchan__plain_add32((p), 0u - (uint32_t)(v))
#else
#  include <stdatomic.h>
#  define KCHAN__ATOMIC(T) _Atomic(T)
#  define kchan__atomic_load       atomic_load_explicit
#  define kchan__atomic_store      atomic_store_explicit
#  define kchan__atomic_exchange   atomic_exchange_explicit
#  define kchan__atomic_cas_strong atomic_compare_exchange_strong_explicit
#  define kchan__atomic_cas_weak   atomic_compare_exchange_weak_explicit
#  define kchan__atomic_fetch_add  atomic_fetch_add_explicit
#  define kchan__atomic_fetch_or   atomic_fetch_or_explicit
#  define kchan__atomic_fetch_sub  atomic_fetch_sub_explicit
#endif

#if defined(_MSC_VER) && !defined(__clang__) && !defined(KCHAN_PLATFORM_NONE)
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#  endif
#  include <windows.h>       /* YieldProcessor, below, comes before section platform_win32 */
#endif
KCHAN__PRIV void kchan__cpu_relax(void)
{
#if defined(KCHAN_PLATFORM_NONE)
#elif (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#elif (defined(__GNUC__) || defined(__clang__)) && (defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7))
    __asm__ __volatile__("yield");
#elif defined(_MSC_VER)
    YieldProcessor();
#endif
}

#if defined(KCHAN_PLATFORM_LINUX) || defined(KCHAN_PLATFORM_POSIX) || defined(KCHAN_PLATFORM_C11)
#  include <time.h>
#  include <errno.h>
/* base + ns (ns >= 0) as a timespec, saturated at the largest time_t (a 32-bit one ends in
   2038): a far deadline stays far. Seconds and nanoseconds add apart, so nothing overflows
   however long the timeout (8e18 ns added to the TIME_UTC clock did, and the wait spun). */
KCHAN__PRIV struct timespec kchan__timespec_add(struct timespec base, int64_t ns)
{
    const int64_t sec_max = sizeof(time_t) < sizeof(int64_t) ? (int64_t)INT32_MAX : INT64_MAX;
    int64_t sec = ns / 1000000000, nsec = (int64_t)base.tv_nsec + ns % 1000000000;
    if (nsec >= 1000000000) { nsec -= 1000000000; sec++; }
    int64_t base_sec = (int64_t)base.tv_sec > 0 ? (int64_t)base.tv_sec : 0;
    struct timespec ts;
    ts.tv_sec = (time_t)(sec > sec_max - base_sec ? sec_max : base_sec + sec);
    ts.tv_nsec = (long)nsec;
    return ts;
}
KCHAN__PRIV struct timespec kchan__timespec(int64_t ns)
{
    struct timespec zero;
    zero.tv_sec = 0;
    zero.tv_nsec = 0;
    return kchan__timespec_add(zero, ns);
}
#endif

#if defined(KCHAN_PLATFORM_LINUX) || defined(KCHAN_PLATFORM_POSIX)
#  include <sched.h>
#  if !defined(CLOCK_MONOTONIC)
#    error "kchan: CLOCK_MONOTONIC is not declared: include kchan.h first in the implementation file, or build with -D_DEFAULT_SOURCE (Linux) or -D_POSIX_C_SOURCE=200809L (elsewhere)"
#  endif
KCHAN__PRIV int64_t kchan__clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
KCHAN__PRIV void kchan__yield(void) { sched_yield(); }
#endif

#if defined(KCHAN_PLATFORM_LINUX)
// >>platform_linux: a three-state futex lock, and futex parking
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <limits.h>
#define KCHAN__CAN_WAIT 1

typedef struct { KCHAN__ATOMIC(uint32_t) state; } kchan__lock;   /* 0 free, 1 held, 2 held + sleepers */

KCHAN__PRIV long kchan__futex(KCHAN__ATOMIC(uint32_t) *word, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, (uint32_t *)(uintptr_t)word, op, val, ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

KCHAN__PRIV void kchan__lock_init(kchan__lock *l)
{
    /* [L0] relaxed: the channel is not shared yet; publication happens when its pointer is. */
    kchan__atomic_store(&l->state, 0, memory_order_relaxed);
}
KCHAN__PRIV void kchan__lock_destroy(kchan__lock *l) { (void)l; }

KCHAN__PRIV void kchan__lock_acquire(kchan__lock *l)
{
    uint32_t s = 0;
    /* [L1] acquire on success: everything the last holder wrote before [L3] is visible to us. */
    if (KCHAN__LIKELY(kchan__atomic_cas_strong(&l->state, &s, 1, memory_order_acquire,
                                                              memory_order_relaxed)))
        return;
    /* Contended: sleep at once, no spinning. Measured with bench/ on 2 cores, spinning for
       the lock (4 or 100 rounds) lost 20-60% on W1-W4 and W10 and burned more CPU: with more
       threads than cores a spinner mostly eats the slice the holder needs. Waiting for a
       partner (kchan__park) is where spinning pays, and it spins there. */
    /* [L2] acquire: taking the lock by exchange publishes the holder's writes as [L1] does;
       marking 2 tells the releaser to wake a sleeper. */
    while (kchan__atomic_exchange(&l->state, 2, memory_order_acquire) != 0)
        kchan__futex(&l->state, FUTEX_WAIT_PRIVATE, 2, NULL);
}

KCHAN__PRIV void kchan__lock_release(kchan__lock *l)
{
    /* [L3] release: publishes the critical section; pairs with [L1]/[L2]. */
    if (kchan__atomic_exchange(&l->state, 0, memory_order_release) == 2)
        kchan__futex(&l->state, FUTEX_WAKE_PRIVATE, 1, NULL);
}

KCHAN__PRIV int kchan__wait(KCHAN__ATOMIC(uint32_t) *word, uint32_t expected, int64_t deadline_ns)
{
    struct timespec ts, *tsp = NULL;
    if (deadline_ns >= 0) { ts = kchan__timespec(deadline_ns); tsp = &ts; }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline: no re-arming. */
    long r = kchan__futex(word, FUTEX_WAIT_BITSET_PRIVATE, expected, tsp);
    return (r == -1 && errno == ETIMEDOUT) ? KCHAN_TIMEDOUT : 0;
}

KCHAN__PRIV void kchan__wake_all(KCHAN__ATOMIC(uint32_t) *word)
{
    kchan__futex(word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

#elif defined(KCHAN_PLATFORM_POSIX)
// >>platform_posix: pthread mutexes and condition variables (the parking lot below)
#include <pthread.h>
#define KCHAN__CAN_WAIT 1
#define KCHAN__PARKING_LOT
typedef pthread_mutex_t kchan__sys_mutex;
typedef pthread_cond_t kchan__sys_cond;
KCHAN__PRIV void kchan__sys_mutex_init(kchan__sys_mutex *m)    { pthread_mutex_init(m, NULL); }
KCHAN__PRIV void kchan__sys_mutex_destroy(kchan__sys_mutex *m) { pthread_mutex_destroy(m); }
KCHAN__PRIV void kchan__sys_mutex_lock(kchan__sys_mutex *m)    { pthread_mutex_lock(m); }
KCHAN__PRIV void kchan__sys_mutex_unlock(kchan__sys_mutex *m)  { pthread_mutex_unlock(m); }
KCHAN__PRIV void kchan__sys_cond_init(kchan__sys_cond *cv)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
#if !defined(__APPLE__)
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);   /* deadlines are monotonic */
#endif
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}
KCHAN__PRIV void kchan__sys_cond_broadcast(kchan__sys_cond *cv) { pthread_cond_broadcast(cv); }
KCHAN__PRIV int kchan__sys_cond_wait(kchan__sys_cond *cv, kchan__sys_mutex *m, int64_t deadline_ns)
{
    if (deadline_ns < 0) { pthread_cond_wait(cv, m); return 0; }
#if defined(__APPLE__)
    int64_t left = deadline_ns - kchan__clock_ns();
    struct timespec rel = kchan__timespec(left > 0 ? left : 0);
    return pthread_cond_timedwait_relative_np(cv, m, &rel) == ETIMEDOUT ? KCHAN_TIMEDOUT : 0;
#else
    struct timespec ts = kchan__timespec(deadline_ns);
    return pthread_cond_timedwait(cv, m, &ts) == ETIMEDOUT ? KCHAN_TIMEDOUT : 0;
#endif
}
typedef pthread_once_t kchan__sys_once;
#define KCHAN__SYS_ONCE_INIT PTHREAD_ONCE_INIT
KCHAN__PRIV void kchan__sys_call_once(kchan__sys_once *o, void (*fn)(void)) { pthread_once(o, fn); }

#elif defined(KCHAN_PLATFORM_C11)
// >>platform_c11: <threads.h> mutexes and condition variables (the parking lot below)
#include <threads.h>
#define KCHAN__CAN_WAIT 1
#define KCHAN__PARKING_LOT
KCHAN__PRIV int64_t kchan__clock_ns(void)
{
    struct timespec ts;
#if defined(TIME_MONOTONIC)
    timespec_get(&ts, TIME_MONOTONIC);              /* C23 */
#elif defined(CLOCK_MONOTONIC)
    clock_gettime(CLOCK_MONOTONIC, &ts);            /* POSIX, where <threads.h> sits on it */
#else
    timespec_get(&ts, TIME_UTC);                    /* C11 has no monotonic clock */
#endif
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
KCHAN__PRIV void kchan__yield(void) { thrd_yield(); }
typedef mtx_t kchan__sys_mutex;
typedef cnd_t kchan__sys_cond;
KCHAN__PRIV void kchan__sys_mutex_init(kchan__sys_mutex *m)    { mtx_init(m, mtx_plain); }
KCHAN__PRIV void kchan__sys_mutex_destroy(kchan__sys_mutex *m) { mtx_destroy(m); }
KCHAN__PRIV void kchan__sys_mutex_lock(kchan__sys_mutex *m)    { mtx_lock(m); }
KCHAN__PRIV void kchan__sys_mutex_unlock(kchan__sys_mutex *m)  { mtx_unlock(m); }
KCHAN__PRIV void kchan__sys_cond_init(kchan__sys_cond *cv)      { cnd_init(cv); }
KCHAN__PRIV void kchan__sys_cond_broadcast(kchan__sys_cond *cv) { cnd_broadcast(cv); }
KCHAN__PRIV int kchan__sys_cond_wait(kchan__sys_cond *cv, kchan__sys_mutex *m, int64_t deadline_ns)
{
    if (deadline_ns < 0) { cnd_wait(cv, m); return 0; }
    /* cnd_timedwait wants a TIME_UTC deadline: carry over what is left of ours, without
       overflow (kchan__timespec_add saturates; now_ns + left did not, for far deadlines). */
    int64_t left = deadline_ns - kchan__clock_ns();
    struct timespec now;
    timespec_get(&now, TIME_UTC);
    struct timespec ts = kchan__timespec_add(now, left > 0 ? left : 0);
    return cnd_timedwait(cv, m, &ts) == thrd_timedout ? KCHAN_TIMEDOUT : 0;
}
typedef once_flag kchan__sys_once;
#define KCHAN__SYS_ONCE_INIT ONCE_FLAG_INIT
KCHAN__PRIV void kchan__sys_call_once(kchan__sys_once *o, void (*fn)(void)) { call_once(o, fn); }

#elif defined(KCHAN_PLATFORM_WIN32)
// >>platform_win32: SRW locks, WaitOnAddress (link with -lsynchronization), QPC clock
#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#define KCHAN__CAN_WAIT 1
typedef SRWLOCK kchan__lock;
KCHAN__PRIV void kchan__lock_init(kchan__lock *l)    { InitializeSRWLock(l); }
KCHAN__PRIV void kchan__lock_destroy(kchan__lock *l) { (void)l; }
KCHAN__PRIV void kchan__lock_acquire(kchan__lock *l) { AcquireSRWLockExclusive(l); }
KCHAN__PRIV void kchan__lock_release(kchan__lock *l) { ReleaseSRWLockExclusive(l); }
KCHAN__PRIV int64_t kchan__clock_ns(void)
{
    LARGE_INTEGER freq, now;
    QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    int64_t f = (int64_t)freq.QuadPart, t = (int64_t)now.QuadPart;
    return (t / f) * 1000000000 + (t % f) * 1000000000 / f;
}
KCHAN__PRIV void kchan__yield(void) { SwitchToThread(); }
KCHAN__PRIV int kchan__wait(KCHAN__ATOMIC(uint32_t) *word, uint32_t expected, int64_t deadline_ns)
{
    DWORD ms = INFINITE;
    if (deadline_ns >= 0) {
        int64_t left = deadline_ns - kchan__clock_ns();
        if (left <= 0) return KCHAN_TIMEDOUT;
        int64_t round_up = left / 1000000 + (left % 1000000 != 0);   /* left + 999999 may overflow */
        ms = round_up >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)round_up;
    }
    if (!WaitOnAddress((volatile void *)word, &expected, sizeof expected, ms) &&
        GetLastError() == ERROR_TIMEOUT && deadline_ns >= 0 && kchan__clock_ns() >= deadline_ns)
        return KCHAN_TIMEDOUT;
    return 0;
}
KCHAN__PRIV void kchan__wake_all(KCHAN__ATOMIC(uint32_t) *word) { WakeByAddressAll((void *)word); }

#elif defined(KCHAN_PLATFORM_CUSTOM)
// >>platform_custom: the user's RTOS or scheduler hooks (contract in docs/API.md and the doc block)
#ifndef KCHAN_CUSTOM_LOCK_T
#  error "kchan: KCHAN_PLATFORM_CUSTOM needs KCHAN_CUSTOM_LOCK_T and the kchan_custom_* hooks defined before including"
#endif
#define KCHAN__CAN_WAIT 1
typedef KCHAN_CUSTOM_LOCK_T kchan__lock;
_Static_assert(sizeof(KCHAN_CUSTOM_LOCK_T) <= 64,
               "kchan: KCHAN_CUSTOM_LOCK_T is larger than the 64 bytes KCHAN_FOOTPRINT reserves for it");
KCHAN__PRIV void kchan__lock_init(kchan__lock *l)    { kchan_custom_lock_init(l); }
KCHAN__PRIV void kchan__lock_destroy(kchan__lock *l) { kchan_custom_lock_destroy(l); }
KCHAN__PRIV void kchan__lock_acquire(kchan__lock *l) { kchan_custom_lock_acquire(l); }
KCHAN__PRIV void kchan__lock_release(kchan__lock *l) { kchan_custom_lock_release(l); }
KCHAN__PRIV int64_t kchan__clock_ns(void) { return kchan_custom_now_ns(); }
#if defined(KCHAN_CUSTOM_YIELD)
KCHAN__PRIV void kchan__yield(void) { KCHAN_CUSTOM_YIELD(); }
#elif defined(KCHAN_LOCKFREE)
/* The lock-free engine spins (then yields) while a partner finishes a cell it claimed; under
   strict priorities a spin that never lets that lower-priority partner run never ends. */
#  error "kchan: KCHAN_LOCKFREE with KCHAN_PLATFORM_CUSTOM needs KCHAN_CUSTOM_YIELD() (see the custom hooks in the doc block): a yield that lets lower priorities run"
#else
/* Mutex engine: its spins are bounded (kchan__park_after) and then it sleeps in
   kchan_custom_wait, so a yield that does nothing is safe. */
KCHAN__PRIV void kchan__yield(void) {}
#endif
KCHAN__PRIV int kchan__wait(KCHAN__ATOMIC(uint32_t) *word, uint32_t expected, int64_t deadline_ns)
{
    return kchan_custom_wait((const volatile uint32_t *)(uintptr_t)word, expected, deadline_ns) == KCHAN_TIMEDOUT
           ? KCHAN_TIMEDOUT : 0;
}
KCHAN__PRIV void kchan__wake_all(KCHAN__ATOMIC(uint32_t) *word)
{
    kchan_custom_wake_all((const volatile uint32_t *)(uintptr_t)word);
}

#elif defined(KCHAN_PLATFORM_NONE)
// >>platform_none: one thread, no locks; an op that would wait says KCHAN_WOULDBLOCK
#define KCHAN__CAN_WAIT 0
/* With KCHAN_NONE_CRITICAL_ENTER/EXIT (the ISR recipe in the doc block) the "lock" is a
   critical section: every change of channel state happens inside one, so an interrupt
   handler cannot land in the middle of the main loop's op (or the reverse). Each lock keeps
   the key its ENTER returned, so select's nested locks restore the interrupt state in
   reverse order; the key is stored only once the section is entered, and read before EXIT. */
typedef struct { unsigned int key; } kchan__lock;
KCHAN__PRIV void kchan__lock_init(kchan__lock *l)    { l->key = 0; }
KCHAN__PRIV void kchan__lock_destroy(kchan__lock *l) { (void)l; }
#if defined(KCHAN_NONE_CRITICAL_ENTER) && defined(KCHAN_NONE_CRITICAL_EXIT)
#  ifdef KCHAN_LOCKFREE
#    error "kchan: KCHAN_NONE_CRITICAL_ENTER/EXIT need the mutex engine: the lock-free engine changes channel state outside any lock (drop KCHAN_LOCKFREE)"
#  endif
#  define KCHAN__NONE_CRITICAL
KCHAN__PRIV void kchan__lock_acquire(kchan__lock *l)
{
    unsigned int key = (unsigned int)(KCHAN_NONE_CRITICAL_ENTER());
    l->key = key;
}
KCHAN__PRIV void kchan__lock_release(kchan__lock *l)
{
    unsigned int key = l->key;
    KCHAN_NONE_CRITICAL_EXIT(key);
}
#elif defined(KCHAN_NONE_CRITICAL_ENTER) || defined(KCHAN_NONE_CRITICAL_EXIT)
#  error "kchan: define both KCHAN_NONE_CRITICAL_ENTER() and KCHAN_NONE_CRITICAL_EXIT(key), or neither"
#else
KCHAN__PRIV void kchan__lock_acquire(kchan__lock *l) { (void)l; }
KCHAN__PRIV void kchan__lock_release(kchan__lock *l) { (void)l; }
#endif
KCHAN__PRIV int64_t kchan__clock_ns(void)
{
#ifdef KCHAN_NOW_NS
    return (int64_t)(KCHAN_NOW_NS());
#else
    return 0;
#endif
}
KCHAN__PRIV void kchan__yield(void) {}
KCHAN__PRIV int kchan__wait(KCHAN__ATOMIC(uint32_t) *word, uint32_t expected, int64_t deadline_ns)
{
    (void)word; (void)expected; (void)deadline_ns;
    return KCHAN_TIMEDOUT;                  /* never reached: KCHAN__CAN_WAIT is 0 */
}
KCHAN__PRIV void kchan__wake_all(KCHAN__ATOMIC(uint32_t) *word) { (void)word; }
#endif /* platforms */

#ifdef KCHAN__PARKING_LOT
/* POSIX and C11: the channel lock is the system mutex, and sleepers hash by address into
   buckets of (mutex, condvar). A wake broadcasts its bucket without touching the word, and
   a sleeper re-checks its word under the bucket mutex, so no wake is lost. */
typedef kchan__sys_mutex kchan__lock;
KCHAN__PRIV void kchan__lock_init(kchan__lock *l)    { kchan__sys_mutex_init(l); }
KCHAN__PRIV void kchan__lock_destroy(kchan__lock *l) { kchan__sys_mutex_destroy(l); }
KCHAN__PRIV void kchan__lock_acquire(kchan__lock *l) { kchan__sys_mutex_lock(l); }
KCHAN__PRIV void kchan__lock_release(kchan__lock *l) { kchan__sys_mutex_unlock(l); }

#define KCHAN__PARK_BUCKETS 64
static struct kchan__park_bucket {
    kchan__sys_mutex mutex;
    kchan__sys_cond cond;
} kchan__park_lot[KCHAN__PARK_BUCKETS];
static kchan__sys_once kchan__park_once = KCHAN__SYS_ONCE_INIT;

static void kchan__park_init(void)
{
    for (int i = 0; i < KCHAN__PARK_BUCKETS; i++) {
        kchan__sys_mutex_init(&kchan__park_lot[i].mutex);
        kchan__sys_cond_init(&kchan__park_lot[i].cond);
    }
}

KCHAN__PRIV struct kchan__park_bucket *kchan__bucket(const void *word)
{
    uintptr_t h = (uintptr_t)word;
    h ^= h >> 17; h *= (uintptr_t)0x9E3779B97F4A7C15ull; h ^= h >> 29;
    kchan__sys_call_once(&kchan__park_once, kchan__park_init);
    return &kchan__park_lot[h % KCHAN__PARK_BUCKETS];
}

KCHAN__PRIV int kchan__wait(KCHAN__ATOMIC(uint32_t) *word, uint32_t expected, int64_t deadline_ns)
{
    struct kchan__park_bucket *b = kchan__bucket(word);
    int r = 0;
    kchan__sys_mutex_lock(&b->mutex);
    /* [P1] relaxed: the bucket mutex orders this check against the waker's broadcast, which it
       sends after changing *word; the caller re-reads *word with acquire after we return. */
    while (r == 0 && kchan__atomic_load(word, memory_order_relaxed) == expected)
        r = kchan__sys_cond_wait(&b->cond, &b->mutex, deadline_ns);
    kchan__sys_mutex_unlock(&b->mutex);
    return r;
}

KCHAN__PRIV void kchan__wake_all(KCHAN__ATOMIC(uint32_t) *word)
{
    struct kchan__park_bucket *b = kchan__bucket(word);
    kchan__sys_mutex_lock(&b->mutex);
    kchan__sys_cond_broadcast(&b->cond);
    kchan__sys_mutex_unlock(&b->mutex);
}
#endif /* KCHAN__PARKING_LOT */

// >>core
#ifndef KCHAN_NO_UNLIMITED
/* A private instance of stb_ds (Debian libstb-dev): every name it declares is renamed to
   kchan__stbds_*, the functions given internal linkage by a static declaration ahead of
   stb_ds's own extern ones, so a program with its own stb_ds links without clashes.
   Allocation goes through KCHAN_* hooks; growth never lets stb_ds allocate on its own (see
   kchan__ring_resize: stb_ds dereferences what its realloc returns without a check, and
   kchan must answer KCHAN_NOMEM). The user's own stb_ds.h may come before or after kchan.h,
   in this file too: kchan saves the macros that change what stb_ds.h means (its guard, the
   implementation switch, the short names, the allocator) and gives them back, with every
   other stb_ds macro it defined, at the end of the implementation (section stb_ds_end). */
#  if defined(__has_include)
#    if __has_include(<stb_ds.h>)
#      define KCHAN__STB_DS_H <stb_ds.h>
#    elif __has_include(<stb/stb_ds.h>)      /* Debian/Ubuntu libstb-dev without -I */
#      define KCHAN__STB_DS_H <stb/stb_ds.h>
#    else
#      error "kchan: stb_ds.h not found; the unlimited channel kind needs it. Either put its folder on the include path (-I/usr/include/stb, i.e. $(pkg-config --cflags stb), after apt install libstb-dev; or a copy of stb_ds.h from github.com/nothings/stb), or define KCHAN_NO_UNLIMITED to build without unlimited channels"
#    endif
#  else
#    define KCHAN__STB_DS_H <stb_ds.h>         /* no __has_include: -I must name its folder */
#  endif
#  if defined(__GNUC__) || defined(__clang__) || defined(_MSC_VER)
#    define KCHAN__STB_PUSH
#    pragma push_macro("INCLUDE_STB_DS_H")
#    pragma push_macro("STB_DS_IMPLEMENTATION")
#    pragma push_macro("STBDS_NO_SHORT_NAMES")
#    pragma push_macro("STBDS_REALLOC")
#    pragma push_macro("STBDS_FREE")
#    pragma push_macro("STBDS_ASSERT")
#    pragma push_macro("STBDS_UNIT_TESTS")
#    pragma push_macro("STBDS_SIPHASH_C_ROUNDS")
#    pragma push_macro("STBDS_SIPHASH_D_ROUNDS")
#    pragma push_macro("STBDS_STRING_ARENA_BLOCKSIZE_MIN")
#    pragma push_macro("STBDS_STRING_ARENA_BLOCKSIZE_MAX")
#  elif defined(INCLUDE_STB_DS_H) || defined(STB_DS_IMPLEMENTATION) || defined(STBDS_NO_SHORT_NAMES) || \
        defined(STBDS_REALLOC) || defined(STBDS_FREE) || defined(STBDS_ASSERT) || defined(STBDS_UNIT_TESTS)
#    error "kchan: with this compiler (no #pragma push_macro), include stb_ds.h and define its STB_DS_*/STBDS_* macros only after kchan.h in the implementation file: kchan cannot give them back after its private copy"
#  endif
#  ifdef INCLUDE_STB_DS_H
#    define KCHAN__STB_USER_FIRST      /* the user's stb_ds.h came first: keep its macros */
#    undef INCLUDE_STB_DS_H
#  endif
#  undef STB_DS_IMPLEMENTATION
#  undef STBDS_REALLOC
#  undef STBDS_FREE
#  undef STBDS_ASSERT
#  undef STBDS_UNIT_TESTS
#  define stbds_arrgrowf      kchan__stbds_arrgrowf
#  define stbds_arrfreef      kchan__stbds_arrfreef
#  define stbds_hmfree_func   kchan__stbds_hmfree_func
#  define stbds_hmget_key     kchan__stbds_hmget_key
#  define stbds_hmget_key_ts  kchan__stbds_hmget_key_ts
#  define stbds_hmput_default kchan__stbds_hmput_default
#  define stbds_hmput_key     kchan__stbds_hmput_key
#  define stbds_hmdel_key     kchan__stbds_hmdel_key
#  define stbds_shmode_func   kchan__stbds_shmode_func
#  define stbds_hash_bytes    kchan__stbds_hash_bytes
#  define stbds_hash_string   kchan__stbds_hash_string
#  define stbds_rand_seed     kchan__stbds_rand_seed
#  define stbds_stralloc      kchan__stbds_stralloc
#  define stbds_strreset      kchan__stbds_strreset
#  define stbds_unit_tests    kchan__stbds_unit_tests
#  define stbds_string_arena  kchan__stbds_string_arena
/* ...and its types, enumerators and file-scope statics, which a second copy in this file
   (the user's, before or after) would otherwise declare twice. */
#  define stbds_array_header    kchan__stbds_array_header
#  define stbds_string_block    kchan__stbds_string_block
#  define stbds_hash_bucket     kchan__stbds_hash_bucket
#  define stbds_hash_index      kchan__stbds_hash_index
#  define stbds_hash_seed       kchan__stbds_hash_seed
#  define stbds_probe_position  kchan__stbds_probe_position
#  define stbds_log2            kchan__stbds_log2
#  define stbds_make_hash_index kchan__stbds_make_hash_index
#  define stbds_siphash_bytes   kchan__stbds_siphash_bytes
#  define stbds_is_key_equal    kchan__stbds_is_key_equal
#  define stbds_hm_find_slot    kchan__stbds_hm_find_slot
#  define stbds_strdup          kchan__stbds_strdup
#  define STBDS_SH_NONE         KCHAN__STBDS_SH_NONE
#  define STBDS_SH_DEFAULT      KCHAN__STBDS_SH_DEFAULT
#  define STBDS_SH_STRDUP       KCHAN__STBDS_SH_STRDUP
#  define STBDS_SH_ARENA        KCHAN__STBDS_SH_ARENA
#  ifdef __cplusplus                /* C++ only: in C these names are stb_ds's own macros */
#    define stbds_arrgrowf_wrapper      kchan__stbds_arrgrowf_wrapper
#    define stbds_hmget_key_wrapper     kchan__stbds_hmget_key_wrapper
#    define stbds_hmget_key_ts_wrapper  kchan__stbds_hmget_key_ts_wrapper
#    define stbds_hmput_default_wrapper kchan__stbds_hmput_default_wrapper
#    define stbds_hmput_key_wrapper     kchan__stbds_hmput_key_wrapper
#    define stbds_hmdel_key_wrapper     kchan__stbds_hmdel_key_wrapper
#    define stbds_shmode_func_wrapper   kchan__stbds_shmode_func_wrapper
extern "C" {                        /* the linkage stb_ds's extern declarations will have */
#  endif
struct kchan__stbds_string_arena;
static void  *kchan__stbds_arrgrowf(void *a, size_t elemsize, size_t addlen, size_t min_cap);
static void   kchan__stbds_arrfreef(void *a);
static void   kchan__stbds_hmfree_func(void *p, size_t elemsize);
static void  *kchan__stbds_hmget_key(void *a, size_t elemsize, void *key, size_t keysize, int mode);
static void  *kchan__stbds_hmget_key_ts(void *a, size_t elemsize, void *key, size_t keysize,
                                        ptrdiff_t *temp, int mode);
static void  *kchan__stbds_hmput_default(void *a, size_t elemsize);
static void  *kchan__stbds_hmput_key(void *a, size_t elemsize, void *key, size_t keysize, int mode);
static void  *kchan__stbds_hmdel_key(void *a, size_t elemsize, void *key, size_t keysize,
                                     size_t keyoffset, int mode);
static void  *kchan__stbds_shmode_func(size_t elemsize, int mode);
static size_t kchan__stbds_hash_bytes(void *p, size_t len, size_t seed);
static size_t kchan__stbds_hash_string(char *str, size_t seed);
static void   kchan__stbds_rand_seed(size_t seed);
static char  *kchan__stbds_stralloc(struct kchan__stbds_string_arena *a, char *str);
static void   kchan__stbds_strreset(struct kchan__stbds_string_arena *a);
KCHAN__PRIV void *kchan__stbds_adopt(void *p, size_t size);
#  ifdef __cplusplus
}
#  endif
#  define STBDS_NO_SHORT_NAMES
#  define STBDS_REALLOC(ctx, p, size) kchan__stbds_adopt((p), (size))
#  define STBDS_FREE(ctx, p)          KCHAN_FREE(p)
#  define STB_DS_IMPLEMENTATION
#  if defined(__GNUC__) || defined(__clang__)
#    pragma GCC diagnostic push
#    pragma GCC diagnostic ignored "-Wunused-function"
#    pragma GCC diagnostic ignored "-Wundef"
#    pragma GCC diagnostic ignored "-Wmissing-field-initializers"   /* in C++ */
#  endif
#  include KCHAN__STB_DS_H
#  if defined(__GNUC__) || defined(__clang__)
#    pragma GCC diagnostic pop
#  endif
#  undef STB_DS_IMPLEMENTATION       /* the rest waits for section stb_ds_end: kchan uses them */

/* stb_ds's realloc hook. kchan__ring_resize has already made the block the right size with
   a checked KCHAN_REALLOC/KCHAN_MALLOC, so stb_ds's (unchecked) request is a no-op here. */
KCHAN__PRIV void *kchan__stbds_adopt(void *p, size_t size)
{
    (void)size;
    KCHAN_ASSERT(p != NULL);
    return p;
}
#endif /* KCHAN_NO_UNLIMITED */

enum { KCHAN__RENDEZVOUS, KCHAN__BOUNDED, KCHAN__UNLIMITED, KCHAN__CONFLATED,
       KCHAN__AFTER, KCHAN__TICK, KCHAN__NEVER,        /* these three: section timer */
       KCHAN__SHARED };                                /* a handle on section shared's region */
/* An unlimited ring starts at, and shrinks back to, 1 KiB or 16 slots, whichever is more;
   it doubles when full and halves when at most 1/8 full, so a queue that hovers around one
   size never reallocates back and forth. */
#define KCHAN__UNLIMITED_MIN_BYTES 1024u
/* Cells an unlimited channel must be able to hold at once: a lock-free segment and its
   header (kchan__plan's size rule; the mutex engine keeps the same limit). */
#define KCHAN__SIZE_CELLS_UNLIMITED 32u
#define KCHAN__UNLIMITED_MIN_SLOTS 16u

/* The wait context: one per blocked operation or select, on the blocked thread's stack.
   `state` is claimed by exactly one CAS (a partner's claim or the owner's withdrawal);
   `wake` is the futex word the owner sleeps on and the partner's publication point. */
enum { KCHAN__CTX_WAITING, KCHAN__CTX_CLAIMED, KCHAN__CTX_WITHDRAWN };
enum { KCHAN__WAKE_SPINNING, KCHAN__WAKE_PARKED, KCHAN__WAKE_DONE };
/* A claim's status besides KCHAN_OK / KCHAN_CLOSED: the lock-free engine moves no element
   with a claim, it tells the waiter to try its operation again. Never returned to users. */
#define KCHAN__RETRY 1

typedef struct kchan__ctx {
    KCHAN__ATOMIC(uint32_t) state;
    KCHAN__ATOMIC(uint32_t) wake;
    int status;                /* KCHAN_OK / KCHAN_CLOSED, written by the claimer before wake */
    int index;                 /* which case completed, written likewise */
} kchan__ctx;

/* A registration of one context on one channel side; intrusive in the channel's queue and
   guarded by that channel's lock. */
typedef struct kchan__waiter {
    struct kchan__waiter *prev, *next;
    kchan__ctx *ctx;
    void *elem;                /* send: the element to take; recv: where to put one */
    int index;
    bool linked;
    bool sole;                 /* its context's only registration (not a select's) */
} kchan__waiter;

typedef struct { kchan__waiter *head, *tail; uint32_t count; } kchan__queue;

/* Counters: 64-bit where the target has lock-free 64-bit atomics; pointer-width otherwise
   (32-bit MCUs: they wrap after 2^32 events), so no libatomic is needed there. Each is
   written by one of the two bump rules of section core, kchan__bump_locked (under the
   channel lock) or kchan__bump_unlocked (an RMW, anywhere), and read by kchan_stats_get
   with relaxed loads. */
#if defined(KCHAN__PLAIN_ATOMICS) || (defined(ATOMIC_LLONG_LOCK_FREE) && ATOMIC_LLONG_LOCK_FREE == 2)
typedef uint64_t kchan__count;
#else
typedef uintptr_t kchan__count;
#endif
/* What both engines count, each field in the same sense (kchan_stats). */
typedef struct {
    /* First: the lock-free engine reads the waiting counts on every op, and max_len (last,
       96 bytes on) is written on its fast paths, so they cannot share a cache line. */
    KCHAN__ATOMIC(uint32_t) waiting_senders, waiting_receivers;
    /* Lock-free engine only: kchan__lf_hand's sends straight to a parked receiver. Beside
       the waiting counts, whose line a hand-off moves between the cores anyway: on a line
       of its own it cost W6 a cache miss per message. */
    KCHAN__ATOMIC(kchan__count) handoffs;
    KCHAN__ATOMIC(int) closed, reason;
    KCHAN__ATOMIC(kchan__count) drops_newest, drops_oldest, undelivered;
    KCHAN__ATOMIC(kchan__count) send_full, recv_empty, timeouts, cancelled_waiters;
    KCHAN__ATOMIC(kchan__count) blocked_sends, blocked_recvs;
    KCHAN__ATOMIC(size_t) max_len;
} kchan__metrics;

/* The mutex engine's part (section engine_mutex): a ring of slots, all under the lock. */
typedef struct {
    unsigned char *slots;      /* ring storage (an stb_ds array for unlimited channels) */
    size_t size;               /* slots in the ring */
    size_t head, count;        /* oldest slot, elements buffered */
    KCHAN__ATOMIC(kchan__count) sends, recvs;   /* sends that took effect; elements received */
    KCHAN__ATOMIC(size_t) len; /* count, for kchan_len and kchan_stats_get without the lock */
} kchan__part_mutex;

/* A timer's part (section timer), all under the channel lock: when its next instant is due
   (KCHAN__TM_NEVER: none will come) and, for a tick, the period. */
#define KCHAN__TM_NEVER INT64_MAX
typedef struct {
    int64_t due;
    int64_t period;            /* 0 for after and never */
} kchan__part_timer;

#ifdef KCHAN_LOCKFREE
#  ifdef KCHAN__PLAIN_ATOMICS
#    error "kchan: KCHAN_LOCKFREE needs threads and C11 atomics; KCHAN_PLATFORM_NONE has one thread (its atomics are plain accesses) and gains nothing from it: drop KCHAN_LOCKFREE"
#  endif
/* The lock-free engine's part (section engine_lockfree): the ring, or for an unlimited
   channel its list of segments. All but the positions, segment pointers and counters is
   read-only after creation; the tail side, the head side and the counters each sit alone
   on a cache line (the pads), so producers, consumers and the read-mostly words do not
   false-share. */
typedef struct kchan__seg *kchan__segp;   /* a typedef, so KCHAN__ATOMIC makes the pointer atomic */
typedef struct {
    unsigned char *cells;      /* `size` cells of `stride` bytes: a stamp, then the element */
    size_t size;               /* cells in the ring: the capacity, plus a spare if it evicts */
    size_t stride;
    size_t mark;               /* power of two above every index: closed bit of tail, pin bit of head */
    size_t one_lap;            /* 2 * mark: what a position gains per lap */
    unsigned lap_shift;        /* log2(one_lap) */
    size_t origin;             /* where head and tail started: 0 (a KCHAN_TESTING hook moves it) */
    KCHAN__ATOMIC(uint32_t) discarded;   /* set once, under a pinned head, by cancel or destroy */
    KCHAN__ATOMIC(uint16_t) snooze_credit[2];   /* a small ring's spin budget, receivers then senders */
    char pad0[KCHAN__CACHELINE];
    KCHAN__ATOMIC(size_t) tail;
    KCHAN__ATOMIC(kchan__segp) tail_seg;   /* unlimited: the segment tail is in */
    KCHAN__ATOMIC(kchan__segp) spare_seg;  /* unlimited: a drained segment kept for reuse, or NULL */
    char pad1[KCHAN__CACHELINE - sizeof(size_t) - 2 * sizeof(void *)];
    KCHAN__ATOMIC(size_t) head;
    KCHAN__ATOMIC(kchan__segp) head_seg;   /* unlimited: the segment head is in */
    char pad2[KCHAN__CACHELINE - sizeof(size_t) - sizeof(void *)];
    /* Sends and receives are counted by the positions; these count what they cannot see
       (and m.handoffs, the sends handed straight to a receiver). */
    KCHAN__ATOMIC(kchan__count) recvs_floor;  /* evicting rings: highest recvs reported ([E3]) */
    KCHAN__ATOMIC(size_t) evictions;          /* evicting rings: announced, not given up ([E1]) */
} kchan__part_lockfree;
#endif

/* A channel: what both engines share, then each engine's part. The engine is chosen at
   creation (kchan__init); only sections ops and select ask which one serves a channel. */
struct kchan {
    kchan__lock lock;
    size_t elem_size;
    size_t capacity;           /* what kchan_cap reports */
    kchan__queue sendq, recvq;
    void (*on_undelivered)(void *elem, void *user);
    void *user;
    const char *name;
    unsigned char kind, policy;
    bool caller_memory;
    bool lockfree;             /* served by section engine_lockfree (KCHAN_LOCKFREE builds only) */
    kchan__metrics m;
    kchan__part_mutex mx;      /* a timer's one-slot ring too */
    kchan__part_timer tm;
#ifdef KCHAN_LOCKFREE
    kchan__part_lockfree lf;
#endif
};

/* Which engine serves c: a constant false without KCHAN_LOCKFREE, so the compiler drops
   every lock-free branch of the dispatch. */
#ifdef KCHAN_LOCKFREE
KCHAN__PRIV bool kchan__is_lf(const kchan_t *c) { return c->lockfree; }
#else
KCHAN__PRIV bool kchan__is_lf(const kchan_t *c) { (void)c; return false; }
#endif
/* Whether c is a timer (after, tick, never): served by section timer, never lock-free. A
   constant false with KCHAN_NO_TIMERS, so the compiler drops section timer entirely. */
#ifdef KCHAN_NO_TIMERS
KCHAN__PRIV bool kchan__is_timer(const kchan_t *c) { (void)c; return false; }
#else
KCHAN__PRIV bool kchan__is_timer(const kchan_t *c) { return c->kind >= KCHAN__AFTER && c->kind <= KCHAN__NEVER; }
#endif
/* Whether c is a handle on a shared region (section shared). */
#ifdef KCHAN_HAVE_SHARED
KCHAN__PRIV bool kchan__is_shared(const kchan_t *c) { return c->kind == KCHAN__SHARED; }
#else
KCHAN__PRIV bool kchan__is_shared(const kchan_t *c) { (void)c; return false; }
#endif

/* Work an operation gathers under the lock and does after releasing it: waking the partners
   it completed, and at most one on_undelivered call (dropped or evicted element). */
typedef struct {
    kchan__waiter *release;    /* claimed waiters, linked through ->next */
    kchan_t *cb_chan;
    const void *cb_elem;
    unsigned char *evicted;    /* a kchan__room for a send that may evict, else NULL */
} kchan__after;

static inline void kchan__after_init(kchan__after *a, unsigned char *room)
{
    a->release = NULL;
    a->cb_chan = NULL;
    a->evicted = room;
}

/* Where a send that evicts (drop-oldest or conflated, with on_undelivered) copies the oldest
   element under the lock, so the callback can run after the unlock. Only such sends carry
   it: they go through a never-inlined *_room function whose frame holds it, so no other op's
   stack pays KCHAN_EVICT_MAX bytes for it (kchan__evicts_room says which sends). */
typedef struct { _Alignas(max_align_t) unsigned char bytes[KCHAN_EVICT_MAX]; } kchan__room;

/* The two ways to count. On a given channel each counter has one: the mutex engine counts
   everything under the lock, and so does select (cancelled_waiters, on either engine); the
   lock-free engine counts its rare paths without it. Mixing the two on one counter would
   lose increments. */
KCHAN__PRIV void kchan__bump_locked(KCHAN__ATOMIC(kchan__count) *field, size_t by)
{
    /* [M1] relaxed load + relaxed store, not an RMW: every writer holds the channel lock, so
       there is one writer at a time; readers ([M2]) only need each value to be whole. */
    kchan__atomic_store(field, (kchan__count)(kchan__atomic_load(field, memory_order_relaxed) + by),
                          memory_order_relaxed);
}

KCHAN__PRIV void kchan__bump_unlocked(KCHAN__ATOMIC(kchan__count) *field, size_t by)
{
    /* [L19] relaxed RMW: the rare-path counters of a lock-free channel have many writers and
       no lock; each only has to be whole and monotonic ([M2] reads). */
    kchan__atomic_fetch_add(field, (kchan__count)by, memory_order_relaxed);
}


/* kchan_stats_get's part both engines share: the counters that mean the same on each but
   max_len, which each engine reads after its own len (kchan__read_max_len). */
KCHAN__PRIV void kchan__metrics_read(const kchan_t *c, kchan_stats *out)
{
    const kchan__metrics *m = &c->m;
    /* [M2] relaxed loads throughout: each field is whole and monotonic on its own ([M1]);
       the snapshot is not one consistent cut across fields (docs/API.md says so). */
#define KCHAN__LOAD(f) kchan__atomic_load(&m->f, memory_order_relaxed)
    out->version = KCHAN_STATS_VERSION;
    out->drops_newest = KCHAN__LOAD(drops_newest);
    out->drops_oldest = KCHAN__LOAD(drops_oldest);
    out->undelivered = KCHAN__LOAD(undelivered);
    out->send_full = KCHAN__LOAD(send_full);
    out->recv_empty = KCHAN__LOAD(recv_empty);
    out->timeouts = KCHAN__LOAD(timeouts);
    out->cancelled_waiters = KCHAN__LOAD(cancelled_waiters);
    out->blocked_sends = KCHAN__LOAD(blocked_sends);
    out->blocked_recvs = KCHAN__LOAD(blocked_recvs);
    out->waiting_senders = KCHAN__LOAD(waiting_senders);
    out->waiting_receivers = KCHAN__LOAD(waiting_receivers);
    out->closed = KCHAN__LOAD(closed) != 0;
#undef KCHAN__LOAD
    out->cap = c->capacity;
}

KCHAN__PRIV size_t kchan__read_max_len(const kchan_t *c)
{
    /* [M2a] relaxed: read after the engine's len, which orders it ([M2b] acquire on the
       mutex engine; the lock-free engine raises what it reports to its len). */
    return kchan__atomic_load(&c->m.max_len, memory_order_relaxed);
}

/* memcpy with the usual element sizes spelled out, so those compile to plain moves. */
KCHAN__PRIV void kchan__move(void *dst, const void *src, size_t n)
{
    switch (n) {
    case 4:  memcpy(dst, src, 4); break;
    case 8:  memcpy(dst, src, 8); break;
    case 16: memcpy(dst, src, 16); break;
    default: memcpy(dst, src, n); break;
    }
}

KCHAN__PRIV void kchan__copy(const kchan_t *c, void *dst, const void *src)
{
    if (c->elem_size) kchan__move(dst, src, c->elem_size);
}

/* Address of element i of a caller's array (which may be NULL for zero-size elements). */
KCHAN__PRIV void *kchan__nth(const kchan_t *c, const void *base, size_t i)
{
    return c->elem_size ? (unsigned char *)(uintptr_t)base + i * c->elem_size : (void *)(uintptr_t)base;
}

/* Whether a call with this timeout may wait at all: not for "try" (0), never under _NONE. */
KCHAN__PRIV bool kchan__may_wait(int64_t timeout_ns) { return timeout_ns != 0 && KCHAN__CAN_WAIT; }

/* Only KCHAN_FOREVER means forever: any other negative timeout (an overflowed
   `secs * 1000000000`) is KCHAN_INVAL, checked before an op does anything. */
KCHAN__PRIV bool kchan__bad_timeout(int64_t timeout_ns) { return timeout_ns < 0 && timeout_ns != KCHAN_FOREVER; }

KCHAN__PRIV int64_t kchan__deadline(int64_t timeout_ns)
{
    if (timeout_ns < 0) return -1;
    int64_t now = kchan__clock_ns();
    return timeout_ns > INT64_MAX - now ? -1 : now + timeout_ns;
}

// >>waiters

KCHAN__PRIV void kchan__ctx_init(kchan__ctx *x)
{
    /* [W0] relaxed: the context is published to partners by linking a waiter under a
       channel lock, which orders these stores before any partner's claim. */
    kchan__atomic_store(&x->state, KCHAN__CTX_WAITING, memory_order_relaxed);
    kchan__atomic_store(&x->wake, KCHAN__WAKE_SPINNING, memory_order_relaxed); /* [W0] */
    x->status = KCHAN_OK;
    x->index = -1;
}

KCHAN__PRIV void kchan__publish_waiting(kchan_t *c, const kchan__queue *q)
{
    KCHAN__ATOMIC(uint32_t) *field = q == &c->sendq ? &c->m.waiting_senders : &c->m.waiting_receivers;
    /* The waiter queues serve both engines, and only here does the order differ: a full
       fence on the mutex engine would cost every hand-off an xchg. Without KCHAN_LOCKFREE
       the test is a constant. */
    if (kchan__is_lf(c))
        /* [L11] seq_cst: the lock-free engine reads these as "someone waits" flags. This
           store and the registrant's seq_cst re-check of the ring form one half of a Dekker
           pair; a pusher's seq_cst CAS [L3]/[L7] and its seq_cst load [L10] the other. */
        kchan__atomic_store(field, q->count, memory_order_seq_cst);
    else
        /* [M5] relaxed: a gauge written under the lock, as [M1]. */
        kchan__atomic_store(field, q->count, memory_order_relaxed);
}

KCHAN__PRIV void kchan__enqueue(kchan_t *c, kchan__queue *q, kchan__waiter *w)
{
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail) q->tail->next = w; else q->head = w;
    q->tail = w;
    w->linked = true;
    q->count++;
    kchan__publish_waiting(c, q);
}

/* A single op's registration (not a select's): a fresh context, its one waiter on q. */
KCHAN__PRIV void kchan__enqueue_sole(kchan_t *c, kchan__queue *q, kchan__waiter *w,
                                     kchan__ctx *ctx, void *elem)
{
    kchan__ctx_init(ctx);
    w->ctx = ctx;
    w->elem = elem;
    w->index = 0;
    w->sole = true;
    kchan__enqueue(c, q, w);
}

KCHAN__PRIV void kchan__unlink(kchan_t *c, kchan__queue *q, kchan__waiter *w)
{
    if (w->prev) w->prev->next = w->next; else q->head = w->next;
    if (w->next) w->next->prev = w->prev; else q->tail = w->prev;
    w->prev = w->next = NULL;
    w->linked = false;
    q->count--;
    kchan__publish_waiting(c, q);
}

/* Try to take ownership of a parked context for `status`. One CAS decides between every
   partner on every channel the context is registered on and the owner's withdrawal. */
KCHAN__PRIV bool kchan__claim(kchan__waiter *w, int status)
{
    uint32_t expected = KCHAN__CTX_WAITING;
    /* [W1] relaxed: the CAS only arbitrates who owns the context; the data the owner reads
       afterwards travels through `wake` ([W3] release / [W4] acquire), and the waiter's
       fields were published to us by the channel lock. */
    if (!kchan__atomic_cas_strong(&w->ctx->state, &expected, KCHAN__CTX_CLAIMED,
                                                 memory_order_relaxed, memory_order_relaxed))
        return false;
    w->ctx->status = status;
    w->ctx->index = w->index;
    return true;
}

/* The owner's side of [W1]: withdraw unless a partner has claimed us already. */
KCHAN__PRIV bool kchan__withdraw(kchan__ctx *x)
{
    uint32_t expected = KCHAN__CTX_WAITING;
    /* [W2] relaxed: as [W1]; on failure the owner waits for [W3] before reading anything. */
    return kchan__atomic_cas_strong(&x->state, &expected, KCHAN__CTX_WITHDRAWN,
                                                   memory_order_relaxed, memory_order_relaxed);
}

/* Unlink the first waiter of q that can be claimed; stale ones (owner already won elsewhere
   or withdrew) are unlinked on the way and left to their owners' clean-up. */
KCHAN__PRIV kchan__waiter *kchan__take_partner(kchan_t *c, kchan__queue *q, int status)
{
    kchan__waiter *w;
    while ((w = q->head) != NULL) {
        kchan__unlink(c, q, w);
        if (kchan__claim(w, status)) return w;
    }
    return NULL;
}

/* As kchan__take_partner, but the claimed waiter stays linked at the head of q, keeping its
   place while the claimer tries to complete its op (the lock-free engine's hand-over, which
   can fail); the claimer then unlinks it, or gives the claim back with kchan__unclaim. */
KCHAN__PRIV kchan__waiter *kchan__claim_head(kchan_t *c, kchan__queue *q, int status)
{
    kchan__waiter *w;
    while ((w = q->head) != NULL) {
        if (kchan__claim(w, status)) return w;
        kchan__unlink(c, q, w);            /* stale: its owner won elsewhere or withdrew */
    }
    return NULL;
}

/* Give a claim back: the hand-over found the room (element) taken by a newcomer, so the
   waiter goes on waiting where it was, first in line. Only a sole registration: a select's
   other registrations may have been dropped as stale while it was claimed. Its owner never
   notices: it withdraws only under this channel lock (kchan__lf_wait), which the claimer
   holds from kchan__claim_head to here. */
KCHAN__PRIV void kchan__unclaim(kchan__waiter *w)
{
    /* [W7] relaxed: claim, un-claim and the owner's withdrawal all happen under the channel
       lock, which orders them; the owner reads nothing the claimer wrote. */
    kchan__atomic_store(&w->ctx->state, KCHAN__CTX_WAITING, memory_order_relaxed);
}

KCHAN__PRIV void kchan__defer_release(kchan__after *a, kchan__waiter *w)
{
    w->next = a->release;      /* unlinked and claimed: the record is ours until [W3] */
    a->release = w;
}

KCHAN__PRIV void kchan__undelivered(kchan_t *c, void *elem)
{
    if (c->on_undelivered) c->on_undelivered(c->elem_size ? elem : NULL, c->user);
}

/* After unlocking: wake every completed partner, then run the pending callback. */
KCHAN__PRIV void kchan__finish(kchan__after *a)
{
    kchan__waiter *w = a->release;
    while (w) {
        kchan__waiter *next = w->next;
        KCHAN__ATOMIC(uint32_t) *wake = &w->ctx->wake;
        /* [W3] release: publishes ctx->status/index and the element copied to or from the
           owner's buffer; pairs with [W4] acquire in kchan__park. After this store the owner
           may return and reuse its stack, so `wake` is used below only as a futex key. */
        if (kchan__atomic_exchange(wake, KCHAN__WAKE_DONE, memory_order_release) ==
            KCHAN__WAKE_PARKED)
            kchan__wake_all(wake);
        w = next;
    }
    a->release = NULL;
    if (a->cb_chan) {
        kchan__undelivered(a->cb_chan, (void *)(uintptr_t)a->cb_elem);
        a->cb_chan = NULL;
    }
}

/* Wait until a partner completes the context ([W3]) or the deadline passes: spin briefly
   (a handoff on the other core takes well under a wake-up's ~35 us), yield, then sleep. */
#ifndef KCHAN__SPINS
#  define KCHAN__SPINS  128
#endif
#ifndef KCHAN__YIELDS
#  define KCHAN__YIELDS 8
#endif
/* Close's part both engines share, under the lock: mark the channel closed once (false if
   it already was) ... */
KCHAN__PRIV bool kchan__set_closed(kchan_t *c, int reason)
{
    /* [M6''] relaxed: read under the lock, which orders every writer of `closed`. */
    if (kchan__atomic_load(&c->m.closed, memory_order_relaxed)) return false;
    /* [M6'] relaxed: published by the release store of `closed` just below. */
    kchan__atomic_store(&c->m.reason, reason, memory_order_relaxed);
    /* [M6] release: pairs with [M4]; publishes the reason and the closer's prior writes. */
    kchan__atomic_store(&c->m.closed, 1, memory_order_release);
    return true;
}

/* ... and hand every parked waiter `status` (KCHAN_CLOSED, or the lock-free KCHAN__RETRY:
   look again, and find the close yourself), to wake after the unlock. */
KCHAN__PRIV void kchan__release_all(kchan_t *c, int status, kchan__after *a)
{
    kchan__waiter *w;
    while ((w = kchan__take_partner(c, &c->sendq, status)) != NULL) kchan__defer_release(a, w);
    while ((w = kchan__take_partner(c, &c->recvq, status)) != NULL) kchan__defer_release(a, w);
}

KCHAN__PRIV int kchan__park_after(kchan__ctx *x, int64_t deadline_ns, int spins, int yields)
{
    for (int i = 0; i < spins + yields; i++) {
        /* [W4] acquire: pairs with [W3]; makes the partner's copy and status visible. */
        if (kchan__atomic_load(&x->wake, memory_order_acquire) == KCHAN__WAKE_DONE) return 0;
        if (i < spins) {
            kchan__cpu_relax();
        } else {
            if (deadline_ns >= 0 && kchan__clock_ns() >= deadline_ns) break;   /* a busy machine's */
            kchan__yield();                                                 /* yields can be long */
        }
    }
    uint32_t expected = KCHAN__WAKE_SPINNING;
    /* [W5] acquire: if the value is DONE this pairs with [W3] as [W4] does (C11 wants the
       success order at least as strong). Announcing that we sleep publishes nothing; [W3]'s
       exchange reads it and wakes us. A second park after a lost withdrawal finds PARKED
       already: only DONE may end the wait, or the partner would still be using our stack. */
    if (!kchan__atomic_cas_strong(&x->wake, &expected, KCHAN__WAKE_PARKED,
                                                 memory_order_acquire, memory_order_acquire) &&
        expected == KCHAN__WAKE_DONE)
        return 0;
    for (;;) {
        int r = kchan__wait(&x->wake, KCHAN__WAKE_PARKED, deadline_ns);
        /* [W4'] acquire: as [W4]. */
        if (kchan__atomic_load(&x->wake, memory_order_acquire) == KCHAN__WAKE_DONE) return 0;
        if (r == KCHAN_TIMEDOUT) return KCHAN_TIMEDOUT;
    }
}

KCHAN__PRIV int kchan__park(kchan__ctx *x, int64_t deadline_ns)
{
    return kchan__park_after(x, deadline_ns, KCHAN__SPINS, KCHAN__YIELDS);
}

// >>engine_mutex
/* One lock per channel guards the ring, both waiter queues and the counters. A send first
   hands its element straight to the oldest parked receiver (Go's sendDirect), else stores it,
   else applies the overflow policy, else reports that it must wait. A receive takes the
   oldest element and lets the oldest parked sender move its element into the freed slot,
   or takes straight from a parked sender on a rendezvous channel. */

KCHAN__PRIV bool kchan__mx_closed(const kchan_t *c)
{
    /* [M4] acquire: pairs with [M6] release, so a thread that sees the channel closed also
       sees the close reason and whatever the closer wrote before closing. */
    return kchan__atomic_load(&c->m.closed, memory_order_acquire) != 0;
}

KCHAN__PRIV void kchan__set_len(kchan_t *c, size_t n)
{
    c->mx.count = n;
    /* [M3] relaxed: published for kchan_len / stats, as [M1]; the lock orders the writers.
       max_len first, so that the release below carries it. */
    if (n > kchan__atomic_load(&c->m.max_len, memory_order_relaxed))
        kchan__atomic_store(&c->m.max_len, n, memory_order_relaxed);  /* [M3] */
    /* [M3a] release: pairs with [M2b] in kchan__mx_stats: a snapshot that sees this len
       sees a max_len at least as large (free on TSO machines). */
    kchan__atomic_store(&c->mx.len, n, memory_order_release);
}

KCHAN__PRIV unsigned char *kchan__slot(const kchan_t *c, size_t i) { return c->mx.slots + i * c->elem_size; }

KCHAN__PRIV void kchan__ring_push(kchan_t *c, const void *src)
{
    if (c->elem_size) {
        size_t t = c->mx.head + c->mx.count;
        if (t >= c->mx.size) t -= c->mx.size;
        kchan__move(kchan__slot(c, t), src, c->elem_size);
    }
    kchan__set_len(c, c->mx.count + 1);
}

KCHAN__PRIV void kchan__ring_pop(kchan_t *c, void *dst)
{
    if (c->elem_size) {
        if (dst) kchan__move(dst, kchan__slot(c, c->mx.head), c->elem_size);
        if (++c->mx.head == c->mx.size) c->mx.head = 0;
    }
    kchan__set_len(c, c->mx.count - 1);
}

#ifndef KCHAN_NO_UNLIMITED
KCHAN__PRIV size_t kchan__unlimited_min(const kchan_t *c)
{
    size_t slots = KCHAN__UNLIMITED_MIN_BYTES / c->elem_size;
    return slots > KCHAN__UNLIMITED_MIN_SLOTS ? slots : KCHAN__UNLIMITED_MIN_SLOTS;
}

/* Re-home an unlimited channel's ring in `new_size` slots, oldest element first at slot 0.
   Growth resizes the stb_ds block in place with a checked KCHAN_REALLOC and lets stb_ds
   adopt it; shrinking builds a fresh stb_ds array from a checked KCHAN_MALLOC. Either way
   stb_ds never allocates on its own, so a failure is KCHAN_NOMEM with nothing changed. */
KCHAN__PRIV int kchan__ring_resize(kchan_t *c, size_t new_size)
{
    size_t es = c->elem_size, hdr = sizeof(stbds_array_header);
    if (new_size > (SIZE_MAX / 2 - hdr) / es) return KCHAN_NOMEM;
    size_t bytes = hdr + new_size * es, old_size = c->mx.size;
    unsigned char *a;
    if (new_size > old_size) {
        void *blk = KCHAN_REALLOC(c->mx.slots ? (void *)stbds_header(c->mx.slots) : NULL, bytes);
        if (!blk) return KCHAN_NOMEM;
        if (!c->mx.slots) memset(blk, 0, hdr);      /* a fresh, empty stb_ds header */
        a = (unsigned char *)kchan__stbds_arrgrowf((unsigned char *)blk + hdr, es, 0, new_size);
        size_t wrapped = c->mx.head + c->mx.count > old_size ? c->mx.head + c->mx.count - old_size : 0;
        if (wrapped) memcpy(a + old_size * es, a, wrapped * es);   /* unwrap into the new half */
    } else {
        void *blk = KCHAN_MALLOC(bytes);
        if (!blk) return KCHAN_NOMEM;
        memset(blk, 0, hdr);
        a = (unsigned char *)kchan__stbds_arrgrowf((unsigned char *)blk + hdr, es, 0, new_size);
        size_t first = c->mx.count < old_size - c->mx.head ? c->mx.count : old_size - c->mx.head;
        memcpy(a, kchan__slot(c, c->mx.head), first * es);
        memcpy(a + first * es, c->mx.slots, (c->mx.count - first) * es);
        stbds_arrfree(c->mx.slots);
        c->mx.head = 0;
    }
    KCHAN_ASSERT(stbds_arrcap(a) == new_size);
    c->mx.slots = a;
    c->mx.size = new_size;
    return KCHAN_OK;
}
#endif

/* Store one element, applying the overflow policy. The channel is open, nobody waits to
   receive, and the element is accepted unless the result is KCHAN_WOULDBLOCK/NOMEM. */
KCHAN__PRIV int kchan__store(kchan_t *c, const void *elem, kchan__after *a)
{
    if (c->mx.count < c->mx.size) {
        kchan__ring_push(c, elem);
        return KCHAN_OK;
    }
#ifndef KCHAN_NO_UNLIMITED
    if (c->kind == KCHAN__UNLIMITED) {
        size_t want = c->mx.size ? c->mx.size * 2 : kchan__unlimited_min(c);
        if (c->mx.size > SIZE_MAX / 2 || kchan__ring_resize(c, want) != KCHAN_OK)
            return KCHAN_NOMEM;
        kchan__ring_push(c, elem);
        return KCHAN_OK;
    }
#endif
    if (c->policy == KCHAN_DROP_NEWEST) {
        kchan__bump_locked(&c->m.drops_newest, 1);
        if (c->on_undelivered) { a->cb_chan = c; a->cb_elem = elem; }
        return KCHAN_OK;
    }
    if (c->policy == KCHAN_DROP_OLDEST || c->kind == KCHAN__CONFLATED) {
        bool keep = c->on_undelivered != NULL;
        KCHAN_ASSERT(!keep || !c->elem_size || a->evicted);   /* kchan__evicts_room said so */
        kchan__ring_pop(c, keep ? a->evicted : NULL);
        if (keep) { a->cb_chan = c; a->cb_elem = a->evicted; }
        kchan__bump_locked(&c->m.drops_oldest, 1);
        kchan__ring_push(c, elem);
        return KCHAN_OK;
    }
    return KCHAN_WOULDBLOCK;   /* bounded + block, or rendezvous */
}

/* Does a send to this mutex-engine channel need a kchan__room? One that may evict an
   element with a callback (lock-free rings evict in kchan__lf_trim, which has its own). */
KCHAN__PRIV bool kchan__evicts_room(const kchan_t *c)
{
    return c->on_undelivered && c->elem_size &&
           (c->policy == KCHAN_DROP_OLDEST || c->kind == KCHAN__CONFLATED);
}

/* A send that does not wait. Called with the lock held. */
KCHAN__PRIV int kchan__send_locked(kchan_t *c, const void *elem, kchan__after *a)
{
    if (kchan__mx_closed(c)) return KCHAN_CLOSED;
    kchan__waiter *w = kchan__take_partner(c, &c->recvq, KCHAN_OK);
    int r = KCHAN_OK;
    if (w) {
        kchan__copy(c, w->elem, elem);          /* direct handoff into the receiver */
        kchan__bump_locked(&c->mx.recvs, 1);
        kchan__defer_release(a, w);
    } else {
        r = kchan__store(c, elem, a);
    }
    if (r == KCHAN_OK) kchan__bump_locked(&c->mx.sends, 1);
    return r;
}

/* A receive that does not wait. Called with the lock held. */
KCHAN__PRIV int kchan__recv_locked(kchan_t *c, void *out, kchan__after *a)
{
    kchan__waiter *w;
    if (c->mx.count > 0) {
        kchan__ring_pop(c, out);
        kchan__bump_locked(&c->mx.recvs, 1);
        if ((w = kchan__take_partner(c, &c->sendq, KCHAN_OK)) != NULL) {
            kchan__ring_push(c, w->elem);       /* the oldest parked sender takes the slot */
            kchan__bump_locked(&c->mx.sends, 1);
            kchan__defer_release(a, w);
        }
#ifndef KCHAN_NO_UNLIMITED
        else if (c->kind == KCHAN__UNLIMITED && c->elem_size &&
                 c->mx.size > kchan__unlimited_min(c) && c->mx.count <= c->mx.size / 8) {
            (void)kchan__ring_resize(c, c->mx.size / 2);   /* give memory back; may fail */
        }
#endif
        return KCHAN_OK;
    }
    if ((w = kchan__take_partner(c, &c->sendq, KCHAN_OK)) != NULL) {
        kchan__copy(c, out, w->elem);           /* rendezvous: straight from the sender */
        kchan__bump_locked(&c->mx.sends, 1);
        kchan__bump_locked(&c->mx.recvs, 1);
        kchan__defer_release(a, w);
        return KCHAN_OK;
    }
    return kchan__mx_closed(c) ? KCHAN_CLOSED : KCHAN_WOULDBLOCK;
}

/* Park the calling single-channel operation on `q` (lock held on entry, released inside).
   Returns KCHAN_OK / KCHAN_CLOSED as set by the partner, or KCHAN_TIMEDOUT. */
KCHAN__PRIV int kchan__wait_one(kchan_t *c, kchan__queue *q, void *elem, int64_t deadline,
                                kchan__after *a)
{
    kchan__ctx ctx;
    kchan__waiter w;
    kchan__enqueue_sole(c, q, &w, &ctx, elem);
    kchan__lock_release(&c->lock);
    kchan__finish(a);
    if (kchan__park(&ctx, deadline) == KCHAN_TIMEDOUT) {
        if (kchan__withdraw(&ctx)) {
            kchan__lock_acquire(&c->lock);
            if (w.linked) kchan__unlink(c, q, &w);
            kchan__bump_locked(&c->m.timeouts, 1);
            kchan__lock_release(&c->lock);
            return KCHAN_TIMEDOUT;
        }
        (void)kchan__park(&ctx, -1);   /* claimed at the last moment: wait for the data */
    }
    return ctx.status;
}


/* The mutex engine's op; `room` is a kchan__room if the op may evict, else NULL. */
KCHAN__PRIV int kchan__mx_op_locked(kchan_t *c, int dir, void *elem, int64_t timeout_ns, unsigned char *room)
{
    kchan__after a;
    kchan__after_init(&a, room);
    kchan__lock_acquire(&c->lock);
    int r = dir == KCHAN_OP_SEND ? kchan__send_locked(c, elem, &a) : kchan__recv_locked(c, elem, &a);
    if (r == KCHAN_WOULDBLOCK) {
        if (!kchan__may_wait(timeout_ns)) {
            kchan__bump_locked(dir == KCHAN_OP_SEND ? &c->m.send_full : &c->m.recv_empty, 1);
        } else {
            kchan__bump_locked(dir == KCHAN_OP_SEND ? &c->m.blocked_sends : &c->m.blocked_recvs, 1);
            return kchan__wait_one(c, dir == KCHAN_OP_SEND ? &c->sendq : &c->recvq, elem,
                                   kchan__deadline(timeout_ns), &a);
        }
    }
    kchan__lock_release(&c->lock);
    kchan__finish(&a);
    return r;
}

KCHAN__NOINLINE int kchan__mx_op_room(kchan_t *c, void *elem, int64_t timeout_ns)
{
    kchan__room room;
    return kchan__mx_op_locked(c, KCHAN_OP_SEND, elem, timeout_ns, room.bytes);
}

/* send, try_send, send_timeout; recv likewise. */
KCHAN__PRIV int kchan__mx_op(kchan_t *c, int dir, void *elem, int64_t timeout_ns)
{
    if (dir == KCHAN_OP_SEND && kchan__evicts_room(c)) return kchan__mx_op_room(c, elem, timeout_ns);
    return kchan__mx_op_locked(c, dir, elem, timeout_ns, NULL);
}

/* The mutex engine's send_many; `room` as in kchan__mx_op_locked. */
KCHAN__PRIV int kchan__mx_send_many_locked(kchan_t *c, const void *elems, size_t n, size_t *sent,
                                           int64_t timeout_ns, unsigned char *room)
{
    size_t i = 0;
    int r = KCHAN_OK;
    int64_t deadline = kchan__deadline(timeout_ns);
    bool blocked = false;
    kchan__after a;
    kchan__after_init(&a, room);
    while (i < n && r == KCHAN_OK) {
        kchan__lock_acquire(&c->lock);
        /* Batch under one lock hold; break out to run a drop callback outside it. */
        while (i < n && (r = kchan__send_locked(c, kchan__nth(c, elems, i), &a)) == KCHAN_OK) {
            i++;
            if (a.cb_chan) break;
        }
        if (r == KCHAN_WOULDBLOCK && !kchan__may_wait(timeout_ns)) {
            kchan__bump_locked(&c->m.send_full, 1);
        } else if (r == KCHAN_WOULDBLOCK) {
            if (!blocked) kchan__bump_locked(&c->m.blocked_sends, 1);
            blocked = true;
            r = kchan__wait_one(c, &c->sendq, kchan__nth(c, elems, i), deadline, &a);
            if (r == KCHAN_OK) i++;
            continue;
        }
        kchan__lock_release(&c->lock);
        kchan__finish(&a);
    }
    if (sent) *sent = i;
    return r;
}

KCHAN__NOINLINE int kchan__mx_send_many_room(kchan_t *c, const void *elems, size_t n, size_t *sent,
                                             int64_t timeout_ns)
{
    kchan__room room;
    return kchan__mx_send_many_locked(c, elems, n, sent, timeout_ns, room.bytes);
}

KCHAN__PRIV int kchan__mx_send_many(kchan_t *c, const void *elems, size_t n, size_t *sent, int64_t timeout_ns)
{
    if (kchan__evicts_room(c)) return kchan__mx_send_many_room(c, elems, n, sent, timeout_ns);
    return kchan__mx_send_many_locked(c, elems, n, sent, timeout_ns, NULL);
}

KCHAN__PRIV int kchan__mx_recv_many(kchan_t *c, void *out, size_t max, size_t *got, int64_t timeout_ns)
{
    size_t i = 0;
    kchan__after a;
    kchan__after_init(&a, NULL);
    kchan__lock_acquire(&c->lock);
    int r = kchan__recv_locked(c, out, &a);
    if (r == KCHAN_WOULDBLOCK && !kchan__may_wait(timeout_ns)) {
        kchan__bump_locked(&c->m.recv_empty, 1);
    } else if (r == KCHAN_WOULDBLOCK) {
        kchan__bump_locked(&c->m.blocked_recvs, 1);
        r = kchan__wait_one(c, &c->recvq, out, kchan__deadline(timeout_ns), &a);
        if (r != KCHAN_OK) return r;
        kchan__lock_acquire(&c->lock);     /* got one; now take what else is there */
    }
    if (r == KCHAN_OK) {
        i = 1;
        while (i < max && kchan__recv_locked(c, kchan__nth(c, out, i), &a) == KCHAN_OK) i++;
    }
    kchan__lock_release(&c->lock);
    kchan__finish(&a);
    if (got) *got = i;
    return r;
}

KCHAN__PRIV int kchan__mx_peek(kchan_t *c, void *out)
{
    kchan__lock_acquire(&c->lock);
    int r = KCHAN_OK;
    if (c->mx.count > 0) { if (c->elem_size) kchan__copy(c, out, kchan__slot(c, c->mx.head)); }
    else r = kchan__mx_closed(c) ? KCHAN_CLOSED : KCHAN_WOULDBLOCK;
    kchan__lock_release(&c->lock);
    return r;
}

/* Hand the n ring slots from `first` on to on_undelivered, oldest first. The caller owns
   them: the channel is being destroyed, or they were detached by cancel. */
KCHAN__PRIV void kchan__undeliver_slots(kchan_t *c, size_t first, size_t n)
{
    for (size_t k = 0; k < n; k++)
        kchan__undelivered(c, c->elem_size ? kchan__slot(c, (first + k) % c->mx.size) : NULL);
}

/* Close (and for cancel, detach the buffered elements in the same lock hold). Parked
   waiters get KCHAN_CLOSED: receivers park only on an empty channel, senders' elements
   stay theirs. */
KCHAN__PRIV int kchan__mx_close(kchan_t *c, int reason, bool discard)
{
    kchan__after a;
    kchan__after_init(&a, NULL);
    size_t first = 0, n = 0;
    kchan__lock_acquire(&c->lock);
    int r = kchan__set_closed(c, reason) ? KCHAN_OK : KCHAN_CLOSED;
    if (r == KCHAN_OK) kchan__release_all(c, KCHAN_CLOSED, &a);
    if (discard) {
        /* Closed, so no send can refill these slots and no receiver sees them (count is 0):
           they are ours to hand to on_undelivered after unlocking. */
        first = c->mx.head;
        n = c->mx.count;
        kchan__bump_locked(&c->m.undelivered, n);
        c->mx.head = c->mx.size && c->elem_size ? (c->mx.head + n) % c->mx.size : 0;
        kchan__set_len(c, 0);
    }
    kchan__lock_release(&c->lock);
    kchan__finish(&a);
    kchan__undeliver_slots(c, first, n);
    return r;
}

KCHAN__PRIV size_t kchan__mx_len(const kchan_t *c)
{
    /* [M2'] relaxed: as [M2]. */
    return kchan__atomic_load(&c->mx.len, memory_order_relaxed);
}

/* kchan_stats_get: the shared counters, then the engine's own. */
KCHAN__PRIV void kchan__mx_stats(const kchan_t *c, kchan_stats *out)
{
    /* [M2] relaxed, sends and recvs first, len and max_len last, as they always were read:
       a live snapshot's imbalance keeps its old direction. */
    out->sends = kchan__atomic_load(&c->mx.sends, memory_order_relaxed);
    out->recvs = kchan__atomic_load(&c->mx.recvs, memory_order_relaxed);   /* [M2] */
    kchan__metrics_read(c, out);
    /* [M2b] acquire: pairs with [M3a], so the max_len read after it is at least this len. */
    out->len = kchan__atomic_load(&c->mx.len, memory_order_acquire);
    out->max_len = kchan__read_max_len(c);
}

/* kchan__init's part for a mutex-engine channel: the ring (none yet for unlimited). */
KCHAN__PRIV int kchan__mx_setup(kchan_t *c, unsigned char *ring, size_t ring_size)
{
    c->mx.slots = c->kind == KCHAN__UNLIMITED ? NULL : ring;
    c->mx.size = ring_size;
    return KCHAN_OK;
}

/* kchan_destroy's part: what is still buffered goes to on_undelivered; the ring's memory. */
KCHAN__PRIV void kchan__mx_destroy(kchan_t *c)
{
    kchan__bump_locked(&c->m.undelivered, c->mx.count);
    kchan__undeliver_slots(c, c->mx.head, c->mx.count);
#ifndef KCHAN_NO_UNLIMITED
    if (c->kind == KCHAN__UNLIMITED && c->mx.slots) stbds_arrfree(c->mx.slots);
#endif
}

// >>lf_ring: the lock-free engine's ring: cells, positions, push and pop
#ifdef KCHAN_LOCKFREE
/* The lock-free engine (#define KCHAN_LOCKFREE): every buffered channel (bounded with any
   policy, conflated, unlimited) whose elements have at least one byte. Rendezvous channels
   and size-0 elements keep the mutex engine in the same build (crossbeam's zero flavor
   takes a lock too), and select mixes both freely.

   Algorithm: Dmitry Vyukov's bounded MPMC queue in the layout of crossbeam-channel's array
   flavor. A position is lap * one_lap + index, one_lap = 2 * mark, mark the power of two above
   the capacity. A cell's stamp is p while it is free for the producer at position p, p + 1
   once that producer's element is in it. A producer claims cells by moving `tail` with one
   CAS, copies its elements in and stores p + 1; a consumer moves `head` likewise, copies out
   and stores p + one_lap, freeing the cell for the next lap. A batch claims up to the end of
   the lap in the same single CAS. The mark bit of tail is the closed flag, so a send and a
   close are ordered by one word; the mark bit of head is a pin that cancel and destroy set
   for good and a list's peek holds briefly, to keep consumers off the oldest cell (a ring's
   peek copies without it and checks head afterwards, as a seqlock reader does).

      tail: [ lap | mark=closed | index ]        head: [ lap | mark=pinned | index ]
      cell: [ stamp | element ]   stamp == p: free for p;  p + 1: full;  p + one_lap: next lap

   Drop-oldest and conflated channels are this ring with one spare cell: a send to a full
   channel pushes into it, then evicts the oldest while over capacity (kchan__lf_trim), so
   a receiver never sees the channel empty mid-eviction. A conflated channel is the
   capacity-1 case: a one-cell ring whose stamp is the seqlock-style version of the value.
   Unlimited channels are crossbeam's list flavor: the same positions over a linked list of
   31-cell segments, each freed by the consumer of its last cell once its other cells are
   read (kchan__list_push / kchan__list_pop describe the protocol).

   Waiting: an op that finds a small ring full (empty) first snoozes on it a moment
   (kchan__lf_snooze). If it must still wait, it registers a waiter under the channel
   lock (the queues, wait contexts and parking of section waiters), which stores
   waiting_senders / waiting_receivers with seq_cst ([L11]); it looks at the ring again,
   then spins and yields on its own wake word before it sleeps. A successful push (pop)
   loads waiting_receivers (waiting_senders) with seq_cst ([L10]) after its seq_cst CAS
   ([L3]/[L7]); the registrant's re-check loads tail (head) with seq_cst ([L6]/[L9]). That
   is a Dekker pair: either the registrant sees the element or room, or the pusher sees the
   waiter and claims it, completing its op for it (the mutex engine's and Go's hand-over):
   the receiver that made room pushes a claimed sender's element, the sender that pushed
   pops the oldest element into a claimed receiver's buffer. Waiters are served in arrival
   order: if a newcomer took the room (element) first, the claim is given back and the
   waiter stays first in line (kchan__unclaim; a select's registration is told
   KCHAN__RETRY, "try again", instead). A registered op never does its own push or pop: a
   registrant that finds the ring ready serves the oldest waiter. A send that sees a
   receiver waiting on an empty channel skips the ring and copies straight into the
   receiver's buffer (kchan__lf_hand), as the mutex engine does; a receive from a full
   ring with a sender waiting refills the cell it empties with that sender's element
   before any newcomer can claim it (kchan__lf_swap).
   Only a waiting op, or an op that finds someone waiting, takes the lock.

   Progress: push and pop retry a failed CAS only because another op succeeded, but, as in
   every stamped ring, an op that meets a cell claimed by a preempted partner spins (then
   yields) until that partner stores the stamp. Waiting is blocking, like the mutex engine's.
   Unlimited sends never wait; a segment allocation is the only call that can fail, and it
   happens before the claim that needs it. Evictions take no lock (kchan__lf_evict), and
   kchan_stats_get tells them from receives without one (kchan__lf_stats).
   Counters: sends and recvs come from tail and head (recvs minus evictions) plus the
   direct hand-offs, which are counted in m.handoffs under the lock; drops_newest,
   drops_oldest and undelivered from their own rare paths, so the fast path writes no
   counter; max_len costs one load of head per push until it reaches the capacity (on an
   unlimited list it is sampled, see kchan__list_pop). A push takes effect at its CAS
   (the SEMANTICS note): kchan_len and kchan_stats_get count it from then, before its copy,
   and a pop that reaches the cell waits out the copy rather than say the ring is empty.
   Counting only published cells would cost a counter RMW per op or a scan of the cells. Positions
   wrap around size_t (32-bit: after 2^32 / one_lap laps, >= 2^30 cells; 64-bit: never in
   practice); every count taken between two positions (len, trimming, readiness, peek) is
   exact across that wrap (kchan__lf_between; tests/test_wrap.c starts rings just before
   it). Limits: capacity below SIZE_MAX / 16; 32-bit targets report sends and recvs
   modulo the cells of 2^32 / one_lap laps (at least 2^30 operations), and an unlimited
   list's positions wrap after 2^25 segments (a thread stalled across that many is needed
   for an ABA).
   Sources: D. Vyukov, "Bounded MPMC queue" (1024cores.net); crossbeam-channel's
   src/flavors/array.rs, list.rs and waker.rs; Go's runtime/chan.go for parked waiter
   queues. */

#ifdef KCHAN_TESTING                   /* kchan__test_between_ready_reads sets it */
static void (*kchan__test_between)(kchan_t *c);
#  define KCHAN__TEST_BETWEEN_READS(c) do { if (kchan__test_between) kchan__test_between(c); } while (0)
#else
#  define KCHAN__TEST_BETWEEN_READS(c) ((void)0)
#endif
#ifdef KCHAN_TESTING
void (*kchan__test_point)(const kchan_t *c, int point) = NULL;
#  define KCHAN__TEST_POINT(c, p) do { if (kchan__test_point) kchan__test_point((c), (p)); } while (0)
#else
#  define KCHAN__TEST_POINT(c, p) ((void)0)
#endif

#ifndef KCHAN__LF_SPIN_LIMIT
#  define KCHAN__LF_SPIN_LIMIT 6       /* backoff: spin 1, 2, 4 .. 64 pauses, then yield */
#endif
/* A registered op spins and yields on its own wake word, never on the ring: polling the
   ring's cells and head steals the partner's cache lines (measured on W7: 4 producers
   polling a full ring slowed its one consumer below the mutex engine). The yields let the
   partner run on an oversubscribed machine (W9) before we sleep. Only on a small ring does
   an op look at the ring before it registers (kchan__lf_snooze). */
#ifndef KCHAN__LF_SPINS
#  define KCHAN__LF_SPINS  32
#endif
#ifndef KCHAN__LF_YIELDS
#  define KCHAN__LF_YIELDS 100
#endif

/* Segment geometry of an unlimited channel's list (section lf_list): positions and init use it. */
#define KCHAN__SEG_CELLS 31u
#define KCHAN__SEG_MARK  32u
#define KCHAN__SEG_AHEAD 64u
#define KCHAN__SEG_LAP   128u
#define KCHAN__SEG_SHIFT 7
enum { KCHAN__CELL_WRITTEN = 1, KCHAN__CELL_READ = 2, KCHAN__CELL_FREE_ON_READ = 4 };
struct kchan__seg { KCHAN__ATOMIC(kchan__segp) next; };   /* the cells follow */
_Static_assert(KCHAN__SEG_CELLS + 1 <= KCHAN__SIZE_CELLS_UNLIMITED,
               "kchan: a segment and its header must fit kchan__plan's size rule");

KCHAN__PRIV bool kchan__lf_fits(unsigned char kind, size_t elem_size, size_t cap)
{
    if (elem_size == 0 || kind == KCHAN__RENDEZVOUS || kind >= KCHAN__AFTER) return false;
    return kind == KCHAN__UNLIMITED || cap < SIZE_MAX / 16;
}

/* Drop-oldest and conflated channels: a send to a full ring evicts the oldest element. */
KCHAN__PRIV bool kchan__lf_evicts(const kchan_t *c)
{
    return c->policy == KCHAN_DROP_OLDEST || c->kind == KCHAN__CONFLATED;
}

KCHAN__PRIV size_t kchan__lf_stride(size_t elem_size)
{
    size_t a = _Alignof(KCHAN__ATOMIC(size_t));
    return (sizeof(KCHAN__ATOMIC(size_t)) + elem_size + a - 1) / a * a;
}

/* Start head, tail and the stamps at `origin`, a multiple of one_lap: 0 at creation; a
   KCHAN_TESTING hook moves a new channel's start to just before the wrap of size_t. */
KCHAN__PRIV void kchan__lf_place(kchan_t *c, size_t origin)
{
    c->lf.origin = origin;
    /* [L0] relaxed: the channel is not shared yet; whoever receives the pointer gets these
       stores through the hand-over (a thread start, a channel, a lock). */
    for (size_t i = 0; c->lf.cells && i < c->lf.size; i++)   /* a list's cells are in its segments */
        kchan__atomic_store((KCHAN__ATOMIC(size_t) *)(void *)(c->lf.cells + i * c->lf.stride), origin + i,
                              memory_order_relaxed);
    kchan__atomic_store(&c->lf.tail, origin, memory_order_relaxed);   /* [L0] */
    kchan__atomic_store(&c->lf.head, origin, memory_order_relaxed);   /* [L0] */
}

KCHAN__PRIV void kchan__lf_init(kchan_t *c, unsigned char *cells)
{
    size_t mark = 1;
    if (c->kind == KCHAN__UNLIMITED) c->lf.size = KCHAN__SEG_CELLS;   /* a segment is a lap */
    while (mark <= c->lf.size) mark <<= 1;
    c->lf.cells = cells;
    c->lf.stride = kchan__lf_stride(c->elem_size);
    c->lf.mark = mark;
    c->lf.one_lap = c->kind == KCHAN__UNLIMITED ? KCHAN__SEG_LAP : mark << 1;
    c->lf.lap_shift = 0;
    while (((size_t)1 << c->lf.lap_shift) < c->lf.one_lap) c->lf.lap_shift++;
    kchan__lf_place(c, 0);
    /* [L0] relaxed: the channel is not shared yet; whoever receives the pointer gets these
       stores through the hand-over (a thread start, a channel, a lock). */
    kchan__atomic_store(&c->lf.discarded, 0, memory_order_relaxed);
    kchan__atomic_store(&c->lf.tail_seg, NULL, memory_order_relaxed);   /* [L0]; kchan_create */
    kchan__atomic_store(&c->lf.head_seg, NULL, memory_order_relaxed);   /* [L0]  links one */
    kchan__atomic_store(&c->lf.spare_seg, NULL, memory_order_relaxed);  /* [L0] */
}

KCHAN__PRIV KCHAN__ATOMIC(size_t) *kchan__lf_stamp(const kchan_t *c, size_t pos)
{
    return (KCHAN__ATOMIC(size_t) *)(void *)(c->lf.cells + (pos & (c->lf.mark - 1)) * c->lf.stride);
}

KCHAN__PRIV unsigned char *kchan__lf_data(const kchan_t *c, size_t pos)
{
    return c->lf.cells + (pos & (c->lf.mark - 1)) * c->lf.stride + sizeof(KCHAN__ATOMIC(size_t));
}

/* The position k cells after pos, where pos + k does not pass the end of pos's lap. */
KCHAN__PRIV size_t kchan__lf_advance(const kchan_t *c, size_t pos, size_t k)
{
    if ((pos & (c->lf.mark - 1)) + k < c->lf.size) return pos + k;
    return (pos & ~(c->lf.one_lap - 1)) + c->lf.one_lap;
}

/* How many cells lie from position `from` up to position `to` (mark, pin and `ahead` bits
   ignored), where `to` is not behind `from`: laps between them * cells per lap + index
   difference. The laps are subtracted before they are scaled, all in size_t, so the result
   holds when `to` has wrapped around size_t and `from` not yet (a 32-bit target gets there
   after 2^32 / one_lap laps); counting each position's cells from 0 and subtracting would
   not (lap 0's count is no multiple of the cells per lap after lap 2^W / one_lap - 1's). */
KCHAN__PRIV size_t kchan__lf_between(const kchan_t *c, size_t from, size_t to)
{
    size_t laps = ~(c->lf.one_lap - 1), index = c->lf.mark - 1;
    return (((to & laps) - (from & laps)) >> c->lf.lap_shift) * c->lf.size + (to & index) - (from & index);
}

KCHAN__PRIV void kchan__lf_backoff(unsigned *step)
{
    if (*step <= KCHAN__LF_SPIN_LIMIT)
        for (unsigned i = 0; i < 1u << *step; i++) kchan__cpu_relax();
    else
        kchan__yield();
    (*step)++;
}

/* What the counters are derived from: elements popped and pushed so far, and whether the
   ring was discarded (cancel/destroy: then the difference is what was handed back). Both
   are counted from where the ring started, pushes as pops + the cells from head to tail, so
   pushes - pops is exact across the wrap; pops itself wraps after 2^W / one_lap laps. */
static inline void kchan__lf_counts(const kchan_t *c, size_t *pops, size_t *pushes)
{
    /* [L18] acquire: head first, and acquire, so tail (read later) is never behind it: the
       push that claimed a cell happens before the pop of it ([L4]/[L5]), and that pop's
       [L7] release (or the [L17]/[U11] stores after it) before this load. Free on x86. */
    size_t head = kchan__atomic_load(&c->lf.head, memory_order_acquire);
    /* [L18'] relaxed: a gauge; [L18] already orders it after head. */
    size_t tail = kchan__atomic_load(&c->lf.tail, memory_order_relaxed);
    *pops = kchan__lf_between(c, c->lf.origin, head);
    *pushes = *pops + kchan__lf_between(c, head, tail);
}

KCHAN__PRIV bool kchan__lf_positions(const kchan_t *c, size_t *pops, size_t *pushes)
{
    /* [L20] acquire: pairs with [L15]; once set, head and tail are final. */
    bool gone = kchan__atomic_load(&c->lf.discarded, memory_order_acquire) != 0;
    kchan__lf_counts(c, pops, pushes);
    return gone;
}

/* len from the counts: claimed cells (a push whose claim has landed and whose copy has not
   counts), at most the capacity (an evicting ring's spare cell may be in use until
   kchan__lf_trim runs). */
KCHAN__PRIV size_t kchan__lf_in_use(const kchan_t *c, size_t pops, size_t pushes)
{
    size_t n = pushes - pops;
    return n < c->capacity ? n : c->capacity;
}

KCHAN__PRIV size_t kchan__lf_len(const kchan_t *c)
{
    size_t pops, pushes;
    if (kchan__lf_positions(c, &pops, &pushes)) return 0;   /* a discarded ring holds nothing */
    return kchan__lf_in_use(c, pops, pushes);
}

/* max_len: the high-water mark, kept by a ring's pushers until it reaches the capacity. */
KCHAN__PRIV void kchan__lf_raise_max(kchan_t *c, size_t len)
{
    /* [L12] relaxed: a monotonic gauge (the CAS only raises it); no data depends on it. */
    size_t max = kchan__atomic_load(&c->m.max_len, memory_order_relaxed);
    /* [L12'] relaxed both ways: as [L12]; a failed CAS reloads max and we retry only if
       our length is still higher. */
    while (len > max && !kchan__atomic_cas_weak(&c->m.max_len, &max, len,
                                                               memory_order_relaxed, memory_order_relaxed)) {}
}

/* Push up to n elements with one claim, never past the end of the lap. Returns how many were
   pushed; 0 with *st = KCHAN_WOULDBLOCK (full) or KCHAN_CLOSED. */
KCHAN__PRIV size_t kchan__lf_push(kchan_t *c, const void *elems, size_t n, int *st)
{
    const size_t mark = c->lf.mark;
    unsigned step = 0;
    /* [L1] relaxed: a first guess; the CAS [L3] checks it. */
    size_t tail = kchan__atomic_load(&c->lf.tail, memory_order_relaxed);
    for (;;) {
        if (tail & mark) { *st = KCHAN_CLOSED; return 0; }
        size_t room = c->lf.size - (tail & (mark - 1)), k = 0;
        if (room > n) room = n;
        /* [L2] acquire: pairs with [L8] release of the consumer that emptied the cell a lap
           ago, so its copy-out happens before our copy-in. */
        while (k < room && kchan__atomic_load(kchan__lf_stamp(c, tail + k), memory_order_acquire) == tail + k)
            k++;
        if (k > 0) {
            /* [L3] seq_cst on success: claims the k cells. seq_cst, not just relaxed, because
               it is the pusher's half of the Dekker pair with a registering receiver ([L11]
               then [L6]); the load [L10] that follows must not be ordered before it. Relaxed
               on failure: the value read is only the next guess. */
            if (kchan__atomic_cas_weak(&c->lf.tail, &tail, kchan__lf_advance(c, tail, k),
                                                      memory_order_seq_cst, memory_order_relaxed)) {
                KCHAN__TEST_POINT(c, KCHAN__TP_CLAIMED);   /* claimed, nothing copied yet */
                for (size_t j = 0; j < k; j++) {
                    kchan__move(kchan__lf_data(c, tail + j), kchan__nth(c, elems, j), c->elem_size);
                    /* [L4] release: publishes the element; pairs with [L5] acquire in pop. */
                    kchan__atomic_store(kchan__lf_stamp(c, tail + j), tail + j + 1, memory_order_release);
                }
                *st = KCHAN_OK;
                return k;
            }
            kchan__lf_backoff(&step);
            continue;
        }
        /* [L2'] acquire: as [L2]. Last lap's element still here means full, unless its
           consumer has claimed it and not yet freed the cell. */
        size_t stamp = kchan__atomic_load(kchan__lf_stamp(c, tail), memory_order_acquire);
        if (stamp + c->lf.one_lap == tail + 1) {
            /* [L9] seq_cst: the re-check half of the Dekker pair for a registering sender
               (its [L11] store, then this load), against a consumer's [L7] CAS and [L10]. */
            size_t head = kchan__atomic_load(&c->lf.head, memory_order_seq_cst) & ~mark;
            if (head + c->lf.one_lap == tail) { *st = KCHAN_WOULDBLOCK; return 0; }
        }
        kchan__lf_backoff(&step);
        tail = kchan__atomic_load(&c->lf.tail, memory_order_relaxed);   /* [L1] */
    }
}

/* Pop up to n elements with one claim into out[]. Returns how many; 0 with *st =
   KCHAN_WOULDBLOCK (empty) or KCHAN_CLOSED (closed and drained, or cancelled). */
KCHAN__PRIV size_t kchan__lf_pop(kchan_t *c, void *out, size_t n, int *st)
{
    const size_t mark = c->lf.mark;
    unsigned step = 0;
    /* [L1] relaxed: as for tail. */
    size_t head = kchan__atomic_load(&c->lf.head, memory_order_relaxed);
    for (;;) {
        if (head & mark) {                     /* pinned by peek, or for good by cancel */
            /* [L16] acquire: pairs with [L15]; a set flag means the ring was discarded. */
            if (kchan__atomic_load(&c->lf.discarded, memory_order_acquire)) { *st = KCHAN_CLOSED; return 0; }
            kchan__lf_backoff(&step);
            head = kchan__atomic_load(&c->lf.head, memory_order_relaxed);   /* [L1] */
            continue;
        }
        size_t avail = c->lf.size - (head & (mark - 1)), k = 0;
        if (avail > n) avail = n;
        /* [L5] acquire: pairs with [L4] release: the element is wholly there. */
        while (k < avail && kchan__atomic_load(kchan__lf_stamp(c, head + k), memory_order_acquire) == head + k + 1)
            k++;
        if (k > 0) {
            /* [L7] seq_cst on success: claims the k elements; the consumer's half of the
               Dekker pair with a registering sender ([L11] then [L9]), as [L3]. Its acquire
               part also pairs with [L17] release of an unpinning peek. Relaxed on failure. */
            if (kchan__atomic_cas_weak(&c->lf.head, &head, kchan__lf_advance(c, head, k),
                                                      memory_order_seq_cst, memory_order_relaxed)) {
                for (size_t j = 0; j < k; j++) {
                    kchan__move(kchan__nth(c, out, j), kchan__lf_data(c, head + j), c->elem_size);
                    /* [L8] release: our copy-out is done; pairs with [L2] of the next lap. */
                    kchan__atomic_store(kchan__lf_stamp(c, head + j), head + j + c->lf.one_lap,
                                          memory_order_release);
                }
                *st = KCHAN_OK;
                return k;
            }
            kchan__lf_backoff(&step);
            continue;
        }
        /* [L5'] acquire: as [L5]. Stamp == head: nothing pushed here yet this lap. */
        if (kchan__atomic_load(kchan__lf_stamp(c, head), memory_order_acquire) == head) {
            /* [L6] seq_cst: the re-check half of the Dekker pair for a registering receiver
               ([L11], then this load), against a producer's [L3] CAS and [L10]. Its acquire
               part pairs with close's [L13], so CLOSED implies the close reason is visible. */
            size_t tail = kchan__atomic_load(&c->lf.tail, memory_order_seq_cst);
            if ((tail & ~mark) == head) { *st = tail & mark ? KCHAN_CLOSED : KCHAN_WOULDBLOCK; return 0; }
        }
        kchan__lf_backoff(&step);              /* a push or pop in flight on this cell */
        head = kchan__atomic_load(&c->lf.head, memory_order_relaxed);   /* [L1] */
    }
}

/* One element, first attempt only: the uncontended case without the batch loop. Returns
   false if anything is unusual (closed, pinned, full, empty, a lost race); the general
   routine then starts over. Orders as in kchan__lf_push / kchan__lf_pop. */
static inline bool kchan__lf_push1(kchan_t *c, const void *elem)
{
    size_t tail = kchan__atomic_load(&c->lf.tail, memory_order_relaxed);       /* [L1] */
    KCHAN__ATOMIC(size_t) *stamp = kchan__lf_stamp(c, tail);
    if ((tail & c->lf.mark) || kchan__atomic_load(stamp, memory_order_acquire) != tail ||   /* [L2] */
        !kchan__atomic_cas_strong(&c->lf.tail, &tail, kchan__lf_advance(c, tail, 1),
                                                 memory_order_seq_cst, memory_order_relaxed))  /* [L3] */
        return false;
    KCHAN__TEST_POINT(c, KCHAN__TP_CLAIMED);
    kchan__move(kchan__lf_data(c, tail), elem, c->elem_size);
    kchan__atomic_store(stamp, tail + 1, memory_order_release);                   /* [L4] */
    return true;
}

static inline bool kchan__lf_pop1(kchan_t *c, void *out)
{
    size_t head = kchan__atomic_load(&c->lf.head, memory_order_relaxed);       /* [L1] */
    KCHAN__ATOMIC(size_t) *stamp = kchan__lf_stamp(c, head);
    if ((head & c->lf.mark) || kchan__atomic_load(stamp, memory_order_acquire) != head + 1 ||   /* [L5] */
        !kchan__atomic_cas_strong(&c->lf.head, &head, kchan__lf_advance(c, head, 1),
                                                 memory_order_seq_cst, memory_order_relaxed))  /* [L7] */
        return false;
    kchan__move(out, kchan__lf_data(c, head), c->elem_size);
    kchan__atomic_store(stamp, head + c->lf.one_lap, memory_order_release);       /* [L8] */
    return true;
}

/* Select's look at a lock-free case: could an op in this direction complete now, or meet
   CLOSED? Decided by head and tail alone, by equality (no count arithmetic): a receive
   waits only while tail == head (an unpinned head; tail's closed bit, or a list head's
   `ahead` bit, makes them differ), a send on a blocking bounded ring only while tail is
   exactly one lap ahead of head. A push in flight counts as ready: the try that follows
   waits for its copy. The two words read are added to *sum: with the pin bit cleared both
   only grow, so an unchanged sum over a second look proves that every word stood still
   between the two looks (kchan__select's double collect). */
KCHAN__PRIV bool kchan__lf_look(kchan_t *c, int op, size_t *sum)
{
    /* [L24] seq_cst, head first: tail, read after, is never behind this head. seq_cst puts
       all three loads in the single order of the [L3]/[L7] claims, and after a waiter's or
       a select's registration they are the re-check half of the Dekker pair, as [L6]/[L9]
       ([L11] then these). A second head equal to the first means no pop came between the
       reads, so head and tail describe one instant; a moved head answers "ready" (look
       again) rather than a stale "full". */
    size_t head = kchan__atomic_load(&c->lf.head, memory_order_seq_cst) & ~c->lf.mark;
    KCHAN__TEST_BETWEEN_READS(c);
    size_t tail = kchan__atomic_load(&c->lf.tail, memory_order_seq_cst);   /* [L24] */
    size_t again = kchan__atomic_load(&c->lf.head, memory_order_seq_cst) & ~c->lf.mark;   /* [L24] */
    *sum += again + tail;                      /* a moved head grows the sum too */
    if (again != head) return true;
    if (op == KCHAN_OP_RECV) return tail != head;
    if (c->policy != KCHAN_BLOCK || c->kind != KCHAN__BOUNDED) return true;
    return tail != head + c->lf.one_lap;
}

/* A single op's re-check after registering (kchan__lf_wait): the look above. */
KCHAN__PRIV bool kchan__lf_ready(kchan_t *c, int op)
{
    size_t unused = 0;
    return kchan__lf_look(c, op, &unused);
}
#endif /* KCHAN_LOCKFREE */

// >>lf_list: the lock-free engine's unlimited channels: a list of ring-like segments
#ifdef KCHAN_LOCKFREE
/* ---- unlimited channels: the list of segments ----
   Positions as on the ring, with a segment of KCHAN__SEG_CELLS cells as the lap:
      tail: [ segment | 0 | mark=closed | offset ]     head: [ segment | ahead | mark=pinned | offset ]
   offset 0..30 is a cell; 31 means "this segment is used up, its successor is being linked"
   and only the thread that claimed cell 30 moves the position on from there. That thread
   allocated the successor before its claim, so a failed allocation is KCHAN_NOMEM with
   nothing claimed. `ahead` says tail has left head's segment: every cell from head to the
   segment's end is claimed, so a consumer need not look at tail. That saves a cache miss
   per receive while consumers lag (W3 ran at half speed when a pusher read head instead),
   and it is why max_len is sampled here, not exact: consumers raise it to the length they
   read before a claim, the pusher that links a segment to the length then, and
   kchan_stats_get (which stores it) to the length now, so a peak is missed by at most 30
   elements, and only while consumers are a segment behind. A cell's state word gains
   WRITTEN when its element is in, READ when a consumer is done with it; the consumer of
   cell 30 frees the segment once cells 0..29 are READ, and a straggler it meets (no READ
   yet) gets FREE_ON_READ and finishes that job itself. */

KCHAN__PRIV KCHAN__ATOMIC(size_t) *kchan__seg_state(const kchan_t *c, struct kchan__seg *s, size_t off)
{
    return (KCHAN__ATOMIC(size_t) *)(void *)((unsigned char *)(s + 1) + off * c->lf.stride);
}

KCHAN__PRIV unsigned char *kchan__seg_data(const kchan_t *c, struct kchan__seg *s, size_t off)
{
    return (unsigned char *)(s + 1) + off * c->lf.stride + sizeof(KCHAN__ATOMIC(size_t));
}

/* A segment for the list's end: the drained one kept by kchan__seg_drop if there is one
   (W3, one producer and one consumer, spent 12-14% of its time in malloc's heap growth
   and trimming when every 31st push allocated and every 31st pop freed), else a new one. */
KCHAN__PRIV struct kchan__seg *kchan__seg_new(kchan_t *c)
{
    /* [U15] acquire: pairs with [U14]; the last readers' copy-outs, which the dropper
       acquired ([U8]/[U7']), happen before our stores to the cells. */
    struct kchan__seg *s = kchan__atomic_exchange(&c->lf.spare_seg, NULL, memory_order_acquire);
    if (!s && !(s = (struct kchan__seg *)KCHAN_MALLOC(sizeof *s + KCHAN__SEG_CELLS * c->lf.stride)))
        return NULL;
    /* [U0] relaxed: the segment is private until a release store ([U4]/[U5]) publishes it. */
    kchan__atomic_store(&s->next, NULL, memory_order_relaxed);
    for (size_t i = 0; i < KCHAN__SEG_CELLS; i++)
        kchan__atomic_store(kchan__seg_state(c, s, i), 0, memory_order_relaxed);   /* [U0] */
    return s;
}

/* A segment nobody uses any more (drained, or a pusher's unused spare): keep it for the
   next kchan__seg_new if the place is free, else free it. */
KCHAN__PRIV void kchan__seg_drop(kchan_t *c, struct kchan__seg *s)
{
    struct kchan__seg *none = NULL;
    /* [U14] release on success: our acquires of the readers' READ marks ([U8]/[U7']) come
       before, so their copy-outs happen before a reuser's writes ([U15]). Relaxed on
       failure: the place is taken and we free s instead. */
    if (!kchan__atomic_cas_strong(&c->lf.spare_seg, &none, s, memory_order_release, memory_order_relaxed))
        KCHAN_FREE(s);
}

/* Wait until the cell's element is in (its producer may be between claim and copy). */
KCHAN__PRIV void kchan__seg_wait_written(const kchan_t *c, struct kchan__seg *s, size_t off)
{
    unsigned step = 0;
    /* [U6] acquire: pairs with [U3] release of the producer; the element is wholly there. */
    while (!(kchan__atomic_load(kchan__seg_state(c, s, off), memory_order_acquire) & KCHAN__CELL_WRITTEN))
        kchan__lf_backoff(&step);
}

/* The consumer of cell 30 (start 0), or a straggler told FREE_ON_READ (start = its cell
   + 1): free the segment unless a cell from `start` on is still being read. */
KCHAN__PRIV void kchan__seg_release(kchan_t *c, struct kchan__seg *s, size_t start)
{
    for (size_t i = start; i < KCHAN__SEG_CELLS - 1; i++) {
        KCHAN__ATOMIC(size_t) *st = kchan__seg_state(c, s, i);
        /* [U8] acquire (load and RMW): pairs with [U7] release, so that reader's copy-out
           happens before our free. acq_rel on the RMW: if it finds no READ, its release
           half hands the segment to that reader, whose [U7] RMW reads FREE_ON_READ. */
        if (!(kchan__atomic_load(st, memory_order_acquire) & KCHAN__CELL_READ) &&
            !(kchan__atomic_fetch_or(st, KCHAN__CELL_FREE_ON_READ, memory_order_acq_rel) & KCHAN__CELL_READ))
            return;                            /* that reader frees it when done */
    }
    kchan__seg_drop(c, s);
}

/* Push up to n elements with one claim, never past the segment's last cell. Returns how
   many; 0 with *st = KCHAN_CLOSED or KCHAN_NOMEM (the next segment could not be allocated). */
KCHAN__PRIV size_t kchan__list_push(kchan_t *c, const void *elems, size_t n, int *st)
{
    struct kchan__seg *spare = NULL;
    unsigned step = 0;
    for (;;) {
        /* [U1] acquire: pairs with [U4]'s release fetch_add that moved tail into this
           segment, so the tail_seg stored before it is seen (or a later one, and then the
           CAS below fails). */
        size_t tail = kchan__atomic_load(&c->lf.tail, memory_order_acquire);
        struct kchan__seg *seg = kchan__atomic_load(&c->lf.tail_seg, memory_order_acquire);   /* [U1] */
        if (tail & KCHAN__SEG_MARK) { *st = KCHAN_CLOSED; break; }
        size_t off = tail & (KCHAN__SEG_MARK - 1), k = KCHAN__SEG_CELLS - off;
        if (off == KCHAN__SEG_CELLS) { kchan__lf_backoff(&step); continue; }   /* being linked */
        if (k > n) k = n;
        if (off + k == KCHAN__SEG_CELLS && !spare && !(spare = kchan__seg_new(c))) {
            if (k == 1) { *st = KCHAN_NOMEM; return 0; }
            k--;                               /* no memory: fill all but the last cell */
        }
        /* [U2] seq_cst on success: claims k cells; the pusher's half of the Dekker pair with
           a registering receiver, as [L3]. Relaxed on failure: we start over. */
        if (!kchan__atomic_cas_weak(&c->lf.tail, &tail, tail + k,
                                                   memory_order_seq_cst, memory_order_relaxed)) {
            kchan__lf_backoff(&step);
            continue;
        }
        if (off + k == KCHAN__SEG_CELLS) {
            /* [U4] release: publishes the new segment (its [U0] stores) to producers, with
               tail_seg stored first; the fetch_add steps over offset 31 into it and keeps a
               closed bit a close may have set meanwhile. Pairs with [U1]. */
            kchan__atomic_store(&c->lf.tail_seg, spare, memory_order_release);
            kchan__atomic_fetch_add(&c->lf.tail, KCHAN__SEG_LAP - KCHAN__SEG_CELLS, memory_order_release);
            /* [U5] release: publishes the segment to the consumer of cell 30 ([U9]). */
            kchan__atomic_store(&seg->next, spare, memory_order_release);
            spare = NULL;
            kchan__lf_raise_max(c, kchan__lf_len(c));   /* max_len, sampled once a segment */
        }
        KCHAN__TEST_POINT(c, KCHAN__TP_CLAIMED);   /* claimed, nothing copied yet */
        for (size_t j = 0; j < k; j++) {
            kchan__move(kchan__seg_data(c, seg, off + j), kchan__nth(c, elems, j), c->elem_size);
            /* [U3] release: publishes the element; pairs with [U6]. An RMW, not a store: a
               segment release may have set FREE_ON_READ already. */
            kchan__atomic_fetch_or(kchan__seg_state(c, seg, off + j), KCHAN__CELL_WRITTEN, memory_order_release);
        }
        *st = KCHAN_OK;
        if (spare) kchan__seg_drop(c, spare);
        return k;
    }
    if (spare) kchan__seg_drop(c, spare);
    return 0;
}

/* Pop up to n elements with one claim into out[], never
   past the segment's last cell. Returns how many; 0 with *st = KCHAN_WOULDBLOCK or
   KCHAN_CLOSED (closed and drained, or cancelled). */
KCHAN__PRIV size_t kchan__list_pop(kchan_t *c, void *out, size_t n, int *st)
{
    unsigned step = 0;
    for (;;) {
        /* [U10] acquire: pairs with [U11] release of the consumer that moved head into
           this segment, so the head_seg stored before it is seen (or a later one, and then
           the CAS below fails). */
        size_t head = kchan__atomic_load(&c->lf.head, memory_order_acquire);
        struct kchan__seg *seg = kchan__atomic_load(&c->lf.head_seg, memory_order_acquire);   /* [U10] */
        size_t off = head & (KCHAN__SEG_MARK - 1), k = KCHAN__SEG_CELLS - off, ahead = head & KCHAN__SEG_AHEAD;
        if (head & KCHAN__SEG_MARK) {          /* pinned by peek, or for good by cancel */
            /* [L16] acquire: as in kchan__lf_pop. */
            if (kchan__atomic_load(&c->lf.discarded, memory_order_acquire)) { *st = KCHAN_CLOSED; return 0; }
            kchan__lf_backoff(&step);
            continue;
        }
        if (off == KCHAN__SEG_CELLS) { kchan__lf_backoff(&step); continue; }   /* being linked */
        if (!ahead) {
            /* [L6] seq_cst: the re-check half of the Dekker pair for a registering receiver,
               and the close point's acquire, as in kchan__lf_pop. */
            size_t tail = kchan__atomic_load(&c->lf.tail, memory_order_seq_cst);
            size_t avail = kchan__lf_between(c, head, tail);
            if (avail == 0) { *st = tail & KCHAN__SEG_MARK ? KCHAN_CLOSED : KCHAN_WOULDBLOCK; return 0; }
            kchan__lf_raise_max(c, avail);     /* max_len, sampled: the length before our claim */
            if ((tail >> KCHAN__SEG_SHIFT) != (head >> KCHAN__SEG_SHIFT)) ahead = KCHAN__SEG_AHEAD;
            else if (k > avail) k = avail;
        }
        if (k > n) k = n;
        /* [U12] seq_cst on success: claims k cells; the consumer's half of the Dekker pair
           with a registering sender, as [L7], and its acquire part pairs with [L17] of an
           unpinning peek. Relaxed on failure: we start over. */
        if (!kchan__atomic_cas_weak(&c->lf.head, &head, (head + k) | ahead,
                                                   memory_order_seq_cst, memory_order_relaxed)) {
            kchan__lf_backoff(&step);
            continue;
        }
        bool last = off + k == KCHAN__SEG_CELLS;
        if (last) {
            struct kchan__seg *next;
            unsigned wait = 0;
            /* [U9] acquire: pairs with [U5]; the successor's [U0] stores are seen. */
            while ((next = kchan__atomic_load(&seg->next, memory_order_acquire)) == NULL) kchan__lf_backoff(&wait);
            size_t nh = ((head >> KCHAN__SEG_SHIFT) + 1) << KCHAN__SEG_SHIFT;
            /* [U9'] relaxed: a hint; a successor's successor means tail has left `next`. */
            if (kchan__atomic_load(&next->next, memory_order_relaxed)) nh |= KCHAN__SEG_AHEAD;
            /* [U11] release: publishes head_seg (stored first) with the position; pairs with
               [U10]. A plain store: at offset 31 nobody else writes head. */
            kchan__atomic_store(&c->lf.head_seg, next, memory_order_release);
            kchan__atomic_store(&c->lf.head, nh, memory_order_release);
        }
        for (size_t j = 0; j < k; j++) {
            kchan__seg_wait_written(c, seg, off + j);
            kchan__move(kchan__nth(c, out, j), kchan__seg_data(c, seg, off + j), c->elem_size);
        }
        /* Done with the cells: mark them READ, our first cell last, since a segment release
           stops at the first unread cell it meets, which can only be that one. */
        size_t j = last ? k - 1 : k;           /* cell 30 is never marked: its reader releases */
        while (j-- > 1)
            /* [U7] release: our copy-out happens before the free ([U8]). */
            kchan__atomic_fetch_or(kchan__seg_state(c, seg, off + j), KCHAN__CELL_READ, memory_order_release);
        if (last) {
            if (k > 1) kchan__atomic_fetch_or(kchan__seg_state(c, seg, off), KCHAN__CELL_READ, memory_order_release);   /* [U7] */
            kchan__seg_release(c, seg, 0);
        } else if (kchan__atomic_fetch_or(kchan__seg_state(c, seg, off), KCHAN__CELL_READ, memory_order_acq_rel) &
                   KCHAN__CELL_FREE_ON_READ) {
            /* [U7'] acq_rel: release as [U7]; acquire pairs with [U8]'s release half, so the
               releaser's reads of the cells before ours are done before we go on and free. */
            kchan__seg_release(c, seg, off + 1);
        }
        *st = KCHAN_OK;
        return k;
    }
}

/* Cancel and destroy (after pinning head for good): hand every element from head to tail
   to on_undelivered; the segments stay until kchan_destroy frees them. */
KCHAN__PRIV void kchan__list_discard(kchan_t *c, size_t head, size_t tail)
{
    /* [U10'] acquire: as [U10]; head is pinned, so head_seg is its segment. */
    struct kchan__seg *seg = kchan__atomic_load(&c->lf.head_seg, memory_order_acquire);
    for (size_t p = head & ~(size_t)KCHAN__SEG_AHEAD; kchan__lf_between(c, p, tail) != 0;) {
        size_t off = p & (KCHAN__SEG_MARK - 1);
        if (off == KCHAN__SEG_CELLS) {
            unsigned wait = 0;
            while ((seg = kchan__atomic_load(&seg->next, memory_order_acquire)) == NULL) kchan__lf_backoff(&wait);  /* [U9] */
            p = ((p >> KCHAN__SEG_SHIFT) + 1) << KCHAN__SEG_SHIFT;
            continue;
        }
        kchan__seg_wait_written(c, seg, off);
        kchan__undelivered(c, kchan__seg_data(c, seg, off));
        p++;
    }
}

/* kchan_destroy: free the segments from head's on (consumers freed the ones before). */
KCHAN__PRIV void kchan__list_free(kchan_t *c)
{
    /* [U13] relaxed: nobody else holds the channel any more. */
    struct kchan__seg *s = kchan__atomic_load(&c->lf.head_seg, memory_order_relaxed);
    while (s) {
        struct kchan__seg *next = kchan__atomic_load(&s->next, memory_order_relaxed);   /* [U13] */
        KCHAN_FREE(s);
        s = next;
    }
    KCHAN_FREE(kchan__atomic_load(&c->lf.spare_seg, memory_order_relaxed));   /* [U13] */
}

/* Either structure: the ring's or the list's push and pop. */
KCHAN__PRIV size_t kchan__lf_put(kchan_t *c, const void *elems, size_t n, int *st)
{
    return c->kind == KCHAN__UNLIMITED ? kchan__list_push(c, elems, n, st) : kchan__lf_push(c, elems, n, st);
}

KCHAN__PRIV size_t kchan__lf_take(kchan_t *c, void *out, size_t n, int *st)
{
    return c->kind == KCHAN__UNLIMITED ? kchan__list_pop(c, out, n, st) : kchan__lf_pop(c, out, n, st);
}
#endif /* KCHAN_LOCKFREE */

// >>lf_evict: the lock-free engine's drop-newest and drop-oldest without the lock
#ifdef KCHAN_LOCKFREE
KCHAN__PRIV void kchan__lf_drop_newest(kchan_t *c, const void *elem)
{
    kchan__bump_unlocked(&c->m.drops_newest, 1);
    kchan__undelivered(c, (void *)(uintptr_t)elem);
}

/* Drop-oldest and conflated rings have one cell more than their capacity. A send pushes as
   on any ring, into the spare cell if the channel is full, then trims: while more than
   `capacity` elements are in, it evicts the oldest. An eviction claims head only if the
   count is over for that very head, so a receiver that took the oldest meanwhile makes it
   unnecessary; a receiver that comes during the overlap takes the oldest, as it would have
   just before the send. Evictions take no lock: concurrent ones are ordered by their CAS on
   head like any pops, and kchan_stats_get tells them from receives by the announcement
   [E1] (see kchan__lf_stats), so nothing here waits for a thread that holds anything but a
   cell: a peek of a ring never pins head (kchan__lf_peek_ring), and a pin that is seen is
   cancel's or destroy's, for good. Its callback runs after the eviction, on no lock. */
KCHAN__PRIV bool kchan__lf_evict(kchan_t *c, void *out)
{
    const size_t mark = c->lf.mark;
    unsigned step = 0;
    /* [E1] relaxed RMW: announces this eviction before its claim. The claim ([L7], seq_cst,
       so a release) publishes it: a stats reader whose [E2] acquire load of head reads the
       claim, or any later head (every write to a ring's head is an RMW, so that is in the
       claim's release sequence), sees the announcement. Withdrawn ([E1']) if we give up. */
    kchan__atomic_fetch_add(&c->lf.evictions, 1, memory_order_relaxed);
    size_t head = kchan__atomic_load(&c->lf.head, memory_order_relaxed);   /* [L1] */
    for (;;) {
        if (head & mark) break;                /* pinned for good: the discard hands all back */
        /* [L21] relaxed: tail only grows, so "over capacity" read here still holds at a CAS
           that finds head unchanged; the element itself is ordered by [L5]. */
        size_t tail = kchan__atomic_load(&c->lf.tail, memory_order_relaxed) & ~mark;
        if (kchan__lf_between(c, head, tail) <= c->capacity) break;
        /* [L5] acquire: as in kchan__lf_pop; a producer may still be copying the oldest in
           (the stamped ring's one wait, as in pop; we hold no lock while we back off). */
        if (kchan__atomic_load(kchan__lf_stamp(c, head), memory_order_acquire) != head + 1) {
            kchan__lf_backoff(&step);
            head = kchan__atomic_load(&c->lf.head, memory_order_relaxed);   /* [L1] */
            continue;
        }
        /* [L7] seq_cst on success, relaxed on failure: as in kchan__lf_pop. */
        if (kchan__atomic_cas_weak(&c->lf.head, &head, kchan__lf_advance(c, head, 1),
                                                  memory_order_seq_cst, memory_order_relaxed)) {
            KCHAN__TEST_POINT(c, KCHAN__TP_EVICT);
            if (out) kchan__move(out, kchan__lf_data(c, head), c->elem_size);
            /* [L8] release: as in kchan__lf_pop. */
            kchan__atomic_store(kchan__lf_stamp(c, head), head + c->lf.one_lap, memory_order_release);
            kchan__bump_unlocked(&c->m.drops_oldest, 1);
            return true;
        }
        kchan__lf_backoff(&step);
    }
    /* [E1'] relaxed RMW: withdraws [E1]; a reader that saw it counted one receive too few
       meanwhile, never one too many, which is the direction [E3] can absorb. */
    kchan__atomic_fetch_sub(&c->lf.evictions, 1, memory_order_relaxed);
    return false;
}

/* Never inlined: only evicting rings come here, and its kchan__room stays off every other
   op's stack. */
KCHAN__NOINLINE void kchan__lf_trim(kchan_t *c)
{
    for (;;) {
        size_t pops, pushes;
        (void)kchan__lf_positions(c, &pops, &pushes);
        if (pushes - pops <= c->capacity) return;
        kchan__after a;
        kchan__room room;
        bool keep = c->on_undelivered != NULL;
        kchan__after_init(&a, room.bytes);
        if (!kchan__lf_evict(c, keep ? a.evicted : NULL)) return;
        if (keep) { a.cb_chan = c; a.cb_elem = a.evicted; }
        kchan__finish(&a);
    }
}
#endif /* KCHAN_LOCKFREE */

// >>engine_lockfree: waiting, hand-over and the engine's entry points
#ifdef KCHAN_LOCKFREE
static inline void kchan__lf_track_len(kchan_t *c)
{
    if (c->kind == KCHAN__UNLIMITED) return;   /* sampled instead: see kchan__list_pop */
    /* [L12] relaxed: as in kchan__lf_raise_max. */
    if (kchan__atomic_load(&c->m.max_len, memory_order_relaxed) >= c->capacity) return;
    /* Unlike kchan__lf_len, no look at the discarded flag on every push: a cancelled
       ring's frozen positions count what it held when it was cancelled, a length it had. */
    size_t pops, pushes;
    kchan__lf_counts(c, &pops, &pushes);
    kchan__lf_raise_max(c, kchan__lf_in_use(c, pops, pushes));
}

/* After a push (pop) of n elements: if anyone waits on the other side, claim up to n
   waiters and complete their ops for them (Go's and the mutex engine's hand-over, so they
   wake with the op done): a sender's element is pushed, a receiver gets the oldest element.
   Waiters are served oldest first. If a newcomer took the room (element) first, the waiter
   keeps its place at the head of the queue, still waiting and still counted in
   waiting_senders (waiting_receivers), so the op that next makes room serves it; a
   select's registration is told KCHAN__RETRY instead (it goes round), as is every waiter
   when the channel closed. */
KCHAN__PRIV void kchan__lf_notify_slow(kchan_t *c, kchan__queue *q, size_t n)
{
    kchan__after a;
    kchan__waiter *w;
    int st;
    kchan__after_init(&a, NULL);
    for (;;) {
        bool senders = q == &c->sendq;
        size_t moved = 0;
        kchan__lock_acquire(&c->lock);
        /* The hand-over's push or pop stays under the lock, so claimed waiters are served in
           the order they were claimed (a hand-over done after the unlock could be overtaken
           by a later claimer's). It can wait there only for a partner between its claim and
           its stamp store, or for a list's pinned head (a peek of an unlimited channel):
           those take no lock, so it cannot deadlock, and their backoff reaches kchan__yield
           (KCHAN_CUSTOM_YIELD() on a custom port) so a preempted partner gets to run. A
           ring's peek no longer pins, and evictions no longer lock. */
        while (n-- > 0 && (w = kchan__claim_head(c, q, KCHAN__RETRY)) != NULL) {
            /* Hand-over: a sender's element goes into the room we made; a receiver gets
               the oldest element. ctx->status is ours since the claim; [W3] publishes it. */
            if ((senders ? kchan__lf_put(c, w->elem, 1, &st) : kchan__lf_take(c, w->elem, 1, &st)) == 1) {
                w->ctx->status = KCHAN_OK;
                moved++;
            } else if (st == KCHAN_WOULDBLOCK && w->sole) {
                kchan__unclaim(w);         /* first in line still; the rest would fail too */
                break;
            }
            kchan__unlink(c, q, w);
            kchan__defer_release(&a, w);
        }
        kchan__lock_release(&c->lock);
        kchan__finish(&a);
        if (moved == 0) return;
        if (senders) kchan__lf_track_len(c);
        /* Our hand-overs pushed (popped) too: serve the other side likewise, in a loop
           rather than by recursion. */
        q = senders ? &c->recvq : &c->sendq;
        n = moved;
        KCHAN__ATOMIC(uint32_t) *waiting = senders ? &c->m.waiting_receivers : &c->m.waiting_senders;
        /* [L10'] seq_cst: as [L10], after the hand-over's [L3]/[L7] CAS. */
        if (kchan__atomic_load(waiting, memory_order_seq_cst) == 0) return;
    }
}

static inline void kchan__lf_notify(kchan_t *c, kchan__queue *q, size_t n)
{
    KCHAN__ATOMIC(uint32_t) *waiting = q == &c->sendq ? &c->m.waiting_senders : &c->m.waiting_receivers;
    /* [L10] seq_cst: sequenced after our [L3]/[L7] CAS; with it, the other half of the Dekker
       pair against [L11] + [L6]/[L9]. Usually reads 0 and the op is done without the lock. */
    if (kchan__atomic_load(waiting, memory_order_seq_cst) != 0) kchan__lf_notify_slow(c, q, n);
}

/* After a push of n: trim an evicting ring, keep max_len, complete waiting receivers. */
static inline void kchan__lf_pushed(kchan_t *c, size_t n)
{
    KCHAN__TEST_POINT(c, KCHAN__TP_PUSHED);
    if (kchan__lf_evicts(c)) kchan__lf_trim(c);
    kchan__lf_track_len(c);
    kchan__lf_notify(c, &c->recvq, n);
}

/* A send to an evicting ring whose spare cell is taken too: its sender has yet to trim.
   Trim for it (that makes room) and push again. */
KCHAN__PRIV int kchan__lf_evict_send(kchan_t *c, const void *elem)
{
    int st;
    for (;;) {
        if (kchan__lf_push(c, elem, 1, &st) == 1) {
            kchan__lf_pushed(c, 1);
            return KCHAN_OK;
        }
        if (st != KCHAN_WOULDBLOCK) return st;   /* KCHAN_CLOSED */
        kchan__lf_trim(c);
    }
}

/* A send that finds a receiver waiting on an empty channel hands its element straight into
   that receiver's buffer, as the mutex engine and Go's sendDirect do, and neither touches
   the cells: in a ping-pong the ring's cache lines then stay clean and shared on both cores
   instead of moving twice per message (W6). It linearizes at the instant head == tail was
   read: the receiver was waiting then and no element was older than ours. Not taken (false)
   if the channel is not empty, closed or pinned, or nobody can be claimed after all. */
KCHAN__PRIV bool kchan__lf_hand(kchan_t *c, const void *elem)
{
    kchan__after a;
    kchan__waiter *w = NULL;
    kchan__after_init(&a, NULL);
    kchan__lock_acquire(&c->lock);
    /* [L22] seq_cst: head first, then tail. Head never passes tail, so a tail equal to the
       head read before it was equal at that read: empty, not closed (its mark bit), not
       pinned, and on a list not `ahead`. seq_cst puts both reads in the order [L3]/[L7]
       CASes take, so that instant is one every op agrees on. */
    size_t head = kchan__atomic_load(&c->lf.head, memory_order_seq_cst);
    if (kchan__atomic_load(&c->lf.tail, memory_order_seq_cst) == head &&
        (w = kchan__take_partner(c, &c->recvq, KCHAN_OK)) != NULL) {
        kchan__copy(c, w->elem, elem);
        /* m.handoffs counts these hand-offs; kchan__lf_stats adds them
           to both sends and recvs. [L19] relaxed RMW, published to the receiver by [W3]. */
        kchan__bump_unlocked(&c->m.handoffs, 1);
        kchan__defer_release(&a, w);
    }
    kchan__lock_release(&c->lock);
    kchan__finish(&a);
    return w != NULL;
}

/* A receive from a full ring with a sender waiting takes the oldest element and puts the
   oldest sender's element into the cell it just emptied, in one step no newcomer can get
   between (Go's recv from a full buffer): it moves tail past that cell before the cell is
   ever stamped free, so a try_send meanwhile finds the ring full. Without it a newcomer
   could take the room before the hand-over's push, and a parked sender could be overtaken
   again and again (tests/test_order.c measures it). Not taken (false) if the ring is not
   full at that instant, or is closed or pinned: the caller pops and notifies as usual. */
KCHAN__PRIV bool kchan__lf_swap(kchan_t *c, void *out)
{
    kchan__after a;
    kchan__waiter *w = NULL;
    kchan__after_init(&a, NULL);
    kchan__lock_acquire(&c->lock);
    size_t head;
    KCHAN__ATOMIC(size_t) *stamp;
    for (;;) {
        /* [L26] seq_cst: as a pop's [L1] + [L5] and a push's [L6], so that the full ring we
           act on is one every op agrees on; pairs with [L4] release (the element is there). */
        head = kchan__atomic_load(&c->lf.head, memory_order_seq_cst);
        stamp = kchan__lf_stamp(c, head);
        /* [L26] */
        if ((head & c->lf.mark) || kchan__atomic_load(stamp, memory_order_seq_cst) != head + 1 ||
            kchan__atomic_load(&c->lf.tail, memory_order_seq_cst) != head + c->lf.one_lap) {   /* [L26] */
            kchan__lock_release(&c->lock);     /* not full (or closed, pinned): pop as usual */
            return false;
        }
        /* [L7] seq_cst on success, as in kchan__lf_pop; relaxed on failure (read again). */
        if (kchan__atomic_cas_strong(&c->lf.head, &head, kchan__lf_advance(c, head, 1),
                                                    memory_order_seq_cst, memory_order_relaxed))
            break;                             /* else another receiver took it: look again */
    }
    KCHAN__TEST_POINT(c, KCHAN__TP_SWAP);      /* head moved, tail not yet: looks empty */
    kchan__move(out, kchan__lf_data(c, head), c->elem_size);
    /* The element is ours. Claim the oldest sender (stale registrations are dropped) and
       move tail over the cell for it: only a close could move tail now, and close takes
       the lock we hold, so the CAS lands; checked all the same. */
    size_t tail = head + c->lf.one_lap;        /* the same cell, next lap: still stamped full */
    bool swapped = false;
    if ((w = kchan__take_partner(c, &c->sendq, KCHAN_OK)) != NULL &&
        /* [L3] seq_cst on success, as in kchan__lf_push; relaxed on failure. */
        kchan__atomic_cas_strong(&c->lf.tail, &tail, kchan__lf_advance(c, tail, 1),
                                                memory_order_seq_cst, memory_order_relaxed)) {
        kchan__move(kchan__lf_data(c, head), w->elem, c->elem_size);
        /* [L4] release: the sender's element is wholly there, for the pop of the next lap. */
        kchan__atomic_store(stamp, head + c->lf.one_lap + 1, memory_order_release);
        kchan__defer_release(&a, w);
        swapped = true;
    } else {
        /* [L8] release: nobody to serve after all (or closed): free the cell as a pop does. */
        kchan__atomic_store(stamp, head + c->lf.one_lap, memory_order_release);
        if (w) {
            w->ctx->status = KCHAN__RETRY;     /* it retries and finds the channel closed */
            kchan__defer_release(&a, w);
        }
    }
    kchan__lock_release(&c->lock);
    kchan__finish(&a);
    if (swapped)
        kchan__lf_notify(c, &c->recvq, 1);     /* as after any push: [L10] after our [L3] */
    else
        kchan__lf_notify(c, &c->sendq, 1);     /* a plain pop after all: as after any pop */
    return true;
}

/* Hints that kchan__lf_hand (kchan__lf_swap) may find a parked receiver (sender) to serve
   first. [L23] relaxed: one missed here is found by [L10] after the push (pop), as always. */
static inline bool kchan__lf_receivers_parked(const kchan_t *c)
{
    return kchan__atomic_load(&c->m.waiting_receivers, memory_order_relaxed) != 0;   /* [L23] */
}
static inline bool kchan__lf_senders_parked(const kchan_t *c)
{
    /* [L23] (kchan__lf_swap is for rings: a list is never full) */
    return c->kind != KCHAN__UNLIMITED && kchan__atomic_load(&c->m.waiting_senders, memory_order_relaxed) != 0;
}

/* send / recv without waiting: the engine's try operations. */
KCHAN__PRIV int kchan__lf_try(kchan_t *c, int dir, void *elem)
{
    int st;
    bool list = c->kind == KCHAN__UNLIMITED;
    if (dir == KCHAN_OP_SEND) {
        if (kchan__lf_receivers_parked(c) && kchan__lf_hand(c, elem)) return KCHAN_OK;
        if ((!list && kchan__lf_push1(c, elem)) || kchan__lf_put(c, elem, 1, &st)) {
            kchan__lf_pushed(c, 1);
            st = KCHAN_OK;
        } else if (st == KCHAN_WOULDBLOCK && c->policy == KCHAN_DROP_NEWEST) {
            kchan__lf_drop_newest(c, elem);
            st = KCHAN_OK;
        } else if (st == KCHAN_WOULDBLOCK && kchan__lf_evicts(c)) {
            st = kchan__lf_evict_send(c, elem);
        }
        return st;
    }
    if (kchan__lf_senders_parked(c) && kchan__lf_swap(c, elem)) return KCHAN_OK;
    if ((!list && kchan__lf_pop1(c, elem)) || kchan__lf_take(c, elem, 1, &st)) {
        kchan__lf_notify(c, &c->sendq, 1);
        return KCHAN_OK;
    }
    return st;
}

/* Register on the channel, look again, park. Returns the claimer's verdict: KCHAN_OK (a
   partner completed our op for us) or KCHAN__RETRY (the channel closed); else
   KCHAN_TIMEDOUT, or the result of the last try when a verdict came just as time ran out.
   A registered op never pushes or pops for itself: it would overtake older waiters, and a
   partner may be doing it for us already. */
KCHAN__PRIV int kchan__lf_wait(kchan_t *c, int dir, void *elem, int64_t deadline)
{
    kchan__queue *q = dir == KCHAN_OP_SEND ? &c->sendq : &c->recvq;
    kchan__ctx ctx;
    kchan__waiter w;
    KCHAN__TEST_POINT(c, KCHAN__TP_WAIT_ENTER);
    kchan__lock_acquire(&c->lock);
    kchan__enqueue_sole(c, q, &w, &ctx, elem);   /* [L11] publishes the waiter */
    kchan__lock_release(&c->lock);
    KCHAN__TEST_POINT(c, KCHAN__TP_WAIT_REGISTERED);
    /* Look again ([L6]/[L9]): room (an element) that came before we were published was
       missed by its maker's [L10], so hand it out here as that op would have: to the oldest
       waiter, perhaps us. A hand-over that fails (a newcomer in between, or a partner's
       copy still in flight) gives the claim back: look again. */
    for (unsigned step = 0; kchan__lf_ready(c, dir); kchan__lf_backoff(&step)) {
        /* Past the deadline, stop serving others: whoever made the room sees every waiter
           registered before it ([L10]), so we only give up serving ourselves. */
        if (deadline >= 0 && kchan__clock_ns() >= deadline) break;
        /* Still linked, seen under the lock, means still waiting: a claim ends (unlinked,
           or given back) before the claimer unlocks. The state word would not do: a claim
           seen in flight may yet be given back, and that room would be nobody's. */
        kchan__lock_acquire(&c->lock);
        bool waiting = w.linked;
        kchan__lock_release(&c->lock);
        if (!waiting) break;
        kchan__lf_notify_slow(c, q, 1);
    }
    KCHAN__TEST_POINT(c, KCHAN__TP_WAIT_PARK);
    if (kchan__park_after(&ctx, deadline, KCHAN__LF_SPINS, KCHAN__LF_YIELDS) == KCHAN_TIMEDOUT) {
        /* Under the lock: a claimer holds it from claim to verdict, so a claim that is
           still there is final, and one given back (kchan__unclaim) lets us withdraw. */
        kchan__lock_acquire(&c->lock);
        bool withdrawn = kchan__withdraw(&ctx);
        if (withdrawn && w.linked) kchan__unlink(c, q, &w);
        kchan__lock_release(&c->lock);
        if (withdrawn) {
            kchan__bump_unlocked(&c->m.timeouts, 1);
            return KCHAN_TIMEDOUT;
        }
        (void)kchan__park(&ctx, -1);           /* claimed: wait until the claimer is done ([W3]) */
    }
    if (ctx.status != KCHAN__RETRY || deadline < 0 || kchan__clock_ns() < deadline) return ctx.status;
    int r;
    if ((r = kchan__lf_try(c, dir, elem)) != KCHAN_WOULDBLOCK) return r;   /* told to retry at the deadline */
    kchan__bump_unlocked(&c->m.timeouts, 1);
    return KCHAN_TIMEDOUT;
}

/* Before a single op registers on a small ring, it snoozes: it spins in kchan__lf_backoff's
   rounds of 1, 2, 4 .. 64 pauses, trying the ring after each, until it has spun a budget
   of 3 + 4 * credit pauses (1 to 7 rounds, 3 to 127 pauses, about 2.5 us on the machine
   measured; seven rounds never reach the backoff's yields). On a ring this small a partner
   that is running makes room (an element) within a hand-off, and the op then completes
   with no lock on either side, where registering costs both of them the channel lock and
   a hand-over (W6, the cap-1 ping-pong: 2.8 -> 1.4 us per round trip; W11, bounded 4 with
   4+4 threads on 2 cores: 1.9x the messages, 50x fewer context switches; bench/tune/t21).
   A full (empty) large ring means the other side has not run for a while, most likely
   descheduled: there a spin only steals the core from it (16+16 threads on a 64-cell
   ring, W9, lost 25-45% with any snooze), so larger rings and the lists register at once.
   Where the partner is often descheduled even on a small ring (a pipeline of 4 threads on
   2 cores, W12), spinning only burns the time slice it needs, so the budget is learnt per
   channel and direction: a snooze that completed the op adds 1 to the credit (up to 16),
   one that did not takes 4 off. It never yields: two yields after the spin cost the
   worker pool (W13, 8 threads on 2 cores) 13% and 1.5x the context switches. Returns
   KCHAN_WOULDBLOCK if the op must still wait. */
#ifndef KCHAN__SNOOZE_RING
#  define KCHAN__SNOOZE_RING 16        /* rings of at most this capacity snooze */
#endif
#define KCHAN__SNOOZE_CREDIT_MAX 16u
_Static_assert(3 + 4 * KCHAN__SNOOZE_CREDIT_MAX <= (2u << KCHAN__LF_SPIN_LIMIT) - 1,
               "kchan: a snooze's rounds must stay within kchan__lf_backoff's spins");
KCHAN__PRIV int kchan__lf_snooze(kchan_t *c, int dir, void *elem)
{
    KCHAN__ATOMIC(uint16_t) *credit = &c->lf.snooze_credit[dir == KCHAN_OP_SEND];
    /* [L27] relaxed: a hint that orders nothing; a lost update only changes how long one
       later snooze spins. */
    unsigned cr = kchan__atomic_load(credit, memory_order_relaxed);
    unsigned budget = 3 + 4 * cr;
    int r = KCHAN_WOULDBLOCK;
    /* before round `step`, 2^step - 1 pauses are spun */
    for (unsigned step = 0; r == KCHAN_WOULDBLOCK && (1u << step) - 1 < budget;) {
        kchan__lf_backoff(&step);
        r = kchan__lf_try(c, dir, elem);
    }
    unsigned next = r == KCHAN_OK ? (cr < KCHAN__SNOOZE_CREDIT_MAX ? cr + 1 : cr)
                                  : (cr > 4 ? cr - 4 : 0);
    if (next != cr) kchan__atomic_store(credit, (uint16_t)next, memory_order_relaxed);   /* [L27] */
    return r;
}

/* A single op that must wait: snooze on a small ring, then wait as above until done. */
KCHAN__PRIV int kchan__lf_block(kchan_t *c, int dir, void *elem, int64_t deadline)
{
    int r;
    if (c->capacity <= KCHAN__SNOOZE_RING &&   /* unlimited: KCHAN_UNLIMITED, never */
        (r = kchan__lf_snooze(c, dir, elem)) != KCHAN_WOULDBLOCK)
        return r;
    while ((r = kchan__lf_wait(c, dir, elem, deadline)) == KCHAN__RETRY)
        if ((r = kchan__lf_try(c, dir, elem)) != KCHAN_WOULDBLOCK) return r;
    return r;
}

KCHAN__PRIV int kchan__lf_op(kchan_t *c, int dir, void *elem, int64_t timeout_ns)
{
    int r = kchan__lf_try(c, dir, elem);
    if (r != KCHAN_WOULDBLOCK) return r;
    if (!kchan__may_wait(timeout_ns)) {
        kchan__bump_unlocked(dir == KCHAN_OP_SEND ? &c->m.send_full : &c->m.recv_empty, 1);
        return r;
    }
    kchan__bump_unlocked(dir == KCHAN_OP_SEND ? &c->m.blocked_sends : &c->m.blocked_recvs, 1);
    return kchan__lf_block(c, dir, elem, kchan__deadline(timeout_ns));
}

KCHAN__PRIV int kchan__lf_send_many(kchan_t *c, const void *elems, size_t n, size_t *sent, int64_t timeout_ns)
{
    int64_t deadline = kchan__deadline(timeout_ns);
    size_t i = 0;
    int r = KCHAN_OK;
    bool blocked = false;
    while (i < n) {
        /* Parked receivers get theirs before the ring sees any (no newcomer between). */
        if (kchan__lf_receivers_parked(c) && kchan__lf_hand(c, kchan__nth(c, elems, i))) {
            i++;
            continue;
        }
        size_t k = kchan__lf_put(c, kchan__nth(c, elems, i), n - i, &r);
        if (k) {
            i += k;
            kchan__lf_pushed(c, k);
        } else if (r == KCHAN_WOULDBLOCK && c->policy == KCHAN_DROP_NEWEST) {
            kchan__lf_drop_newest(c, kchan__nth(c, elems, i++));
            r = KCHAN_OK;
        } else if (r == KCHAN_WOULDBLOCK && kchan__lf_evicts(c)) {
            if ((r = kchan__lf_evict_send(c, kchan__nth(c, elems, i))) != KCHAN_OK) break;
            i++;
        } else if (r == KCHAN_WOULDBLOCK && !kchan__may_wait(timeout_ns)) {
            kchan__bump_unlocked(&c->m.send_full, 1);
            break;
        } else if (r == KCHAN_WOULDBLOCK) {
            if (!blocked) kchan__bump_unlocked(&c->m.blocked_sends, 1);
            blocked = true;
            if ((r = kchan__lf_block(c, KCHAN_OP_SEND, kchan__nth(c, elems, i), deadline)) != KCHAN_OK) break;
            i++;
        } else {
            break;                             /* KCHAN_CLOSED, KCHAN_NOMEM */
        }
    }
    if (sent) *sent = i;
    return r;
}

KCHAN__PRIV int kchan__lf_recv_many(kchan_t *c, void *out, size_t max, size_t *got, int64_t timeout_ns)
{
    int r;
    /* An evicting ring holds capacity + 1 elements between a send's push into the spare cell
       and its trim. One call takes at most `capacity`, so it is always a take the channel
       could have given before that send (it linearizes there), never the element the send
       is about to evict together with the ones that pushed it out. */
    if (kchan__lf_evicts(c) && max > c->capacity) max = c->capacity;
    size_t i = 0;
    /* Parked senders' elements go into the cells we empty, one by one (no newcomer between). */
    while (i < max && kchan__lf_senders_parked(c) && kchan__lf_swap(c, kchan__nth(c, out, i))) i++;
    if (i > 0) {
        /* served: take what else there is below */
    } else if ((i = kchan__lf_take(c, out, max, &r)) == 0) {
        if (r == KCHAN_WOULDBLOCK && !kchan__may_wait(timeout_ns)) {
            kchan__bump_unlocked(&c->m.recv_empty, 1);
            return r;
        }
        if (r != KCHAN_WOULDBLOCK) return r;
        kchan__bump_unlocked(&c->m.blocked_recvs, 1);
        if ((r = kchan__lf_block(c, KCHAN_OP_RECV, out, kchan__deadline(timeout_ns))) != KCHAN_OK) return r;
        i = 1;                                 /* lf_block notified for this one */
    } else {
        kchan__lf_notify(c, &c->sendq, i);
    }
    size_t k;
    int st;
    while (i < max && (k = kchan__lf_take(c, kchan__nth(c, out, i), max - i, &st)) > 0) {
        i += k;                                /* what else is there, up to the lap's end and on */
        kchan__lf_notify(c, &c->sendq, k);
    }
    if (got) *got = i;
    return KCHAN_OK;
}

/* Pin head (its mark bit) so no consumer can take the oldest cell. Returns the pinned
   position, or SIZE_MAX when the ring has been discarded for good. */
KCHAN__PRIV size_t kchan__lf_pin(kchan_t *c)
{
    unsigned step = 0;
    size_t head = kchan__atomic_load(&c->lf.head, memory_order_relaxed);   /* [L1] */
    for (;;) {
        if (head & c->lf.mark) {
            if (kchan__atomic_load(&c->lf.discarded, memory_order_acquire)) return SIZE_MAX;   /* [L16] */
            kchan__lf_backoff(&step);
            head = kchan__atomic_load(&c->lf.head, memory_order_relaxed);   /* [L1] */
            continue;
        }
        if ((head & (c->lf.mark - 1)) == c->lf.size) {   /* a list's offset 31: being linked */
            kchan__lf_backoff(&step);
            head = kchan__atomic_load(&c->lf.head, memory_order_relaxed);   /* [L1] */
            continue;
        }
        /* [L14] acquire on success: pairs with the [L7]/[L17] that stored this head, so the
           cells before it are done with. Relaxed on failure: a fresh guess. */
        if (kchan__atomic_cas_weak(&c->lf.head, &head, head | c->lf.mark,
                                                  memory_order_acquire, memory_order_relaxed))
            return head;
    }
}

/* A list's element at the pinned position head, or NULL if it is not (wholly) there yet. */
KCHAN__PRIV const unsigned char *kchan__lf_oldest(const kchan_t *c, size_t head)
{
    /* [U10'] acquire: as [U10]; head is pinned, so head_seg is its segment. */
    struct kchan__seg *seg = kchan__atomic_load(&c->lf.head_seg, memory_order_acquire);
    size_t off = head & (KCHAN__SEG_MARK - 1);
    /* [U6'] acquire: as [U6]. */
    return kchan__atomic_load(kchan__seg_state(c, seg, off), memory_order_acquire) & KCHAN__CELL_WRITTEN
         ? kchan__seg_data(c, seg, off) : NULL;
}

/* Copy out an element a pusher of a later lap may be overwriting while we read it: the
   caller validates the copy afterwards ([L25]) and throws a torn one away, as a seqlock
   reader does. So the read is a race by design: it is kept out of ThreadSanitizer's view,
   and goes byte by byte through volatile so the compiler makes no memcpy call of it (which
   TSan would intercept) and no wider or repeated reads. */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8)
__attribute__((no_sanitize("thread"), noinline))
#endif
KCHAN__PRIV void kchan__lf_copy_racy(void *dst, const unsigned char *src, size_t n)
{
    const volatile unsigned char *from = src;
    unsigned char *to = (unsigned char *)dst;
    for (size_t i = 0; i < n; i++) to[i] = from[i];
}

/* Peek on a ring: no pin, so a peek held up anywhere holds back no receiver, eviction or
   stats reader. Read head, check the oldest cell's stamp says "full for head", copy, then
   check head did not move: the cell is refilled only after a consumer moves head past it. */
KCHAN__PRIV int kchan__lf_peek_ring(kchan_t *c, void *out)
{
    const size_t mark = c->lf.mark;
    unsigned step = 0;
    for (;;) {
        /* [L24] relaxed: a guess: [L5''] and [L25] check it, and a tail read after it that
           equals it means head had not moved at that read either (head never passes tail). */
        size_t head = kchan__atomic_load(&c->lf.head, memory_order_relaxed);
        if (head & mark) return KCHAN_CLOSED;  /* only cancel and destroy pin a ring, for good */
        /* [L5''] acquire: as [L5]: pairs with [L4], so the element is wholly there. */
        if (kchan__atomic_load(kchan__lf_stamp(c, head), memory_order_acquire) == head + 1) {
            KCHAN__TEST_POINT(c, KCHAN__TP_PEEK);
            kchan__lf_copy_racy(out, kchan__lf_data(c, head), c->elem_size);
            /* [L25] acq_rel RMW that changes nothing. Its release half keeps the copy above
               from moving after it. If it still reads `head`, the claim that moves head past
               the cell (pop or eviction, an RMW on head like every write to a ring's head)
               reads our value or a later one of its release sequence, so it and everything
               after it, the [L8] free and the next lap's refill, happen after our copy:
               the copy is whole. Else the cell may have been refilled under us: again. */
            if (kchan__atomic_fetch_add(&c->lf.head, 0, memory_order_acq_rel) == head) return KCHAN_OK;
            continue;
        }
        /* [L6'] acquire: pairs with [L3]/[L13]; only "empty, or closed and empty" is read. */
        size_t tail = kchan__atomic_load(&c->lf.tail, memory_order_acquire);
        if (kchan__lf_between(c, head, tail & ~c->lf.mark) == 0)
            return tail & c->lf.mark ? KCHAN_CLOSED : KCHAN_WOULDBLOCK;
        kchan__lf_backoff(&step);              /* a push in flight on the oldest cell, or head moved */
    }
}

KCHAN__PRIV int kchan__lf_peek(kchan_t *c, void *out)
{
    unsigned step = 0;
    if (c->kind != KCHAN__UNLIMITED) return kchan__lf_peek_ring(c, out);
    /* A list pins head: its segments are freed once read, so an unpinned copy could read
       freed memory. */
    for (;;) {
        size_t head = kchan__lf_pin(c);
        if (head == SIZE_MAX) return KCHAN_CLOSED;
        int r = KCHAN_OK;
        const unsigned char *oldest = kchan__lf_oldest(c, head);
        if (oldest) {
            KCHAN__TEST_POINT(c, KCHAN__TP_PEEK);
            memcpy(out, oldest, c->elem_size);
        } else {
            /* [L6'] acquire: pairs with [L3]/[U2]/[L13]; only "empty, or closed and empty" is read. */
            size_t tail = kchan__atomic_load(&c->lf.tail, memory_order_acquire);
            r = kchan__lf_between(c, head, tail) != 0 ? KCHAN__RETRY
              : tail & c->lf.mark ? KCHAN_CLOSED : KCHAN_WOULDBLOCK;
        }
        /* [L17] release: unpins; our copy-out happens before the consumer whose [L7] CAS
           reads this value, and so before the cell is ever refilled. */
        kchan__atomic_store(&c->lf.head, head, memory_order_release);
        if (r != KCHAN__RETRY) return r;
        kchan__lf_backoff(&step);              /* a push in flight on the oldest cell */
    }
}

/* Cancel and destroy: pin head for good and hand every element still in the (closed or
   unshared) ring to on_undelivered. Consumers that meet the pin then see KCHAN_CLOSED. */
KCHAN__PRIV void kchan__lf_discard(kchan_t *c)
{
    size_t head = kchan__lf_pin(c);
    if (head == SIZE_MAX) return;              /* discarded before */
    /* [L6''] acquire: tail is final (closed, or nobody else holds the channel); pairs with
       [L3] so every claim before the mark is seen. */
    size_t tail = kchan__atomic_load(&c->lf.tail, memory_order_acquire) & ~c->lf.mark;
    /* [L15] release: pairs with [L16]/[L20] acquire; a reader that sees the flag sees the
       pinned head, so the derived undelivered count (tail - head) is final. */
    kchan__atomic_store(&c->lf.discarded, 1, memory_order_release);
    if (c->kind == KCHAN__UNLIMITED) { kchan__list_discard(c, head, tail); return; }
    for (size_t p = head; p != tail; p = kchan__lf_advance(c, p, 1)) {
        unsigned step = 0;
        /* [L5'''] acquire: as [L5]; waits out a push that claimed the cell before the close. */
        while (kchan__atomic_load(kchan__lf_stamp(c, p), memory_order_acquire) != p + 1) kchan__lf_backoff(&step);
        kchan__undelivered(c, kchan__lf_data(c, p));
    }
}

KCHAN__PRIV void kchan__lf_stats(const kchan_t *c, kchan_stats *out)
{
    kchan__metrics_read(c, out);
    out->max_len = kchan__read_max_len(c);
    size_t pops, pushes;
    bool gone = kchan__lf_positions(c, &pops, &pushes);
    /* [M2] relaxed: a count, as the shared ones; hand-offs never show in the positions. */
    uint64_t handed = kchan__atomic_load(&c->m.handoffs, memory_order_relaxed);
    uint64_t received = (uint64_t)pops;
    if (kchan__lf_evicts(c)) {
        /* An eviction is a pop that is no receive. Wait-free, without the lock: recvs is
           pops minus the evictions announced ([E1]), read after head, so every eviction in
           `pops` is subtracted and one still in flight may be subtracted early: the result
           is never above the receives done, only sometimes below. [E3] makes it monotonic:
           the largest value reported so far is a floor. Every value computed is at most the
           receives done by then, so the floor never passes the true count, and once the
           channel is quiet the computed value is exact (announcements == drops_oldest) and
           at least the floor: conservation holds exactly. */
        /* [E2] acquire: re-reads head after the relaxed [L18] read in positions (so at that
           position or later) to synchronize with the claims up to it: their [E1]
           announcements, sequenced before, are seen by the load below. */
        (void)kchan__atomic_load(&c->lf.head, memory_order_acquire);
        /* [E2'] relaxed: ordered after [E2] by its acquire; a count, no data. */
        size_t announced = kchan__atomic_load(&c->lf.evictions, memory_order_relaxed);
        received = pops > announced ? (uint64_t)(pops - announced) : 0;
        KCHAN__ATOMIC(kchan__count) *floor = (KCHAN__ATOMIC(kchan__count) *)(uintptr_t)&c->lf.recvs_floor;
        /* [E3] relaxed: the floor is a monotonic gauge that only this CAS raises; no data
           depends on it, and coherence alone keeps one reader's later loads from going back. */
        kchan__count seen = kchan__atomic_load(floor, memory_order_relaxed);
        /* [E3'] relaxed both ways: as [E3]. A strong CAS fails only if another reader raised
           the floor, so each retry finds it strictly higher and below `received`: at most
           received - seen retries, a bound fixed when we started (wait-free). */
        while (seen < received && !kchan__atomic_cas_strong(floor, &seen, (kchan__count)received,
                                                                           memory_order_relaxed, memory_order_relaxed)) {}
        if (seen > received) received = seen;
    }
    /* pops and pushes count modulo the cells the positions tell apart, lf.size laps of
       2^W / one_lap (never reached with a 64-bit size_t; 32-bit: at least 2^30 cells), so
       sends and recvs are reported modulo the same (see LIMITS). */
    uint64_t wrap = (uint64_t)c->lf.size << (sizeof(size_t) * CHAR_BIT - c->lf.lap_shift);
    out->sends = ((uint64_t)pushes + out->drops_newest + handed) % wrap;
    out->recvs = (received + handed) % wrap;
    out->undelivered = gone ? pushes - pops : 0;
    out->len = gone ? 0 : kchan__lf_in_use(c, pops, pushes);
    /* An unlimited list's max_len is sampled: store the length seen now, so that a later
       snapshot with a smaller len still reports it (every field is monotonic). */
    kchan__lf_raise_max((kchan_t *)(uintptr_t)c, out->len);   /* a gauge, not part of the value */
    if (out->len > out->max_len) out->max_len = out->len;
}

KCHAN__PRIV bool kchan__lf_closed(const kchan_t *c)
{
    /* [L13'] acquire: the ring's close point is the mark bit of tail ([L13]), so a send
       can't succeed after this said closed; pairs with [L13] as [M4] with [M6]. */
    return (kchan__atomic_load(&c->lf.tail, memory_order_acquire) & c->lf.mark) != 0;
}

/* Close (cancel: then discard what is buffered). Parked waiters are told KCHAN__RETRY:
   they try again and find the mark themselves, so a receiver still drains what a racing
   sender pushed before the close. */
KCHAN__PRIV int kchan__lf_close(kchan_t *c, int reason, bool discard)
{
    kchan__after a;
    kchan__after_init(&a, NULL);
    kchan__lock_acquire(&c->lock);
    int r = kchan__set_closed(c, reason) ? KCHAN_OK : KCHAN_CLOSED;
    if (r == KCHAN_OK) {
        /* [L13] seq_cst: the ring's close point: a push's [L3] CAS either lands before it
           or fails on the mark. Release (in seq_cst) publishes the reason to a consumer
           whose [L6] load sees the mark. */
        kchan__atomic_fetch_or(&c->lf.tail, c->lf.mark, memory_order_seq_cst);
        kchan__release_all(c, KCHAN__RETRY, &a);
    }
    kchan__lock_release(&c->lock);
    kchan__finish(&a);
    if (discard) kchan__lf_discard(c);
    return r;
}

/* kchan__init's part for a lock-free channel: the ring in `cells` (ring_size of them, and
   a spare if it evicts), or for an unlimited channel a list starting with one segment. */
KCHAN__PRIV int kchan__lf_setup(kchan_t *c, unsigned char *cells, size_t ring_size)
{
    c->lf.size = ring_size + (kchan__lf_evicts(c) ? 1 : 0);   /* kchan__lf_trim's spare */
    kchan__lf_init(c, c->kind == KCHAN__UNLIMITED ? NULL : cells);
    if (c->kind != KCHAN__UNLIMITED) return KCHAN_OK;
    struct kchan__seg *seg = kchan__seg_new(c);
    if (!seg) return KCHAN_NOMEM;
    /* [L0] relaxed: not shared yet, as in kchan__lf_init. */
    kchan__atomic_store(&c->lf.tail_seg, seg, memory_order_relaxed);
    kchan__atomic_store(&c->lf.head_seg, seg, memory_order_relaxed);   /* [L0] */
    return KCHAN_OK;
}

/* kchan_destroy's part: what is still buffered goes to on_undelivered; the segments. */
KCHAN__PRIV void kchan__lf_destroy(kchan_t *c)
{
    kchan__lf_discard(c);
    if (c->kind == KCHAN__UNLIMITED) kchan__list_free(c);
}
#endif /* KCHAN_LOCKFREE */

#ifdef KCHAN_TESTING
/* Test-only hooks (tests/kchan_impl.c defines KCHAN_TESTING; tests/wrap_hooks.h declares
   them). On a mutex-engine channel, or without KCHAN_LOCKFREE, they do nothing and say so. */
#ifdef KCHAN_LOCKFREE
/* Start a new lock-free channel (nothing sent yet) `laps` laps before its positions wrap
   around size_t, so tests reach the wrap in a few operations. KCHAN_INVAL if the channel is
   not lock-free, not new, or laps is 0 or more than the positions hold. */
KCHAN_DEF int kchan__test_place(kchan_t *c, size_t laps)
{
    if (!c || !kchan__is_lf(c) || laps == 0 || laps > (SIZE_MAX >> c->lf.lap_shift)) return KCHAN_INVAL;
    /* [L0'] relaxed: the test owns the channel alone while it moves it. */
    if (kchan__atomic_load(&c->lf.tail, memory_order_relaxed) != c->lf.origin ||
        kchan__atomic_load(&c->lf.head, memory_order_relaxed) != c->lf.origin ||   /* [L0'] */
        kchan__atomic_load(&c->m.handoffs, memory_order_relaxed) != 0)            /* [L0'] */
        return KCHAN_INVAL;
    kchan__lf_place(c, (size_t)0 - laps * c->lf.one_lap);
    return KCHAN_OK;
}

/* Take (hold) or release the channel lock of a lock-free channel, so a test can pin a
   waiter between its failed try and its registration. False (nothing done) otherwise. */
KCHAN_DEF bool kchan__test_hold(kchan_t *c, bool hold)
{
    if (!c || !kchan__is_lf(c)) return false;
    if (hold) kchan__lock_acquire(&c->lock);
    else kchan__lock_release(&c->lock);
    return true;
}

/* Call fn(c) in kchan__lf_ready between its reads of head and tail (NULL: stop), so a test
   can move the positions there from one thread. */
KCHAN_DEF void kchan__test_between_ready_reads(void (*fn)(kchan_t *c)) { kchan__test_between = fn; }

/* kchan__lf_ready: 1 if an op (KCHAN_OP_SEND / KCHAN_OP_RECV) looks ready, 0 if not, -1 if
   the channel is not lock-free. */
KCHAN_DEF int kchan__test_ready(kchan_t *c, int op)
{
    if (!c || !kchan__is_lf(c)) return -1;
    return kchan__lf_ready(c, op) ? 1 : 0;
}
#else
KCHAN_DEF int kchan__test_place(kchan_t *c, size_t laps) { (void)c; (void)laps; return KCHAN_INVAL; }
KCHAN_DEF bool kchan__test_hold(kchan_t *c, bool hold) { (void)c; (void)hold; return false; }
KCHAN_DEF void kchan__test_between_ready_reads(void (*fn)(kchan_t *c)) { (void)fn; }
KCHAN_DEF int kchan__test_ready(kchan_t *c, int op) { (void)c; (void)op; return -1; }
#endif /* KCHAN_LOCKFREE */
#endif /* KCHAN_TESTING */

// >>timer: after, tick and never: a one-slot mutex-engine ring that the clock fills
/* A timer has no thread. Its instants are due at tm.due, and whoever touches the timer
   (a receive, a peek, a select, stats, close) first brings it up to date under its lock
   (kchan__tm_fire): what has come due is sent into the one-slot, drop-oldest ring as if by a
   sender, so a parked receiver gets it straight away and the ring, the counters and close's
   drain are the mutex engine's. A receiver with nothing due parks with no spinning until the
   earliest of its deadline and tm.due, and a select likewise (kchan__case_due): the wake-up is
   the kernel's timed wait, and nothing polls. Sends are KCHAN_INVAL (section ops). */

/* Send what is due by now. A tick sends the latest instant due on its grid and counts the
   ones before it, which nobody will see, as sent and dropped; close stops the timer, so a
   closed one sends nothing more (the instant due at the close stays: the drain). */
KCHAN__PRIV void kchan__tm_fire(kchan_t *c, kchan__after *a)
{
    int64_t due = c->tm.due, period = c->tm.period;
    if (due == KCHAN__TM_NEVER || kchan__mx_closed(c)) return;
    int64_t now = kchan__clock_ns();
    if (now < due) return;
    int64_t at = due, next = KCHAN__TM_NEVER;
    if (period > 0) {
        uint64_t skipped = (uint64_t)(now - due) / (uint64_t)period;   /* due <= now: no wrap */
        at = due + (int64_t)skipped * period;                           /* <= now */
        next = at > INT64_MAX - period ? KCHAN__TM_NEVER : at + period;
        if (skipped) {
            kchan__bump_locked(&c->mx.sends, (size_t)skipped);
            kchan__bump_locked(&c->m.drops_oldest, (size_t)skipped);
        }
    }
    c->tm.due = next;
    (void)kchan__send_locked(c, &at, a);      /* open, and conflated: cannot fail */
}

/* Bring the timer up to date (kchan_len and kchan_stats_get: a timer has nobody else to). */
KCHAN__PRIV void kchan__tm_sync(const kchan_t *cc)
{
    kchan_t *c = (kchan_t *)(uintptr_t)cc;    /* the instants that came due are there already */
    kchan__after a;
    kchan__after_init(&a, NULL);
    kchan__lock_acquire(&c->lock);
    kchan__tm_fire(c, &a);
    kchan__lock_release(&c->lock);
    kchan__finish(&a);
}

KCHAN__PRIV int kchan__tm_recv_locked(kchan_t *c, void *out, kchan__after *a)
{
    kchan__tm_fire(c, a);
    return kchan__recv_locked(c, out, a);
}

/* recv, try_recv, recv_timeout. Parked on the receive queue, where close (or a fire by
   another thread's op, with the instant) finds us; woken by the clock at tm.due, we go
   round and take the instant ourselves. */
KCHAN__PRIV int kchan__tm_recv(kchan_t *c, void *out, int64_t timeout_ns)
{
    bool may_wait = kchan__may_wait(timeout_ns), blocked = false;
    int64_t deadline = may_wait ? kchan__deadline(timeout_ns) : -1;
    kchan__after a;
    kchan__after_init(&a, NULL);
    kchan__lock_acquire(&c->lock);
    for (;;) {
        int r = kchan__tm_recv_locked(c, out, &a);
        if (r != KCHAN_WOULDBLOCK || !may_wait) {
            if (r == KCHAN_WOULDBLOCK) kchan__bump_locked(&c->m.recv_empty, 1);
            kchan__lock_release(&c->lock);
            kchan__finish(&a);
            return r;
        }
        if (!blocked) kchan__bump_locked(&c->m.blocked_recvs, 1);
        blocked = true;
        int64_t due = c->tm.due;
        bool by_clock = due != KCHAN__TM_NEVER && (deadline < 0 || due < deadline);
        kchan__ctx ctx;
        kchan__waiter w;
        kchan__enqueue_sole(c, &c->recvq, &w, &ctx, out);
        kchan__lock_release(&c->lock);
        kchan__finish(&a);
        /* No spinning: only the clock or a close can end this wait. */
        if (kchan__park_after(&ctx, by_clock ? due : deadline, 0, 0) != KCHAN_TIMEDOUT)
            return ctx.status;
        if (!kchan__withdraw(&ctx)) {
            (void)kchan__park_after(&ctx, -1, 0, 0);   /* claimed at the last moment */
            return ctx.status;
        }
        kchan__lock_acquire(&c->lock);
        if (w.linked) kchan__unlink(c, &c->recvq, &w);
        if (!by_clock) {
            kchan__bump_locked(&c->m.timeouts, 1);
            kchan__lock_release(&c->lock);
            return KCHAN_TIMEDOUT;
        }
    }
}

KCHAN__PRIV int kchan__tm_op(kchan_t *c, int dir, void *elem, int64_t timeout_ns)
{
    return dir == KCHAN_OP_SEND ? KCHAN_INVAL : kchan__tm_recv(c, elem, timeout_ns);
}

KCHAN__PRIV int kchan__tm_send_many(kchan_t *c, const void *elems, size_t n, size_t *sent, int64_t timeout_ns)
{
    (void)c; (void)elems; (void)n; (void)sent; (void)timeout_ns;
    return KCHAN_INVAL;
}

/* A timer holds one instant at most: a batch is one receive. */
KCHAN__PRIV int kchan__tm_recv_many(kchan_t *c, void *out, size_t max, size_t *got, int64_t timeout_ns)
{
    (void)max;
    int r = kchan__tm_recv(c, out, timeout_ns);
    if (got) *got = r == KCHAN_OK;
    return r;
}

KCHAN__PRIV int kchan__tm_peek(kchan_t *c, void *out)
{
    kchan__tm_sync(c);
    return kchan__mx_peek(c, out);
}

/* An instant due before the close is sent first: it stays for the drain (or is discarded
   by cancel and counted undelivered). */
KCHAN__PRIV int kchan__tm_close(kchan_t *c, int reason, bool discard)
{
    kchan__tm_sync(c);
    return kchan__mx_close(c, reason, discard);
}

KCHAN__PRIV bool kchan__tm_closed(const kchan_t *c) { return kchan__mx_closed(c); }
KCHAN__PRIV size_t kchan__tm_len(const kchan_t *c) { kchan__tm_sync(c); return kchan__mx_len(c); }
/* kchan_stats_get has brought the timer up to date already (outside _NONE's critical section). */
KCHAN__PRIV void kchan__tm_stats(const kchan_t *c, kchan_stats *out) { kchan__mx_stats(c, out); }
KCHAN__PRIV int kchan__tm_setup(kchan_t *c, unsigned char *ring, size_t ring_size)
{
    return kchan__mx_setup(c, ring, ring_size);
}
/* An instant due but never received counts as undelivered. */
KCHAN__PRIV void kchan__tm_destroy(kchan_t *c)
{
    kchan__tm_sync(c);
    kchan__mx_destroy(c);
}

// >>ops: the public operations, each a call to the channel's engine
/* Both engines implement the same private functions (kchan__mx_* in section engine_mutex,
   kchan__lf_* in section engine_lockfree), and so do timers (kchan__tm_*, section timer): op,
   send_many, recv_many, peek, close, closed, len, stats, and for section create setup and
   destroy. This is the one place that asks which serves a channel (section select asks it
   per case). Without KCHAN_LOCKFREE the dispatch is the mutex call or the timer's. */
#ifdef KCHAN_HAVE_SHARED
/* Timers and shared handles are the kinds from KCHAN__AFTER on: one compare on the
   mutex engine's path, as before shared channels. */
#  define KCHAN__ENGINE_MX_TM(c, fn, ...)                                                   \
       ((c)->kind >= KCHAN__AFTER                                                            \
            ? (kchan__is_shared(c) ? kchan__sh_##fn(__VA_ARGS__) : kchan__tm_##fn(__VA_ARGS__)) \
            : kchan__mx_##fn(__VA_ARGS__))
/* Section shared comes after the public functions that call it. */
KCHAN__PRIV int  kchan__sh_op(kchan_t *c, int dir, void *elem, int64_t timeout_ns);
KCHAN__PRIV int  kchan__sh_send_many(kchan_t *c, const void *elems, size_t n, size_t *sent, int64_t timeout_ns);
KCHAN__PRIV int  kchan__sh_recv_many(kchan_t *c, void *out, size_t max, size_t *got, int64_t timeout_ns);
KCHAN__PRIV int  kchan__sh_peek(kchan_t *c, void *out);
KCHAN__PRIV int  kchan__sh_close(kchan_t *c, int reason, bool discard);
KCHAN__PRIV bool kchan__sh_closed(const kchan_t *c);
KCHAN__PRIV int  kchan__sh_reason(const kchan_t *c);
KCHAN__PRIV size_t kchan__sh_len(const kchan_t *c);
KCHAN__PRIV void kchan__sh_stats(const kchan_t *c, kchan_stats *out);
KCHAN__PRIV int  kchan__sh_setup(kchan_t *c, unsigned char *ring, size_t ring_size);
KCHAN__PRIV void kchan__sh_destroy(kchan_t *c);
KCHAN__PRIV int  kchan__sh_case_try(kchan_case *k, kchan__after *a);
KCHAN__PRIV int  kchan__sh_case_try_locked(kchan_case *k, kchan__after *a);
KCHAN__PRIV bool kchan__sh_case_look(const kchan_case *k, size_t *sum, bool nomem);
KCHAN__PRIV bool kchan__sh_case_ready(const kchan_case *k, bool nomem);
KCHAN__PRIV int  kchan__sh_case_finish(kchan_case *k, int verdict);
KCHAN__PRIV int64_t kchan__sh_case_due(const kchan_case *k);
#else
#  define KCHAN__ENGINE_MX_TM(c, fn, ...) \
       (kchan__is_timer(c) ? kchan__tm_##fn(__VA_ARGS__) : kchan__mx_##fn(__VA_ARGS__))
#endif
#ifdef KCHAN_LOCKFREE
#  define KCHAN__ENGINE(c, fn, ...) \
       (kchan__is_lf(c) ? kchan__lf_##fn(__VA_ARGS__) : KCHAN__ENGINE_MX_TM(c, fn, __VA_ARGS__))
#else
#  define KCHAN__ENGINE(c, fn, ...) KCHAN__ENGINE_MX_TM(c, fn, __VA_ARGS__)
#endif

KCHAN__PRIV bool kchan__closed(const kchan_t *c) { return KCHAN__ENGINE(c, closed, c); }

/* send, try_send, send_timeout; recv likewise. Inlined into each, so a constant timeout
   (0, KCHAN_FOREVER) folds away in the engine's wait decision. */
KCHAN__INLINE int kchan__op(kchan_t *c, int dir, void *elem, int64_t timeout_ns)
{
    if (!c || (!elem && c->elem_size) || kchan__bad_timeout(timeout_ns)) return KCHAN_INVAL;
    return KCHAN__ENGINE(c, op, c, dir, elem, timeout_ns);
}

KCHAN_DEF int kchan_send(kchan_t *c, const void *elem)
{ return kchan__op(c, KCHAN_OP_SEND, (void *)(uintptr_t)elem, KCHAN_FOREVER); }
KCHAN_DEF int kchan_recv(kchan_t *c, void *out) { return kchan__op(c, KCHAN_OP_RECV, out, KCHAN_FOREVER); }
KCHAN_DEF int kchan_try_send(kchan_t *c, const void *elem)
{ return kchan__op(c, KCHAN_OP_SEND, (void *)(uintptr_t)elem, 0); }
KCHAN_DEF int kchan_try_recv(kchan_t *c, void *out) { return kchan__op(c, KCHAN_OP_RECV, out, 0); }
KCHAN_DEF int kchan_send_timeout(kchan_t *c, const void *elem, int64_t timeout_ns)
{ return kchan__op(c, KCHAN_OP_SEND, (void *)(uintptr_t)elem, timeout_ns); }
KCHAN_DEF int kchan_recv_timeout(kchan_t *c, void *out, int64_t timeout_ns)
{ return kchan__op(c, KCHAN_OP_RECV, out, timeout_ns); }

KCHAN_DEF int kchan_send_many(kchan_t *c, const void *elems, size_t n, size_t *sent, int64_t timeout_ns)
{
    if (sent) *sent = 0;
    if (!c || (!elems && n && c->elem_size) || kchan__bad_timeout(timeout_ns)) return KCHAN_INVAL;
    return KCHAN__ENGINE(c, send_many, c, elems, n, sent, timeout_ns);
}

KCHAN_DEF int kchan_recv_many(kchan_t *c, void *out, size_t max, size_t *got, int64_t timeout_ns)
{
    if (got) *got = 0;
    if (!c || (!out && c->elem_size) || max == 0 || kchan__bad_timeout(timeout_ns)) return KCHAN_INVAL;
    return KCHAN__ENGINE(c, recv_many, c, out, max, got, timeout_ns);
}

KCHAN_DEF int kchan_peek(kchan_t *c, void *out)
{
    if (!c || (!out && c->elem_size)) return KCHAN_INVAL;
    return KCHAN__ENGINE(c, peek, c, out);
}

KCHAN_DEF int kchan_close(kchan_t *c) { return c ? KCHAN__ENGINE(c, close, c, 0, false) : KCHAN_INVAL; }
KCHAN_DEF int kchan_close_with(kchan_t *c, int reason) { return c ? KCHAN__ENGINE(c, close, c, reason, false) : KCHAN_INVAL; }
KCHAN_DEF int kchan_cancel(kchan_t *c) { return c ? KCHAN__ENGINE(c, close, c, 0, true) : KCHAN_INVAL; }
KCHAN_DEF bool kchan_is_closed(const kchan_t *c) { return c ? kchan__closed(c) : true; }
KCHAN_DEF int kchan_close_reason(const kchan_t *c)
{
    if (!c || !kchan__closed(c)) return 0;       /* [M4] acquire, then the reason is settled */
#ifdef KCHAN_HAVE_SHARED
    if (kchan__is_shared(c)) return kchan__sh_reason(c);
#endif
    /* [M7] relaxed: written once before the [M6] release that [M4] acquired. */
    return kchan__atomic_load(&c->m.reason, memory_order_relaxed);
}

KCHAN_DEF size_t kchan_len(const kchan_t *c) { return c ? KCHAN__ENGINE(c, len, c) : 0; }

KCHAN_DEF void kchan_stats_get(const kchan_t *c, kchan_stats *out)
{
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!c) return;
    if (kchan__is_timer(c)) kchan__tm_sync(c);   /* what came due is counted (takes its lock) */
#ifdef KCHAN__NONE_CRITICAL
    /* _NONE's counters are plain 64-bit words: read them whole, not torn by an interrupt. */
    kchan__lock *held = (kchan__lock *)(uintptr_t)&c->lock;
    kchan__lock_acquire(held);
#endif
    KCHAN__ENGINE(c, stats, c, out);
#ifdef KCHAN__NONE_CRITICAL
    kchan__lock_release(held);
#endif
}

// >>create


/* Validate options; fills kind, ring slots and ring bytes. */
KCHAN__PRIV int kchan__plan(size_t elem_size, const kchan_opts *o, unsigned char *kind,
                            size_t *ring_size, size_t *ring_bytes)
{
    size_t cap = o ? o->capacity : 0;
    int policy = o ? (int)o->overflow : (int)KCHAN_BLOCK;
    if (policy < (int)KCHAN_BLOCK || policy > (int)KCHAN_DROP_OLDEST) return KCHAN_INVAL;
    if (cap == KCHAN_RENDEZVOUS)     { *kind = KCHAN__RENDEZVOUS; *ring_size = 0; }
    else if (cap == KCHAN_CONFLATED) { *kind = KCHAN__CONFLATED;  *ring_size = 1; }
    else if (cap == KCHAN_UNLIMITED) { *kind = KCHAN__UNLIMITED;  *ring_size = elem_size ? 0 : SIZE_MAX; }
    else                             { *kind = KCHAN__BOUNDED;    *ring_size = cap; }
#ifdef KCHAN_NO_UNLIMITED
    if (*kind == KCHAN__UNLIMITED) return KCHAN_INVAL;
#endif
    /* A conflated channel is drop-oldest by nature: it takes that policy or the default. */
    bool conflated_ok = *kind == KCHAN__CONFLATED && policy == (int)KCHAN_DROP_OLDEST;
    if (*kind != KCHAN__BOUNDED && policy != (int)KCHAN_BLOCK && !conflated_ok) return KCHAN_INVAL;
    bool evicts = *kind == KCHAN__CONFLATED || policy == (int)KCHAN_DROP_OLDEST;
    if (evicts && o && o->on_undelivered && elem_size > KCHAN_EVICT_MAX) return KCHAN_INVAL;
    size_t slots = *kind == KCHAN__UNLIMITED ? 0 : *ring_size;
    /* Sizes that cannot exist, by one rule for both engines (LIMITS in the doc block): n
       cells of elem_size + 2 words, n = capacity + 1 (rendezvous 0, conflated 1) or, for
       unlimited, KCHAN__SIZE_CELLS_UNLIMITED (a lock-free segment and its header), must fit
       in SIZE_MAX / 4 bytes. A cell bounds the lock-free stride (elem_size + a stamp, rounded
       up) and a mutex slot, so no size derived below can wrap: stride, segment, ring, the
       channel header added to the ring, the caller memory of kchan_create_in. */
    size_t room = SIZE_MAX / 4, cell_extra = 2 * sizeof(size_t);
    size_t cells = *kind == KCHAN__UNLIMITED ? KCHAN__SIZE_CELLS_UNLIMITED : slots + 1;
    if (elem_size > room - cell_extra || cells > room / (elem_size + cell_extra)) return KCHAN_INVAL;
    *ring_bytes = slots * elem_size;
#ifdef KCHAN_LOCKFREE
    if (kchan__lf_fits(*kind, elem_size, slots)) {
        size_t stride = kchan__lf_stride(elem_size);
        if (evicts) slots++;                   /* the spare cell of kchan__lf_trim */
        KCHAN_ASSERT(stride >= sizeof(KCHAN__ATOMIC(size_t)) && stride <= elem_size + cell_extra &&
                     slots <= cells);                  /* so slots * stride is within room */
        *ring_bytes = slots * stride;
    }
#endif
    return KCHAN_OK;
}

KCHAN__PRIV size_t kchan__align(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }

/* The common part, then the engine's: the lock-free one where it fits, else the mutex one.
   KCHAN_NOMEM only for an unlimited lock-free list's first segment. */
KCHAN__PRIV int kchan__init(kchan_t *c, unsigned char *ring, size_t elem_size, const kchan_opts *o,
                            unsigned char kind, size_t ring_size, bool caller_memory)
{
    memset((void *)c, 0, sizeof *c);          /* (void *): C++ builds hold std::atomic members */
    kchan__lock_init(&c->lock);
    c->elem_size = elem_size;
    c->kind = kind;
    c->capacity = kind == KCHAN__RENDEZVOUS ? 0 : kind == KCHAN__CONFLATED ? 1
                : kind == KCHAN__UNLIMITED ? KCHAN_UNLIMITED : ring_size;
    c->policy = (unsigned char)(kind == KCHAN__CONFLATED ? KCHAN_DROP_OLDEST   /* its real policy */
                                : o ? o->overflow : KCHAN_BLOCK);
    c->on_undelivered = o ? o->on_undelivered : NULL;
    c->user = o ? o->user : NULL;
    c->name = o ? o->name : NULL;
    c->caller_memory = caller_memory;
#ifdef KCHAN_LOCKFREE
    c->lockfree = kchan__lf_fits(kind, elem_size, ring_size);
#endif
    int r = KCHAN__ENGINE(c, setup, c, ring, ring_size);
    if (r != KCHAN_OK) kchan__lock_destroy(&c->lock);
    return r;
}

/* KCHAN_FOOTPRINT's header room (kchan__shape) must hold the channel header. */
_Static_assert(sizeof(struct kchan) <= sizeof(kchan__shape),
               "kchan: kchan__shape (KCHAN_FOOTPRINT) is smaller than struct kchan: mirror the new field there");
_Static_assert(sizeof(kchan_counter) == 64 && sizeof(KCHAN__ATOMIC(int64_t)) == sizeof(int64_t) &&
               sizeof(KCHAN__ATOMIC(uint32_t)) == sizeof(uint32_t), "kchan: kchan_counter layout");

/* kchan_create's channel on the heap, and kchan_create_in's in caller memory: apart, so a
   firmware that only places channels links no malloc. A timer (section timer) is a one-slot
   drop-oldest channel of the kind `timer` (0 for the others). */
KCHAN__PRIV int kchan__alloc(kchan_t **out, size_t elem_size, const kchan_opts *opts, unsigned char timer)
{
    unsigned char kind;
    size_t ring_size, ring_bytes;
    int r = kchan__plan(elem_size, opts, &kind, &ring_size, &ring_bytes);
    if (r != KCHAN_OK) return r;
    if (timer) kind = timer;
    size_t head = kchan__align(sizeof(struct kchan), _Alignof(max_align_t));
    kchan_t *c = (kchan_t *)KCHAN_MALLOC(head + ring_bytes);
    if (!c) return KCHAN_NOMEM;
    if ((r = kchan__init(c, (unsigned char *)c + head, elem_size, opts, kind, ring_size, false)) != KCHAN_OK) {
        KCHAN_FREE(c);
        return r;
    }
    *out = c;
    return KCHAN_OK;
}

KCHAN__PRIV int kchan__place(kchan_t **out, void *mem, size_t mem_size, size_t elem_size,
                             const kchan_opts *opts, unsigned char timer)
{
    unsigned char kind;
    size_t ring_size, ring_bytes;
    int r = kchan__plan(elem_size, opts, &kind, &ring_size, &ring_bytes);
    if (r != KCHAN_OK) return r;
    if (timer) kind = timer;
    if (kind == KCHAN__UNLIMITED) return KCHAN_INVAL;
    size_t skew = kchan__align((uintptr_t)mem, KCHAN__CREATE_IN_ALIGN) - (uintptr_t)mem;
    size_t head = kchan__align(sizeof(struct kchan), KCHAN__CREATE_IN_ALIGN);
    if (mem_size < skew || mem_size - skew < head || mem_size - skew - head < ring_bytes)
        return KCHAN_INVAL;
    kchan_t *c = (kchan_t *)(void *)((unsigned char *)mem + skew);
    if ((r = kchan__init(c, (unsigned char *)c + head, elem_size, opts, kind, ring_size, true)) != KCHAN_OK)
        return r;                              /* not reached: no list in caller memory */
    *out = c;
    return KCHAN_OK;
}

KCHAN_DEF int kchan_create(kchan_t **out, size_t elem_size, const kchan_opts *opts)
{
    if (out) *out = NULL;
    return out ? kchan__alloc(out, elem_size, opts, 0) : KCHAN_INVAL;
}

KCHAN_DEF int kchan__create_typed(void *out, size_t elem_size, const kchan_opts *opts)
{
    kchan_t *c = NULL;
    if (!out) return KCHAN_INVAL;
    int r = kchan_create(&c, elem_size, opts);
    memcpy(out, &c, sizeof c);     /* out is a `name **`: same representation, no aliasing */
    return r;
}

KCHAN_DEF int kchan__create_in_typed(void *out, void *mem, size_t mem_size, size_t elem_size,
                                     const kchan_opts *opts)
{
    kchan_t *c = NULL;
    if (!out) return KCHAN_INVAL;
    int r = kchan_create_in(&c, mem, mem_size, elem_size, opts);
    memcpy(out, &c, sizeof c);     /* as kchan__create_typed */
    return r;
}

KCHAN_DEF kchan_t *kchan_new(size_t elem_size, size_t capacity)
{
    kchan_opts o;
    memset(&o, 0, sizeof o);
    o.capacity = capacity;
    kchan_t *c = NULL;
    return kchan_create(&c, elem_size, &o) == KCHAN_OK ? c : NULL;
}

KCHAN_DEF int kchan_create_in(kchan_t **out, void *mem, size_t mem_size, size_t elem_size,
                              const kchan_opts *opts)
{
    if (out) *out = NULL;
    return out && mem ? kchan__place(out, mem, mem_size, elem_size, opts, 0) : KCHAN_INVAL;
}

/* The timers: due `delay` from now (after), every `delay` from now (tick), or never; on the
   heap (mem NULL) or in caller memory. On _NONE without KCHAN_NOW_NS the clock stands still
   at 0, so a timer would never come: refused; and with KCHAN_NO_TIMERS, which leaves them out. */
KCHAN__PRIV int kchan__timer(kchan_t **out, void *mem, size_t mem_size, unsigned char kind, int64_t delay)
{
    if (out) *out = NULL;
    if (!out || (kind == KCHAN__AFTER && delay < 0) || (kind == KCHAN__TICK && delay <= 0))
        return KCHAN_INVAL;
#if (defined(KCHAN_PLATFORM_NONE) && !defined(KCHAN_NOW_NS)) || defined(KCHAN_NO_TIMERS)
    (void)mem; (void)mem_size;
    return KCHAN_INVAL;
#else
    kchan_opts o;
    memset(&o, 0, sizeof o);
    o.capacity = 1;
    o.overflow = KCHAN_DROP_OLDEST;
    int r = mem ? kchan__place(out, mem, mem_size, sizeof(int64_t), &o, kind)
                : kchan__alloc(out, sizeof(int64_t), &o, kind);
    if (r != KCHAN_OK) return r;
    int64_t now = kchan__clock_ns();
    (*out)->tm.due = kind == KCHAN__NEVER || delay > INT64_MAX - now ? KCHAN__TM_NEVER : now + delay;
    (*out)->tm.period = kind == KCHAN__TICK ? delay : 0;
    return KCHAN_OK;
#endif
}

KCHAN_DEF kchan_t *kchan_after(int64_t delay_ns)
{
    kchan_t *c;
    return kchan__timer(&c, NULL, 0, KCHAN__AFTER, delay_ns) == KCHAN_OK ? c : NULL;
}
KCHAN_DEF kchan_t *kchan_tick(int64_t period_ns)
{
    kchan_t *c;
    return kchan__timer(&c, NULL, 0, KCHAN__TICK, period_ns) == KCHAN_OK ? c : NULL;
}
KCHAN_DEF kchan_t *kchan_never(void)
{
    kchan_t *c;
    return kchan__timer(&c, NULL, 0, KCHAN__NEVER, 0) == KCHAN_OK ? c : NULL;
}
KCHAN_DEF int kchan_after_in(kchan_t **out, void *mem, size_t mem_size, int64_t delay_ns)
{
    if (out) *out = NULL;
    return mem ? kchan__timer(out, mem, mem_size, KCHAN__AFTER, delay_ns) : KCHAN_INVAL;
}
KCHAN_DEF int kchan_tick_in(kchan_t **out, void *mem, size_t mem_size, int64_t period_ns)
{
    if (out) *out = NULL;
    return mem ? kchan__timer(out, mem, mem_size, KCHAN__TICK, period_ns) : KCHAN_INVAL;
}
KCHAN_DEF int kchan_never_in(kchan_t **out, void *mem, size_t mem_size)
{
    if (out) *out = NULL;
    return mem ? kchan__timer(out, mem, mem_size, KCHAN__NEVER, 0) : KCHAN_INVAL;
}

KCHAN_DEF void kchan_destroy(kchan_t *c)
{
    if (!c) return;
    KCHAN_ASSERT(c->sendq.count == 0 && c->recvq.count == 0);   /* nobody may still wait */
    KCHAN__ENGINE(c, destroy, c);
    kchan__lock_destroy(&c->lock);
    if (!c->caller_memory) KCHAN_FREE(c);
}

KCHAN_DEF int64_t kchan_now_ns(void) { return kchan__clock_ns(); }

KCHAN_DEF const char *kchan_version(void) { return KCHAN_VERSION_STRING; }

KCHAN_DEF const char *kchan_strerror(int status)
{
#define KCHAN__STR_ITEM(name, value, text) case name: return text;
    switch (status) { KCHAN__STATUS(KCHAN__STR_ITEM) default: return "unknown kchan status"; }
#undef KCHAN__STR_ITEM
}

// >>select
/* A select locks its distinct channels in address order (one global order: no lock-order
   deadlock), tries its cases in a uniformly random order (or in order, biased), and if none
   can complete registers one waiter per case, all sharing one wait context, then parks.
   The first partner to claim the context ([W1]) wins it; the owner then unlinks every other
   registration. Waiter records live on this stack frame: nothing is allocated. A select's
   own waiters are registered only after its try passes, so it can never pair with itself.
   kchan__select drives the passes, each a function of its own, round after round:
     kchan__select_try_pass     each case alone; a select that can complete at once ends here
     kchan__select_locked_pass  every channel locked; the cases the locks hold still, again
     kchan__select_look         under the locks, a look at the cases they do not hold; with
                                kchan__select_stood_still, the double collect before "none"
     kchan__select_register     one waiter per case, then the locks are released
     kchan__select_park         a last look (the Dekker re-check), then park
     kchan__select_unlink       every registration but the winner's withdrawn
     kchan__select_finish       the won case completed (or the select goes round)
   What the two engines do differently sits behind the case interface (kchan__case_*): a
   pass never asks which engine a case's channel is on. */

/* Each select draws its case order from a xorshift64* generator. Threaded platforms keep
   one per thread (_Thread_local), seeded lazily from the clock and the thread's address;
   _NONE has one thread, so a plain static; _CUSTOM ports seldom have thread-local storage,
   so each select there seeds afresh from a shared sequence number, the clock and its stack. */
KCHAN__PRIV uint64_t kchan__mix(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;      /* splitmix64 finaliser */
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x ? x : 0x9E3779B97F4A7C15ull;
}

#if defined(KCHAN_PLATFORM_CUSTOM)
static KCHAN__ATOMIC(uint32_t) kchan__rng_seq;
KCHAN__PRIV uint64_t kchan__rng_begin(const void *stack)
{
    /* [R1] relaxed: only distinctness of the numbers matters, no ordering. */
    uint32_t n = kchan__atomic_fetch_add(&kchan__rng_seq, 1, memory_order_relaxed);
    return kchan__mix((uint64_t)kchan__clock_ns() ^ ((uint64_t)n << 32) ^ (uint64_t)(uintptr_t)stack);
}
KCHAN__PRIV void kchan__rng_end(uint64_t state) { (void)state; }
#else
#  ifdef KCHAN_PLATFORM_NONE
static uint64_t kchan__rng_state;
#  else
static _Thread_local uint64_t kchan__rng_state;
#  endif
KCHAN__PRIV uint64_t kchan__rng_begin(const void *stack)
{
    uint64_t x = kchan__rng_state;
    return x ? x : kchan__mix((uint64_t)kchan__clock_ns() ^ (uint64_t)(uintptr_t)stack);
}
KCHAN__PRIV void kchan__rng_end(uint64_t state) { kchan__rng_state = state; }
#endif

KCHAN__PRIV uint32_t kchan__random_below(uint64_t *state, uint32_t bound)
{
    uint64_t x = *state;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *state = x;
    uint32_t r = (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
    return (uint32_t)(((uint64_t)r * bound) >> 32);        /* unbiased enough for n <= 64 */
}

KCHAN__PRIV void kchan__sleep_until(int64_t deadline_ns)
{
    kchan__ctx never;                  /* nobody can claim it: a plain timed sleep */
    kchan__ctx_init(&never);
    /* [W6] relaxed: only this thread ever touches `never`. */
    kchan__atomic_store(&never.wake, KCHAN__WAKE_PARKED, memory_order_relaxed);
    while (kchan__wait(&never.wake, KCHAN__WAKE_PARKED, deadline_ns) != KCHAN_TIMEDOUT) {}
}

/* The order cases are tried in is a uniform permutation (the identity when biased), drawn
   lazily: position t is fixed the first time a pass reaches it (one Fisher-Yates step), so a
   select whose first case completes draws one number instead of n - 1. A case's index fits
   a byte: KCHAN_SELECT_MAX is at most 256. */
KCHAN__PRIV size_t kchan__pick(uint8_t *order, size_t t, size_t n, size_t *fixed)
{
    if (t < *fixed) return order[t];
    if (t + 1 < n) {
        uint64_t rng = kchan__rng_begin(order);   /* a stack address seeds a fresh thread */
        size_t j = t + kchan__random_below(&rng, (uint32_t)(n - t));
        kchan__rng_end(rng);
        uint8_t tmp = order[t]; order[t] = order[j]; order[j] = tmp;
    }
    *fixed = t + 1;
    return order[t];
}

/* A send to an unlimited channel that just failed to grow (the round's `nomem`) waits for
   memory, not for a partner: though it always looks ready, it is not. Nobody wakes a select
   when memory comes back, so while it has other cases to wait on it parks at most a poll
   interval, from KCHAN__NOMEM_POLL_MIN_NS doubling up to KCHAN__NOMEM_POLL_MAX_NS, and goes
   round (trying the send again) at each. */
#define KCHAN__NOMEM_POLL_MIN_NS 1000000
#define KCHAN__NOMEM_POLL_MAX_NS 50000000
KCHAN__PRIV bool kchan__starved(const kchan_case *k, bool nomem)
{
    return nomem && k->op == KCHAN_OP_SEND && k->chan->kind == KCHAN__UNLIMITED;
}

/* The case interface: what a pass asks of one case (with a channel), which the case's
   engine answers.
     kchan__case_unlocked    is it tried without its channel's lock? Then only the try pass
                             tries it, the locks hold it nowhere, and the looks are for it
     kchan__case_try         its op, now, alone (taking what lock it needs)
     kchan__case_try_locked  its op under the select's locks
     kchan__case_look        under the locks: could it complete now? adds what it read to
                             the double collect's sum
     kchan__case_register    a waiter for it, linked under the locks
     kchan__case_ready       registered, unlocked: could it complete now?
     kchan__case_finish      its status, given a won registration's verdict
     kchan__case_due         under the locks: when it becomes ready by itself (a timer's
                             next instant), else KCHAN__TM_NEVER; the select parks no longer
   The mutex engine's cases come first, then the lock-free engine's, the timers', then the
   dispatch. */

/* Mutex engine: a case is its op under its channel's lock. While the select holds the locks
   nothing changes, so the locked pass's answer stands until the registration; a claimer
   completes the op itself, so its verdict (KCHAN_OK, KCHAN_CLOSED) is the case's status. */
KCHAN__PRIV int kchan__mx_case_try_locked(kchan_case *k, kchan__after *a)
{
    return k->op == KCHAN_OP_SEND ? kchan__send_locked(k->chan, k->elem, a)
                                  : kchan__recv_locked(k->chan, k->elem, a);
}

/* Could this case complete now? A lock-free hint from the published counters. */
KCHAN__PRIV bool kchan__maybe_ready(const kchan_t *c, int op)
{
    if (kchan__mx_closed(c)) return true;
    /* [M9] relaxed: a hint only. A stale "no" costs nothing but the locked pass, which
       re-checks everything under the locks before the select may wait. */
    if (op == KCHAN_OP_RECV)
        return kchan__atomic_load(&c->mx.len, memory_order_relaxed) > 0 ||
               kchan__atomic_load(&c->m.waiting_senders, memory_order_relaxed) > 0;  /* [M9] */
    if (c->kind == KCHAN__UNLIMITED || c->kind == KCHAN__CONFLATED || c->policy != KCHAN_BLOCK)
        return true;
    return kchan__atomic_load(&c->mx.len, memory_order_relaxed) < c->mx.size ||       /* [M9] */
           kchan__atomic_load(&c->m.waiting_receivers, memory_order_relaxed) > 0;
}

/* Alone: one lock at a time, skipped if the hint says it cannot complete (a wrong
   "cannot" is caught by the locked pass). */
KCHAN__PRIV int kchan__mx_case_try(kchan_case *k, kchan__after *a)
{
    if (!kchan__maybe_ready(k->chan, k->op)) return KCHAN_WOULDBLOCK;
    kchan__lock_acquire(&k->chan->lock);
    int r = kchan__mx_case_try_locked(k, a);
    kchan__lock_release(&k->chan->lock);
    kchan__finish(a);
    return r;
}

/* Under the locks, or registered (the locks were held from the locked pass until every
   waiter was linked): a partner that comes now finds our waiter, so nothing to look at. */
KCHAN__PRIV bool kchan__mx_case_look(const kchan_case *k, size_t *sum, bool nomem)
{
    (void)k; (void)sum; (void)nomem;
    return false;
}
KCHAN__PRIV bool kchan__mx_case_ready(const kchan_case *k, bool nomem)
{
    (void)k; (void)nomem;
    return false;
}
KCHAN__PRIV int kchan__mx_case_finish(kchan_case *k, int verdict)
{
    (void)k;
    return verdict;
}
KCHAN__PRIV int64_t kchan__mx_case_due(const kchan_case *k) { (void)k; return KCHAN__TM_NEVER; }

#ifdef KCHAN_LOCKFREE
/* Lock-free engine: a case is tried without any lock, so the select's locks hold it nowhere:
   it is not tried under them (its try pass answer is all there is) and is looked at instead.
   A claimer moves no element: its verdict is KCHAN__RETRY (try your op again), or KCHAN_OK
   when it handed its element over itself (kchan__lf_hand). */
KCHAN__PRIV int kchan__lf_case_try(kchan_case *k, kchan__after *a)
{
    (void)a;                                   /* no lock, so no work left for after one */
    return kchan__lf_try(k->chan, k->op, k->elem);
}
KCHAN__PRIV int kchan__lf_case_try_locked(kchan_case *k, kchan__after *a)
{
    (void)k; (void)a;
    return KCHAN_WOULDBLOCK;                   /* tried in the try pass; looked at below */
}

/* Its positions, under the select's locks (kchan__lf_look); a send that cannot grow its
   list waits for memory, not a partner, so it never looks ready (it is polled). */
KCHAN__PRIV bool kchan__lf_case_look(const kchan_case *k, size_t *sum, bool nomem)
{
    return kchan__lf_look(k->chan, k->op, sum) && !kchan__starved(k, nomem);
}

/* Registered: look again ([L24], the re-check half of the Dekker pair with [L11]). A
   starved send is ready only if closed (a close before we registered woke nobody). */
KCHAN__PRIV bool kchan__lf_case_ready(const kchan_case *k, bool nomem)
{
    return kchan__starved(k, nomem) ? kchan__lf_closed(k->chan) : kchan__lf_ready(k->chan, k->op);
}

/* Told to retry (or won by our own look): do the op now. It may still say KCHAN_WOULDBLOCK
   (someone else was quicker) or KCHAN_NOMEM (the list still cannot grow). */
KCHAN__PRIV int kchan__lf_case_finish(kchan_case *k, int verdict)
{
    return verdict == KCHAN__RETRY ? kchan__lf_try(k->chan, k->op, k->elem) : verdict;
}
KCHAN__PRIV int64_t kchan__lf_case_due(const kchan_case *k) { (void)k; return KCHAN__TM_NEVER; }
#endif

/* Timers: a receive case (kchan__select_check refuses a send) is a mutex-engine case whose
   op first sends what has come due (kchan__tm_fire). It is always tried under its lock: no
   published counter says an instant is due. A registration is claimed by a close, or by
   another thread's op that fired the instant to it; else the select wakes at tm.due
   (kchan__case_due), goes round and fires it itself. */
KCHAN__PRIV int kchan__tm_case_try_locked(kchan_case *k, kchan__after *a)
{
    return kchan__tm_recv_locked(k->chan, k->elem, a);
}
KCHAN__PRIV int kchan__tm_case_try(kchan_case *k, kchan__after *a)
{
    kchan__lock_acquire(&k->chan->lock);
    int r = kchan__tm_case_try_locked(k, a);
    kchan__lock_release(&k->chan->lock);
    kchan__finish(a);
    return r;
}
KCHAN__PRIV bool kchan__tm_case_look(const kchan_case *k, size_t *sum, bool nomem)
{
    return kchan__mx_case_look(k, sum, nomem);
}
KCHAN__PRIV bool kchan__tm_case_ready(const kchan_case *k, bool nomem) { return kchan__mx_case_ready(k, nomem); }
KCHAN__PRIV int kchan__tm_case_finish(kchan_case *k, int verdict) { return kchan__mx_case_finish(k, verdict); }
KCHAN__PRIV int64_t kchan__tm_case_due(const kchan_case *k) { return k->chan->tm.due; }

/* The dispatch, through section ops' KCHAN__ENGINE: the one place a case's engine is
   asked, once per interface function (without KCHAN_LOCKFREE, the mutex call alone). */
KCHAN__PRIV bool kchan__case_unlocked(const kchan_case *k) { return kchan__is_lf(k->chan) || kchan__is_shared(k->chan); }
KCHAN__PRIV int kchan__case_try(kchan_case *k, kchan__after *a)
{ return KCHAN__ENGINE(k->chan, case_try, k, a); }
KCHAN__PRIV int kchan__case_try_locked(kchan_case *k, kchan__after *a)
{ return KCHAN__ENGINE(k->chan, case_try_locked, k, a); }
KCHAN__PRIV bool kchan__case_look(const kchan_case *k, size_t *sum, bool nomem)
{ return KCHAN__ENGINE(k->chan, case_look, k, sum, nomem); }
KCHAN__PRIV bool kchan__case_ready(const kchan_case *k, bool nomem)
{ return KCHAN__ENGINE(k->chan, case_ready, k, nomem); }
KCHAN__PRIV int kchan__case_finish(kchan_case *k, int verdict)
{ return KCHAN__ENGINE(k->chan, case_finish, k, verdict); }
KCHAN__PRIV int64_t kchan__case_due(const kchan_case *k)
{ return KCHAN__ENGINE(k->chan, case_due, k); }

/* The same on both engines: kchan__enqueue publishes the waiting count ([L11] or [M5]). */
KCHAN__PRIV void kchan__case_register(kchan_case *k, kchan__waiter *w, kchan__ctx *ctx, int index)
{
    kchan_t *c = k->chan;
    if (kchan__is_shared(c)) { w->linked = false; return; }   /* polled: kchan__sh_case_due */
    w->ctx = ctx;
    w->elem = k->elem;
    w->index = index;
    w->sole = false;
    kchan__enqueue(c, k->op == KCHAN_OP_SEND ? &c->sendq : &c->recvq, w);  /* [L11] */
}

/* The distinct channels of the cases, sorted by address: the one global lock order. */
KCHAN__PRIV size_t kchan__lock_order(const kchan_case *cases, size_t n, kchan_t **locks)
{
    size_t nlocks = 0;
    for (size_t i = 0; i < n; i++) {
        kchan_t *c = cases[i].chan;
        size_t j = 0;
        if (!c) continue;
        while (j < nlocks && (uintptr_t)locks[j] < (uintptr_t)c) j++;
        if (j < nlocks && locks[j] == c) continue;
        memmove(&locks[j + 1], &locks[j], (nlocks - j) * sizeof locks[0]);
        locks[j] = c;
        nlocks++;
    }
    return nlocks;
}

/* Release the select's locks in reverse order, then do the work gathered under them. */
KCHAN__PRIV void kchan__unlock_all(kchan_t **locks, size_t nlocks, kchan__after *a)
{
    for (size_t j = nlocks; j-- > 0;) kchan__lock_release(&locks[j]->lock);
    kchan__finish(a);
}

/* Refuse bad input before anything happens. Sets `order` to the identity, counts the cases
   that have a channel and says whether any is tried without its lock. */
KCHAN__PRIV int kchan__select_check(const kchan_case *cases, size_t n, int64_t timeout_ns,
                                    uint8_t *order, size_t *live, bool *unlocked)
{
    if ((n && !cases) || n > KCHAN_SELECT_MAX || kchan__bad_timeout(timeout_ns)) return KCHAN_INVAL;
    for (size_t i = 0; i < n; i++) {
        const kchan_case *k = &cases[i];
        if (k->op != KCHAN_OP_SEND && k->op != KCHAN_OP_RECV) return KCHAN_INVAL;
        if (k->chan && !k->elem && k->chan->elem_size) return KCHAN_INVAL;
        if (k->chan && k->op == KCHAN_OP_SEND && kchan__is_timer(k->chan)) return KCHAN_INVAL;
        if (k->chan) ++*live, *unlocked |= kchan__case_unlocked(k);
        order[i] = (uint8_t)i;
    }
    return KCHAN_OK;
}

/* Each case alone, in the select's order. Returns the index of the case that completed
   (its status set), else -1; notes a send that could not grow its list in *nomem. */
KCHAN__PRIV int kchan__select_try_pass(kchan_case *cases, size_t n, uint8_t *order, size_t *fixed,
                                       kchan__after *a, bool *nomem)
{
    for (size_t t = 0; t < n; t++) {
        kchan_case *k = &cases[kchan__pick(order, t, n, fixed)];
        if (!k->chan) continue;
        int r = kchan__case_try(k, a);
        if (r == KCHAN_WOULDBLOCK) continue;
        if (r == KCHAN_NOMEM) *nomem = true;
        if (r != KCHAN_OK && r != KCHAN_CLOSED) continue;
        k->status = r;
        return (int)order[t];
    }
    return -1;
}

/* Every channel locked in address order, so what the cases the locks hold show cannot
   change before we register; the first case that completes wins (its status set, the locks
   released, its index returned). Else -1, with the locks held. */
KCHAN__PRIV int kchan__select_locked_pass(kchan_case *cases, size_t n, uint8_t *order, size_t *fixed,
                                          kchan_t **locks, size_t nlocks, kchan__after *a, bool *nomem)
{
    for (size_t j = 0; j < nlocks; j++) kchan__lock_acquire(&locks[j]->lock);
    for (size_t t = 0; t < n; t++) {
        kchan_case *k = &cases[kchan__pick(order, t, n, fixed)];
        if (!k->chan) continue;
        int r = kchan__case_try_locked(k, a);
        if (r == KCHAN_NOMEM) { *nomem = true; continue; }   /* let the other cases try */
        if (r == KCHAN_WOULDBLOCK) continue;
        kchan__unlock_all(locks, nlocks, a);
        k->status = r;
        return (int)order[t];
    }
    return -1;
}

/* Under the locks. The cases tried without them were tried one at a time, at different
   moments, so none being ready then proves nothing about one instant. Look at them now (the
   cases the locks hold stand still meanwhile): one that looks ready sends us round again to
   try it (true). Adds the positions read to *sum, the first half of the double collect. */
KCHAN__PRIV bool kchan__select_look(const kchan_case *cases, size_t n, const uint8_t *order,
                                    bool nomem, size_t *sum)
{
    for (size_t t = 0; t < n; t++) {
        const kchan_case *k = &cases[order[t]];
        if (k->chan && kchan__case_look(k, sum, nomem)) return true;
    }
    return false;
}

/* Before saying nothing was ready: a second look (the double collect). Each position only
   grows, so a sum unchanged from kchan__select_look's means that between the two looks every
   case tried without the locks stood still, not ready, while the locks held the others: one
   instant at which no case could complete. */
KCHAN__PRIV bool kchan__select_stood_still(const kchan_case *cases, size_t n, const uint8_t *order,
                                           bool nomem, size_t first)
{
    size_t second = 0;
    for (size_t t = 0; t < n; t++) {
        const kchan_case *k = &cases[order[t]];
        if (k->chan) (void)kchan__case_look(k, &second, nomem);
    }
    return second == first;
}

/* Register on every case at once, in the order the cases were tried (uniformly random
   unless biased): a partner takes the oldest registration of a channel, so with one channel
   in several cases each is equally likely to complete. The locks are held. Returns when the
   earliest timer case comes due (KCHAN__TM_NEVER: none will). */
KCHAN__PRIV int64_t kchan__select_register(kchan_case *cases, size_t n, const uint8_t *order,
                                           kchan__ctx *ctx, kchan__waiter *ws)
{
    int64_t due = KCHAN__TM_NEVER;
    kchan__ctx_init(ctx);
    for (size_t t = 0; t < n; t++) {
        size_t i = order[t];
        if (!cases[i].chan) continue;
        kchan__case_register(&cases[i], &ws[i], ctx, (int)i);
        int64_t at = kchan__case_due(&cases[i]);
        if (at < due) due = at;
    }
    return due;
}

/* How long to park: until the deadline, but a starved send no longer than its poll interval
   and no later than a timer case's next instant (neither is a real timeout: kchan__select
   reads the clock against the deadline itself). */
KCHAN__PRIV int64_t kchan__select_until(int64_t deadline, bool nomem, int64_t *poll_ns, int64_t due)
{
    int64_t until = deadline;
    if (nomem) {
        *poll_ns = *poll_ns ? *poll_ns * 2 : KCHAN__NOMEM_POLL_MIN_NS;
        if (*poll_ns > KCHAN__NOMEM_POLL_MAX_NS) *poll_ns = KCHAN__NOMEM_POLL_MAX_NS;
        int64_t at = kchan__clock_ns() + *poll_ns;
        if (until < 0 || at < until) until = at;
    }
    return due != KCHAN__TM_NEVER && (until < 0 || due < until) ? due : until;
}

/* Registered, the locks released. Cases tried without the locks get a last look (they may
   have become ready before we registered, and nobody would wake us): a ready one is won as
   if its partner had said KCHAN__RETRY, provided nobody has claimed us meanwhile. Else park.
   Returns the won case's index and its verdict, or -1 (timed out, or a poll is due). */
KCHAN__PRIV int kchan__select_park(const kchan_case *cases, size_t n, const uint8_t *order,
                                   bool unlocked, bool nomem, kchan__ctx *ctx, int64_t until,
                                   int *verdict)
{
    int ready = -1;
    for (size_t t = 0; t < n && unlocked && ready < 0; t++) {
        const kchan_case *k = &cases[order[t]];
        if (k->chan && kchan__case_ready(k, nomem)) ready = (int)order[t];
    }
    *verdict = KCHAN__RETRY;
    if (ready >= 0 && kchan__withdraw(ctx)) return ready;
    if (ready < 0 && kchan__park(ctx, until) == KCHAN_TIMEDOUT && kchan__withdraw(ctx)) return -1;
    (void)kchan__park(ctx, -1);        /* claimed (perhaps just as we timed out): wait for [W3] */
    *verdict = ctx->status;
    return ctx->index;
}

/* Withdraw every registration but a claimed winner's (its claimer unlinked it); the others
   were lost or timed out, and count as cancelled. */
KCHAN__PRIV void kchan__select_unlink(const kchan_case *cases, size_t n, kchan_t **locks,
                                      size_t nlocks, kchan__waiter *ws, int won)
{
    for (size_t j = 0; j < nlocks; j++) {
        kchan_t *c = locks[j];
        kchan__lock_acquire(&c->lock);
        for (size_t i = 0; i < n; i++) {
            if (cases[i].chan != c) continue;
            kchan__queue *q = cases[i].op == KCHAN_OP_SEND ? &c->sendq : &c->recvq;
            if (ws[i].linked) kchan__unlink(c, q, &ws[i]);
            /* A shared case registered nothing (kchan__case_register): nothing withdrawn. */
            if ((int)i != won && !kchan__is_shared(c)) kchan__bump_locked(&c->m.cancelled_waiters, 1);
        }
        kchan__lock_release(&c->lock);
    }
}

/* The won case, given its verdict: true with its status set, or false if the registration
   came to nothing after all (someone else was quicker, or an unlimited list still cannot
   grow). Then it counts as withdrawn too and the select starts over (a NOMEM is said, if at
   all, at the deadline, by the passes). */
KCHAN__PRIV bool kchan__select_finish(kchan_case *k, int verdict)
{
    int r = kchan__case_finish(k, verdict);
    if ((r == KCHAN_WOULDBLOCK || r == KCHAN_NOMEM) && kchan__is_shared(k->chan)) return false;
    if (r == KCHAN_WOULDBLOCK || r == KCHAN_NOMEM) {
        kchan__lock_acquire(&k->chan->lock);
        kchan__bump_locked(&k->chan->m.cancelled_waiters, 1);
        kchan__lock_release(&k->chan->lock);
        return false;
    }
    k->status = r;
    return true;
}

/* `room` is a kchan__room if a send case may evict (kchan__select_room), else NULL. */
KCHAN__PRIV int kchan__select(kchan_case *cases, size_t n, int64_t timeout_ns, bool biased,
                              unsigned char *room)
{
    kchan_t *locks[KCHAN_SELECT_MAX];
    uint8_t order[KCHAN_SELECT_MAX];
    kchan__waiter ws[KCHAN_SELECT_MAX];
    kchan__ctx ctx;
    kchan__after a;
    size_t live = 0, nlocks = 0, fixed = biased ? n : 0;
    bool unlocked = false;             /* a case is tried without its lock */
    int64_t poll_ns = 0;               /* the last poll interval for a send that cannot grow */

    int bad = kchan__select_check(cases, n, timeout_ns, order, &live, &unlocked);
    if (bad != KCHAN_OK) return bad;
    /* A select that may not wait has no deadline: going round never makes it "expired", it
       says KCHAN_WOULDBLOCK (and reads no clock). */
    bool may_wait = kchan__may_wait(timeout_ns);
    int64_t deadline = may_wait ? kchan__deadline(timeout_ns) : -1;
    if (live == 0) {                   /* like Go's nil channels: wait out the timeout */
        if (!may_wait) return KCHAN_WOULDBLOCK;
        kchan__sleep_until(deadline);
        return KCHAN_TIMEDOUT;
    }
    kchan__after_init(&a, room);

    for (bool again = false;; again = true) {
        bool nomem = false;            /* this round, an unlimited send could not grow */
        int won;
        /* One case the locks hold: the locked pass tries it just the same. */
        if ((live > 1 || unlocked) &&
            (won = kchan__select_try_pass(cases, n, order, &fixed, &a, &nomem)) >= 0)
            return won;

        if (nlocks == 0) nlocks = kchan__lock_order(cases, n, locks);
        if ((won = kchan__select_locked_pass(cases, n, order, &fixed, locks, nlocks, &a, &nomem)) >= 0)
            return won;
        size_t first = 0;
        if (unlocked && kchan__select_look(cases, n, order, nomem, &first)) {
            kchan__unlock_all(locks, nlocks, &a);
            continue;
        }
        bool expired = again && deadline >= 0 && kchan__clock_ns() >= deadline;
        if (expired || !may_wait) {
            bool still = !unlocked || kchan__select_stood_still(cases, n, order, nomem, first);
            kchan__unlock_all(locks, nlocks, &a);
            if (!still) continue;      /* something moved: try the cases again */
            /* Out of time, and this round an unlimited send could not grow: KCHAN_NOMEM
               (nothing happened on any case), else the plain timeout. */
            return nomem ? KCHAN_NOMEM : expired ? KCHAN_TIMEDOUT : KCHAN_WOULDBLOCK;
        }

        int64_t due = kchan__select_register(cases, n, order, &ctx, ws);
        kchan__unlock_all(locks, nlocks, &a);
        int verdict;
        won = kchan__select_park(cases, n, order, unlocked, nomem, &ctx,
                                 kchan__select_until(deadline, nomem, &poll_ns, due), &verdict);
        kchan__select_unlink(cases, n, locks, nlocks, ws, won);
        /* Timed out (or a starved send's poll is due): go round once more, so that
           KCHAN_TIMEDOUT too is said only after the passes found nothing ready at one
           instant, now past the deadline. */
        if (won >= 0 && kchan__select_finish(&cases[won], verdict)) return won;
    }
}

/* Does a send case need a kchan__room? (Bad input is left to kchan__select to refuse.) */
KCHAN__PRIV bool kchan__cases_evict(const kchan_case *cases, size_t n)
{
    if (!cases || n > KCHAN_SELECT_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (cases[i].op == KCHAN_OP_SEND && cases[i].chan && !kchan__is_lf(cases[i].chan) &&
            kchan__evicts_room(cases[i].chan))     /* lock-free rings trim with their own room */
            return true;
    return false;
}

KCHAN__NOINLINE int kchan__select_room(kchan_case *cases, size_t n, int64_t timeout_ns, bool biased)
{
    kchan__room room;
    return kchan__select(cases, n, timeout_ns, biased, room.bytes);
}

KCHAN_DEF int kchan_select(kchan_case *cases, size_t n, int64_t timeout_ns)
{
    return kchan__cases_evict(cases, n) ? kchan__select_room(cases, n, timeout_ns, false)
                                        : kchan__select(cases, n, timeout_ns, false, NULL);
}
KCHAN_DEF int kchan_select_biased(kchan_case *cases, size_t n, int64_t timeout_ns)
{
    return kchan__cases_evict(cases, n) ? kchan__select_room(cases, n, timeout_ns, true)
                                        : kchan__select(cases, n, timeout_ns, true, NULL);
}

// >>metrics

KCHAN_DEF size_t kchan_cap(const kchan_t *c) { return c ? c->capacity : 0; }

/* snprintf-style appending: *len counts what the whole line needs, buf holds what fits. */
KCHAN__PRIV void kchan__append(char *buf, size_t n, size_t *len, const char *s)
{
    for (; *s; s++, (*len)++)
        if (*len + 1 < n) buf[*len] = *s;
}

/* The digits of v in base 10 (or 16), NUL-terminated, at the end of buf; returns where they
   start. By hand, not printf: newlib-nano's has no %llu or %zu, and dump needs no more. */
#define KCHAN__DIGITS_MAX 24                 /* 2^64 - 1 has 20 digits, 16 in hex */
KCHAN__PRIV const char *kchan__digits(uint64_t v, unsigned base, char buf[KCHAN__DIGITS_MAX])
{
    char *p = buf + KCHAN__DIGITS_MAX - 1;
    *p = '\0';
    do { *--p = "0123456789abcdef"[v % base]; v /= base; } while (v);
    return p;
}

KCHAN_DEF int kchan_dump(const kchan_t *c, char *buf, size_t n)
{
    /* Arrays, not pointers to literals: a firmware that never dumps drops them all. */
    static const char kinds[][11] = { "rendezvous", "bounded", "unlimited", "conflated",
                                      "after", "tick", "never", "shared" };
    static const char policies[][12] = { "block", "drop_newest", "drop_oldest" };
    enum { U64, U32, SIZE };
    static const struct { char key[20]; unsigned char offset, type; } fields[] = {
        { " len=", offsetof(kchan_stats, len), SIZE },
        { " max_len=", offsetof(kchan_stats, max_len), SIZE },
        { " sends=", offsetof(kchan_stats, sends), U64 },
        { " recvs=", offsetof(kchan_stats, recvs), U64 },
        { " drops_newest=", offsetof(kchan_stats, drops_newest), U64 },
        { " drops_oldest=", offsetof(kchan_stats, drops_oldest), U64 },
        { " undelivered=", offsetof(kchan_stats, undelivered), U64 },
        { " send_full=", offsetof(kchan_stats, send_full), U64 },
        { " recv_empty=", offsetof(kchan_stats, recv_empty), U64 },
        { " timeouts=", offsetof(kchan_stats, timeouts), U64 },
        { " cancelled_waiters=", offsetof(kchan_stats, cancelled_waiters), U64 },
        { " blocked_sends=", offsetof(kchan_stats, blocked_sends), U64 },
        { " blocked_recvs=", offsetof(kchan_stats, blocked_recvs), U64 },
        { " waiting_senders=", offsetof(kchan_stats, waiting_senders), U32 },
        { " waiting_receivers=", offsetof(kchan_stats, waiting_receivers), U32 },
    };
    if (!c || (!buf && n)) return KCHAN_INVAL;
    kchan_stats s;
    char tmp[KCHAN__DIGITS_MAX];
    size_t len = 0;
    kchan_stats_get(c, &s);
    kchan__append(buf, n, &len, "chan=");
    if (c->name) {
        for (const char *p = c->name; *p; p++) {
            char one[2] = { (*p == ' ' || *p == '=') ? '_' : *p, 0 };
            kchan__append(buf, n, &len, one);
        }
    } else {
        kchan__append(buf, n, &len, "0x");
        kchan__append(buf, n, &len, kchan__digits((uint64_t)(uintptr_t)c, 16, tmp));
    }
    kchan__append(buf, n, &len, " kind=");
    kchan__append(buf, n, &len, kinds[c->kind]);
    kchan__append(buf, n, &len, " policy=");
    kchan__append(buf, n, &len, policies[c->policy]);
    if (c->kind == KCHAN__UNLIMITED) kchan__append(buf, n, &len, " cap=unlimited");
    else { kchan__append(buf, n, &len, " cap="); kchan__append(buf, n, &len, kchan__digits(s.cap, 10, tmp)); }
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const unsigned char *at = (const unsigned char *)&s + fields[i].offset;
        uint64_t v64;
        uint32_t v32;
        size_t vsize;
        if (fields[i].type == U64) memcpy(&v64, at, sizeof v64);
        else if (fields[i].type == U32) { memcpy(&v32, at, sizeof v32); v64 = v32; }
        else { memcpy(&vsize, at, sizeof vsize); v64 = vsize; }
        kchan__append(buf, n, &len, fields[i].key);
        kchan__append(buf, n, &len, kchan__digits(v64, 10, tmp));
    }
    if (kchan__is_shared(c)) {
        kchan__append(buf, n, &len, " lost_sending=");
        kchan__append(buf, n, &len, kchan__digits(s.lost_sending, 10, tmp));
        kchan__append(buf, n, &len, " lost_receiving=");
        kchan__append(buf, n, &len, kchan__digits(s.lost_receiving, 10, tmp));
    }
    kchan__append(buf, n, &len, s.closed ? " state=closed" : " state=open");
    if (n) buf[len < n ? len : n - 1] = '\0';
    return len > INT_MAX ? INT_MAX : (int)len;
}

// >>counter
/* value__, epoch__ and waiters__ are plain fields in the public struct (which must stay
   free of _Atomic for C++); the implementation reaches them only through these views. */
KCHAN__PRIV KCHAN__ATOMIC(int64_t) *kchan__cval(const kchan_counter *k) { return (KCHAN__ATOMIC(int64_t) *)(uintptr_t)&k->value__; }
KCHAN__PRIV KCHAN__ATOMIC(uint32_t) *kchan__cepoch(kchan_counter *k) { return (KCHAN__ATOMIC(uint32_t) *)(uintptr_t)&k->epoch__; }
KCHAN__PRIV KCHAN__ATOMIC(uint32_t) *kchan__cwaiters(kchan_counter *k) { return (KCHAN__ATOMIC(uint32_t) *)(uintptr_t)&k->waiters__; }

KCHAN_DEF void kchan_counter_init(kchan_counter *k, int64_t v)
{
    if (!k) return;
    memset(k, 0, sizeof *k);
    /* [K0] relaxed: initialisation before the counter is shared. */
    kchan__atomic_store(kchan__cval(k), v, memory_order_relaxed);
}

/* After a change: wake waiters, if any. [K1]/[K2] with [K3]/[K4] is a store-buffering
   pair, so all four are seq_cst: either the waiter sees the new value, or we see it waiting. */
KCHAN__PRIV void kchan__counter_changed(kchan_counter *k)
{
    /* [K2] seq_cst: see above. */
    if (kchan__atomic_load(kchan__cwaiters(k), memory_order_seq_cst) != 0) {
        /* [K5] release: a waiter that reads the new epoch ([K6] acquire) also sees the
           value written before it. */
        kchan__atomic_fetch_add(kchan__cepoch(k), 1, memory_order_release);
        kchan__wake_all(kchan__cepoch(k));
    }
}

KCHAN_DEF int64_t kchan_counter_add(kchan_counter *k, int64_t delta)
{
    if (!k) return 0;
    /* [K1] seq_cst: see kchan__counter_changed. */
    int64_t old = kchan__atomic_fetch_add(kchan__cval(k), delta, memory_order_seq_cst);
    int64_t v = (int64_t)((uint64_t)old + (uint64_t)delta);    /* wraps like the atomic add */
    kchan__counter_changed(k);
    return v;
}

KCHAN_DEF void kchan_counter_store(kchan_counter *k, int64_t v)
{
    if (!k) return;
    /* [K1'] seq_cst: as [K1]. */
    kchan__atomic_store(kchan__cval(k), v, memory_order_seq_cst);
    kchan__counter_changed(k);
}

KCHAN_DEF int64_t kchan_counter_load(const kchan_counter *k)
{
    /* [K7] acquire: what the writer did before adding (e.g. a committed record) is visible. */
    return k ? kchan__atomic_load(kchan__cval(k), memory_order_acquire) : 0;
}

KCHAN_DEF int kchan_counter_wait_ge(kchan_counter *k, int64_t target, int64_t timeout_ns)
{
    if (!k || kchan__bad_timeout(timeout_ns)) return KCHAN_INVAL;
    if (kchan_counter_load(k) >= target) return KCHAN_OK;
    if (!kchan__may_wait(timeout_ns)) return KCHAN_WOULDBLOCK;
    int64_t deadline = kchan__deadline(timeout_ns);
    int r = KCHAN_OK;
    /* [K3] seq_cst: see kchan__counter_changed. */
    kchan__atomic_fetch_add(kchan__cwaiters(k), 1, memory_order_seq_cst);
    for (;;) {
        /* [K6] acquire: pairs with [K5]. */
        uint32_t epoch = kchan__atomic_load(kchan__cepoch(k), memory_order_acquire);
        /* [K4] seq_cst: see kchan__counter_changed. */
        if (kchan__atomic_load(kchan__cval(k), memory_order_seq_cst) >= target) break;
        if (kchan__wait(kchan__cepoch(k), epoch, deadline) == KCHAN_TIMEDOUT) {
            r = kchan_counter_load(k) >= target ? KCHAN_OK : KCHAN_TIMEDOUT;
            break;
        }
    }
    /* [K8] relaxed: leaving only makes a later changer's wake unnecessary, never wrong. */
    kchan__atomic_fetch_sub(kchan__cwaiters(k), 1, memory_order_relaxed);
    return r;
}

#ifdef KCHAN_HAVE_LATEST
// >>latest: latest-value channels in shared memory, between processes
/* The region, all fixed-width fields at fixed offsets (offsets and numbers, no pointers):
      [ head: 128 B, written once by create | live words: one 64 B line | slot 0 | slot 1 ... ]
   A slot is a 64 B line with its sequence word, then the frame, padded to a line. Frame f
   (0, 1, 2, ...) goes to slot f % slots; the slot's sequence is 2f + 1 while the writer
   copies it in and 2f + 2 once it is whole (a seqlock per slot). `published` is how many
   frames are whole. A reader copies frame f out of its slot and keeps it only if the
   sequence read before the copy and after it are both 2f + 2; otherwise the writer was
   reusing the slot (it lapped the reader) and the frame is a "late" drop for that reader.
   `published` counts the whole frames in its low 63 bits and says "closed" in its top bit,
   so a close is one instant: every frame published before it is read, none after it.
   Nothing a reader does writes the region but `sleepers`, so a reader that dies harms no
   one. The writer role belongs to one process (its pid and start time in the live words):
   if that process exits, the first reader that waits long enough, any stats call or
   another writer sees it and closes the channel; a slot left odd is the one lost frame,
   a slot left whole but unpublished is published for it. */
#include <unistd.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#if defined(__linux__)
#  include <linux/futex.h>
#  include <sys/syscall.h>
#  include <dirent.h>
#endif

#define KCHAN__LV_MAGIC  UINT64_C(0x314e4843544c4b4b)   /* "KKLTCHN1" in memory on little-endian */
#define KCHAN__LV_LAYOUT 1u
#define KCHAN__LV_ENDIAN 0x0102u
#define KCHAN__LV_HEAD   256u                            /* head + live words, then the slots */
#define KCHAN__LV_SLOTS_MAX 65536u
#define KCHAN__LV_POLL_NS  INT64_C(20000000)             /* a waiting reader's liveness check */
#define KCHAN__LV_CLOSED   (UINT64_C(1) << 63)           /* published's closed bit */

typedef struct {                 /* at offset 0; written by create before magic, then never */
    uint64_t magic;              /* KCHAN__LV_MAGIC, stored last with release ([A0]) */
    uint32_t layout;             /* KCHAN__LV_LAYOUT */
    uint16_t endian;             /* KCHAN__LV_ENDIAN as the creator's byte order stores it */
    uint8_t  ptr_bytes, size_bytes;          /* the creator's sizeof(void *), sizeof(size_t) */
    uint64_t frame_size, slots, stride, slot_off, region_size, epoch;
    uint64_t check;              /* kchan__lv_check of the fields above but magic */
    unsigned char pad[128 - 9 * 8];
    /* the live words, on a line of their own */
    KCHAN__ATOMIC(uint64_t) published;       /* frames whole so far | KCHAN__LV_CLOSED */
    KCHAN__ATOMIC(uint64_t) lost;            /* frames a dead writer left half-written */
    KCHAN__ATOMIC(uint64_t) writer_start;    /* the writer's start time (pid reuse) */
    KCHAN__ATOMIC(uint32_t) writer;          /* pid of the writer, 0 before the first write */
    KCHAN__ATOMIC(uint32_t) closed;          /* why: 0 open, 1 closed, 2 the writer died */
    KCHAN__ATOMIC(uint32_t) pulse;           /* futex word: changes with every frame and close */
    KCHAN__ATOMIC(uint32_t) sleepers;        /* a reader may sleep on pulse */
} kchan__lv_head;
_Static_assert(offsetof(kchan__lv_head, published) == 128, "kchan: latest head layout");
_Static_assert(sizeof(kchan__lv_head) <= KCHAN__LV_HEAD, "kchan: latest head layout");
/* The region is shared between processes: its atomics must be address-free, which the
   standard promises for lock-free ones only. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "kchan: latest-value channels need lock-free 32- and 64-bit atomics");

KCHAN__PRIV kchan__lv_head *kchan__lv(const kchan_latest *h) { return (kchan__lv_head *)(void *)h->base__; }
/* Frame f's slot: its sequence line, then (64 bytes on) the frame. Slots start at
   KCHAN__LV_HEAD, which attach checks the region says. */
KCHAN__PRIV unsigned char *kchan__lv_slot(const kchan_latest *h, uint64_t f)
{
    return h->base__ + KCHAN__LV_HEAD + (f % h->slots__) * h->stride__;
}
KCHAN__PRIV KCHAN__ATOMIC(uint64_t) *kchan__lv_seq(const kchan_latest *h, uint64_t f)
{
    return (KCHAN__ATOMIC(uint64_t) *)(void *)kchan__lv_slot(h, f);
}
KCHAN__PRIV unsigned char *kchan__lv_data(const kchan_latest *h, uint64_t f) { return kchan__lv_slot(h, f) + 64; }

/* FNV-1a over the head's numbers: a region of garbage that happens to start with the
   magic still fails attach. */
KCHAN__PRIV uint64_t kchan__fnv64(const uint64_t *v, int n)
{
    uint64_t x = UINT64_C(0xcbf29ce484222325);
    for (int i = 0; i < n; i++)
        for (int b = 0; b < 8; b++) { x ^= (v[i] >> (8 * b)) & 0xff; x *= UINT64_C(0x100000001b3); }
    return x;
}
KCHAN__PRIV uint64_t kchan__lv_check(const kchan__lv_head *d)
{
    uint64_t v[9] = { d->layout, d->endian, (uint64_t)d->ptr_bytes << 8 | d->size_bytes,
                      d->frame_size, d->slots, d->stride, d->slot_off, d->region_size, d->epoch };
    return kchan__fnv64(v, 9);
}

/* A head's magic read in the other byte order: attach names that case. */
KCHAN__PRIV uint64_t kchan__bswap64(uint64_t x)
{
    uint64_t r = 0;
    for (int b = 0; b < 8; b++) r = r << 8 | ((x >> (8 * b)) & 0xff);
    return r;
}

/* Slot geometry, or 0 if frame_size and slots make no region that fits in size_t. */
KCHAN__PRIV uint64_t kchan__lv_stride(uint64_t frame_size)
{
    if (frame_size == 0 || frame_size > (uint64_t)SIZE_MAX / 4) return 0;
    return (64 + frame_size + 63) / 64 * 64;
}
KCHAN_DEF size_t kchan_latest_region_size(size_t frame_size, uint32_t slots)
{
    uint64_t stride = kchan__lv_stride(frame_size);
    if (!stride || slots < 2 || slots > KCHAN__LV_SLOTS_MAX || stride > ((uint64_t)SIZE_MAX - KCHAN__LV_HEAD) / slots)
        return 0;
    return (size_t)(KCHAN__LV_HEAD + stride * slots);
}

#if defined(__linux__)
/* Whether /proc/<pid>/task lists a thread besides the leader (path: a buffer to use). */
KCHAN__PRIV bool kchan__proc_more_threads(uint32_t pid, char *path, size_t size)
{
    char tmp[KCHAN__DIGITS_MAX];
    size_t len = 0;
    kchan__append(path, size, &len, "/proc/");
    kchan__append(path, size, &len, kchan__digits(pid, 10, tmp));
    kchan__append(path, size, &len, "/task");
    path[len < size ? len : size - 1] = '\0';
    DIR *dir = opendir(path);
    if (!dir) return false;
    const char *self = kchan__digits(pid, 10, tmp);
    bool more = false;
    for (struct dirent *e; !more && (e = readdir(dir)) != NULL;)
        more = e->d_name[0] >= '0' && e->d_name[0] <= '9' && strcmp(e->d_name, self) != 0;
    closedir(dir);
    return more;
}
#endif

/* Whether process `pid` lives, and its start time if /proc tells it (0 if not): Linux's
   /proc/<pid>/stat field 22, clock ticks since boot, which with the pid names a process (a
   pid the kernel has reused has another start time). A zombie (exited, not reaped) is dead.
   When /proc cannot tell (not Linux, no /proc, hidepid, no free descriptor), kill(pid, 0):
   only "no such process" is dead, and the start time is unknown (0). */
KCHAN__PRIV uint64_t kchan__proc_start(uint32_t pid, bool *alive)
{
    *alive = false;
    if (pid == 0 || pid > (uint32_t)INT32_MAX) return 0;
#if defined(__linux__)
    char path[40], tmp[KCHAN__DIGITS_MAX], buf[512];
    size_t len = 0;
    kchan__append(path, sizeof path, &len, "/proc/");
    kchan__append(path, sizeof path, &len, kchan__digits(pid, 10, tmp));
    kchan__append(path, sizeof path, &len, "/stat");
    path[len] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    char *p = NULL;
    if (n > 0) {
        buf[n] = '\0';
        p = strrchr(buf, ')');                 /* the name may hold spaces and parentheses */
    }
    if (p && p[1] == ' ' && p[2]) {
        p += 2;
        /* Exited, not reaped yet; but a leader that called pthread_exit shows Z while its
           other threads run: alive while its task folder lists another thread. */
        if (*p == 'X' || *p == 'x' || (*p == 'Z' && !kchan__proc_more_threads(pid, path, sizeof path))) return 0;
        *alive = true;
        for (int field = 3; field < 22; field++) {  /* p is at field 3 (state); want 22 */
            while (*p && *p != ' ') p++;
            if (!*p) return 0;
            p++;
        }
        uint64_t start = 0;
        while (*p >= '0' && *p <= '9') start = start * 10 + (uint64_t)(*p++ - '0');
        return start;
    }
#endif
    *alive = kill((pid_t)pid, 0) == 0 || errno == EPERM;
    return 0;
}

/* Whether `pid`, which holds the writer role, is the process that took it. */
KCHAN__PRIV bool kchan__lv_writer_alive(kchan__lv_head *d, uint32_t pid)
{
    bool alive;
    uint64_t start = kchan__proc_start(pid, &alive);
    /* [A10] acquire: pairs with [A11]; 0 if the writer has not stored it yet (or could not
       read it), and then the pid alone decides. */
    uint64_t took = kchan__atomic_load(&d->writer_start, memory_order_acquire);
    return alive && (took == 0 || start == 0 || start == took);
}

/* Waiting across processes, on a 32-bit word in the region (the latest and shared
   sections). Linux: a futex without FUTEX_PRIVATE_FLAG, since sleepers and wakers are in
   different processes. Other POSIX systems: polling, 1 ms at most between looks
   (docs/API.md). The waker changes the word first, so a sleeper about to sleep on the old
   value does not. */
KCHAN__PRIV void kchan__shm_wake(KCHAN__ATOMIC(uint32_t) *word)
{
    /* [A5] release: a sleeper that reads the new value ([A5'], [S9]) sees what came before
       it (the element or frame, the close). */
    kchan__atomic_fetch_add(word, 1, memory_order_release);
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)(uintptr_t)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
#endif
}

/* Sleep while *word is `seen`, until `until` on kchan__clock_ns's clock. */
KCHAN__PRIV void kchan__shm_sleep(KCHAN__ATOMIC(uint32_t) *word, uint32_t seen, int64_t until)
{
#if defined(__linux__)
    struct timespec ts = kchan__timespec(until);
    syscall(SYS_futex, (uint32_t *)(uintptr_t)word, FUTEX_WAIT_BITSET, seen, &ts, NULL, FUTEX_BITSET_MATCH_ANY);
#else
    (void)word; (void)seen;
    int64_t ns = until - kchan__clock_ns();
    if (ns > 1000000) ns = 1000000;
    if (ns > 0) { struct timespec ts = kchan__timespec(ns); nanosleep(&ts, NULL); }
#endif
}

/* Wake the sleeping readers, if the flag says there may be some (always for a close). The
   flag is cleared before the pulse changes: a reader reads the pulse before it sets the
   flag, so one that sets it after our clear either read the old pulse (and the change
   below stops its sleep) or the new one (and its flag stays for the next wake). */
KCHAN__PRIV void kchan__lv_wake(kchan__lv_head *d, bool always)
{
    /* [A4] seq_cst: the writer's half of a store-buffering pair with the reader's [A6]
       (store sleepers, then load published; here published was stored, then this load):
       either we see the flag, or the reader sees the new frame and does not sleep. */
    if (!always && kchan__atomic_load(&d->sleepers, memory_order_seq_cst) == 0) return;
    /* [A4'] relaxed: a hint; the pulse's change below is what ends a sleep. */
    kchan__atomic_store(&d->sleepers, 0, memory_order_relaxed);
    kchan__shm_wake(&d->pulse);
}

/* Sleep while the pulse is `seen`, until the deadline (-1: none) or `slice_ns`. */
KCHAN__PRIV void kchan__lv_sleep(kchan__lv_head *d, uint32_t seen, int64_t deadline, int64_t slice_ns)
{
    int64_t until = kchan__clock_ns() + slice_ns;
    kchan__shm_sleep(&d->pulse, seen, deadline >= 0 && deadline < until ? deadline : until);
}

/* Close for good: reason 1 (kchan_latest_close) or 2 (the writer died). For a dead
   writer, first settle its last frame: if it died inside a write (the slot after the last
   published frame is odd), that frame is lost; if it died after the frame was whole but
   before publishing it, publish it. Both are the same whoever does them, so every checker
   does them before the close (a checker killed midway leaves nothing half done). Then one
   closer sets the reason, and the closed bit freezes the count. */
KCHAN__PRIV void kchan__lv_close(kchan__lv_head *d, const kchan_latest *h, uint32_t reason)
{
    if (reason == 2) {
        /* [A14] acquire: the dead writer's last stores ([A3]) are visible. */
        uint64_t p = kchan__atomic_load(&d->published, memory_order_acquire);
        uint64_t seq = (p & KCHAN__LV_CLOSED) ? 0 : kchan__atomic_load(kchan__lv_seq(h, p), memory_order_acquire);   /* [A14] */
        if (seq == 2 * p + 1)
            /* [A15] relaxed: published with the close by [A12']'s release. */
            kchan__atomic_store(&d->lost, 1, memory_order_relaxed);
        else if (seq == 2 * p + 2)
            /* [A15'] release: as the writer's [A3'], for the frame it left unpublished;
               a CAS, since another checker may have done it. */
            (void)kchan__atomic_cas_strong(&d->published, &p, p + 1, memory_order_release, memory_order_relaxed);
    }
    uint32_t open = 0;
    /* [A12] relaxed: the first closer's reason stays (published by [A12']). */
    (void)kchan__atomic_cas_strong(&d->closed, &open, reason, memory_order_relaxed, memory_order_relaxed);
    /* [A12'] acq_rel: the closed bit; from here the count is final. Release: readers that
       see the bit ([A13]) see the reason and `lost`. Every closer sets it (idempotent), so
       a closer killed after the reason leaves a close that the next one completes. */
    kchan__atomic_fetch_or(&d->published, KCHAN__LV_CLOSED, memory_order_acq_rel);
    kchan__lv_wake(d, true);
}

/* If the writer has exited, close the channel (reason 2). True if it is closed now. */
KCHAN__PRIV bool kchan__lv_check_writer(kchan__lv_head *d, const kchan_latest *h)
{
    /* [A13] acquire: pairs with [A12']; the reason and `lost` are seen. */
    if (kchan__atomic_load(&d->published, memory_order_acquire) & KCHAN__LV_CLOSED) return true;
    /* [A16] acquire: as [A10]. */
    uint32_t w = kchan__atomic_load(&d->writer, memory_order_acquire);
    if (w == 0 || kchan__lv_writer_alive(d, w)) return false;
    kchan__lv_close(d, h, 2);
    return true;
}

KCHAN__PRIV int kchan__lv_setup(kchan_latest *h, unsigned char *base, const kchan__lv_head *d)
{
    h->base__ = base;
    h->frame_size__ = d->frame_size;
    h->slots__ = d->slots;
    h->stride__ = d->stride;
    h->epoch__ = d->epoch;
    /* [A17] acquire: pairs with [A3]; the newest frame is whole. A new handle starts at
       it: its first read gets it (or the next one, if there is none yet). */
    uint64_t p = kchan__atomic_load(&((kchan__lv_head *)(void *)base)->published, memory_order_acquire) & ~KCHAN__LV_CLOSED;
    h->next__ = h->first__ = p ? p - 1 : 0;
    h->writer__ = false;
    h->reads__ = h->gaps__ = h->lates__ = 0;
    h->checked__ = kchan__clock_ns();
    h->why__ = NULL;
    return KCHAN_OK;
}

KCHAN_DEF int kchan_latest_create(kchan_latest *h, void *mem, size_t mem_size, const kchan_latest_opts *opts)
{
    if (!h) return KCHAN_INVAL;
    h->base__ = NULL;                          /* unattached until the end */
    h->why__ = "argument";
    if (!mem || !opts || (uintptr_t)mem % 64) return KCHAN_INVAL;
    size_t need = kchan_latest_region_size(opts->frame_size, opts->slots);
    if (!need || mem_size < need) return KCHAN_INVAL;
    kchan__lv_head *d = (kchan__lv_head *)mem;
    /* [A0'] relaxed: whoever attaches must see no magic until the head is whole. */
    kchan__atomic_store((KCHAN__ATOMIC(uint64_t) *)(void *)&d->magic, 0, memory_order_relaxed);
    memset((unsigned char *)mem + sizeof d->magic, 0, need - sizeof d->magic);
    d->layout = KCHAN__LV_LAYOUT;
    d->endian = KCHAN__LV_ENDIAN;
    d->ptr_bytes = (uint8_t)sizeof(void *);
    d->size_bytes = (uint8_t)sizeof(size_t);
    d->frame_size = opts->frame_size;
    d->slots = opts->slots;
    d->stride = kchan__lv_stride(opts->frame_size);
    d->slot_off = KCHAN__LV_HEAD;
    d->region_size = need;
    d->epoch = ((uint64_t)kchan__clock_ns() << 16 ^ (uint64_t)getpid()) | 1;
    d->check = kchan__lv_check(d);
    /* [A0] release: pairs with [A1]; an attacher that sees the magic sees the whole head
       and the zeroed live words and slots (memset above). */
    kchan__atomic_store((KCHAN__ATOMIC(uint64_t) *)(void *)&d->magic, KCHAN__LV_MAGIC, memory_order_release);
    return kchan__lv_setup(h, (unsigned char *)mem, d);
}

KCHAN_DEF int kchan_latest_attach(kchan_latest *h, void *mem, size_t mem_size, const kchan_latest_opts *expect)
{
    if (!h) return KCHAN_INVAL;
    h->base__ = NULL;                          /* unattached until the end */
    h->why__ = "argument";
    if (!mem || (uintptr_t)mem % 64) return KCHAN_INVAL;
    h->why__ = "size: smaller than the head";
    if (mem_size < KCHAN__LV_HEAD) return KCHAN_BADREGION;
    /* The head is copied first, so each field is checked and used as one value (another
       process may scribble on the region while we look). */
    kchan__lv_head d;
    /* [A1] acquire: pairs with [A0]. */
    uint64_t magic = kchan__atomic_load((KCHAN__ATOMIC(uint64_t) *)mem, memory_order_acquire);
    memcpy((void *)&d, mem, offsetof(kchan__lv_head, published));   /* the fixed part only */
    const char *why = NULL;
    int r = KCHAN_BADREGION;
    if (magic != KCHAN__LV_MAGIC) {
        why = kchan__bswap64(magic) == KCHAN__LV_MAGIC ? "byte order: the region was made on a machine of the other endianness"
                                         : "magic: not a latest-value region, or not created yet";
    } else if (d.layout != KCHAN__LV_LAYOUT) why = "layout version: made by another kchan release";
    else if (d.endian != KCHAN__LV_ENDIAN) why = "byte order";
    else if (d.ptr_bytes != sizeof(void *) || d.size_bytes != sizeof(size_t)) why = "word size: made by a 32-bit process for 64-bit, or the reverse";
    else if (d.check != kchan__lv_check(&d)) why = "header checksum: the head is corrupt";
    else if (d.slot_off != KCHAN__LV_HEAD || d.slots < 2 || d.slots > KCHAN__LV_SLOTS_MAX ||
             kchan__lv_stride(d.frame_size) == 0 ||      /* 0 or too large: no stride */
             d.stride != kchan__lv_stride(d.frame_size) || d.region_size == 0 ||
             d.region_size != kchan_latest_region_size((size_t)d.frame_size, (uint32_t)d.slots))
        why = "geometry: frame size, slots and region size disagree";
    else if (d.region_size > mem_size) why = "size: the mapping is smaller than the region (truncated)";
    else if (expect && expect->frame_size && expect->frame_size != d.frame_size) { why = "frame_size"; r = KCHAN_MISMATCH; }
    else if (expect && expect->slots && expect->slots != d.slots) { why = "slots"; r = KCHAN_MISMATCH; }
    if (why) { h->why__ = why; return r; }
    return kchan__lv_setup(h, (unsigned char *)mem, &d);
}

KCHAN_DEF const char *kchan_latest_error(const kchan_latest *h)
{
    return !h ? "argument" : h->why__ ? h->why__ : "none";
}

/* Take the writer role for this handle's process, or say why not: KCHAN_CLOSED (closed,
   or the writer died: a process that got a dead writer's pid has another start time) or
   KCHAN_INVAL (another live process writes). */
KCHAN__PRIV int kchan__lv_claim(kchan_latest *h, kchan__lv_head *d, uint32_t me)
{
    /* [A16'] acquire: as [A16]. */
    uint32_t w = kchan__atomic_load(&d->writer, memory_order_acquire);
    if (kchan__lv_check_writer(d, h)) return KCHAN_CLOSED;   /* closed, or the writer died */
    if (w != 0 && w != me) return KCHAN_INVAL;              /* another live process writes */
    /* [A11'] acq_rel: the pid claims the role (two claimants: one wins); the start time
       follows it ([A11]), so it always belongs to the pid that won. */
    if (w == 0 && !kchan__atomic_cas_strong(&d->writer, &w, me, memory_order_acq_rel, memory_order_acquire))
        return w == me ? KCHAN_OK : KCHAN_INVAL;
    if (w == 0) {
        bool alive;
        /* [A11] release: pairs with [A10]. */
        kchan__atomic_store(&d->writer_start, kchan__proc_start(me, &alive), memory_order_release);
    }
    h->writer__ = true;
    return KCHAN_OK;
}

KCHAN_DEF int kchan_latest_write(kchan_latest *h, const void *frame)
{
    if (!h || !h->base__ || !frame) return KCHAN_INVAL;
    kchan__lv_head *d = kchan__lv(h);
    uint32_t me = (uint32_t)getpid();
    /* [A16''] relaxed: only this process stores its own pid there; a handle that claimed
       the role checks that it is still in this process (a fork copies the handle). */
    if (!h->writer__ || kchan__atomic_load(&d->writer, memory_order_relaxed) != me) {
        h->writer__ = false;
        int r = kchan__lv_claim(h, d, me);
        if (r != KCHAN_OK) return r;
    }
    /* [A2] relaxed: only this process writes the count (a closer sets only the top bit). */
    uint64_t f = kchan__atomic_load(&d->published, memory_order_relaxed);
    if (f & KCHAN__LV_CLOSED) return KCHAN_CLOSED;
    KCHAN__ATOMIC(uint64_t) *seq = kchan__lv_seq(h, f);
    /* [A2'] relaxed, then the release fence: the odd sequence is ordered before every byte
       of the copy, so a reader that sees any of the new bytes sees the sequence change
       ([A8]). This is the seqlock's writer side. */
    kchan__atomic_store(seq, 2 * f + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    memcpy(kchan__lv_data(h, f), frame, (size_t)h->frame_size__);
    /* [A3] release: the frame is whole; pairs with [A7] (and [A14]). */
    kchan__atomic_store(seq, 2 * f + 2, memory_order_release);
    /* [A3'] seq_cst: publishes the frame, unless a close came first (its bit makes the CAS
       fail: the frame is not published, the write says KCHAN_CLOSED); the writer's first
       half of the pair in [A4]. */
    if (!kchan__atomic_cas_strong(&d->published, &f, f + 1, memory_order_seq_cst, memory_order_relaxed))
        return KCHAN_CLOSED;
    kchan__lv_wake(d, false);
    return KCHAN_OK;
}

/* Copy frame f out if it is whole and stays so during the copy (the seqlock's reader side). */
KCHAN__PRIV bool kchan__lv_copy(const kchan_latest *h, uint64_t f, void *out)
{
    KCHAN__ATOMIC(uint64_t) *seq = kchan__lv_seq(h, f);
    /* [A7] acquire: pairs with [A3]; the frame's bytes are there. */
    if (kchan__atomic_load(seq, memory_order_acquire) != 2 * f + 2) return false;
    memcpy(out, kchan__lv_data(h, f), (size_t)h->frame_size__);
    /* [A8] acquire fence, then [A9] relaxed: if the copy read any byte of a later write,
       the fence makes that write's [A2'] visible here and the sequence has moved on. */
    atomic_thread_fence(memory_order_acquire);
    return kchan__atomic_load(seq, memory_order_relaxed) == 2 * f + 2;   /* [A9] */
}

KCHAN_DEF int kchan_latest_read(kchan_latest *h, void *frame, int mode, uint64_t *frame_no, int64_t timeout_ns)
{
    if (!h || !h->base__ || !frame || (mode != KCHAN_READ_LATEST && mode != KCHAN_READ_NEXT) ||
        kchan__bad_timeout(timeout_ns))
        return KCHAN_INVAL;
    kchan__lv_head *d = kchan__lv(h);
    int64_t deadline = kchan__deadline(timeout_ns);
    for (;;) {
        /* [A6'] seq_cst (and so acquire: pairs with [A3'] and [A12']): see [A4]. */
        uint64_t word = kchan__atomic_load(&d->published, memory_order_seq_cst);
        uint64_t p = word & ~KCHAN__LV_CLOSED;
        if (p > h->next__) {
            uint64_t f = mode == KCHAN_READ_LATEST ? p - 1 : h->next__;
            /* Fallen out of the ring: the oldest frame kept but the one the writer will
               overwrite next (reading that one would mostly lose the race). */
            if (p - f >= h->slots__) f = p - h->slots__ + 1;
            h->gaps__ += f - h->next__;
            h->next__ = f + 1;
            if (kchan__lv_copy(h, f, frame)) {
                h->reads__++;
                if (frame_no) *frame_no = f;
                return KCHAN_OK;
            }
            h->lates__++;                      /* the writer came back round to this slot */
            continue;
        }
        if (word & KCHAN__LV_CLOSED) return KCHAN_CLOSED;   /* and every frame before it read */
        int64_t now = kchan__clock_ns();
        if (now - h->checked__ >= KCHAN__LV_POLL_NS) {        /* has the writer died? */
            h->checked__ = now;
            if (kchan__lv_check_writer(d, h)) continue;
        }
        if (timeout_ns == 0) return KCHAN_WOULDBLOCK;
        if (deadline >= 0 && now >= deadline) return KCHAN_TIMEDOUT;
        /* [A5'] acquire: pairs with [A5]. */
        uint32_t seen = kchan__atomic_load(&d->pulse, memory_order_acquire);
        /* [A6] seq_cst: the reader's half of the pair in [A4]: we announce, then look again. */
        kchan__atomic_store(&d->sleepers, 1, memory_order_seq_cst);
        if (kchan__atomic_load(&d->published, memory_order_seq_cst) != word) continue;   /* [A6] */
        kchan__lv_sleep(d, seen, deadline, KCHAN__LV_POLL_NS);
    }
}

KCHAN_DEF int kchan_latest_close(kchan_latest *h)
{
    if (!h || !h->base__) return KCHAN_INVAL;
    kchan__lv_close(kchan__lv(h), h, 1);
    return KCHAN_OK;
}

KCHAN_DEF void kchan_latest_stats_get(const kchan_latest *h, kchan_latest_stats *out)
{
    if (!out) return;
    memset(out, 0, sizeof *out);
    out->version = KCHAN_LATEST_STATS_VERSION;
    if (!h || !h->base__) return;
    kchan__lv_head *d = kchan__lv(h);
    (void)kchan__lv_check_writer(d, h);        /* a dead writer closes the channel now */
    /* [A18] acquire: pairs with [A12']: a closed count comes with its reason and `lost`. */
    uint64_t word = kchan__atomic_load(&d->published, memory_order_acquire);
    out->closed = (word & KCHAN__LV_CLOSED) != 0;
    out->writer_dead = out->closed && kchan__atomic_load(&d->closed, memory_order_acquire) == 2;   /* [A18] */
    out->frames = word & ~KCHAN__LV_CLOSED;
    out->lost = kchan__atomic_load(&d->lost, memory_order_acquire);                 /* [A18] */
    out->writer_pid = (int32_t)kchan__atomic_load(&d->writer, memory_order_acquire); /* [A18] */
    out->first = h->first__;
    out->reads = h->reads__;
    out->gaps = h->gaps__;
    out->lates = h->lates__;
    out->epoch = h->epoch__;
    out->frame_size = (size_t)h->frame_size__;
    out->slots = (uint32_t)h->slots__;
}

KCHAN_DEF int kchan_latest_dump(const kchan_latest *h, char *buf, size_t n)
{
    if (!h || !h->base__ || (!buf && n)) return KCHAN_INVAL;
    kchan_latest_stats s;
    kchan_latest_stats_get(h, &s);
    const struct { const char *key; uint64_t v; } fields[] = {
        { "latest frame_size=", s.frame_size }, { " slots=", s.slots }, { " frames=", s.frames },
        { " lost=", s.lost }, { " writer=", (uint64_t)(uint32_t)s.writer_pid },
        { " first=", s.first }, { " reads=", s.reads }, { " gaps=", s.gaps }, { " lates=", s.lates },
    };
    char tmp[KCHAN__DIGITS_MAX];
    size_t len = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        kchan__append(buf, n, &len, fields[i].key);
        kchan__append(buf, n, &len, kchan__digits(fields[i].v, 10, tmp));
    }
    kchan__append(buf, n, &len, !s.closed ? " state=open" : s.writer_dead ? " state=writer_died" : " state=closed");
    if (n) buf[len < n ? len : n - 1] = '\0';
    return len > INT_MAX ? INT_MAX : (int)len;
}
// >>shared: bounded channels in shared memory, between processes
/* The region, all fixed-width fields at fixed offsets (numbers and offsets, no pointers):
      [ head: 128 B, written once | tail | head | misc | peer table | cells ]
   tail, head and misc are a 64 B line each; the peer table holds one 8 B word per process
   slot; the cells start on a line. A cell is a 64-bit word, then the element. The word is
   [owner: 16 bits | seq: 48 bits], seq being 2p mod 2^48 for the cell's position p:
       2p,     owner 0   free, for the producer of position p
       2p,     owner o   WRITING: the process in peer slot o claimed p and copies in
       2p + 1, owner 0   FULL: p's element, for a consumer
       2p + 1, owner o   READING: the process in slot o claimed it and copies out
       2(p + capacity)   free again, for the next lap (the consumer's release)
   A producer claims the cell at `tail` by one CAS on its word and only then moves tail on;
   anyone who finds a claimed cell at tail moves tail on for it (so a claimer that dies
   between the two holds nobody up). Consumers do the same with `head`. Since a claim names
   its owner, a cell stuck in WRITING or READING names the process to ask about: any op
   that finds a claimed cell in its way asks (at most every KCHAN__SH_POLL_NS per handle,
   kchan__sh_unstick) and, if the owner has exited, recovers the cell by one CAS from the
   exact word it saw (two rescuers cannot both do it, and a cell that moved on meanwhile
   is left alone). A dead producer's committed
   claim becomes a lost send (its kchan_send never returned), a dead consumer's claim a lost
   receive (the element was sent; its kchan_recv never returned); both are counted.
   A process takes a peer slot at its first op through a handle (pid and start time in one
   word, so a reused pid is another process) and gives it back at kchan_destroy; a forked
   child takes its own (kchan__fork_gen). A process that takes a dead process's slot over
   (the slot now names a live process, so nobody else touches the dead one's claims)
   recovers every claim that names it before its first op (kchan__sh_join).
   Close is a bit in tail. A send counts once tail has moved past its claim: a claimer that
   finds tail closed undoes its claim and says KCHAN_CLOSED, and consumers drain up to the
   frozen tail, so every send that returned KCHAN_OK is received or counted. */
#include <pthread.h>

#define KCHAN__SH_MAGIC   UINT64_C(0x31474e5248534b4b)   /* "KKSHRNG1" in memory on little-endian */
#define KCHAN__SH_LAYOUT  1u
#define KCHAN__SH_TABLE   320u                            /* the peer table's offset */
#define KCHAN__SH_PEERS_DEFAULT 64u
#define KCHAN__SH_PEERS_MAX     4096u
#define KCHAN__SH_CAP_MAX (UINT64_C(1) << 40)
#define KCHAN__SH_CLOSED  (UINT64_C(1) << 63)             /* tail's closed bit */
#define KCHAN__SH_SEQ     ((UINT64_C(1) << 48) - 1)
#define KCHAN__SH_POLL_NS INT64_C(20000000)               /* a waiter's liveness check */
#define KCHAN__SH_SELECT_POLL_NS INT64_C(1000000)         /* a select's look at shared cases */
#define KCHAN__SH_SWEEP_MAX (UINT64_C(1) << 16)           /* stats looks at every cell up to this */

typedef struct {                 /* at offset 0; written by create before magic, then never */
    uint64_t magic;              /* KCHAN__SH_MAGIC, stored last with release ([S0]) */
    uint32_t layout;             /* KCHAN__SH_LAYOUT */
    uint16_t endian;             /* KCHAN__LV_ENDIAN as the creator's byte order stores it */
    uint8_t  ptr_bytes, size_bytes;
    uint64_t elem_size, capacity, stride, cells_off, region_size, epoch;
    uint32_t policy, peers;
    uint64_t check;              /* kchan__sh_check of the fields above but magic */
    unsigned char pad[128 - 10 * 8];
    KCHAN__ATOMIC(uint64_t) tail;            /* next position to claim | KCHAN__SH_CLOSED */
    unsigned char pad_tail[56];
    KCHAN__ATOMIC(uint64_t) head;            /* next position to take */
    unsigned char pad_head[56];
    KCHAN__ATOMIC(uint32_t) recv_pulse, recv_sleepers;   /* futex word, flag: receivers */
    KCHAN__ATOMIC(uint32_t) send_pulse, send_sleepers;   /* ... and senders */
    KCHAN__ATOMIC(uint64_t) closing;         /* 1 << 32 | the first closer's reason, 0 before */
    KCHAN__ATOMIC(uint64_t) drops_newest, drops_oldest, lost_sending, lost_receiving, undelivered;
} kchan__sh_head;
_Static_assert(offsetof(kchan__sh_head, tail) == 128 && offsetof(kchan__sh_head, head) == 192 &&
               sizeof(kchan__sh_head) == KCHAN__SH_TABLE, "kchan: shared head layout");

/* A handle's own part, after its struct kchan (kchan__sh_local_of). */
typedef struct {
    unsigned char *base;
    uint64_t cap, stride, cells_off, peers;
    uint64_t who;                      /* our peer word, pid << 32 | low bits of the start time */
    KCHAN__ATOMIC(uint32_t) peer;      /* our slot + 1 (a claim's owner), 0 before the first op */
    KCHAN__ATOMIC(uint32_t) gen;       /* kchan__fork_gen when the slot was taken */
    KCHAN__ATOMIC(int64_t) checked;    /* when this handle last asked whether a claimer lives */
} kchan__sh_local;

KCHAN__PRIV size_t kchan__sh_local_off(void) { return kchan__align(sizeof(struct kchan), _Alignof(max_align_t)); }
KCHAN__PRIV kchan__sh_local *kchan__sh_of(const kchan_t *c)
{
    return (kchan__sh_local *)(void *)((unsigned char *)(uintptr_t)c + kchan__sh_local_off());
}
KCHAN__PRIV kchan__sh_head *kchan__sh_d(const kchan__sh_local *s) { return (kchan__sh_head *)(void *)s->base; }
KCHAN__PRIV KCHAN__ATOMIC(uint64_t) *kchan__sh_peer_word(const kchan__sh_local *s, uint32_t slot)
{
    return (KCHAN__ATOMIC(uint64_t) *)(void *)(s->base + KCHAN__SH_TABLE + 8 * (size_t)slot);
}
/* Position p's cell: its word, then (8 bytes on) the element. */
KCHAN__PRIV KCHAN__ATOMIC(uint64_t) *kchan__sh_cell(const kchan__sh_local *s, uint64_t p)
{
    return (KCHAN__ATOMIC(uint64_t) *)(void *)(s->base + s->cells_off + (size_t)(p % s->cap) * s->stride);
}
KCHAN__PRIV unsigned char *kchan__sh_data(KCHAN__ATOMIC(uint64_t) *cell) { return (unsigned char *)(void *)cell + 8; }
KCHAN__PRIV uint64_t kchan__sh_word(uint64_t seq, uint32_t owner) { return (uint64_t)owner << 48 | (seq & KCHAN__SH_SEQ); }
KCHAN__PRIV uint32_t kchan__sh_owner(uint64_t w) { return (uint32_t)(w >> 48); }
/* The word's seq less `seq`, as a signed 48-bit difference (seq wraps at 2^48). */
KCHAN__PRIV int64_t kchan__sh_diff(uint64_t w, uint64_t seq)
{
    uint64_t x = (w - seq) & KCHAN__SH_SEQ;
    return x & (UINT64_C(1) << 47) ? (int64_t)x - (INT64_C(1) << 48) : (int64_t)x;
}

/* The position a claim in the cell of position `at` is for: `at` itself (WRITING at, or
   READING at with head behind) or the lap before (at - capacity). */
KCHAN__PRIV uint64_t kchan__sh_claim_pos(uint64_t at, uint64_t w)
{
    int64_t dd = kchan__sh_diff(w, 2 * at);
    return at + (uint64_t)(dd >= 0 ? dd / 2 : -((1 - dd) / 2));   /* floor(dd / 2) */
}

KCHAN__PRIV uint64_t kchan__sh_check(const kchan__sh_head *d)
{
    uint64_t v[11] = { d->layout, d->endian, (uint64_t)d->ptr_bytes << 8 | d->size_bytes,
                       d->elem_size, d->capacity, d->stride, d->cells_off, d->region_size,
                       d->epoch, d->policy, d->peers };
    return kchan__fnv64(v, 11);
}

KCHAN__PRIV uint64_t kchan__sh_stride(size_t elem_size) { return (8 + (uint64_t)elem_size + 7) / 8 * 8; }
KCHAN__PRIV uint64_t kchan__sh_cells_off(uint32_t peers) { return (KCHAN__SH_TABLE + 8 * (uint64_t)peers + 63) / 64 * 64; }

/* A uint64_t parameter: on 32-bit targets a size_t can never exceed the limit, and a
   comparison written on the size_t itself would be "always false" (-Wtype-limits). */
KCHAN__PRIV bool kchan__sh_cap_ok(uint64_t capacity) { return capacity >= 1 && capacity <= KCHAN__SH_CAP_MAX; }

KCHAN_DEF size_t kchan_shared_region_size(size_t elem_size, size_t capacity, uint32_t peers)
{
    if (peers == 0) peers = KCHAN__SH_PEERS_DEFAULT;
    if (elem_size == 0 || elem_size > (size_t)SIZE_MAX / 4 || !kchan__sh_cap_ok(capacity) ||
        peers > KCHAN__SH_PEERS_MAX)
        return 0;
    uint64_t stride = kchan__sh_stride(elem_size), off = kchan__sh_cells_off(peers);
    if (stride > ((uint64_t)SIZE_MAX - off) / capacity) return 0;
    return (size_t)(off + stride * capacity);
}

/* Forked children take peer slots of their own: the handle they inherit names the
   parent's. The child's atfork hook moves the generation on, and a handle whose slot was
   taken in another generation takes a new one. */
static KCHAN__ATOMIC(uint32_t) kchan__fork_gen = 1;
static pthread_once_t kchan__fork_once = PTHREAD_ONCE_INIT;
static void kchan__fork_child(void)
{
    /* [S20] relaxed: the child has one thread while its atfork hooks run. */
    kchan__atomic_fetch_add(&kchan__fork_gen, 1, memory_order_relaxed);
}
static void kchan__fork_hook(void) { (void)pthread_atfork(NULL, NULL, kchan__fork_child); }

#ifdef KCHAN_TESTING
void (*kchan__sh_test_point)(const kchan_t *c, int point) = NULL;
#  define KCHAN__SH_TEST_POINT(c, p) do { if (kchan__sh_test_point) kchan__sh_test_point((c), (p)); } while (0)
#else
#  define KCHAN__SH_TEST_POINT(c, p) ((void)0)
#endif

/* Whether the process a peer word names has exited: its pid is gone or a zombie, or the
   pid now belongs to a process with another start time (kchan__proc_start). 0: nobody. */
KCHAN__PRIV bool kchan__sh_dead(uint64_t who)
{
    if (who == 0) return true;
    bool alive;
    uint32_t took = (uint32_t)who;
    uint64_t start = kchan__proc_start((uint32_t)(who >> 32), &alive);
    return !alive || (took != 0 && start != 0 && (uint32_t)start != took);
}

/* Wake whoever sleeps on `pulse`, if `sleepers` says someone may. After the release store
   that made the cell ready: the fence is this side's half of a store-buffering pair with
   the sleeper's [S11] (it stores the flag, then looks at the cell): either we see its flag
   or it sees our cell. */
KCHAN__PRIV void kchan__sh_wake(KCHAN__ATOMIC(uint32_t) *sleepers, KCHAN__ATOMIC(uint32_t) *pulse, bool always)
{
    if (!always) {
        atomic_thread_fence(memory_order_seq_cst);        /* [S10] */
        /* [S10'] relaxed: ordered by the fence above. */
        if (kchan__atomic_load(sleepers, memory_order_relaxed) == 0) return;
    }
    /* [S10''] relaxed: a hint; the pulse's change is what ends a sleep (as [A4']). */
    kchan__atomic_store(sleepers, 0, memory_order_relaxed);
    kchan__shm_wake(pulse);
}

/* Undo or finish a claim whose owner has exited, found in `w`, the word of position p's
   cell. A WRITING claim that tail has passed is a lost send; one tail has not passed is
   made to count first (tail moved on for it), unless tail is closed: then it never counted
   and the cell is simply freed. A READING claim is a lost receive. Then head is moved past
   p if it waits there (as a consumer would), and everyone is woken to look again.
   True if the cell is no longer w. */
KCHAN__PRIV bool kchan__sh_recover(const kchan__sh_local *s, uint64_t p, uint64_t w)
{
    kchan__sh_head *d = kchan__sh_d(s);
    KCHAN__ATOMIC(uint64_t) *cell = kchan__sh_cell(s, p);
    uint64_t seq = w & KCHAN__SH_SEQ, exp = w;
    KCHAN__ATOMIC(uint64_t) *lost = NULL;
    if ((seq & 1) == 0) {
        for (;;) {
            /* [S12] acquire: as [S1]. */
            uint64_t t = kchan__atomic_load(&d->tail, memory_order_acquire);
            if ((t & ~KCHAN__SH_CLOSED) > p) { lost = &d->lost_sending; break; }
            if ((t & ~KCHAN__SH_CLOSED) < p) return false;   /* no claim could be there: scribbled */
            if (t & KCHAN__SH_CLOSED) {
                /* [S13] release: the cell is free for nobody (tail is frozen); as [S4]. */
                return kchan__atomic_cas_strong(cell, &exp, kchan__sh_word(2 * p, 0),
                                                memory_order_release, memory_order_relaxed) ||
                       exp != w;
            }
            /* [S12'] relaxed: as [S3] (helping a claim count). */
            (void)kchan__atomic_cas_strong(&d->tail, &t, t + 1, memory_order_relaxed, memory_order_relaxed);
        }
    } else {
        lost = &d->lost_receiving;
    }
    /* [S13'] release: as [S6], the cell's release for the next lap. */
    if (kchan__atomic_cas_strong(cell, &exp, kchan__sh_word(2 * (p + s->cap), 0),
                                 memory_order_release, memory_order_relaxed)) {
        /* [S14] relaxed: a counter; stats reads it ([S15]). */
        kchan__atomic_fetch_add(lost, 1, memory_order_relaxed);
        uint64_t h = p;
        /* [S14'] relaxed: as [S5']. */
        (void)kchan__atomic_cas_strong(&d->head, &h, p + 1, memory_order_relaxed, memory_order_relaxed);
        kchan__sh_wake(&d->send_sleepers, &d->send_pulse, true);
        kchan__sh_wake(&d->recv_sleepers, &d->recv_pulse, true);
        return true;
    }
    return exp != w;
}

/* If the cell word w (position p) is claimed by a process that has exited, recover it. */
KCHAN__PRIV bool kchan__sh_rescue(const kchan__sh_local *s, uint64_t p, uint64_t w)
{
    uint32_t o = kchan__sh_owner(w);
    if (o == 0) return false;
    /* [S16] acquire: the word a slot's owner stored with [S17]. A slot number beyond the
       table (a scribbled word) names nobody: dead. */
    uint64_t who = o <= s->peers ? kchan__atomic_load(kchan__sh_peer_word(s, o - 1), memory_order_acquire) : 0;
    return kchan__sh_dead(who) && kchan__sh_recover(s, p, w);
}

/* An op found the cell of position `at` (its tail or head) in its way, holding word w.
   If a claim holds it (WRITING or READING, of position at or of the lap before) and this
   handle has not asked in the last KCHAN__SH_POLL_NS, ask whether the claimer lives and
   recover the cell if not. Every op that cannot proceed comes here (try, timeout, select,
   a drop-oldest send), so a dead claimer holds nobody up, whatever the ops. */
KCHAN__PRIV bool kchan__sh_unstick(kchan__sh_local *s, uint64_t at, uint64_t w)
{
    if (kchan__sh_owner(w) == 0) return false;
    int64_t now = kchan__clock_ns();
    /* [S22] relaxed: a rate limit only; a rescue is safe whenever it runs (it asks first). */
    if (now - kchan__atomic_load(&s->checked, memory_order_relaxed) < KCHAN__SH_POLL_NS) return false;
    kchan__atomic_store(&s->checked, now, memory_order_relaxed);                   /* [S22] */
    return kchan__sh_rescue(s, kchan__sh_claim_pos(at, w), w);
}

/* Recover every claim naming `slot + 1` (all of a dead process's claims), or, with
   slot == UINT32_MAX, every claim whose owner has exited (stats). A claim's position is
   rebuilt from its 48-bit seq and tail (kchan__sh_claim_pos: tail or the lap before). */
KCHAN__PRIV void kchan__sh_sweep(const kchan__sh_local *s, uint32_t slot)
{
    kchan__sh_head *d = kchan__sh_d(s);
    for (uint64_t i = 0; i < s->cap; i++) {
        /* [S18] acquire: as [S2]. */
        uint64_t w = kchan__atomic_load(kchan__sh_cell(s, i), memory_order_acquire);
        uint32_t o = kchan__sh_owner(w);
        if (o == 0 || (slot != UINT32_MAX && o != slot + 1)) continue;
        /* [S18'] relaxed: a reference point only; the CAS in kchan__sh_recover decides. */
        uint64_t p = kchan__sh_claim_pos(kchan__atomic_load(&d->tail, memory_order_relaxed) & ~KCHAN__SH_CLOSED, w);
        if (p % s->cap != i) continue;         /* not a word this ring could hold: leave it */
        if (slot == UINT32_MAX) (void)kchan__sh_rescue(s, p, w);
        else (void)kchan__sh_recover(s, p, w);
    }
}

/* Take a peer slot for this process: a free one, else one whose process has exited, once
   its claims are recovered. 0 if every slot belongs to a live process. */
KCHAN__PRIV uint32_t kchan__sh_join(kchan__sh_local *s)
{
    (void)pthread_once(&kchan__fork_once, kchan__fork_hook);
    bool alive;
    uint32_t pid = (uint32_t)getpid();
    s->who = (uint64_t)pid << 32 | (uint32_t)kchan__proc_start(pid, &alive);
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < s->peers; i++) {
            KCHAN__ATOMIC(uint64_t) *slot = kchan__sh_peer_word(s, i);
            /* [S17'] relaxed: the CAS below decides. */
            uint64_t w = kchan__atomic_load(slot, memory_order_relaxed);
            if (w != 0 && (pass == 0 || !kchan__sh_dead(w))) continue;
            /* [S17] acq_rel: one process takes the slot; release: pairs with [S16]. */
            if (!kchan__atomic_cas_strong(slot, &w, s->who, memory_order_acq_rel, memory_order_relaxed))
                continue;
            /* A dead one's slot: its claims name us now, so no rescuer touches them (we
               look alive); we recover them all before our first claim. */
            if (w != 0) kchan__sh_sweep(s, i);
            return i + 1;
        }
    }
    return 0;
}

/* This process's slot + 1 for c, taken at the first op (and again in a forked child). */
KCHAN__PRIV uint32_t kchan__sh_me(kchan_t *c, kchan__sh_local *s)
{
    /* [S19] relaxed: changes only in a forked child before it has a second thread ([S20]). */
    uint32_t g = kchan__atomic_load(&kchan__fork_gen, memory_order_relaxed);
    /* [S19'] acquire: pairs with [S19'']; the slot stored before it is seen. */
    if (kchan__atomic_load(&s->gen, memory_order_acquire) == g)
        return kchan__atomic_load(&s->peer, memory_order_relaxed);   /* [S19'] */
    kchan__lock_acquire(&c->lock);
    /* [S19'] relaxed under the lock: the lock orders the writers. */
    if (kchan__atomic_load(&s->gen, memory_order_relaxed) != g) {
        uint32_t p = kchan__sh_join(s);
        if (p) {
            kchan__atomic_store(&s->peer, p, memory_order_relaxed);   /* [S19''] */
            /* [S19''] release: pairs with [S19']. */
            kchan__atomic_store(&s->gen, g, memory_order_release);
        }
    }
    kchan__lock_release(&c->lock);
    /* [S19'] relaxed: stored by this thread, or by another under the lock we took. */
    return kchan__atomic_load(&s->gen, memory_order_relaxed) == g ? kchan__atomic_load(&s->peer, memory_order_relaxed) : 0;
}

/* A claim at tail position t counts once tail has moved past t (by us, or by a helper);
   KCHAN_CLOSED if tail was closed at t first. */
KCHAN__PRIV int kchan__sh_commit(kchan__sh_head *d, uint64_t t)
{
    uint64_t cur = t;
    /* [S3] relaxed: tail orders nothing by itself; the cell's word carries the element
       ([S4]), and close's bit is read in the same modification order. */
    while (!kchan__atomic_cas_strong(&d->tail, &cur, t + 1, memory_order_relaxed, memory_order_relaxed)) {
        if ((cur & ~KCHAN__SH_CLOSED) > t) return KCHAN_OK;
        if (cur & KCHAN__SH_CLOSED) return KCHAN_CLOSED;
    }
    return KCHAN_OK;
}

/* One send attempt: KCHAN_OK, KCHAN_CLOSED, or KCHAN_WOULDBLOCK (full), with the position
   and word of the cell it would wait on in *at and *seen. */
KCHAN__PRIV int kchan__sh_push(const kchan_t *c, const kchan__sh_local *s, uint32_t me, const void *elem,
                               uint64_t *at, uint64_t *seen)
{
    kchan__sh_head *d = kchan__sh_d(s);
    for (;;) {
        /* [S1] acquire: a tail we act on is at least as new as the claims before it. */
        uint64_t t = kchan__atomic_load(&d->tail, memory_order_acquire);
        if (t & KCHAN__SH_CLOSED) return KCHAN_CLOSED;
        KCHAN__ATOMIC(uint64_t) *cell = kchan__sh_cell(s, t);
        /* [S2] acquire: pairs with the last consumer's [S6]; its copy out is done. */
        uint64_t w = kchan__atomic_load(cell, memory_order_acquire);
        int64_t dd = kchan__sh_diff(w, 2 * t);
        if (dd == 0 && kchan__sh_owner(w) == 0) {
            /* [S2'] acq_rel on success: acquire as [S2]; release: a rescuer that reads our
               claim ([S16], [S18]) sees our peer slot taken ([S17]) and tail at t. */
            if (!kchan__atomic_cas_strong(cell, &w, kchan__sh_word(2 * t, me), memory_order_acq_rel, memory_order_relaxed))
                continue;
            /* [S2''] release fence: the claim is ordered before every byte we copy in, so a
               peek that sees any of them sees the claim's seq ([S21]; as [A2']). */
            atomic_thread_fence(memory_order_release);
            KCHAN__SH_TEST_POINT(c, KCHAN__TP_SH_CLAIMED);
            if (kchan__sh_commit(d, t) != KCHAN_OK) {
                /* [S4'] release: the claim undone (tail is frozen, nobody claims it again). */
                kchan__atomic_store(cell, kchan__sh_word(2 * t, 0), memory_order_release);
                return KCHAN_CLOSED;
            }
            KCHAN__SH_TEST_POINT(c, KCHAN__TP_SH_COMMITTED);
            memcpy(kchan__sh_data(cell), elem, c->elem_size);
            /* [S4] release: the element is whole; pairs with [S5]. */
            kchan__atomic_store(cell, kchan__sh_word(2 * t + 1, 0), memory_order_release);
            return KCHAN_OK;
        }
        /* More than a lap ahead of a tail read just now: no ring leaves that (scribbled).
           A tail read long ago (we were preempted) has moved on: look again. */
        if (dd > 2 * (int64_t)s->cap + 2) {
            /* [S1'] relaxed: compared only; the next round reads it with [S1]. */
            if (kchan__atomic_load(&d->tail, memory_order_relaxed) != t) continue;
            return KCHAN_BADREGION;
        }
        if (dd >= 0) {                 /* claimed by another, or passed: tail is behind */
            /* [S3'] relaxed: as [S3]. */
            (void)kchan__atomic_cas_strong(&d->tail, &t, t + 1, memory_order_relaxed, memory_order_relaxed);
            continue;
        }
        *at = t;                       /* full: the cell still holds the last lap's element */
        *seen = w;
        return KCHAN_WOULDBLOCK;
    }
}

/* One receive attempt: KCHAN_OK, KCHAN_CLOSED (closed and drained), or KCHAN_WOULDBLOCK,
   with *at and *seen as for kchan__sh_push. out may be NULL (an eviction nobody sees). */
KCHAN__PRIV int kchan__sh_pop(const kchan_t *c, const kchan__sh_local *s, uint32_t me, void *out,
                              uint64_t *at, uint64_t *seen)
{
    kchan__sh_head *d = kchan__sh_d(s);
    for (;;) {
        /* [S5'] acquire: as [S1]. */
        uint64_t h = kchan__atomic_load(&d->head, memory_order_acquire);
        KCHAN__ATOMIC(uint64_t) *cell = kchan__sh_cell(s, h);
        /* [S5] acquire: pairs with the producer's [S4]; the element is whole. */
        uint64_t w = kchan__atomic_load(cell, memory_order_acquire);
        int64_t dd = kchan__sh_diff(w, 2 * h + 1);
        if (dd == 0 && kchan__sh_owner(w) == 0) {
            /* [S5''] acq_rel on success: acquire as [S5]; release as [S2']. */
            if (!kchan__atomic_cas_strong(cell, &w, kchan__sh_word(2 * h + 1, me), memory_order_acq_rel, memory_order_relaxed))
                continue;
            KCHAN__SH_TEST_POINT(c, KCHAN__TP_SH_TAKEN);
            uint64_t hh = h;
            /* [S5'''] relaxed: head is a hint, as tail ([S3]); failing means a helper did it. */
            (void)kchan__atomic_cas_strong(&d->head, &hh, h + 1, memory_order_relaxed, memory_order_relaxed);
            if (out) memcpy(out, kchan__sh_data(cell), c->elem_size);
            /* [S6] release: our copy out is done; the cell is free for the next lap ([S2]). */
            kchan__atomic_store(cell, kchan__sh_word(2 * (h + s->cap), 0), memory_order_release);
            return KCHAN_OK;
        }
        if (dd > 2 * (int64_t)s->cap + 2) {     /* as in kchan__sh_push */
            if (kchan__atomic_load(&d->head, memory_order_relaxed) != h) continue;   /* [S1'] */
            return KCHAN_BADREGION;
        }
        if (dd >= 0) {                 /* taken by another, or passed: head is behind */
            (void)kchan__atomic_cas_strong(&d->head, &h, h + 1, memory_order_relaxed, memory_order_relaxed);  /* [S5'''] */
            continue;
        }
        *at = h;
        *seen = w;
        /* [S7] acquire: pairs with close's [S8]; a closed tail is final. Every claim below
           it counted, so it will be whole (or recovered): only at it are we drained. */
        uint64_t t = kchan__atomic_load(&d->tail, memory_order_acquire);
        return (t & KCHAN__SH_CLOSED) && (t & ~KCHAN__SH_CLOSED) <= h ? KCHAN_CLOSED : KCHAN_WOULDBLOCK;
    }
}

/* Drop-oldest: take the oldest element out for a send that found the ring full. */
KCHAN__NOINLINE int kchan__sh_evict(kchan_t *c, const kchan__sh_local *s, uint32_t me, uint64_t *at, uint64_t *seen)
{
    kchan__room room;
    int r = kchan__sh_pop(c, s, me, c->on_undelivered ? room.bytes : NULL, at, seen);
    if (r != KCHAN_OK) return r;
    kchan__sh_head *d = kchan__sh_d(s);
    /* [S14''] relaxed: a counter, as [S14]. */
    kchan__atomic_fetch_add(&d->drops_oldest, 1, memory_order_relaxed);
    kchan__undelivered(c, room.bytes);
    return KCHAN_OK;
}

/* One attempt at the op, with the channel's policy; wakes the other side after a success. */
KCHAN__PRIV int kchan__sh_attempt(kchan_t *c, kchan__sh_local *s, uint32_t me, int dir, void *elem,
                                  uint64_t *at, uint64_t *seen)
{
    kchan__sh_head *d = kchan__sh_d(s);
    if (dir == KCHAN_OP_RECV) {
        int r = kchan__sh_pop(c, s, me, elem, at, seen);
        if (r == KCHAN_OK) kchan__sh_wake(&d->send_sleepers, &d->send_pulse, false);
        return r;
    }
    for (int spins = 0;; spins++) {
        int r = kchan__sh_push(c, s, me, elem, at, seen);
        if (r == KCHAN_OK) kchan__sh_wake(&d->recv_sleepers, &d->recv_pulse, false);
        if (r != KCHAN_WOULDBLOCK || c->policy == KCHAN_BLOCK) return r;
        if (c->policy == KCHAN_DROP_NEWEST) {
            kchan__atomic_fetch_add(&d->drops_newest, 1, memory_order_relaxed);   /* [S14''] */
            kchan__undelivered(c, elem);
            return KCHAN_OK;
        }
        r = kchan__sh_evict(c, s, me, at, seen);
        if (r == KCHAN_CLOSED || r == KCHAN_BADREGION) return r;
        if (r == KCHAN_WOULDBLOCK) {   /* the oldest is being read (or written): let it finish */
            if (spins >= 64) return r; /* or wait for it as any blocked send ([S2]'s cell) */
            kchan__cpu_relax();
        }
    }
}

/* The op within the deadline (-1: none); timeout 0 tries once. Spins a little, then sleeps
   on the side's pulse at most KCHAN__SH_POLL_NS at a time, asking after a claimer in its
   way each round (kchan__sh_unstick). */
KCHAN__PRIV int kchan__sh_wait(kchan_t *c, int dir, void *elem, int64_t timeout_ns, int64_t deadline, bool *blocked)
{
    kchan__sh_local *s = kchan__sh_of(c);
    kchan__sh_head *d = kchan__sh_d(s);
    uint32_t me = kchan__sh_me(c, s);
    if (!me) return KCHAN_NOMEM;                /* the peer table is full of live processes */
    uint64_t at = 0, seen = 0;
    int r;
    do {                               /* again if a dead claimer was in the way */
        if ((r = kchan__sh_attempt(c, s, me, dir, elem, &at, &seen)) != KCHAN_WOULDBLOCK) return r;
    } while (kchan__sh_unstick(s, at, seen));
    if (!kchan__may_wait(timeout_ns)) return r;
    if (!*blocked) kchan__bump_unlocked(dir == KCHAN_OP_SEND ? &c->m.blocked_sends : &c->m.blocked_recvs, 1);
    *blocked = true;
    /* The partner is often on the other core: 30 rounds of spinning (doubling to 64
       pauses), then 10 yields. Not kchan__lf_backoff's schedule (7 spins, then yields): an
       interleaved A/B with it lost 45-70% on MPMC 8 B (bench/shm_ring: 8.1 and 3.8 M/s
       against 14.4 and 13.3 M/s), yields being dear with 4 processes on 2 cores. */
    for (int i = 0; i < 40; i++) {
        if (i < 30) { for (int k = 0; k < (1 << (i < 6 ? i : 6)); k++) kchan__cpu_relax(); }
        else kchan__yield();
        if ((r = kchan__sh_attempt(c, s, me, dir, elem, &at, &seen)) != KCHAN_WOULDBLOCK) return r;
    }
    KCHAN__ATOMIC(uint32_t) *pulse = dir == KCHAN_OP_SEND ? &d->send_pulse : &d->recv_pulse;
    KCHAN__ATOMIC(uint32_t) *flag = dir == KCHAN_OP_SEND ? &d->send_sleepers : &d->recv_sleepers;
    for (;;) {
        /* [S9] acquire: pairs with the pulse's change in kchan__shm_wake (release). */
        uint32_t p = kchan__atomic_load(pulse, memory_order_acquire);
        /* [S11] relaxed, then the fence: the sleeper's half of the pair in [S10]. */
        kchan__atomic_store(flag, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        if ((r = kchan__sh_attempt(c, s, me, dir, elem, &at, &seen)) != KCHAN_WOULDBLOCK) return r;
        if (kchan__sh_unstick(s, at, seen)) continue;   /* held by the dead? */
        int64_t now = kchan__clock_ns();
        if (deadline >= 0 && now >= deadline) return KCHAN_TIMEDOUT;
        int64_t until = now + KCHAN__SH_POLL_NS;
        kchan__shm_sleep(pulse, p, deadline >= 0 && deadline < until ? deadline : until);
    }
}

/* An op's (or a batch's) outcome in the handle's counts. */
KCHAN__PRIV int kchan__sh_count(kchan_t *c, int dir, int r)
{
    if (r == KCHAN_WOULDBLOCK)
        kchan__bump_unlocked(dir == KCHAN_OP_SEND ? &c->m.send_full : &c->m.recv_empty, 1);
    else if (r == KCHAN_TIMEDOUT)
        kchan__bump_unlocked(&c->m.timeouts, 1);
    return r;
}

KCHAN__PRIV int kchan__sh_op(kchan_t *c, int dir, void *elem, int64_t timeout_ns)
{
    bool blocked = false;
    int64_t deadline = kchan__may_wait(timeout_ns) ? kchan__deadline(timeout_ns) : -1;
    return kchan__sh_count(c, dir, kchan__sh_wait(c, dir, elem, timeout_ns, deadline, &blocked));
}

/* A batch is elements one at a time, within one deadline (send), or the first waited for
   and the rest taken while there (recv). */
KCHAN__PRIV int kchan__sh_send_many(kchan_t *c, const void *elems, size_t n, size_t *sent, int64_t timeout_ns)
{
    bool blocked = false;
    int64_t deadline = kchan__may_wait(timeout_ns) ? kchan__deadline(timeout_ns) : -1;
    size_t i = 0;
    int r = KCHAN_OK;
    for (; i < n; i++) {
        const unsigned char *e = (const unsigned char *)elems + i * c->elem_size;
        if ((r = kchan__sh_wait(c, KCHAN_OP_SEND, (void *)(uintptr_t)e, timeout_ns, deadline, &blocked)) != KCHAN_OK)
            break;
    }
    if (sent) *sent = i;
    return kchan__sh_count(c, KCHAN_OP_SEND, r);
}

KCHAN__PRIV int kchan__sh_recv_many(kchan_t *c, void *out, size_t max, size_t *got, int64_t timeout_ns)
{
    int r = kchan__sh_op(c, KCHAN_OP_RECV, out, timeout_ns);
    if (r != KCHAN_OK) return r;
    size_t i = 1;
    bool blocked = true;
    while (i < max && kchan__sh_wait(c, KCHAN_OP_RECV, (unsigned char *)out + i * c->elem_size, 0, -1, &blocked) == KCHAN_OK)
        i++;
    if (got) *got = i;
    return KCHAN_OK;
}

/* A copy of the oldest element: whole if its cell's seq is the same after the copy (a
   consumer's claim does not touch the element; only the next lap's writer does). */
KCHAN__PRIV int kchan__sh_peek(kchan_t *c, void *out)
{
    kchan__sh_local *s = kchan__sh_of(c);
    kchan__sh_head *d = kchan__sh_d(s);
    for (;;) {
        uint64_t h = kchan__atomic_load(&d->head, memory_order_acquire);     /* [S5'] */
        KCHAN__ATOMIC(uint64_t) *cell = kchan__sh_cell(s, h);
        uint64_t w = kchan__atomic_load(cell, memory_order_acquire);         /* [S5] */
        int64_t dd = kchan__sh_diff(w, 2 * h + 1);
        if (dd < 0) {
            uint64_t t = kchan__atomic_load(&d->tail, memory_order_acquire);  /* [S7] */
            return (t & KCHAN__SH_CLOSED) && (t & ~KCHAN__SH_CLOSED) <= h ? KCHAN_CLOSED : KCHAN_WOULDBLOCK;
        }
        if (dd > 2 * (int64_t)s->cap + 2) {     /* as in kchan__sh_push */
            if (kchan__atomic_load(&d->head, memory_order_relaxed) != h) continue;   /* [S1'] */
            return KCHAN_BADREGION;
        }
        if (dd > 0 || kchan__sh_owner(w) != 0) {     /* taken already: head is behind */
            (void)kchan__atomic_cas_strong(&d->head, &h, h + 1, memory_order_relaxed, memory_order_relaxed);  /* [S5'''] */
            continue;
        }
        memcpy(out, kchan__sh_data(cell), c->elem_size);
        /* [S21] acquire fence, then relaxed: a copy that read any byte of the next lap's
           element sees that writer's claim ([S2']) here, as the latest section's [A8]. */
        atomic_thread_fence(memory_order_acquire);
        if (((kchan__atomic_load(cell, memory_order_relaxed) ^ w) & KCHAN__SH_SEQ) == 0) return KCHAN_OK;
    }
}

KCHAN__PRIV int kchan__sh_close(kchan_t *c, int reason, bool discard)
{
    kchan__sh_local *s = kchan__sh_of(c);
    kchan__sh_head *d = kchan__sh_d(s);
    uint64_t open = 0;
    /* [S8'] acq_rel, acquire on failure: the first closer's reason, in one word with the
       "closed" flag; a later closer acquires it, so its [S8] publishes it too. */
    (void)kchan__atomic_cas_strong(&d->closing, &open, UINT64_C(1) << 32 | (uint32_t)reason,
                                   memory_order_acq_rel, memory_order_acquire);
    /* [S8] acq_rel: the closed bit freezes tail; release: a reader that sees it sees the
       reason. Every closer sets it, so a closer killed after [S8'] leaves a close that the
       next completes. */
    uint64_t was = kchan__atomic_fetch_or(&d->tail, KCHAN__SH_CLOSED, memory_order_acq_rel);
    kchan__sh_wake(&d->send_sleepers, &d->send_pulse, true);
    kchan__sh_wake(&d->recv_sleepers, &d->recv_pulse, true);
    if (discard) {                     /* cancel: what is left goes nowhere, counted */
        kchan__room room;
        bool blocked = true, own = false;
        void *buf = NULL;              /* no callback: the elements are not copied out */
        if (c->on_undelivered) {
            own = c->elem_size > KCHAN_EVICT_MAX;
            buf = own ? KCHAN_MALLOC(c->elem_size) : room.bytes;
        }
        /* Closed: waits only for sends that counted before the close to finish. */
        while (kchan__sh_wait(c, KCHAN_OP_RECV, buf, KCHAN_FOREVER, -1, &blocked) == KCHAN_OK) {
            kchan__atomic_fetch_add(&d->undelivered, 1, memory_order_relaxed);   /* [S14''] */
            if (buf) kchan__undelivered(c, buf);
        }
        if (own) KCHAN_FREE(buf);
    }
    return was & KCHAN__SH_CLOSED ? KCHAN_CLOSED : KCHAN_OK;
}

KCHAN__PRIV bool kchan__sh_closed(const kchan_t *c)
{
    /* [S7'] acquire: as [S7]; a closed channel's reason is seen. */
    return (kchan__atomic_load(&kchan__sh_d(kchan__sh_of(c))->tail, memory_order_acquire) & KCHAN__SH_CLOSED) != 0;
}

KCHAN__PRIV int kchan__sh_reason(const kchan_t *c)
{
    if (!kchan__sh_closed(c)) return 0;        /* [S7'] */
    /* [S8''] relaxed: published by [S8], which [S7'] acquired. */
    return (int32_t)(uint32_t)kchan__atomic_load(&kchan__sh_d(kchan__sh_of(c))->closing, memory_order_relaxed);
}

/* Positions, for len and stats: tail and head, head read first so len is never negative
   by a reading order (a helper may still leave head a claim behind: clamped). */
KCHAN__PRIV void kchan__sh_positions(const kchan__sh_local *s, uint64_t *t, uint64_t *h)
{
    kchan__sh_head *d = kchan__sh_d(s);
    /* [S15] acquire: a counter or position read after another is at least as new. */
    *h = kchan__atomic_load(&d->head, memory_order_acquire);
    *t = kchan__atomic_load(&d->tail, memory_order_acquire) & ~KCHAN__SH_CLOSED;   /* [S15] */
}

KCHAN__PRIV size_t kchan__sh_len(const kchan_t *c)
{
    const kchan__sh_local *s = kchan__sh_of(c);
    uint64_t t, h;
    kchan__sh_positions(s, &t, &h);
    return t <= h ? 0 : t - h > s->cap ? (size_t)s->cap : (size_t)(t - h);
}

/* Region-wide counts (every process's), from the positions: tail passed every send that
   counted and every claim a dead producer left (lost_sending), head every element taken
   (received, evicted, discarded by cancel, or lost with a dead process). First, claims of
   processes that have exited are recovered, so they show as lost now. This handle's own
   counts: send_full, recv_empty, timeouts, blocked_*, cancelled_waiters. */
KCHAN__PRIV void kchan__sh_stats(const kchan_t *c, kchan_stats *out)
{
    const kchan__sh_local *s = kchan__sh_of(c);
    kchan__sh_head *d = kchan__sh_d(s);
    if (s->cap <= KCHAN__SH_SWEEP_MAX) {
        kchan__sh_sweep(s, UINT32_MAX);
    } else {                           /* a large ring: the two cells ops wait on */
        uint64_t pos[2];
        kchan__sh_positions(s, &pos[0], &pos[1]);
        for (int i = 0; i < 2; i++) {
            /* [S18] acquire: as in kchan__sh_sweep. */
            uint64_t w = kchan__atomic_load(kchan__sh_cell(s, pos[i]), memory_order_acquire);
            (void)kchan__sh_rescue(s, kchan__sh_claim_pos(pos[i], w), w);
        }
    }
    out->version = KCHAN_STATS_VERSION;
    uint64_t t, h;
    kchan__sh_positions(s, &t, &h);
    uint64_t dn = kchan__atomic_load(&d->drops_newest, memory_order_acquire);   /* [S15] */
    uint64_t dold = kchan__atomic_load(&d->drops_oldest, memory_order_acquire); /* [S15] */
    uint64_t ls = kchan__atomic_load(&d->lost_sending, memory_order_acquire);   /* [S15] */
    uint64_t lr = kchan__atomic_load(&d->lost_receiving, memory_order_acquire); /* [S15] */
    uint64_t un = kchan__atomic_load(&d->undelivered, memory_order_acquire);    /* [S15] */
    uint64_t taken = dold + ls + lr + un;
    out->sends = (t > ls ? t - ls : 0) + dn;
    out->recvs = h > taken ? h - taken : 0;
    out->drops_newest = dn;
    out->drops_oldest = dold;
    out->undelivered = un;
    out->lost_sending = ls;
    out->lost_receiving = lr;
    /* [M2] relaxed: this handle's counters, as the engines' (kchan__bump_unlocked). */
    out->send_full = kchan__atomic_load(&c->m.send_full, memory_order_relaxed);
    out->recv_empty = kchan__atomic_load(&c->m.recv_empty, memory_order_relaxed);          /* [M2] */
    out->timeouts = kchan__atomic_load(&c->m.timeouts, memory_order_relaxed);              /* [M2] */
    out->cancelled_waiters = kchan__atomic_load(&c->m.cancelled_waiters, memory_order_relaxed);   /* [M2] */
    out->blocked_sends = kchan__atomic_load(&c->m.blocked_sends, memory_order_relaxed);    /* [M2] */
    out->blocked_recvs = kchan__atomic_load(&c->m.blocked_recvs, memory_order_relaxed);    /* [M2] */
    out->len = t <= h ? 0 : t - h > s->cap ? (size_t)s->cap : (size_t)(t - h);
    out->cap = (size_t)s->cap;
    out->closed = kchan__sh_closed(c);
}

KCHAN__PRIV int kchan__sh_setup(kchan_t *c, unsigned char *ring, size_t ring_size)
{
    (void)c; (void)ring; (void)ring_size;      /* kchan__sh_open fills the handle's part */
    return KCHAN_OK;
}

/* Detach: give the peer slot back (if this process took it). The region and what it
   holds stay for the other processes; nothing counts as undelivered. */
KCHAN__PRIV void kchan__sh_destroy(kchan_t *c)
{
    kchan__sh_local *s = kchan__sh_of(c);
    /* [S19'] relaxed: as in kchan__sh_me; destroy comes after this process's last op. */
    uint32_t g = kchan__atomic_load(&s->gen, memory_order_relaxed);
    uint32_t p = kchan__atomic_load(&s->peer, memory_order_relaxed);                  /* [S19'] */
    uint64_t who = s->who;
    /* [S17''] release: the slot goes back after every claim we made is done (a CAS: only
       if it is still ours; a process that forked gives back only its own slot). */
    if (p && g == kchan__atomic_load(&kchan__fork_gen, memory_order_relaxed))          /* [S19] */
        (void)kchan__atomic_cas_strong(kchan__sh_peer_word(s, p - 1), &who, 0, memory_order_release, memory_order_relaxed);
}

/* Select: a shared case is tried without a lock, like a lock-free one, but no process can
   wake a select in another, so it registers nothing; the select parks at most
   KCHAN__SH_SELECT_POLL_NS (kchan__sh_case_due) and goes round. */
/* A select's tries count nothing in the handle's send_full / recv_empty (it tries every
   millisecond); blocked = true: not counted as a blocked op either. */
KCHAN__PRIV int kchan__sh_case_op(kchan_case *k)
{
    bool blocked = true;
    return kchan__sh_wait(k->chan, k->op, k->elem, 0, -1, &blocked);
}
KCHAN__PRIV int kchan__sh_case_try(kchan_case *k, kchan__after *a)
{
    (void)a;
    return kchan__sh_case_op(k);
}
KCHAN__PRIV int kchan__sh_case_try_locked(kchan_case *k, kchan__after *a)
{
    (void)k; (void)a;
    return KCHAN_WOULDBLOCK;                   /* tried in the try pass, looked at below */
}
/* Could it complete now? The cell it would take (or fill) is ready, or the channel closed. */
KCHAN__PRIV bool kchan__sh_ready(const kchan_t *c, int op, size_t *sum)
{
    const kchan__sh_local *s = kchan__sh_of(c);
    kchan__sh_head *d = kchan__sh_d(s);
    /* [S15'] acquire: as [S1]/[S5']. */
    uint64_t t = kchan__atomic_load(&d->tail, memory_order_acquire);
    uint64_t h = kchan__atomic_load(&d->head, memory_order_acquire);            /* [S15'] */
    if (sum) *sum += (size_t)(t + h);          /* both only grow (the closed bit too) */
    if (t & KCHAN__SH_CLOSED) return true;
    if (op == KCHAN_OP_SEND) {
        if (c->policy != KCHAN_BLOCK) return true;
        uint64_t w = kchan__atomic_load(kchan__sh_cell(s, t), memory_order_acquire);   /* [S2] */
        return kchan__sh_diff(w, 2 * t) >= 0;
    }
    uint64_t w = kchan__atomic_load(kchan__sh_cell(s, h), memory_order_acquire);       /* [S5] */
    return kchan__sh_diff(w, 2 * h + 1) >= 0;
}
KCHAN__PRIV bool kchan__sh_case_look(const kchan_case *k, size_t *sum, bool nomem)
{
    (void)nomem;
    return kchan__sh_ready(k->chan, k->op, sum);
}
KCHAN__PRIV bool kchan__sh_case_ready(const kchan_case *k, bool nomem)
{
    (void)nomem;
    return kchan__sh_ready(k->chan, k->op, NULL);
}
KCHAN__PRIV int kchan__sh_case_finish(kchan_case *k, int verdict)
{
    return verdict == KCHAN__RETRY ? kchan__sh_case_op(k) : verdict;
}
KCHAN__PRIV int64_t kchan__sh_case_due(const kchan_case *k)
{
    (void)k;
    return kchan__clock_ns() + KCHAN__SH_SELECT_POLL_NS;
}

/* A handle on the region at mem whose head d has been checked: the struct kchan the
   public functions take, then its own part (kchan__sh_local). */
KCHAN__PRIV int kchan__sh_open(kchan_t **out, unsigned char *mem, const kchan__sh_head *d, const kchan_shared_opts *o)
{
    if (o && o->on_undelivered && d->policy == KCHAN_DROP_OLDEST && d->elem_size > KCHAN_EVICT_MAX)
        return KCHAN_INVAL;            /* as kchan_create: an eviction's copy has no room */
    kchan_t *c = (kchan_t *)KCHAN_MALLOC(kchan__sh_local_off() + sizeof(kchan__sh_local));
    if (!c) return KCHAN_NOMEM;
    kchan_opts co;
    memset(&co, 0, sizeof co);
    co.capacity = (size_t)d->capacity;
    co.overflow = (kchan_overflow)d->policy;
    if (o) { co.on_undelivered = o->on_undelivered; co.user = o->user; co.name = o->name; }
    (void)kchan__init(c, NULL, (size_t)d->elem_size, &co, KCHAN__SHARED, (size_t)d->capacity, false);
    kchan__sh_local *s = kchan__sh_of(c);
    memset((void *)s, 0, sizeof *s);
    s->base = mem;
    s->cap = d->capacity;
    s->stride = d->stride;
    s->cells_off = d->cells_off;
    s->peers = d->peers;
    *out = c;
    return KCHAN_OK;
}

KCHAN_DEF int kchan_create_shared(kchan_t **out, void *mem, size_t mem_size, const kchan_shared_opts *opts)
{
    if (out) *out = NULL;
    if (!out || !mem || !opts || (uintptr_t)mem % 64 || (unsigned)opts->overflow > KCHAN_DROP_OLDEST)
        return KCHAN_INVAL;
    uint32_t peers = opts->peers ? opts->peers : KCHAN__SH_PEERS_DEFAULT;
    size_t need = kchan_shared_region_size(opts->elem_size, opts->capacity, peers);
    if (!need || mem_size < need) return KCHAN_INVAL;
    if (opts->on_undelivered && opts->overflow == KCHAN_DROP_OLDEST && opts->elem_size > KCHAN_EVICT_MAX)
        return KCHAN_INVAL;
    kchan__sh_head *d = (kchan__sh_head *)mem;
    /* [S0'] relaxed: whoever attaches must see no magic until the head is whole. */
    kchan__atomic_store((KCHAN__ATOMIC(uint64_t) *)(void *)&d->magic, 0, memory_order_relaxed);
    memset((unsigned char *)mem + sizeof d->magic, 0, KCHAN__SH_TABLE - sizeof d->magic + 8 * (size_t)peers);
    d->layout = KCHAN__SH_LAYOUT;
    d->endian = KCHAN__LV_ENDIAN;
    d->ptr_bytes = (uint8_t)sizeof(void *);
    d->size_bytes = (uint8_t)sizeof(size_t);
    d->elem_size = opts->elem_size;
    d->capacity = opts->capacity;
    d->stride = kchan__sh_stride(opts->elem_size);
    d->cells_off = kchan__sh_cells_off(peers);
    d->region_size = need;
    d->epoch = ((uint64_t)kchan__clock_ns() << 16 ^ (uint64_t)getpid()) | 1;
    d->policy = (uint32_t)opts->overflow;
    d->peers = peers;
    d->check = kchan__sh_check(d);
    for (uint64_t i = 0; i < d->capacity; i++) {    /* cell i is free for position i */
        KCHAN__ATOMIC(uint64_t) *cell = (KCHAN__ATOMIC(uint64_t) *)(void *)((unsigned char *)mem + d->cells_off + i * d->stride);
        /* [S0''] relaxed: published by [S0]. */
        kchan__atomic_store(cell, kchan__sh_word(2 * i, 0), memory_order_relaxed);
    }
    /* [S0] release: pairs with [S0''']; an attacher that sees the magic sees the whole head,
       the zeroed live words and the cells. */
    kchan__atomic_store((KCHAN__ATOMIC(uint64_t) *)(void *)&d->magic, KCHAN__SH_MAGIC, memory_order_release);
    return kchan__sh_open(out, (unsigned char *)mem, d, opts);
}

KCHAN_DEF int kchan_attach(kchan_t **out, void *mem, size_t mem_size, const kchan_shared_opts *expect, const char **why)
{
    const char *no = NULL;
    if (why) *why = "argument";
    if (out) *out = NULL;
    if (!out || !mem || (uintptr_t)mem % 64) return KCHAN_INVAL;
    if (why) *why = "size: smaller than the head";
    if (mem_size < KCHAN__SH_TABLE) return KCHAN_BADREGION;
    kchan__sh_head d;                  /* copied once: each field is checked and used as one value */
    /* [S0'''] acquire: pairs with [S0]. */
    uint64_t magic = kchan__atomic_load((KCHAN__ATOMIC(uint64_t) *)mem, memory_order_acquire);
    memcpy((void *)&d, mem, offsetof(kchan__sh_head, tail));
    int r = KCHAN_BADREGION;
    if (magic != KCHAN__SH_MAGIC)
        no = kchan__bswap64(magic) == KCHAN__SH_MAGIC ? "byte order: the region was made on a machine of the other endianness"
           : magic == KCHAN__LV_MAGIC ? "magic: a latest-value region (kchan_latest_attach)"
           : "magic: not a shared channel region, or not created yet";
    else if (d.layout != KCHAN__SH_LAYOUT) no = "layout version: made by another kchan release";
    else if (d.endian != KCHAN__LV_ENDIAN) no = "byte order";
    else if (d.ptr_bytes != sizeof(void *) || d.size_bytes != sizeof(size_t)) no = "word size: made by a 32-bit process for 64-bit, or the reverse";
    else if (d.check != kchan__sh_check(&d)) no = "header checksum: the head is corrupt";
    else if (d.policy > KCHAN_DROP_OLDEST || d.peers == 0 || d.peers > KCHAN__SH_PEERS_MAX ||
             d.elem_size == 0 || d.elem_size > (uint64_t)SIZE_MAX / 4 || !kchan__sh_cap_ok(d.capacity) ||
             (size_t)d.capacity != d.capacity ||     /* a 32-bit process: it must fit a size_t */
             d.stride != kchan__sh_stride((size_t)d.elem_size) || d.cells_off != kchan__sh_cells_off(d.peers) ||
             d.region_size == 0 ||
             d.region_size != kchan_shared_region_size((size_t)d.elem_size, (size_t)d.capacity, d.peers))
        no = "geometry: element size, capacity, peers and region size disagree";
    else if (d.region_size > mem_size) no = "size: the mapping is smaller than the region (truncated)";
    else if (expect && expect->elem_size && expect->elem_size != d.elem_size) { no = "elem_size"; r = KCHAN_MISMATCH; }
    else if (expect && expect->capacity && expect->capacity != d.capacity) { no = "capacity"; r = KCHAN_MISMATCH; }
    else if (expect && (uint32_t)expect->overflow != d.policy) { no = "overflow"; r = KCHAN_MISMATCH; }
    else if (expect && expect->peers && expect->peers != d.peers) { no = "peers"; r = KCHAN_MISMATCH; }
    if (why) *why = no ? no : "none";
    if (no) return r;
    r = kchan__sh_open(out, (unsigned char *)mem, &d, expect);
    if (r != KCHAN_OK && why) *why = r == KCHAN_NOMEM ? "out of memory" : "on_undelivered with drop-oldest and elements over KCHAN_EVICT_MAX";
    return r;
}

#endif /* KCHAN_HAVE_LATEST */

#ifndef KCHAN_NO_UNLIMITED
// >>stb_ds_end: no stb_ds macro kchan defined survives kchan.h, so the user's stb_ds.h,
// before or after this, means what it says. First kchan's renames and stb_ds internals...
#  undef stbds_arrgrowf
#  undef stbds_arrfreef
#  undef stbds_hmfree_func
#  undef stbds_hmget_key
#  undef stbds_hmget_key_ts
#  undef stbds_hmput_default
#  undef stbds_hmput_key
#  undef stbds_hmdel_key
#  undef stbds_shmode_func
#  undef stbds_hash_bytes
#  undef stbds_hash_string
#  undef stbds_rand_seed
#  undef stbds_stralloc
#  undef stbds_strreset
#  undef stbds_unit_tests
#  undef stbds_string_arena
#  undef stbds_array_header
#  undef stbds_string_block
#  undef stbds_hash_bucket
#  undef stbds_hash_index
#  undef stbds_hash_seed
#  undef stbds_probe_position
#  undef stbds_log2
#  undef stbds_make_hash_index
#  undef stbds_siphash_bytes
#  undef stbds_is_key_equal
#  undef stbds_hm_find_slot
#  undef stbds_strdup
#  undef STBDS_SH_NONE
#  undef STBDS_SH_DEFAULT
#  undef STBDS_SH_STRDUP
#  undef STBDS_SH_ARENA
#  ifdef __cplusplus
#    undef stbds_arrgrowf_wrapper
#    undef stbds_hmget_key_wrapper
#    undef stbds_hmget_key_ts_wrapper
#    undef stbds_hmput_default_wrapper
#    undef stbds_hmput_key_wrapper
#    undef stbds_hmdel_key_wrapper
#    undef stbds_shmode_func_wrapper
#  endif
#  undef STBDS_ALIGN_FWD
#  undef STBDS_ARR_TO_HASH
#  undef STBDS_ASSERT_WAS_UNDEFINED
#  undef STBDS_BUCKET_LENGTH
#  undef STBDS_BUCKET_MASK
#  undef STBDS_BUCKET_SHIFT
#  undef STBDS_CACHE_LINE_SIZE
#  undef STBDS_HASH_DELETED
#  undef STBDS_HASH_EMPTY
#  undef STBDS_HASH_TO_ARR
#  undef STBDS_INDEX_DELETED
#  undef STBDS_INDEX_EMPTY
#  undef STBDS_INDEX_IN_USE
#  undef STBDS_ROTATE_LEFT
#  undef STBDS_ROTATE_RIGHT
#  undef STBDS_SIPROUND
#  undef STBDS_SIZE_T_BITS
#  undef STBDS_STATS
#  undef stbds_hash_table
#  undef stbds_load_32_or_64
#  undef STBDS_REALLOC
#  undef STBDS_FREE
#  undef STBDS_NO_SHORT_NAMES
#  undef STBDS_ASSERT
#  undef KCHAN__STB_DS_H
/* ...then stb_ds's header macros, unless they are the user's (their stb_ds.h came first:
   kchan's copy defined them again, token for token)... */
#  ifndef KCHAN__STB_USER_FIRST
#    undef STBDS_ADDRESSOF
#    undef STBDS_HAS_LITERAL_ARRAY
#    undef STBDS_HAS_TYPEOF
#    undef STBDS_HM_BINARY
#    undef STBDS_HM_STRING
#    undef STBDS_NOTUSED
#    undef STBDS_OFFSETOF
#    undef stbds_arraddn
#    undef stbds_arraddnindex
#    undef stbds_arraddnoff
#    undef stbds_arraddnptr
#    undef stbds_arrcap
#    undef stbds_arrdel
#    undef stbds_arrdeln
#    undef stbds_arrdelswap
#    undef stbds_arrfree
#    undef stbds_arrgrow
#    undef stbds_arrgrowf_wrapper
#    undef stbds_arrins
#    undef stbds_arrinsn
#    undef stbds_arrlast
#    undef stbds_arrlen
#    undef stbds_arrlenu
#    undef stbds_arrmaybegrow
#    undef stbds_arrpop
#    undef stbds_arrpush
#    undef stbds_arrput
#    undef stbds_arrsetcap
#    undef stbds_arrsetlen
#    undef stbds_header
#    undef stbds_hmdefault
#    undef stbds_hmdefaults
#    undef stbds_hmdel
#    undef stbds_hmdel_key_wrapper
#    undef stbds_hmfree
#    undef stbds_hmget
#    undef stbds_hmget_key_ts_wrapper
#    undef stbds_hmget_key_wrapper
#    undef stbds_hmget_ts
#    undef stbds_hmgeti
#    undef stbds_hmgeti_ts
#    undef stbds_hmgetp
#    undef stbds_hmgetp_null
#    undef stbds_hmgetp_ts
#    undef stbds_hmgets
#    undef stbds_hmlen
#    undef stbds_hmlenu
#    undef stbds_hmput
#    undef stbds_hmput_default_wrapper
#    undef stbds_hmput_key_wrapper
#    undef stbds_hmputs
#    undef stbds_pshdel
#    undef stbds_pshget
#    undef stbds_pshgeti
#    undef stbds_pshput
#    undef stbds_sh_new_arena
#    undef stbds_sh_new_strdup
#    undef stbds_shdefault
#    undef stbds_shdefaults
#    undef stbds_shdel
#    undef stbds_shfree
#    undef stbds_shget
#    undef stbds_shgeti
#    undef stbds_shgetp
#    undef stbds_shgetp_null
#    undef stbds_shgets
#    undef stbds_shlen
#    undef stbds_shlenu
#    undef stbds_shmode_func_wrapper
#    undef stbds_shput
#    undef stbds_shputi
#    undef stbds_shputs
#    undef stbds_temp
#    undef stbds_temp_key
#  endif
#  undef KCHAN__STB_USER_FIRST
/* ...and the user's own settings and include guard as they were (undefined if they were). */
#  ifdef KCHAN__STB_PUSH
#    pragma pop_macro("INCLUDE_STB_DS_H")
#    pragma pop_macro("STB_DS_IMPLEMENTATION")
#    pragma pop_macro("STBDS_NO_SHORT_NAMES")
#    pragma pop_macro("STBDS_REALLOC")
#    pragma pop_macro("STBDS_FREE")
#    pragma pop_macro("STBDS_ASSERT")
#    pragma pop_macro("STBDS_UNIT_TESTS")
#    pragma pop_macro("STBDS_SIPHASH_C_ROUNDS")
#    pragma pop_macro("STBDS_SIPHASH_D_ROUNDS")
#    pragma pop_macro("STBDS_STRING_ARENA_BLOCKSIZE_MIN")
#    pragma pop_macro("STBDS_STRING_ARENA_BLOCKSIZE_MAX")
#    undef KCHAN__STB_PUSH
#  endif
#endif /* KCHAN_NO_UNLIMITED */

#ifdef KCHAN__CXX_KEYWORDS
#  undef _Static_assert
#  undef _Alignas
#  undef _Alignof
#  undef _Thread_local
#  undef KCHAN__CXX_KEYWORDS
#endif
#endif /* KCHAN_IMPLEMENTATION */

/*
kchan is available under two licenses: pick whichever you prefer.
Under B you owe nothing, not even a notice, so firmware may ship kchan with no attribution.

------------------------------------------------------------------------------
ALTERNATIVE A - MIT License

Copyright (c) 2026 the kchan authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)

This is free and unencumbered software released into the public domain.

Anyone is free to copy, modify, publish, use, compile, sell, or distribute this software,
either in source code form or as a compiled binary, for any purpose, commercial or
non-commercial, and by any means.

In jurisdictions that recognize copyright laws, the author or authors of this software
dedicate any and all copyright interest in the software to the public domain. We make this
dedication for the benefit of the public at large and to the detriment of our heirs and
successors. We intend this dedication to be an overt act of relinquishment in perpetuity of
all present and future rights to this software under copyright law.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

For more information, please refer to <https://unlicense.org/>
------------------------------------------------------------------------------
*/
