/*
 * syscall.c — goroutines inside system calls and foreign calls (Go's
 * entersyscall / exitsyscall / handoffp / retake in proc.go): a goroutine
 * that blocks in the kernel, or runs long in code that calls no gort,
 * does not hold its P.
 *
 * Protocol.  entersyscall releases the P without giving it away: m->p and
 * pp->m are cleared, m->oldp remembers it, and its status becomes
 * P_SYSCALL.  From then on whoever moves the status away from P_SYSCALL
 * with a CAS owns the P:
 *   - the M itself, on return (exitsyscall's fast path: back to P_RUNNING,
 *     two atomic operations in all, no lock);
 *   - a call that surely blocks (a sleep, a wait, a contended lock), at
 *     once if work waits behind it; otherwise sysmon, once the P has been
 *     in the same call for RETAKE_NS and something could use it (gort__retake,
 *     Go's rule): both to P_IDLE, then gort__handoffp gives it to an M (it
 *     has work or timers), to the idle list, or to a stop in progress;
 *   - stop-the-world (P_STOPPED): it never waits for a goroutine in a call.
 * An M that loses the race takes any idle P (its old one first) or queues
 * its goroutine as runnable and parks (exitsyscall0 in proc.c).
 *
 * No preemption signal inside a call.  The signal's sender (preemptone)
 * marks m->signal_pending with a CAS and only then checks that the P is
 * still P_RUNNING under this M; entersyscall publishes P_SYSCALL with an
 * atomic exchange and only then reads signal_pending.  Both are full
 * barriers, so at least one side sees the other (a Dekker pair): either
 * the sender sees P_SYSCALL and sends nothing, or entersyscall sees the
 * signal coming and waits, in runtime code where the handler does nothing,
 * until it has arrived.  This replaces a guess from /proc and CPU time
 * that a thread "looked busy", which both delayed preemption (a 1 ms
 * window) and still let 1-2% of short sleeps fail with EINTR.
 *
 * Stop-the-world (stw.c) takes P_SYSCALL Ps itself; entersyscall, which
 * publishes P_SYSCALL before it reads sched.gcwaiting, stops its own P if
 * a stop began meanwhile (the same Dekker shape against the stopper's
 * store of gcwaiting and scan of the Ps).
 *
 * Ownership: m->oldp, m->syscall_depth, g->syscall* are the M's own;
 * pp->status moves only by the CASes above (and by its owner); stopwait and
 * the idle list are under sched.lock.
 *
 * Rejected: handing the P off at every call (a lock and a thread wake per
 * read(); Go keeps the P for short calls too); timing every call (a clock
 * read costs more than the whole fast path); intercepting the kernel with
 * seccomp or ptrace (a trap per call, and programs use both themselves).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <sched.h>
#include <signal.h>

/* A P in the same call this long, with something that could use it, is
 * retaken (Go: one sysmon tick, 20 us). */
#define RETAKE_NS 20000
/* ... and in any case after this long, so an idle P is not kept from the
 * idle list (Go: 10 ms). */
#define RETAKE_IDLE_NS 10000000

extern __thread M *gort__m_tls __attribute__((tls_model("initial-exec")));

extern char __start_gort_text[] __attribute__((weak, visibility("hidden")));
extern char __stop_gort_text[] __attribute__((weak, visibility("hidden")));

bool gort__pc_in_runtime(uintptr_t pc)
{
    /* In libgort.so these bound libgort.so's own code; in an executable
     * linked with libgort.a, the runtime's part of it (Makefile RENAME). */
    return pc >= (uintptr_t)__start_gort_text && pc < (uintptr_t)__stop_gort_text;
}

/* Something runnable waits behind a P whose goroutine enters a call. */
static inline bool p_has_work(P *pp, int64_t now)
{
    if (!gort__runqempty(pp))
        return true;
    if (atomic_load_explicit(&sched.runqsize, memory_order_relaxed) > 0 &&
        atomic_load_explicit(&sched.npidle, memory_order_relaxed) == 0)
        return true;
    int64_t tw = atomic_load_explicit(&pp->timer0_when, memory_order_relaxed);
    return tw && now && tw <= now + RETAKE_NS;
}

/* entersyscall saw a preemption signal on its way: wait, in runtime code
 * (where the handler does nothing but clear the mark), until it has been
 * delivered or its sender gave up.  A sender is between its CAS and its
 * tgsigqueueinfo, so this is microseconds unless the sender lost its CPU. */
static GORT_NOINLINE_COLD void wait_signal(M *m)
{
    for (int i = 0; atomic_load(&m->signal_pending); i++) {
        if (i < 2000) {
            __builtin_ia32_pause();
            continue;
        }
        /* Delivered but blocked by the program: it arrives when the
         * program unblocks SIGURG, not inside this call. */
        sigset_t s;
        if (sigpending(&s) == 0 && sigismember(&s, SIGURG))
            return;
        sched_yield();
    }
}

/* A stop-the-world began while this P was going into P_SYSCALL: stop it
 * here, as a running P would at its next schedule(). */
static GORT_NOINLINE_COLD void syscall_gcwait(P *pp)
{
    gort__lock(&sched.lock);
    uint32_t want = P_SYSCALL;
    if (atomic_load(&sched.gcwaiting) && sched.stopwait > 0 &&
        atomic_compare_exchange_strong(&pp->status, &want, P_STOPPED)) {
        if (--sched.stopwait == 0)
            gort__notewakeup(&sched.stopnote);
    }
    gort__unlock(&sched.lock);
}

static GORT_NOINLINE_COLD void handoff_now(P *pp)
{
    uint32_t want = P_SYSCALL;
    if (atomic_compare_exchange_strong(&pp->status, &want, P_IDLE))
        gort__handoffp(pp);
}

static inline bool enter(M *m, bool block, uintptr_t pc, uintptr_t fp)
{
    G *g = m->curg;
    if (m->locks || g->preempt_off)
        return false; /* holds a runtime lock / asked not to move: keep the P */
    /* Off its stack: a signal handler on an alternate stack, or a private
     * stack of the runtime's; parking there (exitsyscall's slow path)
     * would carry that stack to another thread. */
    if (fp < g->stack_lo || fp >= g->stack_hi)
        return false;
    if (m->syscall_depth > 0) {
        m->syscall_depth++;
        return true;
    }
    P *pp = m->p;
    g->syscallpc = pc;
    g->syscallfp = fp;
    atomic_store_explicit(&pp->nsyscall, atomic_load_explicit(&pp->nsyscall, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&pp->syscalltick,
                          atomic_load_explicit(&pp->syscalltick, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    m->syscall_depth = 1;
    atomic_store_explicit(&g->status, G_SYSCALL, memory_order_relaxed);
    m->oldp = pp;
    m->p = NULL;
    __atomic_store_n(&pp->m, NULL, __ATOMIC_RELAXED);
    /* Publish, then look: see the Dekker pairs in the header comment. */
    atomic_exchange(&pp->status, P_SYSCALL);
    if (unlikely(atomic_load(&m->signal_pending)))
        wait_signal(m);
    if (unlikely(atomic_load(&sched.gcwaiting)))
        syscall_gcwait(pp);
    if (block) {
        if (p_has_work(pp, gort_nanotime()))
            handoff_now(pp);
    } else if (unlikely(atomic_load(&sched.sysmonwait) != SYSMON_POLL) &&
               p_has_work(pp, 0)) {
        /* sysmon sleeps longer than the retake bound: the work behind
         * this call would wait for it. */
        gort__sysmon_nudge();
    }
    return true;
}

bool gort__entersyscall(bool block)
{
    M *m = gort__m_tls;
    if (!m || !m->curg)
        return false;
    return enter(m, block, (uintptr_t)__builtin_return_address(0),
                 (uintptr_t)__builtin_frame_address(0));
}

bool gort__entersyscall_from(uintptr_t ra, bool block)
{
    M *m = gort__m_tls;
    if (!m || !m->curg || gort__pc_in_runtime(ra))
        return false;
    return enter(m, block, ra, (uintptr_t)__builtin_frame_address(0));
}

/* Lost the P (retaken, stopped): take another, or wait as runnable. */
static GORT_NOINLINE_COLD void exitsyscall_slow(M *m, G *g, P *oldp)
{
    if (!atomic_load(&sched.gcwaiting) && !atomic_load(&sched.exiting) &&
        atomic_load_explicit(&sched.npidle, memory_order_relaxed) > 0) {
        gort__lock(&sched.lock);
        P *pp = atomic_load(&sched.gcwaiting) ? NULL : gort__pidleget_pref(oldp);
        gort__unlock(&sched.lock);
        if (pp) {
            gort__acquirep(pp);
            atomic_store_explicit((_Atomic uint32_t *)&pp->schedtick, pp->schedtick + 1,
                                  memory_order_relaxed);
            atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
            return;
        }
    }
    (void)m;
    gort__exitsyscall_park(); /* proc.c: returns running again, with a P */
}

void gort__exitsyscall(void)
{
    M *m = gort__m_tls;
    if (--m->syscall_depth > 0)
        return;
    G *g = m->curg;
    P *pp = m->oldp;
    m->oldp = NULL;
    uint32_t want = P_SYSCALL;
    if (likely(atomic_compare_exchange_strong(&pp->status, &want, P_RUNNING))) {
        m->p = pp;
        __atomic_store_n(&pp->m, m, __ATOMIC_RELEASE);
        /* A new slice for sysmon: time in the kernel is not CPU hogged. */
        atomic_store_explicit((_Atomic uint32_t *)&pp->schedtick, pp->schedtick + 1,
                              memory_order_relaxed);
        atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
        return;
    }
    exitsyscall_slow(m, g, pp);
}

int32_t gort__syscall_suspend(void)
{
    M *m = gort__m_tls;
    int32_t d = m->syscall_depth;
    if (d <= 0)
        return 0;
    m->syscall_depth = 1;
    gort__exitsyscall();
    return d;
}

void gort__syscall_resume(int32_t depth)
{
    /* Possibly another M than the one that suspended. */
    if (depth > 0 && gort__entersyscall(false))
        gort__m_tls->syscall_depth = depth;
}

/* ---------------------------------------------------------------------
 * Hand-off and retake
 * ------------------------------------------------------------------- */

void gort__handoffp(P *pp)
{
    /* Work of its own, or queued globally: an M runs it on this P. */
    if (!gort__runqempty(pp) || atomic_load(&sched.runqsize) > 0 ||
        atomic_load(&pp->timer0_when) != 0) {
        atomic_fetch_add_explicit(&sched.nhandoff, 1, memory_order_relaxed);
        gort__startm(pp, false);
        return;
    }
    /* Nobody is looking for work: be the one (Go's handoffp does too), so
     * work readied from outside is not stranded. */
    int32_t z = 0;
    if (atomic_load(&sched.nmspinning) + atomic_load(&sched.npidle) == 0 &&
        !atomic_load(&sched.gcwaiting) &&
        atomic_compare_exchange_strong(&sched.nmspinning, &z, 1)) {
        atomic_fetch_add_explicit(&sched.nhandoff, 1, memory_order_relaxed);
        gort__startm(pp, true);
        return;
    }
    gort__lock(&sched.lock);
    if (atomic_load(&sched.gcwaiting)) {
        atomic_store(&pp->status, P_STOPPED);
        if (--sched.stopwait == 0)
            gort__notewakeup(&sched.stopnote);
    } else {
        gort__pidleput(pp);
    }
    gort__unlock(&sched.lock);
}

int64_t gort__retake(int64_t now)
{
    int64_t next = 0;
#define WANT(t) do { int64_t t_ = (t); if (!next || t_ < next) next = t_; } while (0)
    for (int32_t i = 0; i < sched.gomaxprocs; i++) {
        P *pp = sched.allp[i];
        if (atomic_load_explicit(&pp->status, memory_order_acquire) != P_SYSCALL)
            continue;
        uint32_t t = atomic_load_explicit(&pp->syscalltick, memory_order_relaxed);
        if (t != pp->sysmon_syscalltick) {
            pp->sysmon_syscalltick = t;
            pp->sysmon_syscallwhen = now;
            WANT(now + RETAKE_NS);
            continue;
        }
        int64_t since = pp->sysmon_syscallwhen;
        if (now - since < RETAKE_NS) {
            WANT(since + RETAKE_NS);
            continue;
        }
        int64_t tw = atomic_load_explicit(&pp->timer0_when, memory_order_relaxed);
        bool work = !gort__runqempty(pp) || (tw && tw <= now);
        bool spare = atomic_load(&sched.npidle) + atomic_load(&sched.nmspinning) > 0;
        if (!work && spare && now - since < RETAKE_IDLE_NS) {
            WANT(since + RETAKE_IDLE_NS);
            if (tw)
                WANT(tw);
            continue;
        }
        uint32_t want = P_SYSCALL;
        if (atomic_compare_exchange_strong(&pp->status, &want, P_IDLE))
            gort__handoffp(pp);
    }
#undef WANT
    return next;
}

/* ---------------------------------------------------------------------
 * Public bracket
 * ------------------------------------------------------------------- */

void gort_syscall_enter(void)
{
    M *m = gort__m_tls;
    if (!m || !m->curg)
        return;
    enter(m, false, (uintptr_t)__builtin_return_address(0), (uintptr_t)__builtin_frame_address(0));
}

void gort_syscall_exit(void)
{
    M *m = gort__m_tls;
    if (!m || !m->curg || m->syscall_depth <= 0)
        return; /* not a goroutine, or enter did nothing (preempt_disable) */
    int e = errno;
    gort__exitsyscall();
    errno = e;
}

void *gort_blocking(void *(*fn)(void *), void *arg)
{
    M *m = gort__m_tls;
    bool in = m && m->curg &&
              enter(m, false, (uintptr_t)__builtin_return_address(0),
                    (uintptr_t)__builtin_frame_address(0));
    void *r = fn(arg);
    if (in) {
        int e = errno;
        gort__exitsyscall();
        errno = e;
    }
    return r;
}
