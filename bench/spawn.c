/*
 * spawn.c — goroutine spawn + join.  The main goroutine adds N to a
 * WaitGroup, starts N goroutines that each call Done, and Waits; the value
 * is wall time / N (ns per goroutine, creation to join).  A warm-up round
 * of N/10 runs first so free lists are populated, as in the twins
 * (bench/go: "spawn", bench/boost/spawn.cpp: detached fibers + a WaitGroup
 * built from an atomic counter, a fiber mutex and a condition variable).
 */
#include "common.h"

static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static long n_goroutines;

static void child(void *arg)
{
    (void)arg;
    gort_wg_done(&wg);
}

static void round_of(long n)
{
    gort_wg_add(&wg, (int)n);
    for (long i = 0; i < n; i++)
        bench_go(child, NULL);
    gort_wg_wait(&wg);
}

static void bench(void *arg)
{
    (void)arg;
    long n = n_goroutines;
    gort_stats s0, s1;
    char st[512];

    round_of(n / 10); /* warm-up */
    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    round_of(n);
    int64_t t1 = bench_now();
    gort_read_stats(&s1);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=spawn impl=gort unit=ns/op value=%.1f n=%ld total_ms=%.1f %s\n",
           (double)(t1 - t0) / (double)n, n, (double)(t1 - t0) / 1e6, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_goroutines = bench_arg(argc, argv, 1000000);
    int rc = gort_main(bench, NULL);
    return rc ? 1 : 0;
}
