/*
 * pool.c — a fan-out/fan-in worker pool driven through select.  A
 * producer goroutine sends N job numbers on `jobs` (capacity 100), each
 * send a two-case select {jobs <- i; <-quit}, then closes jobs.  1000
 * worker goroutines loop on a two-case select {j := <-jobs; <-quit}: for a
 * job they run a small compute kernel (64 steps of BENCH_MIX seeded with
 * j) and send the result on `results` (capacity 100); they return when
 * jobs is closed and drained or quit is closed.  The main goroutine
 * receives N results, checks their sum against the same kernel run
 * sequentially (before the clock starts; exit 2 on a mismatch), closes
 * quit and waits for the workers on a WaitGroup.  Value: wall time in ms
 * from the first spawn to the last worker's exit.  Go twin: bench/go
 * "pool" (programs.go), the same with select statements.
 *
 * What it stresses: select with 1000 goroutines parked on the same two
 * channels (every job wakes one of them), buffered channel hand-offs
 * between 2 Ps, and the fan-in of 1000 senders into one channel.
 *
 * argv[1]: the number of jobs (default 500000).
 */
#include "common.h"

enum { WORKERS = 1000, CAP = 100, STEPS = 64 };

static inline uint64_t work(uint64_t x)
{
    for (int i = 0; i < STEPS; i++)
        BENCH_MIX(x);
    return x;
}

#include "pool.h" /* producer, worker (shared with tests/test_programs.c) */

static void bench(void *arg)
{
    (void)arg;
    gort_stats s0, s1;
    char st[512];
    long n = n_jobs;
    uint64_t want = 0, sum = 0, r;
    for (long i = 0; i < n; i++)
        want += work((uint64_t)i);
    jobs = bench_chan(sizeof(int64_t), CAP);
    results = bench_chan(sizeof(uint64_t), CAP);
    quit = bench_chan(0, 0);

    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    gort_wg_add(&pool_wg, WORKERS);
    for (int w = 0; w < WORKERS; w++)
        bench_go(worker, NULL);
    bench_go(producer, NULL);
    for (long i = 0; i < n; i++) {
        gort_chan_recv(results, &r);
        sum += r;
    }
    gort_chan_close(quit);
    gort_wg_wait(&pool_wg);
    int64_t t1 = bench_now();
    gort_read_stats(&s1);
    if (sum != want) {
        fprintf(stderr, "pool: sum %" PRIu64 ", want %" PRIu64 "\n", sum, want);
        exit(2);
    }
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=pool impl=gort unit=ms value=%.1f jobs=%ld workers=%d ns_per_job=%.0f %s\n",
           (double)(t1 - t0) / 1e6, n, WORKERS, (double)(t1 - t0) / (double)n, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_jobs = bench_arg(argc, argv, 500000);
    int rc = gort_main(bench, NULL);
    return rc ? 1 : 0;
}
