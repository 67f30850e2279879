/*
 * test_syscall_tailcall.c — a goroutine whose entry function tail-calls a
 * blocking libc call (`void g(void *a) { usleep(n); }` compiles to `jmp
 * usleep` at -O2): the call's return address is then the goroutine
 * trampoline's, in the runtime, and the system-call bracket refused it as
 * a runtime call.  The goroutine held its P blocked, and sysmon's
 * preemption signal cut the sleep short (nanosleep returns EINTR after a
 * handler, SA_RESTART or not): usleep(200 ms) came back after ~10 ms.
 * An adversarial hunt: sleep(1) early 20 of 20 at one P.
 *
 * At one P: the sleeper must sleep its whole 200 ms, and the main
 * goroutine must run meanwhile (the P handed off).  Under -O0 or
 * sanitizer builds the call may not be a tail call; the test then checks
 * the ordinary path, as any other.
 */
#include "check.h"

#include <unistd.h>

enum { SLEEP_US = 200000 };

static void sleeper(void *arg)
{
    usleep((useconds_t)(uintptr_t)arg); /* the tail call */
}

static void body(void *arg)
{
    (void)arg;
    int base = gort_num_goroutine();
    int64_t t0 = gort_nanotime();
    CHECK_EQ(gort_go(sleeper, (void *)(uintptr_t)SLEEP_US), 0);
    gort_yield(); /* the sleeper runs and blocks */
    int64_t back = 0;
    while (gort_num_goroutine() > base) {
        if (!back)
            back = gort_nanotime() - t0;
        gort_sleep(1000000);
    }
    int64_t slept = gort_nanotime() - t0;
    CHECK(slept >= (int64_t)SLEEP_US * 1000, "usleep(%d) returned after %.1f ms", SLEEP_US,
          (double)slept / 1e6);
    CHECK(back > 0 && back < (int64_t)SLEEP_US * 1000,
          "the main goroutine ran only after %.1f ms: the sleeper held the P",
          (double)back / 1e6);
    printf("ok (slept %.1f ms, main back after %.1f ms)\n", (double)slept / 1e6,
           (double)back / 1e6);
}

int main(void)
{
    setenv("GORTMAXPROCS", "1", 1);
    run_main(body, NULL);
    return 0;
}
