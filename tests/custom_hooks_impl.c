/* The implementation TU for `make test-custom`: kchan built with KCHAN_PLATFORM_CUSTOM and
   the hook contract of API.md implemented here the way an RTOS port would: a lock type of
   its own, and an address wait made of one global mutex + condition variable (every wake
   broadcasts; each sleeper re-checks its word). Running the whole Criterion suite on it
   proves the hooks are all kchan needs. Built with -D_GNU_SOURCE (for clock_gettime). */
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <time.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>

typedef struct { pthread_mutex_t mutex; } test_custom_lock;
#define KCHAN_CUSTOM_LOCK_T test_custom_lock
void    kchan_custom_lock_init(test_custom_lock *l);
void    kchan_custom_lock_destroy(test_custom_lock *l);
void    kchan_custom_lock_acquire(test_custom_lock *l);
void    kchan_custom_lock_release(test_custom_lock *l);
int     kchan_custom_wait(const volatile uint32_t *word, uint32_t expected, int64_t deadline_ns);
void    kchan_custom_wake_all(const volatile uint32_t *word);
int64_t kchan_custom_now_ns(void);

/* The yield hook: counted, so test_evict.c can see a spinning lock-free op call it. */
void    test_custom_yield(void);
long    test_custom_yields(void);

#define KCHAN_CUSTOM_YIELD() test_custom_yield()
#define KCHAN_PLATFORM_CUSTOM
#include "kchan_impl.c"          /* the counting allocator wiring and the implementation */

void kchan_custom_lock_init(test_custom_lock *l)    { pthread_mutex_init(&l->mutex, NULL); }
void kchan_custom_lock_destroy(test_custom_lock *l) { pthread_mutex_destroy(&l->mutex); }
void kchan_custom_lock_acquire(test_custom_lock *l) { pthread_mutex_lock(&l->mutex); }
void kchan_custom_lock_release(test_custom_lock *l) { pthread_mutex_unlock(&l->mutex); }

int64_t kchan_custom_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static pthread_mutex_t sleep_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cond;
static pthread_once_t sleep_once = PTHREAD_ONCE_INIT;
static void sleep_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&sleep_cond, &a);
    pthread_condattr_destroy(&a);
}

int kchan_custom_wait(const volatile uint32_t *word, uint32_t expected, int64_t deadline_ns)
{
    int r = 0;
    pthread_once(&sleep_once, sleep_init);
    pthread_mutex_lock(&sleep_mutex);
    while (r == 0 && *word == expected) {
        if (deadline_ns < 0) {
            pthread_cond_wait(&sleep_cond, &sleep_mutex);
        } else {
            struct timespec ts = { (time_t)(deadline_ns / 1000000000), (long)(deadline_ns % 1000000000) };
            if (pthread_cond_timedwait(&sleep_cond, &sleep_mutex, &ts) == ETIMEDOUT) r = KCHAN_TIMEDOUT;
        }
    }
    pthread_mutex_unlock(&sleep_mutex);
    return r;
}

void kchan_custom_wake_all(const volatile uint32_t *word)
{
    (void)word;                          /* only a key: never read */
    pthread_once(&sleep_once, sleep_init);
    pthread_mutex_lock(&sleep_mutex);
    pthread_cond_broadcast(&sleep_cond);
    pthread_mutex_unlock(&sleep_mutex);
}

static _Atomic long yield_calls;
void test_custom_yield(void)
{
    atomic_fetch_add_explicit(&yield_calls, 1, memory_order_relaxed);   /* a tally, read by one test */
    sched_yield();
}
long test_custom_yields(void) { return atomic_load_explicit(&yield_calls, memory_order_relaxed); }
