/*
 * compute.c — throughput of a call-free compute loop with and without gort.
 * The kernel is N iterations of the shared mix step (a serial dependency
 * chain).  Each round runs, one after another:
 *   plain: 2 plain pthreads (not goroutines), N iterations each; the main
 *          goroutine waits for them on a gort_waitgroup (the threads call
 *          gort_wg_done as foreign threads), so every P is idle meanwhile;
 *   g2:    2 goroutines on the 2 Ps, N iterations each (one per P);
 *   g4:    4 goroutines on the 2 Ps, N/2 each (time-sliced by preemption).
 * R rounds alternate the three; the value is the gort overhead
 * min(g2)/min(plain) - 1 in percent (best of R: interference from other
 * processes only ever adds time, so the minimum is the robust estimate on
 * a shared machine; the medians are reported too, and the oversubscribed
 * g4 as overhead_oversub).  Twin: bench/go "compute" runs g2 and g4 with
 * the same kernel; Go has no "without the runtime", so its value is
 * min(g4)/min(g2) - 1 (the cost of time slicing) and is not comparable.
 */
#include "common.h"

#include <pthread.h>

static long n_iters = 100000000;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static volatile uint64_t sink;

static uint64_t kernel(long n, uint64_t x)
{
    for (long i = 0; i < n; i++)
        BENCH_MIX(x);
    return x;
}

static void *plain_thread(void *arg)
{
    sink = kernel(n_iters, (uintptr_t)arg);
    gort_wg_done(&wg);
    return NULL;
}

static void g_full(void *arg)
{
    sink = kernel(n_iters, (uintptr_t)arg);
    gort_wg_done(&wg);
}

static void g_half(void *arg)
{
    sink = kernel(n_iters / 2, (uintptr_t)arg);
    gort_wg_done(&wg);
}

static int64_t run_plain(void)
{
    pthread_t th[2];
    int64_t t0 = bench_now();
    gort_wg_add(&wg, 2);
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, plain_thread, (void *)(uintptr_t)(i + 1)))
            bench_die("pthread_create failed");
    gort_wg_wait(&wg);
    int64_t t1 = bench_now();
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    return t1 - t0;
}

static int64_t run_goroutines(int n, void (*fn)(void *))
{
    int64_t t0 = bench_now();
    gort_wg_add(&wg, n);
    for (int i = 0; i < n; i++)
        bench_go(fn, (void *)(uintptr_t)(i + 1));
    gort_wg_wait(&wg);
    return bench_now() - t0;
}

/* acc += b - a, counter by counter (the counters summed over rounds). */
static void stats_acc(gort_stats *acc, const gort_stats *a, const gort_stats *b)
{
    acc->async_preempts += b->async_preempts - a->async_preempts;
    acc->sync_preempts += b->sync_preempts - a->sync_preempts;
    acc->context_switches += b->context_switches - a->context_switches;
    acc->steals += b->steals - a->steals;
    acc->preempt_requests += b->preempt_requests - a->preempt_requests;
    acc->signals_sent += b->signals_sent - a->signals_sent;
    acc->stw_count += b->stw_count - a->stw_count;
    acc->spawned += b->spawned - a->spawned;
}

static int64_t median(int64_t *v, int n) /* sorts v */
{
    bench_sort(v, (size_t)n);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { R = 5 };

static void bench(void *arg)
{
    (void)arg;
    int64_t plain[R], g2[R], g4[R];
    gort_stats a, b, acc2 = { 0 }, acc4 = { 0 };
    char st[512];

    run_goroutines(2, g_half); /* warm-up: Ms and stacks exist */
    for (int r = 0; r < R; r++) {
        plain[r] = run_plain();
        gort_read_stats(&a);
        g2[r] = run_goroutines(2, g_full);
        gort_read_stats(&b);
        stats_acc(&acc2, &a, &b);
        gort_read_stats(&a);
        g4[r] = run_goroutines(4, g_half);
        gort_read_stats(&b);
        stats_acc(&acc4, &a, &b);
    }
    int64_t mp = median(plain, R), m2 = median(g2, R), m4 = median(g4, R);
    int64_t bp = plain[0], b2 = g2[0], b4 = g4[0]; /* sorted: the minima */
    gort_stats zero = { 0 };
    acc2.procs = b.procs;
    acc2.threads = b.threads;
    bench_stats_str(&zero, &acc2, st, sizeof st);
    printf("RESULT name=compute impl=gort unit=%% value=%.2f n=%ld rounds=%d plain_min_ms=%.1f "
           "g2_min_ms=%.1f g4_min_ms=%.1f plain_med_ms=%.1f g2_med_ms=%.1f g4_med_ms=%.1f "
           "overhead_median=%.2f overhead_oversub=%.2f ns_per_iter=%.3f "
           "oversub_async_preempts=%" PRIu64 " oversub_ctxsw=%" PRIu64 " oversub_signals=%" PRIu64
           " %s\n",
           100.0 * ((double)b2 / (double)bp - 1.0), n_iters, R, bp / 1e6, b2 / 1e6, b4 / 1e6,
           mp / 1e6, m2 / 1e6, m4 / 1e6, 100.0 * ((double)m2 / (double)mp - 1.0),
           100.0 * ((double)b4 / (double)bp - 1.0), (double)bp / (double)n_iters,
           acc4.async_preempts, acc4.context_switches, acc4.signals_sent, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_iters = bench_arg(argc, argv, 100000000);
    return gort_main(bench, NULL) ? 1 : 0;
}
