/*
 * syscall_bracket.c — the cost of the system-call bracket's fast path.
 *
 * A goroutine calls gort_syscall_enter(); gort_syscall_exit(); N times in
 * a tight loop (no hand-off: the bracket is left long before any bound).
 * R rounds (N = 10M); value: ns per enter+exit pair, best round (interference from
 * other processes only ever adds time); the median round is reported too.
 * Target <= 20 ns.
 *
 * Also, what the interposed libc wrappers cost on top of the bare system
 * call, each the best of R interleaved rounds of M = N/40 calls:
 *   getppid: syscall(SYS_getppid) (libc's syscall(), wrapped by gort) vs
 *            the same system call made by an inline `syscall` instruction
 *            (nothing to wrap) — the same pair the Go twin times (not
 *            getpid: gort's syscall() leaves SYS_getpid unbracketed);
 *   read:    read() of 0 bytes from /dev/zero (wrapped) vs the same raw.
 * The differences (getppid_wrap_ns, read_wrap_ns) are the per-call price of
 * knowing the system-call state.
 *
 * Twin: bench/go "syscall_bracket": per call, syscall.Syscall(SYS_GETPPID)
 * minus syscall.RawSyscall(SYS_GETPPID), best of R interleaved rounds each:
 * Syscall is RawSyscall inside runtime.entersyscall/exitsyscall, so the
 * difference is Go's bracket (entersyscall + exitsyscall fast path).
 */
#define _GNU_SOURCE 1
#include "common.h"

#include <fcntl.h>
#include <sys/syscall.h>

enum { ROUNDS = 5 };
static long n_pairs;

static inline long raw_syscall3(long nr, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return r;
}

static double per_op(int64_t t0, int64_t t1, long n)
{
    return (double)(t1 - t0) / (double)n;
}

static double min_of(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void bench(void *arg)
{
    (void)arg;
    long n = n_pairs, m = n / 40;
    double br[ROUNDS], gw[ROUNDS], gr[ROUNDS], rw[ROUNDS], rr[ROUNDS];
    gort_stats s0, s1;
    char st[512], buf[1];
    int fd = open("/dev/zero", O_RDONLY);
    if (fd < 0)
        bench_die("cannot open /dev/zero");

    for (long i = 0; i < n / 10; i++) { /* warm-up */
        gort_syscall_enter();
        gort_syscall_exit();
    }
    gort_read_stats(&s0);
    for (int r = 0; r < ROUNDS; r++) {
        int64_t t0 = bench_now();
        for (long i = 0; i < n; i++) {
            gort_syscall_enter();
            gort_syscall_exit();
        }
        br[r] = per_op(t0, bench_now(), n);
    }
    gort_read_stats(&s1);
    for (int r = 0; r < ROUNDS; r++) {
        int64_t t0 = bench_now();
        for (long i = 0; i < m; i++)
            syscall(SYS_getppid);
        int64_t t1 = bench_now();
        for (long i = 0; i < m; i++)
            raw_syscall3(SYS_getppid, 0, 0, 0);
        int64_t t2 = bench_now();
        for (long i = 0; i < m; i++)
            if (read(fd, buf, 0) != 0)
                bench_die("read failed");
        int64_t t3 = bench_now();
        for (long i = 0; i < m; i++)
            if (raw_syscall3(SYS_read, fd, (long)buf, 0) != 0)
                bench_die("raw read failed");
        int64_t t4 = bench_now();
        gw[r] = per_op(t0, t1, m);
        gr[r] = per_op(t1, t2, m);
        rw[r] = per_op(t2, t3, m);
        rr[r] = per_op(t3, t4, m);
    }
    close(fd);

    double best = min_of(br, ROUNDS), med = median_of(br, ROUNDS);
    double gwm = min_of(gw, ROUNDS), grm = min_of(gr, ROUNDS);
    double rwm = min_of(rw, ROUNDS), rrm = min_of(rr, ROUNDS);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=syscall_bracket impl=gort unit=ns/op value=%.2f n=%ld rounds=%d"
           " median=%.2f getppid_wrapped_ns=%.1f getppid_raw_ns=%.1f getppid_wrap_ns=%.1f"
           " read_wrapped_ns=%.1f read_raw_ns=%.1f read_wrap_ns=%.1f calls=%ld %s\n",
           best, n, ROUNDS, med, gwm, grm, gwm - grm, rwm, rrm, rwm - rrm, m, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_pairs = bench_arg(argc, argv, 10000000);
    return gort_main(bench, NULL) ? 1 : 0;
}
