/*
 * fork_linux.c — what fork() leaves of the runtime in the child: nothing
 * that runs.  The child of a fork() made after gort_main started may only
 * exec (or _exit), as Go's own children do (syscall.forkAndExecInChild
 * runs no Go code between fork and exec) and as POSIX already says for the
 * child of any multithreaded process (only async-signal-safe calls until
 * exec).  gort enforces it: in such a child every gort operation that
 * would switch goroutines, wait for another thread, start a thread or a
 * goroutine, or wake one is `gort: fatal error: ... in the child of
 * fork()` with the caller's traceback, instead of the hang or the double
 * side effects it used to be.
 *
 * How.  A pthread_atfork child handler (registered once, by gort_main)
 * runs in the child before fork() returns, on the only thread there is:
 *   - sets gort__forked, which five cold places test: mcall (every switch
 *     away from a goroutine: park, yield, preemption, exit), futex waits
 *     (a runtime lock held by a thread that was not copied, a note, a
 *     plain thread's park: all wait for a thread that does not exist),
 *     thread creation (newm, helper threads), gort_go and goready;
 *   - raises the forking goroutine's preempt_off, so the libc wrappers
 *     (interpose_linux.c) no longer bracket calls: entersyscall would
 *     release a P and hand it to a scheduler that does not exist, and a
 *     preemption signal the parent had in flight (m->signal_pending)
 *     would be waited for for ever.  No SIGURG of ours reaches the child:
 *     sysmon did not survive the fork, and the handler only acts on
 *     signals queued by this very pid.
 * The child's memory still holds the parent's other goroutines, run
 * queues and locks; nothing of it is touched, so nothing of it runs.
 * Tracebacks in the child print the calling goroutine only (the others
 * are not in this process) and never load libdw (dlopen could wait for a
 * loader lock another thread held at the fork).
 *
 * Rejected: reviving the runtime in the child (one P, the other
 * goroutines dropped): every channel, semaphore and timer the parent's
 * goroutines wait on would have to forget them, or the child's first
 * send to such a channel would run the copy of a parent's goroutine, its
 * side effects twice; runtime locks held at the fork by other Ms (and by
 * plain threads inside channel calls) would have to be reset without
 * knowing what they protected.  Go does not support it either.  Taking
 * every runtime lock in a prepare handler: it would stop the world at
 * every fork (the common fork+exec pays for nothing it uses) and still
 * leave the other goroutines' copies.  A fork() wrapper instead of
 * pthread_atfork: fork called inside libc (daemon(), forkpty) would miss
 * it.  posix_spawn(), system() and popen() do not run atfork handlers
 * and need nothing: their children share the parent's memory but run
 * only libc code until exec (glibc's clone(CLONE_VM|CLONE_VFORK) child),
 * and the parent's thread waits in the kernel meanwhile.
 *
 * vfork().  Its child runs the program's own code on the parent's thread's
 * stack, memory and TLS, and that code reaches the libc wrappers (dup2,
 * close, sigaction, sigprocmask before exec), which would act for the
 * parent's M and goroutine.  gort's vfork (arch/vfork_amd64.S) puts the
 * calling thread's id in gort__vfork_tid (TLS) for the child's lifetime;
 * the child, whose id differs, is then a vfork child
 * (gort__in_vfork_child): the wrappers pass its calls straight to libc,
 * gort__in_forked_child is true, so the runtime refuses to switch, wait
 * or wake there as in a fork child, and a runtime lock is refused before
 * it is taken (gort__lock: a lock the dying child held would stop the
 * parent).  An id, not a flag: a signal handler that runs on the parent's
 * thread as the call returns sees the mark set, and its own id in it.
 * Thread-local, not a global like gort__forked: the child shares the
 * memory with the parent's other threads, which go on running.
 * A program that gets vfork some other way (syscall(SYS_vfork), clone
 * with CLONE_VM) gets no mark; documented.
 * _Fork() and raw clone/fork system calls run no handler: their children
 * are the program's to keep to exec (documented).
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "arch/syscall_amd64.h"

#include <errno.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

_Atomic bool gort__forked;
__thread int gort__vfork_tid __attribute__((tls_model("initial-exec"), visibility("hidden")));

bool gort__vfork_child_slow(void)
{
    return (int)gort__sys3(SYS_gettid, 0, 0, 0) != gort__vfork_tid;
}

/* vfork's failure (arch/vfork_amd64.S jumps here with -errno): libc's
 * convention. */
int gort__vfork_failed(int neg)
{
    errno = -neg;
    return -1;
}
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_child(void)
{
    atomic_store_explicit(&gort__forked, true, memory_order_relaxed);
    gort__signal_forked();
    M *m = gort__getm();
    G *g = m ? m->curg : NULL;
    if (g) {
        g->preempt_off++;
        atomic_signal_fence(memory_order_seq_cst);
    }
}

static void fork_register(void)
{
    if (pthread_atfork(NULL, NULL, fork_child) != 0)
        gort__throw("pthread_atfork failed");
}

void gort__fork_init(void) { pthread_once(&fork_once, fork_register); }

void gort__forked_fatal(const char *what)
{
    const char *call = gort__in_vfork_child() ? "vfork()" : "fork()";
    gort__throw("%s in the child of %s (pid %d): the runtime's threads and other "
                "goroutines stayed in the parent; after %s a child may only exec or "
                "_exit (use posix_spawn, or exec before any gort call)",
                what, call, (int)getpid(), call);
}
