/*
 * test_errno_O0.c — test_errno compiled without optimisation (the
 * Makefile builds this file with -O0).  There gort__errno_inline is a real
 * function that keeps the address it made in a stack slot until it
 * returns, where no register fix-up reaches it: a goroutine preempted in
 * between and resumed on another thread wrote the old thread's errno (a
 * reviewer's reproducer: 230-384 wrong in 2e8, every run).  Without
 * __OPTIMIZE__ gort.h routes errno through gort_errno_location(), whose
 * result lives in a register.
 */
#include "test_errno.c"
