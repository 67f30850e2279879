/*
 * test_syscall_threads.c — threads made for hand-offs are reused, and the
 * thread cap (GORTDEBUG=maxthreads=N) is enforced.
 *
 * 1. GORTMAXPROCS=2: one goroutine makes 2000 usleep(50) calls in a row
 *    (fewer if that takes over 3 s: at least 200)
 *    beside two goroutines that are always runnable (they yield in a
 *    loop), so every sleep hands its P to another thread and every return
 *    finds the Ps busy.  The number of Ms ever created stays small
 *    (<= procs + 4): the threads are reused, not made per call.
 * 2. 40 goroutines each block in read() on their own pipe; one more
 *    goroutine writes every pipe once all 40 are inside their calls.
 *    Each blocked read holds a thread, so with maxthreads=12 the child
 *    must die with "thread exhaustion"; with maxthreads=64 the same
 *    program completes.
 */
#include "check.h"

#include <stdatomic.h>

#define NREADERS 40

static _Atomic int stop_yielders;
static gort_waitgroup wg = GORT_WAITGROUP_INIT, wg_y = GORT_WAITGROUP_INIT;

static void yielder(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_yielders))
        gort_yield();
    gort_wg_done(&wg_y);
}

/* Up to 2000 calls, for 3 s at most: a loaded machine makes every
 * hand-off and return slow (thread wake-ups), and the count of threads is
 * what is checked, not the pace. */
#define SLEEPS 2000
#define MIN_SLEEPS 200
static int nsleeps;

static void sleeper(void *arg)
{
    (void)arg;
    int64_t end = gort_nanotime() + 3000LL * 1000 * 1000;
    for (nsleeps = 0; nsleeps < SLEEPS; nsleeps++) {
        if (nsleeps >= MIN_SLEEPS && gort_nanotime() > end)
            break;
        CHECK_CALL(usleep(50), 0);
    }
    gort_wg_done(&wg);
}

static void reuse_main(void *arg)
{
    (void)arg;
    gort_stats s0, s1;
    gort_read_stats(&s0);
    gort_wg_add(&wg_y, 2);
    CHECK_CALL(gort_go(yielder, NULL), 0);
    CHECK_CALL(gort_go(yielder, NULL), 0);
    gort_wg_add(&wg, 1);
    CHECK_CALL(gort_go(sleeper, NULL), 0);
    gort_wg_wait(&wg);
    gort_read_stats(&s1);
    atomic_store(&stop_yielders, 1);
    gort_wg_wait(&wg_y);
    fprintf(stderr, "%d x usleep(50): threads %llu -> %llu, handoffs +%llu, syscalls +%llu\n",
            nsleeps, (unsigned long long)s0.threads, (unsigned long long)s1.threads,
            (unsigned long long)(s1.handoffs - s0.handoffs),
            (unsigned long long)(s1.syscalls - s0.syscalls));
    CHECK(s1.syscalls - s0.syscalls >= (uint64_t)nsleeps);
    CHECK(s1.handoffs - s0.handoffs >= (uint64_t)nsleeps / 4, "the sleeps hardly handed their P off");
    CHECK(s1.threads <= s1.procs + 4, "%llu threads for %llu Ps",
          (unsigned long long)s1.threads, (unsigned long long)s1.procs);
}

static int pipes[NREADERS][2];

static void reader(void *arg)
{
    int *fd = arg;
    char c = 0;
    CHECK_CALL(read(fd[0], &c, 1), 1);
    gort_wg_done(&wg);
}

static void writer(void *arg)
{
    (void)arg;
    wait_in_syscall(NREADERS);
    for (int i = 0; i < NREADERS; i++)
        CHECK_CALL(write(pipes[i][1], "r", 1), 1);
    gort_wg_done(&wg);
}

static void readers_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < NREADERS; i++)
        CHECK(pipe(pipes[i]) == 0);
    gort_wg_add(&wg, NREADERS + 1);
    for (int i = 0; i < NREADERS; i++)
        CHECK_CALL(gort_go(reader, pipes[i]), 0);
    CHECK_CALL(gort_go(writer, NULL), 0);
    gort_wg_wait(&wg);
    gort_stats s;
    gort_read_stats(&s);
    fprintf(stderr, "%d blocked readers: %llu threads, handoffs %llu\n", NREADERS,
            (unsigned long long)s.threads, (unsigned long long)s.handoffs);
    CHECK(s.threads >= NREADERS);
    CHECK_EQ(s.in_syscall, 0);
}

static void child_readers(void *arg)
{
    setenv("GORTMAXPROCS", "2", 1);
    setenv("GORTDEBUG", arg, 1);
    watchdog_start(arg, 30);
    watchdog_phase("40 goroutines blocked in read()");
    int rc = gort_main(readers_main, NULL);
    exit(rc == 0 ? 0 : 3);
}

int main(void)
{
    /* The cap: each configuration in its own process. */
    expect_child(child_readers, (void *)"maxthreads=12", -1, "thread exhaustion", NULL);
    expect_child(child_readers, (void *)"maxthreads=64", 0, NULL, NULL);

    setenv("GORTMAXPROCS", "2", 1);
    watchdog_start("test_syscall_threads", 30);
    watchdog_phase("usleep(50) calls beside runnable goroutines");
    run_main(reuse_main, NULL);
    return 0;
}
