/*
 * sigquit_linux.c — SIGQUIT (kill -QUIT, Ctrl-\) dumps every goroutine and
 * exits with status 2, as a Go program does (Go's signal_unix.go
 * sighandler, _SigThrow for SIGQUIT).
 *
 * What it does.  At scheduler init the handler is installed if SIGQUIT has
 * its default disposition.  The handler hands the interrupted context to
 * gort__sigquit_report (traceback.c), which prints "SIGQUIT: quit", the
 * interrupted goroutine's stack (taken from the signal context, so it is
 * the real one even mid-loop), every other goroutine, and exits 2; at
 * GORTTRACEBACK=crash it dies by SIGABRT instead.
 *
 * A program that handles SIGQUIT itself keeps it: if a handler is in place
 * when gort starts, gort installs nothing and never dumps on SIGQUIT (Go's
 * c-archive mode leaves SIGQUIT to the host program too).  Such a program
 * can call gort_dump_goroutines from its own handling (from ordinary code:
 * the call is not meant for a signal handler).  A handler the program
 * installs after gort started simply replaces ours.  An inherited SIG_IGN
 * is overridden, as Go does: shells start background jobs (`prog &` in a
 * script) with SIGQUIT ignored, and those are the programs one wants to
 * dump; a program that wants SIGQUIT ignored sets SIG_IGN after gort_main
 * starts, or handles it.
 *
 * Invariants.  The handler runs on the thread's alternate signal stack
 * (SA_ONSTACK; every M has one) and saves errno; it does not return when
 * it reports.  Which thread receives a process-directed SIGQUIT is the
 * kernel's choice: a goroutine's thread, an idle M (then the report says
 * "scheduler stack"), or a plain thread.
 *
 * Rejected: doing the dump on a separate thread woken by the handler (a
 * thread per program for a rare event, and it cannot see the interrupted
 * goroutine's registers); stopping every M to trace running goroutines
 * (see traceback.c).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

static pthread_once_t quit_once = PTHREAD_ONCE_INIT;

static void sigquit_handler(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    int saved = errno;
    ucontext_t *uc = ctx;
    greg_t *gr = uc->uc_mcontext.gregs;
    gort__sigquit_report((uintptr_t)gr[REG_RIP], (uintptr_t)gr[REG_RSP], (uintptr_t)gr[REG_RBP],
                         info ? info->si_code : 0);
    errno = saved; /* a second SIGQUIT during the report: ignored */
}

static void install(void)
{
    struct sigaction old;
    if (sigaction(SIGQUIT, NULL, &old) != 0)
        return;
    if ((old.sa_flags & SA_SIGINFO) ||
        (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN))
        return; /* the program's own handler: leave it be */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sigquit_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    /* No preemption signal on top of the dump, as for a fatal signal's
     * report: the dump freezes the world, after which sysmon wants every
     * P back and asks this thread's goroutine too (under memcheck the
     * nested signal left the dump's buffer on the signal stack marked
     * unaddressable: every write into it an error). */
    sigaddset(&sa.sa_mask, SIGURG);
    sigaction(SIGQUIT, &sa, NULL);
}

void gort__sigquit_init(void) { pthread_once(&quit_once, install); }
