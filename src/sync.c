/*
 * sync.c — gort_mutex, gort_waitgroup, gort_once and gort_cond: Go's sync
 * package on top of the semaphores and the notify list in sema.c.
 *
 * Every object is a few integers in user memory, ready when zeroed; all
 * blocking goes through gort__semacquire / gort__notifylist_wait, so the
 * same code serves goroutines (which park) and foreign threads (which
 * block their thread).  The public fields are plain integers in gort.h, so
 * every access here is an explicit __atomic operation.
 *
 * Mutex (Go's two-mode design).
 *   state = locked(1) | woken(2) | starving(4) | waiters << 3.
 *   Normal mode: a released mutex goes to whoever CASes it first; a woken
 *   waiter competes with newly arriving lockers (which are running and so
 *   usually win).  That barging gives throughput.  A waiter that has been
 *   blocked for more than 1ms sets `starving`; from then on unlock hands
 *   ownership directly to the queue's head (semrelease with handoff), new
 *   arrivals never take the lock nor spin but queue at the tail, and the
 *   mode is left when the last waiter, or one that waited < 1ms, gets it.
 *   `woken` tells unlock that a waiter is already awake (spinning or just
 *   readied), so it need not wake another.
 *   Invariants: locked is owned by exactly one holder (in starvation mode
 *   the bit is clear while ownership is in flight to the woken waiter, and
 *   `starving` keeps everyone else out); waiters counts sleepers plus those
 *   about to sleep on m->sema; the woken bit is set by at most one actor.
 *
 *   Spinning: only while the lock is held in normal mode, at most
 *   SPIN_ITERS rounds, only on a multicore machine, and only if some other
 *   P is running user code (the holder may be there); otherwise spinning
 *   just burns the CPU the holder needs.  Unlike Go, a non-empty local run
 *   queue does not forbid it (see gort__sync_can_spin: that starts convoys).
 *   Not at all for a mutex held across a park, RWMutex's writer lock
 *   (gort__mutex_lock_nospin).
 *
 * WaitGroup: state = counter << 32 | waiters, one 64-bit word so Add can
 *   see in one atomic step whether the counter hit zero with waiters.  When
 *   it does, Add resets the word to 0 and releases the semaphore once per
 *   waiter; a waiter that wakes and sees a non-zero state knows the group
 *   was reused too early.
 *
 * Once: `done` is read without locking on the fast path; the mutex orders
 *   the slow path, and done is set only after fn returns, so a caller that
 *   sees done == 1 also sees fn's effects.
 *
 * Cond: a ticket is taken while the caller still holds the mutex, so a
 *   Signal issued after the caller's unlock cannot be missed (see sema.c).
 *
 * Lock order: no runtime lock is held across any call here; a cond wait
 *   releases the user mutex before taking the cond's lock and re-takes it
 *   only after being woken.
 *
 * Alternatives rejected: pthread mutex/cond (would block the M, not park
 *   the goroutine); a pure FIFO-handoff mutex (fair, but every contended
 *   unlock costs a context switch — Go measured this as much slower).
 */
#include "runtime.h"

#include <unistd.h>

enum {
    MUTEX_LOCKED = 1,
    MUTEX_WOKEN = 2,
    MUTEX_STARVING = 4,
    MUTEX_WAITER_SHIFT = 3,
};
#define STARVATION_THRESHOLD_NS 1000000 /* 1ms, as in Go */
#define SPIN_ITERS 4
#define SPIN_PAUSES 30

static inline int32_t mstate_load(gort_mutex *m)
{
    return __atomic_load_n(&m->state, __ATOMIC_RELAXED);
}

static inline bool mstate_cas(gort_mutex *m, int32_t old, int32_t new_)
{
    return __atomic_compare_exchange_n(&m->state, &old, new_, false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

static int ncpu(void)
{
    static int cached; /* 0 = not yet known; benign race: same value */
    int n = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (n == 0) {
        long v = sysconf(_SC_NPROCESSORS_ONLN);
        n = v > 0 ? (int)v : 1;
        __atomic_store_n(&cached, n, __ATOMIC_RELAXED);
    }
    return n;
}

bool gort__sync_can_spin(int iter)
{
    if (iter >= SPIN_ITERS || ncpu() <= 1)
        return false;
    int32_t procs = __atomic_load_n(&sched.gomaxprocs, __ATOMIC_RELAXED);
    int32_t idle = atomic_load_explicit(&sched.npidle, memory_order_relaxed) +
                   atomic_load_explicit(&sched.nmspinning, memory_order_relaxed);
    P *pp = gort__getp();
    if (!pp) /* foreign thread: the holder may be on any running P */
        return procs > idle;
    if (procs <= idle + 1)
        return false; /* no other P is running: the holder is not either */
    /* Go also refuses to spin while its own P has runnable goroutines.
     * Here that starts a convoy: the runnable goroutines of a contended
     * mutex are mostly lockers an unlock just woke (runnext, and the ring
     * behind it), so refusing sends every locker to sleep, and each sleep
     * makes an unlock wake another (8 goroutines on 2 Ps: 1-2 parks per
     * 100 lock operations, 49-66 ns/op against Go's 28; without the check
     * ~17 ns/op and almost no parks).  A spin is bounded (SPIN_ITERS x
     * SPIN_PAUSES pauses, a few microseconds), which is all the delay
     * this P's queue can see. */
    (void)pp;
    return true;
}

#define GORT_STR_(x) #x
#define GORT_STR(x) GORT_STR_(x)

void gort__sync_spin(void)
{
#if defined(__x86_64__) || defined(__i386__)
    /* Straight-line pauses, not a loop: on this Zen 5 the contended-mutex
     * benchmark ran 2-3x slower (median 17 -> 33-52 ns/op) whenever the
     * compiler happened to align the pause loop to 64 bytes (reproduced
     * with -falign-loops=64 and by unrelated code shifting it); the
     * unrolled sequence measured the same under both layouts. */
    __asm__ __volatile__(".rept " GORT_STR(SPIN_PAUSES) "\n\tpause\n\t.endr" ::: "memory");
#else
    for (int i = 0; i < SPIN_PAUSES; i++)
        __asm__ __volatile__("" ::: "memory");
#endif
}

static void mutex_lock_slow(gort_mutex *m, bool spin)
{
    int64_t wait_start = 0;
    bool starving = false, awoke = false;
    int iter = 0;

    gort__preempt_check();
    int32_t old = mstate_load(m);
    for (;;) {
        /* Spin only in normal mode while held: in starvation mode the lock
         * goes to the queue, so spinning could never win it. */
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED && spin && gort__sync_can_spin(iter)) {
            /* Claim `woken` so unlock does not wake a sleeper that would
             * only lose to us. */
            if (!awoke && !(old & MUTEX_WOKEN) && (old >> MUTEX_WAITER_SHIFT) != 0 &&
                mstate_cas(m, old, old | MUTEX_WOKEN))
                awoke = true;
            gort__sync_spin();
            iter++;
            old = mstate_load(m);
            continue;
        }
        int32_t new_ = old;
        if (!(old & MUTEX_STARVING))
            new_ |= MUTEX_LOCKED; /* newcomers never take a starving mutex */
        if (old & (MUTEX_LOCKED | MUTEX_STARVING))
            new_ += 1 << MUTEX_WAITER_SHIFT;
        /* Enter starvation only while locked: an unlocked starving mutex
         * with no waiter would expect a handoff nobody will receive. */
        if (starving && (old & MUTEX_LOCKED))
            new_ |= MUTEX_STARVING;
        if (awoke) {
            if (!(new_ & MUTEX_WOKEN))
                gort__throw("sync: inconsistent mutex state");
            new_ &= ~MUTEX_WOKEN;
        }
        if (!mstate_cas(m, old, new_)) {
            old = mstate_load(m);
            continue;
        }
        if (!(old & (MUTEX_LOCKED | MUTEX_STARVING)))
            return; /* took it with the CAS */

        /* A waiter that already slept goes back to the front. */
        bool lifo = wait_start != 0;
        if (wait_start == 0)
            wait_start = gort__nanotime();
        gort__semacquire(&m->sema, lifo, "sync.Mutex.Lock");
        starving = starving || gort__nanotime() - wait_start > STARVATION_THRESHOLD_NS;
        old = mstate_load(m);
        if (old & MUTEX_STARVING) {
            /* Ownership was handed to us; the state still counts us as a
             * waiter and has locked clear. */
            if ((old & (MUTEX_LOCKED | MUTEX_WOKEN)) || (old >> MUTEX_WAITER_SHIFT) == 0)
                gort__throw("sync: inconsistent mutex state");
            int32_t delta = MUTEX_LOCKED - (1 << MUTEX_WAITER_SHIFT);
            /* Leave starvation mode before it turns into lock convoys:
             * when we did not really starve, or nobody is left behind. */
            if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1)
                delta -= MUTEX_STARVING;
            __atomic_fetch_add(&m->state, delta, __ATOMIC_ACQ_REL);
            return;
        }
        awoke = true;
        iter = 0;
    }
}

/* The fast paths of both lock calls; `spin`: whether the slow path may
 * spin. */
static inline __attribute__((always_inline)) void mutex_lock(gort_mutex *m, bool spin)
{
    int32_t old = 0;
    if (likely(__atomic_compare_exchange_n(&m->state, &old, MUTEX_LOCKED, false,
                                           __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)))
        return;
    /* Unlocked but with waiters (or a woken one) recorded: barge here, as
     * the slow path's first round would.  Under contention the state is
     * rarely 0 (a readied waiter keeps `woken` set until its P runs it), so
     * without this most acquisitions paid for the slow path's call and
     * preemption check inside the window in which the other core wants
     * the cache line (8 goroutines on 2 Ps hammering one mutex: 3.3M of 4M
     * acquisitions took the slow path; with it, ~50k). */
    if (!(old & (MUTEX_LOCKED | MUTEX_STARVING)) &&
        __atomic_compare_exchange_n(&m->state, &old, old | MUTEX_LOCKED, false,
                                    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    mutex_lock_slow(m, spin);
}

void gort_mutex_lock(gort_mutex *m)
{
    mutex_lock(m, true);
}

/* For a mutex held across a park: RWMutex's writer lock, whose holder
 * keeps it while it waits for the readers that hold the read lock to
 * leave, and that wait is a park and a wake-up (tens of microseconds).  A
 * second writer spinning for it would almost never win, and would keep
 * its core from the very readers the holder waits for: read-mostly
 * benchmark (8 goroutines on 2 Ps, 1 op in 100 a write, interleaved with
 * Go, 21 rounds), 5.5 -> 5.0 ns/op (Go 5.07) by this change alone, 4.8-
 * 4.9 with rwmutex.c's batched reader release; with 1 op in 4 a write,
 * where the writer lock is held briefly and spinning could pay, 6.4 ->
 * 6.3.  Spinning only while the holder is not waiting for readers
 * (`departing` == 0) measured 5.1.  Go spins here only while its P has
 * no other goroutine queued, which in such programs it mostly has. */
void gort__mutex_lock_nospin(gort_mutex *m)
{
    mutex_lock(m, false);
}

bool gort_mutex_trylock(gort_mutex *m)
{
    int32_t old = mstate_load(m);
    if (old & (MUTEX_LOCKED | MUTEX_STARVING))
        return false;
    /* One attempt only: a lost race means someone else holds it now. */
    return __atomic_compare_exchange_n(&m->state, &old, old | MUTEX_LOCKED, false,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void mutex_unlock_slow(gort_mutex *m, int32_t new_)
{
    if (!((new_ + MUTEX_LOCKED) & MUTEX_LOCKED))
        gort__throw("sync: unlock of unlocked mutex");
    if (new_ & MUTEX_STARVING) {
        /* Hand ownership to the head waiter and let it run now.  `locked`
         * stays clear; `starving` keeps newcomers away until it sets it. */
        gort__semrelease(&m->sema, true);
        return;
    }
    int32_t old = new_;
    for (;;) {
        /* Nobody to wake, or someone already took the lock, is awake, or
         * the mode flipped to starvation (then the lock is not ours to
         * give away). */
        if ((old >> MUTEX_WAITER_SHIFT) == 0 ||
            (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING)))
            return;
        new_ = (old - (1 << MUTEX_WAITER_SHIFT)) | MUTEX_WOKEN;
        if (mstate_cas(m, old, new_)) {
            gort__semrelease(&m->sema, false);
            return;
        }
        old = mstate_load(m);
    }
}

void gort_mutex_unlock(gort_mutex *m)
{
    int32_t new_ = __atomic_sub_fetch(&m->state, MUTEX_LOCKED, __ATOMIC_RELEASE);
    if (unlikely(new_ != 0))
        mutex_unlock_slow(m, new_);
}

/* ------------------------------------------------------------------ */

void gort_wg_add(gort_waitgroup *wg, int delta)
{
    uint64_t state = __atomic_add_fetch(&wg->state, (uint64_t)(int64_t)delta << 32,
                                        __ATOMIC_SEQ_CST);
    int32_t v = (int32_t)(state >> 32);
    uint32_t w = (uint32_t)state;
    if (v < 0)
        gort__throw("sync: negative WaitGroup counter");
    /* Going from 0 to positive while someone waits means this Add raced
     * with a Wait that already decided to sleep. */
    if (w != 0 && delta > 0 && v == delta)
        gort__throw("sync: WaitGroup misuse: Add called concurrently with Wait");
    if (v > 0 || w == 0)
        return;
    /* Counter is 0 with waiters: nobody may touch the state now but us
     * (waiters sleep, a concurrent Add would be the misuse above). */
    if (__atomic_load_n(&wg->state, __ATOMIC_SEQ_CST) != state)
        gort__throw("sync: WaitGroup misuse: Add called concurrently with Wait");
    __atomic_store_n(&wg->state, 0, __ATOMIC_SEQ_CST);
    for (; w != 0; w--)
        gort__semrelease(&wg->sema, false);
}

void gort_wg_done(gort_waitgroup *wg)
{
    gort_wg_add(wg, -1);
}

void gort_wg_wait(gort_waitgroup *wg)
{
    gort__preempt_check();
    uint64_t state = __atomic_load_n(&wg->state, __ATOMIC_SEQ_CST);
    for (;;) {
        if ((int32_t)(state >> 32) == 0)
            return;
        if (__atomic_compare_exchange_n(&wg->state, &state, state + 1, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            gort__semacquire(&wg->sema, false, "sync.WaitGroup.Wait");
            if (__atomic_load_n(&wg->state, __ATOMIC_SEQ_CST) != 0)
                gort__throw("sync: WaitGroup is reused before previous Wait has returned");
            return;
        }
    }
}

/* ------------------------------------------------------------------ */

void gort_once_do(gort_once *o, void (*fn)(void *), void *arg)
{
    /* Acquire pairs with the release store below: seeing 1 means seeing
     * everything fn did. */
    if (likely(__atomic_load_n(&o->done, __ATOMIC_ACQUIRE) != 0))
        return;
    gort_mutex_lock(&o->m);
    if (__atomic_load_n(&o->done, __ATOMIC_RELAXED) == 0) {
        fn(arg);
        __atomic_store_n(&o->done, 1, __ATOMIC_RELEASE);
    }
    gort_mutex_unlock(&o->m);
}

/* ------------------------------------------------------------------ */

void gort_cond_wait(gort_cond *c, gort_mutex *m)
{
    uint32_t t = gort__notifylist_add(c);
    gort_mutex_unlock(m);
    gort__notifylist_wait(c, t);
    gort_mutex_lock(m);
}

void gort_cond_signal(gort_cond *c)
{
    gort__notifylist_notify_one(c);
}

void gort_cond_broadcast(gort_cond *c)
{
    gort__notifylist_notify_all(c);
}
