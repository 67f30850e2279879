/*
 * errno_read.c — the cost of an errno read in code that includes gort.h
 * (gort__errno_inline: the thread pointer read by a volatile asm at every
 * use, plus errno's offset), next to libc's errno as the compiler may
 * compile it: glibc's __errno_location is const, so the loop calls it
 * once and reads through the kept address (the empty asm keeps the read
 * in the loop).  Value: ns per read, best of 5 alternated runs of N reads.
 * No Go twin: Go has no errno.
 */
#include "common.h"

static long n_reads;

/* libc's errno. */
__attribute__((noinline)) static long libc_reads(long n)
{
    long sum = 0;
    for (long i = 0; i < n; i++) {
        int *p = __errno_location();
        __asm__ volatile("" : "+r"(p));
        sum += *p;
    }
    return sum;
}

__attribute__((noinline)) static long gort_reads(long n)
{
    long sum = 0;
    for (long i = 0; i < n; i++)
        sum += errno;
    return sum;
}

static void bench(void *arg)
{
    (void)arg;
    long n = n_reads;
    errno = 1;
    long s = gort_reads(100000) + libc_reads(100000);
    /* Alternated, best of 5 each: the machine is shared and its clock
     * varies. */
    double best_g = 1e9, best_l = 1e9;
    for (int r = 0; r < 5; r++) {
        int64_t t0 = bench_now();
        s += gort_reads(n);
        int64_t t1 = bench_now();
        s += libc_reads(n);
        int64_t t2 = bench_now();
        double g = (double)(t1 - t0) / (double)n, l = (double)(t2 - t1) / (double)n;
        best_g = g < best_g ? g : best_g;
        best_l = l < best_l ? l : best_l;
    }
    printf("RESULT name=errno_read impl=gort unit=ns/op value=%.2f n=%ld\n", best_g, n);
    printf("RESULT name=errno_read impl=libc unit=ns/op value=%.2f n=%ld sum=%ld\n", best_l, n, s);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_reads = bench_arg(argc, argv, 100000000);
    return gort_main(bench, NULL) ? 1 : 0;
}
