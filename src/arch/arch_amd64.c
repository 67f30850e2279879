/*
 * arch_amd64.c — x86-64 feature detection for the asynchronous preemption
 * trampoline (preempt_amd64.S).
 *
 * What: once, before the SIGURG handler is installed, decide how the
 * trampoline saves the extended register state and how big that save area
 * is.  The results live in three globals the assembly reads directly, plus
 * one (gort__asyncpreempt_stack) the signal handler uses to check that an
 * interrupted goroutine has room on its stack for the trampoline's frame.
 *
 * Invariants: the globals are written once, by gort__arch_preempt_init,
 * before any preemption signal can be sent (gort__signal_init calls it
 * before sigaction), and never change afterwards, so the handler and the
 * trampoline read them without synchronisation.
 *
 * XSAVE, not XSAVEOPT/XSAVEC/XSAVES:
 *   - XSAVEOPT's "modified optimisation" may skip writing a component it
 *     believes is unchanged since the last XRSTOR from the same linear
 *     address.  Our save area is a slot on a goroutine stack that is reused
 *     by later preemptions, by other code, and after the goroutine moved to
 *     another thread: the memory no longer holds what the CPU thinks it
 *     holds, so a skipped component would restore garbage.
 *   - XSAVEC writes the compacted format whose layout depends on XINUSE;
 *     it would save a little stack but needs XCOMP_BV handling and a second
 *     CPUID size query, for no correctness gain.  XSAVES is ring-0 only.
 *   - XSAVE (standard format, CPUID.(EAX=0DH,ECX=0):EBX bytes) always writes
 *     every requested component that is not in its init state and records
 *     which ones in XSTATE_BV, so XRSTOR reproduces the state bit for bit
 *     (init-state components are re-initialised, which is the same bits).
 *   - FXSAVE is the fallback when the OS has not enabled XSAVE (OSXSAVE
 *     clear): it covers x87, MXCSR and xmm0-15, which is all such a CPU/OS
 *     lets user code use.
 *
 * The requested-feature mask is XCR0 minus PKRU.  PKRU (memory protection
 * keys) is per-thread state, like the fs base: a goroutine that moves to
 * another thread must not carry the old thread's key rights with it (the
 * cooperative switch in asm_amd64.S does not carry it either).
 */
#include "runtime.h"
#include "valgrind_hooks.h"

#include <cpuid.h>

#define XFEATURE_X87      (1ull << 0)
#define XFEATURE_SSE      (1ull << 1)
#define XFEATURE_AVX      (1ull << 2)
#define XFEATURE_PKRU     (1ull << 9)

/* Read by preempt_amd64.S: keep these names and types in sync with it. */
uint64_t gort__xsave_mask; /* EDX:EAX for XSAVE/XRSTOR */
uint64_t gort__xsave_size; /* bytes of the save area (512 for FXSAVE) */
uint32_t gort__xsave_ok;   /* 1: XSAVE/XRSTOR, 0: FXSAVE/FXRSTOR */
uint32_t gort__have_avx;   /* 1: the trampoline may execute VZEROUPPER */
uint32_t gort__asyncpreempt_vg;    /* 1: under valgrind: return without `ret` */
uintptr_t gort__asyncpreempt_vgpc; /* its pc slot (see preempt_amd64.S) */
/* Bytes below the interrupted rsp the trampoline's own frame can occupy
 * (red zone, return pc, GPRs, rflags, alignment, save area). */
size_t gort__asyncpreempt_frame;

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    /* xgetbv with ecx=0; spelled as bytes so it assembles without -mxsave. */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

void gort__arch_preempt_init(void)
{
    static bool done;
    if (done)
        return;
    unsigned a, b, c, d;
    bool osxsave = false;
    if (__get_cpuid(1, &a, &b, &c, &d))
        osxsave = (c & bit_OSXSAVE) != 0 && (c & bit_XSAVE) != 0;
    uint64_t mask = 0, size = 512;
    if (osxsave && __get_cpuid_max(0, NULL) >= 0xd) {
        uint64_t xcr0 = read_xcr0();
        __cpuid_count(0xd, 0, a, b, c, d);
        /* EBX: size of the standard-format area for the features enabled
         * in XCR0 now (PKRU included; we simply do not request it). */
        if (b >= 576 && (xcr0 & (XFEATURE_X87 | XFEATURE_SSE)) ==
                            (XFEATURE_X87 | XFEATURE_SSE)) {
            mask = xcr0 & ~XFEATURE_PKRU;
            size = b;
        }
    }
    gort__xsave_mask = mask;
    gort__xsave_ok = mask != 0;
    gort__xsave_size = (size + 63) & ~(uint64_t)63;
    gort__have_avx = (mask & XFEATURE_AVX) != 0;
    gort__asyncpreempt_vg = RUNNING_ON_VALGRIND ? 1 : 0;
    /* The slot is shared on purpose (preempt_amd64.S): not a race for
     * helgrind or DRD to report. */
    VALGRIND_HG_DISABLE_CHECKING(&gort__asyncpreempt_vgpc, sizeof gort__asyncpreempt_vgpc);
    DRD_IGNORE_VAR(gort__asyncpreempt_vgpc);
    /* 128 red zone + 8 return pc + 8 rbp + 8 rflags + 14 GPRs + up to 63
     * bytes of alignment + the save area. */
    gort__asyncpreempt_frame = 128 + 8 + 8 + 8 + 14 * 8 + 63 + gort__xsave_size;
    done = true;
}
