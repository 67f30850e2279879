/*
 * test_syscall_timers.c — timers of a P whose goroutine is in a blocking
 * call keep firing: the P (timer heap included) was handed to another
 * thread.
 *
 * GORTMAXPROCS=1.  Goroutine A blocks in read() on a pipe; a ticker
 * goroutine on the same P waits until A is inside the call, then sleeps
 * 1 ms (gort_sleep: a timer on the P's heap) 50 times and only then writes
 * the pipe.  Without the hand-off the ticker's first timer is never run
 * (its P is held by a thread asleep in read) and the test hangs: the
 * watchdog names the step.  The same again with A inside gort_blocking
 * spinning on a flag only the ticker sets: no preemption signal may
 * reach a goroutine inside the bracket (so async_preempts must not grow),
 * and the ticker still gets its 50 ticks.
 */
#include "check.h"

#include <stdatomic.h>
#include <sys/syscall.h>

#define TICKS 50

static int p[2];
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static _Atomic int ticks, a_back, released;

static void ticker_then_write(void *arg)
{
    (void)arg;
    wait_in_syscall(1);
    for (int i = 0; i < TICKS; i++) {
        gort_sleep(1000000);
        atomic_fetch_add(&ticks, 1);
    }
    CHECK(!atomic_load(&a_back));
    CHECK_CALL(write(p[1], "t", 1), 1);
    gort_wg_done(&wg);
}

static void reader(void *arg)
{
    (void)arg;
    char c = 0;
    CHECK_CALL(read(p[0], &c, 1), 1);
    atomic_store(&a_back, 1);
    CHECK_EQ(c, 't');
    CHECK_EQ(atomic_load(&ticks), TICKS);
    gort_wg_done(&wg);
}

static void ticker_then_release(void *arg)
{
    (void)arg;
    wait_in_syscall(1);
    for (int i = 0; i < TICKS; i++) {
        gort_sleep(1000000);
        atomic_fetch_add(&ticks, 1);
    }
    CHECK(!atomic_load(&a_back));
    atomic_store_explicit(&released, 1, memory_order_release);
    gort_wg_done(&wg);
}

static void *spin(void *arg)
{
    while (!atomic_load_explicit(&released, memory_order_acquire))
        ;
    return arg;
}

static void spinner(void *arg)
{
    (void)arg;
    CHECK(gort_blocking(spin, &ticks) == &ticks);
    atomic_store(&a_back, 1);
    CHECK_EQ(atomic_load(&ticks), TICKS);
    gort_wg_done(&wg);
}

static void gmain(void *arg)
{
    (void)arg;
    gort_stats s0, s1, s2;
    CHECK(pipe(p) == 0);
    gort_read_stats(&s0);
    CHECK_EQ(s0.procs, 1);

    watchdog_phase("50 x gort_sleep(1ms) beside a goroutine blocked in read()");
    gort_wg_add(&wg, 2);
    CHECK_CALL(gort_go(reader, NULL), 0);
    CHECK_CALL(gort_go(ticker_then_write, NULL), 0);
    int64_t t0 = gort_nanotime();
    gort_wg_wait(&wg);
    int64_t t1 = gort_nanotime();
    gort_read_stats(&s1);
    CHECK(s1.handoffs > s0.handoffs);

    watchdog_phase("50 x gort_sleep(1ms) beside a goroutine spinning in gort_blocking");
    atomic_store(&ticks, 0);
    atomic_store(&a_back, 0);
    gort_wg_add(&wg, 2);
    CHECK_CALL(gort_go(spinner, NULL), 0);
    CHECK_CALL(gort_go(ticker_then_release, NULL), 0);
    gort_wg_wait(&wg);
    int64_t t2 = gort_nanotime();
    gort_read_stats(&s2);
    CHECK(s2.handoffs > s1.handoffs);
    /* The spinner is the only goroutine that runs long, and it does so
     * inside the bracket: it must never have been sent a signal. */
    CHECK(s2.async_preempts == s1.async_preempts, "a goroutine inside gort_blocking was "
          "preempted by signal (%llu)", (unsigned long long)(s2.async_preempts - s1.async_preempts));
    CHECK_EQ(s2.in_syscall, 0);
    fprintf(stderr, "%d ticks beside read(): %.1f ms; beside gort_blocking: %.1f ms; handoffs %llu\n",
            TICKS, (t1 - t0) / 1e6, (t2 - t1) / 1e6,
            (unsigned long long)(s2.handoffs - s0.handoffs));
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    setenv("GORTMAXPROCS", "1", 1);
    watchdog_start("test_syscall_timers", 30);
    run_main(gmain, NULL);
    return 0;
}
