/*
 * pthread_lock.c — cost of gort's pthread-lock bookkeeping (issue 9):
 * an uncontended pthread_mutex_lock + pthread_mutex_unlock pair on a
 * default mutex, from a goroutine, through the program's own calls (which
 * the executable's link binds to gort's wrappers, interpose_lock.c) and
 * through glibc's functions directly (dlsym(RTLD_NEXT)), in batches of
 * 1000 pairs alternated between the two, N pairs each; the fastest batch
 * of each is kept (a shared, noisy machine: the minimum is what the code
 * costs, the rest is other programs).
 * Value: ns per pair through the wrappers minus ns per pair straight to
 * glibc.  No Go twin (Go has no pthread mutexes).
 */
#define _GNU_SOURCE
#include "common.h"

#include <dlfcn.h>
#include <pthread.h>

typedef int lockfn(pthread_mutex_t *);
static lockfn *volatile glibc_lock, *volatile glibc_unlock;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long n_pairs;

static __attribute__((noinline)) double wrapped(long n)
{
    int64_t t0 = bench_now();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&mu);
        __asm__ volatile("" ::: "memory");
        pthread_mutex_unlock(&mu);
    }
    return (double)(bench_now() - t0) / (double)n;
}

static __attribute__((noinline)) double direct(long n)
{
    lockfn *l = glibc_lock, *u = glibc_unlock;
    int64_t t0 = bench_now();
    for (long i = 0; i < n; i++) {
        l(&mu);
        __asm__ volatile("" ::: "memory");
        u(&mu);
    }
    return (double)(bench_now() - t0) / (double)n;
}

static void bench(void *arg)
{
    (void)arg;
    double bw = 1e9, bd = 1e9;
    wrapped(n_pairs / 10);
    direct(n_pairs / 10);
    for (long r = 0; r < n_pairs / 1000; r++) {
        double w = wrapped(1000), d = direct(1000);
        if (w < bw)
            bw = w;
        if (d < bd)
            bd = d;
    }
    printf("RESULT name=pthread_lock impl=gort unit=ns/op value=%.2f wrapped=%.2f glibc=%.2f n=%ld\n",
           bw - bd, bw, bd, n_pairs);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_pairs = bench_arg(argc, argv, 5000000);
    glibc_lock = (lockfn *)dlsym(RTLD_NEXT, "pthread_mutex_lock");
    glibc_unlock = (lockfn *)dlsym(RTLD_NEXT, "pthread_mutex_unlock");
    if (!glibc_lock || !glibc_unlock || (void *)glibc_lock == (void *)pthread_mutex_lock)
        bench_die("glibc's pthread_mutex_lock not found behind the wrapper");
    return gort_main(bench, NULL) ? 1 : 0;
}
