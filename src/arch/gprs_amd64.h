/*
 * gprs_amd64.h — the frame layout the two assembly paths that stop a
 * goroutine mid-function share (preempt_amd64.S: an asynchronous
 * preemption; morestack_amd64.S: a split-stack prologue stop): rflags and
 * the 14 general registers other than rsp and rbp, pushed below the frame
 * pointer in the order rax .. r15, so that rbp-16 .. rbp-120 hold them and
 * threadstate.c's errno fix-up can find them at the same offsets from
 * either path.  POP_GPRS takes them back from rsp = rbp-120.
 */
#ifndef GORT_GPRS_AMD64_H
#define GORT_GPRS_AMD64_H

.macro POP_GPRS
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    popfq
.endm

#endif
