/*
 * msort.c — parallel divide-and-conquer: a merge sort of N pseudo-random
 * int64s (an LCG, the same sequence as the Go twin) that, above a cutoff
 * of 2048 elements, sorts the left half in a new goroutine and the right
 * half itself, waits for the left on a WaitGroup of its own and merges;
 * at or below the cutoff it sorts sequentially (top-down merge sort,
 * insertion sort under 24 elements).  Goroutines spawn goroutines down the
 * tree (N / 2048 leaves), so the work starts on one P and must spread.
 * The result is checked: sorted, and the same sum and xor as the input
 * (exit 2 otherwise).  Value: wall time in ms of the sort.  Go twin:
 * bench/go "msort" (programs.go), the same code on slices with
 * sync.WaitGroup.
 *
 * What it stresses: spawning from many goroutines at once, work
 * distribution between 2 Ps (run queues, stealing), WaitGroup wakes;
 * the sequential part is plain compiled code (C -O2 vs Go's compiler).
 *
 * argv[1]: the number of elements (default 2000000).
 */
#include "common.h"
#include "msort.h" /* the sort (shared with tests/test_programs.c) */

static long n_elems;

static void bench(void *arg)
{
    (void)arg;
    gort_stats s0, s1;
    char st[512];
    long n = n_elems;
    int64_t *a = malloc((size_t)n * sizeof *a), *tmp = malloc((size_t)n * sizeof *a);
    if (!a || !tmp)
        bench_die("malloc failed");
    uint64_t x = 1, sum0 = 0, xor0 = 0, sum1 = 0, xor1 = 0;
    for (long i = 0; i < n; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        a[i] = (int64_t)(x >> 1);
        sum0 += (uint64_t)a[i];
        xor0 ^= (uint64_t)a[i];
    }
    /* Fault tmp in before the clock: Go 1.19 advises its heap
     * MADV_HUGEPAGE, so its twin's tmp costs a handful of faults, where
     * glibc's 4 KiB pages cost 3,900 here (15 us each on a VM that maps
     * every first touch).  Not zeroes: gcc turns malloc + memset(0) into
     * calloc, which touches nothing, and the faults then fell inside the
     * sort (25-30 of its ~145 ms). */
    memset(tmp, 0xff, (size_t)n * sizeof *tmp);

    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    psort(a, tmp, n);
    int64_t t1 = bench_now();
    gort_read_stats(&s1);
    for (long i = 0; i < n; i++) {
        if (i > 0 && a[i - 1] > a[i]) {
            fprintf(stderr, "msort: not sorted at %ld\n", i);
            exit(2);
        }
        sum1 += (uint64_t)a[i];
        xor1 ^= (uint64_t)a[i];
    }
    if (sum0 != sum1 || xor0 != xor1)
        bench_die("msort: the elements changed");
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=msort impl=gort unit=ms value=%.1f elems=%ld cutoff=%d %s\n",
           (double)(t1 - t0) / 1e6, n, CUTOFF, st);
    fflush(stdout);
    free(a);
    free(tmp);
}

int main(int argc, char **argv)
{
    n_elems = bench_arg(argc, argv, 2000000);
    int rc = gort_main(bench, NULL);
    return rc ? 1 : 0;
}
