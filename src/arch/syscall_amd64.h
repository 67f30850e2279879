/*
 * syscall_amd64.h — system calls without libc, for the runtime's own I/O
 * (the netpoller, the fd calls).
 *
 * Why not libc: the wrappers set errno (the goroutine's, now: threadstate)
 * where the runtime wants the error as a value; several are interposed by
 * gort itself (interpose_linux.c: close, read, write...), so a call from
 * the runtime would run through a wrapper that only works out that it has
 * nothing to do; and glibc's read/write are cancellation points.  Results
 * are the kernel's: >= 0, or -errno.
 */
#ifndef GORT_ARCH_SYSCALL_AMD64_H
#define GORT_ARCH_SYSCALL_AMD64_H

static inline long gort__sys6(long nr, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

static inline long gort__sys3(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

#endif
