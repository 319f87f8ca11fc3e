/* 08_shm_jobs.c — a pool of worker processes on shared channels, one of them killed midway.
 *
 * Shows: two bounded channels in one shared mapping (kchan_create_shared), worker
 * processes that attach their own handles after checking the regions (kchan_attach), a
 * dispatcher that feeds jobs and collects results in one select over both shared
 * channels, close with drain ending the workers, and what happens when a worker is killed
 * with SIGKILL in the middle of the run: nobody waits for it for long, the jobs it held
 * are the only ones missing, and the channels' stats count what died inside an op
 * (lost_sending, lost_receiving). The dispatcher checks every result (each job done at
 * most once, its answer right) and sends the missing jobs again to the survivors. Exits
 * non-zero on any mismatch.
 *
 *   dispatcher --jobs (64 cells)----> worker 0, worker 1, worker 2 (killed after ~1/3)
 *              <--results (64 cells)--/
 *
 * Linux and other POSIX systems only (docs/API.md, "Shared channels between processes").
 * Build:  cc -std=c11 -O2 $(pkg-config --cflags stb) examples/08_shm_jobs.c -lpthread
 */
#define KCHAN_IMPLEMENTATION
#include "../kchan.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { JOBS = 30000, WORKERS = 3, CELLS = 64, VICTIM = 2 };

typedef struct { uint32_t id; uint32_t n; } job;                 /* sum of i*i for i < n */
typedef struct { uint32_t id; uint32_t worker; uint64_t sum; } result;

static uint64_t work(uint32_t n)
{
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++) s += i * i;
    return s;
}

/* A worker: its own handles on both channels, then jobs until the channel is closed and
   drained. */
static int worker(unsigned char *mem, size_t jobs_size, size_t results_size, uint32_t me)
{
    kchan_shared_opts want_jobs = { .elem_size = sizeof(job), .capacity = CELLS };
    kchan_shared_opts want_results = { .elem_size = sizeof(result), .capacity = CELLS };
    kchan_t *jobs, *results;
    const char *why;
    if (kchan_attach(&jobs, mem, jobs_size, &want_jobs, &why) != KCHAN_OK ||
        kchan_attach(&results, mem + jobs_size, results_size, &want_results, &why) != KCHAN_OK) {
        fprintf(stderr, "worker %u: attach: %s\n", me, why);
        return 1;
    }
    job j;
    int r;
    while ((r = kchan_recv(jobs, &j)) == KCHAN_OK) {
        result out = { j.id, me, work(j.n) };
        if (kchan_send(results, &out) != KCHAN_OK) return 1;
    }
    kchan_destroy(jobs);
    kchan_destroy(results);
    return r == KCHAN_CLOSED ? 0 : 1;
}

static uint32_t job_size(uint32_t id) { return 100 + id % 900; }

/* A result: its job done at most once, by a real worker, with the right answer. */
static bool record(const result *res, uint8_t *done, uint32_t *by, uint32_t *got)
{
    if (res->id >= JOBS || done[res->id] || res->worker >= WORKERS || res->sum != work(job_size(res->id))) {
        fprintf(stderr, "bad result: job %u from worker %u\n", res->id, res->worker);
        return false;
    }
    done[res->id] = 1;
    ++*got;
    by[res->worker]++;
    return true;
}

int main(void)
{
    /* One anonymous shared mapping holds both channels; the workers inherit it across
       fork. (Unrelated processes would shm_open a named segment instead, as 07 does.) */
    size_t jobs_size = kchan_shared_region_size(sizeof(job), CELLS, 0);
    size_t results_size = kchan_shared_region_size(sizeof(result), CELLS, 0);
    unsigned char *mem = mmap(NULL, jobs_size + results_size, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) { perror("mmap"); return 1; }
    kchan_shared_opts jo = { .elem_size = sizeof(job), .capacity = CELLS, .name = "jobs" };
    kchan_shared_opts ro = { .elem_size = sizeof(result), .capacity = CELLS, .name = "results" };
    kchan_t *jobs, *results;
    if (kchan_create_shared(&jobs, mem, jobs_size, &jo) != KCHAN_OK ||
        kchan_create_shared(&results, mem + jobs_size, results_size, &ro) != KCHAN_OK) {
        fprintf(stderr, "create_shared failed\n");
        return 1;
    }

    pid_t pid[WORKERS];
    for (uint32_t w = 0; w < WORKERS; w++) {
        pid[w] = fork();
        if (pid[w] < 0) { perror("fork"); return 1; }
        if (pid[w] == 0) _exit(worker(mem, jobs_size, results_size, w));
    }

    /* Feed and collect in one select: a full jobs ring and an empty results ring at once
       would otherwise deadlock a dispatcher that only sends, or only receives. */
    static uint8_t done[JOBS];
    uint32_t by[WORKERS] = { 0 }, next = 0, got = 0;
    bool killed = false;
    job j = { 0, job_size(0) };
    result res;
    while (next < JOBS) {
        kchan_case cs[2] = { { results, KCHAN_OP_RECV, &res, 0 }, { jobs, KCHAN_OP_SEND, &j, 0 } };
        int k = kchan_select(cs, 2, KCHAN_SEC(10));
        if (k < 0 || cs[k].status != KCHAN_OK) { fprintf(stderr, "select: %d\n", k); return 1; }
        if (k == 1) {
            j.id = ++next;
            j.n = job_size(next);
            continue;
        }
        if (!record(&res, done, by, &got)) return 1;
        if (!killed && got == JOBS / 3) {               /* mid-run: one worker dies */
            kill(pid[VICTIM], SIGKILL);
            killed = true;
        }
    }
    /* Every job sent: close, so the survivors drain the jobs and end. Collect their results
       until both have ended; then nobody sends any more, and what is missing is what the
       killed worker held. */
    if (kchan_close(jobs) != KCHAN_OK) return 1;
    int st, ended = 0;
    if (waitpid(pid[VICTIM], &st, 0) != pid[VICTIM] || !WIFSIGNALED(st)) return 1;
    for (;;) {
        int r = kchan_recv_timeout(results, &res, KCHAN_MS(10));
        if (r == KCHAN_OK) {
            if (!record(&res, done, by, &got)) return 1;
            continue;
        }
        if (r != KCHAN_TIMEDOUT && r != KCHAN_WOULDBLOCK) return 1;
        if (ended == WORKERS - 1) break;              /* ended, and the ring is empty */
        for (uint32_t w = 0; w < WORKERS; w++) {
            if (w == VICTIM || pid[w] == 0 || waitpid(pid[w], &st, WNOHANG) != pid[w]) continue;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "worker %u failed\n", w); return 1; }
            pid[w] = 0;
            ended++;
        }
    }
    uint32_t missing = JOBS - got;
    kchan_stats js, rs;
    kchan_stats_get(jobs, &js);
    kchan_stats_get(results, &rs);
    printf("%u jobs, %u results (workers: %u, %u, %u; worker %u killed after a third of the run)\n",
           JOBS, got, by[0], by[1], by[2], VICTIM);
    printf("missing: %u; died inside an op: jobs lost_receiving=%llu, results lost_sending=%llu\n", missing,
           (unsigned long long)js.lost_receiving, (unsigned long long)rs.lost_sending);
    /* A killed worker holds at most one job: taken from the ring (lost_receiving), being
       computed, or its result being sent (lost_sending). */
    if (missing > 1 || js.lost_receiving + rs.lost_sending > missing) {
        fprintf(stderr, "more missing than one worker can hold\n");
        return 1;
    }
    for (uint32_t id = 0; id < JOBS; id++)
        if (!done[id]) { printf("the dispatcher does job %u itself: %llu\n", id, (unsigned long long)work(job_size(id))); got++; }
    printf("%u of %u jobs done exactly once\n", got, JOBS);
    char line[512];
    kchan_dump(jobs, line, sizeof line);
    printf("%s\n", line);
    kchan_destroy(jobs);
    kchan_destroy(results);
    munmap(mem, jobs_size + results_size);
    return got == JOBS ? 0 : 1;
}
