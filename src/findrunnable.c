/*
 * findrunnable.c — an M looking for work (the findrunnable half of Go's
 * proc.go): its P's run queue, the global queue, the socket-op batch, the
 * poller without blocking, other Ps' queues and timers (stealing, as a
 * spinning M), and, with nothing found, giving up its P and sleeping --
 * one M blocked in the poller, one until the earliest timer, the rest on
 * their notes (mstart.c stopm).  proc.c's schedule() calls it on g0.
 *
 * Invariants.
 *  - Spinning Ms (looking for work while holding no work) are capped at
 *    half the busy Ps, as in Go; the last spinner to find work wakes
 *    another (gort__resetspinning), and a spinner that gives up its P
 *    looks once more, since work queued meanwhile saw it spinning and woke
 *    nobody.
 *  - At most one M sleeps for the timers (sched.timer_sleeper) and one in
 *    the poller (sched.lastpoll == 0); an earlier timer or a waker
 *    without an idle M to start wakes the one asleep
 *    (gort__wake_pless_m_locked) rather than create a thread.
 *  - An M that gives up its P first hands its dead goroutines' deep
 *    stacks to the scavenger and, during a burst of spawns, prepares the
 *    next batch of stacks on its own core.
 *
 * Rejected: a dedicated timer thread and a dedicated poller thread (a
 * thread hop per wake-up, and threads that exist for idle programs too);
 * every idle M spinning (a burst of wake-ups burnt every CPU).
 */
#include "runtime.h"

void gort__resetspinning(void)
{
    M *m = gort__m_tls;
    m->spinning = false;
    if (atomic_fetch_sub(&sched.nmspinning, 1) == 1)
        gort__wakep(); /* we were the last spinner: keep one looking */
}

/* Run p2's timers if the earliest is due by *now (read from the clock
 * here if still 0, and only if p2 has timers at all).  For Ms that do
 * not own p2: stealwork's last round and run_due_timers. */
static bool run_timers_if_due(P *p2, int64_t *now)
{
    int64_t w = atomic_load_explicit(&p2->timer0_when, memory_order_acquire);
    if (w == 0)
        return false;
    if (*now == 0)
        *now = gort__nanotime();
    if (w > *now)
        return false;
    gort__checktimers(p2, *now);
    return true;
}

static G *stealwork(P *pp, int64_t now, bool *rantimers)
{
    int32_t n = sched.gomaxprocs;
    if (n <= 1)
        return NULL;
    for (int attempt = 0; attempt < 4; attempt++) {
        bool last = attempt == 3;
        /* Random start and a random stride coprime to n: every P once,
         * in an order that differs between thieves (Go's randomOrder). */
        uint32_t un = (uint32_t)n;
        uint32_t start = gort__fastrandn(un);
        uint32_t stride = 1;
        for (uint32_t k = 0, s = 1 + gort__fastrandn(un); k < un; k++, s = s % un + 1) {
            uint32_t a = s, b = un;
            while (b) {
                uint32_t t = a % b;
                a = b;
                b = t;
            }
            if (a == 1) {
                stride = s;
                break;
            }
        }
        for (int32_t i = 0; i < n; i++) {
            if (atomic_load(&sched.gcwaiting))
                return NULL;
            P *p2 = sched.allp[(start + (uint32_t)i * stride) % (uint32_t)n];
            if (p2 == pp)
                continue;
            if (last && run_timers_if_due(p2, &now)) {
                *rantimers = true;
                G *g = gort__runqget(pp);
                if (g)
                    return g;
            }
            if (atomic_load_explicit(&p2->status, memory_order_relaxed) != P_IDLE ||
                !gort__runqempty_g(p2)) {
                G *g = gort__runqsteal(pp, p2, last);
                if (g) {
                    gort__owner_inc(&pp->nsteal);
                    return g;
                }
            }
        }
    }
    return NULL;
}

/* Sleep this M until the next timer (or until woken); called without P,
 * as sched.timer_sleeper, whose note the caller cleared under sched.lock
 * before publishing it: a waker may write it (wake_timer_sleeper) as soon
 * as the lock is dropped, and a clear here, after that, erased the
 * wake-up -- the M slept to its old deadline, and with startm's spinning
 * token in pless_tokens every wakep meanwhile did nothing (found by
 * review, forced with a delay before the clear: 2.8 s). */
static void timersleep(M *m, int64_t until)
{
    gort__notetsleep_until(&m->park, until);
    gort__lock(&sched.lock);
    if (sched.timer_sleeper == m) {
        sched.timer_sleeper = NULL;
        atomic_store(&sched.timer_sleep_until, 0);
    }
    gort__unlock(&sched.lock);
    /* If a waker saw us as the sleeper it wrote the note; clear for stopm. */
    gort__noteclear(&m->park);
}

/* sched.lock held: end s's timer sleep (on its note, or in the poller). */
static void wake_timer_sleeper(M *s)
{
    sched.timer_sleeper = NULL;
    atomic_store(&sched.timer_sleep_until, 0);
    if (sched.timer_sleeper_polls) {
        sched.timer_sleeper_polls = false;
        gort__netpoll_break();
        return;
    }
    gort__notewakeup_hint(&s->park);
}

static void netpoll_block(M *m);

/* sched.lock held, from startm when no idle M is left: wake the M that
 * sleeps without a P -- in the poller, or until the next timer -- so that
 * it takes the idle P the waker wants run, rather than create a thread for
 * it.  The woken M takes a P (netpoll_block, or findrunnable after
 * timersleep) and looks for work as any M at the top of findrunnable.
 * Without this every burst that found the poller blocked left one more
 * thread behind for good: 10,000 idle connections on 2 Ps ended with 4-5
 * Ms (bench idle10k), one of them only ever the poller.
 *
 * One wake-up per M: a poller whose wake-up is pending already (another
 * startm's, or a timer's) is not counted on for this one too, which gets
 * a thread as before -- several wakers merged into one M left all but
 * the first goroutine queued with Ps idle.  And a spinning startm
 * (wakep's) passes its token on (pless_tokens): the woken M spins, so
 * that when it finds work it calls wakep for the rest, as the spinning M
 * that startm would have made does (resetspinning).  True if an M was
 * woken. */
bool gort__wake_pless_m_locked(bool spinning)
{
    bool woke = false;
    /* lastpoll is 0 before the poller exists too: inited first. */
    if (atomic_load_explicit(&sched.netpoll_inited, memory_order_acquire) &&
        atomic_load(&sched.lastpoll) == 0)
        woke = gort__netpoll_break(); /* returns at once if it has not blocked yet */
    M *s = sched.timer_sleeper;
    if (!woke && s && !sched.timer_sleeper_polls) {
        wake_timer_sleeper(s);
        woke = true;
    }
    if (woke && spinning)
        sched.pless_tokens++;
    return woke;
}

/* sched.lock held, by an M back from sleeping without a P (the poller,
 * the timer sleeper) that got p (or none): take a spinning token startm
 * left for it, if any.  With a P the M spins; without one the token goes
 * back, and true says it was the last spinning M, so the caller must call
 * wakep once it has dropped the lock (as gort__drop_nextp_spinning). */
static bool pless_take_token_locked(M *m, P *p)
{
    if (sched.pless_tokens == 0)
        return false;
    sched.pless_tokens--;
    if (p) {
        m->spinning = true; /* counted in nmspinning since startm */
        return false;
    }
    return atomic_fetch_sub(&sched.nmspinning, 1) == 1;
}

void gort__timerwake(int64_t when)
{
    int64_t su = atomic_load(&sched.timer_sleep_until);
    if (su != 0) {
        if (when >= su)
            return;
        gort__lock(&sched.lock);
        M *s = sched.timer_sleeper;
        if (s && atomic_load(&sched.timer_sleep_until) > when) {
            wake_timer_sleeper(s);
        }
        gort__unlock(&sched.lock);
        return;
    }
    gort__wakep();
}

/* The M blocked in the poller (sched.lastpoll == 0), after it swapped
 * lastpoll to 0; holds no P.  It sleeps until an fd is ready, and until
 * the earliest timer if no other M is the timer sleeper (Go's netpoll
 * with pollUntil); then it takes an idle P for what it found, or queues
 * it and stops. */
static void netpoll_block(M *m)
{
    int64_t until = -1;
    int64_t next = gort__timesleepuntil();
    gort__lock(&sched.lock);
    bool sleeper = next != 0 && !sched.timer_sleeper;
    if (sleeper) {
        sched.timer_sleeper = m;
        sched.timer_sleeper_polls = true;
        atomic_store(&sched.timer_sleep_until, next);
        until = next;
    }
    gort__unlock(&sched.lock);
    int32_t n = 0;
    G *list = gort__netpoll_poll(until, &n);
    atomic_store(&sched.lastpoll, gort__nanotime());
    gort__lock(&sched.lock);
    if (sleeper && sched.timer_sleeper == m) {
        sched.timer_sleeper = NULL;
        sched.timer_sleeper_polls = false;
        atomic_store(&sched.timer_sleep_until, 0);
    }
    P *p2 = gort__pidleget();
    bool last = pless_take_token_locked(m, p2);
    gort__unlock(&sched.lock);
    if (!p2) {
        gort__netpoll_inject(list, n, false);
        if (last)
            gort__wakep();
        gort__stopm();
        return;
    }
    gort__acquirep(p2);
    G *g = gort__netpoll_inject(list, n, true);
    if (g)
        gort__runqput(p2, g, true);
}

/* Timers already due on other Ps, run here by an M that may not steal
 * (findrunnable's limit on spinning Ms).  The limit is there so that idle
 * Ms do not all burn CPU looking for work; a due timer is work that must
 * run now, and the owner of its P may not be running at all.  Seen with
 * 10 goroutines sleeping 1-10 ms on 2 Ps (bench/sleepers 10): wakep had
 * handed one P to an M the kernel woke onto this M's CPU, which counted
 * as the one spinning M, so this M, the timer sleeper, could not steal;
 * its sleep until that P's due timer returned at once, and it looped
 * (pidleget, findrunnable, sleep) on that CPU until the kernel's
 * balancer moved the other thread, 1-4 ms: p99 lateness 3.8 ms (median
 * of 5 runs) against 0.13 ms on 1 P.  Go's findrunnable checks other
 * Ps' timers only when it may steal too. */
static bool run_due_timers(P *pp, int64_t now)
{
    bool ran = false;
    for (int32_t i = 0; i < sched.gomaxprocs; i++) {
        P *p2 = sched.allp[i];
        if (p2 != pp && !atomic_load(&sched.gcwaiting) && run_timers_if_due(p2, &now))
            ran = true;
    }
    return ran;
}

G *gort__findrunnable(void)
{
    M *m = gort__m_tls;
top:;
    P *pp = m->p;
    if (atomic_load(&sched.gcwaiting)) {
        gort__gcstopm();
        goto top;
    }
    if (atomic_load_explicit(&sched.exiting, memory_order_relaxed))
        gort__park_forever(NULL);
    /* The clock is read only if there are timers: a yield goes through
     * here on every switch. */
    int64_t now = 0;
    if (atomic_load_explicit(&pp->timer0_when, memory_order_relaxed)) {
        now = gort__nanotime();
        gort__checktimers(pp, now);
    }
    G *g = gort__runqget(pp);
    if (g)
        return g;
    if (atomic_load_explicit(&sched.runqsize, memory_order_relaxed) > 0) {
        gort__lock(&sched.lock);
        g = gort__globrunqget(pp, 0);
        gort__unlock(&sched.lock);
        if (g)
            return g;
    }
    /* Nothing runnable is left to add to the P's batch of socket ops: to
     * the kernel with it, and run what it readied.  Here, past the two
     * queues, and not in schedule(): a switch that finds a goroutine pays
     * for no look at the ring (yield: a third of its instructions went to
     * three such looks), and no path below idles, steals for or stops
     * this P while ops its goroutines wait on are queued (a thief may have
     * emptied the queue after schedule() looked). */
    if (unlikely(atomic_load_explicit(&pp->iob_queued, memory_order_relaxed))) {
        gort__iobatch_flush(pp);
        goto top;
    }
    /* Goroutines whose fds became ready: poll without blocking before
     * stealing (Go's findrunnable), unless an M is blocked in the poller
     * already and will hand them out itself. */
    if (gort__netpoll_pending() && atomic_load_explicit(&sched.lastpoll, memory_order_relaxed) != 0) {
        int32_t n;
        G *list = gort__netpoll_poll(0, &n);
        if (list)
            return gort__netpoll_inject(list, n, true);
    }
    int32_t procs = sched.gomaxprocs;
    if (m->spinning ||
        2 * atomic_load(&sched.nmspinning) < procs - atomic_load(&sched.npidle)) {
        if (!m->spinning) {
            m->spinning = true;
            atomic_fetch_add(&sched.nmspinning, 1);
        }
        bool rantimers = false;
        g = stealwork(pp, now, &rantimers);
        if (g)
            return g;
        if (rantimers)
            goto top;
    } else if (run_due_timers(pp, now)) {
        goto top;
    }

    /* Nothing to do: hand the deep stacks of the goroutines that died
     * here to the scavenger (a mincore each, no madvise on a P), then give
     * up the P. */
    if (pp->gfree_unscanned)
        gort__gfscavenge(pp);
    gort__lock(&sched.lock);
    if (atomic_load(&sched.gcwaiting)) {
        gort__unlock(&sched.lock);
        goto top;
    }
    if (atomic_load(&sched.runqsize) > 0) {
        g = gort__globrunqget(pp, 0);
        gort__unlock(&sched.lock);
        return g;
    }
    gort__releasep();
    gort__pidleput(pp);
    gort__unlock(&sched.lock);

    /* A spinning M must look once more after dropping the P: work that
     * arrived meanwhile saw a spinning M and did not wake anyone. */
    if (m->spinning) {
        m->spinning = false;
        if (atomic_fetch_sub(&sched.nmspinning, 1) < 1)
            gort__throw("findrunnable: negative nmspinning");
        /* Global queue too: a thread without a P queues there and its
         * wakep saw us spinning, so it woke nobody. */
        bool global = atomic_load(&sched.runqsize) > 0;
        for (int32_t i = global ? procs - 1 : 0; i < procs; i++) {
            if (global || !gort__runqempty_g(sched.allp[i])) {
                gort__lock(&sched.lock);
                P *p2 = gort__pidleget();
                gort__unlock(&sched.lock);
                if (p2) {
                    gort__acquirep(p2);
                    m->spinning = true;
                    atomic_fetch_add(&sched.nmspinning, 1);
                    goto top;
                }
                break;
            }
        }
    }

    /* No P held: help the scavenger with a few dead stacks before
     * sleeping (scavenge.c).  Work readied meanwhile woke another M. */
    gort__scavenge_help();
    /* And while goroutines are being started faster than stacks are
     * pooled, commit the next batch's pages on this core (stack.c). */
    gort__stack_prepare_help();

    /* Goroutines wait on fds: one M blocks in the poller, until the
     * earliest timer too if no other M sleeps for the timers. */
    if (gort__netpoll_pending() && atomic_exchange(&sched.lastpoll, 0) != 0) {
        netpoll_block(m);
        goto top;
    }

    /* Timers: one M sleeps until the earliest of them. */
    int64_t next = gort__timesleepuntil();
    if (next != 0) {
        gort__lock(&sched.lock);
        M *s = sched.timer_sleeper;
        if (!s) {
            gort__noteclear(&m->park); /* before anyone can see us: timersleep */
            sched.timer_sleeper = m;
            atomic_store(&sched.timer_sleep_until, next);
            gort__unlock(&sched.lock);
            timersleep(m, next);
            gort__lock(&sched.lock);
            P *p2 = gort__pidleget();
            bool last = pless_take_token_locked(m, p2);
            gort__unlock(&sched.lock);
            if (p2) {
                gort__acquirep(p2);
                goto top;
            }
            if (last)
                gort__wakep();
            gort__stopm();
            goto top;
        }
        if (atomic_load(&sched.timer_sleep_until) > next) {
            /* The sleeper waits too long: wake it to re-plan. */
            wake_timer_sleeper(s);
        }
        gort__unlock(&sched.lock);
    }
    gort__stopm();
    goto top;
}
