/*
 * mem_linux.c — advice on many ranges of our own memory in one system
 * call, and one range at a time where that is refused (Go's mem_linux.go
 * holds its sysUnused and friends; this is the piece of that gort's stack
 * pools and scavenger share).
 *
 * process_madvise(2) takes a vector of ranges and, since Linux 6.13, any
 * advice on the caller's own process.  stack.c installs a batch's guard
 * markers with one call and commits their top pages with another; the
 * scavenger drops a batch's deep pages with one (one TLB flush for all of
 * them on 6.16+).  The call names its target by a pidfd; since Linux 6.14
 * the sentinel PIDFD_SELF_THREAD (-10000) names the calling thread without
 * any descriptor, and that is the only form gort uses: the advice applies
 * to the target's memory, which is the whole process's.  (Not the thread
 * group's sentinel: it was -20000 in 6.14-6.16 and is -10001 since 6.17,
 * and it fails with ESRCH once the main thread has exited.)
 *
 * Why no real pidfd.  A descriptor the program does not know about is
 * wrong either way it could be held:
 *   - opened for each call, it is a slot of the fd table that comes and
 *     goes under the program's feet: a program at its RLIMIT_NOFILE saw
 *     an accept succeed between two EMFILEs (test_netpoll_emfile), and
 *     the spawning goroutine's batch opened one for every 32 stacks;
 *   - held for the process's life (the scavenger did), the program may
 *     close it (daemons close every fd above 2) and reuse its number; had
 *     the new file been a pidfd of a child, MADV_DONTNEED at our stacks'
 *     addresses would have zeroed the child's memory there.
 * The sentinel also names the child in a forked child, never its parent.
 * Where it is refused (before 6.14: EBADF, a negative number being no
 * descriptor), callers fall back to one madvise per range, as on kernels
 * without process_madvise; of the kernels with guard markers, only 6.13
 * loses its batching by this.  A refusal that will not change (EBADF,
 * ENOSYS, EPERM from a seccomp filter, EINVAL) is remembered; others
 * (ENOMEM) are the caller's to fall back from, batch by batch.  Under
 * valgrind, which does not know the call, it is not made.
 */
#include "runtime.h"
#include "valgrind_hooks.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* PIDFD_SELF_THREAD, Linux 6.14+ (uapi pidfd.h, later fcntl.h); Debian
 * 12's headers predate it. */
#define SELF_THREAD (-10000)

static _Atomic bool self_refused;

int gort__madvise(void *addr, size_t len, int advice)
{
    int r;
    while ((r = madvise(addr, len, advice)) != 0 && (errno == EINTR || errno == EAGAIN))
        ;
    return r;
}

long gort__madvise_many(struct iovec *iov, size_t n, int advice)
{
#ifdef SYS_process_madvise
    /* valgrind 3.19 does not know the call (a warning, then ENOSYS). */
    if (atomic_load_explicit(&self_refused, memory_order_relaxed) || RUNNING_ON_VALGRIND)
        return -1;
    long r;
    while ((r = syscall(SYS_process_madvise, SELF_THREAD, iov, n, advice, 0)) < 0 &&
           (errno == EINTR || errno == EAGAIN))
        ;
    if (r < 0 && (errno == EBADF || errno == ENOSYS || errno == EPERM || errno == EINVAL))
        atomic_store_explicit(&self_refused, true, memory_order_relaxed);
    return r;
#else
    (void)iov, (void)n, (void)advice;
    return -1;
#endif
}
