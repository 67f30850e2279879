/*
 * preempt.c — asynchronous preemption policy: which code may be stopped at
 * an arbitrary instruction (the async safe-point check), preemption
 * requests (gort__preemptone, called by sysmon and stop-the-world) and
 * gort_preempt_disable/enable.  Which addresses are preemptible code is
 * modules.c's; the "cannot be preempted" report is preempt_report.c's.
 *
 * The mechanism (Go 1.14's): a request sets g->preempt, which the goroutine
 * honours at its next runtime call (gort__preempt_check), and sends SIGURG
 * to the M's thread.  In split-stack mode it first poisons the M's stack
 * guard, which stops the goroutine at its next checked prologue
 * (morestack.c, Go's stackguard0 = stackPreempt), and signals only if
 * that has not happened within GORT_SYNCPREEMPT_WAIT_NS.  The handler (signal_linux.c) asks
 * gort__preempt_unsafe_code whether the interrupted instruction is an
 * async safe point; if so it injects a call to gort__asyncpreempt
 * (arch/preempt_amd64.S).  If not, nothing happens: the request stays
 * pending and sysmon (or the STW loop) simply asks again later.  No
 * signal goes to a goroutine inside a system call (the sender's half of a
 * Dekker pair with entersyscall, syscall.c); one the handler finds in
 * foreign code has its P released there instead (syscall_foreign.c).
 *
 * An async safe point is an instruction where stopping the goroutine and
 * running others (possibly on the same thread) cannot deadlock or corrupt
 * anything.  Go knows this per instruction from compiler metadata; gort
 * only knows addresses, so it is conservative:
 *   - the M is running a goroutine (curg, G_RUNNING, with a P) and the
 *     interrupted rsp is on that goroutine's stack with room for the
 *     trampoline's frame: the scheduler's own g0 code is never stopped;
 *   - no runtime lock held (m->locks) and no gort_preempt_disable section
 *     (g->preempt_off);
 *   - pc is in *registered* code: the main executable and shared objects
 *     that include gort.h (their constructor registers them).  libc, ld.so,
 *     the vDSO and every other object are never registered, because they
 *     may hold locks of their own (malloc's arena lock, stdio's FILE lock,
 *     ld.so's lock) that another goroutine on the same thread would then
 *     deadlock on, and because they keep thread-local state across
 *     instructions (errno, TLS caches) that must not migrate;
 *   - pc is not gort's own code: [__start_gort_text, __stop_gort_text) when
 *     libgort.a is linked into the executable (the Makefile renames the
 *     runtime's .text), and libgort.so, which is never registered;
 *   - pc is not in a GORT_NOSPLIT function (section gort_nosplit);
 *   - the thread's signal mask blocks nothing beyond what the M started
 *     with: otherwise we are probably inside another signal handler running
 *     on the goroutine stack, and parking that would move a handler frame
 *     to another thread.
 *
 * Alternatives rejected: per-instruction metadata (Go's PCDATA) needs
 * compiler support; signalling with SIGUSR1/2 (programs use them; SIGURG
 * is ignored by default, rare in practice, and spurious deliveries are
 * harmless, as Go found); forward simulation to a "safe" instruction
 * (single-stepping is complex and slow).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Order of the checks = priority of the reason shown by the diagnostic:
 * explicit user choices first, then where the pc is, then the stack. */
int gort__preempt_unsafe_code(uintptr_t pc, uintptr_t sp, M *m, G *g)
{
    if (m) {
        if (!g || g->m != m || !m->p ||
            atomic_load_explicit(&g->status, memory_order_relaxed) != G_RUNNING)
            return GORT_PR_NO_G;
    }
    if (g && g->preempt_off > 0)
        return GORT_PR_PREEMPT_OFF;
    if (m && m->locks > 0)
        return GORT_PR_LOCKS;
    int c = gort__pc_code(pc);
    if (c != GORT_PR_SAFE)
        return c;
    if (g && sp) {
        if (sp < g->stack_lo || sp >= g->stack_hi)
            return GORT_PR_OFFSTACK;
        if (sp - g->stack_lo < gort__asyncpreempt_frame + GORT_ASYNCPREEMPT_MARGIN)
            return GORT_PR_NOROOM;
    }
    /* Last, so that where the pc is still decides first: in foreign code a
     * lock holder's P may still be released (it stays on its thread, as
     * in a system call), and the exit may still freeze it (stw.c).  Not
     * for a reclaim (m NULL): taking a P back does not move it. */
    if (m && g && g->plocks > 0)
        return GORT_PR_PTHREADLOCK;
    return GORT_PR_SAFE;
}

static const char *const reason_str[GORT_PR_NREASONS] = {
    [GORT_PR_SAFE] = NULL,
    [GORT_PR_NO_G] = "not running a goroutine",
    [GORT_PR_PREEMPT_OFF] = "preemption disabled (gort_preempt_disable)",
    [GORT_PR_LOCKS] = "runtime lock held",
    [GORT_PR_RUNTIME] = "inside the gort runtime",
    [GORT_PR_NOSPLIT] = "GORT_NOSPLIT function",
    [GORT_PR_FOREIGN] = "inside libc or another unregistered object",
    [GORT_PR_OFFSTACK] = "not on the goroutine stack",
    [GORT_PR_NOROOM] = "not enough stack",
    [GORT_PR_CALLBACK] = "in a callback from libc or another unregistered object",
    [GORT_PR_SIGMASK] = "signals blocked (inside a signal handler?)",
    [GORT_PR_INSYSCALL] = "blocked in a system call gort does not wrap",
    [GORT_PR_PTHREADLOCK] = "holds a pthread mutex, rwlock or spinlock",
};

const char *gort__preempt_reason_str(int code)
{
    if (code <= 0 || code >= GORT_PR_NREASONS)
        return NULL;
    return reason_str[code];
}

/* ---------------------------------------------------------------------
 * gort_preempt_disable / gort_preempt_enable
 * ------------------------------------------------------------------- */

void gort_preempt_disable(void)
{
    M *m = gort__getm();
    G *g = m ? m->curg : NULL;
    if (!g)
        return; /* g0 and foreign threads are never preempted */
    /* Running on P-less after foreign code (syscall_foreign.c): take a P
     * back first, as a wrapped call's end would, so that the section does
     * not run beside GORTMAXPROCS other goroutines for as long as it lasts
     * (the reclaim signal, which bounds that time otherwise, is refused
     * inside it).  Only from the goroutine's own code with no foreign
     * frame under it (the bracket's exit checks; it may wait for a P). */
    if (unlikely(atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed)) &&
        m->syscall_depth == 1 && g->preempt_off == 0 &&
        gort__entersyscall_from((uintptr_t)__builtin_return_address(0), false))
        gort__exitsyscall();
    g->preempt_off++;
    /* The handler runs on this thread: the store must be done before we
     * return to code that can be interrupted. */
    atomic_signal_fence(memory_order_seq_cst);
}

void gort_preempt_enable(void)
{
    M *m = gort__getm();
    G *g = m ? m->curg : NULL;
    if (!g)
        return;
    if (g->preempt_off <= 0)
        gort__throw("gort_preempt_enable without gort_preempt_disable");
    g->preempt_off--;
    atomic_signal_fence(memory_order_seq_cst);
    /* A request that arrived during the section was refused by the
     * handler; honour it now, as Go does when m.locks drops to zero. */
    if (g->preempt_off == 0 && atomic_load_explicit(&g->preempt, memory_order_relaxed))
        gort__preempt_check();
}

/* ---------------------------------------------------------------------
 * Requests
 * ------------------------------------------------------------------- */

/* On g's M, in execute: g takes over from runnext a slice whose
 * preemption was requested.  A request goes to the G running when it is
 * made, and execute clears every G's flag; a G that parked after its last
 * check (a channel operation checks on entry) took the request with it,
 * and the partner it readied ran on in the same slice with no request at
 * all.  A ping-pong pair whose time goes mostly to runtime code, where
 * the signal is refused (ASan builds: 100-600 requests, 0 asynchronous
 * stops), so kept the P 20-90 ms past its quantum (test_runnext, 1-6 runs
 * in 150 under load).  Go's pair would stop at its next function
 * prologue; here it stops at its next check, or at the signal. */
/* A new request for g on m (none pending): the diagnostic's clock
 * restarts, and an old verdict of m's last signal (a raw system call)
 * no longer holds the signals back. */
static void fresh_request(M *m, G *g)
{
    g->preempt_since = gort__now();
    g->preempt_reported = false;
    __atomic_store_n(&m->preempt_reqgen, __atomic_load_n(&m->preempt_gen, __ATOMIC_RELAXED),
                     __ATOMIC_RELAXED);
}

void gort__preempt_inherit(M *m, G *g)
{
    fresh_request(m, g);
    atomic_store(&g->preempt, true);
    gort__poison_guard(m);
}

const char gort__preempt_cookie = 0;

bool gort__preemptone(P *pp)
{
    M *m = __atomic_load_n(&pp->m, __ATOMIC_ACQUIRE);
    if (!m)
        return false;
    G *g = __atomic_load_n(&m->curg, __ATOMIC_ACQUIRE);
    if (!g || atomic_load(&g->status) != G_RUNNING)
        return false;
    bool fresh = !atomic_load(&g->preempt);
    if (fresh)
        fresh_request(m, g);
    /* The request is for the slice, not only this G: one that inherits the
     * slice from runnext (a ping-pong partner) inherits it (proc.c
     * execute_slice, gort__preempt_inherit). */
    __atomic_store_n(&pp->preempt_reqtick,
                     __atomic_load_n(&pp->schedtick, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
    /* Then the flag and (split-stack mode) the poison, release stores, so
     * that whoever sees the flag sees the request's clock and tick, and
     * whatever sees the poison sees the flag -- all plain stores on x86,
     * which leave the store buffer in this order while the stopper goes
     * on.  The flag's store was sequentially consistent (an xchg: it
     * waits for the G's line before anything after it can leave), and the
     * counter's locked add came before the poison too: a stop's p50 was
     * 1.9 us instead of 1.7 (bench/stop_fib, split-stack mode, on the
     * 2-vCPU EPYC VM in its slow phase, December 2026).  The fence after
     * them keeps the full barrier the flag's store gave what follows.
     * (Poison first and this bookkeeping after it measured the same, but
     * let readers see the flag with the last request's clock and tick.) */
    atomic_store_explicit(&g->preempt, true, memory_order_release);
    bool poisoned = gort__poison_guard(m);
    atomic_thread_fence(memory_order_seq_cst);
    atomic_fetch_add_explicit(&sched.npreemptreq, 1, memory_order_relaxed);
    /* Split-stack mode: poison the guard, and let the goroutine stop at
     * its next checked call (morestack.c); the signal only if it has not
     * within GORT_SYNCPREEMPT_WAIT_NS (a call-free loop, nosplit code, a
     * call that refused to park).  The word is the M's, whatever G it
     * runs by the time the store lands: a poison that reaches the next
     * goroutine costs it one trip through __morestack.
     * GORTDEBUG=prologuepreemptoff=1 skips the poison, so the same split
     * binary can be measured with the signal alone (bench/syncpreempt.c). */
    if (poisoned &&
        (fresh || gort__now() - g->preempt_since < GORT_SYNCPREEMPT_WAIT_NS))
        return true;
    if (gort__cfg.asyncpreemptoff)
        return true;
    pid_t tid = m->tid;
    if (tid <= 0 || m == gort__getm())
        return true; /* not started yet / ourselves: the flag is enough */
    /* A signal of this request found the thread blocked in a system call
     * gort does not wrap (a raw one): another would only interrupt the
     * call again.  The flag waits for its next gort call. */
    if (__atomic_load_n(&m->preempt_gen, __ATOMIC_RELAXED) >
            __atomic_load_n(&m->preempt_reqgen, __ATOMIC_RELAXED) &&
        __atomic_load_n(&m->preempt_lastreason, __ATOMIC_RELAXED) == GORT_PR_INSYSCALL)
        return true;
    /* Mark the signal in flight first, then check that the goroutine is
     * still running outside any system call: entersyscall publishes
     * P_SYSCALL first and then waits for a marked signal, so one of the
     * two sees the other and no signal lands inside a call (syscall.c). */
    uint32_t zero = 0;
    if (!atomic_compare_exchange_strong(&m->signal_pending, &zero, 1))
        return true; /* one already in flight: signals coalesce anyway */
    gort__syscall_barrier();
    if (atomic_load(&pp->status) != P_RUNNING || __atomic_load_n(&pp->m, __ATOMIC_SEQ_CST) != m ||
        __atomic_load_n(&m->curg, __ATOMIC_SEQ_CST) != g ||
        atomic_load(&g->status) != G_RUNNING) {
        atomic_store(&m->signal_pending, 0);
        return true;
    }
    if (!gort__sigurg_send(tid, &gort__preempt_cookie))
        atomic_store(&m->signal_pending, 0);
    return true;
}
