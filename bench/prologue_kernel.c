/*
 * prologue_kernel.c — the call-heavy kernels of bench/prologue.c.  This
 * file is compiled into the same program with -fsplit-stack and
 * KSUFFIX=_split_pP (every function starts with the stack check) and
 * without it and KSUFFIX=_plain_pP, at each of four code placements P
 * (bench/run.sh), so that the driver can time the two copies alternately
 * in one process (same machine state, same data, same goroutine, same
 * placement) and the difference is the prologue's cost.
 *
 *   fib:     naive recursive Fibonacci, ~1.6 million calls for fib(30),
 *            almost nothing but calls and returns;
 *   sort:    a quicksort (median of three, insertion sort below 16
 *            elements) of 64-bit integers that compares through a
 *            function pointer: one comparator call per comparison, the
 *            pattern of qsort-style code (libc's qsort is not used: it is
 *            code without checks, and would time libc, not the prologue);
 *   callslibc: a function that calls strlen, libc's, code without checks:
 *            gold and lld rewrite its check to `stc` (always the slow
 *            path), so in the split copy every call goes through gort's
 *            __morestack_non_split fast path.
 *
 * No libc call anywhere else (the sort swaps by hand, and gcc is told not
 * to turn loops into memcpy/memset calls, see bench/run.sh), so only
 * callslibc's prologue is rewritten by the linker.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef KSUFFIX
#error "compile with -DKSUFFIX=_split or -DKSUFFIX=_plain"
#endif
#define KCAT2(a, b) a##b
#define KCAT(a, b) KCAT2(a, b)
#define K(name) KCAT(name, KSUFFIX)

typedef int (*kcmp_fn)(const void *, const void *);

__attribute__((noinline)) long K(fib)(int n)
{
    return n < 2 ? n : K(fib)(n - 1) + K(fib)(n - 2);
}

__attribute__((noinline)) int K(cmp)(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void K(swap)(int64_t *a, int64_t *b)
{
    int64_t t = *a;
    *a = *b;
    *b = t;
}

__attribute__((noinline)) void K(sort)(int64_t *a, long n, kcmp_fn cmp)
{
    while (n > 16) {
        long mid = n / 2;
        if (cmp(&a[mid], &a[0]) < 0)
            K(swap)(&a[mid], &a[0]);
        if (cmp(&a[n - 1], &a[mid]) < 0) {
            K(swap)(&a[n - 1], &a[mid]);
            if (cmp(&a[mid], &a[0]) < 0)
                K(swap)(&a[mid], &a[0]);
        }
        int64_t pivot = a[mid];
        long i = 0, j = n - 1;
        for (;;) {
            while (cmp(&a[i], &pivot) < 0)
                i++;
            while (cmp(&pivot, &a[j]) < 0)
                j--;
            if (i >= j)
                break;
            K(swap)(&a[i], &a[j]);
            i++;
            j--;
        }
        /* Recurse into the smaller part, loop on the larger. */
        long left = j + 1;
        if (left < n - left) {
            K(sort)(a, left, cmp);
            a += left;
            n -= left;
        } else {
            K(sort)(a + left, n - left, cmp);
            n = left;
        }
    }
    for (long i = 1; i < n; i++)
        for (long k = i; k > 0 && cmp(&a[k], &a[k - 1]) < 0; k--)
            K(swap)(&a[k], &a[k - 1]);
}

__attribute__((noinline)) size_t K(callslibc)(const char *s)
{
    return strlen(s) + 1;
}
