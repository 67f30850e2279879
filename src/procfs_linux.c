/*
 * procfs_linux.c — reading a small /proc file for the runtime itself
 * (the kernel's thread count for the deadlock check, a thread's state
 * for the stuck report (on sysmon), this thread's seccomp mode for
 * iobatch).
 *
 * Raw system calls, not libc's: open, read and close through gort's own
 * wrappers would enter system-call brackets from runtime code, and the
 * close wrapper takes the number's pd->lock (netpoll.c), which the
 * netpoller holds while it takes sched.lock -- the deadlock check reads
 * with sched.lock held.  No stdio: no allocation, and callable where a
 * FILE's lock could be held by the interrupted code.  EINTR is retried.
 */
#include "runtime.h"
#include "arch/syscall_amd64.h"

#include <fcntl.h>
#include <sys/syscall.h>

ssize_t gort__procfs_read(const char *path, char *buf, size_t n)
{
    long fd;
    do
        fd = gort__sys6(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
    while (fd == -EINTR);
    if (fd < 0)
        return -1;
    size_t len = 0;
    long r = 0;
    while (len < n - 1) {
        r = gort__sys3(SYS_read, fd, (long)(buf + len), (long)(n - 1 - len));
        if (r == -EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    gort__sys3(SYS_close, fd, 0, 0);
    buf[len] = 0;
    return r < 0 ? -1 : (ssize_t)len;
}
