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

static void run(long per)
{
    gort_wg_add(&wg, G);
    for (int i = 0; i < G; i++)
        bench_go(worker, (void *)(intptr_t)per);
    gort_wg_wait(&wg);
}

static long n_total;

static void bench(void *arg)
{
    (void)arg;
    long per = n_total / G, n = per * G;
    gort_stats s0, s1;
    char st[512];

    run(10000); /* warm-up */
    counter = 0;
    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    run(per);
    int64_t t1 = bench_now();
    gort_read_stats(&s1);
    if (counter != n)
        bench_die("mutex: lost increments");
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=mutex impl=gort unit=ns/op value=%.1f n=%ld goroutines=%d %s\n",
           (double)(t1 - t0) / (double)n, n, G, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_total = bench_arg(argc, argv, 4000000);
    return gort_main(bench, NULL) ? 1 : 0;
}
