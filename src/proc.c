/*
 * proc.c — the scheduler (Go's proc.go): the schedule/findrunnable loop
 * run on every M's g0 (from mstart1 on), parking and readying, yields and
 * preemption points, Ps handed between Ms, gort_main.  Goroutine creation
 * and exit are in newproc.c; starting Ms, their sleeps and deadlock
 * detection in mstart.c; the counters kept here are summed in mstats.c.
 *
 * Invariants.
 *  - A G runs only on an M that holds a P.  Every switch goes G -> g0 (the
 *    M's own pthread stack, via mcall) -> G (via gogo), so a G is completely
 *    saved before it appears on any queue another M can read.
 *  - g->status changes with atomics at hand-offs: RUNNING->WAITING on g0
 *    after the G is saved (gopark), WAITING->RUNNABLE by whoever readies it
 *    (goready; exactly once, by winning a channel/sema/timer race under that
 *    object's lock), RUNNABLE->RUNNING in execute.
 *  - Spinning Ms are capped at half the busy Ps (findrunnable), as in Go,
 *    so a burst of wakeups does not make every idle M burn CPU; an idle
 *    program has no runnable M and no spinning M, so it uses no CPU.
 *  - gort_main's own thread is not an M: it only waits for goroutine 1,
 *    then stops every P for good (stw.c gort__exitstop), so no goroutine
 *    runs after it returns.  That keeps the caller's stack, signal mask
 *    and TLS out of the scheduler.  gort_main_thread is the exception
 *    GUI programs need: the caller's thread is an M running goroutine 1
 *    alone (locked to it), and becomes a plain thread again on return.
 *  - A goroutine locked to its M (g->lockedm; lockosthread.c) runs only
 *    there, and that M runs nothing else: schedule() hands Ps between
 *    the locked M and whichever M dequeues the goroutine.
 *
 * Threads that are not Ms get a pseudo-G (cgocallback.c): gopark blocks
 * the thread on a futex, goready wakes it.
 *
 * Rejected: running the scheduler on the goroutine's stack (a G would be
 * visible on a queue while still running its switch code), a thread per
 * goroutine for blocking work (a goroutine that blocks in the kernel or
 * in foreign code hands its P to another M instead: syscall.c,
 * syscall_foreign.c; DESIGN.md).
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "threadstate.h"

#include <pthread.h>
#include <setjmp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef GORT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

gort__sched gort__sched_state;

/* The calling thread's M (syscall.c reads it too: its fast path cannot
 * afford a call). */
__thread M *gort__m_tls __attribute__((tls_model("initial-exec"), visibility("hidden")));
#define m_tls gort__m_tls
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static _Atomic bool main_called;

static GORT_NORETURN void execute(G *g);

M *gort__getm(void) { return m_tls; }

P *gort__getp(void)
{
    M *m = m_tls;
    return m ? m->p : NULL;
}

G *gort__getg(void)
{
    M *m = m_tls;
    if (m)
        return m->curg;
    G *g = gort__foreign_g_tls;
    if (likely(g))
        return g;
    return gort__foreign_getg();
}

/* ---------------------------------------------------------------------
 * Initialisation
 * ------------------------------------------------------------------- */

static void schedinit_once(void)
{
    gort__parse_env();
    gort__stack_init();
    gort__foreign_init();
    sched.allp_cap = 1024;
    sched.allp = calloc((size_t)sched.allp_cap, sizeof(P *));
    if (!sched.allp)
        gort__throw("schedinit: out of memory");
    int32_t n = gort__cfg.maxprocs;
    if (n < 1)
        n = 1;
    if (n > sched.allp_cap)
        n = sched.allp_cap;
    atomic_store(&sched.goidgen, 1); /* goroutine 1 is gort_main's */
    gort__procresize(n);
    gort__lock(&sched.lock);
    for (int32_t i = n - 1; i >= 0; i--)
        gort__pidleput(sched.allp[i]);
    gort__unlock(&sched.lock);
    gort__lock_init();
    gort__syscall_init();
    gort__splitstack_init();
    gort__signal_init();
    gort__sigquit_init();
    gort__cxx_eh_init();
}

void gort__schedinit(void) { pthread_once(&init_once, schedinit_once); }

/* Make Ps [0, n) exist (new ones P_STOPPED), move work off Ps >= n, and
 * publish n.  Called at init and during stop-the-world only (the caller
 * puts Ps on the idle list); Ps are never freed, so racy readers of allp
 * (sysmon) never see a dangling pointer. */
/* Zeroed, cache-line aligned and padded to whole lines: P and M are
 * written by their own thread and read by others (sysmon, stealers, signal
 * senders); malloc could pack two of them, or unrelated heap data, into
 * one line. */
void *gort__alloc_lines(size_t size)
{
    size = (size + GORT_CACHELINE - 1) & ~(size_t)(GORT_CACHELINE - 1);
    void *p = aligned_alloc(GORT_CACHELINE, size);
    if (p)
        memset(p, 0, size);
    return p;
}

void gort__procresize(int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        if (sched.allp[i])
            continue;
        P *pp = gort__alloc_lines(sizeof(P));
        if (!pp)
            gort__throw("procresize: out of memory");
        pp->id = i;
        atomic_store(&pp->status, P_STOPPED);
        sched.allp[i] = pp;
    }
    int32_t old = sched.gomaxprocs;
    /* Ps going away with socket ops still queued (the stopper's own, when
     * it was one of them): made now, their goroutines readied here. */
    for (int32_t i = n; i < old; i++)
        gort__iobatch_flush_queued(sched.allp[i]);
    gort__lock(&sched.lock);
    for (int32_t i = n; i < old; i++) {
        P *pp = sched.allp[i];
        G *g;
        while ((g = gort__runqget(pp)))
            gort__globrunqput(g);
        gort__gfdrain(pp, 0);
        gort__unstarted_drain(pp);
        atomic_store(&pp->status, P_STOPPED);
    }
    sched.gomaxprocs = n;
    gort__unlock(&sched.lock);
    /* Timers of removed Ps move to P0 (time.c). */
    for (int32_t i = n; i < old; i++)
        gort__movetimers(sched.allp[0], sched.allp[i]);
}

/* ---------------------------------------------------------------------
 * Stack switching, with the sanitizers told about it
 * ------------------------------------------------------------------- */

static void mcall_entry(G *g)
{
    M *m = m_tls;
#ifdef GORT_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
    /* Earlier scheduler frames at these addresses were abandoned, not
     * returned from: clear their poisoning. */
    char here;
    __asan_unpoison_memory_region((void *)m->g0_lo, (uintptr_t)&here - m->g0_lo);
#endif
    m->mcall_fn(g);
    gort__throw("mcall function returned");
}

/* Switch from the running G to g0 and run fn(g) there. */
static void mcall(void (*fn)(G *))
{
    if (gort__in_forked_child())
        gort__forked_fatal("switching goroutines (park, yield, exit)");
    M *m = m_tls;
    G *g = m->curg;
    m->mcall_fn = fn;
    /* Slab stacks have no guard page: catch an overflow at the switch,
     * before another goroutine runs on what it overwrote (stack.c). */
    if (unlikely(!g->guarded) && g->stack_map)
        gort__stack_check(g, (uintptr_t)__builtin_frame_address(0));
    gort__ts_out(g);
#ifdef GORT_ASAN
    __sanitizer_start_switch_fiber(m->mcall_dying ? NULL : &g->asan_fake_stack,
                                   (void *)m->g0_lo, m->g0_hi - m->g0_lo);
#endif
    gort__mcall_asm(g, mcall_entry, m->g0_sp);
#ifdef GORT_ASAN
    int e = *gort__errno_ptr(); /* the goroutine's, put back by gort__ts_in */
    __sanitizer_finish_switch_fiber(g->asan_fake_stack, NULL, NULL);
    *gort__errno_ptr() = e;
#endif
}

static GORT_NORETURN void gogo(G *g)
{
#ifdef GORT_ASAN
    /* g0's frames are abandoned at every switch (NULL: no fake stack to keep). */
    int e = *gort__errno_ptr(); /* the goroutine's, put back by gort__ts_in */
    __sanitizer_start_switch_fiber(NULL, (void *)g->stack_lo, g->stack_hi - g->stack_lo);
    *gort__errno_ptr() = e;
#endif
    gort__gogo_asm(g);
}

/* ---------------------------------------------------------------------
 * M and P management
 * ------------------------------------------------------------------- */

void gort__acquirep(P *pp)
{
    M *m = m_tls;
    if (pp->m || m->p)
        gort__throw("acquirep: P %d already in use", pp->id);
    m->p = pp;
    pp->m = m;
    atomic_store_explicit(&pp->status, P_RUNNING, memory_order_relaxed);
    gort__rwbias_setp(pp->id);
}

P *gort__releasep(void)
{
    M *m = m_tls;
    P *pp = m->p;
    if (!pp || pp->m != m)
        gort__throw("releasep: invalid P state");
    pp->m = NULL;
    m->p = NULL;
    atomic_store_explicit(&pp->status, P_IDLE, memory_order_relaxed);
    return pp;
}

/* The M's life on its thread; returns only through m->exitbuf, when a
 * goroutine died locked to it (gort__mexit). */
__attribute__((noinline)) void gort__mstart1(M *m, G *g)
{
    m_tls = m;
    m->tid = (pid_t)syscall(SYS_gettid);
    gort__splitstack_minit(m);
    pthread_attr_t attr;
    void *lo = NULL;
    size_t sz = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &lo, &sz);
        pthread_attr_destroy(&attr);
    }
    /* Every mcall restarts the scheduler just below this frame: g0 never
     * unwinds, so its stack does not grow with the number of switches. */
    m->g0_sp = ((uintptr_t)__builtin_frame_address(0) - 256) & ~(uintptr_t)15;
    m->g0_lo = (uintptr_t)lo;
    m->g0_hi = m->g0_sp;
    gort__minit_signals(m);
    P *pp = gort__take_nextp(m);
    if (pp) {
        gort__acquirep(pp);
    } else {
        /* startm's P, taken back by a stop of the world (stw.c). */
        gort__drop_nextp_spinning(m);
        gort__stopm();
    }
    if (g)
        execute(g); /* gort_main_thread's goroutine 1 */
    gort__schedule();
}

void gort__wakep(void)
{
    if (atomic_load_explicit(&sched.npidle, memory_order_relaxed) == 0) {
        /* Work for a busy machine: sysmon, if it stopped polling because
         * only lone loops were running, must now time their slices; and
         * work queued from outside every P asks for a P whose slice is
         * over itself, rather than wait for sysmon to get a CPU. */
        if (unlikely(atomic_load_explicit(&sched.sysmonwait, memory_order_relaxed) == SYSMON_DEEP))
            gort__sysmon_wake();
        if (!gort__getp())
            gort__preempt_queued();
        return;
    }
    int32_t z = 0;
    if (atomic_load_explicit(&sched.nmspinning, memory_order_relaxed) != 0 ||
        !atomic_compare_exchange_strong(&sched.nmspinning, &z, 1))
        return;
    /* Before gort_main no M may take a P: gort_main takes the idle P for
     * goroutine 1's M, and with one P an M started here (gort_maxprocs
     * before gort_main restarts the world, which wakes) left it none: a
     * crash in acquirep(NULL) in about a third of the runs.  gort_main
     * calls wakep itself once it has started. */
    if (unlikely(!atomic_load_explicit(&sched.started, memory_order_acquire))) {
        atomic_fetch_sub(&sched.nmspinning, 1);
        return;
    }
    gort__startm(NULL, true, GORT_WAKE_AWAY);
}

/* ---------------------------------------------------------------------
 * The scheduler loop (runs on g0)
 * ------------------------------------------------------------------- */

static void resetspinning(void)
{
    M *m = m_tls;
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

static G *findrunnable(void)
{
    M *m = m_tls;
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

static GORT_NORETURN void execute_slice(G *g, bool inherit);

static GORT_NORETURN GORT_NOINLINE_COLD void iobatch_flush_execute(P *pp, G *g, bool inherit)
{
    gort__iobatch_flush(pp);
    execute_slice(g, inherit);
}

/* inherit: g runs in the current time slice (it came from runnext, or is
 * the G that just failed to park): schedtick, by which sysmon times
 * slices, stays as it is (Go's inheritTime). */
static GORT_NORETURN void execute_slice(G *g, bool inherit)
{
    M *m = m_tls;
    P *pp = m->p;
    /* Its first run, and it was made without a stack (unstarted.c). */
    if (unlikely(g->unstarted))
        g = gort__unstarted_start(pp, g);
    /* A goroutine the poller or a flush did not ready may compute for a
     * whole slice: the P's batch goes before it runs, not after.  Here,
     * where pp is in a register already, and not in schedule(); the flush
     * comes back through a tail call, so that nothing here lives across
     * it: the look costs a switch three instructions. */
    if (unlikely(atomic_load_explicit(&pp->iob_queued, memory_order_relaxed)) && !g->iob_ready)
        iobatch_flush_execute(pp, g, inherit);
    m->curg = g;
    g->m = m;
    atomic_store_explicit(&g->preempt, false, memory_order_relaxed);
    g->preempt_reported = false;
    g->iob_ready = false; /* looked at above; it is running now */
    gort__setguard(m, g); /* before G_RUNNING: a poison after it is this G's */
    atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
    if (!inherit)
        atomic_store_explicit((_Atomic uint32_t *)&pp->schedtick, pp->schedtick + 1,
                              memory_order_relaxed);
    else if (unlikely(__atomic_load_n(&pp->preempt_reqtick, __ATOMIC_RELAXED) == pp->schedtick + 1))
        gort__preempt_inherit(m, g); /* the slice it continues is over */
    gort__owner_inc(&pp->nswitch);
    pp->slicespawn = 0;
    if (unlikely(atomic_load_explicit(&sched.sysmonwait, memory_order_relaxed) == SYSMON_DEEP))
        gort__sysmon_wake();
    gort__ts_in(g);
    gogo(g);
}

static GORT_NORETURN void execute(G *g)
{
    execute_slice(g, false);
}

/* Locked goroutines (Go's stoplockedm / startlockedm).  An M locked to
 * a goroutine runs nothing else: when the goroutine stops running (parks,
 * yields, is preempted), the M gives its P away and sleeps on m->park; the
 * goroutine goes where any other would (a wait queue, a run queue), and
 * whichever M takes it from a run queue gives that M's own P to the
 * locked M (nextp) and sleeps in its place (mstart.c
 * gort__lockedm_sleep). */
static void stoplockedm(void)
{
    M *m = m_tls;
    if (m->spinning) {
        m->spinning = false;
        atomic_fetch_sub(&sched.nmspinning, 1);
    }
    /* The P goes to whoever takes it next: its batch goes first. */
    gort__iobatch_flush_queued(m->p);
    /* A goroutine readied meanwhile, or the yielder itself on the global
     * queue: handoffp starts an M for it, which hands a P back to us. */
    gort__handoffp(gort__releasep(), GORT_WAKE_HERE); /* we sleep next */
    gort__lockedm_sleep(m);
}

static void startlockedm(G *g)
{
    M *lm = g->lockedm;
    /* Our P goes to the locked M: its batch goes first. */
    gort__iobatch_flush_queued(m_tls->p);
    P *pp = gort__releasep();
    gort__incidlelocked(-1);
    gort__set_nextp(lm, pp, false);
    gort__notewakeup(&lm->park);
    gort__stopm();
}

GORT_NORETURN void gort__schedule(void)
{
    M *m = m_tls;
top:;
    if (atomic_load_explicit(&sched.exiting, memory_order_relaxed))
        gort__park_forever(NULL);
    /* Locked to a goroutine that stopped running: wait for it (before the
     * stop-the-world check: handoffp gives the P to a stop in progress). */
    if (unlikely(m->lockedg != NULL)) {
        stoplockedm();
        execute(m->lockedg);
    }
    if (atomic_load_explicit(&sched.gcwaiting, memory_order_relaxed)) {
        gort__gcstopm();
        goto top;
    }
    P *pp = m->p;
    int64_t tw = atomic_load_explicit(&pp->timer0_when, memory_order_relaxed);
    bool timerready = false;
    int64_t now;
    if (tw != 0 && tw <= (now = gort__nanotime())) {
        G *before = atomic_load_explicit(&pp->runnext, memory_order_relaxed);
        gort__checktimers(pp, now);
        timerready = atomic_load_explicit(&pp->runnext, memory_order_relaxed) != before;
    }
    G *g = NULL;
    /* Every 61st schedule look at the global queue first, so a P with a
     * busy local queue cannot starve it; deferred by one schedule when a
     * timer just readied a G, which would otherwise wait a whole slice
     * behind (say) a preempted hog from the global queue. */
    /* Counted in slices (schedtick, which a runnext G inherits), as Go
     * does, not in switches: a pair member preempted at the end of its
     * slice goes to the global queue, and a look there every 61 switches
     * took it back ahead of the goroutines waiting in the ring (the
     * starvation test_runnext checks: 57-67 ms of CPU in 4 of 14 runs). */
    if (pp->schedtick % 61 == 0)
        pp->globalcheck = true;
    /* ... and deferred too right after a yield or preemption, which put the
     * G at the global queue's tail: with nothing else there the look would
     * pick it straight back, ahead of the goroutines it yielded to. */
    bool yielded = pp->yielded;
    pp->yielded = false;
    if (pp->globalcheck && !timerready && !yielded &&
        atomic_load_explicit(&sched.runqsize, memory_order_relaxed) > 0) {
        pp->globalcheck = false;
        gort__lock(&sched.lock);
        g = gort__globrunqget(pp, 1);
        gort__unlock(&sched.lock);
    }
    bool inherit = false;
    if (!g)
        g = gort__runqget_inherit(pp, &inherit);
    if (!g)
        g = findrunnable();
    /* A runnext goroutine takes over the slice that was just preempted or
     * yielded: the slice after it does not begin at the preemption, and a
     * sleeper its timers readied must not inherit the served request. */
    if (unlikely(inherit && yielded)) {
        gort__slice_served(pp);
        /* ... and starts a slice of its own: inheriting the one that
         * just ended, it was asked to stop at once (sysmon saw that slice
         * past its quantum, and kept asking for the goroutine that
         * yielded up to the switch), so it could be sent to the global
         * queue behind the goroutine that had yielded for it before
         * running a single instruction (test_preempt_nosplit under ASan:
         * the goroutine waiting for gort_preempt_enable had not run when
         * it returned, 1 run in 4; 0 of 14 with this). */
        inherit = false;
    }
    if (m->spinning)
        resetspinning();
    /* Runs only on its own M: hand it our P, and sleep. */
    if (unlikely(g->lockedm != NULL)) {
        startlockedm(g);
        goto top;
    }
    execute_slice(g, inherit);
}

/* ---------------------------------------------------------------------
 * Parking and readying
 * ------------------------------------------------------------------- */

static void park_m(G *g)
{
    M *m = m_tls;
    atomic_store_explicit(&g->status, G_WAITING, memory_order_release);
    m->curg = NULL;
    g->m = NULL;
    bool (*fn)(G *, void *) = m->waitunlockf;
    if (fn) {
        m->waitunlockf = NULL;
        bool ok = fn(g, m->waitlock);
        m->waitlock = NULL;
        if (!ok) {
            atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
            execute(g);
        }
    }
    /* The callback released the lock the G waited under; anything still
     * held means the G blocked inside a stopped world (or holding a
     * runtime lock), which would never be woken. */
    if (unlikely(m->locks != 0))
        gort__throw("goroutine %llu blocked (%s) with the world stopped or a runtime lock held",
                    (unsigned long long)g->goid, g->waitreason ? g->waitreason : "?");
    gort__schedule();
}

/* park_m for a goroutine inside a system-call bracket, whose M holds no
 * P.  Parking needs none: the goroutine leaves the bracket where it is,
 * the P it released is handed on (unless something took it already), and
 * the M, with nothing of its own to run, stops.  Taking a P back first
 * (exitsyscall) would be wrong: its slow path may queue the goroutine and
 * resume it on another M while it holds the runtime lock unlockf is to
 * release (a channel's: the lock count then goes negative on one M, and
 * goroutines on every P wait for that lock behind a goroutine with none). */
static void exitsyscall0(G *g);

static void park_insyscall_m(G *g)
{
    M *m = m_tls;
    P *oldp = gort__syscall_abandon(m);
    atomic_store_explicit(&g->status, G_WAITING, memory_order_release);
    m->curg = NULL;
    g->m = NULL;
    bool (*fn)(G *, void *) = m->waitunlockf;
    m->waitunlockf = NULL;
    bool ok = !fn || fn(g, m->waitlock);
    m->waitlock = NULL;
    if (!ok) {
        /* Not parked after all: it runs on, with its old P if that is
         * still free, else as exitsyscall's slow path would. */
        if (oldp && gort__syscall_retake(m, oldp))
            execute(g);
        exitsyscall0(g);
    }
    if (unlikely(m->locks != 0))
        gort__throw("goroutine %llu blocked (%s) with the world stopped or a runtime lock held",
                    (unsigned long long)g->goid, g->waitreason ? g->waitreason : "?");
    if (oldp)
        gort__syscall_handoff(oldp, GORT_WAKE_HERE); /* parked: we sleep next */
    if (atomic_load(&sched.exiting))
        gort__park_forever(NULL);
    if (unlikely(m->lockedg != NULL)) {
        gort__lockedm_sleep(m);
        execute(m->lockedg);
    }
    gort__stopm();
    gort__schedule();
}

/* Parking inside a system-call bracket, and re-entering it on return (the
 * levels opened since a P-less run in foreign code began, not that one).
 * With no runtime lock held, or the released P still free, it takes a P
 * back and parks as usual (the scheduler runs on it: cheapest); else it
 * parks without one (above).  Not inlined: the goroutine may come back on
 * another thread, and the caller must not reuse this thread's TLS
 * address. */
static GORT_NOINLINE_COLD void gopark_insyscall(bool (*unlockf)(G *, void *), void *lock,
                                                const char *reason)
{
    M *m = m_tls;
    int32_t depth = m->syscall_depth;
    if (atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed))
        depth--;
    if (m->locks == 0) {
        gort__syscall_suspend(); /* may park in exitsyscall: nothing held */
        gort__gopark(unlockf, lock, reason);
    } else if (gort__syscall_tryexit(m)) {
        gort__gopark(unlockf, lock, reason);
    } else {
        m->waitunlockf = unlockf;
        m->waitlock = lock;
        m->curg->waitreason = reason;
        m->curg->waitsince = gort__waitclock();
        mcall(park_insyscall_m);
    }
    gort__syscall_resume(depth);
}

/* A thread that is not an M, about to block: the deadline for its wait.
 * The timers live on the Ps' heaps, which only the scheduler's Ms run;
 * before gort_main and once it returned no M does, and a plain thread's
 * gort_select timeout, gort_after, timer channel or context deadline
 * never fired (an adversarial hunt: each hung for ever).  Then each
 * blocked thread serves the timers itself: it runs those due and wakes
 * for the earliest of the rest.  A timer armed meanwhile, and the end of
 * gort_main, kick the blocked threads to look again (gort__foreign_kick).
 * -1: no deadline (the scheduler runs the timers). */
static int64_t foreign_timer_duty(void)
{
    if (likely(gort__sched_running()))
        return -1;
    for (;;) {
        int64_t next = gort__timesleepuntil();
        if (next == 0)
            return -1;
        int64_t now = gort__nanotime();
        if (next > now)
            return next;
        for (int32_t i = 0; i < sched.gomaxprocs; i++)
            gort__checktimers(sched.allp[i], now);
    }
}

void gort__gopark(bool (*unlockf)(G *, void *), void *lock, const char *reason)
{
    /* Before the bracket's own park (a vfork made inside gort_blocking
     * sees the parent's depth) rewrites the parent's M: mcall's check
     * comes too late for that path. */
    if (gort__in_vfork_child())
        gort__forked_fatal("switching goroutines (park, yield, exit)");
    M *m = m_tls;
    if (m && m->curg) {
        if (unlikely(m->syscall_depth)) {
            gopark_insyscall(unlockf, lock, reason);
            return;
        }
        m->waitunlockf = unlockf;
        m->waitlock = lock;
        m->curg->waitreason = reason;
        m->curg->waitsince = gort__waitclock();
        mcall(park_m);
        return;
    }
    /* A thread that is not an M: block it on its pseudo-G's status word. */
    G *g = gort__getg();
    if (!g)
        gort__throw("gopark: no G");
    g->waitreason = reason;
    atomic_store_explicit(&g->status, G_WAITING, memory_order_release);
    if (unlockf && !unlockf(g, lock)) {
        atomic_store(&g->status, G_RUNNING);
        return;
    }
    /* Counted as blocked only once unlockf is done (a select may still be
     * arming its timer in there), and uncounted by the waker, so a thread
     * that has been readied but not yet run never looks blocked.  A waker
     * that gets in before this increment leaves the count one low for a
     * moment, which only ever errs towards "not dead". */
    gort__foreign_block();
    for (;;) {
        uint32_t st = atomic_load_explicit(&g->status, memory_order_acquire);
        if (st == G_WAITING_KICK) { /* gort__foreign_kick: look again */
            atomic_compare_exchange_strong(&g->status, &st, G_WAITING);
            continue;
        }
        if (st != G_WAITING)
            break;
        /* The deadline is published before the generation is read again:
         * a timer armed after it was computed either shows in the
         * generation (look again) or finds the deadline and kicks. */
        uint64_t gen = atomic_load(&gort__foreign_timer_gen);
        int64_t until = foreign_timer_duty();
        atomic_store(&g->fwait_until, until);
        if (atomic_load(&gort__foreign_timer_gen) != gen)
            continue;
        gort__futex_wait(&g->status, G_WAITING, until);
    }
    atomic_store(&g->status, G_RUNNING);
}

static bool unlock_runtime_lock(G *g, void *l)
{
    (void)g;
    gort__unlock(l);
    return true;
}

void gort__goparkunlock(gort__mutex *l, const char *reason)
{
    gort__gopark(unlock_runtime_lock, l, reason);
}

void gort__goready(G *g, bool next)
{
    if (gort__in_forked_child())
        gort__forked_fatal("waking a goroutine");
    if (g->foreign) {
        gort__foreign_unblock();
        atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_release);
        gort__futex_wake(&g->status, 1);
        return;
    }
    M *m = m_tls;
    P *pp = m ? m->p : NULL;
    uint32_t want = G_WAITING;
    if (pp) {
        if (!atomic_compare_exchange_strong(&g->status, &want, G_RUNNABLE))
            goto bad;
        gort__runqput(pp, g, next);
    } else {
        /* Under sched.lock, so checkdead never sees a runnable G that is
         * on no queue while every M is idle. */
        gort__lock(&sched.lock);
        if (!atomic_compare_exchange_strong(&g->status, &want, G_RUNNABLE)) {
            gort__unlock(&sched.lock);
            goto bad;
        }
        gort__globrunqput(g);
        gort__unlock(&sched.lock);
    }
    gort__wakep();
    return;
bad:
    gort__throw("goready: goroutine %llu not waiting (status %u)",
                (unsigned long long)g->goid, want);
}

/* Yield and preemption both put the G on the global queue (as Go does), so
 * it runs after everything already waiting, on whichever P gets there --
 * but for a stop of the world (below). */
static void gosched_m(G *g)
{
    M *m = m_tls;
    atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
    m->curg = NULL;
    g->m = NULL;
    /* With a stop of the world pending this P stops at the schedule()
     * below and its goroutine waits for the start: on the P's own queue,
     * where the start finds it (stw.c), without the global queue's lock,
     * whose line the stopper holds -- a cross-core miss on the stop's
     * path (split-stack mode: the goroutine parks here from a poisoned
     * prologue, ~150 ns of the stop on the EPYC VM). */
    if (atomic_load_explicit(&sched.gcwaiting, memory_order_relaxed)) {
        gort__runqput(m->p, g, false);
    } else {
        gort__lock(&sched.lock);
        gort__globrunqput(g);
        gort__unlock(&sched.lock);
    }
    m->p->yielded = true;
    gort__schedule();
}

static GORT_NOINLINE_COLD void gosched_insyscall(void)
{
    int32_t depth = gort__syscall_suspend();
    gort__gosched();
    gort__syscall_resume(depth);
}

void gort__gosched(void)
{
    M *m = m_tls;
    if (!m || !m->curg) {
        sched_yield();
        return;
    }
    if (unlikely(m->locks != 0))
        gort__throw("yield with the world stopped or a runtime lock held");
    if (unlikely(m->syscall_depth)) {
        gosched_insyscall();
        return;
    }
    mcall(gosched_m);
}

/* A goroutine stops for a preemption: note when, so that sysmon dates
 * the slice that follows from this moment instead of from its next look
 * (sysmon.c).  One clock read, on a path that is about to switch anyway. */
static inline void note_preempted(P *pp)
{
    uint32_t tick = atomic_load_explicit((_Atomic uint32_t *)&pp->schedtick, memory_order_relaxed);
    atomic_store_explicit(&pp->preempted_tick, ~0u, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&pp->preempted_at, gort__nanotime(), memory_order_relaxed);
    atomic_store_explicit(&pp->preempted_tick, tick, memory_order_release);
}

void gort__preempt_check_slow(void)
{
    M *m = m_tls;
    G *g = m->curg;
    if (g->preempt_off > 0 || m->locks > 0 || m->syscall_depth > 0 || g->plocks > 0)
        return; /* inside a system-call bracket it holds no P to give up;
                   a pthread lock holder is not preempted (preempt.c) */
    /* Nor a gort call made from a callback that foreign code runs: a
     * dl_iterate_phdr callback holds ld.so's loader lock, which must be
     * released by this thread; switched and moved, it stayed held for
     * good and the program wedged (a reviewer's reproducer).  The
     * request stays pending, as when the signal finds such a frame. */
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    if (gort__foreign_caller(fp, fp, g))
        return;
    gort__owner_inc(&m->p->nsyncpreempt);
    note_preempted(m->p);
    mcall(gosched_m);
}

void gort__preempt_check_call_slow(G *g)
{
    /* Not in a vfork child, which runs on the parent's goroutine: a clock
     * read there must stay a clock read (switching is fatal in it). */
    if (gort__in_forked_child())
        return;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (sp >= g->stack_lo && sp < g->stack_hi)
        gort__preempt_check_slow();
}

static void asyncpreempt(void)
{
    M *m = m_tls;
    G *g = m->curg;
    if (unlikely(atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed))) {
        gort__foreign_exit(); /* back from foreign code: take a P again */
        return;
    }
    g->async_preempted = true;
    gort__owner_inc(&m->p->nasyncpreempt);
    note_preempted(m->p);
    mcall(gosched_m);
    g->async_preempted = false;
}

void gort__asyncpreempt2(void)
{
    /* Registers that held this thread's &errno get the next one's. */
    int *e = gort__errno_addr();
    asyncpreempt();
    gort__ts_errno_moved(*(uintptr_t **)__builtin_frame_address(0), e);
}

/* Split-stack mode: a poisoned prologue check (morestack.c).  Like an
 * asynchronous preemption, minus the signal and the saved state. */
void gort__morestack_park(uintptr_t *fr)
{
    int *e = gort__errno_addr();
    M *m = m_tls;
    gort__owner_inc(&m->p->nprologuepreempt);
    note_preempted(m->p);
    mcall(gosched_m);
    gort__ts_errno_moved(fr, e);
}

void gort__mcall_fatal(void (*fn)(G *))
{
    mcall(fn);
    gort__throw("mcall_fatal returned");
}

/* exitsyscall's slow path on g0: the goroutine's P was taken while it was
 * in a system call and no P is idle.  Queue it as runnable (any P may run
 * it: its call is over) and park this M, which a later hand-off reuses. */
static void exitsyscall0(G *g)
{
    M *m = m_tls;
    m->curg = NULL;
    g->m = NULL;
    gort__lock(&sched.lock);
    P *pp = NULL;
    if (!atomic_load(&sched.gcwaiting) && !atomic_load(&sched.exiting))
        pp = gort__pidleget();
    atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
    if (!pp)
        gort__globrunqput(g);
    gort__unlock(&sched.lock);
    if (pp) {
        gort__acquirep(pp);
        execute(g);
    }
    if (atomic_load(&sched.exiting))
        gort__park_forever(NULL);
    /* Locked: only this M may run it; whoever takes it from the global
     * queue hands us a P (a pthread lock taken in the call is held by
     * this thread). */
    if (unlikely(g->lockedm != NULL)) {
        gort__lockedm_sleep(m);
        execute(g);
    }
    gort__stopm();
    gort__schedule();
}

void gort__exitsyscall_park(void)
{
    mcall(exitsyscall0);
}

/* ---------------------------------------------------------------------
 * Public runtime API
 * ------------------------------------------------------------------- */

/* What gort_main and gort_main_thread share: once per process, the
 * runtime started and goroutine 1 made. */
static int main_begin(void (*fn)(void *), void *arg, G **gp)
{
    if (atomic_exchange(&main_called, true))
        return EBUSY;
    gort__schedinit();
    G *g = gort__newg(fn, arg);
    if (!g)
        return ENOMEM;
    g->goid = 1;
    g->is_main = true;
    g->gopc = 0;
    g->parentgoid = 0;
    atomic_fetch_add(&sched.ncreated_nop, 1);
    *gp = g;
    return 0;
}

int gort_main(void (*fn)(void *), void *arg)
{
    G *g;
    int rc = main_begin(fn, arg, &g);
    if (rc != 0)
        return rc;
    gort__noteclear(&sched.mainnote);
    gort__lock(&sched.lock);
    gort__globrunqput(g);
    P *pp = gort__pidleget();
    gort__unlock(&sched.lock);
    atomic_store(&sched.started, true);
    gort__fork_init(); /* from now on a fork's child can only exec */
    rc = gort__newm(pp, false, false);
    if (rc != 0)
        return rc;
    gort__sysmon_start();
    /* Work queued by gort_go before gort_main needs Ms too.  (From this
     * P-less thread wakep may also ask for a preemption; it does only
     * while work is queued: gort__preempt_queued.  Skipping this call
     * when only goroutine 1 was queued made deadlock detection miss
     * deadlocks: test_deadlock and test_lockosthread, once each.) */
    gort__wakep();
    gort__notesleep(&sched.mainnote);
    /* Goroutine 1 returned: stop every other goroutine before the caller
     * goes on (Go's exit; see gort.h and DESIGN.md). */
    gort__exitstop();
    return 0;
}

/* gort_main, with goroutine 1 run by the calling thread, which becomes an
 * M (m0) locked to it for its whole life (g->lockmain): GUI toolkits and
 * other main-thread-only libraries work from goroutine 1.  When it
 * returns, goexit0 jumps back here (m0->exitbuf) and the thread, an M no
 * more, stops every P as gort_main's does.  The caller's alternate signal
 * stack is put back. */
int gort_main_thread(void (*fn)(void *), void *arg)
{
    G *g;
    int rc = main_begin(fn, arg, &g);
    if (rc != 0)
        return rc;
    gort__lock(&sched.lock);
    P *pp = gort__pidleget();
    gort__main_is_m = true;
    gort__unlock(&sched.lock);
    M *m = gort__allocm(pp);
    if (!m)
        return ENOMEM;
    g->lockmain = 1;
    g->lockedm = m;
    m->lockedg = g;
    /* minit_signals changes the thread's signal stack and unblocks
     * SIGURG: put both back for the caller afterwards. */
    stack_t oldss;
    bool hadss = sigaltstack(NULL, &oldss) == 0;
    sigset_t oldmask;
    pthread_sigmask(SIG_SETMASK, NULL, &oldmask);
    /* The caller may be inside a C++ catch block: that exception state is
     * the caller's, not goroutine 1's, and an M's thread must hold none
     * while no goroutine runs (cxx_eh.c), so it waits here, put back on
     * return (it was moved into goroutine 1 at its first switch and
     * dropped when it exited: a `throw;` after the call terminated). */
    gort__cxa_eh_globals *eh = NULL, kept = {NULL, 0};
    if (atomic_load(&gort__cxx_eh_on)) {
        eh = gort__cxx_thread_globals(m);
        kept = *eh;
        eh->caught = NULL;
        eh->uncaught = 0;
    }
    atomic_store(&sched.started, true);
    gort__sysmon_start();
    /* Work queued by gort_go before: other Ms run it. */
    gort__wakep();
    jmp_buf exitbuf;
    m->exitbuf = &exitbuf;
    if (setjmp(exitbuf) == 0)
        gort__mstart1(m, g);
    /* Goroutine 1 returned (goexit0 set sched.exiting and gave up the P):
     * from here on this is a thread like any other. */
    m_tls = NULL;
    gort__rwbias_setp(-1);
    if (hadss && m->altstack) {
        if (oldss.ss_flags & SS_DISABLE)
            oldss = (stack_t){.ss_flags = SS_DISABLE};
        sigaltstack(&oldss, NULL);
    }
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    if (eh)
        *eh = kept;
    gort__exitstop();
    return 0;
}

void gort_yield(void)
{
    gort__gosched();
}

uint64_t gort_self(void)
{
    M *m = m_tls;
    return m && m->curg ? m->curg->goid : 0;
}
