/*
 * context_amd64.c — the C half of the x86-64 context switch: the initial
 * frame of a new goroutine, matching the layout in asm_amd64.S.
 */
#include "runtime.h"

extern void gort__gostart(void);

void gort__arch_newstack(G *g)
{
    /* stack_hi is 16-byte aligned.  gogo pops 7 words then returns, leaving
     * rsp = sp + 64; gostart realigns before its call. */
    uintptr_t *sp = (uintptr_t *)(g->stack_hi - 80);
    /* MXCSR 0x1f80 (all exceptions masked, round to nearest) and x87 control
     * word 0x037f: the ABI's initial values, not the creator's. */
    sp[0] = 0x1f80u | ((uintptr_t)0x037fu << 32);
    sp[1] = 0;              /* r15 */
    sp[2] = 0;              /* r14 */
    sp[3] = 0;              /* r13 */
    sp[4] = (uintptr_t)g;   /* r12: the G, read by gostart */
    sp[5] = 0;              /* rbx */
    sp[6] = 0;              /* rbp: ends the frame-pointer chain */
    sp[7] = (uintptr_t)gort__gostart;
    sp[8] = 0;
    sp[9] = 0;
    g->sched_sp = (uintptr_t)sp;
}
