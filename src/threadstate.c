/*
 * threadstate.c — errno and the signal mask belong to the goroutine, not
 * to the thread it happens to run on (threadstate.h has the switch hooks).
 *
 * errno.  glibc keeps errno in the thread's TLS and declares
 * __errno_location const, so a compiler keeps errno's address in a
 * register for as long as it likes: across a loop, across a call.  A
 * goroutine that moves to another thread meanwhile (at a gort call, or
 * anywhere with asynchronous preemption) would then read and write the
 * old thread's errno, which now belongs to whatever goroutine runs there.
 * Three pieces make errno the goroutine's:
 *  - the value: saved in the G when it stops running (gort__ts_out) and
 *    stored into the errno of the thread that runs it next (gort__ts_in);
 *  - the address, in code that includes gort.h: `errno` is redefined there
 *    as *gort__errno_inline(): errno's fixed offset from the thread
 *    pointer, with the thread pointer added by one `add %fs:0` in a
 *    volatile asm that reads a global (so it is neither merged with
 *    another use nor moved across a call); no address outlives one
 *    expression, and no register ever holds a thread pointer waiting to
 *    become an address (GORT_NO_ERRNO_ROUTE opts out);
 *  - the address within one expression, or in code that does not include
 *    gort.h: when an asynchronously preempted goroutine resumes on another
 *    thread, every general register the trampoline saved that held the
 *    old thread's &errno is given the new thread's (gort__ts_errno_moved).
 *    A register holding exactly that TLS address can only mean errno.
 *    What is not covered: code without gort.h that keeps &errno across a
 *    gort call (it cannot call gort itself without the header, but can
 *    call one that does), or spills it to the stack around an instruction
 *    that is preempted.
 * Rejected: keeping errno in the G and pointing gort_errno_location there
 * (libc writes the thread's errno, and nothing tells the runtime when, so
 * the two copies could not be merged: `errno = 0; strtol(...); errno`
 * breaks); refusing preemption while a register holds &errno (a loop
 * compiled with a cached address would never be preempted); switching the
 * thread pointer per goroutine (every __thread variable of libc too).
 *
 * Signal mask.  A goroutine that calls pthread_sigmask or sigprocmask
 * (interpose_signal.c) gets a mask of its own, kept in the G and flagged;
 * gort__ts_in puts it on whatever thread runs the goroutine, and the base
 * mask (the one gort_main's caller had, minus SIGURG) back for goroutines
 * without one.  The call is only made when the mask on the thread differs
 * from the wanted one, so programs that never set a mask pay nothing but a
 * compare per switch.  SIGURG is never blocked on a thread running
 * goroutines, whatever the goroutine asked (it sees it as blocked): it is
 * what preempts every goroutine, and Go's minit unblocks its signals the
 * same way.
 *
 * Ownership: g->ts_* belong to the goroutine (written on its thread while
 * it runs, and by its creator before it starts); m->ts_sigmask_applied to
 * the M's own thread.
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "threadstate.h"
#include "valgrind_hooks.h"

#include <sys/syscall.h>
#include <unistd.h>

uint64_t gort__ts_base_mask;

/* Opaque to the compiler: it cannot reuse one call's result for another,
 * even across a switch to another thread (the volatile asm). */
__attribute__((noinline)) int *gort__errno_addr(void)
{
    int *p = &errno;
    __asm__ volatile("" : "+r"(p));
    return p;
}

/* errno's offset from the thread pointer: libc's TLS is in the static
 * TLS block, at the same offset from every thread's %fs base, so gort.h
 * computes the address inline, with no call (a call costs 2.5-3 ns on
 * this VM, more than the whole 2 ns budget for a read).  0 until set: the
 * inline path then calls gort_errno_location, which sets it. */
GORT_API intptr_t gort_errno_tpoff;
/* The same variable for the runtime's own use, without the GOT load that
 * an exported symbol costs in libgort.so (threadstate.h). */
extern intptr_t gort__errno_tpoff __attribute__((alias("gort_errno_tpoff"), visibility("hidden")));

static inline uintptr_t thread_pointer(void)
{
    uintptr_t tp;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
    return tp;
}

GORT_API int *gort_errno_location(void)
{
    intptr_t off = __atomic_load_n(&gort_errno_tpoff, __ATOMIC_RELAXED);
    if (unlikely(off == 0 || __atomic_load_n(&gort__errno_tpoff, __ATOMIC_RELAXED) == 0)) {
        off = (intptr_t)gort__errno_addr() - (intptr_t)thread_pointer();
        /* Both names.  In libgort.so they can be two objects: a program
         * that reads gort_errno_tpoff (gort.h's inline errno does) gets a
         * copy of it in the executable (a copy relocation), which the
         * exported name then means, while the hidden alias still means
         * the library's own.  Setting only the exported one left the
         * runtime's 0, and the runtime's errno writes landed on %fs:0,
         * the thread's own pointer (every program that used errno with
         * libgort.so crashed; tests/test_install.sh now checks). */
        __atomic_store_n(&gort_errno_tpoff, off, __ATOMIC_RELAXED);
        __atomic_store_n(&gort__errno_tpoff, off, __ATOMIC_RELAXED);
    }
    return (int *)(thread_pointer() + (uintptr_t)off);
}

__attribute__((constructor)) static void errno_init(void) { (void)gort_errno_location(); }

void gort__ts_errno_moved(uintptr_t *rbp, int *old)
{
    int *now = gort__errno_addr();
    if (now == old)
        return;
    /* rbp[-15..-2]: the 14 GPRs other than rsp and rbp; rbp[-1] is rflags;
     * rbp[0] the interrupted rbp (arch/preempt_amd64.S).  A register the
     * interrupted code never set holds a value valgrind calls undefined:
     * comparing it is fine (see valgrind_hooks.h). */
    VALGRIND_DISABLE_ERROR_REPORTING;
    for (int i = -15; i <= 0; i++)
        if (i != -1 && rbp[i] == (uintptr_t)old)
            rbp[i] = (uintptr_t)now;
    VALGRIND_ENABLE_ERROR_REPORTING;
}

void gort__ts_setmask(M *m, uint64_t want)
{
    /* The kernel's mask is 64 bits; glibc's filtered the bits of its own
     * signals (SIGCANCEL, SIGSETXID) out of every mask we record. */
    if (gort__kmask(SIG_SETMASK, want, NULL) == 0)
        gort__ts_applied(m, want);
}

void gort__ts_in_slow(G *g, M *m)
{
    uint64_t want = g->ts_sigmask_set ? g->ts_sigmask & ~GORT_SIGBIT(SIGURG) : m->sigmask_base;
    if (want != m->ts_sigmask_applied)
        gort__ts_setmask(m, want);
    gort__cxx_in(g);
}
