/* Helpers of the process-shared suites (tests/shm_*.c): a shared mapping, a content
   mix, and fork()/wait for children that die with their test. */
#ifndef KCHAN_TESTS_SHM_COMMON_H
#define KCHAN_TESTS_SHM_COMMON_H
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define T_TIMEOUT 60

static inline void *t_map(size_t size)
{
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert(m != MAP_FAILED, "mmap: %s", strerror(errno));
    return m;
}

/* A 64-bit mix (splitmix's finaliser): content that two different writes cannot share. */
static inline uint64_t t_mix(uint64_t x)
{
    x ^= x >> 33; x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33; x *= UINT64_C(0xc4ceb9fe1a85ec53);
    return x ^ (x >> 33);
}

/* fork() for a test's child: the child dies with the test's process, so a failed
   assertion there never leaves a child spinning or waiting behind it. */
static inline pid_t t_fork(void)
{
    pid_t parent = getpid(), pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)) _exit(99);
    return pid;
}

/* Wait for a child; its exit status (or 128 + signal). */
static inline int t_join(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0) cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
#endif
