/*
 * test_split_reclaim.c — split-stack mode: a goroutine that foreign code
 * left without its P takes one back at its first checked call in its own
 * code (morestack.c, may_reclaim), not when a reclaim signal finds it.
 *
 * One P, and a 100 ms quantum, so that no slice ends inside the probe
 * below.  Each round, the main goroutine memsets until a hog (a call-free
 * counting loop) has run: the hog can only run once sysmon has handed the
 * P of main's memset to another thread (syscall_foreign.c).  Back from
 * the memset, main runs without a P, beside the hog.  It then calls
 * probe(), a checked function that reads the hog's count, spins ~0.2-1 ms
 * without a call and reads it again.  probe's prologue takes the P back
 * first: main waits as runnable until the hog's slice ends, and the probe
 * then runs on the only P, so the count cannot move meanwhile.  Before
 * the prologue did this, the probe ran beside the hog and saw it count
 * (the P came back only with sysmon's next reclaim signal).
 */
#include "split.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { ROUNDS = 4, SIZE = 32 << 20, MAX_FILLS = 2000, SPIN = 400000 };

static char *buf;
static atomic_long count;
static atomic_int hog_ran;
static atomic_bool stop;

static void hog(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        atomic_store_explicit(&hog_ran, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    }
}

/* Checked, calls libc: memsets until the hog has run (the P was handed
 * off), at most MAX_FILLS of them.  Returns how many. */
__attribute__((noinline)) static int fill(void)
{
    int n = 0;
    while (n < MAX_FILLS && !atomic_load(&hog_ran))
        memset(buf, n++, SIZE);
    return n;
}

/* Checked: its prologue is main's first check after the foreign code.
 * How far the hog counted while it ran. */
__attribute__((noinline)) static long probe(void)
{
    long c1 = atomic_load(&count);
    for (volatile long i = 0; i < SPIN; i++)
        ;
    return atomic_load(&count) - c1;
}

static void main_goroutine(void *arg)
{
    (void)arg;
    buf = malloc(SIZE);
    CHECK(buf);
    memset(buf, 1, SIZE); /* fault the pages in first */
    CHECK(gort_go(hog, NULL) == 0);
    for (int r = 0; r < ROUNDS; r++) {
        atomic_store(&hog_ran, 0);
        gort_stats s0 = split_stats();
        int fills = fill();
        long moved = probe();
        gort_stats s1 = split_stats();
        printf("round %d: %d memsets of %d MiB, %llu hand-offs; the hog counted %ld during the probe\n",
               r, fills, SIZE >> 20, (unsigned long long)(s1.handoffs - s0.handoffs), moved);
        CHECK(fills < MAX_FILLS, "the hog never ran: the memset's P was never handed off");
        CHECK(moved == 0, "the probe ran beside the hog: no P taken back at its prologue");
    }
    atomic_store(&stop, true);
    free(buf);
}

int main(void)
{
    setenv("GORTMAXPROCS", "1", 1);
    setenv("GORTDEBUG", "quantum=100ms", 1);
    run_main(main_goroutine, NULL);
    return 0;
}
