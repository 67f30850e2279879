/*
 * test_syscall_eintr_unwrapped.c — no EINTR caused by gort in blocking
 * calls it does not wrap either.
 *
 * test_syscall_eintr covers the calls gort knows (its libc wrappers).
 * Programs also block in calls it does not know: C11's thrd_sleep,
 * epoll_pwait2, recvmmsg with a timeout, sem_clockwait.  Each returns
 * EINTR (thrd_sleep: -1) when a signal handler runs while it waits,
 * SA_RESTART or not (signal(7)).  A goroutine blocked in one looks to
 * sysmon like a goroutine running on its P, so this is the case where a
 * preemption or foreign-code reclaim signal is most likely to land inside
 * a call.  Same setting as test_syscall_eintr: GORTMAXPROCS=2,
 * quantum=100us, two call-free hogs; one goroutine per call loops for
 * 2 s (longer on a loaded machine until each made 50 calls and the hogs
 * took 100 signal preemptions, 8 s at most).  Every EINTR is counted and
 * must be 0, and every goroutine must get to run (a goroutine blocked in
 * such a call must not keep its P from the others).  A call the kernel
 * lacks (ENOSYS) is skipped.
 */
#define _GNU_SOURCE
#include "check.h"

#include <semaphore.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <threads.h>
#include <time.h>

#define RUN_NS (2000LL * 1000 * 1000)
#define MAX_NS (8000LL * 1000 * 1000)
#define MIN_CALLS 50
#define MIN_PREEMPTS 100

enum { K_THRD_SLEEP, K_EPOLL_PWAIT2, K_RECVMMSG, K_SEM_CLOCKWAIT, NK };
static const char *const kname[NK] = {"thrd_sleep(100us)", "epoll_pwait2(200us)",
                                      "recvmmsg(SO_RCVTIMEO 200us)", "sem_clockwait(200us)"};
static long calls[NK], eintr[NK], other[NK];
static _Atomic int skipped[NK];
static int64_t deadline, hard_deadline;
static uint64_t preempts0;
static _Atomic int stop_hogs;
static gort_waitgroup wg_loops = GORT_WAITGROUP_INIT, wg_hogs = GORT_WAITGROUP_INIT;
static int epfd, sv[2];
static sem_t sem;

static void hog(void *arg)
{
    (void)arg;
    volatile uint64_t x = 0;
    while (!atomic_load_explicit(&stop_hogs, memory_order_relaxed))
        x = x + 1;
    gort_wg_done(&wg_hogs);
}

/* 0 for an ordinary timeout, else the errno (-1: unexpected success). */
__attribute__((noinline)) static int one_call(int k)
{
    int rc;
    switch (k) {
    case K_THRD_SLEEP: {
        struct timespec ts = {0, 100000};
        rc = thrd_sleep(&ts, NULL);
        return rc == 0 ? 0 : rc == -1 ? EINTR : EIO;
    }
    case K_EPOLL_PWAIT2: {
        struct epoll_event ev;
        struct timespec ts = {0, 200000};
        rc = epoll_pwait2(epfd, &ev, 1, &ts, NULL);
        return rc == 0 ? 0 : rc < 0 ? errno : -1;
    }
    case K_RECVMMSG: {
        char b;
        struct iovec io = {&b, 1};
        struct mmsghdr mm;
        memset(&mm, 0, sizeof mm);
        mm.msg_hdr.msg_iov = &io;
        mm.msg_hdr.msg_iovlen = 1;
        rc = recvmmsg(sv[0], &mm, 1, 0, NULL);
        return rc >= 0 ? -1 : (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : errno;
    }
    case K_SEM_CLOCKWAIT: {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 200000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        rc = sem_clockwait(&sem, CLOCK_MONOTONIC, &ts);
        return rc == 0 ? -1 : errno == ETIMEDOUT ? 0 : errno;
    }
    }
    return -1;
}

static void looper(void *arg)
{
    int k = (int)(intptr_t)arg;
    for (;;) {
        int64_t now = gort_nanotime();
        if (now >= hard_deadline)
            break;
        if (now >= deadline && calls[k] >= MIN_CALLS) {
            gort_stats s;
            gort_read_stats(&s);
            if (s.async_preempts - preempts0 >= MIN_PREEMPTS)
                break;
        }
        int e = one_call(k);
        if (e == ENOSYS) {
            atomic_store(&skipped[k], 1);
            break;
        }
        calls[k]++;
        if (e == EINTR)
            eintr[k]++;
        else if (e != 0)
            other[k]++;
    }
    gort_wg_done(&wg_loops);
}

static void gmain(void *arg)
{
    (void)arg;
    gort_stats s0, s1;
    gort_read_stats(&s0);
    preempts0 = s0.async_preempts;
    gort_wg_add(&wg_hogs, 2);
    for (int i = 0; i < 2; i++)
        CHECK_CALL(gort_go(hog, NULL), 0);
    deadline = gort_nanotime() + RUN_NS;
    hard_deadline = deadline - RUN_NS + MAX_NS;
    gort_wg_add(&wg_loops, NK);
    for (int k = 0; k < NK; k++)
        CHECK_CALL(gort_go(looper, (void *)(intptr_t)k), 0);
    gort_wg_wait(&wg_loops);
    gort_read_stats(&s1);
    atomic_store(&stop_hogs, 1);
    gort_wg_wait(&wg_hogs);

    long total_eintr = 0, total_other = 0;
    for (int k = 0; k < NK; k++) {
        if (atomic_load(&skipped[k])) {
            fprintf(stderr, "%-28s skipped (ENOSYS)\n", kname[k]);
            continue;
        }
        fprintf(stderr, "%-28s %7ld calls, %ld EINTR, %ld unexpected results\n", kname[k],
                calls[k], eintr[k], other[k]);
        total_eintr += eintr[k];
        total_other += other[k];
    }
    uint64_t ap = s1.async_preempts - s0.async_preempts;
    fprintf(stderr, "async_preempts +%llu, signals_sent +%llu\n", (unsigned long long)ap,
            (unsigned long long)(s1.signals_sent - s0.signals_sent));
    CHECK(total_eintr == 0, "%ld calls failed with EINTR", total_eintr);
    for (int k = 0; k < NK; k++)
        CHECK(atomic_load(&skipped[k]) || calls[k] >= MIN_CALLS, "%s: only %ld calls in 8 s",
              kname[k], calls[k]);
    CHECK(total_other == 0, "%ld calls gave unexpected results", total_other);
    CHECK(ap >= MIN_PREEMPTS, "only %llu async preemptions in 8 s: the signals were not tested",
          (unsigned long long)ap);
}

int main(void)
{
    setenv("GORTMAXPROCS", "2", 1);
    setenv("GORTDEBUG", "quantum=100us", 1);
    epfd = epoll_create1(0);
    CHECK(epfd >= 0);
    CHECK(sem_init(&sem, 0, 0) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    struct timeval tv = {0, 200};
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    watchdog_start("test_syscall_eintr_unwrapped", 30);
    run_main(gmain, NULL);
    return 0;
}
