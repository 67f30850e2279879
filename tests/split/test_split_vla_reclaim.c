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
 * then the loop (as many allocas as take 128 KiB inline, up to 2,000).
 * Checks: the blocks span what the inline path takes, plus one slow
 * allocation's slack at most, and at least one round really had its P
 * handed on.
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

__attribute__((noinline)) static long fill_then_alloca(int *fills, int na)
{
    int n = 0;
    while (fills && n < MAX_FILLS && !atomic_load(&spinner_ran))
        memset(buf, n++, SIZE);
    if (fills)
        *fills = n;
    long s = 0;
    for (int i = 0; i < na; i++) {
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
    /* What one alloca(16) takes inline: 32 bytes with gcc and clang, 128
     * or more under ASan (redzones); n of them take up to 128 KiB. */
    fill_then_alloca(NULL, 2);
    uintptr_t stride = first_block - last_block;
    CHECK(stride >= 16 && stride <= 1024, "alloca(16) took %lu bytes", (unsigned long)stride);
    int na = (int)((128u << 10) / stride);
    if (na > NA)
        na = NA;
    CHECK(gort_go(spinner, NULL) == 0);
    unsigned long long handed = 0;
    for (int r = 0; r < ROUNDS; r++) {
        atomic_store(&spinner_ran, 0);
        int fills;
        gort_stats s0 = split_stats();
        fill_then_alloca(&fills, na);
        gort_stats s1 = split_stats();
        handed += s1.handoffs - s0.handoffs;
        /* The first allocation after the hand-off may take the slow path's
         * slack besides; before, every one did. */
        uintptr_t span = first_block - last_block;
        CHECK(span <= (uintptr_t)(na - 1) * stride + 1024,
              "round %d: %d allocas of 16 bytes spanned %lu bytes (%lu each inline)", r, na,
              (unsigned long)span, (unsigned long)stride);
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
