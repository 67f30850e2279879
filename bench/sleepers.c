/*
 * sleepers.c — many sleepers on timers: 10,000 goroutines each sleep 20
 * times for a pseudo-random 1.000-10.000 ms (whole microseconds, from a
 * per-goroutine xorshift seeded with its index: the Go twin draws the same
 * durations).  Each measures its wake-up lateness, gort_nanotime() after
 * the sleep minus (gort_nanotime() before + requested), into a shared
 * array.  Value: wall time in ms from the first spawn to the last exit
 * (the floor is the longest goroutine's sum of 20 sleeps, printed as
 * floor_ms); also the mean, p50, p99 and max lateness in µs.  The program
 * checks that no sleep returned early (exit 2) and that every goroutine
 * ran its 20 sleeps.  Go twin: bench/go "sleepers" (time.Sleep, time.Since).
 *
 * What it stresses: the timer heap with 10,000 timers in it, how a P
 * finds expired timers, how many threads wake for them (and how late),
 * and spawning 10,000 goroutines that all park at once.
 *
 * argv[1]: the number of goroutines (default 10000).
 * BENCH_WARMUP=K (environment): run the whole program K times before the
 * measured run, in the same process.  Then the measured run's goroutines
 * start on stacks that earlier ones used (gort: the dead-G free lists; Go:
 * its stack cache and heap), so it shows the timers and the scheduler
 * without the first touch of 10,000 new stacks, which on a
 * shadow-paging VM costs more than everything else in the run
 * (bench/README.md).  The Go twin reads the same variable.
 */
#include "common.h"

enum { SLEEPS = 20 };

static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static int64_t *late; /* [g * SLEEPS + k] */
static long n_g;

static inline uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The k-th duration of goroutine g, in ns: 1000..10000 µs. */
static inline int64_t dur(uint64_t *s)
{
    return (int64_t)(1000 + xorshift(s) % 9001) * 1000;
}

static void sleeper(void *arg)
{
    long g = (long)(uintptr_t)arg;
    uint64_t s = 0x9E3779B97F4A7C15ULL * (uint64_t)(g + 1);
    for (int k = 0; k < SLEEPS; k++) {
        int64_t d = dur(&s);
        int64_t t = gort_nanotime();
        gort_sleep(d);
        late[g * SLEEPS + k] = gort_nanotime() - (t + d);
    }
    gort_wg_done(&wg);
}

/* One run of the whole program: every sample reset, n goroutines
 * spawned, all of them waited for.  Returns the wall time in ns. */
static int64_t run_once(long n)
{
    for (size_t i = 0; i < (size_t)n * SLEEPS; i++)
        late[i] = INT64_MIN;
    int64_t t0 = bench_now();
    gort_wg_add(&wg, (int)n);
    for (long g = 0; g < n; g++)
        bench_go(sleeper, (void *)(uintptr_t)g);
    gort_wg_wait(&wg);
    return bench_now() - t0;
}

static void bench(void *arg)
{
    (void)arg;
    gort_stats s0, s1;
    char st[512];
    long n = n_g;
    size_t ns = (size_t)n * SLEEPS;
    late = malloc(ns * sizeof *late);
    if (!late)
        bench_die("malloc failed");
    int64_t floor = 0;
    for (long g = 0; g < n; g++) {
        uint64_t s = 0x9E3779B97F4A7C15ULL * (uint64_t)(g + 1);
        int64_t tot = 0;
        for (int k = 0; k < SLEEPS; k++)
            tot += dur(&s);
        if (tot > floor)
            floor = tot;
    }
    const char *w = getenv("BENCH_WARMUP");
    long warmup = w ? strtol(w, NULL, 10) : 0;
    for (long r = 0; r < warmup; r++)
        (void)run_once(n);

    gort_read_stats(&s0);
    int64_t wall = run_once(n);
    gort_read_stats(&s1);
    for (size_t i = 0; i < ns; i++)
        if (late[i] < 0) {
            fprintf(stderr, "sleepers: sample %zu: %s (%" PRId64 " ns)\n", i,
                    late[i] == INT64_MIN ? "never slept" : "woke early", late[i]);
            exit(2);
        }
    double mean = bench_mean(late, ns);
    bench_dump_samples(late, ns);
    bench_sort(late, ns);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=sleepers impl=gort unit=ms value=%.1f goroutines=%ld sleeps=%d warmup=%ld"
           " floor_ms=%.1f late_mean_us=%.1f late_p50_us=%.1f late_p99_us=%.1f late_max_us=%.1f %s\n",
           (double)wall / 1e6, n, SLEEPS, warmup, (double)floor / 1e6, mean / 1e3,
           (double)bench_quantile_sorted(late, ns, 0.5) / 1e3,
           (double)bench_quantile_sorted(late, ns, 0.99) / 1e3,
           (double)bench_quantile_sorted(late, ns, 1) / 1e3, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_g = bench_arg(argc, argv, 10000);
    int rc = gort_main(bench, NULL);
    return rc ? 1 : 0;
}
