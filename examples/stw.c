/* stw.c — the talk "Pardon the interruption: loop preemption in Go 1.14":
 * stopping the world (as Go's GC does) must wait for every running
 * goroutine to stop, so one call-free loop ("Loops cause scheduling
 * latency", "Loops can cause scheduler deadlocks") stalls the whole
 * program.  Every P runs a goroutine spinning in a call-free loop while the
 * main goroutine times gort_stop_the_world() 500 times.  With asynchronous
 * preemption the spinners are interrupted by a signal at once; without it
 * (a child re-run with GORTDEBUG=asyncpreemptoff=1) the first stop never
 * completes: it hangs. */
#include <gort.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "demo_child.h"

enum { ROUNDS = 500 };
static atomic_int stop, started;
static atomic_ulong spins;

static void spinner(void *arg)
{
    unsigned long n = 0;
    atomic_fetch_add(&started, 1);
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        n++; /* call-free: no gort call, nowhere to stop voluntarily */
    atomic_fetch_add(&spins, n);
}

static void main_goroutine(void *arg)
{
    static int64_t lat[ROUNDS];
    int procs = gort_maxprocs(0);
    for (int i = 0; i < procs; i++)
        gort_go(spinner, NULL);
    while (atomic_load(&started) < procs - 1)
        ; /* until every other P runs a spinner (one waits for ours) */
    printf("  %d Ps, each with a spinning goroutine; stopping the world %d times...\n",
           procs, ROUNDS);
    for (int i = 0; i < ROUNDS; i++) {
        int64_t t0 = gort_nanotime();
        gort_stop_the_world();
        lat[i] = gort_nanotime() - t0;
        gort_start_the_world();
        gort_sleep(200 * 1000); /* the spinners get every P back */
    }
    atomic_store(&stop, 1);
    qsort(lat, ROUNDS, sizeof lat[0], cmp64);
    gort_stats st;
    gort_read_stats(&st);
    printf("  stop-the-world latency: p50 %.1f us, p99 %.1f us, max %.1f us\n",
           lat[ROUNDS / 2] / 1e3, lat[ROUNDS * 99 / 100] / 1e3, lat[ROUNDS - 1] / 1e3);
    printf("  stw_count %llu, async preemptions %llu, preemption signals %llu\n",
           (unsigned long long)st.stw_count, (unsigned long long)st.async_preempts,
           (unsigned long long)st.signals_sent);
}

int main(void)
{
    demo_start(main_goroutine);
    printf("-- with async preemption:\n");
    bool ok = run_child("on", "", 10);
    printf("-- without (GORTDEBUG=asyncpreemptoff=1):\n");
    run_child("off", "asyncpreemptoff=1,stuckreport=500ms", 2);
    return ok ? 0 : 1;
}
