/*
 * proc.c — the scheduler (Go's proc.go): the schedule loop run on every
 * M's g0 (from mstart1 on), parking and readying, yields and preemption
 * points, Ps handed between Ms, gort_main.  Looking for work when the P's
 * queue is empty (stealing, the poller, the timer sleep) is in
 * findrunnable.c; goroutine creation and exit in newproc.c; starting Ms,
 * their sleeps and deadlock detection in mstart.c; the counters kept here
 * are summed in mstats.c.
 *
 * Invariants.
 *  - A G runs only on an M that holds a P.  Every switch goes G -> g0 (the
 *    M's own pthread stack, via mcall) -> G (via gogo), so a G is completely
 *    saved before it appears on any queue another M can read.
 *  - g->status changes with atomics at hand-offs: RUNNING->WAITING on g0
 *    after the G is saved (gopark), WAITING->RUNNABLE by whoever readies it
 *    (goready; exactly once, by winning a channel/sema/timer race under that
 *    object's lock), RUNNABLE->RUNNING in execute.
 *  - An idle program has no runnable M and no spinning M (findrunnable.c
 *    caps spinners at half the busy Ps), so it uses no CPU.
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
    gort__sanitizer_init();
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
    /* ... and deferred too right after a yield or preemption that put the
     * G at the global queue's tail: with nothing else there the look would
     * pick it straight back, ahead of the goroutines it yielded to.  Not
     * after one for a stop of the world, which queues the G on the P
     * (gosched_m): deferred then too, a goroutine preempted at every stop
     * (a plain thread stopping the world every 1 ms beside a call-free
     * loop) put the look off for good, and goroutines back from system
     * calls or woken by threads waited in the global queue for ever (a
     * stress hunt: 2 of 3 runs made no progress for 3 s). */
    bool yielded = pp->yielded, yielded_global = pp->yielded_global;
    pp->yielded = pp->yielded_global = false;
    if (pp->globalcheck && !timerready && !yielded_global &&
        atomic_load_explicit(&sched.runqsize, memory_order_relaxed) > 0) {
        pp->globalcheck = false;
        gort__lock(&sched.lock);
        g = gort__globrunqget(pp, 1);
        gort__unlock(&sched.lock);
    }
    bool inherit = false;
    if (!g)
        g = gort__runqget_inherit(pp, &inherit);
    /* The global queue before the call out to findrunnable.c, whose first
     * look after the P's queue it is: a yield went there (a yield ping-
     * pong on one P finds its partner there every time: 1 ns of its 35
     * went to the call when findrunnable left this file). */
    if (!g && atomic_load_explicit(&sched.runqsize, memory_order_relaxed) > 0) {
        gort__lock(&sched.lock);
        g = gort__globrunqget(pp, 0);
        gort__unlock(&sched.lock);
    }
    if (!g)
        g = gort__findrunnable();
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
        gort__resetspinning();
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
        /* Go queues it globally, behind the goroutines waiting there, which
         * then run first after the start: so the first schedule after the
         * start looks there (a goroutine stopped at every stop would
         * otherwise keep them waiting until a 1-in-61 look, ~10 looks a
         * second when a thread stops the world every 1 ms: a stress hunt). */
        m->p->globalcheck = true;
    } else {
        gort__lock(&sched.lock);
        gort__globrunqput(g);
        gort__unlock(&sched.lock);
        m->p->yielded_global = true;
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
