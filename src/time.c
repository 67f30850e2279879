/*
 * time.c — timers in per-P heaps (Go's time.go), and gort_sleep.
 *
 * Each P has a 4-ary min-heap of timers ordered by `when`, guarded by its
 * timerslock; timer0_when mirrors the root so the scheduler and sysmon can
 * look without locking.  The scheduler runs a P's expired timers at every
 * schedule(); idle thieves run other Ps' expired timers; when every M is
 * idle one of them (sched.timer_sleeper) sleeps until the earliest timer.
 * No thread ever sleeps per timer.
 *
 * A timer's callback runs with no timer lock held, so callbacks may take
 * channel locks and code holding channel locks may arm timers.  While a
 * callback runs the timer is T_RUNNING: deltimer and a re-arm wait for it,
 * so a G's embedded timer can be reused the moment the G runs again.
 *
 * Rejected: Go 1.14+'s lock-free status machine with lazy deletion (more
 * states than we need without a GC), a global heap (a lock every switch),
 * a thread per sleeper (what gort replaces).
 */
#include "runtime.h"

#include <stdlib.h>
#include <time.h>

static P *timer_pp(gort__timer *t)
{
    return __atomic_load_n(&t->pp, __ATOMIC_ACQUIRE);
}

static void siftup(P *pp, int32_t i)
{
    gort__timer **h = pp->timers;
    gort__timer *t = h[i];
    while (i > 0) {
        int32_t parent = (i - 1) / 4;
        if (h[parent]->when <= t->when)
            break;
        h[i] = h[parent];
        h[i]->idx = i;
        i = parent;
    }
    h[i] = t;
    t->idx = i;
}

static void siftdown(P *pp, int32_t i)
{
    gort__timer **h = pp->timers;
    int32_t n = pp->ntimers;
    gort__timer *t = h[i];
    for (;;) {
        int32_t c = 4 * i + 1;
        if (c >= n)
            break;
        int32_t best = c;
        for (int32_t k = c + 1; k < c + 4 && k < n; k++)
            if (h[k]->when < h[best]->when)
                best = k;
        if (h[best]->when >= t->when)
            break;
        h[i] = h[best];
        h[i]->idx = i;
        i = best;
    }
    h[i] = t;
    t->idx = i;
}

static void update_timer0(P *pp)
{
    atomic_store_explicit(&pp->timer0_when, pp->ntimers ? pp->timers[0]->when : 0,
                          memory_order_release);
}

/* Insert into pp's heap; caller holds pp->timerslock. */
static void heap_add(P *pp, gort__timer *t)
{
    if (pp->ntimers == pp->timerscap) {
        int32_t cap = pp->timerscap ? pp->timerscap * 2 : 64;
        gort__timer **nh = realloc(pp->timers, (size_t)cap * sizeof *nh);
        if (!nh)
            gort__throw("addtimer: out of memory");
        pp->timers = nh;
        pp->timerscap = cap;
    }
    if (t->when <= 0)
        t->when = 1; /* 0 means "no timer" in timer0_when */
    pp->timers[pp->ntimers] = t;
    siftup(pp, pp->ntimers++);
    __atomic_store_n(&t->pp, pp, __ATOMIC_RELEASE);
    atomic_store_explicit(&t->state, T_ARMED, memory_order_release);
    update_timer0(pp);
    /* A new earliest deadline on a P that may be busy: a sysmon sleeping
     * through a quiet spell did not plan for it. */
    if (pp->timers[0] == t &&
        unlikely(atomic_load_explicit(&sched.sysmonwait, memory_order_relaxed) == SYSMON_DEEP))
        gort__sysmon_wake();
}

/* Remove timers[i]; caller holds pp->timerslock. */
static void heap_del(P *pp, int32_t i)
{
    int32_t last = --pp->ntimers;
    if (i != last) {
        pp->timers[i] = pp->timers[last];
        pp->timers[i]->idx = i;
        siftdown(pp, i);
        siftup(pp, pp->timers[i]->idx);
    }
    update_timer0(pp);
}

/* A callback that readied this timer's G may not have returned yet (and
 * checktimers reads the timer after it returns): wait it out. */
static void wait_not_running(gort__timer *t)
{
    while (atomic_load_explicit(&t->state, memory_order_acquire) == T_RUNNING)
        __builtin_ia32_pause();
}

void gort__armtimer(gort__timer *t, int64_t when, void (*f)(void *, uint64_t), void *arg,
                    uint64_t seq)
{
    wait_not_running(t);
    t->when = when;
    t->period = 0;
    t->f = f;
    t->arg = arg;
    t->seq = seq;
    gort__addtimer(t);
}

void gort__addtimer(gort__timer *t)
{
    wait_not_running(t);
    gort__schedinit();
    M *m = gort__getm();
    P *pp = m && m->p ? m->p : sched.allp[0];
    gort__lock(&pp->timerslock);
    heap_add(pp, t);
    gort__unlock(&pp->timerslock);
    /* On an M with a P, schedule() on this P sees the timer; elsewhere make
     * sure a sleeping or idle M will. */
    if (!(m && m->p))
        gort__timerwake(t->when);
    else if (atomic_load_explicit(&sched.timer_sleep_until, memory_order_relaxed) > t->when)
        gort__timerwake(t->when);
}

bool gort__deltimer(gort__timer *t)
{
    for (;;) {
        uint32_t st = atomic_load_explicit(&t->state, memory_order_acquire);
        if (st == T_IDLE)
            return false;
        if (st == T_RUNNING) {
            __builtin_ia32_pause();
            continue;
        }
        P *pp = timer_pp(t);
        if (!pp)
            continue;
        gort__lock(&pp->timerslock);
        if (timer_pp(t) != pp || atomic_load(&t->state) != T_ARMED) {
            gort__unlock(&pp->timerslock);
            continue;
        }
        heap_del(pp, t->idx);
        __atomic_store_n(&t->pp, NULL, __ATOMIC_RELEASE);
        atomic_store_explicit(&t->state, T_IDLE, memory_order_release);
        gort__unlock(&pp->timerslock);
        return true;
    }
}

int64_t gort__checktimers(P *pp, int64_t now)
{
    int64_t w = atomic_load_explicit(&pp->timer0_when, memory_order_acquire);
    if (w == 0 || w > now)
        return w;
    gort__lock(&pp->timerslock);
    while (pp->ntimers > 0 && pp->timers[0]->when <= now) {
        gort__timer *t = pp->timers[0];
        heap_del(pp, 0);
        /* Sampled under the lock: two Ms running this heap's timers at
         * once (the owner, a stealer) record firing times in the order
         * they took the timers, which is deadline order.  Sampled in the
         * callback instead, a runner descheduled between the two showed
         * a later deadline firing first (test_after, 1 in 30 loaded runs). */
        t->fired = gort_nanotime();
        atomic_store_explicit(&t->state, T_RUNNING, memory_order_release);
        __atomic_store_n(&t->pp, NULL, __ATOMIC_RELEASE);
        gort__unlock(&pp->timerslock);
        t->f(t->arg, t->seq);
        gort__lock(&pp->timerslock);
        if (t->period > 0) {
            t->when += t->period;
            if (t->when < now)
                t->when = now + t->period;
            heap_add(pp, t);
        } else {
            atomic_store_explicit(&t->state, T_IDLE, memory_order_release);
        }
    }
    w = pp->ntimers ? pp->timers[0]->when : 0;
    gort__unlock(&pp->timerslock);
    return w;
}

int64_t gort__timesleepuntil(void)
{
    int64_t next = 0;
    for (int32_t i = 0; i < sched.gomaxprocs; i++) {
        int64_t w = atomic_load_explicit(&sched.allp[i]->timer0_when, memory_order_acquire);
        if (w && (next == 0 || w < next))
            next = w;
    }
    return next;
}

void gort__movetimers(P *to, P *from)
{
    if (to == from)
        return;
    gort__lock(&from->timerslock);
    gort__lock(&to->timerslock);
    for (int32_t i = 0; i < from->ntimers; i++)
        heap_add(to, from->timers[i]);
    from->ntimers = 0;
    update_timer0(from);
    gort__unlock(&to->timerslock);
    gort__unlock(&from->timerslock);
}

/* ---------------------------------------------------------------------
 * gort_sleep
 * ------------------------------------------------------------------- */

static void sleep_fire(void *arg, uint64_t seq)
{
    (void)seq;
    gort__goready(arg, true);
}

/* Arm the sleep timer on g0, after the G is saved and marked waiting, so
 * the timer cannot ready a G that is still running. */
static bool sleep_arm(G *g, void *deadline)
{
    gort__armtimer(&g->timer, *(int64_t *)deadline, sleep_fire, g, ++g->timerseq);
    return true;
}

void gort_sleep(int64_t ns)
{
    if (ns <= 0)
        return; /* as time.Sleep(0) */
    int64_t now = gort_nanotime();
    int64_t deadline = ns > INT64_MAX - now ? INT64_MAX : now + ns; /* "forever" */
    M *m = gort__getm();
    if (!m || !m->curg) {
        /* A plain thread: just sleep it, restarting after signals. */
        for (int64_t left = ns; left > 0; left = deadline - gort_nanotime()) {
            struct timespec ts = {left / 1000000000, left % 1000000000};
            nanosleep(&ts, NULL);
        }
        return;
    }
    /* deadline lives in this frame: the G is parked while sleep_arm reads it. */
    gort__gopark(sleep_arm, &deadline, "sleep");
}
