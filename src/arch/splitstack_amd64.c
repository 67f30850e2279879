/*
 * splitstack_amd64.c — split-stack mode's x86-64 details (morestack.c is
 * the mode): where the thread's guard word is, which vector registers
 * carry arguments and must be saved at a prologue stop, and the start-up
 * check that the program's linker adjusted calls from checked code into
 * code without checks (the canary is splitcheck.c, compiled
 * -fsplit-stack: two functions calling gort__splitcheck_callee, which is
 * compiled without checks).
 *
 * What the linkers do to such a caller, measured: gold and lld rewrite a
 * small frame's `cmp %fs:0x70,%rsp` to `stc` (always the slow path,
 * which they redirect to __morestack_non_split), and add their
 * adjustment to a large frame's `lea -N(%rsp),%r11`: lld 16 KiB, gold
 * 1 MiB unless told --split-stack-adjust-size.  GNU ld (bfd) does
 * neither, silently.
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <string.h>

uint32_t gort__vecsave_kind; /* 0: xmm0-7, 1: ymm0-7, 2: zmm0-7 (morestack_amd64.S) */

extern const unsigned char gort__splitcheck_small[] __attribute__((weak));
extern const unsigned char gort__splitcheck_large[] __attribute__((weak));

/* The callee of the canary: code without checks. */
__attribute__((noinline)) void gort__splitcheck_callee(volatile char *p) { p[0] = 0; }

uintptr_t *gort__arch_tcb_stackguard(void)
{
    char *self;
    __asm__("movq %%fs:0, %0" : "=r"(self)); /* the TCB's pointer to itself */
    return (uintptr_t *)(self + 0x70);       /* glibc's __private_ss */
}

void gort__arch_splitstack_init(void)
{
    /* The unadjusted check: cmp %fs:0x70,%rsp. */
    static const unsigned char cmp[] = {0x64, 0x48, 0x3b, 0x24, 0x25, 0x70, 0, 0, 0};
    const unsigned char *p = gort__splitcheck_small;
    if (p && memcmp(p, cmp, sizeof cmp) == 0)
        gort__throw("split-stack program linked without the split-stack call adjustment "
                    "(GNU ld does not make it: calls into libc would run past the stack "
                    "guard unchecked); link with -fuse-ld=gold or -fuse-ld=lld");
    /* lea -N(%rsp),%r11 = 4c 8d 9c 24 disp32: gold's default adjustment
     * asks 1 MiB of free stack, which no goroutine stack has: every call
     * would take the slow path. */
    const unsigned char *q = gort__splitcheck_large;
    if (q && q[0] == 0x4c && q[1] == 0x8d && q[2] == 0x9c && q[3] == 0x24) {
        int32_t disp;
        memcpy(&disp, q + 4, sizeof disp);
        if (-(int64_t)disp > 2 * GORT_NONSPLIT_ROOM + 4096)
            gort__throw("split-stack program linked with a %lld-byte stack adjustment for "
                        "calls into code without checks; with gold, link with "
                        "-Wl,--split-stack-adjust-size=0x%x",
                        (long long)-(int64_t)disp, GORT_NONSPLIT_ROOM);
    }
    /* The features the OS enabled: arch_amd64.c's XCR0-derived mask (0
     * without OSXSAVE), read once for the preemption trampoline. */
    gort__arch_preempt_init();
    uint64_t x = gort__xsave_mask;
    if ((x & 0xe6) == 0xe6)
        gort__vecsave_kind = 2; /* SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM enabled */
    else if ((x & 0x6) == 0x6)
        gort__vecsave_kind = 1; /* SSE, AVX */
}
