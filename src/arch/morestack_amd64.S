/*
 * morestack_amd64.S — the entry points that code compiled with
 * -fsplit-stack calls when its prologue's stack check fails (split-stack
 * mode, docs/DESIGN.md "Stack checks").  C side: morestack.c.
 *
 * The contract gcc and clang compile to.  Every checked function starts
 *     cmp %fs:0x70,%rsp            (frames >= 256: lea -N(%rsp),%r11; cmp %fs:0x70,%r11)
 *     jb 1f
 *     ...body...
 * 1:  mov $frame,%r10; mov $argbytes,%r11; call __morestack; ret
 *     <continuation: the body again, from its first instruction>
 * %fs:0x70 is the glibc TCB word reserved for split stacks.  libgcc's
 * __morestack allocates a new stack segment, copies the arguments and
 * calls the continuation on it.  gort keeps its fixed stacks (no segments,
 * no copying: DESIGN.md says why) and puts in that word either the
 * running goroutine's guard (stack_lo + GORT_STACK_GUARD) or, to ask it
 * to stop, a poison above every stack pointer.  So the check fails for
 * two reasons only: the stack is exhausted (a fatal "stack overflow"
 * report, before any byte below the guard is written by the function), or
 * a preemption request (the goroutine parks here, at a call, and resumes
 * later, maybe on another thread).  Either way nothing is allocated: once
 * the runtime lets it go on, the function resumes at its continuation with
 * every register and rsp exactly as at its entry, as if the check had
 * passed, and no __morestack frame stays on the stack.
 *
 * Entry points:
 *   __morestack                    the failed check (reason in C).
 *   __morestack_non_split          gold and lld send here the functions that
 *                                  call code compiled without checks (libc,
 *                                  the gort runtime): their prologue is
 *                                  rewritten to `stc` and always comes here.
 *                                  Fast path: gort__nonsplit_room bytes free
 *                                  below the frame -> the body is called
 *                                  from here, libgcc's way (~5 ns).
 *   __morestack_large_model        -mcmodel=large's form (r10 = args<<32|frame).
 *   __morestack_allocate_stack_space  gcc's VLA/alloca check failed: the
 *                                  memory comes from this stack, rsp moved.
 *
 * Register state at the continuation: as at the function's entry, except
 * r10 and r11 (the prologue clobbered them already) and the flags.  gcc's
 * variadic functions begin their continuation with `lea 0x18(%rbp),%r11`,
 * reading libgcc's __morestack frame for the address of the stack
 * arguments; we resume past that instruction with r11 already holding
 * that address (entry rsp + 8), because rbp must stay the caller's (and
 * past a nested one's `mov %rax,%r10; lea 0x18(%rbp),%r11`: RESUME).
 *
 * The slow path's frame (the runtime's frame-pointer traceback and the
 * errno fix-up rely on it; CFI describes it for gdb, perf and libgcc):
 *     E      = the function's entry rsp (its caller's return address at E)
 *     E-8    return address into the function (the `ret` after the call)
 *     E-16   copy of the caller's return address  } a frame record for the
 *     E-24   the caller's rbp                     } caller (fp walks see it)
 *     E-32   copy of E-8
 *     E-40   E-24                                 <- rbp
 *     rbp-8  rflags, then rax rbx rcx rdx rsi rdi r8..r15 down to rbp-120
 *            (the layout of arch/preempt_amd64.S, for gort__ts_errno_moved)
 *     below  64-byte aligned save of the vector argument registers:
 *            zmm0-7, ymm0-7 or xmm0-7, by what the CPU and OS enable.
 * The vector registers are saved because they carry arguments; the rest of
 * the extended state is the ABI's caller-saved scratch at a call, so no
 * XSAVE: this is the cheap, synchronous preemption path.
 *
 * Rejected: libgcc's own __morestack (segments: the seed's hot split,
 * measured at 4.8 us and 4 rt_sigprocmask calls per split call); calling
 * the continuation from here like libgcc (leaves a frame and copies
 * r11 bytes of arguments; resuming with rsp as at entry needs neither).
 *
 * This object carries .note.GNU-split-stack: without it gold treats the
 * calls to __morestack as calls into code without checks and rewrites
 * every prologue; and .note.GNU-no-split-stack, as gcc marks objects with
 * no_split_stack functions, or gold and lld fail to find a prologue to
 * adjust in these functions' calls into morestack.c.  Every symbol is hidden: exported from a shared object,
 * __morestack breaks every linker (the feasibility study), so it is linked
 * into the executable from libgort.a, as libgcc's is.
 */

#include "gprs_amd64.h"

#define VARARGS_LEA 0x185d8d4c      /* lea 0x18(%rbp),%r11 as a little-endian dword */
#define CHAIN_MOV   0x4cc28949      /* mov %rax,%r10 (49 89 c2) and the lea's first byte */

/* Resume at the continuation: r10 = the `ret` after the call, rsp = the
 * function's entry rsp.  Plain continuations are jumped to; a variadic
 * one's `lea 0x18(%rbp),%r11` is done here (r11 = the stack arguments)
 * and skipped.  A nested variadic function (gcc: static chain in r10,
 * saved in rax across the call) begins `mov %rax,%r10; lea ...`: both
 * are done here, so the jump goes through the red zone (r10 and r11 both
 * carry values by then; a signal frame lands below the red zone). */
.macro RESUME
    cmpl $VARARGS_LEA, 1(%r10)
    je 3f
    cmpl $CHAIN_MOV, 1(%r10)
    jne 4f
    cmpl $VARARGS_LEA, 4(%r10)
    jne 4f
    leaq 8(%rsp), %r11
    addq $8, %r10
    movq %r10, -8(%rsp)
    .cfi_offset %rip, -8
    movq %rax, %r10
    jmp *-8(%rsp)
    .cfi_register %rip, %r10
3:  leaq 8(%rsp), %r11
    addq $4, %r10
4:  addq $1, %r10
    jmp *%r10
.endm

/* gort__nonsplit_room bytes free below the frame (r10) and no poison:
 * resume at once; otherwise the slow path, with r11 = kind. */
    .hidden gort__nonsplit_room
/* The vector argument registers 0-7 of one width (xmm, ymm or zmm) to or
 * from the save area at rsp, `size` bytes apart. */
.macro VEC insn, reg, size, dir
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7
    .ifc \dir, save
    \insn %\reg\()\n, \n*\size(%rsp)
    .else
    \insn \n*\size(%rsp), %\reg\()\n
    .endif
    .endr
.endm

.macro ROOM_OR_SLOW kind
    movq %rsp, %r11
    subq gort__nonsplit_room(%rip), %r11
    jb 1f                       /* wrapped: certainly not enough */
    subq %r10, %r11
    jb 1f
    cmpq %fs:0x70, %r11
    jb 1f
    .cfi_remember_state
    popq %r10                   /* return address: the `ret` after the call */
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %r10
    RESUME
1:  .cfi_restore_state
    movl $\kind, %r11d
    jmp gort__morestack_common
.endm

    .text

/* ---------------------------------------------------------------------
 * __morestack and __morestack_non_split's slow path.  r11 = 0 for a check
 * that failed, 1 for code without checks that lacks room; r10 = frame.
 * ------------------------------------------------------------------- */
    .globl __morestack
    .hidden __morestack
    .type __morestack, @function
    .p2align 4
__morestack:
    .cfi_startproc
    xorl %r11d, %r11d
    jmp gort__morestack_common
    .cfi_endproc
    .size __morestack, .-__morestack

    .globl __morestack_non_split
    .hidden __morestack_non_split
    .type __morestack_non_split, @function
    .p2align 4
__morestack_non_split:
    .cfi_startproc
    /* Taken on every call of a function whose prologue the linker
     * rewrote, so its shape is libgcc's: the continuation is *called*,
     * with a frame of ours above it, and returns here; then `ret` goes
     * back to the `ret` after the prologue's call, which returns to the
     * caller.  Every call is matched by a return to the address it
     * pushed, so the return-stack predictor stays right: resuming by
     * `pop; jmp` (as the slow path does) cost ~18 ns per call here,
     * against ~5 ns this way, measured.  The frame record is libgcc's
     * too, so gcc's variadic continuation (`lea 0x18(%rbp),%r11`) and its
     * nested functions' (`mov %rax,%r10`) run as compiled.
     *
     * Room for code without checks: rbp - frame - arguments copied - 24
     * - gort__nonsplit_room above the word.  The 24 are what the body
     * runs below that this frame adds: the call's return address and up
     * to 15 bytes of alignment (without them the room promised was short
     * by as much, test_split_overflow's libc case at some stack tops).  A
     * poison is above every stack pointer, so a request fails this test
     * too and takes the slow path, which parks. */
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_offset %rbp, -16
    movq %rsp, %rbp
    /* Unwinders are told that this frame returns straight to the
     * function's caller (its return address is at rbp+16): the function
     * has done nothing yet when its body is called from here, and a C++
     * unwinder that stopped at the `ret` after its prologue's call would
     * find no call-site entry there and call std::terminate. */
    .cfi_def_cfa %rbp, 24
    .cfi_offset %rbp, -24
    .cfi_offset %rip, -8
    pushq %r11                  /* bytes of stack arguments */
    movq %rbp, %r11
    subq %r10, %r11
    jb 1f                       /* wrapped: certainly not enough */
    subq -8(%rbp), %r11
    jb 1f
    subq $24, %r11
    jb 1f
    subq gort__nonsplit_room(%rip), %r11
    jb 1f
    cmpq %fs:0x70, %r11
    jb 1f
    popq %r11
    /* Copy the stack arguments (rbp+24 on) below, ending 16-byte aligned
     * at the call, so the continuation finds them where its caller put
     * them relative to its entry rsp. */
    movq %rbp, %r10
    subq %r11, %r10
    andq $15, %r10
    subq %r10, %rsp
2:  testq %r11, %r11
    jz 3f
    pushq 16(%rbp,%r11)
    subq $8, %r11
    jmp 2b
3:  movq 8(%rbp), %r10          /* the `ret` after the prologue's call */
    addq $1, %r10
    call *%r10                  /* the function's body, returning here */
    /* Under every body called this way: syscall_foreign.c must not take
     * this return address for a runtime frame (which would refuse the P
     * hand-off of a long foreign call below it). */
    .globl gort__morestack_ns_ret
    .hidden gort__morestack_ns_ret
gort__morestack_ns_ret:
    leave
    .cfi_def_cfa %rsp, 8
    .cfi_same_value %rbp
    .cfi_offset %rip, -8
    ret                         /* to the `ret` after the prologue's call */
1:  .cfi_def_cfa %rbp, 24
    .cfi_offset %rbp, -24
    .cfi_offset %rip, -8
    popq %r11
    popq %rbp
    .cfi_def_cfa %rsp, 8
    .cfi_same_value %rbp
    .cfi_offset %rip, -8
    movl $1, %r11d
    jmp gort__morestack_common
    .cfi_endproc
    .size __morestack_non_split, .-__morestack_non_split

/* -mcmodel=large: r10 carries the argument size in its high half.  gold
 * rewrites such a function that calls code without checks to `stc` too,
 * but leaves its call here (it renames only calls to __morestack): the
 * same fast path, so that such a call costs a compare, not the slow path.
 * When it fails the slow path decides as for a plain check (kind 0): the
 * function may have no call into code without checks at all. */
    .globl __morestack_large_model
    .hidden __morestack_large_model
    .type __morestack_large_model, @function
    .p2align 4
__morestack_large_model:
    .cfi_startproc
    movl %r10d, %r10d
    ROOM_OR_SLOW 0
    .cfi_endproc
    .size __morestack_large_model, .-__morestack_large_model

    .globl gort__morestack_common
    .hidden gort__morestack_common
    .hidden gort__morestack2
    .hidden gort__vecsave_kind
    .type gort__morestack_common, @function
    .p2align 4
gort__morestack_common:
    .cfi_startproc
    /* CFA = E, the function's entry rsp; the return address at E-8 leads
     * the unwinder into the function, whose CFI at that point (before its
     * own frame) leads on to its caller. */
    pushq 8(%rsp)               /* E-16: the caller's return address */
    .cfi_adjust_cfa_offset 8
    pushq %rbp                  /* E-24: the caller's rbp */
    .cfi_adjust_cfa_offset 8
    .cfi_offset %rbp, -24
    movq %rsp, %rbp             /* the caller's frame record */
    pushq 16(%rbp)              /* E-32: return address into the function */
    .cfi_adjust_cfa_offset 8
    pushq %rbp                  /* E-40 */
    .cfi_adjust_cfa_offset 8
    movq %rsp, %rbp
    .cfi_def_cfa %rbp, 40
    pushfq
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $512, %rsp
    andq $-64, %rsp
    movl gort__vecsave_kind(%rip), %eax
    cmpl $2, %eax
    je 10f
    cmpl $1, %eax
    je 11f
    VEC movdqu, xmm, 16, save
    jmp 12f
11: VEC vmovdqu, ymm, 32, save
    vzeroupper
    jmp 12f
10: VEC vmovdqu64, zmm, 64, save
    vzeroupper
12: cld
    movq %rbp, %rdi
    call gort__morestack2       /* returns when the function may go on */
    movl gort__vecsave_kind(%rip), %eax
    cmpl $2, %eax
    je 20f
    cmpl $1, %eax
    je 21f
    VEC movdqu, xmm, 16, load
    jmp 22f
21: VEC vmovdqu, ymm, 32, load
    jmp 22f
20: VEC vmovdqu64, zmm, 64, load
22: leaq -120(%rbp), %rsp
    POP_GPRS
    addq $16, %rsp              /* the function's frame record */
    popq %rbp                   /* the caller's rbp */
    .cfi_def_cfa %rsp, 16
    .cfi_same_value %rbp
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %r10                   /* the `ret` after the call */
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %r10
    RESUME
    .cfi_endproc
    .size gort__morestack_common, .-gort__morestack_common

/* ---------------------------------------------------------------------
 * void *__morestack_allocate_stack_space(size_t size)
 * gcc's dynamic allocation (VLA, alloca) found rsp - size below the word.
 * libgcc returns a block of a new segment; we check the real room
 * (morestack.c: a fatal report if there is none) and then allocate on
 * this stack: return with the caller's rsp lowered by size and the block
 * right below the old rsp.  The caller expects an ordinary call here, so
 * only callee-saved registers and the result matter; its code after the
 * call addresses its frame through rbp (it has a dynamic allocation) and
 * its outgoing arguments through the new rsp.  Those need room of their
 * own: the inline path places the block at new rsp + the outgoing
 * argument area's size, which is not 0 under -maccumulate-outgoing-args
 * (the default of -mtune=intel, k8, atom, silvermont): its stack
 * arguments are stored at 0(%rsp)... and would land on the block.  That
 * size is not known here, so rsp goes VLA_SLACK bytes lower still: up to
 * 32 stack argument words per call.
 * ------------------------------------------------------------------- */
#define VLA_SLACK 256               /* GORT_VLA_SLACK (runtime.h) */
    .globl __morestack_allocate_stack_space
    .hidden __morestack_allocate_stack_space
    .hidden gort__morestack_vla
    .type __morestack_allocate_stack_space, @function
    .p2align 4
__morestack_allocate_stack_space:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_offset %rbp, -16
    movq %rsp, %rbp
    .cfi_def_cfa_register %rbp
    addq $15, %rdi
    andq $-16, %rdi
    pushq %rdi
    pushq %rdi                  /* keep rsp 16-byte aligned */
    leaq 16(%rbp), %rsi         /* the caller's rsp */
    movq 8(%rbp), %rdx          /* and where it called from */
    call gort__morestack_vla    /* returns only if the block fits */
    popq %rdi
    leave
    .cfi_def_cfa %rsp, 8
    popq %r11
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %r11
    subq %rdi, %rsp
    movq %rsp, %rax
    subq $VLA_SLACK, %rsp
    jmp *%r11
    .cfi_endproc
    .size __morestack_allocate_stack_space, .-__morestack_allocate_stack_space

/* The linker canary (splitcheck.c) comes with __morestack. */
    .section .data.rel.ro.gort_splitcheck,"aw"
    .p2align 3
    .quad gort__splitcheck_small
    .quad gort__splitcheck_large

    .section .note.GNU-split-stack,"",@progbits
    /* ... whose functions have no checks of their own and call C without
     * them: the linkers must not try to adjust those calls. */
    .section .note.GNU-no-split-stack,"",@progbits
    .section .note.GNU-stack,"",@progbits
