/*
 * stw_syscall.c — stop-the-world while goroutines are inside blocking
 * system calls (run with GORTMAXPROCS=2).
 *
 * One goroutine calls sleep(2) once (the case: the old runtime's
 * stop waited the full 2 s for it); another loops usleep(100), so the stop
 * also races with goroutines entering and leaving the kernel.  (A runtime
 * that does not hand off Ps gets no sample at all: both Ps stay with the
 * sleepers, and the main goroutine's timers with them; the program then
 * fails with a message instead of printing a RESULT.)  While the
 * sleep(2) lasts, the main goroutine takes samples: gort_sleep(1 ms), then
 * time gort_stop_the_world() + gort_start_the_world().  Neither sleeper
 * may delay the stop: a goroutine inside a system call is not waited for
 * (it cannot take a P until the world restarts).  Value: the MAX pause in
 * ns (target <= 1 ms); p50/p99 and the stop alone are reported too, raw
 * samples to $BENCH_SAMPLES, and how long sleep(2) slept.
 *
 * Twin: bench/go "stw_syscall" (GOMAXPROCS=2): runtime.ReadMemStats timed
 * beside one goroutine in syscall.Nanosleep(2 s) and one looping
 * syscall.Nanosleep(100 us).
 */
#include "common.h"

enum { MAX_SAMPLES = 4000 };

static atomic_int s1_in, s1_done, s2_stop;
static atomic_long s2_calls;
static int64_t sleep2_ns;
static unsigned sleep2_ret;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static void long_sleeper(void *arg)
{
    (void)arg;
    atomic_store(&s1_in, 1);
    int64_t t0 = bench_now();
    sleep2_ret = sleep(2);
    sleep2_ns = bench_now() - t0;
    atomic_store(&s1_done, 1);
    gort_wg_done(&wg);
}

static void short_sleeper(void *arg)
{
    (void)arg;
    while (!atomic_load(&s2_stop)) {
        usleep(100);
        atomic_fetch_add(&s2_calls, 1);
    }
    gort_wg_done(&wg);
}

static void bench(void *arg)
{
    (void)arg;
    int64_t *tot = calloc(MAX_SAMPLES, sizeof *tot);
    int64_t *stp = calloc(MAX_SAMPLES, sizeof *stp);
    gort_stats s0, s1;
    char st[512];
    if (!tot || !stp)
        bench_die("out of memory");

    gort_wg_add(&wg, 2);
    bench_go(short_sleeper, NULL);
    bench_go(long_sleeper, NULL);
    while (!atomic_load(&s1_in))
        gort_sleep(100000);
    gort_sleep(2000000); /* it is in the kernel by now */
    gort_read_stats(&s0);
    size_t n = 0;
    while (n < MAX_SAMPLES && !atomic_load(&s1_done)) {
        gort_sleep(1000000);
        int64_t t0 = bench_now();
        gort_stop_the_world();
        int64_t t1 = bench_now();
        gort_start_the_world();
        int64_t t2 = bench_now();
        tot[n] = t2 - t0;
        stp[n] = t1 - t0;
        n++;
    }
    gort_read_stats(&s1);
    atomic_store(&s2_stop, 1);
    gort_wg_wait(&wg);

    if (n == 0)
        bench_die("stw_syscall: no sample: the main goroutine got no P during sleep(2)");
    bench_dump_samples(tot, n);
    bench_sort(tot, n);
    bench_sort(stp, n);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=stw_syscall impl=gort unit=ns value=%" PRId64 " n=%zu"
           " p50=%" PRId64 " p90=%" PRId64 " p99=%" PRId64 " max=%" PRId64 " mean=%.0f"
           " stop_p50=%" PRId64 " stop_max=%" PRId64 " sleep2_ns=%" PRId64 " sleep2_ret=%u"
           " usleep_calls=%ld %s\n",
           bench_quantile_sorted(tot, n, 1.0), n, bench_quantile_sorted(tot, n, 0.50),
           bench_quantile_sorted(tot, n, 0.90), bench_quantile_sorted(tot, n, 0.99),
           bench_quantile_sorted(tot, n, 1.0), bench_mean(tot, n),
           bench_quantile_sorted(stp, n, 0.50), bench_quantile_sorted(stp, n, 1.0), sleep2_ns,
           sleep2_ret, atomic_load(&s2_calls), st);
    fflush(stdout);
    free(tot);
    free(stp);
}

int main(void)
{
    return gort_main(bench, NULL) ? 1 : 0;
}
