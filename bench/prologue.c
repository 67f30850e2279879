/*
 * prologue.c — issue 11: what split-stack mode's prologue check costs on
 * call-heavy code.  prologue_kernel.c is compiled into this program with
 * -fsplit-stack (fib_split_pP, sort_split_pP, callslibc_split_pP) and
 * without (…_plain_pP), each at four code placements P (below), and linked
 * as a split-stack program (gold or lld, gort's __morestack); bench/run.sh
 * builds it once with gcc and once with clang.  This driver, itself
 * compiled without -fsplit-stack, runs in a goroutine (so the guard word
 * holds the goroutine's real guard, as in any split program) and, at each
 * placement, times the two copies alternately: PAIRS pairs (argv[1],
 * default 101), the order flipped every pair (plain first, then split
 * first), each pair giving a ratio split/plain.  The median ratio over the
 * pairs is that placement's overhead; the mean over placements is the
 * result.  Each measurement is short (1-3 ms) and timed in the thread's
 * CPU time (the goroutine is locked to its thread), so on a machine shared
 * with other work a measurement the OS interrupted spoils one pair, which
 * the median drops; alternating in one process cancels the drift between
 * separate runs.  What alternating cannot cancel is code placement: the
 * copies sit at different addresses, and where a function falls in its
 * 64-byte lines moves fib's time by up to 20% on this machine.  Hence the
 * placements: both copies of a pair at the same offset into a line, and
 * the four offsets a 16-byte-aligned function can have.
 *
 *   fib:  fib(27), ~630,000 calls per measurement;
 *   sort: quicksort of 20,000 random 64-bit integers through a comparator
 *         function pointer (~350,000 comparator calls);
 *   libc: 500,000 calls of a function that calls strlen (code without
 *         checks); the linker rewrote the split copy's check to `stc`, so
 *         each of its calls enters __morestack_non_split's fast path.
 *         Reported as extra ns per call (split - plain), not a ratio.
 *
 * Before timing, the program checks that the split copies start with the
 * stack check (cmp %fs:0x70,%rsp, or `stc` for callslibc) and the plain
 * ones do not; otherwise the comparison would be meaningless and it fails.
 * The comparator is a leaf: clang gives a leaf without a frame no check
 * (Go's automatic nosplit leaves), so whether it has one is reported
 * (cmp_checked); bench/run.sh compiles the kernels with frame pointers
 * kept, as gort's README asks of programs, and then both compilers check.
 *
 * RESULT value = fib's overhead in percent (median ratio - 1); sort_pct,
 * libc_extra_ns and the medians of the raw times are fields.  Target
 * (issue 11): <= 2 % on fib and sort, gcc and clang.
 */
#include "common.h"

#include <stdbool.h>

typedef int (*kcmp_fn)(const void *, const void *);

/* The kernels at four code placements: bench/run.sh compiles
 * prologue_kernel.c eight times, split and plain at each placement P, with
 * every function starting P bytes into a 64-byte line (-falign-functions=64
 * -fpatchable-function-entry=P,P: P bytes of nops in front of the entry,
 * never executed).  Both copies of a pair sit at the same placement, so
 * what differs between them is the prologue (its 11 bytes and what they
 * shift).  Why four placements and not one: on this machine fib's time
 * alone moves by up to 20% with its placement, and the prologue's cost
 * with it (at one placement clang's fib paid 14.7%, at the three others
 * under 1%); a single link measures where the linker happened to put the
 * code.  The value reported is the mean over placements: the expected
 * cost for code at a placement nobody chose. */
#define PLACEMENTS(X) X(0) X(16) X(32) X(48)
#define KDECL(p)                                                                      \
    long fib_split_p##p(int n), fib_plain_p##p(int n);                                \
    int cmp_split_p##p(const void *, const void *),                                   \
        cmp_plain_p##p(const void *, const void *);                                   \
    void sort_split_p##p(int64_t *a, long n, kcmp_fn cmp),                           \
        sort_plain_p##p(int64_t *a, long n, kcmp_fn cmp);                             \
    size_t callslibc_split_p##p(const char *s), callslibc_plain_p##p(const char *s);
PLACEMENTS(KDECL)

enum { PLAIN = 0, SPLIT = 1 };

struct kernels {
    int offset;
    long (*fib[2])(int n);
    kcmp_fn cmp[2];
    void (*sort[2])(int64_t *a, long n, kcmp_fn cmp);
    size_t (*libc[2])(const char *s);
};
#define KENTRY(p)                                                                     \
    {p,                                                                               \
     {fib_plain_p##p, fib_split_p##p},                                                \
     {cmp_plain_p##p, cmp_split_p##p},                                                \
     {sort_plain_p##p, sort_split_p##p},                                              \
     {callslibc_plain_p##p, callslibc_split_p##p}},
static const struct kernels placement[] = {PLACEMENTS(KENTRY)};
enum { NPLACE = sizeof placement / sizeof placement[0] };

#define FIB_N 27
#define SORT_N 20000
#define LIBC_CALLS 500000

static long pairs;
static int64_t *sort_src, *sort_buf;
/* The placement being timed, read through volatile so the compiler cannot
 * see which kernel, comparator or string the timed calls get. */
static const struct kernels *volatile cur;
static const char *volatile libc_str = "gort prologue";
static volatile long sink;

/* The thread's CPU time: time the OS gave to other processes is not
 * counted (the goroutine is locked to this thread, see bench). */
static int64_t cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t time_fib(int v)
{
    int64_t t0 = cpu_now();
    sink = cur->fib[v](FIB_N);
    return cpu_now() - t0;
}

static int64_t time_sort(int v)
{
    for (long i = 0; i < SORT_N; i++)
        sort_buf[i] = sort_src[i];
    kcmp_fn cmp = cur->cmp[v];
    void (*sort)(int64_t *, long, kcmp_fn) = cur->sort[v];
    int64_t t0 = cpu_now();
    sort(sort_buf, SORT_N, cmp);
    int64_t t = cpu_now() - t0;
    for (long i = 1; i < SORT_N; i++)
        if (sort_buf[i - 1] > sort_buf[i])
            bench_die("prologue: the sort did not sort");
    return t;
}

static int64_t time_libc(int v)
{
    const char *s = libc_str;
    size_t sum = 0;
    size_t (*libc)(const char *) = cur->libc[v];
    int64_t t0 = cpu_now();
    for (long i = 0; i < LIBC_CALLS; i++)
        sum += libc(s);
    int64_t t = cpu_now() - t0;
    sink = (long)sum;
    return t;
}

static bool starts_with_check(const void *fn)
{
    static const unsigned char cmp[] = {0x64, 0x48, 0x3b, 0x24, 0x25, 0x70, 0, 0, 0};
    return memcmp(fn, cmp, sizeof cmp) == 0;
}

static bool starts_with_stc(const void *fn)
{
    return *(const unsigned char *)fn == 0xf9;
}

static double median_d(double *v, long n)
{
    for (long i = 1; i < n; i++) /* insertion sort: n is small */
        for (long k = i; k > 0 && v[k] < v[k - 1]; k--) {
            double t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One kernel: pairs alternating in order; out: median ratio split/plain,
 * median times, and the median of split - plain. */
struct kres {
    double ratio, plain_ns, split_ns, diff_ns;
};

static struct kres run_kernel(int64_t (*timed)(int))
{
    long n = pairs;
    double *ratio = calloc((size_t)n, sizeof *ratio), *tp = calloc((size_t)n, sizeof *tp),
           *ts = calloc((size_t)n, sizeof *ts), *diff = calloc((size_t)n, sizeof *diff);
    if (!ratio || !tp || !ts || !diff)
        bench_die("out of memory");
    timed(PLAIN); /* warm-up: caches, branch predictors, page faults */
    timed(SPLIT);
    for (long i = 0; i < n; i++) {
        int64_t p, s;
        if (i % 2 == 0) {
            p = timed(PLAIN);
            s = timed(SPLIT);
        } else {
            s = timed(SPLIT);
            p = timed(PLAIN);
        }
        ratio[i] = (double)s / (double)p;
        tp[i] = (double)p;
        ts[i] = (double)s;
        diff[i] = (double)(s - p);
    }
    struct kres r = {median_d(ratio, n), median_d(tp, n), median_d(ts, n), median_d(diff, n)};
    free(ratio);
    free(tp);
    free(ts);
    free(diff);
    return r;
}

/* Per placement, the pointers are where the compiler put the checks. */
static void check_kernels(const struct kernels *k)
{
    if (!starts_with_check((const void *)k->fib[SPLIT]) ||
        !starts_with_check((const void *)k->sort[SPLIT]))
        bench_die("prologue: the split kernels do not start with the stack check "
                  "(not compiled -fsplit-stack?)");
    if (starts_with_check((const void *)k->fib[PLAIN]) || starts_with_stc((const void *)k->fib[PLAIN]))
        bench_die("prologue: the plain kernels have a stack check");
    if (!starts_with_stc((const void *)k->libc[SPLIT]))
        bench_die("prologue: callslibc_split's check was not rewritten to stc "
                  "(not linked with gold or lld?)");
    if ((uintptr_t)k->fib[SPLIT] % 64 != (uintptr_t)k->offset ||
        (uintptr_t)k->fib[PLAIN] % 64 != (uintptr_t)k->offset)
        bench_die("prologue: the kernels are not at their placement (bench/run.sh compiles "
                  "them with -falign-functions=64 -fpatchable-function-entry=P,P)");
}

static void bench(void *arg)
{
    (void)arg;
    for (int p = 0; p < NPLACE; p++)
        check_kernels(&placement[p]);
    sort_src = malloc(SORT_N * sizeof *sort_src);
    sort_buf = malloc(SORT_N * sizeof *sort_buf);
    if (!sort_src || !sort_buf)
        bench_die("out of memory");
    uint64_t x = 42;
    for (long i = 0; i < SORT_N; i++)
        sort_src[i] = (int64_t)BENCH_MIX(x);

    gort_stats s0, s1;
    char st[512], per[512];
    size_t pl = 0;
    /* Means over the placements of each placement's medians. */
    struct kres f = {0}, s = {0}, l = {0};
    gort_lock_thread(); /* cpu_now is this thread's clock */
    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    for (int p = 0; p < NPLACE; p++) {
        cur = &placement[p];
        struct kres fp = run_kernel(time_fib), sp = run_kernel(time_sort),
                    lp = run_kernel(time_libc);
        pl += (size_t)snprintf(per + pl, sizeof per - pl, " fib_pct_p%d=%.2f sort_pct_p%d=%.2f",
                               cur->offset, (fp.ratio - 1) * 100, cur->offset,
                               (sp.ratio - 1) * 100);
        struct kres *sum[3] = {&f, &s, &l}, *one[3] = {&fp, &sp, &lp};
        for (int k = 0; k < 3; k++) {
            sum[k]->ratio += one[k]->ratio / NPLACE;
            sum[k]->plain_ns += one[k]->plain_ns / NPLACE;
            sum[k]->split_ns += one[k]->split_ns / NPLACE;
            sum[k]->diff_ns += one[k]->diff_ns / NPLACE;
        }
    }
    int64_t secs_ms = (bench_now() - t0) / 1000000;
    gort_read_stats(&s1);
    gort_unlock_thread();
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=prologue impl=gort unit=%% value=%.2f fib_pct=%.2f sort_pct=%.2f%s"
           " libc_extra_ns=%.2f libc_pct=%.2f placements=%d pairs=%ld fib_n=%d fib_plain_ns=%.0f"
           " fib_split_ns=%.0f sort_n=%d sort_plain_ns=%.0f sort_split_ns=%.0f libc_calls=%d"
           " libc_plain_ns_per_call=%.2f libc_split_ns_per_call=%.2f cmp_checked=%d measured_ms=%lld"
           " prologue_preempts=%" PRIu64 " %s\n",
           (f.ratio - 1) * 100, (f.ratio - 1) * 100, (s.ratio - 1) * 100, per,
           l.diff_ns / LIBC_CALLS, (l.ratio - 1) * 100, (int)NPLACE, pairs, FIB_N, f.plain_ns,
           f.split_ns, SORT_N, s.plain_ns, s.split_ns, LIBC_CALLS, l.plain_ns / LIBC_CALLS,
           l.split_ns / LIBC_CALLS, starts_with_check((const void *)placement[0].cmp[SPLIT]),
           (long long)secs_ms, s1.prologue_preempts - s0.prologue_preempts, st);
    fflush(stdout);
    free(sort_src);
    free(sort_buf);
}

int main(int argc, char **argv)
{
    pairs = bench_arg(argc, argv, 101);
    return gort_main(bench, NULL) ? 1 : 0;
}
