/*
 * test_syscall_handler.c — a signal handler installed with signal(), and
 * again with __sigaction (glibc's other name), without SA_ONSTACK, may call wrapped libc functions whatever its
 * goroutine was doing, its own system-call bracket included: gort runs
 * every handler on the M's alternate stack (interpose_signal.c), where a
 * wrapped call is not bracketed (syscall.c enter) and nothing parks.
 *
 * At GORTMAXPROCS=1 (quantum=200us, so that the workers' turns come
 * often) with a hog runnable, every usleep(60) of NW workers
 * (a blocking call: 60 us >= 50 us) hands its P to the hog at entry, so
 * every return takes exitsyscall's slow path: P-less, at depth 0, on the
 * goroutine's stack, until a P is found or the goroutine is parked.  A
 * plain thread sends SIGUSR1 to the workers' threads every ~20 us; the
 * handler calls write() and usleep(0), both wrapped, and short: a handler
 * on the alternate stack holds its P, and one that slept (usleep(1) is
 * ~60 us with timer slack) on the hog's thread every 20 us left no time
 * between handlers for the hog's preemption.  With the handler left on
 * the goroutine's stack (SA_ONSTACK not added; the handler then slept in
 * usleep(1)) three bugs showed:
 *   - a handler landing in that window bracketed its call by releasing
 *     the P the thread did not have: SIGSEGV in enter within a fraction
 *     of a second (enter now refuses to bracket without a P);
 *   - a handler's own call whose return found its P gone (the hog took it)
 *     parked the goroutine inside the handler: the handler's mask stayed
 *     on that thread, where the hog could then never be preempted (the
 *     stuck report, then a hang);
 *   - parking it there locked to its thread instead (tried first) nested
 *     a scheduler switch inside one the handler had interrupted (ASan:
 *     "starting fiber switch while in fiber switch").
 * And one in the preemption signal's handler: a SIGURG that found the
 * hog's thread inside the program's handler, in a system call, counted as
 * "blocked in a raw system call", after which no more signals were sent
 * for that request; the hog never called gort again and kept the only P
 * for good (signal_linux.c: only the goroutine's own call counts now).
 * Checks: the program ends, every worker finishes its calls (EINTR from
 * usleep is the program's own SIGUSR1), the handlers all ran on the
 * alternate stack and never on a worker's, and write() in the handler
 * wrote its byte each time.
 */
#define _GNU_SOURCE
#include "check.h"
#include "sigload.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NW 3
#define CALLS 1000

static sigload load = {.nworkers = NW, .sig = SIGUSR1, .count = -1, .period_ns = 20000};
static atomic_int handled, short_writes, hog_stop;
static int null_fd;

static void on_usr1(int sig)
{
    (void)sig;
    int e = errno;
    sigload_where(&load);
    if (write(null_fd, "x", 1) != 1)
        atomic_fetch_add(&short_writes, 1);
    usleep(0); /* a system call, not a sleep: no timer slack */
    atomic_fetch_add(&handled, 1);
    errno = e;
}

static void hog(void *arg)
{
    (void)arg;
    volatile unsigned long x = 0;
    while (!atomic_load_explicit(&hog_stop, memory_order_relaxed))
        x++;
}

static gort_waitgroup wg;

static void worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    volatile int top;
    atomic_store(&load.top[me], (uintptr_t)&top);
    for (int i = 0; i < CALLS; i++) {
        if (i % 64 == 0)
            atomic_store(&load.tid[me], (long)syscall(SYS_gettid));
        /* EINTR is the program's own SIGUSR1 (its handler ran). */
        CHECK(usleep(60) == 0 || errno == EINTR, "usleep: %s", strerror(errno));
    }
    gort_wg_done(&wg);
}

int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

static void handler_main(void *arg)
{
    null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK(null_fd >= 0);
    if (arg) { /* glibc's other name, which the wrapper of sigaction does not catch */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        CHECK(__sigaction(SIGUSR1, &sa, NULL) == 0);
    } else {
        CHECK(signal(SIGUSR1, on_usr1) != SIG_ERR); /* SA_RESTART, no SA_ONSTACK */
    }
    struct sigaction back;
    /* signal() honours siginterrupt() as glibc's does (no SA_RESTART);
     * siginterrupt is deprecated, not gone. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    CHECK(siginterrupt(SIGUSR2, 1) == 0);
    CHECK(signal(SIGUSR2, on_usr1) != SIG_ERR);
    CHECK(sigaction(SIGUSR2, NULL, &back) == 0);
    CHECK(!(back.sa_flags & (SA_RESTART | SA_ONSTACK)), "SIGUSR2 flags %#x", (unsigned)back.sa_flags);
    CHECK(siginterrupt(SIGUSR2, 0) == 0);
#pragma GCC diagnostic pop
    CHECK(signal(SIGUSR2, SIG_DFL) == on_usr1);
    CHECK(sigaction(SIGUSR1, NULL, &back) == 0);
    CHECK(back.sa_handler == on_usr1 && !(back.sa_flags & SA_ONSTACK),
          "the action read back is not the one set (flags %#x)", (unsigned)back.sa_flags);
    CHECK_EQ(gort_go(hog, NULL), 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, sigload_sender, &load) == 0);
    gort_wg_add(&wg, NW);
    for (int i = 0; i < NW; i++)
        CHECK_EQ(gort_go(worker, (void *)(intptr_t)i), 0);
    gort_wg_wait(&wg);
    atomic_store(&load.stop, 1);
    CHECK(pthread_join(t, NULL) == 0);
    atomic_store(&hog_stop, 1);
    int n = atomic_load(&handled);
    printf("%d handlers ran, %d off the alternate stack, %d on a worker's stack, %d short writes\n",
           n, atomic_load(&load.off_altstack), atomic_load(&load.on_goroutine),
           atomic_load(&short_writes));
    CHECK(atomic_load(&short_writes) == 0);
    CHECK(n >= 500, "too few handlers ran");
    CHECK(atomic_load(&load.on_goroutine) == 0, "a handler ran on a worker's stack");
    CHECK(atomic_load(&load.off_altstack) == 0, "a handler ran off the alternate stack");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    run_main_child(handler_main, NULL, "1", "quantum=200us");
    run_main_child(handler_main, (void *)1, "1", "quantum=200us");
    return 0;
}
