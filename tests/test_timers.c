/* Timers: gort_sleep accuracy (never early, rarely much late), many
 * concurrent sleepers in per-P heaps, sleep from a plain thread, and an
 * idle program (everyone sleeping) uses ~no CPU. */
#include "check.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

static gort_waitgroup wg;
static _Atomic int64_t maxlate;
static _Atomic int early;

static void sleeper(void *arg)
{
    int64_t ns = (int64_t)(intptr_t)arg;
    for (int i = 0; i < 5; i++) {
        int64_t t0 = gort_nanotime();
        gort_sleep(ns);
        int64_t late = gort_nanotime() - t0 - ns;
        if (late < 0)
            atomic_fetch_add(&early, 1);
        int64_t m = atomic_load(&maxlate);
        while (late > m && !atomic_compare_exchange_weak(&maxlate, &m, late))
            ;
    }
    gort_wg_done(&wg);
}

static _Atomic int forever_woke;
static void sleep_forever(void *arg)
{
    (void)arg;
    gort_sleep(INT64_MAX);
    atomic_store(&forever_woke, 1);
}

static void *thread_sleep(void *arg)
{
    int64_t t0 = gort_nanotime();
    gort_sleep(3000000);
    *(int64_t *)arg = gort_nanotime() - t0;
    return NULL;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void gmain(void *arg)
{
    (void)arg;
    /* 1000 goroutines sleeping 1..10 ms, five times each. */
    gort_wg_add(&wg, 1000);
    for (int i = 0; i < 1000; i++)
        gort_go(sleeper, (void *)(intptr_t)(1000000 + (i % 10) * 1000000));
    gort_wg_wait(&wg);
    CHECK_EQ(atomic_load(&early), 0);
    /* Generous bound: a shared 2-core CI box can stall, but a timer that is
     * forgotten until something else runs would be late by far more. */
    CHECK(atomic_load(&maxlate) < 200000000, "max lateness %lld ns",
          (long long)atomic_load(&maxlate));

    /* Single sleeper accuracy. */
    int64_t worst = 0;
    for (int i = 0; i < 20; i++) {
        int64_t t0 = gort_nanotime();
        gort_sleep(2000000);
        int64_t d = gort_nanotime() - t0 - 2000000;
        CHECK(d >= 0);
        if (d > worst)
            worst = d;
    }
    fprintf(stderr, "single sleeper worst lateness %.3f ms, 1000 sleepers worst %.3f ms\n",
            worst / 1e6, atomic_load(&maxlate) / 1e6);

    /* <= 0 returns at once (time.Sleep(0)); "forever" does not overflow
     * into "now" (it used to return at once). */
    int64_t t0 = gort_nanotime();
    gort_sleep(0);
    gort_sleep(-5);
    CHECK(gort_nanotime() - t0 < 50000000);
    gort_go(sleep_forever, NULL);
    gort_sleep(100000000);
    CHECK_EQ(atomic_load(&forever_woke), 0);

    /* Sleeping from a plain thread. */
    pthread_t th;
    int64_t slept = 0;
    pthread_create(&th, NULL, thread_sleep, &slept);
    pthread_join(th, NULL);
    CHECK(slept >= 3000000);

    /* Idle: only a sleeping main goroutine; the runtime must not spin. */
    double c0 = cpu_seconds();
    gort_sleep(500000000);
    double used = cpu_seconds() - c0;
    fprintf(stderr, "cpu while idle for 0.5 s: %.4f s\n", used);
    CHECK(used < 0.05, "idle runtime used %.3f s of CPU in 0.5 s", used);
}

int main(void)
{
    run_main(gmain, NULL);
    return 0;
}
