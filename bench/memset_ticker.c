/*
 * memset_ticker.c — a 1 ms ticker beside a goroutine that sits in a long
 * call gort cannot preempt (run with GORTMAXPROCS=1).
 *
 * The main goroutine touches a 1 GiB buffer (one memset, so the page
 * faults are not measured), starts a goroutine that clears the buffer with
 * libc's memset over and over (one call takes tens to hundreds of ms; libc
 * is not preemptible code, so no signal can stop it there), then ticks:
 * gort_sleep(1 ms) S times, each sample being the time slept minus 1 ms.
 * The ticker only runs during a memset if the runtime hands the P to
 * another thread while its goroutine is in foreign code.  Between two
 * memsets the clearing goroutine calls gort_yield(), so a runtime that
 * does not hand off still finishes (its ticker then waits about one memset
 * per tick); the measured section also stops after 5 s.  Value: lateness
 * p99 in ns (target <= 2 ms); raw samples to $BENCH_SAMPLES.
 *
 * Twin: bench/go "memset_ticker" (GOMAXPROCS=1): time.Sleep(1 ms) beside a
 * goroutine clearing a 1 GiB []byte with the memclr idiom
 * (`for i := range b { b[i] = 0 }`, compiled to one call of the runtime's
 * assembly memclrNoHeapPointers, which Go cannot preempt either and does
 * not treat as a system call), runtime.Gosched() between clears.
 */
#include "common.h"

enum { BUF_BYTES = 1 << 30 };
static const int64_t MAX_MEASURE_NS = 5000000000LL;

static long n_samples;
static char *buf;
static atomic_int stop;
static atomic_long clears;
static _Atomic int64_t clear_ns;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
/* Through a volatile pointer: a real call of libc's memset that the
 * compiler can neither inline nor drop as a dead store. */
static void *(*volatile memset_fn)(void *, int, size_t) = memset;

static void clearer(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        int64_t t0 = bench_now();
        memset_fn(buf, 0, BUF_BYTES);
        atomic_fetch_add(&clear_ns, bench_now() - t0);
        atomic_fetch_add(&clears, 1);
        gort_yield();
    }
    gort_wg_done(&wg);
}

static void bench(void *arg)
{
    (void)arg;
    long n = n_samples;
    int64_t *late = calloc((size_t)n, sizeof *late);
    gort_stats s0, s1;
    char st[512];
    buf = malloc(BUF_BYTES);
    if (!late || !buf)
        bench_die("out of memory");
    int64_t t0 = bench_now();
    memset_fn(buf, 1, BUF_BYTES); /* touch: fault every page in */
    int64_t touch_ns = bench_now() - t0;

    gort_wg_add(&wg, 1);
    bench_go(clearer, NULL);
    for (int i = 0; i < 5; i++) /* warm-up: the clearer is in a memset */
        gort_sleep(1000000);
    gort_read_stats(&s0);
    long c0 = atomic_load(&clears);
    int64_t start = bench_now();
    long m = 0;
    while (m < n && bench_now() - start < MAX_MEASURE_NS) {
        int64_t t = bench_now();
        gort_sleep(1000000);
        late[m++] = bench_now() - t - 1000000;
    }
    int64_t secs = bench_now() - start;
    gort_read_stats(&s1);
    long nclears = atomic_load(&clears) - c0;
    atomic_store(&stop, 1);
    gort_wg_wait(&wg);
    long all = atomic_load(&clears);

    bench_dump_samples(late, (size_t)m);
    bench_sort(late, (size_t)m);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=memset_ticker impl=gort unit=ns value=%" PRId64 " n=%ld"
           " p50=%" PRId64 " p90=%" PRId64 " p99=%" PRId64 " max=%" PRId64 " mean=%.0f"
           " clears=%ld clear_ms=%.1f touch_ms=%.1f secs_measured=%.2f %s\n",
           bench_quantile_sorted(late, (size_t)m, 0.99), m,
           bench_quantile_sorted(late, (size_t)m, 0.50), bench_quantile_sorted(late, (size_t)m, 0.90),
           bench_quantile_sorted(late, (size_t)m, 0.99), bench_quantile_sorted(late, (size_t)m, 1.0),
           bench_mean(late, (size_t)m), nclears,
           all ? (double)atomic_load(&clear_ns) / (double)all / 1e6 : 0.0, (double)touch_ns / 1e6,
           (double)secs / 1e9, st);
    fflush(stdout);
    free(late);
    free(buf);
}

int main(int argc, char **argv)
{
    n_samples = bench_arg(argc, argv, 1000);
    return gort_main(bench, NULL) ? 1 : 0;
}
