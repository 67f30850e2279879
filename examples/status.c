/* status.c — a ticker-driven status printer, as a Go program would write
 * it with time.NewTicker and a select loop: eight workers process 400
 * jobs; every 50 ms the main goroutine prints how far they are, until the
 * last one is done.  A worker stuck on a job longer than 30 ms is reported
 * by an after-func timer it stops when the job ends (time.AfterFunc). */
#include <gort.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

enum { WORKERS = 8, JOBS = 400 };

static gort_chan *jobs;       /* int job numbers */
static gort_chan *all_done;   /* closed once every worker has returned */
static atomic_int done_count, busy;
static gort_waitgroup wg;

static void slow_job(void *arg)
{
    printf("  (job %d is taking long)\n", (int)(intptr_t)arg);
}

static void worker(void *arg)
{
    (void)arg;
    int job;
    while (gort_chan_recv(jobs, &job)) {
        atomic_fetch_add(&busy, 1);
        gort_timer *watch = gort_after_func(30 * 1000000LL, slow_job, (void *)(intptr_t)job);
        gort_sleep((job % 97 == 41 ? 45 : 1 + job % 5) * 1000000LL); /* the work */
        gort_timer_stop(watch);
        gort_timer_free(watch);
        atomic_fetch_sub(&busy, 1);
        atomic_fetch_add(&done_count, 1);
    }
    gort_wg_done(&wg);
}

static void closer(void *arg)
{
    (void)arg;
    gort_wg_wait(&wg);
    gort_chan_close(all_done);
}

static void feeder(void *arg)
{
    (void)arg;
    for (int i = 0; i < JOBS; i++)
        gort_chan_send(jobs, &i);
    gort_chan_close(jobs);
}

static void status(void *arg)
{
    (void)arg;
    int64_t start = gort_nanotime();
    jobs = gort_chan_make(sizeof(int), 0);
    all_done = gort_chan_make(0, 0);
    gort_wg_add(&wg, WORKERS);
    for (int i = 0; i < WORKERS; i++)
        gort_go(worker, NULL);
    gort_go(feeder, NULL);
    gort_go(closer, NULL);

    gort_ticker *tick = gort_ticker_new(50 * 1000000LL);
    for (;;) {
        int64_t t;
        gort_case cases[2] = {
            {.chan = gort_ticker_chan(tick), .op = GORT_RECV, .elem = &t},
            {.chan = all_done, .op = GORT_RECV},
        };
        if (gort_select(cases, 2, -1) == 1)
            break;
        printf("%4lld ms: %3d/%d jobs done, %d in progress\n",
               (long long)((t - start) / 1000000), atomic_load(&done_count), JOBS,
               atomic_load(&busy));
    }
    gort_ticker_stop(tick);
    gort_ticker_free(tick);
    printf("all %d jobs done in %lld ms\n", atomic_load(&done_count),
           (long long)((gort_nanotime() - start) / 1000000));
    gort_chan_free(jobs);
    gort_chan_free(all_done);
}

int main(void)
{
    return gort_main(status, NULL);
}
