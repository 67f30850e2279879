/*
 * test_split_errno.c — errno stays the goroutine's across a prologue stop
 * that moves it to another thread (src/threadstate.c; the stop's frame
 * keeps the registers the way the asynchronous path's does, so the same
 * fix-up applies):
 *   - `errno` (gort.h's, one address per expression): set before a
 *     checked call, read after it;
 *   - an address of errno kept in a register across the call (glibc's
 *     __errno_location is const: compilers keep its result): written and
 *     read through it after the call, it must be the thread the goroutine
 *     runs on now (checked against gort.h's errno).
 * 4 goroutines on GORTMAXPROCS=2, quantum=200us, asyncpreemptoff=1: every
 * stop is a prologue stop, at leaf() (the only call in the loops), and the
 * goroutines are seen to move between threads.
 */
#include "split.h"

#include <stdatomic.h>

#define NG 4
#define ROUNDS 200000

static _Atomic long moves, cached_moves;

int leaf(int x);
__attribute__((noinline)) int leaf(int x)
{
    __asm__ volatile("" : "+r"(x));
    return x + 1;
}

static void routed(int me)
{
    for (long n = 0; split_go_on(n, ROUNDS); n++) {
        int i = (int)(n % 1000000), v = me * 1000000 + i;
        long t0 = split_gettid();
        errno = v;
        int r = leaf(i);
        CHECK(errno == v, "goroutine %d: errno %d after the call, %d before", me, errno, v);
        CHECK(r == i + 1);
        if (split_gettid() != t0)
            atomic_fetch_add_explicit(&moves, 1, memory_order_relaxed);
    }
}

static void cached(int me)
{
    int *p = __errno_location(); /* kept in a callee-saved register */
    for (long n = 0; split_go_on(n, ROUNDS); n++) {
        int i = (int)(n % 1000000), v = me * 1000000 + i;
        *p = v;
        long t0 = split_gettid();
        int r = leaf(i);
        CHECK(*p == v, "goroutine %d: errno %d through the kept address, %d before", me, *p, v);
        *p = v + 1; /* the thread's errno now, or the thread's we left */
        CHECK(errno == v + 1, "goroutine %d: the kept address of errno is another thread's", me);
        CHECK(r == i + 1);
        if (split_gettid() != t0)
            atomic_fetch_add_explicit(&cached_moves, 1, memory_order_relaxed);
    }
}

static void worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    if (me % 2)
        routed(me);
    else
        cached(me);
}

static void errno_main(void *arg)
{
    (void)arg;
    gort_stats s1 = split_run_until(NG, worker, 1, "errno rounds", SPLIT_NEED(prologue_preempts));
    printf("calls that returned on another thread: %ld with errno, %ld with a kept address\n",
           atomic_load(&moves), atomic_load(&cached_moves));
    CHECK(s1.prologue_preempts > 0, "never stopped at a prologue");
    CHECK(atomic_load(&moves) > 0 && atomic_load(&cached_moves) > 0,
          "no goroutine of each kind moved to another thread across a call");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    run_main_child(errno_main, NULL, "2", "quantum=200us,asyncpreemptoff=1");
    return 0;
}
