/*
 * asm_amd64.S — goroutine context switch for x86-64 System V.
 *
 * A switched-out goroutine's state is one frame on its own stack, pointed
 * to by g->sched_sp (the first field of struct gort_g):
 *     sp+0   MXCSR (4 bytes), x87 control word (2 bytes), pad
 *     sp+8   r15, r14, r13, r12, rbx, rbp   (sp+8 .. sp+48)
 *     sp+56  return address into the code that switched out
 * Only callee-saved state is kept: a switch is an ordinary function call,
 * so the caller already assumed every other register is clobbered.  MXCSR
 * and the x87 control word are callee-saved control bits in the ABI, so a
 * goroutine that changes its rounding mode keeps it.
 *
 * Go's model: a goroutine never switches straight to another.  It switches
 * to its M's scheduler stack (g0, here the M's pthread stack) with mcall,
 * and the scheduler resumes the next one with gogo.  That way a G is fully
 * saved before any other M can see it on a run queue.
 *
 * Rejected: ucontext (swapcontext makes a sigprocmask syscall per switch),
 * setjmp/longjmp (mangled pointers, cannot start a fresh stack portably).
 */
    .text

/* void gort__mcall_asm(G *g, void (*fn)(G *), uintptr_t g0sp) */
    .globl gort__mcall_asm
    .hidden gort__mcall_asm
    .type gort__mcall_asm, @function
    .p2align 4
gort__mcall_asm:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)           /* g->sched_sp */
    movq %rdx, %rsp             /* onto the scheduler stack */
    /* From here on the frame belongs to the scheduler: there is no caller
     * to unwind into, so debuggers and profilers stop here. */
    .cfi_undefined %rip
    xorl %ebp, %ebp
    call *%rsi                  /* fn(g): never returns */
    ud2
    .cfi_endproc
    .size gort__mcall_asm, .-gort__mcall_asm

/* void gort__gogo_asm(G *g): resume g; never returns to the caller. */
    .globl gort__gogo_asm
    .hidden gort__gogo_asm
    .type gort__gogo_asm, @function
    .p2align 4
gort__gogo_asm:
    .cfi_startproc
    movq (%rdi), %rsp
    .cfi_undefined %rip
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size gort__gogo_asm, .-gort__gogo_asm

/* Entry of every new goroutine: gort__arch_newstack puts the G in r12 and
 * this address as the first return address.  It is the outermost frame of
 * a goroutine stack, so the return address is marked undefined: gdb, perf
 * and libgcc's unwinder end the goroutine's backtrace here cleanly. */
    .globl gort__gostart
    .hidden gort__gostart
    .type gort__gostart, @function
    .p2align 4
gort__gostart:
    .cfi_startproc
    .cfi_undefined %rip
    movq %r12, %rdi
    xorl %ebp, %ebp
    andq $-16, %rsp
    call gort__goentry@PLT      /* -> rax = g->fn, rdx = g->arg */
    movq %rdx, %rdi
    call *%rax
    .globl gort__gostart_ret
    .hidden gort__gostart_ret
gort__gostart_ret:
    movq %r12, %rdi             /* r12 is callee-saved: still the G */
    call gort__goexit_entry@PLT
    ud2
    .cfi_endproc
    .size gort__gostart, .-gort__gostart

    .section .note.GNU-stack,"",@progbits
