/*
 * test_split_vla_reclaim.c — a call-free loop of small allocas right
 * after a long libc call whose P was handed on (the goroutine came back
 * from foreign code without its P: syscall_foreign.c).  That state
 * poisons the thread's guard word so that the next checked prologue takes
 * the P back; an alloca's inline check fails on it too and goes through
 * __morestack_allocate_stack_space, whose block costs GORT_VLA_SLACK (256)
 * bytes more.  The runtime used to keep that poison for a prologue, so
 * every alloca of the loop took the slow path: 2,000 allocas of 16 bytes
 * (64 KiB inline) died as a "stack overflow" on a 256 KiB stack (a stress
 * hunt: 10 of 10 runs).  Now the first slow allocation puts the guard
 * back, as for a preemption request; the reclaim round's signal still
 * brings the P back.
 *
 * One P, a 100 ms slice and a spinning goroutine: memset 32 MiB until the
 * spinner has run (sysmon found the goroutine in memset, handed its P on),
 * then the loop.  Checks: the blocks span about what the inline path
 * takes, and at least one round really had its P handed on.
 */
#include "split.h"

#include <alloca.h>
#include <stdatomic.h>

#if !defined(GORT_TEST_SPLIT)
int main(void)
{
    printf("test_split_vla_reclaim: skipped (needs -fsplit-stack)\n");
    return 0;
}
#else
enum { SIZE = 32 << 20, MAX_FILLS = 400, NA = 2000, ROUNDS = 4 };

static char *buf;
static _Atomic int spinner_ran;
static _Atomic bool stop;
static volatile uintptr_t first_block, last_block;

static void spinner(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        atomic_store_explicit(&spinner_ran, 1, memory_order_relaxed);
}

__attribute__((noinline)) static long fill_then_alloca(int *fills)
{
    int n = 0;
    while (n < MAX_FILLS && !atomic_load(&spinner_ran))
        memset(buf, n++, SIZE);
    *fills = n;
    long s = 0;
    for (int i = 0; i < NA; i++) {
        volatile char *p = alloca(16);
        if (i == 0)
            first_block = (uintptr_t)p;
        last_block = (uintptr_t)p;
        p[0] = (char)i;
        s += p[0];
    }
    return s;
}

static void main_goroutine(void *arg)
{
    (void)arg;
    buf = malloc(SIZE);
    CHECK(buf != NULL);
    memset(buf, 1, SIZE);
    CHECK(gort_go(spinner, NULL) == 0);
    unsigned long long handed = 0;
    for (int r = 0; r < ROUNDS; r++) {
        atomic_store(&spinner_ran, 0);
        int fills;
        gort_stats s0 = split_stats();
        fill_then_alloca(&fills);
        gort_stats s1 = split_stats();
        handed += s1.handoffs - s0.handoffs;
        uintptr_t span = first_block - last_block;
        /* Inline: 32 bytes a block (16, aligned), 64 KiB in all. */
        CHECK(span < NA * 32 + 16 * 1024, "round %d: %d allocas of 16 bytes spanned %lu bytes",
              r, NA, (unsigned long)span);
    }
    CHECK(handed > 0, "no round had its P handed on in %d memsets: nothing was tested",
          MAX_FILLS);
    atomic_store(&stop, true);
    free(buf);
}

int main(void)
{
    setenv("GORTMAXPROCS", "1", 1);
    setenv("GORTDEBUG", "quantum=100ms", 1);
    run_main(main_goroutine, NULL);
    printf("ok\n");
    return 0;
}
#endif
