/*
 * interpose_signal.c — the signal functions whose effect must follow the
 * goroutine rather than the thread: pthread_sigmask and sigprocmask (the
 * mask), sigaction, signal, bsd_signal and sysv_signal (for SIGURG only).
 *
 * Masks.  A goroutine's call records the mask it asked for in its G
 * (g->ts_sigmask, flagged by g->ts_sigmask_set) and puts it on its thread;
 * from then on gort__ts_in (threadstate.h) applies it wherever the
 * goroutine runs and restores the base mask for the goroutines that run
 * after it on that thread.  The goroutine sees exactly the mask it set
 * (a query returns it), except that SIGURG, if it blocked it, stays
 * unblocked on the thread: it preempts every goroutine, the blocking one
 * included.  The preemption check compares an interrupted context's mask
 * with the running goroutine's own, so blocking a signal no longer makes
 * its M look "inside a signal handler" for ever.
 * Not recorded (passed straight to libc): calls from threads that are not
 * goroutines, from the runtime, from off the goroutine's stack, and calls
 * made while the thread's mask is not the one gort put there, which is
 * how a signal handler running on the goroutine's stack looks (the kernel
 * added the handler's mask; it restores the old one at sigreturn).
 * The wrapper is runtime code, which is never preempted, and so is libc:
 * the goroutine cannot change threads between the call and the record.
 *
 * SIGURG handlers.  gort's handler must stay installed, or preemption is
 * silently off.  Once it is, a SIGURG disposition the program sets
 * through these functions is stored as the program's (signal_linux.c)
 * instead of replacing it: every SIGURG that is not gort's goes to it,
 * with its sa_mask, SA_RESETHAND and SA_NODEFER honoured, and the old
 * action returned is the program's, as if it were installed.  Flags that
 * belong to the installed handler (SA_RESTART, SA_ONSTACK) are gort's.
 * Rejected: checking the disposition periodically and reinstalling
 * (sysmon would have to call sigaction every round, and SIGURGs sent in
 * between would be lost or preempt nothing); installing the program's
 * handler and calling gort's from it (the program does not know to).
 * A raw rt_sigaction system call still replaces gort's handler.
 *
 * Reached from interpose_linux.c's constructor (gort__interpose_signal_init),
 * as interpose.h requires for static links.
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "threadstate.h"
#include "interpose.h"

#include <signal.h>
#include <string.h>

#define SIGNALS(X)                                                                 \
    X(int, pthread_sigmask, false, (int how, const sigset_t *s, sigset_t *o), (how, s, o)) \
    X(int, sigprocmask, false, (int how, const sigset_t *s, sigset_t *o), (how, s, o))     \
    X(int, sigaction, false, (int sig, const struct sigaction *a, struct sigaction *o), (sig, a, o)) \
    X(sighandler_t, signal, false, (int sig, sighandler_t h), (sig, h))                    \
    X(sighandler_t, bsd_signal, false, (int sig, sighandler_t h), (sig, h))                \
    X(sighandler_t, sysv_signal, false, (int sig, sighandler_t h), (sig, h))
SIGNALS(DECLARE)

void gort__interpose_signal_init(void)
{
#define RESOLVE(ret, name, block, params, args) (void)REAL(name);
    SIGNALS(RESOLVE)
#undef RESOLVE
}

/* The goroutine whose own call this is, or NULL. */
static G *caller_g(uintptr_t ra, M **mp)
{
    M *m = gort__getm();
    if (!m || !m->curg || gort__pc_in_runtime(ra))
        return NULL;
    G *g = m->curg;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (sp < g->stack_lo || sp >= g->stack_hi)
        return NULL;
    *mp = m;
    return g;
}

static void set_word(sigset_t *s, uint64_t w)
{
    sigemptyset(s);
    memcpy(s, &w, sizeof w);
}

/* Signals no mask may hold: SIGKILL and SIGSTOP (the kernel ignores them)
 * and glibc's own SIGCANCEL and SIGSETXID (32 and 33; glibc filters them). */
#define UNMASKABLE (GORT_SIGBIT(SIGKILL) | GORT_SIGBIT(SIGSTOP) | GORT_SIGBIT(32) | GORT_SIGBIT(33))

/* pthread_sigmask for goroutine g on m: 0 or an errno value. */
static int g_sigmask(M *m, G *g, int how, const sigset_t *set, sigset_t *oldset)
{
    if (set && how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK)
        return EINVAL;
    sigset_t cur;
    int e = REAL(pthread_sigmask)(SIG_BLOCK, NULL, &cur);
    if (e != 0)
        return e;
    uint64_t curw = gort__sigmask_word(&cur);
    if (curw != m->ts_sigmask_applied) /* inside a signal handler (see above) */
        return REAL(pthread_sigmask)(how, set, oldset);
    uint64_t view = g->ts_sigmask_set ? g->ts_sigmask : curw;
    uint64_t nv = view;
    if (set) {
        uint64_t s = gort__sigmask_word(set); /* before oldset: they may alias */
        nv = how == SIG_BLOCK ? view | s : how == SIG_UNBLOCK ? view & ~s : s;
        nv &= ~UNMASKABLE;
    }
    if (oldset)
        set_word(oldset, view);
    if (!set)
        return 0;
    uint64_t apply = nv & ~GORT_SIGBIT(SIGURG);
    if (apply != curw) {
        sigset_t k;
        set_word(&k, apply);
        e = REAL(pthread_sigmask)(SIG_SETMASK, &k, NULL);
        if (e != 0)
            return e;
        gort__ts_applied(m, apply);
    }
    g->ts_sigmask = nv;
    g->ts_sigmask_set = nv != m->sigmask_base;
    return 0;
}

GORT_API int pthread_sigmask(int how, const sigset_t *set, sigset_t *oldset)
{
    M *m;
    G *g = caller_g((uintptr_t)__builtin_return_address(0), &m);
    if (!g)
        return REAL(pthread_sigmask)(how, set, oldset);
    return g_sigmask(m, g, how, set, oldset);
}

GORT_API int sigprocmask(int how, const sigset_t *set, sigset_t *oldset)
{
    M *m;
    G *g = caller_g((uintptr_t)__builtin_return_address(0), &m);
    if (!g)
        return REAL(sigprocmask)(how, set, oldset);
    int e = g_sigmask(m, g, how, set, oldset);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return 0;
}

/* The program's SIGURG action goes behind gort's handler once that is
 * installed; from any thread, the runtime's own calls excepted (-2: not
 * handled here). */
static int urg_action(uintptr_t ra, const struct sigaction *act, struct sigaction *old)
{
    if (gort__pc_in_runtime(ra))
        return -2;
    struct sigaction a;
    if (act) {
        a = *act;
        /* What the kernel would refuse or ignore. */
        sigdelset(&a.sa_mask, SIGKILL);
        sigdelset(&a.sa_mask, SIGSTOP);
    }
    return gort__sigurg_program(act ? &a : NULL, old);
}

/* Handlers off the alternate stack.  Every M has an alternate signal
 * stack (signal_linux.c), so a handler runs on a goroutine's own stack
 * only if it was installed without SA_ONSTACK.  gort__sig_offstack has a
 * bit for every signal that ever had such a handler, set before the
 * handler is installed and never cleared (one installed earlier may still
 * be running).  Split-stack mode's prologue park (morestack.c) asks the
 * kernel for the thread's mask -- a system call, ~2 us on the EPYC VM,
 * in every stop at a prologue -- only when a bit is set.  Not seen: a
 * handler installed by a raw rt_sigaction system call, and an M's
 * alternate stack that the program disabled with sigaltstack. */
_Atomic uint64_t gort__sig_offstack;

static void note_handler(int sig, sighandler_t h, int flags)
{
    if (sig >= 1 && sig <= 64 && h != SIG_DFL && h != SIG_IGN && h != SIG_ERR &&
        !(flags & SA_ONSTACK))
        atomic_fetch_or(&gort__sig_offstack, GORT_SIGBIT(sig));
}

void gort__sig_offstack_scan(void)
{
    for (int sig = 1; sig <= 64; sig++) {
        struct sigaction cur;
        if (sig != SIGURG && REAL(sigaction)(sig, NULL, &cur) == 0)
            note_handler(sig, cur.sa_handler, cur.sa_flags);
    }
}

GORT_API int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (act && sig != SIGURG)
        note_handler(sig, act->sa_handler, act->sa_flags);
    if (sig == SIGURG) {
        int r = urg_action((uintptr_t)__builtin_return_address(0), act, old);
        if (r != -2)
            return r;
    }
    return REAL(sigaction)(sig, act, old);
}

/* signal() and its variants reach libc's sigaction internally, where no
 * wrapper sees them: for SIGURG, built here on the path above with glibc's
 * flags (BSD semantics for signal and bsd_signal: SA_RESTART, the signal
 * blocked while handled; System V's for sysv_signal); libc's otherwise. */
static bool urg_signal(uintptr_t ra, sighandler_t h, int flags, sighandler_t *ret)
{
    if (h == SIG_ERR)
        return false;
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = h;
    act.sa_flags = flags;
    sigemptyset(&act.sa_mask);
    if (!(flags & SA_NODEFER))
        sigaddset(&act.sa_mask, SIGURG);
    int r = urg_action(ra, &act, &old);
    if (r == -2)
        return false;
    *ret = r == 0 ? old.sa_handler : SIG_ERR;
    return true;
}

#define SIGNAL_WRAPPER(name, flags)                                                         \
    GORT_API sighandler_t name(int sig, sighandler_t h)                                     \
    {                                                                                       \
        sighandler_t old;                                                                   \
        if (sig == SIGURG && urg_signal((uintptr_t)__builtin_return_address(0), h, (flags), &old)) \
            return old;                                                                     \
        if (sig != SIGURG)                                                                  \
            note_handler(sig, h, 0); /* libc's: no SA_ONSTACK */                           \
        return REAL(name)(sig, h);                                                          \
    }
SIGNAL_WRAPPER(signal, SA_RESTART)
SIGNAL_WRAPPER(bsd_signal, SA_RESTART)
SIGNAL_WRAPPER(sysv_signal, SA_RESETHAND | SA_NODEFER)
