/*
 * test_errno_noroute.c — test_errno's asynchronous phase in code that
 * keeps libc's errno (GORT_NO_ERRNO_ROUTE), as code that does not include
 * gort.h does: glibc's const __errno_location lets the compiler hold
 * errno's address in a register across the loop's work, and a goroutine
 * preempted there and resumed on another thread must find that register
 * pointing to the new thread's errno (threadstate.c).  Across gort calls
 * such code is not covered (the address may be kept in a callee-saved
 * register or on the stack), so the sync phase is not run.
 */
#define GORT_NO_ERRNO_ROUTE
#define ERRNO_ASYNC_ONLY
#include "test_errno.c"
