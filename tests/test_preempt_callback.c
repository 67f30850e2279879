/*
 * test_preempt_callback.c — a goroutine inside a callback that foreign
 * code runs is neither preempted nor moved at a gort call, as it is not by
 * the signal: the foreign frames beneath may hold locks that must be
 * released by this thread.  dl_iterate_phdr runs its callback with
 * ld.so's recursive loader lock held; two goroutines call it with a
 * callback that
 *   - waits 20 ms on gort_nanotime() (a preemption point elsewhere), or
 *   - starts 3000 goroutines (gort_go's back-pressure yield once the run
 *     queue is full),
 * while three goroutines spin on the other Ps' worth of CPU.  Before the
 * fix the callback was switched and resumed on another thread, whose
 * unlock of the loader lock failed (EPERM, ignored by libc): the lock
 * stayed held, and every later dl_iterate_phdr -- sysmon's own, a
 * dlopen, a C++ throw -- waited for ever (a reviewer's reproducer hung
 * in 3 runs of 3).  The callback must come back on its own thread, and
 * the program must finish (a hang is the watchdog's failure).
 */
#define _GNU_SOURCE
#include "check.h"

#include <link.h>
#include <stdatomic.h>

static _Atomic int stop, moved, calls, mode;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static void nop(void *a)
{
    (void)a;
}

static int slow_cb(struct dl_phdr_info *i, size_t n, void *d)
{
    (void)i;
    (void)n;
    (void)d;
    pid_t before = (pid_t)syscall(SYS_gettid);
    if (atomic_load(&mode)) {
        for (int k = 0; k < 3000; k++) {
            CHECK_EQ(gort_go(nop, NULL), 0);
            for (volatile int j = 0; j < 200; j++) {
            }
        }
    } else {
        int64_t end = gort_nanotime() + 20000000;
        while (gort_nanotime() < end) {
        }
    }
    if ((pid_t)syscall(SYS_gettid) != before)
        atomic_fetch_add(&moved, 1);
    atomic_fetch_add(&calls, 1);
    return 1; /* the first module only */
}

static int quick_cb(struct dl_phdr_info *i, size_t n, void *d)
{
    (void)i;
    (void)n;
    (void)d;
    return 1;
}

static void spinner(void *a)
{
    (void)a;
    while (!atomic_load(&stop)) {
        for (volatile int k = 0; k < 100000; k++) {
        }
    }
    gort_wg_done(&wg);
}

static void iter(void *a)
{
    (void)a;
    for (int r = 0; r < 10; r++)
        dl_iterate_phdr(slow_cb, NULL);
    gort_wg_done(&wg);
}

static void phase(int m)
{
    atomic_store(&mode, m);
    atomic_store(&stop, 0);
    gort_wg_add(&wg, 5);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(gort_go(spinner, NULL), 0);
    CHECK_EQ(gort_go(iter, NULL), 0);
    CHECK_EQ(gort_go(iter, NULL), 0);
    /* The spinners keep the Ps busy until both iterators are through. */
    while (atomic_load(&calls) < (m + 1) * 20)
        gort_sleep(1000000);
    atomic_store(&stop, 1);
    gort_wg_wait(&wg);
    dl_iterate_phdr(quick_cb, NULL); /* the loader lock is free */
    CHECK(atomic_load(&moved) == 0, "%d callbacks of dl_iterate_phdr resumed on another thread",
          atomic_load(&moved));
}

static void main_g(void *a)
{
    (void)a;
    watchdog_start("test_preempt_callback", 60);
    phase(0);
    phase(1);
}

int main(void)
{
    run_main_child(main_g, NULL, "2", "quantum=1ms");
    run_main_child(main_g, NULL, "1", "quantum=1ms");
    printf("ok\n");
    return 0;
}
