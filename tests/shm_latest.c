/* Latest-value channels between processes (docs/API.md, "Latest-value channels"): the
   region's validation, the read modes and their counts, the writer role, close and a
   writer's death, each across fork()ed processes sharing one MAP_SHARED mapping.

   Not in the TSan suites: TSan sees one process, and here the races that matter are
   between processes (and it does not support fork from a threaded parent). What stands
   in for it: every frame carries a content hash that readers check (a torn read fails
   the test), the counts must add up exactly, and the kill campaign kills writers and
   readers at random moments. Built and run under ASan+UBSan on both engines
   (make test-shm). SHM_KILLS sets the campaign's rounds (make stress runs 2000). */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../kchan.h"
#include "shm_common.h"

/* ---- helpers ------------------------------------------------------------------------ */

static void *t_region(size_t frame_size, uint32_t slots, size_t *size)
{
    *size = kchan_latest_region_size(frame_size, slots);
    cr_assert(*size > 0);
    return t_map(*size);
}

/* A new channel of `slots` frames of `frame_size` bytes in a fresh shared mapping: the
   handle in *h, the options in *o, the mapping's size in *size. */
static void *t_channel(size_t frame_size, uint32_t slots, kchan_latest *h, kchan_latest_opts *o, size_t *size)
{
    void *m = t_region(frame_size, slots, size);
    *o = (kchan_latest_opts){ frame_size, slots };
    cr_assert_eq(kchan_latest_create(h, m, *size, o), KCHAN_OK);
    return m;
}

/* Frame f's content: every 8-byte word w is a mix of f and w, the first word is f, and
   the last is a hash of the rest, so a frame mixing two writes fails t_frame_ok. */
static void t_frame_fill(uint64_t *w, size_t words, uint64_t f)
{
    uint64_t h = 0;
    w[0] = f;
    for (size_t i = 1; i + 1 < words; i++) { w[i] = t_mix(f * 1000003u + i); h = t_mix(h ^ w[i]); }
    w[words - 1] = h ^ f;
}
static bool t_frame_ok(const uint64_t *w, size_t words, uint64_t f)
{
    uint64_t h = 0;
    if (w[0] != f) return false;
    for (size_t i = 1; i + 1 < words; i++) { if (w[i] != t_mix(f * 1000003u + i)) return false; h = t_mix(h ^ w[i]); }
    return w[words - 1] == (h ^ f);
}

/* A child's result, written to shared memory before it exits. */
typedef struct {
    uint64_t reads, gaps, lates, first, last, bad, frames_written;
    int status;
    _Atomic int ready;
} t_result;

/* ---- the region and its validation ------------------------------------------------- */

Test(latest, region_size_rejects_what_cannot_exist, .timeout = T_TIMEOUT)
{
    cr_assert_eq(kchan_latest_region_size(0, 4), 0, "a frame of 0 bytes");
    cr_assert_eq(kchan_latest_region_size(8, 0), 0, "no slots");
    cr_assert_eq(kchan_latest_region_size(8, 1), 0, "one slot: the writer would always be in it");
    cr_assert_eq(kchan_latest_region_size(8, 65537), 0, "too many slots");
    cr_assert_eq(kchan_latest_region_size(SIZE_MAX, 2), 0, "a frame that cannot fit");
    cr_assert_eq(kchan_latest_region_size(SIZE_MAX / 8, 65536), 0, "slots x frame overflow");
    size_t s = kchan_latest_region_size(8, 2);
    cr_assert(s > 0 && s % 64 == 0 && s >= 2 * (64 + 8), "got %zu", s);
    cr_assert(kchan_latest_region_size(1 << 20, 4) >= 4u << 20);
}

Test(latest, create_rejects_bad_arguments, .timeout = T_TIMEOUT)
{
    size_t size;
    unsigned char *m = t_region(64, 4, &size);
    kchan_latest h;
    kchan_latest_opts o = { 64, 4 };
    cr_assert_eq(kchan_latest_create(NULL, m, size, &o), KCHAN_INVAL);
    cr_assert_eq(kchan_latest_create(&h, NULL, size, &o), KCHAN_INVAL);
    cr_assert_eq(kchan_latest_create(&h, m, size, NULL), KCHAN_INVAL);
    cr_assert_eq(kchan_latest_create(&h, m, size - 1, &o), KCHAN_INVAL, "smaller than the region");
    cr_assert_eq(kchan_latest_create(&h, m + 8, size - 64, &o), KCHAN_INVAL, "not on a 64-byte line");
    kchan_latest_opts bad = { 64, 1 };
    cr_assert_eq(kchan_latest_create(&h, m, size, &bad), KCHAN_INVAL);
    cr_assert_eq(kchan_latest_create(&h, m, size, &o), KCHAN_OK);
    cr_assert_eq(kchan_latest_write(&h, NULL), KCHAN_INVAL);
    uint64_t buf[8];
    cr_assert_eq(kchan_latest_read(&h, NULL, KCHAN_READ_LATEST, NULL, 0), KCHAN_INVAL);
    cr_assert_eq(kchan_latest_read(&h, buf, 0, NULL, 0), KCHAN_INVAL, "no such mode");
    cr_assert_eq(kchan_latest_read(&h, buf, KCHAN_READ_NEXT, NULL, -5), KCHAN_INVAL, "negative timeout");
    cr_assert_eq(kchan_latest_read(&h, buf, KCHAN_READ_NEXT, NULL, 0), KCHAN_WOULDBLOCK);
    munmap(m, size);
}

static int t_attach(void *m, size_t size, const kchan_latest_opts *expect, const char **why)
{
    kchan_latest h;
    int r = kchan_latest_attach(&h, m, size, expect);
    *why = kchan_latest_error(&h);
    return r;
}

Test(latest, attach_names_what_differs, .timeout = T_TIMEOUT)
{
    size_t size;
    unsigned char *m = t_region(64, 4, &size);
    unsigned char *copy = malloc(size);
    const char *why;
    kchan_latest h;
    kchan_latest_opts o = { 64, 4 };

    cr_assert_eq(t_attach(m, size, &o, &why), KCHAN_BADREGION, "zeroed memory");
    cr_assert(strstr(why, "magic"), "%s", why);
    cr_assert_eq(kchan_latest_create(&h, m, size, &o), KCHAN_OK);
    memcpy(copy, m, size);

    cr_assert_eq(t_attach(m, size, &o, &why), KCHAN_OK, "%s", why);
    cr_assert_eq(t_attach(m, size, NULL, &why), KCHAN_OK, "no expectations");
    kchan_latest_opts any = { 0, 0 };
    cr_assert_eq(t_attach(m, size, &any, &why), KCHAN_OK, "zeros accept any value");

    kchan_latest_opts other = { 32, 4 };
    cr_assert_eq(t_attach(m, size, &other, &why), KCHAN_MISMATCH);
    cr_assert_str_eq(why, "frame_size");
    other = (kchan_latest_opts){ 64, 8 };
    cr_assert_eq(t_attach(m, size, &other, &why), KCHAN_MISMATCH);
    cr_assert_str_eq(why, "slots");

    cr_assert_eq(t_attach(m, size - 1, &o, &why), KCHAN_BADREGION, "truncated mapping");
    cr_assert(strstr(why, "truncated"), "%s", why);
    cr_assert_eq(t_attach(m, 100, &o, &why), KCHAN_BADREGION, "smaller than the head");
    cr_assert_eq(t_attach(m + 8, size - 64, &o, &why), KCHAN_INVAL, "misaligned");

    /* The magic byte-swapped: a region from a machine of the other byte order. */
    for (int i = 0; i < 8; i++) m[i] = copy[7 - i];
    cr_assert_eq(t_attach(m, size, &o, &why), KCHAN_BADREGION);
    cr_assert(strstr(why, "byte order"), "%s", why);
    memcpy(m, copy, size);

    m[8] ^= 1;                                 /* layout version */
    cr_assert_eq(t_attach(m, size, &o, &why), KCHAN_BADREGION);
    cr_assert(strstr(why, "layout"), "%s", why);
    memcpy(m, copy, size);

    m[14] ^= 4;                                /* sizeof(void *) */
    cr_assert_eq(t_attach(m, size, &o, &why), KCHAN_BADREGION);
    cr_assert(strstr(why, "word size"), "%s", why);
    memcpy(m, copy, size);

    m[24] ^= 1;                                /* slots, without the checksum to match */
    cr_assert_eq(t_attach(m, size, &o, &why), KCHAN_BADREGION);
    cr_assert(strstr(why, "checksum"), "%s", why);
    memcpy(m, copy, size);

    /* Every byte of the head that says something: flipped, attach refuses. */
    for (size_t at = 0; at < 72; at++) {
        for (int bit = 0; bit < 8; bit++) {
            m[at] ^= (unsigned char)(1u << bit);
            int r = t_attach(m, size, &o, &why);
            cr_assert(r == KCHAN_BADREGION || r == KCHAN_MISMATCH, "byte %zu bit %d: %d (%s)", at, bit, r, why);
            m[at] ^= (unsigned char)(1u << bit);
        }
    }
    cr_assert_eq(t_attach(m, size, &o, &why), KCHAN_OK);
    free(copy);
    munmap(m, size);
}

Test(latest, attach_survives_garbage, .timeout = T_TIMEOUT)
{
    size_t size = kchan_latest_region_size(4096, 16);
    unsigned char *m = t_map(size);
    srand(12345);
    for (int round = 0; round < 20000; round++) {
        size_t n = round < 10000 ? 256 : size;  /* the head only, then everything */
        for (size_t i = 0; i < n; i++) m[i] = (unsigned char)rand();
        const char *why;
        int r = t_attach(m, size, NULL, &why);
        cr_assert(r == KCHAN_BADREGION, "round %d: %d (%s)", round, r, why);
    }
    munmap(m, size);
}

/* A hostile process rewrites the live words and slot sequences of an attached region:
   readers and the writer return statuses and stay inside the region (ASan would see
   otherwise, and the region is its own mapping, so a wild read faults). */
Test(latest, live_words_of_garbage_stay_inside, .timeout = T_TIMEOUT)
{
    size_t size;
    unsigned char *m = t_region(256, 4, &size);
    kchan_latest w, r;
    kchan_latest_opts o = { 256, 4 };
    cr_assert_eq(kchan_latest_create(&w, m, size, &o), KCHAN_OK);
    cr_assert_eq(kchan_latest_attach(&r, m, size, &o), KCHAN_OK);
    uint64_t frame[32] = { 0 };
    srand(7);
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 128; i < size; i++) if (rand() % 8 == 0) m[i] = (unsigned char)rand();
        int s = kchan_latest_read(&r, frame, round % 2 ? KCHAN_READ_LATEST : KCHAN_READ_NEXT, NULL, 0);
        cr_assert(s == KCHAN_OK || s == KCHAN_WOULDBLOCK || s == KCHAN_CLOSED, "%d", s);
        s = kchan_latest_write(&w, frame);
        cr_assert(s == KCHAN_OK || s == KCHAN_INVAL || s == KCHAN_CLOSED, "%d", s);
        char dump[256];
        cr_assert(kchan_latest_dump(&r, dump, sizeof dump) > 0);
    }
    munmap(m, size);
}

/* The head's checksum as kchan computes it (FNV-1a over its numbers), so a test can forge a
   head that passes the checksum and must still be refused for its geometry. */
static uint64_t t_head_check(const unsigned char *m)
{
    uint32_t layout; uint16_t endian; uint8_t pb, sb;
    uint64_t g[6];
    memcpy(&layout, m + 8, 4); memcpy(&endian, m + 12, 2); pb = m[14]; sb = m[15];
    memcpy(g, m + 16, sizeof g);           /* frame_size, slots, stride, slot_off, region_size, epoch */
    uint64_t v[9] = { layout, endian, (uint64_t)pb << 8 | sb, g[0], g[1], g[2], g[3], g[4], g[5] };
    uint64_t x = UINT64_C(0xcbf29ce484222325);
    for (int i = 0; i < 9; i++)
        for (int b = 0; b < 8; b++) { x ^= (v[i] >> (8 * b)) & 0xff; x *= UINT64_C(0x100000001b3); }
    return x;
}

/* Review H1: a forged head whose frame size has no stride (2^62: stride and region size both
   "0") and a matching checksum was accepted, and the next write copied 2^62 bytes. */
Test(latest, forged_geometry_with_a_valid_checksum_is_refused, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_latest h;
    kchan_latest_opts o;
    unsigned char *m = t_channel(64, 4, &h, &o, &size);
    cr_assert_eq(t_head_check(m), *(uint64_t *)(void *)(m + 64), "the test's checksum is kchan's");
    uint64_t huge = UINT64_C(1) << 62, zero = 0, slots = 2;
    memcpy(m + 16, &huge, 8);                  /* frame_size */
    memcpy(m + 24, &slots, 8);
    memcpy(m + 32, &zero, 8);                  /* stride */
    memcpy(m + 48, &zero, 8);                  /* region_size */
    uint64_t check = t_head_check(m);
    memcpy(m + 64, &check, 8);
    const char *why;
    cr_assert_eq(t_attach(m, size, NULL, &why), KCHAN_BADREGION);
    cr_assert(strstr(why, "geometry"), "%s", why);
    munmap(m, size);
}

/* Review H2: two processes racing for the writer role could leave the winner's pid with the
   loser's start time, and the live winner was then declared dead. Each round: two children
   write their first frame at the same moment; one wins, the other gets KCHAN_INVAL; the
   channel must stay open with a live writer that keeps writing. */
Test(latest, racing_writers_leave_a_live_writer, .timeout = T_TIMEOUT)
{
    size_t size = kchan_latest_region_size(64, 4);
    void *m = t_map(size);
    t_result *res = t_map(3 * sizeof *res);
    const kchan_latest_opts o = { 64, 4 };
    for (int round = 0; round < 60; round++) {
        kchan_latest h;
        cr_assert_eq(kchan_latest_create(&h, m, size, &o), KCHAN_OK);
        memset(res, 0, 3 * sizeof *res);
        pid_t pids[2];
        for (int i = 0; i < 2; i++) {
            if ((pids[i] = t_fork()) == 0) {
                kchan_latest me;
                uint64_t in[8] = { 0 };
                if (kchan_latest_attach(&me, m, size, &o) != KCHAN_OK) _exit(2);
                atomic_fetch_add(&res[2].ready, 1);
                while (atomic_load(&res[2].ready) < 2) sched_yield();
                int r = kchan_latest_write(&me, in);
                res[i].status = r;
                atomic_store(&res[i].ready, 1);
                if (r != KCHAN_OK) _exit(0);
                while (atomic_load(&res[2].ready) < 3) sched_yield();   /* until the parent has looked */
                _exit(kchan_latest_write(&me, in) == KCHAN_OK ? 0 : 1);
            }
        }
        while (!atomic_load(&res[0].ready) || !atomic_load(&res[1].ready)) sched_yield();
        cr_assert((res[0].status == KCHAN_OK) != (res[1].status == KCHAN_OK), "round %d: %d %d", round, res[0].status, res[1].status);
        kchan_latest_stats s;
        kchan_latest_stats_get(&h, &s);        /* checks whether the writer lives */
        cr_assert(!s.closed && !s.writer_dead, "round %d: the live winner was declared dead", round);
        atomic_store(&res[2].ready, 3);
        for (int i = 0; i < 2; i++) cr_assert_eq(t_join(pids[i]), 0, "round %d", round);
    }
    munmap(m, size);
}

/* Review M1: a reader that cannot open /proc (no free descriptor) declared a live writer
   dead and closed the channel for everyone. */
Test(latest, no_free_descriptor_does_not_kill_the_writer, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_latest w;
    kchan_latest_opts o;
    void *m = t_channel(64, 4, &w, &o, &size);
    uint64_t in[8] = { 0 };
    cr_assert_eq(kchan_latest_write(&w, in), KCHAN_OK, "this process is the writer");
    pid_t pid = t_fork();
    if (pid == 0) {
        kchan_latest r;
        if (kchan_latest_attach(&r, m, size, &o) != KCHAN_OK) _exit(2);
        struct rlimit lim = { 16, 16 };
        setrlimit(RLIMIT_NOFILE, &lim);
        while (dup(0) >= 0) {}                 /* every descriptor taken */
        kchan_latest_stats s;
        kchan_latest_stats_get(&r, &s);
        _exit(!s.closed && !s.writer_dead ? 0 : 1);
    }
    cr_assert_eq(t_join(pid), 0, "the live writer was declared dead");
    cr_assert_eq(kchan_latest_write(&w, in), KCHAN_OK);
    munmap(m, size);
}

/* Offsets only: one region mapped at two addresses in one process works through both. */
Test(latest, two_mappings_of_one_region, .timeout = T_TIMEOUT)
{
    size_t size = kchan_latest_region_size(64, 4);
    int fd = memfd_create("kchan-latest-test", 0);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, (off_t)size), 0);
    void *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    void *b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert(a != MAP_FAILED && b != MAP_FAILED && a != b);
    kchan_latest w, r;
    kchan_latest_opts o = { 64, 4 };
    cr_assert_eq(kchan_latest_create(&w, a, size, &o), KCHAN_OK);
    cr_assert_eq(kchan_latest_attach(&r, b, size, &o), KCHAN_OK);
    uint64_t in[8], out[8];
    for (uint64_t f = 0; f < 10; f++) {
        t_frame_fill(in, 8, f);
        cr_assert_eq(kchan_latest_write(&w, in), KCHAN_OK);
        uint64_t no = 99;
        cr_assert_eq(kchan_latest_read(&r, out, KCHAN_READ_NEXT, &no, 0), KCHAN_OK);
        cr_assert_eq(no, f);
        cr_assert(t_frame_ok(out, 8, f));
    }
    munmap(a, size);
    munmap(b, size);
    close(fd);
}

/* ---- read modes and counts, one process --------------------------------------------- */

Test(latest, next_reads_in_order_latest_skips, .timeout = T_TIMEOUT)
{
    size_t size;
    void *m = t_region(64, 4, &size);
    kchan_latest w, next, latest;
    kchan_latest_opts o = { 64, 4 };
    cr_assert_eq(kchan_latest_create(&w, m, size, &o), KCHAN_OK);
    cr_assert_eq(kchan_latest_attach(&next, m, size, &o), KCHAN_OK);
    cr_assert_eq(kchan_latest_attach(&latest, m, size, &o), KCHAN_OK);
    uint64_t in[8], out[8], no;
    cr_assert_eq(kchan_latest_read(&next, out, KCHAN_READ_NEXT, &no, 0), KCHAN_WOULDBLOCK, "nothing yet");
    cr_assert_eq(kchan_latest_read(&next, out, KCHAN_READ_NEXT, &no, KCHAN_MS(5)), KCHAN_TIMEDOUT);
    for (uint64_t f = 0; f < 3; f++) { t_frame_fill(in, 8, f); cr_assert_eq(kchan_latest_write(&w, in), KCHAN_OK); }
    for (uint64_t f = 0; f < 3; f++) {
        cr_assert_eq(kchan_latest_read(&next, out, KCHAN_READ_NEXT, &no, 0), KCHAN_OK);
        cr_assert_eq(no, f);
        cr_assert(t_frame_ok(out, 8, f));
    }
    cr_assert_eq(kchan_latest_read(&latest, out, KCHAN_READ_LATEST, &no, 0), KCHAN_OK);
    cr_assert_eq(no, 2, "the newest");
    cr_assert_eq(kchan_latest_read(&latest, out, KCHAN_READ_LATEST, &no, 0), KCHAN_WOULDBLOCK, "read already");

    /* 10 more: NEXT has fallen out of the ring of 4 (frames 9..12 kept); it goes on at 10,
       the oldest but the one the writer overwrites next (7 gaps); LATEST skips 9. */
    for (uint64_t f = 3; f < 13; f++) { t_frame_fill(in, 8, f); cr_assert_eq(kchan_latest_write(&w, in), KCHAN_OK); }
    cr_assert_eq(kchan_latest_read(&next, out, KCHAN_READ_NEXT, &no, 0), KCHAN_OK);
    cr_assert_eq(no, 10, "the oldest kept but the next to be overwritten");
    cr_assert(t_frame_ok(out, 8, 10));
    cr_assert_eq(kchan_latest_read(&latest, out, KCHAN_READ_LATEST, &no, 0), KCHAN_OK);
    cr_assert_eq(no, 12);
    cr_assert(t_frame_ok(out, 8, 12));

    kchan_latest_stats s;
    kchan_latest_stats_get(&next, &s);
    cr_assert_eq(s.version, KCHAN_LATEST_STATS_VERSION);
    cr_assert_eq(s.frames, 13);
    cr_assert_eq(s.first, 0);
    cr_assert_eq(s.reads, 4);
    cr_assert_eq(s.gaps, 7);
    cr_assert_eq(s.lates, 0);
    cr_assert_eq(s.writer_pid, getpid());
    cr_assert(!s.closed && !s.writer_dead);
    kchan_latest_stats_get(&latest, &s);
    cr_assert_eq(s.reads, 2);
    cr_assert_eq(s.gaps, 11, "frames 0, 1 and 3..11: skipped");

    /* A handle attached now starts at the newest frame. */
    kchan_latest late;
    cr_assert_eq(kchan_latest_attach(&late, m, size, &o), KCHAN_OK);
    cr_assert_eq(kchan_latest_read(&late, out, KCHAN_READ_NEXT, &no, 0), KCHAN_OK);
    cr_assert_eq(no, 12);
    char dump[512];
    int n = kchan_latest_dump(&late, dump, sizeof dump);
    cr_assert(n > 0 && (size_t)n < sizeof dump);
    cr_assert(strstr(dump, "frames=13") && strstr(dump, "first=12 reads=1 gaps=0 lates=0") && strstr(dump, "state=open"), "%s", dump);
    munmap(m, size);
}

Test(latest, close_drains_then_closed, .timeout = T_TIMEOUT)
{
    size_t size;
    void *m = t_region(64, 4, &size);
    kchan_latest w, r;
    kchan_latest_opts o = { 64, 4 };
    cr_assert_eq(kchan_latest_create(&w, m, size, &o), KCHAN_OK);
    cr_assert_eq(kchan_latest_attach(&r, m, size, &o), KCHAN_OK);
    uint64_t in[8], out[8], no;
    for (uint64_t f = 0; f < 2; f++) { t_frame_fill(in, 8, f); cr_assert_eq(kchan_latest_write(&w, in), KCHAN_OK); }
    cr_assert_eq(kchan_latest_close(&r), KCHAN_OK, "any handle may close");
    cr_assert_eq(kchan_latest_close(&r), KCHAN_OK, "twice is harmless");
    cr_assert_eq(kchan_latest_write(&w, in), KCHAN_CLOSED);
    cr_assert_eq(kchan_latest_read(&r, out, KCHAN_READ_NEXT, &no, KCHAN_FOREVER), KCHAN_OK);
    cr_assert_eq(no, 0);
    cr_assert_eq(kchan_latest_read(&r, out, KCHAN_READ_NEXT, &no, KCHAN_FOREVER), KCHAN_OK);
    cr_assert_eq(no, 1);
    cr_assert_eq(kchan_latest_read(&r, out, KCHAN_READ_NEXT, &no, KCHAN_FOREVER), KCHAN_CLOSED);
    kchan_latest_stats s;
    kchan_latest_stats_get(&r, &s);
    cr_assert(s.closed && !s.writer_dead && s.lost == 0);
    munmap(m, size);
}

/* ---- across processes --------------------------------------------------------------- */

/* `n` readers in other processes, asleep (timeout forever, both modes), woken by a write
   of frame 0 (each must get it) or by a close (each must get KCHAN_CLOSED). */
static void t_sleepers_woken(int n, bool by_close)
{
    size_t size;
    kchan_latest h;
    kchan_latest_opts o;
    void *m = t_channel(64, 4, &h, &o, &size);
    t_result *res = t_map(sizeof *res);
    pid_t pids[4];
    for (int i = 0; i < n; i++) {
        if ((pids[i] = t_fork()) == 0) {
            kchan_latest r;
            uint64_t out[8], no = 99;
            if (kchan_latest_attach(&r, m, size, &o) != KCHAN_OK) _exit(2);
            atomic_fetch_add(&res->ready, 1);
            int st = kchan_latest_read(&r, out, i % 2 ? KCHAN_READ_LATEST : KCHAN_READ_NEXT, &no, KCHAN_FOREVER);
            _exit(by_close ? st != KCHAN_CLOSED : st != KCHAN_OK || no != 0 || !t_frame_ok(out, 8, 0));
        }
    }
    while (atomic_load(&res->ready) < n) sched_yield();
    uint64_t in[8];
    t_frame_fill(in, 8, 0);
    cr_assert_eq(by_close ? kchan_latest_close(&h) : kchan_latest_write(&h, in), KCHAN_OK);
    for (int i = 0; i < n; i++) cr_assert_eq(t_join(pids[i]), 0, "reader %d", i);
    munmap(m, size);
}

Test(latest, sleeping_reader_woken_across_processes, .timeout = T_TIMEOUT) { t_sleepers_woken(1, false); }
Test(latest, sleeping_readers_all_woken_by_a_frame, .timeout = T_TIMEOUT) { t_sleepers_woken(4, false); }
/* Close from any process wakes every sleeping reader in every other. */
Test(latest, close_wakes_readers_in_other_processes, .timeout = T_TIMEOUT) { t_sleepers_woken(3, true); }

Test(latest, one_writer_process, .timeout = T_TIMEOUT)
{
    size_t size;
    kchan_latest w;
    kchan_latest_opts o;
    void *m = t_channel(64, 4, &w, &o, &size);
    t_result *res = t_map(sizeof *res);
    uint64_t in[8] = { 0 };
    cr_assert_eq(kchan_latest_write(&w, in), KCHAN_OK, "the first write takes the role");
    pid_t pid = t_fork();
    if (pid == 0) {
        kchan_latest other;
        if (kchan_latest_attach(&other, m, size, &o) != KCHAN_OK) _exit(2);
        _exit(kchan_latest_write(&other, in) == KCHAN_INVAL ? 0 : 1);
    }
    cr_assert_eq(t_join(pid), 0, "a second live writer is refused");
    cr_assert_eq(kchan_latest_write(&w, in), KCHAN_OK);
    munmap(m, size);
}

/* Writer in a child writes `frames` frames (0 = until killed or closed). */
static pid_t t_spawn_writer(void *m, size_t size, const kchan_latest_opts *o, uint64_t frames, t_result *res)
{
    pid_t pid = t_fork();
    if (pid != 0) return pid;
    kchan_latest w;
    if (kchan_latest_attach(&w, m, size, o) != KCHAN_OK) _exit(2);
    size_t words = o->frame_size / 8;
    uint64_t *in = malloc(o->frame_size);
    for (uint64_t f = 0; frames == 0 || f < frames; f++) {
        t_frame_fill(in, words, f);
        if (kchan_latest_write(&w, in) != KCHAN_OK) _exit(3);
        if (res) res->frames_written = f + 1;
    }
    free(in);
    _exit(kchan_latest_close(&w) == KCHAN_OK ? 0 : 4);
}

/* Reader in a child: reads until KCHAN_CLOSED in `mode`, checks every frame, records the
   counts; every `slow`-th read it spins a while (a reader slower than the writer). */
static pid_t t_spawn_reader(void *m, size_t size, const kchan_latest_opts *o, int mode, int slow, t_result *res)
{
    pid_t pid = t_fork();
    if (pid != 0) return pid;
    kchan_latest r;
    if (kchan_latest_attach(&r, m, size, o) != KCHAN_OK) _exit(2);
    size_t words = o->frame_size / 8;
    uint64_t *out = malloc(o->frame_size), no, prev = 0, n = 0;
    bool any = false;
    int s;
    atomic_fetch_add(&res->ready, 1);
    while ((s = kchan_latest_read(&r, out, mode, &no, KCHAN_SEC(20))) == KCHAN_OK) {
        if (!t_frame_ok(out, words, no) || (any && no <= prev)) res->bad++;
        any = true;
        prev = no;
        if (slow && ++n % (uint64_t)slow == 0) for (volatile int i = 0; i < 20000; i++) {}
    }
    kchan_latest_stats st;
    kchan_latest_stats_get(&r, &st);
    res->reads = st.reads;
    res->gaps = st.gaps;
    res->lates = st.lates;
    res->first = st.first;
    res->last = any ? prev : 0;
    res->status = s;
    free(out);
    _exit(0);
}

/* Readers of both modes against a fast writer on a small ring: no frame is ever torn, the
   frame numbers rise, and each reader's reads + gaps + lates is exactly how far it went. */
Test(latest, no_torn_frame_and_counts_add_up, .timeout = T_TIMEOUT)
{
    const kchan_latest_opts o = { 4096, 2 };
    const uint64_t frames = 20000;
    size_t size;
    void *m = t_region(o.frame_size, o.slots, &size);
    t_result *res = t_map(4 * sizeof *res);
    kchan_latest h;
    cr_assert_eq(kchan_latest_create(&h, m, size, &o), KCHAN_OK);
    pid_t r[4];
    for (int i = 0; i < 4; i++) r[i] = t_spawn_reader(m, size, &o, i % 2 ? KCHAN_READ_LATEST : KCHAN_READ_NEXT, i < 2 ? 0 : 4, &res[i]);
    for (int i = 0; i < 4; i++) while (atomic_load(&res[i].ready) == 0) sched_yield();
    pid_t w = t_spawn_writer(m, size, &o, frames, NULL);
    cr_assert_eq(t_join(w), 0);
    uint64_t lates = 0;
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(t_join(r[i]), 0);
        cr_assert_eq(res[i].status, KCHAN_CLOSED, "reader %d", i);
        cr_assert_eq(res[i].bad, 0, "reader %d: a torn or out-of-order frame", i);
        cr_assert_eq(res[i].first, 0);
        cr_assert_eq(res[i].last, frames - 1, "reader %d ends on the last frame", i);
        cr_assert_eq(res[i].reads + res[i].gaps + res[i].lates, frames,
                     "reader %d: %llu reads + %llu gaps + %llu lates", i, (unsigned long long)res[i].reads,
                     (unsigned long long)res[i].gaps, (unsigned long long)res[i].lates);
        lates += res[i].lates;
    }
    cr_log_info("lates over 4 readers: %llu", (unsigned long long)lates);
    munmap(m, size);
}

/* The writer killed while readers sleep: they wake (within the liveness poll), get every
   whole frame they have not read, then KCHAN_CLOSED; the frame it was writing is lost. */
Test(latest, dead_writer_closes, .timeout = T_TIMEOUT)
{
    const kchan_latest_opts o = { 64, 4 };
    size_t size;
    void *m = t_region(o.frame_size, o.slots, &size);
    t_result *res = t_map(sizeof *res);
    kchan_latest h;
    cr_assert_eq(kchan_latest_create(&h, m, size, &o), KCHAN_OK);
    pid_t w = t_fork();
    if (w == 0) {
        kchan_latest me;
        uint64_t in[8];
        if (kchan_latest_attach(&me, m, size, &o) != KCHAN_OK) _exit(2);
        for (uint64_t f = 0; f < 3; f++) { t_frame_fill(in, 8, f); if (kchan_latest_write(&me, in) != KCHAN_OK) _exit(3); }
        atomic_store(&res->ready, 1);
        pause();
        _exit(0);
    }
    while (!atomic_load(&res->ready)) sched_yield();
    kill(w, SIGKILL);                          /* a zombie until we reap it: dead all the same */
    uint64_t out[8], no;
    kchan_latest r;
    cr_assert_eq(kchan_latest_attach(&r, m, size, &o), KCHAN_OK);
    cr_assert_eq(kchan_latest_read(&r, out, KCHAN_READ_NEXT, &no, KCHAN_FOREVER), KCHAN_OK);
    cr_assert_eq(no, 2, "the newest whole frame");
    cr_assert_eq(kchan_latest_read(&r, out, KCHAN_READ_NEXT, &no, KCHAN_FOREVER), KCHAN_CLOSED);
    kchan_latest_stats s;
    kchan_latest_stats_get(&r, &s);
    cr_assert(s.closed && s.writer_dead);
    cr_assert_eq(s.lost, 0, "it died between frames");
    cr_assert_eq(kchan_latest_write(&h, out), KCHAN_CLOSED, "no one takes a dead writer's place");
    cr_assert_eq(t_join(w), 128 + SIGKILL);
    munmap(m, size);
}

/* A writer killed inside a write (64 MiB frames: a write is a long memcpy, and the writer
   does nothing else): the frame it was writing is lost and counted, never returned; every
   frame it finished is still read. Over 5 kills, at least one lands inside a write. */
Test(latest, dead_writer_mid_write_loses_that_frame, .timeout = T_TIMEOUT)
{
    const kchan_latest_opts o = { 64u << 20, 2 };
    size_t size;
    void *m = t_region(o.frame_size, o.slots, &size);
    unsigned char *frame = malloc(o.frame_size);
    int mid = 0;
    for (int round = 0; round < 5; round++) {
        kchan_latest h;
        cr_assert_eq(kchan_latest_create(&h, m, size, &o), KCHAN_OK);
        pid_t w = t_fork();
        if (w == 0) {
            kchan_latest me;
            if (kchan_latest_attach(&me, m, size, &o) != KCHAN_OK) _exit(2);
            memset(frame, 0x5a, o.frame_size);
            for (;;) if (kchan_latest_write(&me, frame) != KCHAN_OK) _exit(3);
        }
        kchan_latest_stats s;
        do { sched_yield(); kchan_latest_stats_get(&h, &s); } while (s.frames < 2);
        /* A random moment to kill it: nothing below depends on what it did meanwhile. */
        struct timespec ts = { 0, (long)(rand() % 3000) * 1000 };
        nanosleep(&ts, NULL);
        kill(w, SIGKILL);
        cr_assert_eq(t_join(w), 128 + SIGKILL);
        uint64_t no = 0, last = UINT64_MAX;
        int r;
        while ((r = kchan_latest_read(&h, frame, KCHAN_READ_NEXT, &no, KCHAN_SEC(5))) == KCHAN_OK) last = no;
        cr_assert_eq(r, KCHAN_CLOSED);
        kchan_latest_stats_get(&h, &s);
        cr_assert(s.writer_dead && s.closed);
        cr_assert(s.lost <= 1);
        cr_assert_eq(last, s.frames - 1, "every finished frame is read, the lost one never");
        mid += (int)s.lost;
    }
    cr_log_info("writers killed inside a write: %d of 5", mid);
    cr_assert(mid >= 1, "no kill landed inside a write: the test did not test");
    free(frame);
    munmap(m, size);
}

/* The kill campaign: again and again, a writer and two readers; at a random moment kill the
   writer or a reader with SIGKILL. Survivors finish (the Criterion timeout catches a hang),
   no frame read is ever torn, counts add up, and a dead writer loses at most the frame it
   was writing. */
Test(latest, kill_campaign, .timeout = 240)
{
    const char *env = getenv("SHM_KILLS");
    int rounds = env ? atoi(env) : 150;
    const kchan_latest_opts o = { 1024, 2 };
    size_t size;
    void *m = t_region(o.frame_size, o.slots, &size);
    t_result *res = t_map(3 * sizeof *res);
    unsigned seed = (unsigned)time(NULL);
    cr_log_info("kill campaign: %d rounds, seed %u", rounds, seed);
    srand(seed);
    int writer_kills = 0, lost = 0;
    for (int round = 0; round < rounds; round++) {
        kchan_latest h;
        cr_assert_eq(kchan_latest_create(&h, m, size, &o), KCHAN_OK);
        memset(res, 0, 3 * sizeof *res);
        pid_t r0 = t_spawn_reader(m, size, &o, KCHAN_READ_NEXT, 0, &res[0]);
        pid_t r1 = t_spawn_reader(m, size, &o, KCHAN_READ_LATEST, 3, &res[1]);
        while (atomic_load(&res[0].ready) == 0 || atomic_load(&res[1].ready) == 0) sched_yield();
        pid_t w = t_spawn_writer(m, size, &o, 0, &res[2]);
        kchan_latest_stats s0;                 /* kill it while it writes, not before */
        do { sched_yield(); kchan_latest_stats_get(&h, &s0); } while (s0.frames == 0);
        /* A random moment for the kill: the checks below hold whatever happened meanwhile. */
        struct timespec ts = { 0, (long)(rand() % 2000) * 1000 };
        nanosleep(&ts, NULL);
        int victim = rand() % 3;               /* 0: the writer, 1 and 2: a reader */
        pid_t dead = victim == 0 ? w : victim == 1 ? r0 : r1;
        kill(dead, SIGKILL);
        if (victim != 0) {                     /* the writer goes on; stop it by a close */
            volatile uint64_t *written = &res[2].frames_written;     /* the writer's, as it goes */
            uint64_t at_kill = *written;
            while (*written < at_kill + 50) sched_yield();           /* it went on writing */
            cr_assert_eq(kchan_latest_close(&h), KCHAN_OK);
            int ws = t_join(w);
            cr_assert(ws == 3 || ws == 0, "the writer stops at the close: %d", ws);
        } else {
            writer_kills++;
            cr_assert_eq(t_join(w), 128 + SIGKILL);
        }
        for (int i = 0; i < 2; i++) {
            pid_t p = i ? r1 : r0;
            int st = t_join(p);
            if (p == dead) { cr_assert_eq(st, 128 + SIGKILL); continue; }
            cr_assert_eq(st, 0, "round %d reader %d", round, i);
            cr_assert_eq(res[i].status, KCHAN_CLOSED, "round %d reader %d: %d", round, i, res[i].status);
            cr_assert_eq(res[i].bad, 0, "round %d reader %d: a torn or out-of-order frame", round, i);
            if (res[i].reads) cr_assert_eq(res[i].reads + res[i].gaps + res[i].lates, res[i].last + 1 - res[i].first);
        }
        kchan_latest_stats s;
        kchan_latest_stats_get(&h, &s);
        cr_assert(s.closed);
        cr_assert(s.lost <= (victim == 0 ? 1u : 0u), "round %d: lost %llu", round, (unsigned long long)s.lost);
        cr_assert_eq(s.writer_dead, victim == 0);
        /* frames_written is stored after each write returns: the count is at least that */
        cr_assert(s.frames >= res[2].frames_written && s.frames <= res[2].frames_written + 1);
        lost += (int)s.lost;
    }
    cr_log_info("writers killed: %d, frames lost mid-write: %d", writer_kills, lost);
    munmap(m, size);
}
