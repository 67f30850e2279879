/*
 * vfork_amd64.S — vfork() and __vfork(), libc's own done over, so that the
 * child is marked as one.
 *
 * A vfork child runs on its parent's thread's stack, with its memory and
 * its TLS, until it execs or exits; the parent's thread waits in the
 * kernel meanwhile.  The code a program runs there (dup2, close, signal
 * resets, sigprocmask: the usual steps before exec) reaches gort's libc
 * wrappers, which read the thread's M and goroutine from TLS and would
 * act for them: the system-call bracket could hand the parent's P away
 * and, with none to take back, run the scheduler on the child's task; a
 * close() of one of the parent's sockets woke the parent's goroutines
 * with ECANCELED and took the socket out of the parent's epoll set; a
 * sigaction or sigprocmask rewrote what the runtime records for the
 * parent.  The child's own descriptors, dispositions and mask are its
 * own (no CLONE_FILES or CLONE_SIGHAND); only the records are shared.
 * So gort__vforked (a TLS byte, fork_linux.c) is set before the system
 * call, stays set in the child, and is cleared by the parent when the
 * call returns there; the wrappers then pass every call straight to libc,
 * and the runtime's own entry points treat the child as fork()'s
 * (gort__in_forked_child).  The parent's other threads have their own
 * TLS and never see it.
 *
 * Why assembly: the child returns from vfork first and reuses the stack,
 * overwriting whatever a C wrapper's frame held, its return address
 * included; as in glibc, the return address rides through the system
 * call in a register (%rdi), which the kernel keeps per task.  With a
 * shadow stack the child leaves by an indirect jump instead of ret, so
 * that it does not pop the entry the parent's ret will need (glibc's
 * rule too; rdssp reads 0 where shadow stacks are off or unknown).
 */
#include <asm/unistd.h>

    .text

/* pid_t vfork(void) */
    .globl vfork
    .type vfork, @function
    .globl __vfork
    .type __vfork, @function
    .p2align 4
vfork:
__vfork:
    .cfi_startproc
    movq gort__vforked@gottpoff(%rip), %rcx
    movb $1, %fs:(%rcx)
    popq %rdi                   /* the return address, out of the child's way */
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rdi
    movl $__NR_vfork, %eax
    syscall
    pushq %rdi
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rip, 0
    testl %eax, %eax
    jz 2f                       /* the child: stays marked */
    movq gort__vforked@gottpoff(%rip), %rcx
    movb $0, %fs:(%rcx)         /* the parent, the child gone */
    cmpl $-4095, %eax
    jae 1f
    ret
1:  movl %eax, %edi
    jmp gort__vfork_failed      /* errno = -%edi, return -1 (a tail call) */
2:  xorl %esi, %esi
    rdsspq %rsi
    testq %rsi, %rsi
    jnz 3f
    ret
3:  popq %rdi
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rdi
    jmp *%rdi
    .cfi_endproc
    .size vfork, . - vfork
    .size __vfork, . - __vfork

/* Called by interpose_linux.c's constructor: what links this file in
 * wherever the other wrappers are (interpose.h). */
    .globl gort__interpose_vfork_init
    .hidden gort__interpose_vfork_init
    .type gort__interpose_vfork_init, @function
    .p2align 4
gort__interpose_vfork_init:
    .cfi_startproc
    ret
    .cfi_endproc
    .size gort__interpose_vfork_init, . - gort__interpose_vfork_init

    .section .note.GNU-stack, "", @progbits
