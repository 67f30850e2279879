/*
 * sleeper.c — wake-up lateness of a 1 ms sleeper while every P runs a hog.
 * With P Ps, P goroutines spin in a call-free loop, so the sleeper, when
 * its timer fires, only gets a P once a hog is preempted at the end of its
 * time slice (GORTDEBUG=quantum=..., default 10 ms).  The main goroutine
 * takes S samples of (time actually slept - 1 ms).  Value: p99 lateness in
 * ns; raw samples go to $BENCH_SAMPLES.  Twin: bench/go "sleeper"
 * (time.Sleep(time.Millisecond); Go's 10 ms slice cannot be changed).  No
 * Boost twin: without preemption the sleeper would never run again.
 */
#include "common.h"

static long n_samples;

static void bench(void *arg)
{
    (void)arg;
    long n = n_samples;
    int procs = gort_maxprocs(0);
    int64_t *late = calloc((size_t)n, sizeof *late);
    const char *dbg = getenv("GORTDEBUG");
    const char *q = dbg ? strstr(dbg, "quantum=") : NULL;
    char quantum[32] = "default";
    gort_stats s0, s1;
    char st[512];
    if (!late)
        bench_die("out of memory");
    if (q)
        sscanf(q + 8, "%31[^,]", quantum);

    bench_spinners_start(procs); /* the hogs */
    for (int i = 0; i < 5; i++) /* warm-up */
        gort_sleep(1000000);
    gort_read_stats(&s0);
    for (long i = 0; i < n; i++) {
        int64_t t0 = bench_now();
        gort_sleep(1000000);
        late[i] = bench_now() - t0 - 1000000;
    }
    gort_read_stats(&s1);
    bench_spinners_stop();

    bench_dump_samples(late, (size_t)n);
    bench_sort(late, (size_t)n);
    double mean = bench_mean(late, (size_t)n);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=sleeper impl=gort unit=ns value=%" PRId64 " n=%ld hogs=%d quantum=%s"
           " p50=%" PRId64 " p90=%" PRId64 " p99=%" PRId64 " max=%" PRId64 " mean=%.0f %s\n",
           bench_quantile_sorted(late, (size_t)n, 0.99), n, procs, quantum,
           bench_quantile_sorted(late, (size_t)n, 0.50),
           bench_quantile_sorted(late, (size_t)n, 0.90),
           bench_quantile_sorted(late, (size_t)n, 0.99), bench_quantile_sorted(late, (size_t)n, 1.0), mean, st);
    fflush(stdout);
    free(late);
}

int main(int argc, char **argv)
{
    n_samples = bench_arg(argc, argv, 300);
    return gort_main(bench, NULL) ? 1 : 0;
}
