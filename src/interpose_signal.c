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
 * The same for every other signal's handler: SA_ONSTACK added (below).
 * Wrapped names: sigaction and __sigaction, signal, bsd_signal, ssignal,
 * sysv_signal, __sysv_signal (signal() under -std=c11) and sigset, and
 * siginterrupt (its mark is glibc's, which signal() reads).
 *
 * In a vfork() child (gort__in_vfork_child) every one of these goes straight
 * to libc: the marks, the program's SIGURG action and the goroutine's mask
 * recorded here live in memory the child shares with its parent, while
 * the child's dispositions and mask are its own (fork_linux.c).
 *
 * Reached from interpose_linux.c's constructor (gort__interpose_signal_init),
 * as interpose.h requires for static links.
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "threadstate.h"
#include "interpose.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>

#define SIGNALS(X)                                                                 \
    X(int, pthread_sigmask, false, (int how, const sigset_t *s, sigset_t *o), (how, s, o)) \
    X(int, sigprocmask, false, (int how, const sigset_t *s, sigset_t *o), (how, s, o))     \
    X(int, sigaction, false, (int sig, const struct sigaction *a, struct sigaction *o), (sig, a, o)) \
    X(sighandler_t, signal, false, (int sig, sighandler_t h), (sig, h))                    \
    X(sighandler_t, bsd_signal, false, (int sig, sighandler_t h), (sig, h))                \
    X(sighandler_t, sysv_signal, false, (int sig, sighandler_t h), (sig, h))                \
    X(sighandler_t, __sysv_signal, false, (int sig, sighandler_t h), (sig, h))              \
    X(sighandler_t, ssignal, false, (int sig, sighandler_t h), (sig, h))                    \
    X(sighandler_t, sigset, false, (int sig, sighandler_t h), (sig, h))                     \
    X(int, siginterrupt, false, (int sig, int flag), (sig, flag))
SIGNALS(DECLARE)

static void action_forked(void);

void gort__interpose_signal_init(void)
{
#define RESOLVE(ret, name, block, params, args) (void)REAL(name);
    SIGNALS(RESOLVE)
#undef RESOLVE
    /* From the constructor, so before any handler another library or the
     * program registers later: child handlers run in registration order,
     * and one of those may set a signal's action. */
    pthread_atfork(NULL, NULL, action_forked);
}

/* The goroutine whose own call this is, or NULL. */
static G *caller_g(uintptr_t ra, M **mp)
{
    M *m = gort__getm();
    if (!m || !m->curg || gort__pc_in_runtime(ra) || gort__in_vfork_child())
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
    if (gort__pc_in_runtime(ra) || gort__in_vfork_child())
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

/* Handlers on the alternate stack.  Every M has an alternate signal stack
 * (signal_linux.c); a handler the program installs without SA_ONSTACK
 * gets SA_ONSTACK added here, so no handler ever runs on a goroutine's
 * stack.  One that did would run on top of whatever the goroutine was
 * doing, the runtime's own code included: a wrapped call it makes could
 * release a P the thread does not hold, or park the goroutine inside the
 * handler (the handler's mask left on the thread, the kernel's frame
 * carried to another thread, a scheduler switch nested in one already
 * under way), and a split-stack prologue could park it there too.  Go
 * asks the same of C code (os/signal: "must use the SA_ONSTACK flag").
 * `forced` remembers, per signal, that the flag was ours, so that the
 * program reading its action back sees the flags it set.  Reading the
 * mark, replacing the action and updating the mark are one step under
 * action_lock: two threads setting one signal's action at once (one
 * handler with SA_ONSTACK, one without) otherwise left the mark of the
 * one that installed first, and the program then read its own flags back
 * wrong (tests/test_sigaction_race: every run).  The lock is held with
 * every signal blocked on the thread, because sigaction is
 * async-signal-safe and a handler may call it on a thread that holds the
 * lock; the program's pointers are copied outside it, so no fault can be
 * taken inside (a fault in libc's own sigaction, a stack overflow there,
 * would kill the process with no report; the window is one system call).
 * That costs two rt_sigprocmask calls per sigaction, which is no hot
 * path.  A fork() child frees a lock whose holder stayed in the parent
 * (action_forked, a pthread_atfork child handler registered by the
 * library's constructor), as it may call sigaction before exec.  Handlers
 * installed before the wrappers could see them get the flag at start-up
 * (gort__signal_onstack_fixup, Go's setsigstack).  Not seen: a raw
 * rt_sigaction system call, and an M's alternate stack the program
 * disabled with sigaltstack; both are unsupported.
 * Rejected: checking the thread's signal mask where a park or a bracket
 * could happen (a system call each time, ~2 us on the EPYC VM, at every
 * prologue stop); a trampoline around each handler counting handler depth
 * (wrong after a siglongjmp out of the handler, and sa_sigaction,
 * SA_RESETHAND and the old action to report would all need rewriting). */
static _Atomic uint64_t forced;
static _Atomic uint32_t action_lock; /* guards forced with the kernel's actions */

static uint64_t action_begin(void)
{
    uint64_t old;
    gort__kmask(SIG_BLOCK, ~0ull, &old);
    for (int spins = 0; atomic_exchange_explicit(&action_lock, 1, memory_order_acquire); spins++) {
        if (spins < 100)
            __builtin_ia32_pause();
        else
            sched_yield(); /* the holder's thread may be off its CPU */
    }
    return old;
}

static void action_end(uint64_t old)
{
    atomic_store_explicit(&action_lock, 0, memory_order_release);
    gort__kmask(SIG_SETMASK, old, NULL);
}

static void action_forked(void)
{
    atomic_store_explicit(&action_lock, 0, memory_order_relaxed);
}

static bool is_handler(sighandler_t h)
{
    return h != SIG_DFL && h != SIG_IGN && h != SIG_ERR;
}

static void onstack_fixup_one(int sig)
{
    if (sig == SIGURG || sig == SIGKILL || sig == SIGSTOP)
        return;
    struct sigaction cur;
    sigaction_fn *real = REAL(sigaction);
    uint64_t mask = action_begin();
    if (real(sig, NULL, &cur) == 0 && is_handler(cur.sa_handler) &&
        !(cur.sa_flags & SA_ONSTACK)) {
        cur.sa_flags |= SA_ONSTACK;
        if (real(sig, &cur, NULL) == 0)
            atomic_fetch_or(&forced, GORT_SIGBIT(sig));
    }
    action_end(mask);
}

void gort__signal_onstack_fixup(void)
{
    for (int sig = 1; sig <= 64; sig++)
        onstack_fixup_one(sig);
}

/* sigaction for every signal but SIGURG: the handler on the alternate
 * stack, and the old action as the program set it. */
static int onstack_action(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig < 1 || sig > 64 || gort__in_vfork_child())
        return REAL(sigaction)(sig, act, old);
    /* The program's structs are read and written outside the lock. */
    struct sigaction a, o;
    bool add = false;
    if (act) {
        a = *act;
        add = is_handler(a.sa_handler) && !(a.sa_flags & SA_ONSTACK);
        if (add)
            a.sa_flags |= SA_ONSTACK;
    }
    uint64_t bit = GORT_SIGBIT(sig);
    sigaction_fn *real = REAL(sigaction); /* a first lookup takes the loader's lock */
    uint64_t mask = action_begin();
    bool was = atomic_load(&forced) & bit;
    int r = real(sig, act ? &a : NULL, old ? &o : NULL);
    if (r == 0 && act) {
        if (add)
            atomic_fetch_or(&forced, bit);
        else
            atomic_fetch_and(&forced, ~bit);
    }
    action_end(mask);
    if (r != 0)
        return r;
    if (old) {
        if (was) /* SA_RESETHAND's SIG_DFL keeps the flags too */
            o.sa_flags &= ~SA_ONSTACK;
        *old = o;
    }
    return 0;
}

GORT_API int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig == SIGURG) {
        int r = urg_action((uintptr_t)__builtin_return_address(0), act, old);
        if (r != -2)
            return r;
        return REAL(sigaction)(sig, act, old);
    }
    return onstack_action(sig, act, old);
}

/* signal() and its variants reach libc's sigaction internally, where no
 * wrapper sees them: built here with glibc's flags (BSD semantics for
 * signal and bsd_signal: SA_RESTART unless siginterrupt() marked the
 * signal, the signal blocked while handled; System V's for sysv_signal),
 * then on the paths above: SIGURG's, or the alternate stack's for every
 * other signal. */
static _Atomic uint64_t interrupting; /* siginterrupt(sig, 1), as glibc's _sigintr */

GORT_API int siginterrupt(int sig, int flag)
{
    int r = REAL(siginterrupt)(sig, flag);
    if (r == 0 && sig >= 1 && sig <= 64 && !gort__in_vfork_child()) {
        if (flag)
            atomic_fetch_or(&interrupting, GORT_SIGBIT(sig));
        else
            atomic_fetch_and(&interrupting, ~GORT_SIGBIT(sig));
    }
    return r;
}

static void signal_action(struct sigaction *act, int sig, sighandler_t h, int flags)
{
    memset(act, 0, sizeof *act);
    act->sa_handler = h;
    if (atomic_load(&interrupting) & GORT_SIGBIT(sig))
        flags &= ~SA_RESTART;
    act->sa_flags = flags;
    sigemptyset(&act->sa_mask);
    if (!(flags & SA_NODEFER))
        sigaddset(&act->sa_mask, sig);
}

static bool urg_signal(uintptr_t ra, sighandler_t h, int flags, sighandler_t *ret)
{
    if (h == SIG_ERR)
        return false;
    struct sigaction act, old;
    signal_action(&act, SIGURG, h, flags);
    int r = urg_action(ra, &act, &old);
    if (r == -2)
        return false;
    *ret = r == 0 ? old.sa_handler : SIG_ERR;
    return true;
}

static sighandler_t onstack_signal(int sig, sighandler_t h, int flags)
{
    struct sigaction act, old;
    signal_action(&act, sig, h, flags);
    return onstack_action(sig, &act, &old) == 0 ? old.sa_handler : SIG_ERR;
}

#define SIGNAL_WRAPPER(name, flags)                                                         \
    GORT_API sighandler_t name(int sig, sighandler_t h)                                     \
    {                                                                                       \
        sighandler_t old;                                                                   \
        if (sig == SIGURG && urg_signal((uintptr_t)__builtin_return_address(0), h, (flags), &old)) \
            return old;                                                                     \
        if (sig != SIGURG && sig >= 1 && sig <= 64 && h != SIG_ERR)                         \
            return onstack_signal(sig, h, (flags));                                         \
        return REAL(name)(sig, h);                                                          \
    }
SIGNAL_WRAPPER(signal, SA_RESTART)
SIGNAL_WRAPPER(bsd_signal, SA_RESTART)
SIGNAL_WRAPPER(ssignal, SA_RESTART)
SIGNAL_WRAPPER(sysv_signal, SA_RESETHAND | SA_NODEFER)
/* What signal() is in programs built for strict ISO C or POSIX (-std=c11:
 * glibc's header redirects it here). */
SIGNAL_WRAPPER(__sysv_signal, SA_RESETHAND | SA_NODEFER)

/* glibc's other name for sigaction. */
GORT_API int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
GORT_API int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return sigaction(sig, act, old);
}

/* System V's sigset (SIG_HOLD and its mask handling are libc's): the
 * handler it installed is then moved to the alternate stack.  SIGURG's
 * handler goes behind gort's, as signal()'s does (System V's flags: none;
 * the unblocking sigset adds is moot, gort keeps SIGURG unblocked); it
 * used to go straight to libc, which replaced gort's handler and turned
 * preemption off for good. */
GORT_API sighandler_t sigset(int sig, sighandler_t h)
{
    sighandler_t old;
    if (sig == SIGURG && h != SIG_HOLD &&
        urg_signal((uintptr_t)__builtin_return_address(0), h, 0, &old))
        return old;
    sighandler_t r = REAL(sigset)(sig, h);
    if (r != SIG_ERR && sig >= 1 && sig <= 64 && is_handler(h) && !gort__in_vfork_child())
        onstack_fixup_one(sig);
    return r;
}
