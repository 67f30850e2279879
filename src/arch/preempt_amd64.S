/*
 * preempt_amd64.S — gort__asyncpreempt, the function an asynchronously
 * preempted goroutine "calls" at the instruction where the SIGURG hit it.
 *
 * How it is entered.  The signal handler (signal_linux.c) found the
 * interrupted context at an async safe point and simulated a call: it
 * stored the interrupted pc at (rsp - 128 - 8), set rsp to rsp - 136 and
 * rip to this function.  The 128 bytes below the interrupted rsp are the
 * System V red zone: the interrupted (leaf) code may keep live data there,
 * so neither the handler nor this trampoline ever writes into it.  When the
 * kernel returns from the handler we start here with every register and
 * all of the FPU/vector state exactly as the goroutine had them, except
 * rsp (lowered by 136) and rip.
 *
 * What it does.  Save rflags, the 15 general registers and the complete
 * extended state (x87, MXCSR, xmm/ymm/zmm0-31, k0-7, ... as requested by
 * the XCR0-derived mask chosen in arch_amd64.c) on the goroutine's own
 * stack; put the FPU into the ABI's initial state for the C runtime; call
 * gort__asyncpreempt2(), which parks the goroutine as preempted and returns
 * only when it is scheduled again, possibly on another thread; restore
 * everything and return with `ret $128`, which pops the interrupted pc and
 * then skips the red zone, leaving rsp exactly as it was interrupted.
 *
 * Frame (rbp = entry rsp - 8; CFA = entry rsp + 136 = interrupted rsp):
 *     rbp+8      interrupted pc           (CFA-136)
 *     rbp+0      saved rbp                (CFA-144)
 *     rbp-8      rflags                   (CFA-152)
 *     rbp-16 ..  rax rbx rcx rdx rsi rdi r8 .. r15  (14 words, to rbp-120)
 *     ... down to a 64-byte aligned XSAVE (or FXSAVE) area of
 *     gort__xsave_size bytes at the final rsp.
 * The signal handler checks there is room for gort__asyncpreempt_frame
 * bytes plus a margin for gort__asyncpreempt2's own frames before it
 * redirects a goroutine here.
 *
 * Why `ret $128` rather than `ret` then `add $128, %rsp` in the caller: the
 * interrupted code has no caller-side instruction to run after us; it
 * resumes at its own next instruction.  ret imm16 is the only way to return
 * to an arbitrary pc and also move rsp over the untouched red zone without
 * clobbering a register or the flags.
 *
 * Why the full state: an interrupted instruction can be anywhere, so every
 * register is live.  Saving only the ABI's callee-saved set (as the
 * cooperative switch does) would be wrong here.  XSAVE/XRSTOR rather than
 * XSAVEOPT/XSAVEC: see arch_amd64.c.  The 64-bit forms (xsave64, fxsave64)
 * are used so the x87 last-instruction/operand pointers are kept as 64-bit
 * values, bit for bit.
 *
 * Unwinding: the CFI describes the interrupted frame exactly (CFA = the
 * interrupted rsp, rip saved at CFA-136, every GPR saved), and the frame is
 * marked as a signal frame so unwinders look up the interrupted pc itself,
 * not pc-1: it is an instruction that has not executed yet, not a return
 * address after a call.  The rbp chain is also intact, so the runtime's
 * frame-pointer traceback passes through it.
 *
 * No .note.gnu.property (IBT/SHSTK) is emitted on purpose: a simulated call
 * has no shadow-stack entry, so the `ret` would fault under CET shadow
 * stacks; a link that contains this object is therefore never SHSTK-marked.
 */

#include "gprs_amd64.h"

/* The general registers, rflags and rbp, from the frame (rsp at r15's
 * slot); leaves rsp at the interrupted pc. */
.macro RESTORE_GPRS
    POP_GPRS
    popq %rbp
    .cfi_def_cfa %rsp, 136
    .cfi_same_value %rbp
.endm

    .text

    .globl gort__asyncpreempt
    .hidden gort__asyncpreempt
    .hidden gort__asyncpreempt2
    .hidden gort__xsave_mask
    .hidden gort__xsave_size
    .hidden gort__xsave_ok
    .hidden gort__have_avx
    .hidden gort__asyncpreempt_vg
    .hidden gort__asyncpreempt_vgpc
    .type gort__asyncpreempt, @function
    .p2align 6
gort__asyncpreempt:
    .cfi_startproc
    .cfi_signal_frame
    .cfi_def_cfa %rsp, 136
    .cfi_offset %rip, -136
    pushq %rbp
    .cfi_offset %rbp, -144
    movq %rsp, %rbp
    .cfi_def_cfa %rbp, 144
    pushfq
    pushq %rax
    .cfi_offset %rax, -160
    pushq %rbx
    .cfi_offset %rbx, -168
    pushq %rcx
    .cfi_offset %rcx, -176
    pushq %rdx
    .cfi_offset %rdx, -184
    pushq %rsi
    .cfi_offset %rsi, -192
    pushq %rdi
    .cfi_offset %rdi, -200
    pushq %r8
    .cfi_offset %r8, -208
    pushq %r9
    .cfi_offset %r9, -216
    pushq %r10
    .cfi_offset %r10, -224
    pushq %r11
    .cfi_offset %r11, -232
    pushq %r12
    .cfi_offset %r12, -240
    pushq %r13
    .cfi_offset %r13, -248
    pushq %r14
    .cfi_offset %r14, -256
    pushq %r15
    .cfi_offset %r15, -264

    /* The extended-state area: XSAVE needs 64-byte alignment. */
    subq gort__xsave_size(%rip), %rsp
    andq $-64, %rsp
    cmpl $0, gort__xsave_ok(%rip)
    je 1f
    /* XSAVE writes only XSTATE_BV of the 64-byte header at offset 512;
     * XRSTOR faults unless the rest (XCOMP_BV, reserved) is zero, and the
     * slot holds stale stack bytes.  General registers only: the vector
     * state has not been saved yet. */
    xorl %eax, %eax
    movq %rax, 512(%rsp)
    movq %rax, 520(%rsp)
    movq %rax, 528(%rsp)
    movq %rax, 536(%rsp)
    movq %rax, 544(%rsp)
    movq %rax, 552(%rsp)
    movq %rax, 560(%rsp)
    movq %rax, 568(%rsp)
    movl gort__xsave_mask(%rip), %eax
    movl gort__xsave_mask+4(%rip), %edx
    xsave64 (%rsp)
    jmp 2f
1:  fxsave64 (%rsp)
2:
    /* Enter C with the ABI's initial FPU environment: empty x87 stack and
     * default control word (fninit), default MXCSR, clean upper vector
     * halves, DF clear.  The goroutine's own values come back with XRSTOR
     * and popfq. */
    fninit
    pushq $0x1f80
    ldmxcsr (%rsp)
    addq $8, %rsp
    cmpl $0, gort__have_avx(%rip)
    je 3f
    vzeroupper
3:  cld
    call gort__asyncpreempt2@PLT
    /* The return address of that call, for traceback.c: the frame record
     * above it holds the interrupted pc, which is no return address. */
    .globl gort__asyncpreempt_ret
    .hidden gort__asyncpreempt_ret
gort__asyncpreempt_ret:

    /* Resumed (maybe on another M).  rsp is back at the save area: the
     * callee preserved it, and rbp too. */
    cmpl $0, gort__xsave_ok(%rip)
    je 4f
    movl gort__xsave_mask(%rip), %eax
    movl gort__xsave_mask+4(%rip), %edx
    xrstor64 (%rsp)
    jmp 5f
4:  fxrstor64 (%rsp)
5:  leaq -120(%rbp), %rsp
    cmpl $0, gort__asyncpreempt_vg(%rip)
    jne 6f
    .cfi_remember_state
    RESTORE_GPRS
    /* Pop the interrupted pc, then skip the 128-byte red zone. */
    ret $128

    /* Under valgrind.  VEX translates every `ret` with a hint that the
     * 128 bytes below the new rsp are dead, and memcheck marks them
     * undefined: here they are the interrupted code's live red zone, so
     * a leaf function's locals would read as uninitialised after every
     * preemption.  So no `ret`: the pc goes through a global slot, rsp
     * jumps over it and the red zone with lea (no flags touched), and an
     * indirect jmp resumes (a pop carries no such hint).  One slot for all
     * threads is enough only because valgrind runs one thread at a time
     * and switches threads or delivers signals only at the start of a
     * translated block: label 6 follows a conditional branch, so it always
     * starts a block, and from it to the jmp are 19 instructions, within
     * VEX's default limit of 50 per block (lackey's block trace shows one
     * block).  --vex-guest-max-insns under 19 could end a block between
     * the pop and the jmp: unsupported.  Natively the slot would race; the
     * flag is set only when RUNNING_ON_VALGRIND (arch_amd64.c).  Unwind
     * info stops at the last two instructions: the pc is in the slot. */
6:  .cfi_restore_state
    RESTORE_GPRS
    popq gort__asyncpreempt_vgpc(%rip)
    .cfi_def_cfa_offset 128
    .cfi_undefined %rip
    leaq 128(%rsp), %rsp
    .cfi_def_cfa_offset 0
    jmp *gort__asyncpreempt_vgpc(%rip)
    .cfi_endproc
    .size gort__asyncpreempt, .-gort__asyncpreempt

    .section .note.GNU-stack,"",@progbits
