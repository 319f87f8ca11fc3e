/* 06_embedded_static.c — channels in static memory in a bare-metal style super-loop.
 *
 * Shows: KCHAN_PLATFORM_NONE (one thread, no locks: an op that would have to wait returns
 * KCHAN_WOULDBLOCK whatever its timeout) with KCHAN_NO_UNLIMITED (no stb_ds); every
 * channel placed in a static array with kchan_create_in + KCHAN_FOOTPRINT; the allocator
 * hooks pointed at a trap that aborts, so any allocation would be caught; KCHAN_NOW_NS
 * reading a SysTick counter. The program has the shape of firmware: "interrupt handlers"
 * (SysTick, an ADC and a UART) that only try_send, and "tasks" called round-robin from
 * main that only use try operations and a timeout-0 select:
 *
 *   adc_isr   --adc_q (bounded 16, drop-newest: an ISR never waits)--> task_filter
 *   task_filter --filtered_q (bounded 8: back-pressure, the task keeps its item)--> task_report
 *   uart_isr  --cmd_q (bounded 4, drop-newest)--> task_report (biased select, timeout 0)
 *   task_report --status (conflated: latest only)--> task_display (peek)
 *   task_report --events (bounded 4, drop-oldest, on_undelivered counts losses)--> task_log
 *
 * For 50 ticks the loop is "busy" (say, a flash erase) and runs no task while the ADC keeps
 * firing: adc_q fills and drops exactly the samples it has no room for. Everything is
 * deterministic, so the checks are exact. Exits non-zero on any mismatch.
 *
 * On a real chip the handlers preempt the tasks, so a channel they share needs the
 * critical-section hooks (kchan.h, INTERRUPT HANDLERS): KCHAN_NONE_CRITICAL_ENTER/EXIT. Here
 * they drive a simulated interrupt mask (PRIMASK): every channel op masks "interrupts" while
 * it changes the channel, and the end of the run checks that each section was closed.
 *
 * Build:  cc -std=c11 -O2 examples/06_embedded_static.c     (no stb_ds, no -lpthread needed)
 */
#define KCHAN_PLATFORM_NONE
#define KCHAN_NO_UNLIMITED
/* No heap on this "target": any allocation by kchan would trap. */
_Noreturn void alloc_trap(const char *what);
#define KCHAN_MALLOC(sz)     ((void)(sz), alloc_trap("malloc"), (void *)0)
#define KCHAN_REALLOC(p, sz) ((void)(p), (void)(sz), alloc_trap("realloc"), (void *)0)
#define KCHAN_FREE(p)        ((void)(p), alloc_trap("free"))
/* kchan_now_ns reads the SysTick counter (1 tick = 1 ms). */
static unsigned long g_systick;
#define KCHAN_NOW_NS()       ((int64_t)g_systick * 1000000)
/* Interrupt masking, as CMSIS would do it on a Cortex-M (simulated: PRIMASK is a variable):
     static inline unsigned irq_save(void) { unsigned k = __get_PRIMASK(); __disable_irq(); return k; }
     #define KCHAN_NONE_CRITICAL_EXIT(k) __set_PRIMASK(k)                                     */
static unsigned g_primask;                /* 1: interrupts masked */
static unsigned long g_critical_sections;
static unsigned irq_save(void) { unsigned k = g_primask; g_primask = 1; g_critical_sections++; return k; }
#define KCHAN_NONE_CRITICAL_ENTER()  irq_save()
#define KCHAN_NONE_CRITICAL_EXIT(k)  (g_primask = (k))
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    TICKS = 10000,                 /* run 10 s of simulated time */
    BUSY_FROM = 5000, BUSY_TICKS = 50,
    ADC_CAP = 16, FILTERED_CAP = 8, CMD_CAP = 4, EVENTS_CAP = 4,
    REPORT_PER_CALL = 2,           /* task_report handles at most this many readings per call */
    LOG_EVERY = 2500,              /* task_log drains the event log this rarely */
    DISPLAY_EVERY = 500,
    ALARM_HIGH = 3900, ALARM_LOW = 3700   /* hysteresis */
};

_Noreturn void alloc_trap(const char *what)
{
    fprintf(stderr, "embedded_static: kchan called %s: no heap allowed here\n", what);
    abort();
}

/* ---- the data -------------------------------------------------------------------------- */
typedef struct adc_sample { uint32_t seq; uint16_t raw; } adc_sample;
typedef struct reading { uint32_t seq; int32_t avg; } reading;
typedef struct status { uint32_t tick, readings, alarms; int32_t last_avg; } status;
typedef struct event { uint32_t tick; uint8_t raised; } event;
KCHAN_DEFINE(adcch, adc_sample);
KCHAN_DEFINE(readingch, reading);
KCHAN_DEFINE(cmdch, char);
KCHAN_DEFINE(statusch, status);
KCHAN_DEFINE(eventch, event);

/* ---- the channels, in static storage: no heap at all --------------------------------- */
static unsigned char adc_mem[KCHAN_FOOTPRINT(sizeof(adc_sample), ADC_CAP)];
static unsigned char filtered_mem[KCHAN_FOOTPRINT(sizeof(reading), FILTERED_CAP)];
static unsigned char cmd_mem[KCHAN_FOOTPRINT(sizeof(char), CMD_CAP)];
static unsigned char status_mem[KCHAN_FOOTPRINT(sizeof(status), KCHAN_CONFLATED)];
static unsigned char events_mem[KCHAN_FOOTPRINT(sizeof(event), EVENTS_CAP)];
_Static_assert(KCHAN_FOOTPRINT(sizeof(int), KCHAN_UNLIMITED) == 0, "no footprint for unlimited");

static adcch *adc_q;
static readingch *filtered_q;
static cmdch *cmd_q;
static statusch *status_ch;
static eventch *events_q;

/* ---- bookkeeping for the checks (a real firmware would not need most of it) --------- */
static uint32_t adc_fired, readings_seen, last_seq_seen, gaps, events_raised, events_logged;
static uint32_t events_lost, display_looks, last_display_tick, commands_run, back_pressured;
static bool seen[TICKS + 1];      /* by sample seq: the SysTick count when it was taken, 1..TICKS */
static int errors;

static void lost_event(void *elem, void *user)    /* on_undelivered of events_q */
{
    (void)elem; (void)user;
    events_lost++;
}

/* ---- interrupt handlers: never wait, only try ----------------------------------------- */
static void systick_isr(void) { g_systick++; }

static uint16_t waveform(uint32_t t)  /* a triangle wave, 0..4095, period 1000 ticks */
{
    uint32_t ph = t % 1000;
    return (uint16_t)((ph < 500 ? ph : 1000 - ph) * 4095 / 500);
}

static void adc_isr(void)
{
    adc_sample s = { (uint32_t)g_systick, waveform((uint32_t)g_systick) };
    adc_fired++;
    if (adcch_try_send(adc_q, s) != KCHAN_OK) errors++;   /* drop-newest: always KCHAN_OK */
}

static void uart_isr(char c)
{
    if (cmdch_try_send(cmd_q, c) != KCHAN_OK) errors++;
}

/* ---- tasks: called round-robin from the super-loop, each returns quickly --------------- */
static void task_filter(void)      /* moving average over the last 4 samples */
{
    static int32_t window[4];
    static uint32_t filled;
    static reading pending;
    static bool have_pending;
    for (;;) {
        if (have_pending) {
            if (readingch_try_send(filtered_q, pending) != KCHAN_OK) { back_pressured++; return; }
            have_pending = false;                  /* sent: now take the next sample */
        }
        adc_sample s;
        if (adcch_try_recv(adc_q, &s) != KCHAN_OK) return;   /* KCHAN_WOULDBLOCK: all done */
        window[filled++ % 4] = s.raw;
        int32_t n = filled < 4 ? (int32_t)filled : 4, sum = 0;
        for (int32_t i = 0; i < n; i++) sum += window[i];
        pending = (reading){ s.seq, sum / n };
        have_pending = true;
    }
}

static void task_report(void)
{
    static bool alarm;
    static uint32_t alarms;
    for (int k = 0; k < REPORT_PER_CALL; k++) {
        reading r;
        char cmd;
        /* Biased select, timeout 0: commands first (and a reproducible run: the fair select
           would pick among ready cases at random). */
        kchan_case cs[] = { cmdch_recv_case(cmd_q, &cmd), readingch_recv_case(filtered_q, &r) };
        int i = kchan_select_biased(cs, 2, 0);
        if (i == KCHAN_WOULDBLOCK) return;
        if (i == 0) {
            status st;
            commands_run++;
            if (cmd == 's' && statusch_peek(status_ch, &st) == KCHAN_OK)
                printf("  [uart 's' at %5lu ms] %" PRIu32 " readings, %" PRIu32 " alarms, last avg %" PRId32 "\n",
                       g_systick, st.readings, st.alarms, st.last_avg);
            continue;
        }
        if (i != 1 || cs[1].status != KCHAN_OK) { errors++; return; }
        /* readings arrive in order, each at most once; gaps only where adc_q dropped */
        if (r.seq > TICKS || seen[r.seq] || (readings_seen > 0 && r.seq <= last_seq_seen)) errors++;
        else seen[r.seq] = true;
        if (readings_seen > 0 && r.seq != last_seq_seen + 1) gaps++;
        last_seq_seen = r.seq;
        readings_seen++;
        bool was = alarm;
        if (!alarm && r.avg >= ALARM_HIGH) alarm = true;
        if (alarm && r.avg <= ALARM_LOW) alarm = false;
        if (alarm != was) {
            event e = { (uint32_t)g_systick, alarm };
            events_raised++;
            alarms += alarm;
            if (eventch_try_send(events_q, e) != KCHAN_OK) errors++;   /* drop-oldest: OK */
        }
        status st = { (uint32_t)g_systick, readings_seen, alarms, r.avg };
        if (statusch_try_send(status_ch, st) != KCHAN_OK) errors++;    /* conflated: OK */
    }
}

static void task_display(void)     /* looks at the latest status, never takes it */
{
    status st;
    if (g_systick % DISPLAY_EVERY != 0 || statusch_peek(status_ch, &st) != KCHAN_OK) return;
    if (st.tick < last_display_tick) errors++;
    last_display_tick = st.tick;
    display_looks++;
}

static void task_log(void)         /* drains the event log, but only now and then */
{
    event e;
    if (g_systick % LOG_EVERY != 0) return;
    while (eventch_try_recv(events_q, &e) == KCHAN_OK) events_logged++;
}

static int create_all(void)
{
    const kchan_opts adc_o = { .capacity = ADC_CAP, .overflow = KCHAN_DROP_NEWEST, .name = "adc_q" };
    const kchan_opts filt_o = { .capacity = FILTERED_CAP, .name = "filtered_q" };
    const kchan_opts cmd_o = { .capacity = CMD_CAP, .overflow = KCHAN_DROP_NEWEST, .name = "cmd_q" };
    const kchan_opts stat_o = { .capacity = KCHAN_CONFLATED, .name = "status" };
    const kchan_opts ev_o = { .capacity = EVENTS_CAP, .overflow = KCHAN_DROP_OLDEST,
                              .on_undelivered = lost_event, .name = "events" };
    kchan_t *base;
    int r = KCHAN_OK;
    r |= kchan_create_in(&base, adc_mem, sizeof adc_mem, sizeof(adc_sample), &adc_o);     adc_q = (adcch *)base;
    r |= kchan_create_in(&base, filtered_mem, sizeof filtered_mem, sizeof(reading), &filt_o); filtered_q = (readingch *)base;
    r |= kchan_create_in(&base, cmd_mem, sizeof cmd_mem, sizeof(char), &cmd_o);          cmd_q = (cmdch *)base;
    r |= kchan_create_in(&base, status_mem, sizeof status_mem, sizeof(status), &stat_o);  status_ch = (statusch *)base;
    r |= kchan_create_in(&base, events_mem, sizeof events_mem, sizeof(event), &ev_o);     events_q = (eventch *)base;
    return r;
}

int main(void)
{
    if (create_all() != KCHAN_OK) { fprintf(stderr, "embedded_static: kchan_create_in failed\n"); return 1; }
    size_t bytes = sizeof adc_mem + sizeof filtered_mem + sizeof cmd_mem + sizeof status_mem + sizeof events_mem;
    printf("embedded_static: 5 channels in %zu bytes of static memory, no heap, no threads\n", bytes);

    /* ---- the super-loop ------------------------------------------------------------- */
    for (uint32_t t = 0; t < TICKS; t++) {
        systick_isr();
        adc_isr();
        if (g_systick == 2500 || g_systick == 7500) uart_isr('s');
        if (g_systick >= BUSY_FROM && g_systick < BUSY_FROM + BUSY_TICKS) continue;   /* "flash erase" */
        task_filter();
        task_report();
        task_display();
        task_log();
    }
    for (int i = 0; i < 64; i++) { task_filter(); task_report(); }     /* let the backlog settle */

    /* ---- with no threads, nothing can wait: blocking calls say KCHAN_WOULDBLOCK -------- */
    adc_sample s;
    kchan_case one[] = { adcch_recv_case(adc_q, &s) };
    int rc_recv = adcch_recv(adc_q, &s);
    int rc_timed = adcch_recv_timeout(adc_q, &s, 1000000000);
    int rc_select = kchan_select(one, 1, KCHAN_FOREVER);
    int rc_wait = kchan_counter_wait_ge(&(kchan_counter)KCHAN_COUNTER_INIT(0), 1, KCHAN_FOREVER);
    kchan_t *dummy;
    unsigned char small[16];
    int rc_small = kchan_create_in(&dummy, small, sizeof small, 4, NULL);
    const kchan_opts unl = { .capacity = KCHAN_UNLIMITED };
    int rc_unl = kchan_create_in(&dummy, adc_mem, sizeof adc_mem, sizeof(adc_sample), &unl);
    printf("on empty channels: recv -> %s, recv_timeout(1 s) -> %s, select(forever) -> %s, "
           "counter_wait_ge -> %s\n", kchan_strerror(rc_recv), kchan_strerror(rc_timed),
           kchan_strerror(rc_select), kchan_strerror(rc_wait));
    if (rc_recv != KCHAN_WOULDBLOCK || rc_timed != KCHAN_WOULDBLOCK || rc_select != KCHAN_WOULDBLOCK ||
        rc_wait != KCHAN_WOULDBLOCK || rc_small != KCHAN_INVAL || rc_unl != KCHAN_INVAL ||
        kchan_now_ns() != (int64_t)TICKS * 1000000) {
        fprintf(stderr, "embedded_static: a blocking call, create_in or the clock misbehaved\n");
        errors++;
    }

    /* ---- exact expectations: the run is deterministic ------------------------------------ */
    kchan_stats as, fs, ss, es;
    adcch_stats_get(adc_q, &as);
    readingch_stats_get(filtered_q, &fs);
    statusch_stats_get(status_ch, &ss);
    eventch_stats_get(events_q, &es);
    /* While busy, adc_q takes the first ADC_CAP samples and drops the rest, and one more:
       the ISR fires before the tasks on the first tick after the busy window, too. */
    const uint32_t drop_from = BUSY_FROM + ADC_CAP, drop_to = BUSY_FROM + BUSY_TICKS;  /* inclusive */
    const uint32_t want_dropped = drop_to - drop_from + 1;
    bool drop_window_ok = true;           /* exactly those samples are missing, nothing else */
    for (uint32_t t = 1; t <= TICKS; t++)
        if (seen[t] == (t >= drop_from && t <= drop_to)) drop_window_ok = false;
    printf("adc: %" PRIu32 " samples, %" PRIu64 " dropped while the loop was busy; %" PRIu32
           " readings reported, 1 gap; the filter was held back %" PRIu32 " times\n",
           adc_fired, as.drops_newest, readings_seen, back_pressured);
    printf("events: %" PRIu32 " raised, %" PRIu32 " logged, %" PRIu32 " evicted (on_undelivered); "
           "status: %" PRIu64 " updates, %" PRIu64 " conflated, %" PRIu32 " looks\n",
           events_raised, events_logged, events_lost, ss.sends, ss.drops_oldest, display_looks);

    if (as.drops_newest != want_dropped || adc_fired != TICKS || readings_seen != TICKS - want_dropped ||
        gaps != 1 || !drop_window_ok ||
        as.sends != as.recvs + as.drops_newest + as.len || fs.sends != fs.recvs + fs.len ||
        fs.len != 0 || as.len != 0 || back_pressured == 0 || commands_run != 2) {
        fprintf(stderr, "embedded_static: the sample path does not add up\n");
        errors++;
    }
    if (events_raised != events_logged + events_lost + es.len || events_lost != es.drops_oldest ||
        events_raised != 20 || events_lost == 0 || es.sends != events_raised) {
        fprintf(stderr, "embedded_static: the event log does not add up\n");
        errors++;
    }
    if (ss.sends != readings_seen || ss.sends != ss.recvs + ss.drops_oldest + ss.len || ss.recvs != 0 ||
        display_looks != TICKS / DISPLAY_EVERY - 1 /* tick 5000 fell in the busy window */) {
        fprintf(stderr, "embedded_static: the status mailbox does not add up\n");
        errors++;
    }

    printf("critical sections: %lu, interrupts unmasked at the end: %s\n", g_critical_sections,
           g_primask == 0 ? "yes" : "NO");
    if (g_primask != 0 || g_critical_sections == 0) {
        fprintf(stderr, "embedded_static: a critical section was left open (or none ran)\n");
        errors++;
    }

    char line[512];
    adcch_dump(adc_q, line, sizeof line);  printf("%s\n", line);
    eventch_dump(events_q, line, sizeof line);  printf("%s\n", line);
    adcch_destroy(adc_q);          /* caller memory: frees nothing (the trap stays silent) */
    readingch_destroy(filtered_q);
    cmdch_destroy(cmd_q);
    statusch_destroy(status_ch);
    eventch_destroy(events_q);
    if (errors) { fprintf(stderr, "embedded_static: %d check(s) FAILED\n", errors); return 1; }
    printf("embedded_static: all checks passed\n");
    return 0;
}
