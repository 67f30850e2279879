/*
 * test_preempt_clock.c — a goroutine that busy-waits on gort_nanotime()
 * is preempted like any other loop.  Such a loop spends nearly all its
 * time in the vDSO's clock_gettime under gort_nanotime's runtime frame,
 * where the preemption signal is refused (runtime code is not an
 * asynchronous safe point), so before the fix the request waited for a
 * signal to land in the few instructions of the loop itself: with one P,
 * a goroutine, an after-func timer and a context deadline all waiting
 * behind `while (gort_nanotime() < end) {}` ran 0-1 times in 500 ms, in
 * 9 runs of 10.  gort_nanotime now honours a pending request, as Go's
 * `for time.Since(t0) < d {}` stops at a call.
 *
 * Phase 2: a signal handler that reads the clock while a request is
 * pending must not be switched away from (it runs on the alternate signal
 * stack, not the goroutine's): the handler spins on gort_nanotime for
 * 200 us at every turn of a loop that raises it, for as long as it takes
 * sysmon to ask; the loop must still be preempted, and nothing may crash.
 */
#include "check.h"

#include <signal.h>
#include <stdatomic.h>

#define MS 1000000LL

static _Atomic int other_ran, func_ran;
static _Atomic long handler_calls;
/* Set while goroutine 1 is inside the handler, with its thread: anything
 * else that runs on that thread then ran because the handler was switched
 * away from.  (On another thread it may: sysmon hands the P of a goroutine
 * that sits in the vDSO on to another M, as for any foreign code.) */
static _Atomic int in_handler, ran_in_handler;
static _Atomic pid_t handler_tid;

static void note_run(void)
{
    if (atomic_load(&in_handler) && atomic_load(&handler_tid) == (pid_t)syscall(SYS_gettid))
        atomic_store(&ran_in_handler, 1);
}

static void other(void *arg)
{
    (void)arg;
    note_run();
    atomic_store(&other_ran, 1);
}

static void func(void *arg)
{
    (void)arg;
    note_run();
    atomic_store(&func_ran, 1);
}

static void on_usr1(int sig)
{
    (void)sig;
    atomic_store(&handler_tid, (pid_t)syscall(SYS_gettid));
    atomic_store(&in_handler, 1);
    int64_t end = gort_nanotime() + 200000;
    while (gort_nanotime() < end) {
    }
    atomic_store(&in_handler, 0);
    atomic_fetch_add(&handler_calls, 1);
}

/* Spin on the clock until all three ran.  A preempted loop lets them run
 * within a time slice or two (10-20 ms; sysmon's delays on a loaded
 * machine add tens of ms); 500 ms is a failure, and 20 s ends the loop. */
static void spin_phase(bool with_signal)
{
    atomic_store(&other_ran, 0);
    atomic_store(&func_ran, 0);
    int64_t t0 = gort_nanotime();
    CHECK(gort_go(other, NULL) == 0);
    gort_timer *t = gort_after_func(1 * MS, func, NULL);
    CHECK(t != NULL);
    gort_ctx *c = gort_ctx_with_timeout(gort_ctx_background(), 1 * MS);
    CHECK(c != NULL);
    int64_t end = t0 + 20000 * MS;
    while (gort_nanotime() < end) {
        if (with_signal)
            raise(SIGUSR1);
        if (atomic_load(&other_ran) && atomic_load(&func_ran) && gort_ctx_err(c))
            break;
    }
    int64_t took = gort_nanotime() - t0;
    if (getenv("TEST_VERBOSE"))
        printf("phase: %lld us\n", (long long)(took / 1000));
    CHECK(took < 500 * MS, "a loop on gort_nanotime() held the only P for %lld ms",
          (long long)(took / MS));
    CHECK(atomic_load(&other_ran), "the goroutine never ran beside a clock loop (%lld ms)",
          (long long)(took / MS));
    CHECK(atomic_load(&func_ran), "the after-func timer never ran beside a clock loop");
    CHECK(gort_ctx_err(c) == ETIMEDOUT, "the context's deadline never fired: %d",
          gort_ctx_err(c));
    gort_timer_free(t);
    gort_ctx_release(c);
}

static void main_g(void *arg)
{
    (void)arg;
    gort_maxprocs(1);
    for (int i = 0; i < 5; i++)
        spin_phase(false);

    struct sigaction sa = {.sa_handler = on_usr1};
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    for (int i = 0; i < 3; i++)
        spin_phase(true);
    CHECK(atomic_load(&handler_calls) > 0);
    CHECK(!atomic_load(&ran_in_handler), "a goroutine ran on goroutine 1's thread while it "
                                          "was inside a signal handler: the handler was switched away from");
    sa.sa_handler = SIG_DFL;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
}

int main(void)
{
    CHECK(gort_main(main_g, NULL) == 0);
    printf("ok\n");
    return 0;
}
