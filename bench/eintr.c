/*
 * eintr.c — does the runtime make blocking calls fail with EINTR?  (Run
 * with GORTMAXPROCS=2 GORTDEBUG=quantum=100us.)
 *
 * P hogs spin call-free, so with a 100 us time slice preemption signals
 * fly all the time.  Beside them, 32 goroutines make N short blocking calls
 * in all (default 100k), rotating between nanosleep(10 us), ppoll(no fds,
 * 10 us) and select(no fds, 10 us), and count each call that fails with
 * EINTR (the call is not retried).  One more goroutine calls sleep(2) once
 * and reports how long it slept and what it returned (a sleep cut short
 * returns the seconds left).  gort never signals a goroutine inside a
 * system call, so no call may fail.  Value: the number of EINTR failures
 * (target 0); per call kind and the sleep(2) duration are reported too.
 *
 * Twin: bench/go "eintr" (GOMAXPROCS=2, Go's fixed 10 ms slice):
 * syscall.Nanosleep, ppoll through syscall.Syscall6(SYS_PPOLL) and
 * syscall.Select, and syscall.Nanosleep(2 s) for the long sleep, beside
 * GOMAXPROCS hogs.
 */
#define _GNU_SOURCE 1
#include "common.h"

#include <errno.h>
#include <poll.h>
#include <sys/select.h>

enum { CALLERS = 32, KINDS = 3 };
static const char *const kind_name[KINDS] = { "nanosleep", "ppoll", "select" };

static long n_calls;
static atomic_long eintr[KINDS], other_err[KINDS];
static int64_t sleep2_ns;
static unsigned sleep2_ret;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static void caller(void *arg)
{
    long k = (long)(intptr_t)arg;
    long n = n_calls / CALLERS;
    long intr[KINDS] = { 0 }, err[KINDS] = { 0 };
    for (long i = 0; i < n; i++) {
        int kind = (int)((i + k) % KINDS);
        int r;
        if (kind == 0) {
            struct timespec ts = { 0, 10000 };
            r = nanosleep(&ts, NULL);
        } else if (kind == 1) {
            struct timespec ts = { 0, 10000 };
            r = ppoll(NULL, 0, &ts, NULL);
        } else {
            struct timeval tv = { 0, 10 };
            r = select(0, NULL, NULL, NULL, &tv);
        }
        if (r < 0) {
            if (errno == EINTR)
                intr[kind]++;
            else
                err[kind]++;
        }
    }
    for (int i = 0; i < KINDS; i++) {
        atomic_fetch_add(&eintr[i], intr[i]);
        atomic_fetch_add(&other_err[i], err[i]);
    }
    gort_wg_done(&wg);
}

static void long_sleeper(void *arg)
{
    (void)arg;
    int64_t t0 = bench_now();
    sleep2_ret = sleep(2);
    sleep2_ns = bench_now() - t0;
    gort_wg_done(&wg);
}

static void bench(void *arg)
{
    (void)arg;
    int procs = gort_maxprocs(0);
    char quantum[32];
    gort_stats s0, s1;
    char st[512];
    bench_quantum_ns(quantum, sizeof quantum);

    bench_spinners_start(procs); /* the hogs */
    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    gort_wg_add(&wg, CALLERS + 1);
    bench_go(long_sleeper, NULL);
    for (long k = 0; k < CALLERS; k++)
        bench_go(caller, (void *)(intptr_t)k);
    gort_wg_wait(&wg);
    int64_t t1 = bench_now();
    gort_read_stats(&s1);
    bench_spinners_stop();

    long total = 0, errs = 0;
    for (int i = 0; i < KINDS; i++) {
        total += atomic_load(&eintr[i]);
        errs += atomic_load(&other_err[i]);
    }
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=eintr impl=gort unit=count value=%ld n=%ld callers=%d hogs=%d quantum=%s"
           " eintr_%s=%ld eintr_%s=%ld eintr_%s=%ld other_errors=%ld sleep2_ns=%" PRId64
           " sleep2_ret=%u secs_measured=%.2f %s\n",
           total, (n_calls / CALLERS) * CALLERS, CALLERS, procs, quantum,
           kind_name[0], atomic_load(&eintr[0]), kind_name[1], atomic_load(&eintr[1]),
           kind_name[2], atomic_load(&eintr[2]), errs, sleep2_ns, sleep2_ret,
           (double)(t1 - t0) / 1e9, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_calls = bench_arg(argc, argv, 100000);
    return gort_main(bench, NULL) ? 1 : 0;
}
