/*
 * skynet.c — the "skynet" whole-program benchmark: a 10-ary tree of
 * goroutines, six levels deep, 1,000,000 leaves (1,111,111 goroutines in
 * all).  Each inner goroutine makes an unbuffered channel, starts its ten
 * children and sums the ten numbers they send on it, then sends the sum up
 * to its parent; leaf i sends i.  The root's sum must be 499999500000 (the
 * program exits 2 otherwise).  Value: wall time in ms from the root's start
 * to its sum.  Written from the published description of the program; the
 * Go twin is bench/go "skynet" (programs.go), which does the same with
 * `go skynet(rc, num, size, div)` and `make(chan int)`.
 *
 * The goroutine is skynet.h's (shared with tests/test_programs.c).  Up
 * to ~1M goroutines are alive at once (the leaves of a subtree wait on
 * their parent's unbuffered channel), so the program also reports its
 * peak RSS.
 *
 * argv[1]: the number of leaves (a power of 10, default 1000000).
 */
#include "common.h"
#include "skynet.h"

#include <sys/resource.h>

static long n_leaves;

static void bench(void *arg)
{
    (void)arg;
    gort_stats s0, s1;
    char st[512];
    int64_t n = n_leaves, want = n * (n - 1) / 2, sum = 0;
    gort_chan *c = gort_chan_make(sizeof(int64_t), 0);
    if (!c)
        bench_die("gort_chan_make failed");
    struct sk_arg root = { c, 0, n };

    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    bench_go(skynet, &root);
    gort_chan_recv(c, &sum);
    int64_t t1 = bench_now();
    gort_read_stats(&s1);
    if (sum != want) {
        fprintf(stderr, "skynet: sum %" PRId64 ", want %" PRId64 "\n", sum, want);
        exit(2);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=skynet impl=gort unit=ms value=%.1f leaves=%" PRId64 " sum=%" PRId64
           " maxrss_mb=%.1f %s\n",
           (double)(t1 - t0) / 1e6, n, sum, (double)ru.ru_maxrss / 1024.0, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_leaves = bench_arg(argc, argv, 1000000);
    long p = 1;
    while (p < n_leaves)
        p *= DIV;
    if (p != n_leaves)
        bench_die("skynet: the number of leaves must be a power of 10");
    int rc = gort_main(bench, NULL);
    return rc ? 1 : 0;
}
