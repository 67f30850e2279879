/*
 * spinwait.c — the seed's spin-wait on one P (run with GORTMAXPROCS=1).
 * The main goroutine clears a flag, starts a goroutine that runs a short
 * call-free busy loop (B iterations of the shared mix kernel, ~100-200 us)
 * and then sets the flag, and spins `for (;;) if (atomic_load(&done))
 * break;`.  Without asynchronous preemption this never ends; with it, it
 * ends about one time slice later.  S samples; value: median time from
 * spawn to the flag being seen, in ns (raw samples to $BENCH_SAMPLES).
 * Twin: bench/go "spinwait" (GOMAXPROCS=1, the same loops).  No Boost twin
 * (cooperative fibers would spin forever).
 */
#include "common.h"

enum { BUSY_ITERS = 100000 };
static atomic_int done;
static volatile uint64_t sink;
static long n_samples;

static uint64_t busy(uint64_t x)
{
    for (int i = 0; i < BUSY_ITERS; i++)
        BENCH_MIX(x);
    return x;
}

static void setter(void *arg)
{
    sink = busy((uintptr_t)arg);
    atomic_store(&done, 1);
}

static void bench(void *arg)
{
    (void)arg;
    long n = n_samples;
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    gort_stats s0, s1;
    char st[512];
    if (!lat)
        bench_die("out of memory");

    int64_t b0 = bench_now();
    sink = busy(7);
    int64_t busy_ns = bench_now() - b0;

    gort_read_stats(&s0);
    for (long i = 0; i < n; i++) {
        atomic_store(&done, 0);
        int64_t t0 = bench_now();
        bench_go(setter, (void *)(uintptr_t)(i + 1));
        for (;;)
            if (atomic_load(&done))
                break;
        lat[i] = bench_now() - t0;
        gort_yield(); /* let the setter return before the next sample */
    }
    gort_read_stats(&s1);

    bench_dump_samples(lat, (size_t)n);
    bench_sort(lat, (size_t)n);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=spinwait impl=gort unit=ns value=%" PRId64 " n=%ld busy_ns=%" PRId64
           " min=%" PRId64 " p50=%" PRId64 " p99=%" PRId64 " max=%" PRId64 " %s\n",
           bench_quantile_sorted(lat, (size_t)n, 0.50), n, busy_ns, lat[0],
           bench_quantile_sorted(lat, (size_t)n, 0.50),
           bench_quantile_sorted(lat, (size_t)n, 0.99), bench_quantile_sorted(lat, (size_t)n, 1.0), st);
    fflush(stdout);
    free(lat);
}

int main(int argc, char **argv)
{
    n_samples = bench_arg(argc, argv, 30);
    return gort_main(bench, NULL) ? 1 : 0;
}
