/*
 * yield.c — yield ping-pong on one P (run with GORTMAXPROCS=1).  Two
 * goroutines each call gort_yield() N times; the main goroutine waits on a
 * WaitGroup.  Value: wall time / (2N) = ns per yield (one goroutine switch).
 * Twins: bench/go "yield" (runtime.Gosched, GOMAXPROCS=1) and
 * bench/boost/yield.cpp (this_fiber::yield, work_stealing with 1 thread).
 */
#include "common.h"

static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static long n_yields;

static void yielder(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++)
        gort_yield();
    gort_wg_done(&wg);
}

static void run(long n)
{
    gort_wg_add(&wg, 2);
    bench_go(yielder, (void *)(intptr_t)n);
    bench_go(yielder, (void *)(intptr_t)n);
    gort_wg_wait(&wg);
}

static void bench(void *arg)
{
    (void)arg;
    long n = n_yields;
    gort_stats s0, s1;
    char st[512];

    run(10000); /* warm-up */
    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    run(n);
    int64_t t1 = bench_now();
    gort_read_stats(&s1);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=yield impl=gort unit=ns/op value=%.1f n=%ld %s\n",
           (double)(t1 - t0) / (double)(2 * n), n, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_yields = bench_arg(argc, argv, 2000000);
    return gort_main(bench, NULL) ? 1 : 0;
}
