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
 *
 * errno: the value is saved at ts_out and stored into the new thread's
 * errno at ts_in (one TLS store each way).  Its address is the thread's:
 * threadstate.c says how code that holds it across a switch is covered.
 *
 * Signal mask: lazy.  ts_out does nothing; ts_in compares the mask the
 * goroutine wants (its own if it set one, else the M's base) with the one
 * on the thread (m->ts_sigmask_applied) and makes the rt_sigprocmask call
 * only when they differ, so goroutines that never set a mask pay two
 * loads and a compare.  A goroutine's mask therefore stays on its thread
 * while that thread runs the scheduler or sleeps idle, which is harmless:
 * SIGURG is never in it, and the next goroutine's ts_in replaces it.
 */
#ifndef GORT_THREADSTATE_H
#define GORT_THREADSTATE_H
#include "runtime.h"

void gort__ts_setmask(M *m, uint64_t want); /* threadstate.c: the syscall */

/* This thread's &errno without a call (one costs 2.5-3 ns here, twice per
 * switch): errno's offset from the thread pointer, set when gort was
 * loaded and again by gort__signal_init, before any goroutine runs. */
extern GORT_HIDDEN intptr_t gort__errno_tpoff; /* = gort_errno_tpoff */

static inline int *gort__errno_ptr(void)
{
    intptr_t p = gort__errno_tpoff;
    __asm__ volatile("add %%fs:0, %0" : "+r"(p) : "m"(gort__errno_tpoff));
    return (int *)p;
}

/* ---- C++ exception-handling state (cxx_eh.c) ---- */
/* The head of the C++ runtime's per-thread struct (__cxa_get_globals),
 * the same in libstdc++ and libc++abi on x86-64. */
typedef struct gort__cxa_eh_globals gort__cxa_eh_globals;
struct gort__cxa_eh_globals {
    void *caught;           /* stack of caught exceptions (`throw;`) */
    unsigned int uncaught;  /* std::uncaught_exceptions() */
};
extern _Atomic bool gort__cxx_eh_on; /* a C++ runtime is in the process */
void gort__cxx_eh_init(void);        /* schedinit: look for one */
gort__cxa_eh_globals *gort__cxx_thread_globals(M *m);
void gort__cxx_save(G *g, gort__cxa_eh_globals *eh);
void gort__cxx_restore(G *g);

/* On the goroutine's thread, before it switches away. */
static inline void gort__cxx_out(G *g)
{
    if (likely(!atomic_load_explicit(&gort__cxx_eh_on, memory_order_relaxed)))
        return;
    gort__cxa_eh_globals *eh = g->m->cxx_globals;
    if (unlikely(!eh))
        eh = gort__cxx_thread_globals(g->m);
    if (unlikely(eh->caught != NULL || eh->uncaught != 0))
        gort__cxx_save(g, eh);
}

/* On g0 of the thread about to run g (g->m is set). */
static inline void gort__cxx_in(G *g)
{
    if (unlikely(g->cxx_saved))
        gort__cxx_restore(g);
}

static inline void gort__ts_out(G *g)
{
    g->ts_errno = *gort__errno_ptr();
    /* signal mask: nothing (see above) */
    gort__cxx_out(g);
}

/* The mask now on m's thread. */
static inline void gort__ts_applied(M *m, uint64_t mask)
{
    m->ts_sigmask_applied = mask;
    m->ts_mask_off = mask != m->sigmask_base;
}

void gort__ts_in_slow(G *g, M *m); /* threadstate.c */

static inline void gort__ts_in(G *g)
{
    M *m = g->m;
    *gort__errno_ptr() = g->ts_errno;
    /* A mask to put on or take off, C++ state to restore: rare. */
    if (unlikely(g->ts_slow | m->ts_mask_off))
        gort__ts_in_slow(g, m);
}

#endif
