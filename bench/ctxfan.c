/*
 * ctxfan.c — context cancellation fan-out to 10k waiters (issue 13).  Each
 * of N goroutines derives its own child of one context and parks on the
 * child's done channel; the main goroutine cancels the parent and waits
 * until every waiter has run.  Value: ns from the cancel to the last
 * waiter's wake-up (the WaitGroup wait returning), median of the rounds.
 * cpu=: the process's CPU time over the same window (median), steadier
 * than the wall time on a loaded machine.  Twin: bench/go "ctxfan"
 * (context.WithCancel, <-ctx.Done()).
 */
#include "common.h"

static long n_waiters;

static int64_t cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static gort_ctx *parent;
static gort_waitgroup ready, woken;

static void waiter(void *arg)
{
    (void)arg;
    gort_ctx *c = gort_ctx_with_cancel(parent);
    gort_chan *done = gort_ctx_done(c);
    gort_wg_done(&ready);
    gort_chan_recv(done, NULL);
    gort_ctx_release(c);
    gort_wg_done(&woken);
}

static void bench(void *arg)
{
    (void)arg;
    long n = n_waiters;
    enum { ROUNDS = 15 };
    int64_t lat[ROUNDS], cpu[ROUNDS];
    gort_stats s0, s1;
    char st[512];
    for (int r = 0; r < ROUNDS + 1; r++) {
        parent = gort_ctx_with_cancel(gort_ctx_background());
        gort_wg_add(&ready, (int)n);
        gort_wg_add(&woken, (int)n);
        for (long i = 0; i < n; i++)
            bench_go(waiter, NULL);
        gort_wg_wait(&ready);
        gort_sleep(20000000); /* let the last ones park */
        if (r == 1)
            gort_read_stats(&s0);
        int64_t c0 = cpu_now(), t0 = bench_now();
        gort_ctx_cancel(parent);
        gort_wg_wait(&woken);
        int64_t dt = bench_now() - t0, dc = cpu_now() - c0;
        if (r > 0) { /* round 0 warms the stacks up */
            lat[r - 1] = dt;
            cpu[r - 1] = dc;
        }
        gort_ctx_release(parent);
    }
    gort_read_stats(&s1);
    bench_dump_samples(lat, ROUNDS);
    bench_sort(lat, ROUNDS);
    bench_sort(cpu, ROUNDS);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=ctxfan impl=gort unit=ns value=%" PRId64 " waiters=%ld min=%" PRId64
           " max=%" PRId64 " cpu=%" PRId64 " %s\n",
           lat[ROUNDS / 2], n, lat[0], lat[ROUNDS - 1], cpu[ROUNDS / 2], st);
}

int main(int argc, char **argv)
{
    n_waiters = bench_arg(argc, argv, 10000);
    return gort_main(bench, NULL);
}
