/*
 * lockosthread.c — goroutines locked to their thread (Go's
 * runtime.LockOSThread, proc.go): gort_lock_thread / gort_unlock_thread,
 * and the end of a thread whose goroutine died locked to it.
 *
 * A goroutine g is locked to the M m it runs on while any of three counts
 * is non-zero: g->lockext (gort_lock_thread nesting), g->plocks (pthread
 * mutexes, rwlocks and spinlocks it holds, counted by interpose_lock.c's
 * wrappers) and g->lockmain (goroutine 1 of gort_main_thread, for life).
 * Locked means g->lockedm == m and m->lockedg == g; both are written only
 * by g itself while it runs on m (gort__lockthread /
 * gort__unlockthread_maybe, inline in runtime.h), and read by the
 * scheduler of whatever M takes g from a run queue, ordered by the queue.
 *
 * What locked means is proc.c's part (schedule, exitsyscall0): m runs no
 * other goroutine; when g stops running, m gives its P away and sleeps;
 * whoever takes g from a run queue gives its own P to m and sleeps in its
 * place (Go's stoplockedm / startlockedm).  Preemption (asynchronous or
 * at a gort call), stop-the-world, the system-call hand-off and the exit
 * need nothing else: each ends in schedule() or exitsyscall0, which know.
 * Only g->plocks also refuses preemption (preempt.c).
 *
 * Exit.  A goroutine that returns while gort_lock_thread still counts
 * takes its thread with it, as Go >= 1.10 does: whatever it did to the
 * thread (thread-local data, affinity, a signal mask, a GL context) is
 * not handed to the next goroutine.  gort__mexit gives up the P, unmaps
 * the M's signal stack and jumps back to the thread's start (m->exitbuf,
 * set by mstart above every g0 frame), which returns from the thread
 * function: TLS destructors run, as for any pthread.  The M stays on allm
 * (racy readers walk it) marked dead, with m->tid cleared once checkdead
 * sees the thread gone.  Goroutine 1 is the exception: its return ends
 * gort_main, which stops everything anyway.
 *
 * Misuse.  gort_unlock_thread without a matching gort_lock_thread is a
 * fatal error.  Go's UnlockOSThread is a no-op there; an unbalanced
 * unlock in C is far more likely a bug in an error path whose next
 * symptom (a thread-affine library called from the wrong thread) would
 * be far from the cause.  On a thread that is not a goroutine both calls
 * do nothing: such a thread is already its own.
 *
 * Rejected: a separate pool of locked threads (Go's design serves better:
 * the locked M is an ordinary M, created by nobody special); pinning by
 * forbidding the goroutine to park (gort calls inside thread-affine code
 * are the point: a GUI goroutine receives from channels); parking the M
 * for good at a locked exit instead of ending the thread (its thread-local
 * state would stay, and the thread count would only grow).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

void gort_lock_thread(void)
{
    M *m = gort__getm();
    if (!m || !m->curg)
        return;
    G *g = m->curg;
    if (unlikely(g->lockext == UINT32_MAX))
        gort__throw("gort_lock_thread: nested too deeply");
    g->lockext++;
    gort__lockthread(m, g);
}

void gort_unlock_thread(void)
{
    M *m = gort__getm();
    if (!m || !m->curg)
        return;
    G *g = m->curg;
    if (unlikely(g->lockext == 0))
        gort__throw("gort_unlock_thread: goroutine %llu is not locked to its thread "
                    "(more gort_unlock_thread than gort_lock_thread calls)",
                    (unsigned long long)g->goid);
    g->lockext--;
    gort__unlockthread_maybe(m, g);
}

void gort__mexit(M *m, P *pp)
{
    /* As a system call's hand-off: an M runs pp if it has work. */
    gort__releasep();
    gort__handoffp(pp, GORT_WAKE_HERE); /* this thread ends */
    /* Our own signal stack (minit_signals mapped a guard page below it),
     * not one the thread had before. */
    if (m->altstack) {
        stack_t cur;
        if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) {
            stack_t off = {.ss_flags = SS_DISABLE};
            if (sigaltstack(&off, NULL) == 0) {
                size_t page = (size_t)((char *)cur.ss_sp - (char *)m->altstack);
                munmap(m->altstack, cur.ss_size + page);
                m->altstack = NULL;
            }
        }
    }
    gort__mexit_account(m);
    longjmp(*(jmp_buf *)m->exitbuf, 1);
}
