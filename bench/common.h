/*
 * common.h — helpers shared by gort's benchmark programs (the bench directory).
 *
 * Every program prints exactly one line on stdout:
 *   RESULT name=<bench> impl=gort unit=<unit> value=<v> key=value ...
 * The extra key=values include gort's own counters (gort_read_stats) taken
 * as a delta over the measured section, so bench/report.py can explain a
 * result.  Latency benchmarks also dump their raw samples (ns, one per
 * line) to the file named by $BENCH_SAMPLES when it is set.
 *
 * Clock: CLOCK_MONOTONIC through clock_gettime (vDSO), the clock Go's
 * time.Now()/time.Since() and Boost's std::chrono::steady_clock read.
 */
#ifndef GORT_BENCH_COMMON_H
#define GORT_BENCH_COMMON_H

#include <gort.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline int64_t bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* argv[1] as a positive count, else def. */
static inline long bench_arg(int argc, char **argv, long def)
{
    if (argc > 1) {
        long v = strtol(argv[1], NULL, 0);
        if (v > 0)
            return v;
    }
    return def;
}

/* Resident set size of this process in bytes (/proc/self/statm). */
static inline long bench_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, rss = 0;
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &rss) != 2)
        rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

static inline void bench_die(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(2);
}

/* Start a goroutine or die (the benchmarks cannot continue without it). */
static inline void bench_go(void (*fn)(void *), void *arg)
{
    if (gort_go(fn, arg) != 0)
        bench_die("gort_go failed");
}

/* An unbuffered (cap 0) or buffered channel, or die. */
static inline gort_chan *bench_chan(size_t elem, size_t cap)
{
    gort_chan *c = gort_chan_make(elem, cap);
    if (!c)
        bench_die("gort_chan_make failed");
    return c;
}

/* gort's counters over a section, as " key=value" pairs appended to buf. */
static inline void bench_stats_str(const gort_stats *a, const gort_stats *b,
                                   char *buf, size_t len)
{
    snprintf(buf, len,
             "procs=%" PRIu64 " threads=%" PRIu64 " async_preempts=%" PRIu64
             " sync_preempts=%" PRIu64 " ctxsw=%" PRIu64 " steals=%" PRIu64
             " preempt_requests=%" PRIu64 " signals=%" PRIu64 " stw=%" PRIu64
             " spawned=%" PRIu64 " syscalls=%" PRIu64 " handoffs=%" PRIu64
             " lock_sleeps=%" PRIu64 " io_batches=%" PRIu64 " io_batched=%" PRIu64,
             b->procs, b->threads, b->async_preempts - a->async_preempts,
             b->sync_preempts - a->sync_preempts,
             b->context_switches - a->context_switches, b->steals - a->steals,
             b->preempt_requests - a->preempt_requests,
             b->signals_sent - a->signals_sent, b->stw_count - a->stw_count,
             b->spawned - a->spawned, b->syscalls - a->syscalls,
             b->handoffs - a->handoffs, b->lock_sleeps - a->lock_sleeps,
             b->io_batches - a->io_batches, b->io_batched - a->io_batched);
}

static int bench_cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* Sort s[0..n) and return the nearest-rank q-quantile (0 < q <= 1). */
static inline int64_t bench_quantile_sorted(const int64_t *s, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t k = (size_t)(q * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return s[k - 1];
}

static inline void bench_sort(int64_t *s, size_t n)
{
    qsort(s, n, sizeof *s, bench_cmp_i64);
}

/* Write the samples (unsorted order is fine) to $BENCH_SAMPLES if set. */
static inline void bench_dump_samples(const int64_t *s, size_t n)
{
    const char *path = getenv("BENCH_SAMPLES");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return;
    }
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%" PRId64 "\n", s[i]);
    fclose(f);
}

/* The call-free compute kernel shared by the spin/hog/compute benchmarks:
 * a 64-bit LCG step followed by an xorshift, a serial dependency chain the
 * compiler can neither vectorize nor shortcut.  The Go twin runs the
 * identical arithmetic.  Inlined into each caller so the loop that runs is
 * the caller's own (preemptible) code. */
#define BENCH_MIX(x) ((x) = (x) * 6364136223846793005ULL + 1442695040888963407ULL, \
                      (x) ^= (x) >> 29)

/* Spinners: goroutines that run BENCH_MIX in a call-free loop, so that only
 * an asynchronous preemption can take their P (sleeper's hogs, stw's
 * spinners).  bench_spinners_start(n) starts n of them (spinner i seeded
 * with i + 1) and returns once all n run; bench_spinners_stop() stops them
 * and waits until they are done.  One set per program. */
struct bench_spinners {
    atomic_int stop, spinning;
    gort_waitgroup wg;
    volatile uint64_t sink;
};

static inline struct bench_spinners *bench_spinners_state(void)
{
    static struct bench_spinners s = { .wg = GORT_WAITGROUP_INIT };
    return &s;
}

static inline void bench_spinner(void *arg)
{
    struct bench_spinners *s = bench_spinners_state();
    uint64_t x = (uintptr_t)arg;
    atomic_fetch_add(&s->spinning, 1);
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed))
        BENCH_MIX(x);
    s->sink = x;
    gort_wg_done(&s->wg);
}

static inline void bench_spinners_start(int n)
{
    struct bench_spinners *s = bench_spinners_state();
    gort_wg_add(&s->wg, n);
    for (int i = 0; i < n; i++)
        bench_go(bench_spinner, (void *)(uintptr_t)(i + 1));
    while (atomic_load(&s->spinning) < n)
        gort_sleep(1000000);
}

static inline void bench_spinners_stop(void)
{
    struct bench_spinners *s = bench_spinners_state();
    atomic_store(&s->stop, 1);
    gort_wg_wait(&s->wg);
}

/* The time slice in ns that GORTDEBUG asks for (quantum=100us, 1ms,
 * 250000ns, 0.5ms, or a bare number of ns), else gort's default 10 ms;
 * its text goes to name[0..len) ("default" when not set). */
static inline int64_t bench_quantum_ns(char *name, size_t len)
{
    const char *dbg = getenv("GORTDEBUG");
    const char *q = dbg ? strstr(dbg, "quantum=") : NULL;
    snprintf(name, len, "default");
    if (!q)
        return 10000000;
    sscanf(q + 8, "%31[^,]", name);
    char *end;
    double v = strtod(name, &end);
    if (strncmp(end, "ns", 2) == 0 || *end == 0)
        return (int64_t)v;
    if (strncmp(end, "us", 2) == 0)
        return (int64_t)(v * 1e3);
    if (strncmp(end, "ms", 2) == 0)
        return (int64_t)(v * 1e6);
    if (*end == 's')
        return (int64_t)(v * 1e9);
    return 10000000;
}

/* Mean of s[0..n), summed as s[i] / n in index order. */
static inline double bench_mean(const int64_t *s, size_t n)
{
    double mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += (double)s[i] / (double)n;
    return mean;
}

/* The lock benchmarks' rounds (mutex.c, rwmutex.c): g goroutines each run
 * fn((void *)per) and call gort_wg_done(wg); a warm-up round of 10000
 * each, then *counter = 0, then the timed round.  Returns the timed
 * round's wall time in ns, with gort's counters over it in st (as
 * bench_stats_str). */
static inline void bench_workers_run(void (*fn)(void *), gort_waitgroup *wg, int g, long per)
{
    gort_wg_add(wg, g);
    for (int i = 0; i < g; i++)
        bench_go(fn, (void *)(intptr_t)per);
    gort_wg_wait(wg);
}

static inline int64_t bench_workers_timed(void (*fn)(void *), gort_waitgroup *wg, int g,
                                          long per, long *counter, char *st, size_t len)
{
    gort_stats s0, s1;
    bench_workers_run(fn, wg, g, 10000); /* warm-up */
    *counter = 0;
    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    bench_workers_run(fn, wg, g, per);
    int64_t t1 = bench_now();
    gort_read_stats(&s1);
    bench_stats_str(&s0, &s1, st, len);
    return t1 - t0;
}

#endif /* GORT_BENCH_COMMON_H */
