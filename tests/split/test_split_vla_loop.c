/*
 * test_split_vla_loop.c — a call-free loop of small allocas while a
 * preemption request is pending.  The request poisons the thread's guard
 * word, so each alloca's inline check fails and it goes through
 * __morestack_allocate_stack_space, whose block costs GORT_VLA_SLACK
 * (256) bytes more than the inline path's.  The runtime used to leave the
 * poison in place, so every alloca of the loop took that path until the
 * signal stopped the goroutine: 4,000 allocas of 16 bytes needed ~1.2 MiB
 * and died as a "stack overflow" on a 256 KiB stack with room to spare
 * (an adversarial hunt).  Now the first slow allocation puts the real
 * guard back.
 *
 * Phase 1, deterministic: poison the guard word as a request does
 * (split.h), then up to 4,000 allocas, 128 KiB of them inline; the stack
 * they take must stay close to that.  Phase 2: the same loops for 300 ms against a
 * spinning goroutine at one P with a 200 us slice, so that real requests
 * (sysmon's, prologue poison then signal) arrive inside them; the test
 * checks that some did and that no loop overflowed.
 */
#include "split.h"

#include <alloca.h>
#include <stdatomic.h>

#if !defined(GORT_TEST_SPLIT)
int main(void)
{
    printf("test_split_vla_loop: skipped (needs -fsplit-stack)\n");
    return 0;
}
#else
enum { N = 4000 };

static volatile uintptr_t first_block, last_block;
static _Atomic bool stop;

__attribute__((noinline)) static long allocs(int n, int poison)
{
    long s = 0;
    for (int i = 0; i < n; i++) {
        volatile char *p = alloca(16);
        if (i == 0) {
            first_block = (uintptr_t)p;
            if (poison)
                split_poison_self();
        }
        last_block = (uintptr_t)p;
        p[0] = (char)i;
        s += p[0];
    }
    return s;
}

static void spinner(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        ;
}

static void body(void *arg)
{
    (void)arg;
    /* What one alloca(16) takes inline: 32 bytes with gcc and clang (the
     * 16 rounded up with room for alignment), 160 under ASan (redzones).
     * n of them take 128 KiB of the 256 KiB stack. */
    allocs(2, 0);
    uintptr_t stride = first_block - last_block;
    CHECK(stride >= 16 && stride <= 1024, "alloca(16) took %lu bytes", (unsigned long)stride);
    int n = (int)((128u << 10) / stride);
    if (n > N)
        n = N;
    allocs(n, 1);
    uintptr_t used = first_block - last_block;
    /* One slow allocation, the first after the poison, may cost the slack
     * besides; before, every one did (and the stack overflowed). */
    CHECK(used <= (uintptr_t)n * stride + 1024, "%d allocas of 16 bytes took %lu bytes (%lu each inline)",
          n, (unsigned long)used, (unsigned long)stride);

    gort_stats s0, s1;
    gort_read_stats(&s0);
    CHECK_EQ(gort_go(spinner, NULL), 0);
    int64_t end = gort_nanotime() + 300000000;
    long loops = 0;
    while (gort_nanotime() < end) {
        allocs(n, 0);
        loops++;
    }
    atomic_store(&stop, true);
    gort_read_stats(&s1);
    CHECK(s1.preempt_requests - s0.preempt_requests >= 10, "only %llu preemption requests",
          (unsigned long long)(s1.preempt_requests - s0.preempt_requests));
    printf("ok (%ld loops, %llu requests)\n", loops,
           (unsigned long long)(s1.preempt_requests - s0.preempt_requests));
}

int main(void)
{
    setenv("GORTMAXPROCS", "1", 1);
    setenv("GORTDEBUG", "quantum=200us", 1);
    run_main(body, NULL);
    return 0;
}
#endif
