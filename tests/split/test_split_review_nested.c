/*
 * test_split_review_nested.c — a nested variadic function (gcc: a static
 * chain in r10 and va_start) resumes with its stack arguments after a stop
 * at its prologue.  gcc saves the chain in rax across `call __morestack`
 * and begins the continuation `mov %rax,%r10; lea 0x18(%rbp),%r11`; the
 * runtime must do both (arch/morestack_amd64.S, RESUME), not run the lea
 * with the caller's rbp.  Two shapes: a check that goes to __morestack,
 * and one that calls libc (gold and lld turn it into `stc` and send it to
 * __morestack_non_split, whose fast path resumes the same way).  Each is
 * called once with the guard intact and once right after this thread's
 * guard word was poisoned (the slow path, resumed at once as no request
 * is pending).  Built -fsplit-stack by the split-stack rules (tests/split);
 * clang has no nested functions: skipped there, saying so.
 */
#include "check.h"

#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>

#if defined(__clang__) || !defined(GORT_TEST_SPLIT)
int main(void)
{
    printf("test_split_review_nested: skipped (needs gcc and -fsplit-stack)\n");
    return 0;
}
#else
static inline __attribute__((always_inline)) void poison_self(void)
{
    __asm__ volatile("movq %0, %%fs:0x70" : : "r"((uint64_t)0xfffffffffffffadeull) : "memory");
}

static __attribute__((noipa)) void run(long k)
{
    /* 9 longs: 5 in registers after n, 4 on the stack. */
    __attribute__((noipa)) long plain(int n, ...)
    {
        va_list ap;
        va_start(ap, n);
        long s = k;
        for (int i = 0; i < n; i++)
            s += va_arg(ap, long) * (i + 1);
        va_end(ap);
        return s;
    }
    __attribute__((noipa)) long calls_libc(int n, ...)
    {
        va_list ap;
        va_start(ap, n);
        long s = k;
        for (int i = 0; i < n; i++)
            s += va_arg(ap, long) * (i + 1);
        va_end(ap);
        return s + (getpid() < 0);
    }
    long want = k + 285; /* sum of i*i for i = 1..9 */
    long got = plain(9, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);
    CHECK_EQ(got, want);
    poison_self();
    got = plain(9, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);
    CHECK_EQ(got, want);
    got = calls_libc(9, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);
    CHECK_EQ(got, want);
    poison_self();
    got = calls_libc(9, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);
    CHECK_EQ(got, want);
}

static void body(void *arg)
{
    run(5);
    printf("test_split_review_nested: ok\n");
}

int main(void)
{
    run_main(body, NULL);
    return 0;
}
#endif
