/* Stop-the-world: with every other P in a call-free loop, gort_stop_the_world
 * returns (all Ps stopped: the spinners' counters stop moving), and
 * gort_start_the_world lets them continue.  Needs async preemption. */
#include "check.h"
#include <stdatomic.h>

static _Atomic bool stop;
static _Atomic uint64_t counters[8];
static gort_waitgroup wg;

static void spin(void *arg)
{
    _Atomic uint64_t *c = arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
    gort_wg_done(&wg);
}

static _Atomic int ndone;
static void note_done(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ndone, 1);
    gort_wg_done(&wg);
}

static uint64_t total(int n)
{
    uint64_t s = 0;
    for (int i = 0; i < n; i++)
        s += atomic_load(&counters[i]);
    return s;
}

static void gmain(void *arg)
{
    (void)arg;
    int procs = gort_maxprocs(0);
    int n = procs; /* more spinners than other Ps */
    gort_wg_add(&wg, n);
    for (int i = 0; i < n; i++)
        gort_go(spin, &counters[i]);
    gort_sleep(20000000);
    int64_t worst = 0;
    for (int round = 0; round < 200; round++) {
        int64_t t0 = gort_nanotime();
        gort_stop_the_world();
        int64_t dt = gort_nanotime() - t0;
        if (dt > worst)
            worst = dt;
        uint64_t a = total(n);
        for (volatile int k = 0; k < 20000; k++)
            ;
        uint64_t b = total(n);
        CHECK_EQ(a, b); /* nobody else runs while the world is stopped */
        gort_start_the_world();
        gort_sleep(200000);
    }
    fprintf(stderr, "STW worst latency over 200 rounds: %.1f us\n", worst / 1e3);
    atomic_store(&stop, true);
    gort_wg_wait(&wg);
    /* Spawning more goroutines than a run queue holds, with the world
     * stopped and then with preemption disabled: gort_go must not yield
     * there (it used to, to relieve a full queue, and deadlocked). */
    gort_wg_add(&wg, 2000);
    gort_stop_the_world();
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(gort_go(note_done, NULL), 0);
    gort_start_the_world();
    gort_preempt_disable();
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(gort_go(note_done, NULL), 0);
    gort_preempt_enable();
    gort_wg_wait(&wg);
    CHECK_EQ(atomic_load(&ndone), 2000);

    gort_stats s;
    gort_read_stats(&s);
    CHECK(s.stw_count >= 200);
    CHECK(s.async_preempts > 0);
}

static void start_unstopped(void *arg)
{
    (void)arg;
    gort_start_the_world();
}

static void child_start_unstopped(void *arg)
{
    exit(gort_main(start_unstopped, arg));
}

/* Blocking or yielding inside a stopped world would never be woken: it is
 * reported instead of hanging. */
static void sleep_stopped(void *arg)
{
    (void)arg;
    gort_stop_the_world();
    gort_sleep(1000000);
}

static void yield_stopped(void *arg)
{
    (void)arg;
    gort_stop_the_world();
    gort_yield();
}

static void child_main(void *fn)
{
    exit(gort_main((void (*)(void *))fn, NULL));
}

int main(void)
{
    expect_child(child_start_unstopped, NULL, 2,
                 "gort: fatal error: start the world without stopping it", "goroutine 1");
    expect_child(child_main, (void *)sleep_stopped, 2,
                 "gort: fatal error: goroutine 1 blocked (sleep) with the world stopped", NULL);
    expect_child(child_main, (void *)yield_stopped, 2,
                 "gort: fatal error: yield with the world stopped", NULL);
    run_main(gmain, NULL);
    return 0;
}
