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
 * still P_RUNNING under this M; entersyscall publishes P_SYSCALL and only
 * then reads signal_pending.  That is a Dekker pair: with a full barrier
 * on both sides, at least one sees the other's store, so either the sender
 * sees P_SYSCALL and sends nothing, or entersyscall sees the signal coming
 * and waits, in runtime code where the handler does nothing, until it has
 * arrived.  entersyscall's barrier is the exchange that publishes
 * P_SYSCALL (a full fence on x86; a nested bracket fences after raising
 * its depth), the sender's its CAS and a fence (gort__syscall_barrier;
 * stop-the-world's, its store of gcwaiting and the same fence).
 * GORTDEBUG=membarrier=1 makes the pair asymmetric instead: entersyscall
 * publishes with a plain store, and the rare side -- a preemption request,
 * a stop-the-world, a reclaim -- runs membarrier(PRIVATE_EXPEDITED)
 * (gort__syscall_barrier) instead of the fence, which makes every running
 * thread of the process execute a full barrier.  Which is cheaper
 * depends on the machine, so the default is the one whose cost is
 * bounded: on an Intel Xeon host the exchange cost ~10 ns of a bracket
 * and membarrier ~5 us; on an AMD EPYC VM the exchange costs ~6 ns
 * (bracket 10 -> 16 ns) but membarrier 21 us at the median, 39 us at p99
 * (an IPI to every CPU running our threads), which doubled every preemption's request-to-stop (~50 us against 24 us
 * for the signal alone) and every stop of the world.  Where membarrier is
 * missing (old kernels, valgrind) the option does nothing.  This replaces
 * a guess from /proc and CPU time that a thread "looked busy", which both
 * delayed preemption (a 1 ms window) and still let 1-2% of short sleeps
 * fail with EINTR.
 *
 * Stop-the-world (stw.c) takes P_SYSCALL Ps itself; entersyscall, which
 * publishes P_SYSCALL before it reads sched.gcwaiting, stops its own P if
 * a stop began meanwhile (the same Dekker shape against the stopper's
 * store of gcwaiting, barrier, and scan of the Ps).  sysmon's nap has the
 * same shape without the barrier (one per nap would interrupt every
 * running goroutine hundreds of times a second): a nudge lost in that
 * window of a few nanoseconds delays a retake to sysmon's next poll.
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

#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A P in the same call this long, with something that could use it, is
 * retaken (Go: one sysmon tick, 20 us). */
#define RETAKE_NS 20000
/* ... and in any case after this long, so an idle P is not kept from the
 * idle list (Go: 10 ms). */
#define RETAKE_IDLE_NS 10000000

extern char __start_gort_text[] __attribute__((weak, visibility("hidden")));
extern char __stop_gort_text[] __attribute__((weak, visibility("hidden")));

bool gort__pc_in_runtime(uintptr_t pc)
{
    /* In libgort.so these bound libgort.so's own code; in an executable
     * linked with libgort.a, the runtime's part of it (Makefile RENAME). */
    return pc >= (uintptr_t)__start_gort_text && pc < (uintptr_t)__stop_gort_text;
}

/* GORTDEBUG=membarrier=1 and membarrier registered: entersyscall
 * publishes with a plain store, and the other side runs membarrier. */
static bool barrier_ok;

void gort__syscall_init(void)
{
    barrier_ok = gort__cfg.membarrier &&
                 syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

void gort__syscall_barrier(void)
{
    if (!barrier_ok || syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        atomic_thread_fence(memory_order_seq_cst); /* entersyscall exchanges then */
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

static void exitsyscall_slow1(M *m, G *g, P *oldp);

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
 * here, as a running P would at its next schedule().  Also from the
 * preemption handler (syscall_foreign.c): the interrupted code holds no
 * runtime lock, so taking sched.lock there cannot deadlock. */
GORT_NOINLINE_COLD void gort__syscall_gcwait(P *pp)
{
    gort__lock(&sched.lock);
    if (atomic_load(&sched.gcwaiting) && sched.stopwait > 0)
        gort__stop_syscall_p(pp);
    gort__unlock(&sched.lock);
}

GORT_NOINLINE_COLD void gort__syscall_handoff(P *pp, int how)
{
    uint32_t want = P_SYSCALL;
    if (atomic_compare_exchange_strong(&pp->status, &want, P_IDLE))
        gort__handoffp(pp, how);
}

/* The goroutine's M lets go of its P (everything but publishing
 * P_SYSCALL): pc, fp say where the goroutine made the call. */
static inline uint64_t release_p(M *m, G *g, P *pp, uintptr_t pc, uintptr_t fp)
{
    g->syscallpc = pc;
    g->syscallfp = fp;
    uint64_t tick = atomic_load_explicit(&pp->syscalltick, memory_order_relaxed) + 1;
    atomic_store_explicit(&pp->syscalltick, tick, memory_order_relaxed);
    m->syscall_depth = 1;
    atomic_store_explicit(&g->status, G_SYSCALL, memory_order_relaxed);
    m->oldp = pp;
    m->p = NULL;
    __atomic_store_n(&pp->m, NULL, __ATOMIC_RELAXED);
    return tick;
}

void gort__syscall_release(M *m, uintptr_t pc, uintptr_t fp)
{
    P *pp = m->p;
    release_p(m, m->curg, pp, pc, fp);
    atomic_store(&pp->status, P_SYSCALL);
    if (atomic_load(&sched.gcwaiting))
        gort__syscall_gcwait(pp);
}

/* A call made while P-less after foreign code (syscall_foreign.c): count
 * it, and if it comes from the goroutine's own code with no foreign frame
 * under that (the foreign call has returned), let its end take a P back.
 * A goroutine that is mostly inside wrapped calls, such as a server
 * blocked in read(), is almost never at depth 1 when a reclaim signal
 * could go, and would otherwise run beside GORTMAXPROCS goroutines. */
static GORT_NOINLINE_COLD void implicit_call(M *m, G *g, uintptr_t pc, uintptr_t fp, uintptr_t sp)
{
    atomic_store_explicit(&m->nsyscall_pless,
                          atomic_load_explicit(&m->nsyscall_pless, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    m->reclaim_on_exit = gort__pc_code(pc) == GORT_PR_SAFE && !gort__foreign_caller(sp, fp, g);
}

/* pc: the return address into the goroutine's code that made the call,
 * fp: that code's frame pointer (for tracebacks); sp: where we are now. */
static inline bool enter(M *m, int block, uintptr_t pc, uintptr_t fp, uintptr_t sp)
{
    G *g = m->curg;
    /* A vfork child's calls are its own: a bracket would be the parent's
     * (fork_linux.c).  Every bracket, wrapped or public, comes here. */
    if (gort__in_vfork_child())
        return false;
    if (m->locks || g->preempt_off)
        return false; /* holds a runtime lock / asked not to move: keep the P */
    /* Off its stack: a signal handler on an alternate stack, or a private
     * stack of the runtime's; parking there (exitsyscall's slow path)
     * would carry that stack to another thread. */
    if (sp < g->stack_lo || sp >= g->stack_hi)
        return false;
    if (m->syscall_depth > 0) {
        /* Nested, or P-less after foreign code (syscall_foreign.c), where
         * a reclaim signal may be on its way: the same Dekker pair. */
        if (m->syscall_depth++ == 1 &&
            atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed))
            implicit_call(m, g, pc, fp, sp);
        if (likely(!barrier_ok))
            atomic_thread_fence(memory_order_seq_cst);
        else
            atomic_signal_fence(memory_order_seq_cst);
        if (unlikely(atomic_load_explicit(&m->signal_pending, memory_order_relaxed)))
            wait_signal(m);
        return true;
    }
    P *pp = m->p;
    /* No P at depth 0: this goroutine's own exitsyscall, between the
     * depth going to 0 and a P coming back, interrupted by something
     * that makes a wrapped call on its stack (a signal handler that
     * escaped the alternate stack: installed by a raw rt_sigaction
     * without SA_ONSTACK, interpose_signal.c).  Run the call unbracketed,
     * as from runtime code: there is no P to release. */
    if (unlikely(!pp))
        return false;
    /* Ops queued for the P's next io_uring_enter go now: no P is let go
     * with a batch its goroutines wait on (iobatch_linux.c). */
    gort__iobatch_flush_queued(pp);
    uint64_t tick = release_p(m, g, pp, pc, fp);
    /* Publish, then look: see the Dekker pairs in the header comment. */
    if (likely(!barrier_ok))
        atomic_exchange(&pp->status, P_SYSCALL);
    else
        atomic_store_explicit(&pp->status, P_SYSCALL, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);
    if (unlikely(atomic_load_explicit(&m->signal_pending, memory_order_relaxed)))
        wait_signal(m);
    if (unlikely(atomic_load_explicit(&sched.gcwaiting, memory_order_relaxed)))
        gort__syscall_gcwait(pp);
    if (block) {
        if (p_has_work(pp, gort__nanotime()))
            gort__syscall_handoff(pp, block == GORT_CALL_SLEEPS ? GORT_WAKE_HERE : GORT_WAKE_ANY);
    } else if (unlikely(atomic_load_explicit(&sched.sysmonwait, memory_order_relaxed) != SYSMON_POLL) &&
               p_has_work(pp, 0)) {
        /* sysmon sleeps longer than the retake bound: the work behind
         * this call would wait for it.  It is told when the call began:
         * a sleeping thread gets a CPU 5-40 us after its wakeup on the
         * AMD EPYC VM, and counting the bound from then retook the P of a
         * blocking pipe read() 63 us after the call at the median. */
        atomic_store_explicit(&pp->nudge, (uint64_t)gort__nanotime() << 16 | (tick & 0xffff),
                              memory_order_relaxed);
        gort__sysmon_nudge();
    }
    return true;
}

bool gort__entersyscall(int block)
{
    M *m = gort__m_tls;
    if (!m || !m->curg)
        return false;
    uintptr_t *fp = __builtin_frame_address(0);
    return enter(m, block, (uintptr_t)__builtin_return_address(0), fp[0], (uintptr_t)fp);
}

/* The wrapper was called from a sanitizer's runtime (sanitizer_linux.c)
 * while an ASan report is being printed: the report's own call (reading
 * debug information, with the runtime's thread registry locked), which
 * holds the P as the runtime's own calls do.  Otherwise a call from the
 * runtime is one of its interceptors passing the program's call on (with
 * libgort.so, every call the sanitizer also intercepts comes that way:
 * the program's read() reaches __interceptor_read, whose "real" read is
 * ours) and is bracketed as the program's.  Rejected: telling the two by
 * the frame above the caller (gcc's libasan keeps no frame pointers in
 * the code that reads debug information: its reports hung 10-15 times in
 * 20 again); by the interceptors' symbols (gcc splits them into
 * .part.0 functions that the stripped library does not name). */
extern int __asan_report_present(void) __attribute__((weak));

static bool sanitizer_own_call(uintptr_t ra)
{
    return gort__pc_in_sanitizer(ra) && __asan_report_present && __asan_report_present();
}

bool gort__entersyscall_from(uintptr_t ra, int block)
{
    M *m = gort__m_tls;
    /* The runtime's own calls, GORT_NOSPLIT functions' (which hold
     * their P to the end) and an ASan report's (above): no bracket.  But a function that tail-calls
     * the wrapper leaves the return address of what called it, which may
     * be a runtime frame under the program's code: the goroutine
     * trampoline's (`void g(void *a) { sleep(1); }` is `jmp sleep` at
     * -O2), or in split-stack mode __morestack_non_split's, under every
     * body of a function whose prologue the linker rewrote.  That call is
     * the program's.  Refused, it held its P blocked, and sysmon's signal
     * cut the sleep short (an adversarial hunt: sleep(1) back after
     * ~10 ms, 20 of 20 at one P). */
    if (!m || !m->curg || gort__pc_in_nosplit(ra) ||
        (gort__pc_in_runtime(ra) && !gort__ra_frame_only(ra)) || sanitizer_own_call(ra))
        return false;
    /* Our caller is the wrapper (runtime code, with a frame pointer); its
     * caller's frame is the one to show. */
    uintptr_t *fp = __builtin_frame_address(0);
    return enter(m, block, ra, *(uintptr_t *)fp[0], (uintptr_t)fp);
}

/* Lost the P (retaken, stopped): take another, or wait as runnable.  The
 * fast path touches no errno; this one may (futex, thread creation), and
 * the caller's errno belongs to the call it just made. */
/* &errno of the calling thread, opaque to the compiler: glibc declares
 * __errno_location const, so two `errno`s in one function may share one
 * address even across a switch to another thread. */
static __attribute__((noinline)) int *errno_here(void)
{
    int *p = &errno;
    __asm__ volatile("" : "+r"(p));
    return p;
}

static GORT_NOINLINE_COLD void exitsyscall_slow(M *m, G *g, P *oldp)
{
    int e = *errno_here();
    exitsyscall_slow1(m, g, oldp);
    *errno_here() = e; /* possibly another thread's now */
}

/* No P idle: take one whose goroutine is itself inside a call, as sysmon
 * would after its bound (that goroutine takes a P again on return, as this
 * one does).  Without this, a goroutine back from a call waits for the
 * retake while every P sits under a blocked read: a server with one
 * goroutine per connection served at half a thread server's rate.  Owner
 * of the P once the CAS succeeds; a stop that began meanwhile gets it. */
static P *take_syscall_p(P *prefer)
{
    int32_t n = sched.gomaxprocs;
    uint32_t start = prefer ? (uint32_t)prefer->id : gort__fastrandn((uint32_t)n);
    for (int32_t i = 0; i < n; i++) {
        P *pp = sched.allp[(start + (uint32_t)i) % (uint32_t)n];
        uint32_t want = P_SYSCALL;
        if (atomic_load_explicit(&pp->status, memory_order_relaxed) != P_SYSCALL ||
            !atomic_compare_exchange_strong(&pp->status, &want, P_IDLE))
            continue;
        gort__lock(&sched.lock);
        if (atomic_load(&sched.gcwaiting) || atomic_load(&sched.exiting)) {
            /* A stop's, or idle where the exit's stop collects it. */
            gort__pidleput_or_stop(pp);
            gort__unlock(&sched.lock);
            return NULL;
        }
        gort__unlock(&sched.lock);
        atomic_fetch_add_explicit(&sched.nhandoff, 1, memory_order_relaxed);
        return pp;
    }
    return NULL;
}

static void exitsyscall_slow1(M *m, G *g, P *oldp)
{
    P *pp = NULL;
    if (!atomic_load(&sched.gcwaiting) && !atomic_load(&sched.exiting)) {
        if (atomic_load_explicit(&sched.npidle, memory_order_relaxed) > 0) {
            gort__lock(&sched.lock);
            pp = atomic_load(&sched.gcwaiting) ? NULL : gort__pidleget_pref(oldp);
            gort__unlock(&sched.lock);
        }
        if (!pp)
            pp = take_syscall_p(oldp);
    }
    if (pp) {
        gort__acquirep(pp);
        atomic_store_explicit((_Atomic uint32_t *)&pp->schedtick, pp->schedtick + 1,
                              memory_order_relaxed);
        pp->slicespawn = 0; /* a new slice here too (execute_slice's) */
        atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
        return;
    }
    (void)m;
    gort__exitsyscall_park(); /* proc.c: returns running again, with a P */
}

/* The fast way back: the P released on entry is still P_SYSCALL. */
bool gort__syscall_retake(M *m, P *pp)
{
    uint32_t want = P_SYSCALL;
    if (!atomic_compare_exchange_strong(&pp->status, &want, P_RUNNING))
        return false;
    m->p = pp;
    __atomic_store_n(&pp->m, m, __ATOMIC_RELEASE);
    gort__rwbias_setp(pp->id);
    return true;
}

static inline bool take_oldp(M *m, P *pp)
{
    if (!gort__syscall_retake(m, pp))
        return false;
    /* The same slice goes on, as in Go (whose exitsyscall leaves
     * schedtick alone): a call short enough to come back to its own P
     * was part of the goroutine's run.  Starting a new slice here made a
     * goroutine that brackets a call every few microseconds unpreemptible:
     * two such goroutines sleeping briefly handed the P to each other
     * through runnext for good while the global queue (ponger, a hog,
     * 1500 new goroutines) waited 60 s (test_syscall_park, once the
     * gort_go back-pressure no longer yielded for them).  A long call is
     * not charged either way: past the retake bound with work waiting,
     * the P is handed on and the return comes through the slow path. */
    atomic_store_explicit(&m->curg->status, G_RUNNING, memory_order_relaxed);
    return true;
}

void gort__exitsyscall(void)
{
    M *m = gort__m_tls;
    if (--m->syscall_depth > 0) {
        if (likely(!m->reclaim_on_exit) || m->syscall_depth != 1 ||
            !atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed))
            return;
        /* Straight from 2 to 0: a reclaim signal only goes at depth 1. */
        m->reclaim_on_exit = false;
        m->syscall_depth = 0;
    }
    if (unlikely(atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed))) {
        atomic_store_explicit(&m->syscall_implicit, false, memory_order_relaxed);
        m->reclaim_on_exit = false;
    }
    P *pp = m->oldp;
    m->oldp = NULL;
    if (likely(take_oldp(m, pp)))
        return;
    exitsyscall_slow(m, m->curg, pp);
}

bool gort__syscall_tryexit(M *m)
{
    if (!take_oldp(m, m->oldp))
        return false;
    gort__syscall_abandon(m);
    return true;
}

P *gort__syscall_abandon(M *m)
{
    P *pp = m->oldp;
    m->oldp = NULL;
    m->syscall_depth = 0;
    m->reclaim_on_exit = false;
    atomic_store_explicit(&m->syscall_implicit, false, memory_order_relaxed);
    return pp;
}

int32_t gort__syscall_suspend(void)
{
    M *m = gort__m_tls;
    int32_t d = m->syscall_depth;
    if (d <= 0)
        return 0;
    /* P-less after foreign code: that level is not re-entered afterwards,
     * the brackets opened since are. */
    if (atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed))
        d--;
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

void gort__handoffp(P *pp, int how)
{
    /* Work of its own, or queued globally: an M runs it on this P. */
    if (!gort__runqempty(pp) || atomic_load(&sched.runqsize) > 0 ||
        atomic_load(&pp->timer0_when) != 0) {
        atomic_fetch_add_explicit(&sched.nhandoff, 1, memory_order_relaxed);
        gort__startm(pp, false, how);
        return;
    }
    /* Nobody is looking for work: be the one (Go's handoffp does too), so
     * work readied from outside is not stranded. */
    int32_t z = 0;
    if (atomic_load(&sched.nmspinning) + atomic_load(&sched.npidle) == 0 &&
        !atomic_load(&sched.gcwaiting) &&
        atomic_compare_exchange_strong(&sched.nmspinning, &z, 1)) {
        atomic_fetch_add_explicit(&sched.nhandoff, 1, memory_order_relaxed);
        gort__startm(pp, true, how);
        return;
    }
    /* The global queue again, under the lock that queues to it: a
     * goroutine back from a call (exitsyscall0) may have found no idle P
     * and queued itself after the look above, and this P idle with it
     * queued would wait for whoever looks next -- nobody, with every
     * other P idle or blocked in a call (test_pthread_lock once hung so
     * under ASan on a loaded CI machine: a goroutine holding the mutex
     * runnable on the global queue, three blocked on it, every P idle).
     * Go's handoffp looks again here too. */
    gort__lock(&sched.lock);
    if (!atomic_load(&sched.gcwaiting) && atomic_load(&sched.runqsize) > 0) {
        gort__unlock(&sched.lock);
        atomic_fetch_add_explicit(&sched.nhandoff, 1, memory_order_relaxed);
        gort__startm(pp, false, how);
        return;
    }
    gort__pidleput_or_stop(pp);
    /* A timer armed on this P after the look at the top (a plain thread
     * arms on allp[0], which may be the P being handed off) found no idle
     * P to wake: its gort__timerwake ran before the pidleput above.  Look
     * at the P's timers again now that it is published idle; the fence
     * pairs with the one in gort__addtimer (store timer0_when, fence, load
     * npidle there; store npidle, fence, load timer0_when here), so one of
     * the two sees the other and someone sleeps for the timer.  Go's
     * handoffp wakes the poller for the P's timers the same way. */
    atomic_thread_fence(memory_order_seq_cst);
    int64_t when = atomic_load_explicit(&pp->timer0_when, memory_order_relaxed);
    bool idle = atomic_load_explicit(&pp->status, memory_order_relaxed) == P_IDLE;
    gort__unlock(&sched.lock);
    if (when != 0 && idle)
        gort__timerwake(when);
}

int64_t gort__retake(int64_t now, int64_t early)
{
    /* sysmon asks to be woken `early` and takes a P whose call is that
     * close to the bound: a timed sleep of sysmon's ends ~20 us late on
     * the AMD EPYC VM (the guest's timer interrupt), which made every
     * retake 40 us after the call's start instead of 20.  At most half
     * the bound: a call shorter than 10 us never loses its P. */
    if (early > RETAKE_NS / 2)
        early = RETAKE_NS / 2;
    const int64_t bound = RETAKE_NS - early;
    int64_t next = 0;
#define WANT(t) do { int64_t t_ = (t); if (!next || t_ < next) next = t_; } while (0)
    for (int32_t i = 0; i < sched.gomaxprocs; i++) {
        P *pp = sched.allp[i];
        if (atomic_load_explicit(&pp->status, memory_order_acquire) != P_SYSCALL)
            continue;
        uint64_t t = atomic_load_explicit(&pp->syscalltick, memory_order_relaxed);
        if (t != pp->sysmon_syscalltick) {
            pp->sysmon_syscalltick = t;
            /* The call's start, if its M noted it (and not long ago: a
             * note 65536 calls old could carry the same tick bits). */
            int64_t at = now;
            uint64_t v = atomic_load_explicit(&pp->nudge, memory_order_relaxed);
            if ((v & 0xffff) == (t & 0xffff)) {
                uint64_t ago = ((uint64_t)now - (v >> 16)) & ((UINT64_C(1) << 48) - 1);
                if (ago < RETAKE_IDLE_NS)
                    at = now - (int64_t)ago;
            }
            pp->sysmon_syscallwhen = at;
        }
        int64_t since = pp->sysmon_syscallwhen;
        if (now - since < bound) {
            WANT(since + bound);
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
        gort__syscall_handoff(pp, GORT_WAKE_ANY); /* sysmon naps next, mostly */
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
    uintptr_t *fp = __builtin_frame_address(0);
    enter(m, false, (uintptr_t)__builtin_return_address(0), fp[0], (uintptr_t)fp);
}

void gort_syscall_exit(void)
{
    M *m = gort__m_tls;
    /* Not a goroutine, or enter did nothing (preempt_disable); or a vfork
     * child, whose enter did nothing but sees the parent's depth. */
    if (!m || !m->curg || m->syscall_depth <= 0 || gort__in_vfork_child())
        return;
    gort__exitsyscall();
}

void *gort_blocking(void *(*fn)(void *), void *arg)
{
    M *m = gort__m_tls;
    uintptr_t *fp = __builtin_frame_address(0);
    bool in = m && m->curg &&
              enter(m, false, (uintptr_t)__builtin_return_address(0), fp[0], (uintptr_t)fp);
    void *r = fn(arg);
    if (in)
        gort__exitsyscall();
    return r;
}
