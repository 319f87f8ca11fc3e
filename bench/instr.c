/* instr — instructions per operation pair, for `make bench-instr`.
 *
 *   instr --list                 the engines this build has (one per line)
 *   instr ENGINE MODE N          N pairs on one bounded-1024 channel, single-threaded:
 *                                MODE try  = try_send + try_recv   (uncontended, never blocks)
 *                                MODE send = send + recv           (blocking calls that never wait)
 *
 * The pairs run inside measure(), and the Makefile runs this under
 *   valgrind --tool=callgrind --toggle-collect=measure
 * so only measure() and what it calls is counted: channel creation, process start-up and
 * teardown are not. Instructions / N is deterministic (no timing involved).
 *
 * Engines: every kchan engine in BENCH_ENGINES (passed as INSTR_ENGINES = X(mutex) X(...)),
 * the hand-written naive ring for reference, and "call-overhead": the same loop calling
 * empty functions through the same bench_engine pointers, i.e. the part of each figure
 * that is the benchmark's loop and indirect calls rather than the channel.
 */
#include "bench.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef INSTR_ENGINES
#  define INSTR_ENGINES X(mutex)
#endif

#define X(e) extern const bench_engine bench_engine_##e;
INSTR_ENGINES
#undef X

static int nop_send(bench_chan *c, uint64_t v) { (void)c; (void)v; return 0; }
static int nop_recv(bench_chan *c, uint64_t *v) { (void)c; *v = 0; return 0; }
static const bench_engine call_overhead = {
    "call-overhead", NULL, NULL, nop_send, nop_recv, NULL, NULL, NULL, NULL, nop_send, nop_recv, NULL, NULL,
};

static const bench_engine *const engines[] = {
#define X(e) &bench_engine_##e,
    INSTR_ENGINES
#undef X
    &bench_engine_naive,
    &call_overhead,
};

/* The counted region. Returns the number of pairs whose value came back wrong. */
uint64_t measure(const bench_engine *e, bench_chan *c, int try_mode, uint64_t n);
__attribute__((noinline)) uint64_t measure(const bench_engine *e, bench_chan *c, int try_mode, uint64_t n)
{
    uint64_t bad = 0, v;
    if (try_mode) {
        for (uint64_t i = 0; i < n; i++) {
            v = ~i;
            if (e->try_send(c, i) != 0 || e->try_recv(c, &v) != 0) bad++;
            else bad += e != &call_overhead && v != i;
        }
    } else {
        for (uint64_t i = 0; i < n; i++) {
            v = ~i;
            if (e->send(c, i) != 0 || e->recv(c, &v) != 0) bad++;
            else bad += e != &call_overhead && v != i;
        }
    }
    return bad;
}

int main(int argc, char **argv)
{
    size_t ne = sizeof engines / sizeof engines[0];
    if (argc == 2 && !strcmp(argv[1], "--list")) {
        for (size_t i = 0; i < ne; i++) printf("%s\n", engines[i]->name);
        return 0;
    }
    if (argc != 4 || (strcmp(argv[2], "try") && strcmp(argv[2], "send"))) {
        fprintf(stderr, "usage: %s --list | %s ENGINE try|send N\n", argv[0], argv[0]);
        return 2;
    }
    const bench_engine *e = NULL;
    for (size_t i = 0; i < ne; i++)
        if (!strcmp(engines[i]->name, argv[1])) e = engines[i];
    if (!e) { fprintf(stderr, "instr: no engine %s (try --list)\n", argv[1]); return 2; }
    uint64_t n = strtoull(argv[3], NULL, 10);
    bench_chan *c = e->create ? e->create(1024) : NULL;
    if (e->create && !c) { fprintf(stderr, "instr: create failed\n"); return 1; }
    uint64_t bad = measure(e, c, !strcmp(argv[2], "try"), n);
    if (e->destroy) e->destroy(c);
    if (bad) {
        fprintf(stderr, "instr: %s %s: %llu of %llu pairs failed or returned a wrong value\n",
                argv[1], argv[2], (unsigned long long)bad, (unsigned long long)n);
        return 1;
    }
    return 0;
}
