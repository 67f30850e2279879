/*
 * mstats.c — the counters a program can read (Go's debug.go NumGoroutine
 * and mstats.go ReadMemStats, for the scheduler): live and created
 * goroutines, threads, switches, steals, preemptions, system calls and
 * hand-offs, goroutines in calls and on the poller (gort_read_stats, which
 * GORTDEBUG=schedtrace prints too).
 *
 * Invariants.  Each figure is read on its own, not as one snapshot: a
 * counter may move while the others are summed.  The live count reads
 * the exits before the creations, so it never goes negative.
 *
 * Ownership.  Nothing here is written: every counter is the code's that
 * counts the event (a P's own counters by that P's owner, with a plain
 * increment published for racy readers; sched's with atomics), and this
 * file only sums them, taking sched.lock for mcount.  Goroutines in
 * system calls are counted over the Ms (a G in G_SYSCALL is its M's curg;
 * Gs are never freed, so the racy read is safe).
 *
 * Rejected: shared atomic counters for goroutine creation and exit (spawn
 * and exit would write one cache line on every P; each P counts its own
 * and the reader sums them); stopping the world for a consistent snapshot
 * as Go's ReadMemStats does (a monitor polling the counters would stop
 * every goroutine each time); counting goroutines in calls by walking
 * allgs (O(goroutines): under the lock allgs had then, which gort_go
 * waited on, a thread polling the stats every 100 us made skynet run
 * 21 s, not 2.7).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <string.h>

int64_t gort__ngoroutines(uint64_t *created)
{
    uint64_t c = (uint64_t)atomic_load_explicit(&sched.ncreated_nop, memory_order_relaxed), x = 0;
    for (int32_t i = 0; i < sched.allp_cap && sched.allp && sched.allp[i]; i++) {
        /* Exits first: a goroutine counted exited here was created before,
         * so the difference never goes negative under concurrent updates. */
        x += atomic_load_explicit(&sched.allp[i]->nexited, memory_order_acquire);
    }
    for (int32_t i = 0; i < sched.allp_cap && sched.allp && sched.allp[i]; i++)
        c += atomic_load_explicit(&sched.allp[i]->ncreated, memory_order_acquire);
    if (created)
        *created = c;
    return c > x ? (int64_t)(c - x) : 0;
}

int gort_num_goroutine(void)
{
    gort__schedinit();
    return (int)gort__ngoroutines(NULL);
}

void gort_read_stats(gort_stats *s)
{
    gort__schedinit();
    memset(s, 0, sizeof *s);
    s->goroutines = (uint64_t)gort__ngoroutines(&s->spawned);
    gort__lock(&sched.lock);
    s->threads = (uint64_t)sched.mcount;
    gort__unlock(&sched.lock);
    s->procs = (uint64_t)sched.gomaxprocs;
    for (int32_t i = 0; i < sched.allp_cap && sched.allp[i]; i++) {
        P *pp = sched.allp[i];
        s->context_switches += atomic_load_explicit(&pp->nswitch, memory_order_relaxed);
        s->steals += atomic_load_explicit(&pp->nsteal, memory_order_relaxed);
        s->sync_preempts += atomic_load_explicit(&pp->nsyncpreempt, memory_order_relaxed);
        s->prologue_preempts += atomic_load_explicit(&pp->nprologuepreempt, memory_order_relaxed);
        s->io_batches += atomic_load_explicit(&pp->niobatch, memory_order_relaxed);
        s->io_batched += atomic_load_explicit(&pp->niobop, memory_order_relaxed);
        s->async_preempts += atomic_load_explicit(&pp->nasyncpreempt, memory_order_relaxed);
    }
    s->preempt_requests = atomic_load(&sched.npreemptreq);
    s->signals_sent = atomic_load(&sched.nsignals);
    s->stw_count = atomic_load(&sched.nstw);
    for (int32_t i = 0; i < sched.allp_cap && sched.allp[i]; i++)
        s->syscalls += atomic_load_explicit(&sched.allp[i]->syscalltick, memory_order_relaxed);
    for (M *m = __atomic_load_n(&sched.allm, __ATOMIC_ACQUIRE); m; m = m->alllink)
        s->syscalls += atomic_load_explicit(&m->nsyscall_pless, memory_order_relaxed);
    s->handoffs = atomic_load(&sched.nhandoff);
    s->lock_sleeps = gort__lock_sleeps();
    int32_t iow = atomic_load(&sched.netpoll_waiters);
    s->io_wait = iow > 0 ? (uint64_t)iow : 0;
    for (M *m = __atomic_load_n(&sched.allm, __ATOMIC_ACQUIRE); m; m = m->alllink) {
        G *g = __atomic_load_n(&m->curg, __ATOMIC_RELAXED);
        if (g && atomic_load_explicit(&g->status, memory_order_relaxed) == G_SYSCALL)
            s->in_syscall++;
    }
}
