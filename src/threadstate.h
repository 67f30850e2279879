/*
 * threadstate.h — the C state a thread carries that belongs to the
 * goroutine running on it (errno, signal mask, C++ exception globals),
 * saved when a goroutine stops running on a thread and put back when one
 * starts, wherever that is.
 *
 * gort__ts_out runs in mcall, on the goroutine's stack and thread, just
 * before the switch to g0 (every way a goroutine stops running passes
 * there: park, yield, preemption, exit, exitsyscall's park); gort__ts_in
 * runs in execute, on g0 of the thread that is about to run the goroutine,
 * just before the switch to it.  Both are on every switch: keep them to a
 * few loads and stores, with anything costlier behind a flag.
 */
#ifndef GORT_THREADSTATE_H
#define GORT_THREADSTATE_H
#include "runtime.h"

static inline void gort__ts_out(G *g)
{
    (void)g;
    /* errno, signal mask: threadstate.c */
    /* C++ exception globals: cxx_eh.c */
}

static inline void gort__ts_in(G *g)
{
    (void)g;
    /* errno, signal mask: threadstate.c */
    /* C++ exception globals: cxx_eh.c */
}

#endif
