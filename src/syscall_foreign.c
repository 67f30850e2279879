/*
 * syscall_foreign.c — goroutines that run long in foreign code (libc, a
 * third-party library: code that calls no gort and cannot be preempted)
 * release their P without having said so, the way cgo calls do in Go.
 *
 * Entry.  sysmon asks for the P of a goroutine past its slice (or with a
 * timer due) as always; if the preemption signal lands in foreign code,
 * where the goroutine cannot be stopped, the handler enters the system-
 * call state for it instead (m->syscall_implicit): the P becomes P_SYSCALL
 * and sysmon's retake hands it and its run queue and timers to another
 * thread after the usual bound.  The goroutine itself is not moved: it
 * keeps its thread, its stack and whatever libc holds for it (malloc's
 * lock, stdio's), so nothing thread-bound changes.
 *
 * Only where no runtime code is under the foreign code: the runtime calls
 * libc too (memcpy, clock_gettime, calloc...), and taking its P there would
 * pull the P from under a runtime function that holds it.  The handler
 * scans the goroutine's live stack (sp up to the entry frame) for any word
 * pointing into the runtime's code; a hit refuses.  A stale word can only
 * refuse too, never accept: the scan errs on the side of keeping the P.
 *
 * Exit.  The goroutine runs on P-less until (a) it parks or yields (gopark
 * leaves the state first), returns, or ends a bracket, or (b) a reclaim
 * signal (sysmon, every sysmon period; stop-the-world; the exit) finds it
 * back in its own preemptible code: the handler injects the preemption
 * trampoline, whose C part takes a P back (exitsyscall, maybe waiting as
 * runnable), or (c) it makes a wrapped call from its own code with no
 * foreign frame under it: the call's end takes the P back (syscall.c
 * implicit_call), or (d) it calls gort_preempt_disable from its own code
 * (preempt.c), whose section would otherwise refuse (b) for as long as it
 * lasts, or (e) in split-stack mode, it makes a checked call in its own
 * code: entry and every reclaim round poison the thread's guard word, and
 * the prologue takes the P back (morestack.c), with no signal and no
 * sysmon period to wait.  Between its return from foreign code and that
 * the goroutine runs its own code without a P, for at most a sysmon
 * period (50 us during a stop-the-world), or until its first checked call
 * in split-stack mode; this is the one place a goroutine runs beside a
 * stopped world, and the closing note of the design says so.
 *
 * No EINTR: a reclaim signal goes only to an M at depth 1 (not inside a
 * wrapped call), with the same Dekker pair as preemptone: the sender
 * marks signal_pending, runs the barrier, then checks depth; a wrapper
 * entered in this state bumps the depth and then waits for a marked
 * signal (syscall.c).
 *
 * Rejected: hijacking the return address of the foreign call (finding it
 * needs frame pointers libc does not keep); wrapping memset and friends
 * (an extra indirect call on the hottest functions of every program).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "valgrind_hooks.h"

/* Any word of g's live stack, [sp, stack_hi), pointing into the runtime's
 * code, other than the entry trampoline's return address, which is under
 * every goroutine's frames, and split-stack mode's __morestack_non_split
 * return address, which is under every function body it calls (only a
 * frame, no runtime state), or into a GORT_NOSPLIT function (which holds
 * its P to the end, as documented)? */
__attribute__((no_sanitize_address)) static bool runtime_frames(G *g, uintptr_t sp)
{
    if (sp < g->stack_lo || sp >= g->stack_hi)
        return true;
    /* Live frames hold words nobody wrote (padding, locals not yet set):
     * comparing them is fine here, but valgrind would report each one as
     * the program's uninitialised read (ex10 saw it under httpd). */
    VALGRIND_DISABLE_ERROR_REPORTING;
    bool found = false;
    for (const uintptr_t *w = (const uintptr_t *)(sp & ~(uintptr_t)7);
         (uintptr_t)w < g->stack_hi && !found; w++)
        found = (gort__pc_in_runtime(*w) && !gort__ra_frame_only(*w)) || gort__pc_in_nosplit(*w);
    VALGRIND_ENABLE_ERROR_REPORTING;
    VALGRIND_MAKE_MEM_DEFINED(&found, sizeof found); /* the answer is */
    return found;
}

bool gort__foreign_enter(M *m, void *ctx)
{
    ucontext_t *uc = ctx;
    greg_t *gr = uc->uc_mcontext.gregs;
    uintptr_t pc = (uintptr_t)gr[REG_RIP], sp = (uintptr_t)gr[REG_RSP];
    G *g = m->curg;
    P *pp = m->p;
    /* A goroutine running with its P, no runtime lock, no
     * gort_preempt_disable, pc in foreign code or blocked in a system call
     * no wrapper announced, and nothing of the runtime's or of a
     * GORT_NOSPLIT function under it. */
    if (!g || !pp || m->syscall_depth != 0 || !gort__cfg.foreigncalls || m->locks > 0 ||
        g->preempt_off > 0 || gort__pc_in_runtime(pc) || gort__pc_in_nosplit(pc) ||
        gort__ctx_masks_more(m, uc) || runtime_frames(g, sp))
        return false;
    atomic_store_explicit(&m->syscall_implicit, true, memory_order_relaxed);
    /* As entersyscall: a stop in progress takes the P now; sysmon, if it
     * naps, comes to retake it.  Both are async-signal-safe here: the
     * interrupted code is foreign and holds no runtime lock. */
    gort__syscall_release(m, pc, (uintptr_t)gr[REG_RBP]);
    if (atomic_load(&sched.sysmonwait) != SYSMON_POLL)
        gort__sysmon_nudge();
    /* Split-stack mode: exit (e) of the header comment, armed before the
     * goroutine can return from the foreign code. */
    gort__poison_guard(m);
    return true;
}

int gort__foreign_reclaim_code(M *m, void *ctx)
{
    ucontext_t *uc = ctx;
    greg_t *gr = uc->uc_mcontext.gregs;
    uintptr_t pc = (uintptr_t)gr[REG_RIP], sp = (uintptr_t)gr[REG_RSP];
    G *g = m->curg;
    if (!g || m->syscall_depth != 1)
        return GORT_PR_NO_G; /* inside a wrapped call: leave it be */
    if (m->locks > 0)
        return GORT_PR_LOCKS;
    int why = gort__preempt_unsafe_code(pc, sp, NULL, g);
    if (why == GORT_PR_SAFE && gort__ctx_masks_more(m, uc))
        why = GORT_PR_SIGMASK;
    if (why == GORT_PR_SAFE && gort__foreign_caller(sp, (uintptr_t)gr[REG_RBP], g))
        why = GORT_PR_CALLBACK;
    return why;
}

void gort__foreign_exit(void)
{
    M *m = gort__m_tls;
    m->syscall_depth = 1;
    gort__exitsyscall(); /* clears syscall_implicit at depth 0 */
}

bool gort__foreign_signal(M *m)
{
    if (!atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed) ||
        __atomic_load_n(&m->syscall_depth, __ATOMIC_RELAXED) != 1 || m->tid <= 0)
        return false;
    /* Again, in case a checked call that could not take the P put the
     * guard back (a callback from the foreign code: exit (e)), or an
     * alloca did (morestack.c gort__morestack_vla). */
    gort__poison_guard(m);
    uint32_t zero = 0;
    if (!atomic_compare_exchange_strong(&m->signal_pending, &zero, 1))
        return true;
    gort__syscall_barrier();
    if (!atomic_load(&m->syscall_implicit) || __atomic_load_n(&m->syscall_depth, __ATOMIC_SEQ_CST) != 1 ||
        !gort__sigurg_send(m->tid, &gort__preempt_cookie))
        atomic_store(&m->signal_pending, 0);
    return true;
}

bool gort__foreign_poll(int64_t now, int64_t every)
{
    bool any = false;
    for (M *m = __atomic_load_n(&sched.allm, __ATOMIC_ACQUIRE); m; m = m->alllink) {
        if (!atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed))
            continue;
        any = true;
        /* A thread found blocked in the kernel last time is asked again
         * less and less often (up to 100 ms): each signal there is one
         * more EINTR or restart of a call gort cannot see. */
        if (m->reclaim_every < every)
            m->reclaim_every = every;
        if (now - m->reclaim_when < m->reclaim_every)
            continue;
        if (gort__foreign_signal(m)) {
            m->reclaim_when = now;
            if (atomic_load_explicit(&m->reclaim_blocked, memory_order_relaxed))
                m->reclaim_every = m->reclaim_every * 2 > 100000000 ? 100000000 : m->reclaim_every * 2;
            else
                m->reclaim_every = every;
        }
    }
    return any;
}
