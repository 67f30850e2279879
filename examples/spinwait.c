/* spinwait.c — the talk "Pardon the interruption: loop preemption in Go
 * 1.14": "Unbounded call-free loops could deadlock the scheduler".  On one
 * P (GOMAXPROCS=1) the main goroutine starts a goroutine that sets a flag,
 * then spin-waits for it without calling the runtime:
 *
 *     for (;;) if (atomic_load(&done)) break;   // Go: for atomic.Load(&s) == 0 {}
 *
 * With asynchronous preemption the spinner is interrupted after its time
 * slice, the setter runs and the loop ends.  Without it (a child re-run with
 * GORTDEBUG=asyncpreemptoff=1) the setter never gets the P: it hangs. */
#include <gort.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "demo_child.h"

static atomic_int done;

static void setter(void *arg)
{
    atomic_store(&done, 1);
}

static void main_goroutine(void *arg)
{
    gort_maxprocs(1);
    printf("  1 P; main starts the setter goroutine and spins on the flag...\n");
    int64_t t0 = gort_nanotime();
    gort_go(setter, NULL);
    for (;;)
        if (atomic_load(&done))
            break;
    gort_stats st;
    gort_read_stats(&st);
    printf("  flag seen after %.1f ms (async preemptions: %llu)\n",
           (gort_nanotime() - t0) / 1e6, (unsigned long long)st.async_preempts);
}

int main(void)
{
    demo_start(main_goroutine);
    printf("-- with async preemption (GORTDEBUG=quantum=10ms):\n");
    bool ok = run_child("on", "quantum=10ms", 5);
    printf("-- without (GORTDEBUG=asyncpreemptoff=1):\n");
    run_child("off", "asyncpreemptoff=1,stuckreport=500ms", 2);
    return ok ? 0 : 1;
}
