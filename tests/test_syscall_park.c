/*
 * test_syscall_park.c — a goroutine that parks while it has no P (inside
 * a system-call bracket, or running on after the preemption handler found
 * it in libc and released its P there) parks where it is, holding on to
 * the runtime lock its park releases until the switch.
 *
 * The goroutines here call getpid() (libc) just before every channel
 * operation, so preemption signals (quantum=200us, and a call-free hog
 * that keeps sysmon asking) often land in libc: the goroutine then runs
 * on P-less, takes the channel's lock, and parks.  Before the fix the
 * park first took a P back through exitsyscall, whose slow path could
 * queue the goroutine and resume it on another thread with the lock still
 * held: "runtime lock count went negative", "blocked ... with a runtime
 * lock held", or a hang (6 of 8 runs of the same workload).  The same
 * with explicit gort_syscall_enter brackets around the operations.
 * Checked: every value arrives, in order, at GORTMAXPROCS=1 and 2.
 */
#include "check.h"

#include <stdatomic.h>

/* Operations inside a bracket are slow by nature (the P is released at
 * each, and what they ready waits for it to be retaken): fewer there. */
#define N_FREE 60000
#define N_BRACKETED 1000
static int N;

static gort_chan *pingc, *bufc;
static _Atomic int stop;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static _Atomic long received, sent;
static int bracketed;

static void enter(void)
{
    (void)getpid(); /* libc: where a preemption signal releases the P */
    if (bracketed)
        gort_syscall_enter();
}

static void leave(void)
{
    if (bracketed)
        gort_syscall_exit();
}

static void pinger(void *arg)
{
    (void)arg;
    /* Phase 1 runs for a time rather than a count: the old fault's odds
     * grew with the run's length. */
    int64_t end = gort_nanotime() + (bracketed ? 0 : 1500000000LL);
    int v;
    for (v = 0; v < N || gort_nanotime() < end; v++) {
        enter();
        gort_chan_send(pingc, &v);
        leave();
    }
    atomic_store(&sent, v);
    v = -1;
    gort_chan_send(pingc, &v);
    gort_wg_done(&wg);
}

static void ponger(void *arg)
{
    (void)arg;
    int v, want = 0;
    for (;;) {
        enter();
        bool ok = gort_chan_recv(pingc, &v);
        leave();
        CHECK(ok);
        if (v < 0)
            break;
        CHECK_EQ(v, want);
        want++;
        atomic_store(&received, want);
    }
    gort_wg_done(&wg);
}

static void nop(void *arg) { (void)arg; }

/* A buffered channel, new goroutines and timers: sched.lock, the free
 * lists and the timer heaps taken by P-less goroutines too. */
static void spawner(void *arg)
{
    for (long i = 0; !atomic_load(&stop); i++) {
        enter();
        if (!gort_chan_trysend(bufc, &i)) {
            long v;
            bool ok;
            gort_chan_tryrecv(bufc, &v, &ok);
        }
        leave();
        if ((i & 63) == 0)
            CHECK_CALL(gort_go(nop, NULL), 0);
        if ((i & 255) == 0)
            gort_sleep(20000);
    }
    gort_wg_done(arg);
}

static void hog(void *arg)
{
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        __asm__ volatile("pause");
    gort_wg_done(arg);
}

static void gmain(void *arg)
{
    (void)arg;
    watchdog_start("test_syscall_park", 60); /* in the child: dumps its goroutines */
    static gort_waitgroup others = GORT_WAITGROUP_INIT;
    for (bracketed = 0; bracketed < 2; bracketed++) {
        watchdog_phase(bracketed ? "ping-pong inside gort_syscall_enter brackets"
                                 : "ping-pong after libc calls");
        atomic_store(&stop, 0);
        N = bracketed ? N_BRACKETED : N_FREE;
        pingc = gort_chan_make(sizeof(int), 0);
        bufc = gort_chan_make(sizeof(long), 4);
        CHECK(pingc && bufc);
        gort_wg_add(&wg, 2);
        gort_wg_add(&others, 3);
        CHECK_CALL(gort_go(pinger, NULL), 0);
        CHECK_CALL(gort_go(ponger, NULL), 0);
        CHECK_CALL(gort_go(spawner, &others), 0);
        CHECK_CALL(gort_go(spawner, &others), 0);
        CHECK_CALL(gort_go(hog, &others), 0);
        gort_wg_wait(&wg);
        atomic_store(&stop, 1);
        gort_wg_wait(&others);
        CHECK(atomic_load(&received) == atomic_load(&sent) && atomic_load(&sent) >= N,
              "%ld of %ld values arrived", (long)atomic_load(&received), (long)atomic_load(&sent));
        gort_chan_free(pingc);
        gort_chan_free(bufc);
    }
}

int main(void)
{
    run_main_child(gmain, NULL, "1", "quantum=200us");
    run_main_child(gmain, NULL, "2", "quantum=200us");
    return 0;
}
