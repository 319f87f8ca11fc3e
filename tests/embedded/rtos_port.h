/* The shape of an RTOS port for KCHAN_PLATFORM_CUSTOM (API.md's hook contract), as a
   FreeRTOS or Zephyr port would fill it in. Here only declared: `make embedded` compiles
   against it to prove the contract builds for the target; the hook bodies are the port's. */
#include <stdint.h>
typedef struct { void *handle; uint32_t owner; } rtos_mutex;     /* e.g. a SemaphoreHandle_t */
#define KCHAN_CUSTOM_LOCK_T rtos_mutex
void    kchan_custom_lock_init(rtos_mutex *l);
void    kchan_custom_lock_destroy(rtos_mutex *l);
void    kchan_custom_lock_acquire(rtos_mutex *l);
void    kchan_custom_lock_release(rtos_mutex *l);
int     kchan_custom_wait(const volatile uint32_t *word, uint32_t expected, int64_t deadline_ns);
void    kchan_custom_wake_all(const volatile uint32_t *word);
int64_t kchan_custom_now_ns(void);
void    rtos_sleep_one_tick(void);                               /* e.g. vTaskDelay(1) */
#define KCHAN_CUSTOM_YIELD() rtos_sleep_one_tick()   /* lets lower priorities run too */
