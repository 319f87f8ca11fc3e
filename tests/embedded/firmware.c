/* A bare-metal "firmware" for `make embedded`: channels in static storage, a super-loop of
   try operations, no heap. Built for Cortex-M0+ and Cortex-M4 with KCHAN_PLATFORM_NONE or
   KCHAN_PLATFORM_CUSTOM (rtos_port.h), KCHAN_NO_UNLIMITED, and linked with --gc-sections
   so the Makefile can check that no malloc, and no printf (kchan_dump formats its own
   numbers), made it into the image. */
#ifdef KCHAN_PLATFORM_CUSTOM
#  include "rtos_port.h"
#endif
#define KCHAN_NO_UNLIMITED
#define KCHAN_IMPLEMENTATION
#include "../../kchan.h"

KCHAN_DEFINE(sample_ch, uint16_t);

static unsigned char samples_mem[KCHAN_FOOTPRINT(sizeof(uint16_t), 32)];
static unsigned char events_mem[KCHAN_FOOTPRINT(sizeof(uint8_t), 8)];
volatile uint32_t checksum;

int main(void)
{
    kchan_t *samples, *events;
    kchan_opts o = { 32, KCHAN_DROP_OLDEST, 0, 0, "adc" };
    kchan_opts e = { 8, KCHAN_BLOCK, 0, 0, "events" };
    if (kchan_create_in(&samples, samples_mem, sizeof samples_mem, sizeof(uint16_t), &o) != KCHAN_OK ||
        kchan_create_in(&events, events_mem, sizeof events_mem, sizeof(uint8_t), &e) != KCHAN_OK)
        return 1;
    for (uint16_t tick = 0; tick < 1000; tick++) {
        uint16_t s = (uint16_t)(tick * 7u);
        if (sample_ch_try_send((sample_ch *)samples, s) != KCHAN_OK) return 2;   /* the "ISR" */
        if (tick % 16 == 0) { uint8_t ev = (uint8_t)tick; if (kchan_try_send(events, &ev) == KCHAN_CLOSED) return 3; }
        uint16_t v;
        uint8_t ev;
        kchan_case cs[2] = { sample_ch_recv_case((sample_ch *)samples, &v), { events, KCHAN_OP_RECV, &ev, 0 } };
        int r = kchan_select(cs, 2, 0);                                        /* the main loop */
        if (r == 0) checksum += v; else if (r == 1) checksum ^= ev;
    }
    char line[160];                  /* no printf may come with it: newlib-nano's lacks %llu */
    if (kchan_dump(samples, line, sizeof line) <= 0) return 4;
    checksum += (uint8_t)line[0];
    return (int)(checksum & 1u);
}
