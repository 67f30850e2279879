/*
 * newproc.c — a goroutine's life at its two ends (Go's newproc and goexit,
 * in proc.go there): gort_go on a P queues a record without a stack, which
 * takes a dead G's stack (or a new one) when it first runs (unstarted.c);
 * elsewhere (a plain thread, goroutine 1) it takes a dead G from the
 * global free list, or a new stack.  Either way every field a previous
 * life could have left is reset, and the goroutine is queued in the
 * creator's runnext (the global queue from a thread); the trampoline asks
 * goentry for the function to call and,
 * when it returns, goexit_entry switches to g0 for good and goexit0 puts
 * the G on its P's free list.
 *
 * Invariants.  A G is G_RUNNABLE before anyone can see it on a queue and
 * G_DEAD before it is on a free list; everything newg resets is owned by
 * the creator until the runqput publishes it.  Goroutine ids come from a
 * per-P cache of 16, so creation touches no shared line in the common
 * case.  goexit0 runs on g0: the dead G's stack is free to be reused the
 * moment it is on the free list.
 *
 * Rejected: freeing the stack at exit (a spawn-heavy program would map and
 * unmap stacks at every goroutine: the free lists keep them, and
 * scavenge.c returns the memory of those idle for long); creating into the
 * global queue (the creator's P runs its children while their stacks are
 * hot, and gort_go's back-pressure below keeps a spawning loop from
 * overflowing the ring).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <setjmp.h>
#include <stdatomic.h>

#ifdef GORT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* Make g, dead or new (or a record, unstarted.c), a runnable goroutine
 * that will call fn(arg): the fields a previous life could have left are
 * reset, a prepared stack is counted as taken (stack.c's helpers watch
 * that count), the entry frame is built on a G with a stack, and the
 * G_RUNNABLE store comes last.  The id, creator and call site are the
 * caller's: gort__unstarted_start copies them before, so a dump walking
 * allgs sees the started G whole; gort_go writes them after, while the G
 * is on no queue yet, so a dump in that moment may name a new goroutine
 * by its G's previous id (as before this was one function).  The one
 * init for newg and for a record's first run. */
static inline __attribute__((always_inline)) void g_init(G *g, void (*fn)(void *), void *arg,
                                                          bool sigmask_set, uint64_t sigmask)
{
    if (unlikely(g->prepared)) {
        g->prepared = false;
        gort__stack_taken();
    }
    g->fn = fn;
    g->arg = arg;
    g->schedlink = NULL;
    g->m = NULL;
    g->is_main = false;
    atomic_store_explicit(&g->preempt, false, memory_order_relaxed);
    g->preempt_off = 0;
    g->preempt_reported = false;
    g->async_preempted = false;
    g->waitreason = NULL;
    g->param = NULL;
    atomic_store_explicit(&g->selectdone, 0, memory_order_relaxed);
    g->waiting = NULL;
    g->waitsince = 0;
    g->asan_fake_stack = NULL;
    /* A new goroutine starts with errno 0, and its creator's signal mask,
     * as a new thread does (threadstate.c). */
    g->ts_errno = 0;
    g->ts_sigmask_set = sigmask_set;
    g->ts_sigmask = sigmask_set ? sigmask : 0;
    g->lockedm = NULL;
    g->lockext = 0;
    g->lockmain = 0;
    g->plocks = 0;
    if (!g->unstarted)
        gort__arch_newstack(g);
    atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_release);
}

/* Out of line for unstarted.c; newg has it inlined (spawn+join: 175 ->
 * 198 ns a goroutine when newg called it). */
void gort__g_init(G *g, void (*fn)(void *), void *arg, bool sigmask_set, uint64_t sigmask)
{
    g_init(g, fn, arg, sigmask_set, sigmask);
}

/* lazy: on a P, a record without a stack (gort_go; unstarted.c says why
 * always, even when a dead G is free: a stack handed to a goroutine that
 * then waits in a queue is one a starting goroutine cannot have). */
static G *newg(void (*fn)(void *), void *arg, bool lazy)
{
    P *pp = gort__getp();
    G *g = NULL;
    if (pp && lazy && gort__cfg.lazystacks) {
        g = gort__unstarted_new(pp);
    } else if (pp) {
        g = gort__gfget(pp);
    } else if (atomic_load_explicit((_Atomic int32_t *)&sched.gfreecnt, memory_order_relaxed) > 0) {
        gort__lock(&sched.gflock);
        int32_t n = 0;
        g = gort__gfchunk_pop(&sched.gfree, &sched.gfreecnt, &n);
        if (g && n > 1)
            gort__gfchunk_push(&sched.gfree, &sched.gfreecnt, g->schedlink, n - 1);
        gort__unlock(&sched.gflock);
        if (g)
            g->schedlink = NULL;
#ifdef GORT_ASAN
        if (g)
            __asan_unpoison_memory_region((void *)g->stack_lo, g->stack_hi - g->stack_lo);
#endif
    }
    if (!g) {
        g = gort__stackalloc_g(pp);
        if (!g)
            return NULL;
    }
    G *parent = gort__m_tls ? gort__m_tls->curg : NULL;
    bool set = parent && parent->ts_sigmask_set;
    g_init(g, fn, arg, set, set ? parent->ts_sigmask : 0);
    return g;
}

G *gort__newg(void (*fn)(void *), void *arg)
{
    return newg(fn, arg, false);
}

int gort_go(void (*fn)(void *), void *arg)
{
    if (gort__in_forked_child())
        gort__forked_fatal("gort_go");
    gort__schedinit();
    gort__preempt_check();
    G *g = newg(fn, arg, true);
    if (!g)
        return ENOMEM;
    /* "created by" in dumps: where, and by which goroutine (0: a thread). */
    g->gopc = (uintptr_t)__builtin_return_address(0);
    M *cm = gort__getm();
    g->parentgoid = cm && cm->curg ? cm->curg->goid : 0;
    P *pp = gort__getp();
    if (pp) {
        if (pp->goidcache == pp->goidcacheend) {
            pp->goidcache = atomic_fetch_add_explicit(&sched.goidgen, 16, memory_order_relaxed) + 1;
            pp->goidcacheend = pp->goidcache + 16;
        }
        g->goid = pp->goidcache++;
        gort__owner_inc(&pp->ncreated);
    } else {
        g->goid = atomic_fetch_add_explicit(&sched.goidgen, 1, memory_order_relaxed) + 1;
        atomic_fetch_add_explicit(&sched.ncreated_nop, 1, memory_order_relaxed);
    }
    if (pp) {
        gort__runqput(pp, g, true);
        /* Back-pressure: a goroutine that has filled its P's run queue
         * with its own children lets the P run them (their stacks are
         * still hot and return to this P's pool) instead of overflowing
         * into the global queue while new stacks are mapped for ever more
         * live goroutines.  Only a goroutine that queued at least half the
         * ring in this slice yields: in a tree of spawners (skynet) the
         * ring fills with other goroutines' children, and a parent sent
         * to the global queue's tail there keeps all its children alive
         * until it comes back to collect them -- live goroutines at the
         * peak rose from ~70k (Go's ~60-70k) to ~150k, each a fresh page. */
        pp->slicespawn++;
        uint32_t n = atomic_load_explicit(&pp->runqtail, memory_order_relaxed) -
                     atomic_load_explicit(&pp->runqhead, memory_order_relaxed);
        M *m = gort__m_tls;
        /* Not inside gort_preempt_disable or a stopped world (m->locks):
         * there the caller must keep running; nor under a foreign frame
         * (a dl_iterate_phdr callback spawning goroutines holds ld.so's
         * lock, which must be released on this thread), as for any
         * preemption. */
        if (unlikely(n >= GORT_RUNQ_SIZE - 1) && pp->slicespawn >= GORT_RUNQ_SIZE / 2 &&
            m->curg && m->curg->preempt_off == 0 && m->locks == 0 &&
            !gort__foreign_caller((uintptr_t)__builtin_frame_address(0),
                                  (uintptr_t)__builtin_frame_address(0), m->curg)) {
            if (atomic_load_explicit(&sched.started, memory_order_relaxed))
                gort__wakep();
            gort__gosched();
            return 0;
        }
    } else {
        gort__lock(&sched.lock);
        gort__globrunqput(g);
        gort__unlock(&sched.lock);
    }
    if (atomic_load_explicit(&sched.started, memory_order_relaxed))
        gort__wakep();
    return 0;
}

static void goexit0(G *g)
{
    M *m = gort__m_tls;
    P *pp = m->p;
    /* Locked by gort_lock_thread at its exit: its thread goes with it
     * (Go >= 1.10), since whatever the goroutine did to it (thread-local
     * state, affinity, a GL context) must not leak into other goroutines.
     * Locked only by pthread locks it still holds (or a mutex it used as
     * a semaphore): the thread is as reusable as a pool thread, which is
     * all a plain thread that returned holding a lock would be. */
    bool takethread = g->lockext > 0 && !g->is_main;
    bool mainthread = g->lockmain > 0;
    g->lockedm = NULL;
    m->lockedg = NULL;
    atomic_store_explicit(&g->status, G_DEAD, memory_order_release);
    m->curg = NULL;
    g->m = NULL;
    m->mcall_dying = false;
    gort__owner_inc(&pp->nexited);
    gort__gfput(pp, g);
    if (unlikely(mainthread)) {
        /* Goroutine 1 of gort_main_thread, on the caller's own thread:
         * back to gort_main_thread, which stops the rest as gort_main does. */
        atomic_store(&sched.exiting, true);
        gort__releasep();
        gort__lock(&sched.lock);
        gort__pidleput_or_stop(pp);
        gort__unlock(&sched.lock);
        longjmp(*(jmp_buf *)m->exitbuf, 1);
    }
    if (unlikely(takethread) && !atomic_load(&sched.exiting))
        gort__mexit(m, pp);
    if (g->is_main) {
        /* Goroutine 1 returned: nothing runs again.  This P is given up
         * before gort_main is woken, so its stop of every P (gort__exitstop)
         * need not wait for it. */
        atomic_store(&sched.exiting, true);
        gort__park_forever(&sched.mainnote);
    }
    gort__schedule();
}

/* The goroutine's function returned: switch to g0 for good. */
static GORT_NORETURN void goexit1(void)
{
    M *m = gort__m_tls;
    m->mcall_dying = true;
    gort__mcall_fatal(goexit0);
}

/* Called by the gostart trampoline on a new goroutine's stack: returns
 * the function and argument it then calls itself, so that the only
 * runtime return address under a goroutine's own frames is the
 * trampoline's (gort__gostart_ret, which syscall_foreign.c relies on). */
gort__gostart_pair gort__goentry(G *g)
{
#ifdef GORT_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    return (gort__gostart_pair){g->fn, g->arg};
}

/* ... and once g->fn(g->arg) has returned. */
void gort__goexit_entry(G *g)
{
    /* Returning inside a bracket (never closed, or P-less after foreign
     * code): take a P back, the exit runs on one. */
    M *m = gort__getm();
    if (unlikely(m->syscall_depth)) {
        m->syscall_depth = 1;
        gort__exitsyscall();
    }
    /* With the world stopped (or a runtime lock held) nothing could ever
     * start it again: the program would hang silently. */
    if (unlikely(gort__getm()->locks != 0))
        gort__throw("goroutine %llu exited with the world stopped or a runtime lock held",
                    (unsigned long long)g->goid);
    goexit1();
}
