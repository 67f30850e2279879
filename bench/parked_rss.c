/*
 * parked_rss.c — memory per parked goroutine.  The main goroutine reads
 * its RSS (/proc/self/statm), starts N=1M goroutines that each bump an
 * atomic counter and block receiving on one shared channel (elem size 0,
 * a chan struct{}), waits until all have started, sleeps 100 ms so the
 * last ones are parked, and reads RSS again.  Value: RSS delta / N in
 * bytes.  Then it closes the channel and joins them with a WaitGroup.
 * Twins: bench/go "parked_rss" (chan struct{}), bench/boost/parked_rss.cpp
 * (fibers popping an unbuffered_channel; 16 KiB fixedsize stacks, since
 * Boost's 128 KiB default malloc'd stacks would need 1M separate mmaps).
 */
#include "common.h"

static gort_chan *gate;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static atomic_long started;
static long n_goroutines;

static void parked(void *arg)
{
    (void)arg;
    atomic_fetch_add(&started, 1);
    gort_chan_recv(gate, NULL);
    gort_wg_done(&wg);
}

static void bench(void *arg)
{
    (void)arg;
    long n = n_goroutines;
    gort_stats s0, s1;
    char st[512];

    gate = gort_chan_make(0, 0);
    if (!gate)
        bench_die("gort_chan_make failed");
    gort_sleep(10 * 1000000); /* let the runtime settle */
    long rss0 = bench_rss_bytes();
    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    gort_wg_add(&wg, (int)n);
    for (long i = 0; i < n; i++)
        bench_go(parked, NULL);
    while (atomic_load(&started) < n)
        gort_sleep(1000000);
    int64_t t1 = bench_now();
    gort_sleep(100 * 1000000);
    long rss1 = bench_rss_bytes();
    gort_read_stats(&s1);
    gort_chan_close(gate);
    gort_wg_wait(&wg);
    int64_t t2 = bench_now();
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=parked_rss impl=gort unit=bytes value=%.0f n=%ld rss0_mb=%.1f "
           "rss1_mb=%.1f spawn_ms=%.1f wake_join_ms=%.1f %s\n",
           (double)(rss1 - rss0) / (double)n, n, rss0 / 1048576.0, rss1 / 1048576.0,
           (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6 - 100.0, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_goroutines = bench_arg(argc, argv, 1000000);
    return gort_main(bench, NULL) ? 1 : 0;
}
