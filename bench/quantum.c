/*
 * quantum.c — is the time slice honoured?  (Run with GORTMAXPROCS=1
 * GORTDEBUG=quantum=100us.)
 *
 * Two goroutines spin call-free on the one P, so each runs until the
 * runtime preempts it at the end of its slice and the other one runs.
 * Each spinner reads the TSC every iteration (rdtsc: no call, so the loop
 * stays call-free; calibrated against CLOCK_MONOTONIC at start) and takes
 * a gap of more than 20 us between two reads as "the other ran": the
 * slice that just ended lasted from the first read after the previous gap
 * to the last read before this one.  A gap made by the OS (another process
 * on this CPU) also ends a measured slice, so interference only shortens
 * slices; a late preemption lengthens them.  The main goroutine sleeps
 * for the measured section (default 1000 ms; argv[1] sets it in ms) and
 * stops them.  Value: p99 slice / quantum (the slice GORTDEBUG asks for,
 * default 10 ms), target <= 1.2; p50, p90, max in ns; raw slices (ns) to
 * $BENCH_SAMPLES.
 *
 * The preemption is driven by a timed wake-up of sysmon's thread, so the
 * OS's own wake-up latency is its floor: before the spinners start, a
 * plain thread (not a goroutine) with sysmon's 1 us timer slack sleeps
 * 50 us 3000 times and the p99 of its lateness is reported as
 * os_wake_p99.  On a machine busy with other processes the slices' tail
 * is the OS's: a woken sysmon waits for a CPU held by CPU-bound threads
 * (its own spinner's among them), in steps of the OS's slices.
 *
 * Twin (context only, no target): bench/go "quantum", the same two
 * spinners at GOMAXPROCS=1 reading time.Since, Go's fixed 10 ms slice
 * (sysmon preempts a goroutine it has seen run for 10 ms: 10-20 ms).
 */
#include "common.h"

#include <pthread.h>
#include <sys/prctl.h>
#include <x86intrin.h>

enum { MAX_SLICES = 1 << 20, SPINNERS = 2 };
static const int64_t GAP_NS = 20000;

static long measure_ms;
static uint64_t gap_ticks;
static atomic_int stop, started;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
struct spinner {
    uint64_t *slices; /* in TSC ticks */
    long n;
    volatile uint64_t sink;
};
static struct spinner sp[SPINNERS];

static void spinner(void *arg)
{
    struct spinner *s = arg;
    uint64_t x = (uintptr_t)(s - sp) + 1;
    atomic_fetch_add(&started, 1);
    uint64_t start = __rdtsc(), last = start;
    long n = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t t = __rdtsc();
        if (t - last > gap_ticks) {
            if (n < MAX_SLICES)
                s->slices[n++] = last - start;
            start = t;
        }
        last = t;
        BENCH_MIX(x);
    }
    s->n = n;
    s->sink = x;
    gort_wg_done(&wg);
}

enum { OS_WAKES = 3000 };
static int64_t os_late[OS_WAKES];

static void *os_waker(void *arg)
{
    (void)arg;
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* as sysmon's thread does */
    for (int i = 0; i < OS_WAKES; i++) {
        struct timespec ts = { 0, 50000 };
        int64_t t0 = bench_now();
        nanosleep(&ts, NULL);
        os_late[i] = bench_now() - t0 - 50000;
    }
    return NULL;
}

static void bench(void *arg)
{
    (void)arg;
    char qname[32];
    int64_t quantum = bench_quantum_ns(qname, sizeof qname);
    gort_stats s0, s1;
    char st[512];

    /* TSC ticks per ns, over 50 ms. */
    int64_t c0 = bench_now();
    uint64_t k0 = __rdtsc();
    gort_sleep(50000000);
    int64_t c1 = bench_now();
    uint64_t k1 = __rdtsc();
    double ticks_per_ns = (double)(k1 - k0) / (double)(c1 - c0);
    gap_ticks = (uint64_t)(GAP_NS * ticks_per_ns);

    pthread_t th; /* the OS's wake-up floor (a plain thread: not bracketed) */
    if (pthread_create(&th, NULL, os_waker, NULL) != 0)
        bench_die("pthread_create failed");
    pthread_join(th, NULL);
    bench_sort(os_late, OS_WAKES);

    for (int i = 0; i < SPINNERS; i++) {
        sp[i].slices = calloc(MAX_SLICES, sizeof *sp[i].slices);
        if (!sp[i].slices)
            bench_die("out of memory");
    }
    gort_read_stats(&s0);
    gort_wg_add(&wg, SPINNERS);
    for (int i = 0; i < SPINNERS; i++)
        bench_go(spinner, &sp[i]);
    gort_sleep(measure_ms * 1000000);
    atomic_store(&stop, 1);
    gort_wg_wait(&wg);
    gort_read_stats(&s1);

    /* The first slice of each spinner began when it was started, not at a
     * switch: drop it. */
    size_t n = 0;
    for (int i = 0; i < SPINNERS; i++)
        n += sp[i].n > 1 ? (size_t)sp[i].n - 1 : 0;
    int64_t *sl = calloc(n ? n : 1, sizeof *sl);
    if (!sl)
        bench_die("out of memory");
    size_t k = 0;
    for (int i = 0; i < SPINNERS; i++)
        for (long j = 1; j < sp[i].n; j++)
            sl[k++] = (int64_t)((double)sp[i].slices[j] / ticks_per_ns);
    if (n == 0)
        bench_die("quantum: no switch between the spinners was seen");
    bench_dump_samples(sl, n);
    bench_sort(sl, n);
    int64_t p99 = bench_quantile_sorted(sl, n, 0.99);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=quantum impl=gort unit=x value=%.3f n=%zu quantum=%s quantum_ns=%" PRId64
           " p50=%" PRId64 " p90=%" PRId64 " p99=%" PRId64 " max=%" PRId64 " mean=%.0f"
           " p50_x=%.3f max_x=%.3f os_wake_p50=%" PRId64 " os_wake_p99=%" PRId64
           " tsc_ghz=%.3f measure_ms=%ld %s\n",
           (double)p99 / (double)quantum, n, qname, quantum, bench_quantile_sorted(sl, n, 0.5),
           bench_quantile_sorted(sl, n, 0.9), p99, sl[n - 1], bench_mean(sl, n),
           (double)bench_quantile_sorted(sl, n, 0.5) / (double)quantum,
           (double)sl[n - 1] / (double)quantum, bench_quantile_sorted(os_late, OS_WAKES, 0.5),
           bench_quantile_sorted(os_late, OS_WAKES, 0.99), ticks_per_ns, measure_ms, st);
    fflush(stdout);
    free(sl);
}

int main(int argc, char **argv)
{
    measure_ms = bench_arg(argc, argv, 1000);
    return gort_main(bench, NULL) ? 1 : 0;
}
