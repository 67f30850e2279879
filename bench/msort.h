/*
 * msort.h — the parallel merge sort, the core of bench/msort.c, shared
 * with tests/test_programs.c (which sorts fewer elements with a lower
 * cutoff, MSORT_CUTOFF, and checks the result).  The includer provides
 * bench_go(fn, arg), which starts a goroutine or fails (common.h: exit 2;
 * the test: CHECK, and it counts the goroutines).
 */
#ifndef GORT_BENCH_MSORT_H
#define GORT_BENCH_MSORT_H

#ifndef MSORT_CUTOFF
#define MSORT_CUTOFF 2048
#endif

enum { CUTOFF = MSORT_CUTOFF, INSERTION = 24 };

static void insertion(int64_t *a, long n)
{
    for (long i = 1; i < n; i++) {
        int64_t v = a[i];
        long j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

/* Merge the sorted halves a[0..m) and a[m..n) through tmp back into a. */
static void merge(int64_t *a, int64_t *tmp, long m, long n)
{
    long i = 0, j = m, k = 0;
    while (i < m && j < n)
        tmp[k++] = a[j] < a[i] ? a[j++] : a[i++];
    while (i < m)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, (size_t)n * sizeof *a);
}

static void seqsort(int64_t *a, int64_t *tmp, long n)
{
    if (n <= INSERTION) {
        insertion(a, n);
        return;
    }
    long m = n / 2;
    seqsort(a, tmp, m);
    seqsort(a + m, tmp + m, n - m);
    merge(a, tmp, m, n);
}

struct job {
    int64_t *a, *tmp;
    long n;
    gort_waitgroup *wg;
};

static void psort(int64_t *a, int64_t *tmp, long n);

static void psort_g(void *p)
{
    struct job *j = p;
    psort(j->a, j->tmp, j->n);
    gort_wg_done(j->wg);
}

/* Above CUTOFF: the left half in a new goroutine, the right half here,
 * then wait for the left on a WaitGroup of this call's own and merge. */
static void psort(int64_t *a, int64_t *tmp, long n)
{
    if (n <= CUTOFF) {
        seqsort(a, tmp, n);
        return;
    }
    long m = n / 2;
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    struct job left = { a, tmp, m, &wg }; /* lives until wg_wait returns */
    gort_wg_add(&wg, 1);
    bench_go(psort_g, &left);
    psort(a + m, tmp + m, n - m);
    gort_wg_wait(&wg);
    merge(a, tmp, m, n);
}

#endif /* GORT_BENCH_MSORT_H */
