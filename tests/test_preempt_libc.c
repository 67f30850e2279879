/*
 * test_preempt_libc.c — preemption never stops a goroutine inside libc.
 * Many goroutines on few Ps hammer malloc/free (arena locks, per-thread
 * tcache), qsort (which calls back into our comparator: preemptible code
 * with libc frames below it) and snprintf, with a tiny time slice so the
 * preemption signal lands inside libc very often.  If a goroutine were
 * parked inside malloc holding an arena lock, the next goroutine on that
 * thread calling malloc would deadlock the thread: the test would hang
 * (alarm() turns that into a failure with a message).  Results are
 * checked too, so a corrupted register would show.
 */
#include "check.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define NG 16
#define ROUNDS 1500

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    /* A little busy work in preemptible code, called from libc. */
    uint32_t h = x ^ y;
    for (int i = 0; i < 8; i++)
        h = h * 2654435761u + (uint32_t)i;
    (void)h;
    return x < y ? -1 : x > y;
}

static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static _Atomic uint64_t checksum;

static void worker(void *arg)
{
    uint32_t seed = (uint32_t)(uintptr_t)arg * 7919u + 1;
    uint64_t sum = 0;
    for (int r = 0; r < ROUNDS; r++) {
        size_t n = 200 + (seed % 800);
        uint32_t *v = malloc(n * sizeof *v);
        CHECK(v != NULL);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            v[i] = seed >> 8;
        }
        qsort(v, n, sizeof *v, cmp_u32);
        for (size_t i = 1; i < n; i++)
            CHECK(v[i - 1] <= v[i], "qsort result not sorted");
        /* Many small allocations of varied sizes, freed out of order. */
        void *p[32];
        for (int i = 0; i < 32; i++) {
            p[i] = malloc(16 + (size_t)((seed >> (i % 16)) & 1023));
            CHECK(p[i] != NULL);
            memset(p[i], i, 16);
        }
        for (int i = 31; i >= 0; i -= 2)
            free(p[i]);
        for (int i = 0; i < 32; i += 2)
            free(p[i]);
        char buf[128], want[128];
        int len = snprintf(buf, sizeof buf, "%u-%08x-%.3f-%s", v[0], v[n - 1],
                           (double)(v[n / 2] % 1000) / 7.0, "gort");
        CHECK(len > 0 && (size_t)len < sizeof buf);
        /* Rebuild the same string by hand-independent means. */
        int len2 = snprintf(want, sizeof want, "%u-%08x-%.3f-%s", v[0], v[n - 1],
                            (double)(v[n / 2] % 1000) / 7.0, "gort");
        CHECK(len == len2 && strcmp(buf, want) == 0);
        sum += v[0] + (uint64_t)len;
        free(v);
    }
    atomic_fetch_add(&checksum, sum);
    gort_wg_done(&wg);
}

static void main_g(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, NG);
    for (int i = 0; i < NG; i++)
        CHECK_EQ(gort_go(worker, (void *)(uintptr_t)i), 0);
    gort_wg_wait(&wg);
    gort_stats st;
    gort_read_stats(&st);
    fprintf(stderr, "async_preempts=%llu sync_preempts=%llu requests=%llu signals=%llu\n",
            (unsigned long long)st.async_preempts, (unsigned long long)st.sync_preempts,
            (unsigned long long)st.preempt_requests, (unsigned long long)st.signals_sent);
    CHECK(st.signals_sent > 0, "the test never sent a preemption signal");
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_preempt_libc: DEADLOCK (no progress in 60s)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

int main(void)
{
    setenv("GORTMAXPROCS", "2", 1);
    setenv("GORTDEBUG", "quantum=50us", 1);
    signal(SIGALRM, on_alarm);
    alarm(60);
    run_main(main_g, NULL);
    alarm(0);
    printf("%d goroutines x %d rounds of malloc/qsort/snprintf: no deadlock (checksum %llu)\n",
           NG, ROUNDS, (unsigned long long)checksum);
    return 0;
}
