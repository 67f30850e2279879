/* runnext starvation (Go's inheritTime).  On one P, a pair of goroutines
 * ping-ponging over unbuffered channels readies each other into runnext
 * at every hand-off, so the P never gets to its run queue's ring.  The
 * pair must share one time slice (a G taken from runnext runs in the
 * slice of the G that readied it), so that sysmon preempts it after a
 * quantum (10 ms) and a goroutine queued behind it runs.  Without that,
 * every hand-off looked like a new slice to sysmon and the queued
 * goroutine waited until something else happened to break the chain:
 * 15-700 ms in measured runs, unbounded in principle.
 *
 * The wait is measured in the process's CPU time, which the pair burns
 * while the victim waits: on a loaded machine wall time would stretch
 * with the other processes, CPU time only with sysmon's own lateness.
 * The quantum is 1 ms here; several rounds, each bounded at 50 ms. */
#include "check.h"
#include <stdatomic.h>
#include <time.h>

enum { ROUNDS = 8 };
static const int64_t bound_ns = 50LL * 1000 * 1000;

static gort_chan *ping, *pong, *done;
static gort_chan *rel[ROUNDS]; /* round i releases the victim by closing rel[i] */
static _Atomic bool stop;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;


static void pinger(void *arg)
{
    (void)arg;
    int64_t v = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        gort_chan_send(ping, &v);
        gort_chan_recv(pong, &v);
    }
    v = -1;
    gort_chan_send(ping, &v);
    gort_wg_done(&wg);
}

static void ponger(void *arg)
{
    (void)arg;
    int64_t v;
    for (;;) {
        gort_chan_recv(ping, &v);
        if (v < 0)
            break;
        v++;
        gort_chan_send(pong, &v);
    }
    gort_wg_done(&wg);
}

static void victim(void *arg)
{
    (void)arg;
    /* Readied by close: queued at the ring's tail, behind the pair. */
    for (int i = 0; i < ROUNDS; i++) {
        gort_chan_recv(rel[i], NULL);
        gort_chan_send(done, NULL);
    }
    gort_wg_done(&wg);
}

static void gmain(void *arg)
{
    (void)arg;
    ping = gort_chan_make(sizeof(int64_t), 0);
    pong = gort_chan_make(sizeof(int64_t), 0);
    done = gort_chan_make(0, 0);
    CHECK(ping && pong && done);
    for (int i = 0; i < ROUNDS; i++)
        CHECK((rel[i] = gort_chan_make(0, 0)) != NULL);
    gort_wg_add(&wg, 3);
    CHECK_EQ(gort_go(victim, NULL), 0);
    CHECK_EQ(gort_go(ponger, NULL), 0);
    CHECK_EQ(gort_go(pinger, NULL), 0);
    for (int i = 0; i < ROUNDS; i++) {
        gort_sleep(2 * 1000 * 1000); /* the pair is running by now */
        int64_t t0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
        /* The victim waits on rel[i]; close readies it with next=false:
         * the ring's tail, behind the pair. */
        gort_chan_close(rel[i]);
        gort_chan_recv(done, NULL);
        int64_t spent = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - t0;
        CHECK(spent < bound_ns, "round %d: the queued goroutine ran after %lld ms of CPU", i,
              (long long)(spent / 1000000));
    }
    atomic_store(&stop, true);
    gort_wg_wait(&wg);
    for (int i = 0; i < ROUNDS; i++)
        gort_chan_free(rel[i]);
    gort_chan_free(ping);
    gort_chan_free(pong);
    gort_chan_free(done);
}

int main(void)
{
    setenv("GORTMAXPROCS", "1", 1);
    /* A short slice: the pair is preempted after ~1 ms of its CPU time
     * (plus sysmon's lateness), 50x below the bound. */
    setenv("GORTDEBUG", "quantum=1ms", 1);
    CHECK_EQ(gort_main(gmain, NULL), 0);
    return 0;
}
