/*
 * print.c — the runtime's printer: formats into a stack buffer and
 * write(2)s it, without stdio or malloc.
 *
 * It can be used with runtime locks held, on g0, from fatal paths and
 * (with care: vsnprintf of integers and strings does not allocate in
 * glibc) from a signal handler.  stdio would take FILE locks that a
 * preempted or crashed thread may hold.  errno is preserved, so printing
 * from a handler or beside a goroutine's own system calls changes nothing.
 * Output longer than the buffer is cut and marked, never split into
 * several writes that other threads' output could interleave with.
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void write_all(int fd, const char *p, size_t n)
{
    int saved = errno; /* a handler or a goroutine's errno must not change */
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break; /* nowhere to report it */
        }
        p += w;
        n -= (size_t)w;
    }
    errno = saved;
}


void gort__vfdprint(int fd, const char *fmt, va_list ap)
{
    /* 2 KiB: one schedtrace line for a few hundred Ps fits, and it is small
     * enough for a signal alternate stack.  Longer output is cut, marked. */
    char buf[2048];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf) {
        static const char mark[] = "...[truncated]\n";
        n = sizeof buf - 1;
        memcpy(buf + n - (sizeof mark - 1), mark, sizeof mark - 1);
    }
    write_all(fd, buf, (size_t)n);
}

void gort__print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gort__vfdprint(2, fmt, ap);
    va_end(ap);
}
