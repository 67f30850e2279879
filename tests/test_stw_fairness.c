/*
 * test_stw_fairness.c — a stop of the world does not let the goroutine it
 * stopped run ahead of the goroutines waiting in the global run queue.
 *
 * One P, a call-free spinner on it and a quantum of 60 s, so that only
 * stops preempt it.  A plain thread, per round: waits until the victim
 * goroutine is parked on a channel receive, sends to it (a thread's
 * wake-up goes to the global queue), stops the world, reads the spinner's
 * counter (frozen while the world is stopped) and starts the world.  The
 * victim, once it runs, records the counter: it must not have moved since
 * the stop, i.e. the victim ran before the spinner did (Go queues a
 * goroutine stopped for a stop of the world globally, behind those
 * waiting there; gort queues it on its P and looks at the global queue
 * first after the start).
 *
 * Bug this caught (a stress hunt): the stopped goroutine went to its P's
 * queue and the switch counted as a yield, which put off the look at the
 * global queue; the spinner started a new slice at every start, so a
 * thread stopping the world every 1 ms kept goroutines woken by threads or
 * back from system calls waiting for good (2 of 3 runs made no progress
 * for 3 s).  Here the old library's victim never ran after the start.
 */
#include "check.h"
#include <pthread.h>
#include <stdatomic.h>

#define ROUNDS 50

static _Atomic uint64_t spins;
static _Atomic int stop_spin, ran, victim_up;
static _Atomic uint64_t seen[ROUNDS + 1];
static gort_chan *ch;
static gort_waitgroup wg;

static void spinner(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop_spin, memory_order_relaxed))
        atomic_fetch_add_explicit(&spins, 1, memory_order_relaxed);
    gort_wg_done(&wg);
}

static void victim(void *arg)
{
    (void)arg;
    atomic_store(&victim_up, 1);
    for (;;) {
        long v;
        CHECK_EQ(gort_chan_recv(ch, &v), true);
        if (v < 0)
            break;
        atomic_store(&seen[v], atomic_load_explicit(&spins, memory_order_relaxed));
        atomic_fetch_add(&ran, 1);
    }
    gort_wg_done(&wg);
}

/* Until the spinner moves: on one P, the victim has then parked. */
static void wait_spinner_runs(int round)
{
    uint64_t s = atomic_load(&spins);
    int64_t t0 = gort_nanotime();
    while (atomic_load(&spins) == s)
        CHECK(gort_nanotime() - t0 < 10000000000LL, "round %d: the spinner never ran", round);
}

static void *stopper(void *arg)
{
    (void)arg;
    for (long r = 0; r < ROUNDS; r++) {
        wait_spinner_runs((int)r);
        gort_chan_send(ch, &r);
        gort_stop_the_world();
        uint64_t stopped = atomic_load(&spins);
        gort_start_the_world();
        int64_t t0 = gort_nanotime();
        while (atomic_load(&ran) <= r)
            CHECK(gort_nanotime() - t0 < 5000000000LL,
                  "round %ld: the goroutine woken before the stop did not run in 5 s "
                  "(the spinner ran %llu times since the start)",
                  r, (unsigned long long)(atomic_load(&spins) - stopped));
        uint64_t v = atomic_load(&seen[r]);
        CHECK(v <= stopped,
              "round %ld: the spinner ran %llu times after the start before the goroutine "
              "waiting in the global queue",
              r, (unsigned long long)(v - stopped));
    }
    /* The spinner holds the P until it ends (no slice end at 60 s). */
    atomic_store(&stop_spin, 1);
    long end = -1;
    gort_chan_send(ch, &end);
    return NULL;
}

static void gmain(void *arg)
{
    (void)arg;
    ch = gort_chan_make(sizeof(long), 0);
    CHECK(ch != NULL);
    gort_wg_add(&wg, 2);
    /* The victim parks before the spinner exists, which will hold the
     * only P until a stop (one P: yielding to the victim runs it up to its
     * park). */
    CHECK_CALL(gort_go(victim, NULL), 0);
    while (!atomic_load(&victim_up))
        gort_yield();
    CHECK_CALL(gort_go(spinner, NULL), 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, stopper, NULL) == 0);
    /* The stopper's thread does the work; goroutine 1 waits off the P. */
    CHECK(pthread_join(t, NULL) == 0);
    gort_wg_wait(&wg);
}

int main(void)
{
    watchdog_start("test_stw_fairness", 120);
    run_main_child(gmain, NULL, "1", "quantum=60s");
    printf("ok\n");
    return 0;
}
