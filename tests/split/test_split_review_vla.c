/*
 * test_split_review_vla.c — a VLA allocated through
 * __morestack_allocate_stack_space (the dynamic allocation's check failed:
 * here because this thread's guard word was poisoned, as a preemption
 * request does) is not overwritten by the stack arguments of a call made
 * after it.  Under -maccumulate-outgoing-args (gcc's default for
 * -mtune=intel, k8, atom, silvermont; here per function through
 * target("tune=intel")) those arguments are stored at 0(%rsp)..., and the
 * inline path puts the VLA above that area; the runtime's slow path must
 * leave room below the block too (arch/morestack_amd64.S, VLA_SLACK).
 * Each case: fill the VLA, call a function with 9 integer arguments (3 on
 * the stack), check every byte.  Built -fsplit-stack by the split-stack
 * rules (tests/split); under clang the tuning attribute is left out (its
 * outgoing arguments are pushed) and the case still runs.
 */
#include "check.h"

#include <stdint.h>
#include <string.h>

#if !defined(GORT_TEST_SPLIT)
int main(void)
{
    printf("test_split_review_vla: skipped (needs -fsplit-stack)\n");
    return 0;
}
#else
#if defined(__clang__)
#define ACCUMULATE
#define NOIPA __attribute__((noinline))
#else
#define ACCUMULATE __attribute__((target("tune=intel")))
#define NOIPA __attribute__((noipa))
#endif

static inline __attribute__((always_inline)) void poison_self(void)
{
    __asm__ volatile("movq %0, %%fs:0x70" : : "r"((uint64_t)0xfffffffffffffadeull) : "memory");
}

NOIPA long use9(char *p, long a, long b, long c, long d, long e, long f, long g, long h)
{
    /* Unsigned: the stack arguments may be any bytes (UBSan). */
    return (long)((unsigned long)p[0] + (unsigned long)a + (unsigned long)b + (unsigned long)c +
                  (unsigned long)d + (unsigned long)e + (unsigned long)f + (unsigned long)g + (unsigned long)h);
}

/* Returns the index of the first byte the call changed, or -1. */
ACCUMULATE NOIPA long vla_case(long n, int poison)
{
    if (poison)
        poison_self();
    char v[n];
    memset(v, 0x5a, (size_t)n);
    volatile long r = use9(v, 1, 2, 3, 4, 5, 0x6666666666666666, 0x7777777777777777, 0x0808080808080808);
    (void)r;
    for (long i = 0; i < n; i++)
        if (v[i] != 0x5a)
            return i;
    return -1;
}

static void body(void *arg)
{
    (void)arg;
    for (long n = 1; n <= 4096; n = n * 3 + 1) {
        CHECK(vla_case(n, 0) == -1, "inline path, %ld bytes", n);
        long bad = vla_case(n, 1);
        CHECK(bad == -1, "slow path, %ld bytes: byte %ld overwritten by the call's stack arguments", n, bad);
    }
    printf("test_split_review_vla: ok\n");
}

int main(void)
{
    run_main(body, NULL);
    return 0;
}
#endif
