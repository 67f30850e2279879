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

static gort_chan *jobs, *results, *quit;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static long n_jobs;

static inline uint64_t work(uint64_t x)
{
    for (int i = 0; i < STEPS; i++)
        BENCH_MIX(x);
    return x;
}

static void producer(void *arg)
{
    (void)arg;
    int64_t i;
    gort_case cs[2] = {
        { .chan = jobs, .op = GORT_SEND, .elem = &i },
        { .chan = quit, .op = GORT_RECV, .elem = NULL },
    };
    for (i = 0; i < n_jobs; i++)
        if (gort_select(cs, 2, -1) == 1)
            return;
    gort_chan_close(jobs);
}

static void worker(void *arg)
{
    (void)arg;
    int64_t j;
    gort_case cs[2] = {
        { .chan = jobs, .op = GORT_RECV, .elem = &j },
        { .chan = quit, .op = GORT_RECV, .elem = NULL },
    };
    for (;;) {
        int k = gort_select(cs, 2, -1);
        if (k == 1 || !cs[0].ok)
            break;
        uint64_t r = work((uint64_t)j);
        gort_chan_send(results, &r);
    }
    gort_wg_done(&wg);
}

static gort_chan *mkchan(size_t elem, size_t cap)
{
    gort_chan *c = gort_chan_make(elem, cap);
    if (!c)
        bench_die("gort_chan_make failed");
    return c;
}

static void bench(void *arg)
{
    (void)arg;
    gort_stats s0, s1;
    char st[512];
    long n = n_jobs;
    uint64_t want = 0, sum = 0, r;
    for (long i = 0; i < n; i++)
        want += work((uint64_t)i);
    jobs = mkchan(sizeof(int64_t), CAP);
    results = mkchan(sizeof(uint64_t), CAP);
    quit = mkchan(0, 0);

    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    gort_wg_add(&wg, WORKERS);
    for (int w = 0; w < WORKERS; w++)
        bench_go(worker, NULL);
    bench_go(producer, NULL);
    for (long i = 0; i < n; i++) {
        gort_chan_recv(results, &r);
        sum += r;
    }
    gort_chan_close(quit);
    gort_wg_wait(&wg);
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
