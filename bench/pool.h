/*
 * pool.h — the worker pool's producer and workers, the core of
 * bench/pool.c, shared with tests/test_programs.c (fewer jobs, checked).
 * The includer defines work(x), the job's compute kernel, before
 * including this, sets n_jobs and the three channels before starting the
 * goroutines, and may define PROGRAM_CHECK(cond, ...) to check what the
 * benchmark only evaluates.  Each worker calls gort_wg_done(&pool_wg)
 * when it returns.
 */
#ifndef GORT_BENCH_POOL_H
#define GORT_BENCH_POOL_H

#ifndef PROGRAM_CHECK
#define PROGRAM_CHECK(cond, ...) ((void)(cond))
#endif

static gort_chan *jobs, *results, *quit;
static gort_waitgroup pool_wg = GORT_WAITGROUP_INIT;
static long n_jobs;

/* Sends n_jobs job numbers, each in a select {jobs <- i; <-quit}, then
 * closes jobs; returns early if quit is closed. */
static void producer(void *arg)
{
    (void)arg;
    int64_t i;
    gort_case cs[2] = {
        { .chan = jobs, .op = GORT_SEND, .elem = &i },
        { .chan = quit, .op = GORT_RECV, .elem = NULL },
    };
    for (i = 0; i < n_jobs; i++) {
        int k = gort_select(cs, 2, -1);
        PROGRAM_CHECK(k == 0, "quit closed before every job was sent");
        if (k == 1)
            return;
    }
    gort_chan_close(jobs);
}

/* Until jobs is closed and drained or quit is closed: select {j := <-jobs;
 * <-quit}, and for a job, send work(j) on results. */
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
        PROGRAM_CHECK(k == 0 || k == 1);
        if (k == 1 || !cs[0].ok)
            break;
        uint64_t r = work((uint64_t)j);
        gort_chan_send(results, &r);
    }
    gort_wg_done(&pool_wg);
}

#endif /* GORT_BENCH_POOL_H */
