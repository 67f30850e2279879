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
 * So the calling thread's id goes into gort__vfork_tid (TLS, fork_linux.c)
 * before the system call: the child, whose own id differs, finds it set
 * and not its own (gort__in_vfork_child); the parent's thread, and any
 * signal handler that runs on it when the call returns (SIGCHLD from the
 * child's exit is commonly delivered right there), finds its own id and
 * goes on as before.  The parent then puts back the value it found: 0,
 * or, for a vfork made inside a vfork child, its parent's id.  While the
 * child runs, the wrappers pass every call straight to libc, and the
 * runtime's own entry points treat it as fork()'s child
 * (gort__in_forked_child).  The parent's other threads have their own TLS
 * and never see it.
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
    movl $__NR_gettid, %eax
    syscall
    movq gort__vfork_tid@gottpoff(%rip), %rcx
    movl %fs:(%rcx), %esi       /* the mark as found: the parent puts it back */
    movl %eax, %fs:(%rcx)       /* the mark: this thread's id, not the child's */
    popq %rdi                   /* the return address, out of the child's way */
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rdi
    movl $__NR_vfork, %eax
    syscall
    pushq %rdi
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rip, 0
    testl %eax, %eax
    jz 3f                       /* the child: the mark stays */
    movq gort__vfork_tid@gottpoff(%rip), %rcx
    movl %esi, %fs:(%rcx)       /* the parent, the child gone */
    cmpl $-4095, %eax
    jae 2f
    /* Under AddressSanitizer, as libasan's own vfork does: the child's
     * frames poisoned shadow below our sp, in the memory it shared. */
    movq __asan_handle_vfork@GOTPCREL(%rip), %rcx
    testq %rcx, %rcx
    jz 1f
    pushq %rax                  /* the pid; and sp 16-aligned for the call */
    .cfi_adjust_cfa_offset 8
    leaq 16(%rsp), %rdi         /* the caller's sp once we return */
    call *%rcx
    popq %rax
    .cfi_adjust_cfa_offset -8
1:  ret
2:  movl %eax, %edi
    jmp gort__vfork_failed      /* errno = -%edi, return -1 (a tail call) */
3:  xorl %esi, %esi
    rdsspq %rsi
    testq %rsi, %rsi
    jnz 4f
    ret
4:  popq %rdi
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rdi
    jmp *%rdi
    .cfi_endproc
    .size vfork, . - vfork
    .size __vfork, . - __vfork

    .weak __asan_handle_vfork

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
