/*
 * stw.c — stop-the-world latency while every other P spins in a call-free
 * loop.  With P Ps, P-1 goroutines spin (`while (!stop) mix(x)`: no calls,
 * so only an asynchronous preemption can stop them).  The main goroutine
 * takes S samples: sleep 100 us, then time gort_stop_the_world() +
 * gort_start_the_world() (the full pause seen by the caller; the stop and
 * the start are also reported alone).  Value: p99 in ns; raw samples go to
 * $BENCH_SAMPLES.  Twin: bench/go "stw" times runtime.ReadMemStats(), which
 * does stopTheWorld + a few us of stats reading + startTheWorld, with
 * GOMAXPROCS-1 goroutines spinning the same loop.  No Boost twin
 * (Boost.Fiber has no preemption and no stop-the-world).
 *
 * stw_shared (stw_shared.c builds this file with STW_SHARED): P spinners,
 * so every P runs a call-free loop and the stopper shares a P with one of
 * them (the seed's "high GC latency" scenario, as examples/stw.c runs it).
 * After each 100 us sleep the main goroutine only gets a P back when a
 * spinner's time slice ends (~10 ms), so it takes fewer samples (300).
 * Target: p99 <= 100 us.  Twin: bench/go "stw_shared" (ReadMemStats with
 * GOMAXPROCS spinners).
 *
 * Issue 11 (split-stack mode): stop_loop.c and stop_fib.c build this file
 * with STW_NAME (and STW_FIB), and bench/run.sh builds each twice, plain
 * and -fsplit-stack.  stop_loop is stw under another name; stop_fib's P-1
 * goroutines run fib(STW_FIB_N) over and over instead: call-heavy code,
 * which split-stack mode stops at its next prologue by poisoning the M's
 * stack guard, no signal.  The stop alone (stop_p50/stop_p99) is the
 * request-to-stop latency: gort_stop_the_world asks every running P at
 * once and spins until they have all stopped (src/stw.c), so with 2 Ps it
 * is one request and one stop.  The split binary runs with and without
 * GORTDEBUG=prologuepreemptoff=1 (the signal alone); the plain one is the
 * default build.  Value: the whole pause's p99, as stw's.
 */
#include "common.h"

#ifdef STW_SHARED
#define NAME "stw_shared"
#define DEFAULT_SAMPLES 300
#define SPINNERS(procs) (procs)
#else
#ifdef STW_NAME
#define NAME STW_NAME
#else
#define NAME "stw"
#endif
#define DEFAULT_SAMPLES 1000
#define SPINNERS(procs) ((procs) > 1 ? (procs) - 1 : 0)
#endif

#ifdef STW_FIB
/* fib(25): ~250k calls, ~1 ms between two looks at the stop flag. */
#define STW_FIB_N 25
static atomic_int fib_stop, fib_running;
static gort_waitgroup fib_wg = GORT_WAITGROUP_INIT;
static volatile long fib_sink;

__attribute__((noinline)) static long fib(int n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static void fibber(void *arg)
{
    (void)arg;
    long sum = 0;
    atomic_fetch_add(&fib_running, 1);
    while (!atomic_load_explicit(&fib_stop, memory_order_relaxed))
        sum += fib(STW_FIB_N);
    fib_sink = sum;
    gort_wg_done(&fib_wg);
}

static void workers_start(int n)
{
    gort_wg_add(&fib_wg, n);
    for (int i = 0; i < n; i++)
        bench_go(fibber, NULL);
    while (atomic_load(&fib_running) < n)
        gort_sleep(1000000);
}

static void workers_stop(void)
{
    atomic_store(&fib_stop, 1);
    gort_wg_wait(&fib_wg);
}
#else
#define workers_start bench_spinners_start
#define workers_stop bench_spinners_stop
#endif

static long n_samples;

static void bench(void *arg)
{
    (void)arg;
    long n = n_samples;
    int procs = gort_maxprocs(0);
    int nspin = SPINNERS(procs);
    int64_t *tot = calloc((size_t)n, sizeof *tot);
    int64_t *stp = calloc((size_t)n, sizeof *stp);
    int64_t *srt = calloc((size_t)n, sizeof *srt);
    gort_stats s0, s1;
    char st[512];
    if (!tot || !stp || !srt)
        bench_die("out of memory");

    workers_start(nspin);
    for (int i = 0; i < 20; i++) { /* warm-up */
        gort_sleep(100000);
        gort_stop_the_world();
        gort_start_the_world();
    }
    gort_read_stats(&s0);
    for (long i = 0; i < n; i++) {
        gort_sleep(100000);
        int64_t t0 = bench_now();
        gort_stop_the_world();
        int64_t t1 = bench_now();
        gort_start_the_world();
        int64_t t2 = bench_now();
        tot[i] = t2 - t0;
        stp[i] = t1 - t0;
        srt[i] = t2 - t1;
    }
    gort_read_stats(&s1);
    workers_stop();

    bench_dump_samples(tot, (size_t)n);
    bench_sort(tot, (size_t)n);
    bench_sort(stp, (size_t)n);
    bench_sort(srt, (size_t)n);
    double mean = bench_mean(tot, (size_t)n);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=" NAME " impl=gort unit=ns value=%" PRId64 " n=%ld spinners=%d p50=%" PRId64
           " p90=%" PRId64 " p99=%" PRId64 " max=%" PRId64 " mean=%.0f stop_p50=%" PRId64
           " stop_p99=%" PRId64 " start_p50=%" PRId64 " start_p99=%" PRId64
           " prologue_preempts=%" PRIu64 " %s\n",
           bench_quantile_sorted(tot, (size_t)n, 0.99), n, nspin,
           bench_quantile_sorted(tot, (size_t)n, 0.50),
           bench_quantile_sorted(tot, (size_t)n, 0.90),
           bench_quantile_sorted(tot, (size_t)n, 0.99), bench_quantile_sorted(tot, (size_t)n, 1.0), mean,
           bench_quantile_sorted(stp, (size_t)n, 0.50),
           bench_quantile_sorted(stp, (size_t)n, 0.99), bench_quantile_sorted(srt, (size_t)n, 0.50),
           bench_quantile_sorted(srt, (size_t)n, 0.99),
           s1.prologue_preempts - s0.prologue_preempts, st);
    fflush(stdout);
    free(tot);
    free(stp);
    free(srt);
}

int main(int argc, char **argv)
{
    n_samples = bench_arg(argc, argv, DEFAULT_SAMPLES);
    return gort_main(bench, NULL) ? 1 : 0;
}
