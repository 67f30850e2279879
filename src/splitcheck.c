/*
 * splitcheck.c — the linker canary of split-stack mode, compiled
 * -fsplit-stack (the Makefile says so): two checked functions, a small
 * frame and a large one, that call code without checks.  They never run;
 * arch/splitstack_amd64.c reads their first instructions at start-up to see
 * what the linker did to them.  arch/morestack_amd64.S refers to them, so
 * they are linked exactly when __morestack is.
 */
#include "runtime.h"

void gort__splitcheck_small(void);
void gort__splitcheck_large(void);

__attribute__((noinline)) void gort__splitcheck_small(void)
{
    volatile char c[8];
    gort__splitcheck_callee(c);
}

__attribute__((noinline)) void gort__splitcheck_large(void)
{
    volatile char c[1024];
    gort__splitcheck_callee(c);
}
