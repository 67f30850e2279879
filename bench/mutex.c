/*
 * mutex.c — contended mutex.  G=8 goroutines (on 2 Ps) each lock a shared
 * gort_mutex, increment a shared counter and unlock, N/G times; the main
 * goroutine waits on a WaitGroup.  Value: wall time / N = ns per
 * lock+increment+unlock.  Twins: bench/go "mutex" (sync.Mutex) and
 * bench/boost/mutex.cpp (boost::fibers::mutex).
 */
#include "common.h"

enum { G = 8 };
static gort_mutex mu = GORT_MUTEX_INIT;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static long counter;

static void worker(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++) {
        gort_mutex_lock(&mu);
        counter++;
        gort_mutex_unlock(&mu);
    }
    gort_wg_done(&wg);
}

static long n_total;

static void bench(void *arg)
{
    (void)arg;
    long per = n_total / G, n = per * G;
    char st[512];
    int64_t ns = bench_workers_timed(worker, &wg, G, per, &counter, st, sizeof st);
    if (counter != n)
        bench_die("mutex: lost increments");
    printf("RESULT name=mutex impl=gort unit=ns/op value=%.1f n=%ld goroutines=%d %s\n",
           (double)ns / (double)n, n, G, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_total = bench_arg(argc, argv, 4000000);
    return gort_main(bench, NULL) ? 1 : 0;
}
