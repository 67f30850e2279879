/*
 * signal_fatal.c — fatal signals raised by goroutine code: SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGTRAP and SIGABRT (abort(), assert()) (Go's
 * signal_unix.go sighandler/sigfwd/dieFromSignal, for C).
 *
 * What it does.  A synchronous fault on a goroutine is reported the way Go
 * reports a fault it cannot turn into a panic:
 *     gort: fatal error: unexpected signal SIGSEGV: segmentation violation
 *     [signal SIGSEGV: segmentation violation code=SEGV_MAPERR addr=0x0 pc=0x...]
 *
 *     goroutine 5 [running]:
 *         <frames from the signal context>
 * or, for a fault in the goroutine's guard page (or with rsp already below
 * its stack, a frame larger than the guard page), "gort: fatal error: stack
 * overflow" with the goroutine, its stack size and the GORTSTACKSIZE that
 * would double it.  GORTTRACEBACK decides the rest: none prints no stacks,
 * all/system add every other goroutine, crash then aborts (SIGABRT).
 * Otherwise the signal's own default action follows: the disposition goes
 * back to SIG_DFL and the signal is raised again, unblocked, so a core is
 * still written and the exit status still names the signal (Go exits 2
 * instead; a C program's supervisors and tests expect "killed by SIGSEGV").
 * A fault on the scheduler's own stack (g0: rsp on the M's pthread stack,
 * whether or not curg is still set) is a gort bug or memory corruption; it
 * is reported the same way, with the scheduler stack, like Go's faults in
 * runtime code.
 *
 * Who owns the signal.  A handler installed before gort (by the program, a
 * crash reporter, or a sanitizer: ASan installs one for SIGSEGV, SIGBUS and
 * SIGFPE, clang's standalone UBSan too) keeps the signal: every fault is
 * passed to it unchanged, with the mask and flags it asked for, and gort
 * prints nothing.  Such a handler may be using faults on purpose (a GC's
 * mprotect write barrier, a JIT's guard pages) and then a report would be
 * wrong, and a sanitizer's report is better than ours; this is Go's
 * forwarding of faults in non-Go code, applied to every fault because
 * every goroutine runs C.  Faults on threads that are not Ms (plain
 * pthreads, gort_main's caller, sysmon) are not gort's either: they go to
 * the previous handler, or get the default action, with no message.
 *
 * Invariants.  The handler runs on the M's alternate signal stack
 * (SA_ONSTACK; gort__minit_signals gives every M one of at least 64 KiB;
 * measured: the kernel's frame 3.3 KiB, up to 12 KiB with AMX state, and
 * the deepest write of the report 6.1 KiB below it), so a goroutine that
 * overflowed its stack can still be reported.  It may interrupt anything, with any
 * runtime lock held: it uses no malloc, no stdio stream, no runtime lock,
 * only snprintf of numbers and strings (which neither allocates nor locks
 * in glibc), write(2) through gort__vfdprint and the traceback code, built
 * for this (bounded, probed reads; allgs walked without a lock).  Only one thread
 * reports; a second faulting thread says so in one line and waits for the
 * first to end the process.  A fault while reporting, on the same thread,
 * is a different signal (the one being handled is blocked, so a repeat of
 * it takes the kernel's default action at once); it prints one line and
 * dies of the first signal.  SIGURG is blocked while the handler runs, so
 * the preemption signal cannot add frames to the alternate stack.
 *
 * Ownership.  prev[] is written once, by gort__signal_fatal_init, before
 * the handlers are live, and only read afterwards.
 *
 * Rejected: returning from the handler to let the fault repeat under
 * SIG_DFL (does not work for int3, kill(2)-sent signals or a fault whose
 * cause went away); abort() after every report (turns every fault into
 * SIGABRT, losing which signal it was; only GORTTRACEBACK=crash asks for
 * it); reporting first and then calling the previous handler (a handler
 * that fixes the fault and returns would leave a fatal report behind in a
 * program that did not die); not installing anything under ASan (the
 * forwarding rule already hands ASan its signals, and a build with ASan
 * that handles no SIGILL still gets our report for SIGILL).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static const struct fatal_sig {
    int sig;
    const char *name, *desc;
} fatal_sigs[] = {
    {SIGSEGV, "SIGSEGV", "segmentation violation"},
    {SIGBUS, "SIGBUS", "bus error"},
    {SIGFPE, "SIGFPE", "floating-point exception"},
    {SIGILL, "SIGILL", "illegal instruction"},
    {SIGTRAP, "SIGTRAP", "trace trap"},
    /* abort(), so every failed assert(): Go crashes on SIGABRT with the
     * goroutine's traceback too.  Not raised by the runtime's own
     * GORTTRACEBACK=crash, which puts SIG_DFL back first (panic.c). */
    {SIGABRT, "SIGABRT", "abort"},
};
#define NFATAL ((int)(sizeof fatal_sigs / sizeof fatal_sigs[0]))

static struct sigaction prev[NFATAL]; /* written once, before ours are live */

/* Signal this thread is reporting, 0 if none.  initial-exec: a handler
 * must not reach __tls_get_addr, which may allocate in a dlopen'd copy. */
static __thread int report_sig __attribute__((tls_model("initial-exec")));

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gort__vfdprint(2, fmt, ap);
    va_end(ap);
}

static int sig_index(int sig)
{
    for (int i = 0; i < NFATAL; i++)
        if (fatal_sigs[i].sig == sig)
            return i;
    return -1;
}

/* si_code as the <signal.h> name, or NULL for a number to be printed. */
static const char *code_name(int sig, int code)
{
    switch (code) {
    case SI_USER: return "SI_USER";
    case SI_KERNEL: return "SI_KERNEL";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_TKILL: return "SI_TKILL";
    }
    static const char *const segv[] = {NULL, "SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR",
                                       "SEGV_PKUERR"};
    static const char *const bus[] = {NULL, "BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR",
                                      "BUS_MCEERR_AR", "BUS_MCEERR_AO"};
    static const char *const fpe[] = {NULL, "FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV",
                                      "FPE_FLTOVF", "FPE_FLTUND", "FPE_FLTRES",
                                      "FPE_FLTINV", "FPE_FLTSUB"};
    static const char *const ill[] = {NULL, "ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR",
                                      "ILL_ILLTRP", "ILL_PRVOPC", "ILL_PRVREG",
                                      "ILL_COPROC", "ILL_BADSTK"};
    static const char *const trap[] = {NULL, "TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH",
                                       "TRAP_HWBKPT"};
#define PICK(tab) (code > 0 && code < (int)(sizeof tab / sizeof tab[0]) ? tab[code] : NULL)
    switch (sig) {
    case SIGSEGV: return PICK(segv);
    case SIGBUS: return PICK(bus);
    case SIGFPE: return PICK(fpe);
    case SIGILL: return PICK(ill);
    case SIGTRAP: return PICK(trap);
    }
#undef PICK
    return NULL;
}

/* Sent by a process (kill, sigqueue, tgkill: si_code <= 0) rather than
 * raised by the instruction (positive codes, SI_KERNEL included). */
static bool from_user(const siginfo_t *info)
{
    return info && info->si_code <= 0;
}

/* The signal's default action: SIG_DFL, unblocked, raised on this thread.
 * For a fault the default is to dump core and die, so this does not
 * return; if a concurrent sigaction made it survive, exit as a throw does. */
static GORT_NORETURN void die_from(int sig)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    /* Raise first, then unblock: the pending signal is delivered as the
     * unblock returns, with no window for this thread to do anything else. */
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    _exit(2);
}

/* Run the handler that was installed before ours as the kernel would have:
 * its mask on top of the current one, sig blocked unless SA_NODEFER, and
 * SA_RESETHAND honoured. */
static void forward(const struct sigaction *pa, int sig, siginfo_t *info, void *ctx)
{
    sigset_t mask, old;
    pthread_sigmask(SIG_SETMASK, NULL, &old);
    mask = old;
    for (int s = 1; s < NSIG; s++)
        if (sigismember(&pa->sa_mask, s) == 1)
            sigaddset(&mask, s);
    if (pa->sa_flags & SA_NODEFER)
        sigdelset(&mask, sig);
    else
        sigaddset(&mask, sig);
    if (pa->sa_flags & SA_RESETHAND) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
    }
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    if (pa->sa_flags & SA_SIGINFO)
        pa->sa_sigaction(sig, info, ctx);
    else
        pa->sa_handler(sig);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* A fault in g's guard page: it ran off its stack, whatever rsp says (a
 * frame bigger than a page moves rsp past the guard, possibly onto another
 * mapping, g0's pthread stack included, before the probe that faults). */
static bool in_guard(const G *g, int sig, const siginfo_t *info)
{
    if ((sig != SIGSEGV && sig != SIGBUS) || from_user(info))
        return false;
    uintptr_t addr = (uintptr_t)info->si_addr;
    return g->guarded && addr >= (uintptr_t)g->stack_map && addr < g->stack_lo;
}

/* Or rsp is already below the stack (a frame bigger than the guard page,
 * or a slab stack without one) by no more than a frame could plausibly
 * move it. */
static bool below_stack(const G *g, int sig, const siginfo_t *info, uintptr_t sp)
{
    if ((sig != SIGSEGV && sig != SIGBUS) || from_user(info))
        return false;
    uintptr_t lo = g->stack_lo;
    uintptr_t reach = (g->stack_hi - lo) + ((uintptr_t)1 << 20);
    return sp < lo && lo - sp <= reach;
}

/* A signal handler that ran off the alternate signal stack every handler
 * runs on (gort adds SA_ONSTACK): the fault is in the guard page below it,
 * or rsp is already there (a frame bigger than the page).  The kernel then
 * delivered this signal at the top of that stack again, since rsp was no
 * longer on it.  [*lo, *hi): the signal stack. */
static bool off_signal_stack(int sig, const siginfo_t *info, uintptr_t sp, uintptr_t *lo,
                             uintptr_t *hi)
{
    stack_t ss;
    if ((sig != SIGSEGV && sig != SIGBUS) || from_user(info) || sigaltstack(NULL, &ss) != 0 ||
        (ss.ss_flags & SS_DISABLE))
        return false;
    *lo = (uintptr_t)ss.ss_sp;
    *hi = *lo + ss.ss_size;
    uintptr_t addr = (uintptr_t)info->si_addr, reach = (uintptr_t)1 << 20;
    return (addr < *lo && *lo - addr <= reach) && (sp < *hi && (sp >= *lo || *lo - sp <= reach));
}

/* n bytes as "256 KiB" (human) or "256K" (a GORTSTACKSIZE value). */
static const char *fmt_size(char *buf, size_t len, size_t n, bool env)
{
    if (n % (1u << 20) == 0)
        snprintf(buf, len, "%zu%s", n >> 20, env ? "M" : " MiB");
    else if (n % 1024 == 0)
        snprintf(buf, len, "%zu%s", n >> 10, env ? "K" : " KiB");
    else
        snprintf(buf, len, "%zu%s", n, env ? "" : " bytes");
    return buf;
}

/* The first lines of the report: what happened, where. */
static void report_signal(const char *title, int i, const siginfo_t *info, uintptr_t pc)
{
    const struct fatal_sig *fs = &fatal_sigs[i];
    int code = info ? info->si_code : 0;
    const char *cn = code_name(fs->sig, code);
    char num[16];
    if (!cn) {
        snprintf(num, sizeof num, "%#x", (unsigned)code);
        cn = num;
    }
    say("gort: fatal error: %s\n", title);
    if (from_user(info)) /* sent (kill, raise, abort): si_addr is the sender's pid */
        say("[signal %s: %s code=%s pid=%d pc=0x%lx]\n", fs->name, fs->desc, cn,
            (int)info->si_pid, (unsigned long)pc);
    else
        say("[signal %s: %s code=%s addr=0x%lx pc=0x%lx]\n", fs->name, fs->desc, cn,
            (unsigned long)(info ? (uintptr_t)info->si_addr : 0), (unsigned long)pc);
}

/* Copy n bytes at p without faulting (false if unreadable): the kernel
 * does the reading and fails with EFAULT instead. */
static bool peek(uintptr_t p, void *out, size_t n)
{
    struct iovec local = {out, n}, remote = {(void *)p, n};
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n;
}

/* Does ra follow a call instruction?  The usual x86-64 encodings: call
 * rel32, call *%reg (with or without REX), call *disp32(%rip), call
 * *(%reg) and call *disp8(%reg). */
static bool after_call(uintptr_t ra)
{
    unsigned char b[6];
    if (ra < sizeof b || !peek(ra - sizeof b, b, sizeof b))
        return false;
    /* b[5] is the byte just before ra, b[0] six before it. */
    return b[1] == 0xe8 ||                                 /* e8 rel32 */
           (b[4] == 0xff && (b[5] & 0xf8) == 0xd0) ||      /* ff d0+r */
           (b[0] == 0xff && b[1] == 0x15) ||               /* ff 15 disp32 */
           (b[4] == 0xff && (b[5] & 0xf8) == 0x10) ||      /* ff /2, (reg) */
           (b[3] == 0xff && (b[4] & 0xf8) == 0x50);        /* ff /2, disp8(reg) */
}

/* A return address into the program's (or the runtime's) code. */
static bool program_ra(uintptr_t ra)
{
    return gort__pc_code(ra) != GORT_PR_FOREIGN && after_call(ra);
}

/* Could the call before ra have entered libc?  A direct call into the
 * program's or the runtime's own code cannot have: a return address
 * after one, found above a libc frame, is stale (left by a deeper call
 * that returned long ago, in memory a libc frame did not write).  An
 * indirect call, or a direct one to a PLT stub or to libc, may have. */
static bool may_call_foreign(uintptr_t ra)
{
    unsigned char b[5];
    if (!peek(ra - 5, b, sizeof b) || b[0] != 0xe8)
        return true; /* not `call rel32`: an indirect call */
    int32_t rel;
    memcpy(&rel, b + 1, sizeof rel);
    return gort__pc_code(ra + (uintptr_t)(intptr_t)rel) == GORT_PR_FOREIGN;
}

/* Does the frame-pointer chain from record fp reach the goroutine's
 * first frame through return addresses into the program only?  A chain
 * that is still such after CHAIN_MAX records is taken as live too: a
 * recursion deeper than that failed every candidate after the whole walk,
 * and program_frame tried a candidate per word (a review: a report after
 * an overflow in libc under 16-byte recursive frames took 97 s).  Each
 * read costs one of *budget. */
#define CHAIN_MAX 4096
static bool chain_ok(const G *g, uintptr_t fp, long *budget)
{
    uintptr_t rec[2];
    for (int depth = 0; depth < CHAIN_MAX; depth++) {
        if (--*budget < 0)
            return false;
        if (fp < g->stack_lo || fp > g->stack_hi - 16 || (fp & 7) || !peek(fp, rec, sizeof rec))
            return false;
        if (rec[1] == (uintptr_t)gort__gostart_ret)
            return true;
        if (!program_ra(rec[1]) || rec[0] <= fp)
            return false;
        fp = rec[0];
    }
    return true;
}

/* A signal raised inside libc (abort's raise, a fault in strlen or
 * memcpy): libc keeps no frame pointers, so rbp may be any value and the
 * chain from it garbage.  Find instead the program's call into libc: the
 * first word above sp that is a return address into the program after a
 * call that may have entered libc, with, above it, the frame record of
 * the function that made the call (a saved rbp pointing higher up the
 * stack next to another return address into the program) whose chain
 * reaches the goroutine's first frame.  Returns that record's address,
 * or 0 (then the plain walk from rbp is printed); *ra the call's return
 * address.  Stale words in libc's frames (a review: 18 dead frames of an
 * earlier recursion, printed as live) fail the call test or the chain.
 * The scan reaches past the largest frame libc makes (a 64 KiB alloca on
 * top of a fixed frame of up to 33 KiB in Debian 12's): sp may lie in the
 * gap below the stack when one of those overflowed it (stack.c). */
static uintptr_t program_frame(const G *g, uintptr_t sp, uintptr_t *ra)
{
    uintptr_t hi = g->stack_hi, w = 0, rec[2];
    uintptr_t lim = sp + (128u << 10) < hi ? sp + (128u << 10) : hi;
    /* Reads (system calls, ~1 us each here) the whole scan may make: a
     * chain that fails deep (a recursion under a callback from libc) is
     * walked again from every candidate below it. */
    long budget = 1L << 18;
    for (uintptr_t at = sp & ~(uintptr_t)7; at + 8 <= lim && budget > 0; at += 8) {
        budget--;
        if (!peek(at, &w, sizeof w) || !program_ra(w) || !may_call_foreign(w))
            continue;
        for (uintptr_t q = at + 8; q + 16 <= lim && budget > 0; q += 8)
            if (budget--, peek(q, rec, sizeof rec) && rec[0] > q && rec[0] < hi && !(rec[0] & 7) &&
                (program_ra(rec[1]) || rec[1] == (uintptr_t)gort__gostart_ret)) {
                if (!chain_ok(g, q, &budget))
                    break;
                *ra = w;
                return q;
            }
    }
    return 0;
}

/* Walk the goroutine's frames from the signal context.  A fault in a leaf
 * function compiled without a frame (gcc omits it in leaves even with
 * -fno-omit-frame-pointer) leaves rbp pointing at the caller's caller, and
 * the caller, whose return address is the word at rsp, would be missing
 * from the chain: when that word follows a call instruction and the chain
 * does not already start with it, it is printed after pc and the walk
 * goes on from rbp.  A signal raised inside libc splices in the program's
 * call into libc the same way (program_frame).  Nothing is written to the
 * goroutine's stack: after an overflow sp lies in the gap below it, whose
 * guard pages would fault.  sp is trusted anywhere from the bottom of
 * that gap (stack_map) up; every read is a peek. */
static void traceback_fault(G *g, uintptr_t pc, uintptr_t sp, uintptr_t fp)
{
    uintptr_t ra = 0, top[2] = {0, 0}, link = 0;
    uintptr_t lo = g->stack_map ? (uintptr_t)g->stack_map : g->stack_lo;
    bool on_stack = sp >= lo && sp <= g->stack_hi - 8;
    if (gort__pc_code(pc) == GORT_PR_FOREIGN && on_stack)
        link = program_frame(g, sp, &ra);
    if (!link && on_stack && fp > sp && peek(sp, &ra, sizeof ra) && after_call(ra) &&
        !(peek(fp, top, sizeof top) && top[1] == ra))
        link = fp;
    if (!link)
        ra = 0;
    gort__traceback_ctx(2, pc, ra, link ? link : fp, g);
}

static void fatal_handler(int sig, siginfo_t *info, void *ctx)
{
    int saved_errno = errno;
    int i = sig_index(sig);
    if (i < 0) { /* cannot happen: only installed for fatal_sigs */
        errno = saved_errno;
        return;
    }
    const struct sigaction *pa = &prev[i];
    if (pa->sa_handler != SIG_DFL && pa->sa_handler != SIG_IGN) {
        forward(pa, sig, info, ctx);
        errno = saved_errno;
        return;
    }
    /* An ignored signal stays ignored when a process sent it; a fault
     * cannot be ignored (the kernel would force the default action). */
    if (pa->sa_handler == SIG_IGN && from_user(info)) {
        errno = saved_errno;
        return;
    }
    M *m = gort__getm();
    if (m == NULL)
        die_from(sig); /* not a goroutine: what would have happened without us */

    if (report_sig != 0) {
        say("gort: fatal error: signal %s while reporting signal %s\n",
            fatal_sigs[i].name, fatal_sigs[sig_index(report_sig)].name);
        die_from(report_sig);
    }
    /* Not in a vfork child, whose memory is its parent's: a nested fault
     * there is the kernel's to end (the signal is blocked meanwhile). */
    if (!gort__in_vfork_child())
        report_sig = sig;
    G *g = m->curg;
    int claim = gort__fatal_claim();
    if (claim < 0) { /* a fatal error was being printed on this thread */
        say("gort: fatal error: signal %s while printing a fatal error\n", fatal_sigs[i].name);
        die_from(sig);
    }
    if (claim == 0) {
        say("gort: fatal error: unexpected signal %s on another thread too (%s %llu)\n",
            fatal_sigs[i].name, g ? "goroutine" : "M", g ? (unsigned long long)g->goid
                                                          : (unsigned long long)m->id);
        /* The first report ends the process; give it time to finish. */
        struct timespec ts = {5, 0};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        die_from(sig);
    }

    gort__freezetheworld();
    const ucontext_t *uc = ctx;
    const greg_t *gr = uc->uc_mcontext.gregs;
    uintptr_t pc = (uintptr_t)gr[REG_RIP];
    uintptr_t sp = (uintptr_t)gr[REG_RSP];
    uintptr_t fp = (uintptr_t)gr[REG_RBP];
    /* curg is still set for a moment after a switch to g0 (until park_m,
     * goexit0 ... clear it) and already set before gogo leaves g0: a fault
     * on the scheduler's stack is the scheduler's.  mstart's own frame
     * lies a little above g0_hi. */
    bool overflow = g && in_guard(g, sig, info);
    if (g && !overflow && m->g0_hi && sp >= m->g0_lo && sp < m->g0_hi + 4096)
        g = NULL;
    if (g && !overflow)
        overflow = below_stack(g, sig, info, sp);
    int level = gort__cfg.traceback;
    uintptr_t ss_lo, ss_hi;
    G *skip = g; /* the goroutine whose frames the report shows */
    if (g && !overflow && off_signal_stack(sig, info, sp, &ss_lo, &ss_hi)) {
        char have[32];
        report_signal("stack overflow in a signal handler", i, info, pc);
        say("a signal handler on goroutine %llu's thread ran past the %s alternate signal "
            "stack handlers run on (sp=%#lx, signal stack=[%#lx, %#lx))\n",
            (unsigned long long)g->goid, fmt_size(have, sizeof have, ss_hi - ss_lo, false),
            (unsigned long)sp, (unsigned long)ss_lo, (unsigned long)ss_hi);
        if (level > GORT_TB_NONE) {
            say("\nsignal handler frames:\n");
            gort__traceback_ctx(2, pc, 0, fp, NULL);
        }
        skip = NULL; /* its goroutine's own frames are listed with the others */
    } else if (g) {
        if (overflow) {
            char have[32], raise[32];
            size_t size = gort__cfg.stacksize;
            report_signal("stack overflow", i, info, pc);
            say("goroutine %llu exceeded its %s stack (sp=%#lx, stack=[%#lx, %#lx)); "
                "raise the limit with GORTSTACKSIZE=%s\n",
                (unsigned long long)g->goid, fmt_size(have, sizeof have, size, false),
                (unsigned long)sp, (unsigned long)g->stack_lo, (unsigned long)g->stack_hi,
                fmt_size(raise, sizeof raise, 2 * size, true));
        } else {
            char title[96];
            snprintf(title, sizeof title, "unexpected signal %s: %s", fatal_sigs[i].name,
                     fatal_sigs[i].desc);
            report_signal(title, i, info, pc);
        }
        if (level > GORT_TB_NONE) {
            say("\ngoroutine %llu [running]:\n", (unsigned long long)g->goid);
            traceback_fault(g, pc, sp, fp);
        }
    } else {
        char title[128];
        snprintf(title, sizeof title, "unexpected signal %s: %s in the scheduler (M%d)",
                 fatal_sigs[i].name, fatal_sigs[i].desc, (int)m->id);
        report_signal(title, i, info, pc);
        if (level > GORT_TB_NONE) {
            say("\nscheduler stack (M%d):\n", (int)m->id);
            gort__traceback_ctx(2, pc, 0, fp, NULL);
        }
    }
    /* The others are a vfork child's parent's: their lock is the parent's. */
    if (level >= GORT_TB_ALL && !gort__in_vfork_child()) {
        say("\n");
        gort__dump_others(2, skip);
    }
    if (level >= GORT_TB_CRASH)
        die_from(SIGABRT);
    die_from(sig);
}

void gort__signal_fatal_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fatal_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGURG); /* no preemption signal on top of a report */
    for (int i = 0; i < NFATAL; i++)
        if (sigaction(fatal_sigs[i].sig, NULL, &prev[i]) != 0)
            gort__throw("sigaction(%s) query failed: errno %d", fatal_sigs[i].name, errno);
    for (int i = 0; i < NFATAL; i++)
        if (sigaction(fatal_sigs[i].sig, &sa, NULL) != 0)
            gort__throw("sigaction(%s) failed: errno %d", fatal_sigs[i].name, errno);
}
