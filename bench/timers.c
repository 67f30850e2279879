/*
 * timers.c — timer start/stop churn with 100k timers (issue 13).  Each
 * round starts N timers an hour out (gort_timer_new), stops every one
 * (gort_timer_stop) and frees it; the heap of the P holds up to N timers
 * at once.  Value: ns per timer (start + stop + free), median of the
 * rounds.  Twin: bench/go "timers" (time.NewTimer + Timer.Stop, the
 * garbage collector freeing them).
 */
#include "common.h"

static long n_timers;

static void bench(void *arg)
{
    (void)arg;
    long n = n_timers;
    enum { ROUNDS = 15 };
    gort_timer **ts = malloc((size_t)n * sizeof *ts);
    int64_t per[ROUNDS];
    gort_stats s0, s1;
    char st[512];
    if (!ts)
        bench_die("out of memory");
    gort_read_stats(&s0);
    for (int r = 0; r < ROUNDS; r++) {
        int64_t t0 = bench_now();
        for (long i = 0; i < n; i++)
            if (!(ts[i] = gort_timer_new(3600LL * 1000000000)))
                bench_die("gort_timer_new failed");
        for (long i = 0; i < n; i++)
            if (!gort_timer_stop(ts[i]))
                bench_die("a stop found its timer fired");
        for (long i = 0; i < n; i++)
            gort_timer_free(ts[i]);
        per[r] = (bench_now() - t0) / n;
    }
    gort_read_stats(&s1);
    bench_sort(per, ROUNDS);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=timers impl=gort unit=ns value=%" PRId64 " timers=%ld min=%" PRId64
           " max=%" PRId64 " %s\n",
           per[ROUNDS / 2], n, per[0], per[ROUNDS - 1], st);
    free(ts);
}

int main(int argc, char **argv)
{
    n_timers = bench_arg(argc, argv, 100000);
    return gort_main(bench, NULL);
}
