/* forever.c — the post on //go:nosplit: a goroutine per P loops forever,
 * main sleeps 100 ms and prints "Hello, world!".
 *
 *   GORT_NOSPLIT static void forever(void) { for (;;) {} }   //go:nosplit
 *
 * As in Go, a nosplit function is never preempted asynchronously, so every
 * P stays bound to a loop that never reaches a safe point and main never
 * runs again: the program hangs, and gort's diagnostic on stderr
 * (GORTDEBUG=stuckreport=300ms) names the stuck goroutine and function.
 * The same program with an ordinary loop prints Hello thanks to preemption,
 * and hangs again with GORTDEBUG=asyncpreemptoff=1. */
#include <gort.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo_child.h"

GORT_NOSPLIT static void forever(void)
{
    for (;;) {
    }
}

static void forever_nosplit(void *arg)
{
    forever();
}

static void forever_plain(void *arg) /* the post's first program: go func() { for {} }() */
{
    for (;;) {
    }
}

static void main_goroutine(void *arg)
{
    bool nosplit = strcmp(getenv("GORT_DEMO_CHILD"), "nosplit") == 0;
    int procs = gort_maxprocs(0);
    for (int i = 0; i < procs; i++)
        gort_go(nosplit ? forever_nosplit : forever_plain, NULL);
    gort_sleep(100 * 1000 * 1000); /* wait for all the other goroutines to start */
    printf("  Hello, world!\n");
}

int main(void)
{
    demo_start(main_goroutine); /* exits with the loops running */
    printf("-- GORT_NOSPLIT forever() on every P (GORTDEBUG=stuckreport=300ms):\n");
    bool hung = !run_child("nosplit", "stuckreport=300ms", 2);
    printf("     %s\n", hung ? "no Hello: nosplit code is never preempted, like Go"
                             : "unexpected: it finished");
    printf("-- the same with an ordinary loop:\n");
    bool ok = run_child("plain", "stuckreport=300ms", 5);
    printf("-- the ordinary loop without async preemption (GORTDEBUG=asyncpreemptoff=1):\n");
    run_child("plain", "asyncpreemptoff=1,stuckreport=300ms", 2);
    return hung && ok ? 0 : 1;
}
