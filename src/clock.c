/*
 * clock.c — gort_nanotime, the runtime's one clock (Go's nanotime).
 *
 * CLOCK_MONOTONIC through the vDSO: no system call, never goes backwards,
 * and not stepped by settimeofday or NTP slews of the wall clock, so
 * deadlines and the time slice measure elapsed time.  Rejected:
 * CLOCK_MONOTONIC_RAW (not in the vDSO on every kernel, so a system call
 * per reading), rdtsc (needs calibration and an invariant TSC).
 *
 * The public gort_nanotime is also a preemption point, as a call is in
 * Go: a loop that waits on the clock (`while (gort_nanotime() < end)`)
 * spends nearly all its time in the vDSO under this runtime frame, where
 * the preemption signal is refused (runtime code is no asynchronous safe
 * point), so a request would wait for a signal that happens to land in
 * the loop's own few instructions: 100 ms to seconds with one P.  It
 * honours a pending request before reading the clock, so the value it
 * returns is the time after the yield.  The runtime itself reads
 * gort__nanotime, which never yields (it runs under locks and on g0).
 *
 * gort__thread_cpu_ns: another thread's CPU time, for bounds that must
 * not expire while the host keeps that thread off the CPUs (the stuck
 * report, the exit's wait for a thread to freeze).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <time.h>

int64_t gort__nanotime(void)
{
    struct timespec ts;
    /* vDSO: no syscall.  Cannot fail for CLOCK_MONOTONIC on Linux. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t gort_nanotime(void)
{
    gort__preempt_check_call();
    return gort__nanotime();
}

int64_t gort__thread_cpu_ns(pid_t tid)
{
    /* The kernel's per-thread CPU clock id, as pthread_getcpuclockid
     * builds it: ~tid << 3 | CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED. */
    clockid_t id = (clockid_t)((~(unsigned)tid << 3) | 6);
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
