/*
 * fatal_copy_linux.c — file:line in a fatal signal's report, looked up by a
 * copy of the dying process.
 *
 * Go's crash tracebacks name each frame's file and line.  gort gets them
 * from DWARF through libdw (dwarf.c), whose session must be opened first:
 * dlopen, the loader's lock, allocations.  A process dying of a fault may
 * be in no state for that: its heap may be what broke, another thread may
 * hold malloc's or the loader's lock, this one may have faulted inside
 * them.  So the report (signal_fatal.c) prints its header itself and has
 * its frames printed by a copy of the process -- a fork without fork():
 * clone(2) without CLONE_VM, which runs no atfork handler (glibc's take
 * malloc's locks) and leaves every other thread behind.  The copy opens the
 * session on its own memory and prints the frames to the same stderr.
 * Whatever happens to it happens to the copy: a fault there kills it (the
 * signal is blocked in the handler, so the kernel forces it), a lock whose
 * holder was left behind hangs it, and the parent, which waits at most
 * COPY_WAIT_NS, kills it and prints the frames itself without file:line.
 * A copy that fails after it began printing is announced first, so a
 * reader knows why frames repeat.
 *
 * Not used, and the frames printed in place as before, where the session is
 * already open (an earlier dump or throw: the walk in place has file:line),
 * in a fork's or vfork's child (the runtime's state there is a copy
 * already, or the parent's), and under valgrind (a copy is a second
 * valgrind process).
 *
 * The copy's exit signal is 0, not SIGCHLD: the program's SIGCHLD handler
 * is not run for it, SIG_IGN does not reap it before the parent can read
 * its status, and a wait for any child does not take it (only __WALL or
 * __WCLONE waits see such a child).  PR_SET_PDEATHSIG ends it if the parent
 * dies first.  Everything here is a raw system call: the handler may not
 * enter gort's own wrappers (nanosleep, prctl through libc's syscall()).
 *
 * Rejected: opening the session in the dying process (a fault in malloc,
 * or a broken heap, would hang or kill the report before any frame was
 * out); addr2line in a child per frame (an exec and a whole process per
 * frame); buffering the copy's output to print it only once complete (a
 * large GORTTRACEBACK=all dump needs a large buffer; a failed copy is rare
 * and announced).
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "valgrind_hooks.h"
#include "arch/syscall_amd64.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

/* How long the parent waits for the copy: opening libdw and reading the
 * program's line tables takes tens of milliseconds; a copy stuck on a lock
 * left behind never finishes. */
#define COPY_WAIT_NS 5000000000LL

static GORT_NORETURN void copy_exit(int code)
{
    for (;;)
        gort__sys3(SYS_exit_group, code, 0, 0);
}

bool gort__fatal_frames_in_copy(void (*frames)(void *), void *arg, bool *partial)
{
    *partial = false;
    if (gort__dwarf_available() || gort__in_forked_child() || gort__in_vfork_child() ||
        RUNNING_ON_VALGRIND)
        return false;
    /* One shared page: whether the copy began printing. */
    long mp = gort__sys6(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                         -1, 0);
    if (mp < 0 && mp > -4096)
        return false;
    volatile int *started = (volatile int *)mp;
    long parent = gort__sys3(SYS_getpid, 0, 0, 0);
    long pid = gort__sys6(SYS_clone, 0 /* no flags, exit signal 0 */, 0, 0, 0, 0, 0);
    if (pid == 0) {
        /* A fault or abort() here kills the copy quietly instead of
         * entering the report's handler again. */
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT};
        struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl = {0};
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
            gort__sys6(SYS_rt_sigaction, fatal[i], (long)&dfl, 0, 8, 0, 0);
        gort__sys6(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0);
        if (gort__sys3(SYS_getppid, 0, 0, 0) != parent)
            copy_exit(4);
        gort__dwarf_open();
        if (!gort__dwarf_available())
            copy_exit(3); /* no libdw, or no session: nothing to gain */
        *started = 1;
        frames(arg);
        copy_exit(0);
    }
    bool ok = false;
    if (pid > 0) {
        int st = 0;
        int64_t end = gort__nanotime() + COPY_WAIT_NS;
        long r;
        while ((r = gort__sys6(SYS_wait4, pid, (long)&st, WNOHANG | __WALL, 0, 0, 0)) == 0 &&
               gort__nanotime() < end) {
            struct timespec ts = {0, 1000000};
            gort__sys3(SYS_nanosleep, (long)&ts, 0, 0);
        }
        if (r == 0) { /* stuck: end it */
            gort__sys3(SYS_kill, pid, SIGKILL, 0);
            while ((r = gort__sys6(SYS_wait4, pid, (long)&st, __WALL, 0, 0, 0)) == -EINTR)
                ;
            r = 0;
        }
        ok = r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        *partial = !ok && *started;
    }
    gort__sys3(SYS_munmap, mp, 4096, 0);
    return ok;
}
