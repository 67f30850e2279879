/*
 * cgocallback.c — threads that are not Ms calling into gort (Go's needm,
 * dropm and cgocallbackg: a C thread calling Go).  Threads that are not
 * Ms call the same channel/sync code: their "G" is a pseudo-G
 * (foreign=true) parked by blocking the thread on a futex.  This file
 * makes and recycles the pseudo-Gs and counts the blocked ones; the park
 * and the wake themselves are gort__gopark's and gort__goready's (proc.c).
 *
 * Invariants.
 *  - A thread gets its pseudo-G at its first gort__getg and keeps it until
 *    it exits (gort__foreign_g_tls; the pthread key's destructor takes it
 *    back).  A pseudo-G is on no run queue and not on allgs: no M ever
 *    runs it, only its own thread waits on its status word.
 *  - gort__foreign_gen changes at every block and unblock of a pseudo-G,
 *    and sched.nforeign_blocked counts the blocked ones: checkdead
 *    (mstart.c) trusts a thread count only if the generation did not move
 *    while it counted.
 *
 * Ownership.  A pseudo-G's fields are its thread's, except the status
 * word, which its waker writes (atomics, then a futex wake).  The free list
 * is under foreign_free_lock, a raw lock: the key destructor runs on an
 * exiting thread that is no M.
 *
 * Rejected: Go's needm (lend the thread an M for the length of the call):
 * Go code needs a G's stack to run on, while here the caller's C code runs
 * on its own thread's stack anyway and only the wait needs a G-shaped
 * record, so the thread takes no P from the goroutines; freeing a
 * pseudo-G at thread exit (see foreign_free).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

__thread G *gort__foreign_g_tls __attribute__((tls_model("initial-exec"), visibility("hidden")));
static pthread_key_t foreign_key;
_Atomic uint64_t gort__foreign_gen;  /* bumped by every foreign block/unblock */
/* Pseudo-Gs of exited threads, reused rather than freed: a waker may still
 * be about to futex-wake the status word of a G whose thread has exited. */
static gort__mutex foreign_free_lock;
static G *foreign_free;
/* Every pseudo-G ever made, through foreign_next (pushed once, never
 * removed: they are recycled, not freed), for gort__foreign_kick. */
static G *_Atomic foreign_all;

static void foreign_g_free(void *p)
{
    G *g = p;
    gort__lock_raw(&foreign_free_lock);
    g->schedlink = foreign_free;
    foreign_free = g;
    gort__unlock_raw(&foreign_free_lock);
}

void gort__foreign_init(void) { pthread_key_create(&foreign_key, foreign_g_free); }

GORT_NOINLINE_COLD G *gort__foreign_getg(void)
{
    gort__schedinit();
    gort__lock_raw(&foreign_free_lock);
    G *g = foreign_free;
    if (g)
        foreign_free = g->schedlink;
    gort__unlock_raw(&foreign_free_lock);
    if (g) {
        /* Everything but foreign_next, which a kick's walk may be
         * reading: cleared and restored, it read NULL and stopped there (a
         * review, under gdb). */
        size_t at = offsetof(G, foreign_next), past = at + sizeof g->foreign_next;
        memset(g, 0, at);
        memset((char *)g + past, 0, sizeof *g - past);
    } else {
        g = calloc(1, sizeof *g);
        if (!g)
            return NULL;
        G *head = atomic_load(&foreign_all);
        do
            g->foreign_next = head;
        while (!atomic_compare_exchange_weak(&foreign_all, &head, g));
    }
    g->foreign = true;
    atomic_store(&g->status, G_RUNNING);
    gort__foreign_g_tls = g;
    pthread_setspecific(foreign_key, g);
    return g;
}

void gort__foreign_block(void)
{
    atomic_fetch_add(&sched.nforeign_blocked, 1);
    atomic_fetch_add(&gort__foreign_gen, 1);
}

void gort__foreign_unblock(void)
{
    atomic_fetch_sub(&sched.nforeign_blocked, 1);
    atomic_fetch_add(&gort__foreign_gen, 1);
}

/* A kicked thread finds its status changed (so a kick just before its
 * futex wait is not lost), sets it back to waiting and looks at the
 * timers again; a goready meanwhile still stores runnable over either. */
_Atomic uint64_t gort__foreign_timer_gen;

void gort__foreign_kick(int64_t when)
{
    atomic_fetch_add(&gort__foreign_timer_gen, 1);
    if (atomic_load(&sched.nforeign_blocked) <= 0)
        return;
    for (G *g = atomic_load(&foreign_all); g; g = g->foreign_next) {
        if (atomic_load(&g->status) != G_WAITING)
            continue;
        /* One that wakes by then anyway runs the new timer then (or looks
         * at it): not woken for nothing, N threads arming timers cost N^2
         * wake-ups (a review). */
        int64_t until = atomic_load(&g->fwait_until);
        if (when >= 0 && until >= 0 && until <= when)
            continue;
        uint32_t w = G_WAITING;
        if (atomic_compare_exchange_strong(&g->status, &w, G_WAITING_KICK))
            gort__futex_wake(&g->status, 1);
    }
}
