/*
 * interpose_dl.c — dlopen, dlmopen and dlclose, wrapped so that what gort
 * considers preemptible is up to date before they return (modules.c's
 * registry of preemptible code, preempt_frames.c's map of every loaded
 * object's code, which the callback check walks the stack against).
 *
 * Why: a plain library loaded after start was not in the map until
 * sysmon's next look (up to 100 ms), so a callback it made into the
 * program while holding its own lock looked like ordinary program code
 * and was preempted; another goroutine on that thread then entered the
 * library and spun on the lock for ever (20 of 20 runs).  And a
 * registered module (one that includes gort.h) unloaded by dlclose left
 * its registry entry: a plain library mapped at the same address later
 * was preemptible inside (10 of 10 hung).
 *
 * What each does, around libc's own:
 *   - dlopen/dlmopen: the call is a system-call bracket (ENTER/LEAVE:
 *     loading reads files; no preemption signal reaches a bracketed call,
 *     so the new object's constructors, which run inside it and may call
 *     into the program while ld.so holds its lock, are never stopped),
 *     and the code map is rebuilt before the bracket ends.  A module that
 *     includes gort.h registers itself from its constructor, inside the
 *     call.
 *   - dlclose: the same bracket (destructors run inside), and around
 *     libc's call every registered module but the executable is withdrawn
 *     from the registry (modules.c: retired, not preemptible), then given
 *     back if still loaded or dropped if unloaded, and the map rebuilt:
 *     no instant at which an unmapped module's range counts as
 *     preemptible, whichever thread maps something there next.
 * Calls from threads that are not goroutines take the same path without
 * the bracket (ENTER decides).  In a fork's child nothing but libc's call
 * is made (fork_linux.c).
 *
 * Limit: libc's dlopen resolves a bare file name with the DT_RUNPATH of
 * its caller, and puts the object in its caller's namespace; the caller
 * it sees is now this wrapper, in the executable (libgort.a) or in
 * libgort.so.  The program's own calls are unaffected with libgort.a;
 * a shared library that dlopens by bare name relying on its own RUNPATH
 * (or from a dlmopen namespace) should pass a path (documented).
 *
 * Rejected: polling the loader's counters in the signal handler
 * (dl_iterate_phdr takes a lock; the counters are private to ld.so);
 * LD_AUDIT's la_objopen (needs the environment set before start); a
 * breakpoint on _dl_debug_state (patching ld.so's code); refreshing only
 * after libc's dlclose returns (the window this closes).
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "interpose.h"

#include <dlfcn.h>

#define DL_WRAPPED(X)                                                          \
    X(void *, dlopen, false, (const char *f, int m), (f, m))                   \
    X(void *, dlmopen, false, (Lmid_t ns, const char *f, int m), (ns, f, m))   \
    X(int, dlclose, false, (void *h), (h))

DL_WRAPPED(DECLARE)

GORT_API void *dlopen(const char *file, int mode)
{
    dlopen_fn *f = REAL(dlopen);
    ENTER(false);
    void *h = f(file, mode);
    int e = errno;
    gort__codemap_reload();
    errno = e;
    LEAVE();
    return h;
}

GORT_API void *dlmopen(Lmid_t ns, const char *file, int mode)
{
    dlmopen_fn *f = REAL(dlmopen);
    ENTER(false);
    void *h = f(ns, file, mode);
    int e = errno;
    gort__codemap_reload();
    errno = e;
    LEAVE();
    return h;
}

GORT_API int dlclose(void *handle)
{
    dlclose_fn *f = REAL(dlclose);
    ENTER(false);
    gort__modules_close_begin();
    int r = f(handle);
    int e = errno;
    gort__modules_close_end();
    gort__codemap_reload();
    errno = e;
    LEAVE();
    return r;
}

/* Called from interpose_linux.c's constructor: resolves libc's functions
 * at load time, and makes a static link pull this file in. */
void gort__interpose_dl_init(void)
{
#define RESOLVE(ret, name, block, params, args) (void)REAL(name);
    DL_WRAPPED(RESOLVE)
#undef RESOLVE
}
