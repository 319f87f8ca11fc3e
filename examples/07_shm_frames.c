/* 07_shm_frames.c — frames between processes: one writer, a LATEST reader, a slow NEXT reader.
 *
 * Shows: a latest-value channel in a named POSIX shared-memory segment (shm_open + mmap),
 * created by one process and attached by two others after checking the region's header;
 * a writer that never waits for its readers; a reader that always wants the newest frame
 * (KCHAN_READ_LATEST, as a display would) and one that wants every frame in order but
 * works at a quarter of the writer's rate (KCHAN_READ_NEXT, as a recorder on a slow disk
 * would), so it falls behind and skips; each reader's exact counts of what it read, what it
 * skipped (gaps) and what the writer overwrote under it (lates); the writer's close ending
 * both readers. Every frame carries its number and a checksum, and the readers check both:
 * no frame is ever torn. Exits non-zero on any mismatch.
 *
 *   writer --frames of 256 KiB, 1000 a second, 8 kept----> reader A (LATEST, as fast as it can)
 *                                                   \----> reader B (NEXT, 4 ms a frame)
 *
 * Linux and other POSIX systems only (docs/API.md, "Latest-value channels").
 * Build:  cc -std=c11 -O2 $(pkg-config --cflags stb) examples/07_shm_frames.c -lpthread
 *         (older glibc: add -lrt for shm_open)
 */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    FRAME_BYTES = 256 * 1024,
    SLOTS = 8,
    FPS = 1000,
    SECONDS = 2,
    SLOW_MS = 4                     /* reader B's work per frame: a quarter of the writer's rate */
};

/* Frame f: its number, then words derived from it, then a checksum of them all. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 31; x *= UINT64_C(0x7fb5d329728ea185);
    x ^= x >> 27; x *= UINT64_C(0x81dadef4bc2dd44d);
    return x ^ (x >> 33);
}
static void fill(uint64_t *w, uint64_t f)
{
    uint64_t sum = 0;
    w[0] = f;
    for (size_t i = 1; i < FRAME_BYTES / 8 - 1; i++) sum += w[i] = mix(f ^ (i << 32));
    w[FRAME_BYTES / 8 - 1] = sum;
}
static int check(const uint64_t *w, uint64_t f)
{
    uint64_t sum = 0;
    for (size_t i = 1; i < FRAME_BYTES / 8 - 1; i++) {
        if (w[i] != mix(f ^ (i << 32))) return 0;
        sum += w[i];
    }
    return w[0] == f && w[FRAME_BYTES / 8 - 1] == sum;
}

static double now_s(void) { return (double)kchan_now_ns() / 1e9; }

/* Map the named segment (the writer made it; we only open it). */
static void *map(const char *name, size_t size)
{
    int fd = shm_open(name, O_RDWR, 0);
    if (fd < 0) { perror("shm_open"); exit(1); }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) { perror("mmap"); exit(1); }
    return m;
}

static int reader(const char *name, size_t size, int mode)
{
    const kchan_latest_opts expect = { FRAME_BYTES, SLOTS };
    kchan_latest h;
    void *m = map(name, size);
    int r = kchan_latest_attach(&h, m, size, &expect);
    if (r != KCHAN_OK) {
        fprintf(stderr, "attach: %s (%s)\n", kchan_strerror(r), kchan_latest_error(&h));
        return 1;
    }
    uint64_t *frame = malloc(FRAME_BYTES), no, prev = 0, bad = 0;
    double t0 = now_s();
    int first = 1;
    while ((r = kchan_latest_read(&h, frame, mode, &no, KCHAN_SEC(5))) == KCHAN_OK) {
        if (!check(frame, no) || (!first && no <= prev)) bad++;
        first = 0;
        prev = no;
        if (mode == KCHAN_READ_NEXT) {
            struct timespec work = { 0, SLOW_MS * 1000000L };
            nanosleep(&work, NULL);
        }
    }
    double secs = now_s() - t0;
    kchan_latest_stats s;
    kchan_latest_stats_get(&h, &s);
    printf("reader %s: %6.1f frames/s  read %5" PRIu64 "  gaps %5" PRIu64 "  lates %3" PRIu64
           "  (of %" PRIu64 " frames)  torn or out of order: %" PRIu64 "\n",
           mode == KCHAN_READ_LATEST ? "A (LATEST)" : "B (NEXT, slow)", (double)s.reads / secs,
           s.reads, s.gaps, s.lates, s.frames, bad);
    free(frame);
    munmap(m, size);
    /* Conservation: every frame after the first one this reader saw is read, skipped or
       lost to the writer; a reader that ends must have seen the close. */
    return r == KCHAN_CLOSED && bad == 0 && s.reads > 0 &&
           s.reads + s.gaps + s.lates == prev + 1 - s.first ? 0 : 1;
}

int main(void)
{
    char name[64];
    snprintf(name, sizeof name, "/kchan-frames-%ld", (long)getpid());
    size_t size = kchan_latest_region_size(FRAME_BYTES, SLOTS);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0) { perror("shm_open"); return 1; }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) { perror("mmap"); shm_unlink(name); return 1; }
    const kchan_latest_opts opts = { FRAME_BYTES, SLOTS };
    kchan_latest w;
    if (kchan_latest_create(&w, m, size, &opts) != KCHAN_OK) { shm_unlink(name); return 1; }

    pid_t readers[2];
    for (int i = 0; i < 2; i++) {
        fflush(stdout);
        if ((readers[i] = fork()) == 0) {
            int r = reader(name, size, i == 0 ? KCHAN_READ_LATEST : KCHAN_READ_NEXT);
            fflush(stdout);                    /* _exit does not flush */
            _exit(r);
        }
    }

    /* The writer: FPS frames a second for SECONDS, never waiting for a reader. */
    uint64_t *frame = malloc(FRAME_BYTES);
    double t0 = now_s(), write_s = 0;
    for (uint64_t f = 0; f < (uint64_t)FPS * SECONDS; f++) {
        fill(frame, f);
        double a = now_s();
        if (kchan_latest_write(&w, frame) != KCHAN_OK) { fprintf(stderr, "write failed\n"); return 1; }
        write_s += now_s() - a;
        double due = t0 + (double)(f + 1) / FPS, left = due - now_s();
        if (left > 0) {
            struct timespec ts = { 0, (long)(left * 1e9) };
            nanosleep(&ts, NULL);
        }
    }
    (void)kchan_latest_close(&w);
    printf("writer: %d frames of %d KiB in %.2f s; a write took %.1f us on average\n",
           FPS * SECONDS, FRAME_BYTES / 1024, now_s() - t0, write_s / (FPS * SECONDS) * 1e6);
    fflush(stdout);
    int failed = 0;
    for (int i = 0; i < 2; i++) {
        int st;
        waitpid(readers[i], &st, 0);
        failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    char dump[256];
    kchan_latest_dump(&w, dump, sizeof dump);
    printf("%s\n", dump);
    free(frame);
    munmap(m, size);
    shm_unlink(name);
    printf(failed ? "07_shm_frames: FAILED\n" : "07_shm_frames: ok\n");
    return failed;
}
