/*
 * panic.c — the runtime's crash reports: fatal errors (gort__throw, Go's
 * panic.go throw), the deadlock exit (gort__fatal_exit2) and the SIGQUIT
 * dump (gort__sigquit_report, Go's crash on SIGQUIT in signal_unix.go).
 * traceback.c supplies the frames and goroutine listings; this file decides
 * who reports, what is printed at each GORTTRACEBACK level, and how the
 * process ends.
 *
 * Invariants.  One report per process: the first thread to claim
 * fatal_owner prints, a later fatal error elsewhere prints one line and
 * waits for it, and a fatal error while printing one (fatal_depth) exits at
 * once.  Everything may run with runtime locks held, on g0, on a foreign
 * thread or in a signal handler: no malloc (libdw is opened only where the
 * interrupted code cannot hold malloc's or the loader's lock), no blocking
 * lock (stdout and stderr are flushed only if their locks are free).  The
 * reporter marks its M locked (m->locks) so it is not preempted mid-report.
 *
 * Rejected: abort() on a fatal error (a core dump and SIGABRT where Go
 * exits 2; tests check the status; GORTTRACEBACK=crash asks for it),
 * exit() (atexit handlers may re-enter the runtime while we hold its
 * locks).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

__attribute__((format(printf, 2, 3))) static void fdprint(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gort__vfdprint(fd, fmt, ap);
    va_end(ap);
}

/* Load libdw for a fatal error raised in ordinary code; not when raised
 * inside a signal handler (on the signal stack), where the interrupted
 * code may hold malloc's or the loader's lock (see dwarf.c). */
static void dwarf_open_unless_handler(void)
{
    /* In a fork's child another thread may have held the loader's lock
     * at the fork (fork_linux.c). */
    if (gort__in_forked_child())
        return;
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK))
        return;
    gort__dwarf_open();
}

/* GORTTRACEBACK=crash: die by SIGABRT (default action: core dump), as
 * Go's crash() does, instead of exiting 2. */
static void die_abort(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGABRT, &sa, NULL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGABRT);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    raise(SIGABRT);
    _exit(2);
}

static _Atomic int fatal_owner;      /* 0, or tid+1 of the thread that is dying */
static __thread int fatal_depth;

/* Before a vfork child dies: the TLS it shares with its parent's thread
 * as the parent had it (fatal_depth was 0, or it would not have printed). */
static void vfork_child_restore(void)
{
    if (gort__in_vfork_child())
        fatal_depth = 0;
}

/* Make user output written before the crash visible, without waiting on
 * a FILE lock some stuck thread may hold. */
static void flush_std(void)
{
    FILE *fs[2] = {stdout, stderr};
    for (int i = 0; i < 2; i++)
        if (ftrylockfile(fs[i]) == 0) {
            fflush_unlocked(fs[i]);
            funlockfile(fs[i]);
        }
}

int gort__fatal_claim(void)
{
    /* A vfork child's report is its own: the claim is process-wide, and
     * the parent's threads, which share it, go on. */
    if (gort__in_vfork_child())
        return 1;
    int want = 0;
    int me = (int)gettid() + 1;
    if (atomic_compare_exchange_strong(&fatal_owner, &want, me))
        return 1;
    return want == me ? -1 : 0;
}

/* Enter the fatal path: only one thread prints; a second fatal error on
 * this thread (while printing) or elsewhere is reported in one line. */
static void fatal_enter(const char *msg)
{
    /* A vfork child shares the parent's memory and this thread's TLS: it
     * leaves the M's count alone (the parent goes on after the child
     * dies), as it does the claim, and die_reported puts fatal_depth
     * back.  Nothing can preempt it: no SIGURG is sent to the child. */
    bool vforked = gort__in_vfork_child();
    M *m = gort__getm();
    if (m && !vforked) {
        m->locks++; /* not preemptible while we print */
        atomic_signal_fence(memory_order_seq_cst);
    }
    if (fatal_depth++ > 0) {
        fdprint(2, "gort: fatal error while printing a fatal error: %s\n", msg);
        vfork_child_restore();
        _exit(2);
    }
    int claim = gort__fatal_claim();
    if (claim < 0) { /* a fatal signal's report on this thread threw */
        fdprint(2, "gort: fatal error while printing a fatal error: %s\n", msg);
        _exit(2);
    }
    if (claim == 0) {
        fdprint(2, "gort: fatal error: %s (on another thread too)\n", msg);
        /* Give the first thread time to finish its traceback. */
        struct timespec ts = {5, 0};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        _exit(2);
    }
    gort__freezetheworld();
    if (!vforked) /* the buffers are the parent's, the fds the child's */
        flush_std();
    fdprint(2, "gort: fatal error: %s\n\n", msg);
}

/* The end of every report: the goroutines other than the reporter's own
 * (if any exist yet), then out of the process, as GORTTRACEBACK says. */
static void others_and_flush(gort__tbout *o, G *cur, bool system)
{
    /* A fork's child: the other goroutines are the parent's. */
    if (__atomic_load_n(&sched.allgs, __ATOMIC_ACQUIRE) && !gort__in_forked_child()) {
        gort__tb_printf(o, "\n");
        gort__tb_others(o, cur, cur, system);
    }
    gort__tb_flush(o);
}

static GORT_NORETURN void die_reported(int level)
{
    vfork_child_restore();
    if (level >= GORT_TB_CRASH)
        die_abort();
    _exit(2);
}

/* The body of gort__throw and gort__throw_pcs: the current goroutine's
 * frames from pcs if n > 0, else by walking frame pointers from here. */
static GORT_NORETURN void throw_v(const uintptr_t *pcs, int n, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fatal_enter(msg);

    int level = gort__cfg.traceback;
    if (level > GORT_TB_NONE) {
        dwarf_open_unless_handler();
        bool system = level >= GORT_TB_SYSTEM;
        M *m = gort__getm();
        G *cur = m ? m->curg : NULL;
        gort__tbout o;
        gort__tb_init(&o, 2);
        if (n > 0 && cur) {
            gort__tb_header(&o, cur, atomic_load(&cur->status), true);
            for (int i = 0, depth = 0; i < n && depth < GORT_TB_MAX_FRAMES; i++)
                depth += gort__tb_frame(&o, pcs[i], true, system);
            gort__tb_trailer(&o, cur);
        } else {
            gort__tb_self(&o, cur, system);
        }
        /* Like Go's throw: the other goroutines too (Go prints them at
         * every level but none for fatal errors), they are often the clue. */
        others_and_flush(&o, cur, system);
    }
    die_reported(level);
}

void gort__throw(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    throw_v(NULL, 0, fmt, ap);
}

void gort__throw_pcs(const uintptr_t *pcs, int n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    throw_v(pcs, n, fmt, ap);
}

void gort__fatal_exit2(const char *msg)
{
    fatal_enter(msg);
    int level = gort__cfg.traceback;
    if (level > GORT_TB_NONE) {
        dwarf_open_unless_handler();
        gort__tbout o;
        gort__tb_init(&o, 2);
        M *m = gort__getm();
        gort__tb_others(&o, NULL, m ? m->curg : NULL, level >= GORT_TB_SYSTEM);
        gort__tb_flush(&o);
    }
    die_reported(level);
}

/* May a signal handler that interrupted pc load libdw (dlopen, malloc)?
 * Yes if pc is in the program or the runtime: the thread is not inside
 * malloc or the loader.  Inside libc only for its raw syscall() wrapper,
 * a leaf that holds no lock: that is where every parked thread of the
 * runtime sits (futex waits), so a SIGQUIT to an idle process, which the
 * kernel usually hands to such a thread, still gets file:line. */
static bool safe_to_load(uintptr_t pc, uintptr_t sp, bool on_m)
{
    /* Not if what was interrupted is itself a handler, on the signal
     * stack (every handler runs there: gort adds SA_ONSTACK): its pc says
     * nothing of the code it interrupted in turn.  A SIGQUIT that came on
     * top of the SIGURG handler, which had interrupted malloc, loaded
     * libdw and waited in calloc for the arena lock its own thread held
     * (an adversarial hunt: 9 of 40 dumps hung for ever). */
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE) &&
        sp - (uintptr_t)ss.ss_sp < ss.ss_size)
        return false;
    /* A thread that is not an M has no signal stack of gort's: its
     * handlers run on its own stack, where the test above cannot see
     * them, and the program's code the signal interrupted may be one (a
     * review: a SIGUSR1 handler spinning over malloc, then SIGQUIT: 5 of
     * 8 dumps hung).  There only the runtime's own code (a futex wait)
     * proves it. */
    int code = gort__pc_code(pc);
    if (code == GORT_PR_RUNTIME || (code != GORT_PR_FOREIGN && on_m))
        return true;
    if (code != GORT_PR_FOREIGN)
        return false;
    gort__sym s;
    return gort__symtab_lookup(pc, &s) && s.name && strcmp(s.name, "syscall") == 0;
}

void gort__sigquit_report(uintptr_t pc, uintptr_t sp, uintptr_t fp, int code)
{
    /* One report; a fatal error being printed already wins (it exits). */
    if (gort__fatal_claim() != 1)
        return;
    gort__freezetheworld();
    M *m = gort__getm();
    gort__tbout o;
    gort__tb_init(&o, 2);
    gort__tb_printf(&o, "SIGQUIT: quit\nPC=%#lx m=%d sigcode=%d\n\n", (unsigned long)pc, m ? m->id : -1,
         code);
    int level = gort__cfg.traceback;
    if (level > GORT_TB_NONE) {
        /* Not in a fork's child (a lost thread may have held the
         * loader's lock) nor a vfork's (the session would be the
         * parent's, opened with the child's descriptors). */
        if (!gort__in_forked_child() && safe_to_load(pc, sp, m != NULL))
            gort__dwarf_open();
        gort__tb_reset();
        /* Go reports SIGQUIT as a runtime crash, whose level is at least
         * "system": runtime frames are shown whatever the setting. */
        bool system = true;
        G *cur = m ? m->curg : NULL;
        if (cur && !cur->foreign && sp >= cur->stack_lo && sp < cur->stack_hi) {
            gort__tb_header(&o, cur, atomic_load(&cur->status), true);
            gort__tb_ctx(&o, pc, 0, fp, cur, system);
            gort__tb_trailer(&o, cur);
        } else {
            cur = NULL; /* on g0 or a plain thread: its goroutine (if any) is listed below */
            if (m)
                gort__tb_printf(&o, "scheduler stack (M%d):\n", m->id);
            else
                gort__tb_printf(&o, "thread %d (not a goroutine) [running]:\n", (int)gettid());
            gort__tb_ctx(&o, pc, 0, fp, NULL, system);
        }
        others_and_flush(&o, cur, system);
    }
    gort__tb_flush(&o);
    die_reported(level);
}
