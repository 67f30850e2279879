/* darken.c — the talk "Pardon the interruption: loop preemption in Go
 * 1.14": "Call-free loops delay preemption" / "Loops cause scheduling
 * latency".  Every P darkens its own big float image with the talk's
 * call-free nested loop (image[y][x] *= 0.5), over and over for 1.5 s, next
 * to a latency-sensitive goroutine that sleeps 1 ms in a loop and measures
 * how late it wakes up.  With asynchronous preemption the ticker keeps
 * ticking; without it (a child re-run with GORTDEBUG=asyncpreemptoff=1) it
 * is starved until the darkening stops. */
#include <gort.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "demo_child.h"

enum { W = 1024, H = 512, MAXTICKS = 4096 };
#define RUN_S 1.5
#define TICK_NS (1000 * 1000)
static gort_waitgroup workers_wg, ticker_wg;
static atomic_int stop;
static atomic_long passes;
static int64_t late[MAXTICKS];
static int nticks;

static void darken(void *arg)
{
    float (*image)[W] = arg;
    double end = now_s() + RUN_S; /* clock_gettime: not a gort call */
    long n = 0;
    while (now_s() < end) {
        for (int y = 0; y < H; y++) /* Darken image. */
            for (int x = 0; x < W; x++)
                image[y][x] *= 0.5f;
        if (++n % 32 == 0) /* brighten it back before it is all zero */
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    image[y][x] = 1.0f;
    }
    atomic_fetch_add(&passes, n);
    gort_wg_done(&workers_wg);
}

static void ticker(void *arg)
{
    while (!atomic_load(&stop)) {
        int64_t t0 = gort_nanotime();
        gort_sleep(TICK_NS);
        if (nticks < MAXTICKS)
            late[nticks++] = gort_nanotime() - t0 - TICK_NS;
    }
    gort_wg_done(&ticker_wg);
}

static void main_goroutine(void *arg)
{
    int procs = gort_maxprocs(0);
    gort_wg_add(&ticker_wg, 1);
    gort_go(ticker, NULL);
    for (int i = 0; i < procs; i++) {
        float (*image)[W] = malloc(sizeof(float[H][W]));
        if (!image)
            abort();
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                image[y][x] = 1.0f;
        gort_wg_add(&workers_wg, 1);
        gort_go(darken, image);
    }
    gort_wg_wait(&workers_wg);
    atomic_store(&stop, 1);
    gort_wg_wait(&ticker_wg);
    qsort(late, nticks, sizeof late[0], cmp64);
    gort_stats st;
    gort_read_stats(&st);
    printf("  %d Ps darkening %dx%d images (%ld passes in %.1f s)\n", procs, W, H,
           atomic_load(&passes), RUN_S);
    if (nticks == 0)
        printf("  1 ms ticker: 0 ticks (%d if never late): it never ran\n", (int)(RUN_S * 1000));
    else
        printf("  1 ms ticker: %d ticks (%d if never late); lateness p50 %.3f ms, "
               "p99 %.3f ms, max %.3f ms\n",
               nticks, (int)(RUN_S * 1000), late[nticks / 2] / 1e6,
               late[nticks * 99 / 100] / 1e6, late[nticks - 1] / 1e6);
    printf("  async preemptions: %llu\n", (unsigned long long)st.async_preempts);
}

int main(void)
{
    demo_start(main_goroutine);
    printf("-- with async preemption:\n");
    bool ok = run_child("on", "", 10);
    printf("-- without (GORTDEBUG=asyncpreemptoff=1):\n");
    ok &= run_child("off", "asyncpreemptoff=1", 10);
    return ok ? 0 : 1;
}
