/*
 * cxx_eh.c — C++ exception-handling state carried by goroutines, and the
 * fatal report for an exception that escapes a goroutine.
 *
 * The C++ runtime (libstdc++'s libsupc++, or libc++abi) keeps per thread a
 * small struct, returned by __cxa_get_globals(): the stack of exceptions
 * currently caught (what `throw;` and std::current_exception use) and the
 * count of exceptions thrown and not yet caught (std::uncaught_exceptions,
 * 1 while a destructor runs during unwinding).  Both ABIs begin it with the
 * same two fields on x86-64, the only layout this file relies on.  A
 * goroutine that switches inside a catch block (or inside a destructor
 * run by the unwinder) would leave that state on the thread for whichever
 * goroutine runs there next, and find some other goroutine's, or none,
 * where it resumes.  So the state is the goroutine's, as errno is:
 *
 *  - gort__cxx_out (threadstate.h, from mcall on the goroutine's thread,
 *    before every switch away): if the thread's state is not empty, move
 *    it into the G (g->cxx_caught, g->cxx_uncaught) and empty the thread's.
 *  - gort__cxx_in (threadstate.h, from execute on g0 of the thread about
 *    to run the G): if the G holds state, move it onto this thread.
 *
 * Invariant: while no goroutine runs on an M, its thread's state is empty
 * (the scheduler on g0 runs no C++), so gort__cxx_in just overwrites it;
 * an M found otherwise is a fatal error.  The exception objects themselves
 * live on the heap, linked from the caught stack: nothing else needs to
 * move.  The unwinder keeps no thread-local state between _Unwind_Resume
 * calls (the _Unwind_Exception carries it), so a goroutine may also switch
 * threads in the middle of unwinding, inside a landing pad's destructor.
 * The C++ runtime's own code is never preempted asynchronously (it is not
 * a registered module), so the state is never half-updated at a switch.
 *
 * Cost.  C programs: one load of gort__cxx_eh_on and a branch on the way
 * out, a byte test of the G (cxx_saved) on the way in.  C++
 * programs: on the way out also the M's cached pointer to its thread's
 * struct (looked up once per M, on its own thread) and two loads.  Only a
 * switch with a non-empty state takes the out-of-line paths.
 *
 * Finding the C++ runtime.  C programs must not depend on libstdc++, so
 * nothing here links against it.  __cxa_get_globals is found (1) by
 * dlsym(RTLD_DEFAULT) when the scheduler starts, and (2) from every C++
 * translation unit that includes gort.h: its static initializer passes its
 * own runtime's __cxa_get_globals to gort_cxx_init_ (works with a C++
 * runtime linked statically, or loaded RTLD_LOCAL, which dlsym misses).
 * Whichever comes first wins.  A C++ runtime that appears later, in a
 * library dlopen'ed after start, is picked up when a C++ file of that
 * library includes gort.h; otherwise its exception state is not carried
 * (documented).  Turning carrying on while goroutines run is safe: G state
 * is saved only once gort__cxx_eh_on is seen, and restored whenever a G
 * holds some; the G's hand-off between Ms orders the two.
 *
 * Exit of a goroutine with a non-empty state (possible only by leaving a
 * catch block with longjmp): the state is dropped, not passed on, like a
 * thread's that exits (libstdc++ does not free it either).
 *
 * The escaping exception.  gort__gostart's CFI marks the end of the stack,
 * so an exception that no frame of the goroutine catches ends the
 * unwinder's search there and __cxa_throw calls std::terminate with the
 * thrower's frames still on the stack.  gort.h's C++ section installs a
 * terminate handler that describes the exception (demangled type, what())
 * and calls gort_cxx_terminate_, which reports a gort fatal error with a
 * traceback.  The C++ runtime's frames keep no frame-pointer chain, so the
 * traceback is taken with the CFI unwinder's _Unwind_Backtrace (looked up
 * with dlsym, present in every C++ program) instead of gort's frame-pointer
 * walk, which would skip the throwing frame; without it, the walk is used.
 *
 * Rejected: interposing __cxa_begin_catch/__cxa_end_catch and friends to
 * keep the state in the G directly (a dozen ABI entry points, some called
 * from inside the C++ runtime where interposition does not reach);
 * swapping the state unconditionally at every switch (four stores on the
 * path of C++ programs that hold no exception, the common case); a
 * terminate handler installed by the runtime itself (needs C++ to describe
 * the exception: libgort stays C).
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "threadstate.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unwind.h>

_Atomic bool gort__cxx_eh_on;
static void *(*_Atomic get_globals)(void);

typedef _Unwind_Reason_Code (*backtrace_fn)(_Unwind_Trace_Fn, void *);
typedef _Unwind_Ptr (*getip_fn)(struct _Unwind_Context *);
static backtrace_fn _Atomic unwind_backtrace;
static getip_fn _Atomic unwind_getip;
static _Atomic int terminate_claimed;

/* Take fn as the C++ runtime's __cxa_get_globals (NULL: look it up). */
static void cxx_init(void *(*fn)(void))
{
    if (atomic_load_explicit(&get_globals, memory_order_acquire))
        return;
    if (!fn)
        *(void **)&fn = dlsym(RTLD_DEFAULT, "__cxa_get_globals");
    if (!fn)
        return; /* a C program */
    void *(*want)(void) = NULL;
    if (!atomic_compare_exchange_strong(&get_globals, &want, fn))
        return; /* another caller won (the same runtime, in practice) */
    backtrace_fn bt;
    getip_fn ip;
    *(void **)&bt = dlsym(RTLD_DEFAULT, "_Unwind_Backtrace");
    *(void **)&ip = dlsym(RTLD_DEFAULT, "_Unwind_GetIP");
    if (bt && ip) {
        atomic_store_explicit(&unwind_getip, ip, memory_order_relaxed);
        atomic_store_explicit(&unwind_backtrace, bt, memory_order_release);
    }
    atomic_store_explicit(&gort__cxx_eh_on, true, memory_order_release);
}

void gort__cxx_eh_init(void) { cxx_init(NULL); }

int gort_cxx_init_(void *(*fn)(void), int want_terminate)
{
    cxx_init(fn);
    int want = 0;
    return want_terminate && atomic_compare_exchange_strong(&terminate_claimed, &want, 1);
}

/* This M's thread's struct: looked up once, on the M's own thread (the
 * pointer stays valid for the thread's life). */
gort__cxa_eh_globals *gort__cxx_thread_globals(M *m)
{
    void *(*fn)(void) = atomic_load_explicit(&get_globals, memory_order_acquire);
    m->cxx_globals = fn();
    if (!m->cxx_globals)
        gort__throw("C++ runtime returned no exception globals");
    return m->cxx_globals;
}

void gort__cxx_save(G *g, gort__cxa_eh_globals *eh)
{
    if (!g->m->mcall_dying) {
        g->cxx_caught = eh->caught;
        g->cxx_uncaught = eh->uncaught;
        g->cxx_saved = true;
    }
    eh->caught = NULL;
    eh->uncaught = 0;
}

void gort__cxx_restore(G *g)
{
    M *m = g->m;
    gort__cxa_eh_globals *eh = m->cxx_globals;
    if (!eh)
        eh = gort__cxx_thread_globals(m);
    if (eh->caught || eh->uncaught)
        gort__throw("M%d: C++ exception state left on the scheduler's thread (%u uncaught)",
                    m->id, eh->uncaught);
    eh->caught = g->cxx_caught;
    eh->uncaught = g->cxx_uncaught;
    g->cxx_caught = NULL;
    g->cxx_uncaught = 0;
    g->cxx_saved = false;
}

/* ---------------------------------------------------------------------
 * std::terminate on a goroutine (gort.h's handler calls this)
 * ------------------------------------------------------------------- */

#define MAX_PCS 100

typedef struct {
    uintptr_t pcs[MAX_PCS];
    int n;
    uintptr_t skip_to; /* drop frames up to and including this return address */
    bool found;
    getip_fn getip;
} pcbuf;

static _Unwind_Reason_Code collect(struct _Unwind_Context *ctx, void *arg)
{
    pcbuf *b = arg;
    uintptr_t pc = (uintptr_t)b->getip(ctx);
    if (!pc)
        return _URC_END_OF_STACK;
    if (!b->found) {
        if (pc == b->skip_to)
            b->found = true;
        return _URC_NO_REASON;
    }
    if (b->n == MAX_PCS)
        return _URC_END_OF_STACK;
    b->pcs[b->n++] = pc;
    return _URC_NO_REASON;
}

__attribute__((noinline)) void gort_cxx_terminate_(const char *type, const char *what)
{
    M *m = gort__getm();
    G *g = m ? m->curg : NULL;
    char msg[768];
    unsigned long long id = g ? (unsigned long long)g->goid : 0;
    if (!type)
        snprintf(msg, sizeof msg,
                 "goroutine %llu: std::terminate called without an active exception", id);
    else if (what)
        snprintf(msg, sizeof msg,
                 "goroutine %llu: C++ exception not caught: %s: what(): %s", id, type, what);
    else
        snprintf(msg, sizeof msg, "goroutine %llu: C++ exception not caught: %s", id, type);

    backtrace_fn bt = atomic_load_explicit(&unwind_backtrace, memory_order_acquire);
    if (!bt)
        gort__throw("%s", msg);
    /* From the handler's caller (std::terminate's frames, then the
     * thrower's) down to the goroutine's first frame. */
    pcbuf b;
    b.getip = atomic_load_explicit(&unwind_getip, memory_order_relaxed);
    b.skip_to = (uintptr_t)__builtin_return_address(0);
    b.n = 0;
    b.found = false;
    bt(collect, &b);
    if (!b.found || b.n == 0)
        gort__throw("%s", msg);
    /* std::terminate's own frames say nothing: start at the last frame of
     * the C++ runtime's shared object (__cxa_throw, __cxa_rethrow...),
     * as Go's start at panic. */
    int first = 0;
    Dl_info rt, fi;
    void *(*fn)(void) = atomic_load_explicit(&get_globals, memory_order_acquire);
    if (dladdr(*(void **)&fn, &rt) && rt.dli_fname && strstr(rt.dli_fname, ".so"))
        while (first + 1 < b.n && dladdr((void *)(b.pcs[first + 1] - 1), &fi) &&
               fi.dli_fbase == rt.dli_fbase)
            first++;
    gort__throw_pcs(b.pcs + first, b.n - first, "%s", msg);
}
