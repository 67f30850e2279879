/*
 * valgrind_hooks.h — valgrind's client requests where its headers are
 * installed, no-ops where they are not.
 *
 * The runtime does three things memcheck cannot follow on its own, and
 * tells it about each with a client request (a few no-op instructions when
 * the program does not run under valgrind, so they stay in every build):
 *   - goroutine stacks are memory it allocated itself (stack.c registers
 *     each one, so that a switch onto it is seen as a stack switch);
 *   - the SIGURG handler simulates a call on the interrupted goroutine's
 *     stack (signal_linux.c): memcheck does not count memory below the
 *     interrupted rsp as stack after the handler returns, so the frame it
 *     builds there is declared undefined-but-addressable first;
 *   - the preemption checks read raw stack words, as any unwinder does
 *     (syscall_foreign.c, preempt_frames.c): padding nobody wrote is
 *     compared there on purpose, and only the answer is defined.
 * Only a library built where valgrind's headers are installed has them:
 * one built without runs under memcheck with the false reports above.
 * make test-valgrind (CI) runs the examples and the tests that preempt
 * under memcheck.
 */
#ifndef GORT_VALGRIND_HOOKS_H
#define GORT_VALGRIND_HOOKS_H

#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#if __has_include(<valgrind/helgrind.h>) && __has_include(<valgrind/drd.h>)
#include <valgrind/drd.h>
#include <valgrind/helgrind.h>
#endif
#endif
#ifndef VALGRIND_HG_DISABLE_CHECKING
#define VALGRIND_HG_DISABLE_CHECKING(a, n) ((void)(a), (void)(n))
#endif
#ifndef DRD_IGNORE_VAR
#define DRD_IGNORE_VAR(x) ((void)&(x))
#endif
#if !__has_include(<valgrind/memcheck.h>)
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_STACK_REGISTER(lo, hi) ((void)(lo), (void)(hi), 0u)
#define VALGRIND_DISABLE_ERROR_REPORTING ((void)0)
#define VALGRIND_ENABLE_ERROR_REPORTING ((void)0)
#define VALGRIND_MAKE_MEM_DEFINED(a, n) ((void)(a), (void)(n))
#define VALGRIND_MAKE_MEM_UNDEFINED(a, n) ((void)(a), (void)(n))
#endif

#endif
