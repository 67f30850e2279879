/*
 * test_dump_loop.c — gort_dump_goroutines is a preemption point.  The
 * dump is runtime code, which the preemption signal never stops, and the
 * call did not check for a pending request: goroutines dumping in a loop
 * held their Ps, and a goroutine whose sleep had ended did not run (an
 * adversarial hunt: with two dumping loops on two Ps it never ran again;
 * one loop at one P delayed it 1.4 s).  The main goroutine sleeps 100 ms
 * beside the loops and must be running again within 1 s.
 */
#include "check.h"

#include <fcntl.h>
#include <stdatomic.h>

static _Atomic bool stop;
static int devnull;

static void dumper(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        CHECK_EQ(gort_dump_goroutines(devnull), 0);
}

static void body(void *arg)
{
    int n = (int)(intptr_t)arg;
    devnull = open("/dev/null", O_WRONLY);
    CHECK(devnull >= 0);
    for (int i = 0; i < n; i++)
        CHECK_EQ(gort_go(dumper, NULL), 0);
    int64_t t0 = gort_nanotime();
    gort_sleep(100000000);
    int64_t woke = gort_nanotime() - t0;
    atomic_store(&stop, true);
    CHECK(woke < 1000000000, "%d dumping loops: a 100 ms sleep ended after %.2f s", n,
          (double)woke / 1e9);
    printf("%d loops: woke after %.1f ms\n", n, (double)woke / 1e6);
}

int main(void)
{
    signal(SIGALRM, SIG_DFL);
    alarm(60);
    run_main_child(body, (void *)(intptr_t)2, "2", NULL);
    run_main_child(body, (void *)(intptr_t)1, "1", NULL);
    printf("ok\n");
    return 0;
}
