/*
 * test_syscall_foreign.c — a goroutine that runs long in foreign code
 * (libc's memset: code gort cannot preempt and no wrapper announces)
 * gives its P up there, as a cgo call does in Go, and takes one back
 * when it returns.
 *
 * GORTMAXPROCS=1.  Goroutine A memsets 64 MiB again and again, flagging
 * each call; a ticker goroutine B on the same P sleeps 1 ms at a time and
 * counts the ticks it sees while A is inside memset.  Without the foreign-
 * code hand-off B only runs when A is between two calls (its flag clear),
 * so it never sees A inside one and the watchdog fires.
 *
 * Then the way back: A, just out of memset and still P-less (in_syscall
 * counts it), makes a wrapped call from its own code.  That call's end
 * must take a P back at once (in_syscall 0 right after it), and the call
 * is counted in gort_stats.syscalls although A had no P to count it on.
 */
#include "check.h"

#include <stdatomic.h>

#define BIG (64u << 20)
#define WANT_TICKS 20

static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static _Atomic int a_inside, a_done, ticks_inside;
static int p[2];
static int reclaim_tries, reclaimed;

static void memsetter(void *arg)
{
    char *buf = arg;
    watchdog_phase("a goroutine on the same P ticks while A is inside memset");
    for (int i = 0; !atomic_load(&a_done); i++) {
        atomic_store(&a_inside, 1);
        memset(buf, i, BIG);
        atomic_store(&a_inside, 0);
        __asm__ volatile("" ::: "memory");
        if (atomic_load(&ticks_inside) < WANT_TICKS)
            continue;
        /* Out of memset: P-less if the hand-off happened in this call
         * and no reclaim signal has come since. */
        watchdog_phase("A takes its P back at the end of a wrapped call");
        gort_stats s0, s1;
        gort_read_stats(&s0);
        if (s0.in_syscall != 1) {
            CHECK(++reclaim_tries < 1000, "never found P-less after memset");
            continue;
        }
        CHECK_CALL(write(p[1], "r", 1), 1);
        gort_read_stats(&s1);
        CHECK_EQ(s1.in_syscall, 0);
        CHECK(s1.syscalls > s0.syscalls, "a call made P-less was not counted");
        reclaimed = 1;
        atomic_store(&a_done, 1);
    }
    gort_wg_done(&wg);
}

static void ticker(void *arg)
{
    (void)arg;
    while (!atomic_load(&a_done)) {
        gort_sleep(1000000);
        if (atomic_load(&a_inside))
            atomic_fetch_add(&ticks_inside, 1);
    }
    gort_wg_done(&wg);
}

static void gmain(void *arg)
{
    (void)arg;
    char *buf = malloc(BIG);
    CHECK(buf);
    CHECK(pipe(p) == 0);
    gort_stats s0, s1;
    gort_read_stats(&s0);
    gort_wg_add(&wg, 2);
    CHECK_CALL(gort_go(memsetter, buf), 0);
    CHECK_CALL(gort_go(ticker, NULL), 0);
    gort_wg_wait(&wg);
    gort_read_stats(&s1);
    CHECK(reclaimed);
    CHECK_EQ(s1.in_syscall, 0);
    CHECK(s1.handoffs > s0.handoffs);
    char c;
    CHECK_CALL(read(p[0], &c, 1), 1);
    fprintf(stderr, "%d ticks while inside memset; %d tries to catch A P-less; handoffs %llu\n",
            atomic_load(&ticks_inside), reclaim_tries,
            (unsigned long long)(s1.handoffs - s0.handoffs));
    free(buf);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    setenv("GORTMAXPROCS", "1", 1);
    watchdog_start("test_syscall_foreign", 60);
    run_main(gmain, NULL);
    return 0;
}
