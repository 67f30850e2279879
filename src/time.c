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
 * The heap touches no timer while sifting.  A heap slot is the timer's
 * `when` (a copy: exact, since `when` only changes while a timer is in no
 * heap) and a handle into the P's slot table, which holds the timer and
 * its heap position (deltimer's way in: t->idx is the handle).  With
 * 10,000 sleepers, comparing through timer pointers, or writing each
 * moved timer's position into it, was a cache and TLB miss per step: each
 * G's timer sits at the top of its own stack.  Heap and table are dense
 * arrays (16 bytes an entry) that stay in cache.
 *
 * A timer's callback runs with no timer lock held, so callbacks may take
 * channel locks and code holding channel locks may arm timers.  While a
 * callback runs the timer is T_RUNNING: deltimer and a re-arm wait for it,
 * so a G's embedded timer can be reused the moment the G runs again.
 *
 * Rejected: Go 1.14+'s lock-free status machine with lazy deletion (more
 * states than we need; and with no GC a deleted timer's memory may be
 * freed the moment deltimer returns, so no slot may outlive it: hence
 * idx), a global heap (a lock every switch), a thread per sleeper (what
 * gort replaces).
 */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static P *timer_pp(gort__timer *t)
{
    return __atomic_load_n(&t->pp, __ATOMIC_ACQUIRE);
}

/* The slot table: a timer in the heap owns one entry (its handle, kept in
 * t->idx), holding the timer and its heap position; free entries are
 * chained through pos. */
static inline gort__timer *slot_timer(P *pp, int32_t hnd)
{
    return pp->timerslots[hnd].t;
}

static void siftup(P *pp, int32_t i)
{
    gort__timerwhen *h = pp->timers;
    gort__timerslot *tab = pp->timerslots;
    gort__timerwhen x = h[i];
    while (i > 0) {
        int32_t parent = (i - 1) / 4;
        if (h[parent].when <= x.when)
            break;
        h[i] = h[parent];
        tab[h[i].hnd].pos = i;
        i = parent;
    }
    h[i] = x;
    tab[x.hnd].pos = i;
}

static void siftdown(P *pp, int32_t i)
{
    gort__timerwhen *h = pp->timers;
    gort__timerslot *tab = pp->timerslots;
    int32_t n = pp->ntimers;
    gort__timerwhen x = h[i];
    for (;;) {
        int32_t c = 4 * i + 1;
        if (c >= n)
            break;
        int32_t best = c;
        for (int32_t k = c + 1; k < c + 4 && k < n; k++)
            if (h[k].when < h[best].when)
                best = k;
        if (h[best].when >= x.when)
            break;
        h[i] = h[best];
        tab[h[i].hnd].pos = i;
        i = best;
    }
    h[i] = x;
    tab[x.hnd].pos = i;
}

static void update_timer0(P *pp)
{
    int64_t w = pp->ntimers ? pp->timers[0].when : 0;
    /* Other Ms and sysmon read this line: no store when nothing changed. */
    if (atomic_load_explicit(&pp->timer0_when, memory_order_relaxed) != w)
        atomic_store_explicit(&pp->timer0_when, w, memory_order_release);
}

/* The heap array starts 3 slots into a 64-byte aligned block, so the four
 * children of a node (slots 4i+1..4i+4, 16 bytes each) share one cache
 * line. */
enum { HEAP_SKEW = 3 };

/* Handle hnd onto the free chain. */
static inline void slot_free(P *pp, int32_t hnd)
{
    pp->timerslots[hnd].t = NULL;
    pp->timerslots[hnd].pos = pp->timerfree;
    pp->timerfree = hnd;
}

/* Every handle of [from, to) onto the free chain, lowest first out. */
static void slots_free_range(P *pp, int32_t from, int32_t to)
{
    for (int32_t k = to - 1; k >= from; k--)
        slot_free(pp, k);
}

static void heap_grow(P *pp)
{
    int32_t old = pp->timerscap;
    int32_t cap = old ? old * 2 : 64;
    size_t bytes = ((size_t)cap + HEAP_SKEW) * sizeof(gort__timerwhen);
    gort__timerwhen *nb = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    gort__timerslot *ns = realloc(pp->timerslots, (size_t)cap * sizeof *ns);
    if (!nb || !ns)
        gort__throw("addtimer: out of memory");
    if (pp->timers) {
        memcpy(nb + HEAP_SKEW, pp->timers, (size_t)pp->ntimers * sizeof *nb);
        free(pp->timers - HEAP_SKEW);
    } else {
        pp->timerfree = -1;
    }
    pp->timers = nb + HEAP_SKEW;
    pp->timerslots = ns;
    pp->timerscap = cap;
    slots_free_range(pp, old, cap);
}

/* Insert into pp's heap; caller holds pp->timerslock. */
static void heap_add(P *pp, gort__timer *t)
{
    if (pp->ntimers == pp->timerscap)
        heap_grow(pp);
    if (t->when <= 0)
        t->when = 1; /* 0 means "no timer" in timer0_when */
    int32_t hnd = pp->timerfree;
    pp->timerfree = pp->timerslots[hnd].pos;
    pp->timerslots[hnd].t = t;
    t->idx = hnd;
    pp->timers[pp->ntimers] = (gort__timerwhen){t->when, hnd, 0};
    siftup(pp, pp->ntimers++);
    __atomic_store_n(&t->pp, pp, __ATOMIC_RELEASE);
    atomic_store_explicit(&t->state, T_ARMED, memory_order_release);
    update_timer0(pp);
    /* A new earliest deadline on a P that may be busy: a sysmon sleeping
     * through a quiet spell did not plan for it. */
    if (pp->timers[0].hnd == hnd &&
        unlikely(atomic_load_explicit(&sched.sysmonwait, memory_order_relaxed) == SYSMON_DEEP))
        gort__sysmon_wake();
}

/* Remove timers[i] and free its handle; caller holds pp->timerslock. */
static void heap_del(P *pp, int32_t i)
{
    slot_free(pp, pp->timers[i].hnd);
    int32_t last = --pp->ntimers;
    if (i != last) {
        int32_t moved = pp->timers[last].hnd;
        pp->timers[i] = pp->timers[last];
        siftdown(pp, i); /* both record where it ends up */
        siftup(pp, pp->timerslots[moved].pos);
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
     * sure a sleeping or idle M will.  With no scheduler running (before
     * gort_main, after it returned) the blocked plain threads run the
     * timers: they look again (proc.c foreign_timer_duty). */
    if (unlikely(!gort__sched_running()))
        gort__foreign_kick(t->when);
    if (!(m && m->p)) {
        /* Pairs with the fence in gort__handoffp: the timer is in the heap
         * before this looks for an idle P or a timer sleeper. */
        atomic_thread_fence(memory_order_seq_cst);
        gort__timerwake(t->when);
    }
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
        heap_del(pp, pp->timerslots[t->idx].pos);
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
    while (pp->ntimers > 0 && pp->timers[0].when <= now) {
        gort__timer *t = slot_timer(pp, pp->timers[0].hnd);
        heap_del(pp, 0);
        /* The next root is the next timer to fire, now or at a coming
         * schedule(): start its cache (and TLB) miss while this one runs.
         * Sifting through timer pointers used to do this by accident. */
        if (pp->ntimers > 0)
            __builtin_prefetch(slot_timer(pp, pp->timers[0].hnd), 1);
        /* The caller's clock reading, not a fresh one per timer (a read
         * per wake-up, ~1.6% of 10k sleepers' CPU), kept monotonic per
         * heap under the lock: two Ms running this heap's timers at once
         * (the owner, a stealer) with readings taken in the other order
         * would otherwise report a later deadline firing first.  (Sampled
         * in the callback, a runner descheduled in between did that:
         * test_after, 1 in 30 loaded runs.) */
        if (now > pp->timerlastfired)
            pp->timerlastfired = now;
        t->fired = pp->timerlastfired;
        atomic_store_explicit(&t->state, T_RUNNING, memory_order_release);
        __atomic_store_n(&t->pp, NULL, __ATOMIC_RELEASE);
        gort__unlock(&pp->timerslock);
        t->f(t->arg, t->seq);
        gort__lock(&pp->timerslock);
        if (t->period > 0) {
            /* Past this firing's stamp, not just past our `now`: the stamp
             * is the heap's latest clock, which another M may have moved
             * ahead of ours, and a deadline at or before it would fire at
             * once with the same stamp (two ticks with one time).  The
             * next stamp is at least the deadline, so ticks increase. */
            t->when += t->period;
            if (t->when <= t->fired)
                t->when = t->fired + t->period;
            heap_add(pp, t);
        } else {
            atomic_store_explicit(&t->state, T_IDLE, memory_order_release);
        }
    }
    w = pp->ntimers ? pp->timers[0].when : 0;
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
        heap_add(to, slot_timer(from, from->timers[i].hnd));
    if (from->timerlastfired > to->timerlastfired)
        to->timerlastfired = from->timerlastfired;
    from->ntimers = 0;
    from->timerfree = -1;
    slots_free_range(from, 0, from->timerscap);
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
    int64_t now = gort__nanotime();
    int64_t deadline = ns > INT64_MAX - now ? INT64_MAX : now + ns; /* "forever" */
    M *m = gort__getm();
    if (!m || !m->curg) {
        /* A plain thread: just sleep it, restarting after signals. */
        for (int64_t left = ns; left > 0; left = deadline - gort__nanotime()) {
            struct timespec ts = {left / 1000000000, left % 1000000000};
            nanosleep(&ts, NULL);
        }
        return;
    }
    /* deadline lives in this frame: the G is parked while sleep_arm reads it. */
    gort__gopark(sleep_arm, &deadline, "sleep");
}
