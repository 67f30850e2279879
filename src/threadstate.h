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
    (void)g;
    /* errno, signal mask: threadstate.c */
    gort__cxx_out(g);
}

static inline void gort__ts_in(G *g)
{
    (void)g;
    /* errno, signal mask: threadstate.c */
    gort__cxx_in(g);
}

#endif
