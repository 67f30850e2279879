/*
 * runq.c — run queues: each P's lock-free local ring and runnext slot, the
 * global queue, and the idle-P list (Go's runqput/runqget/runqgrab and
 * globrunq* from proc.go).
 *
 * Invariants.  A P's ring is single-producer (only the M holding the P
 * writes runqtail) and multi-consumer (the owner and stealers advance
 * runqhead with CAS).  Slots are read before the head CAS that claims them
 * and written before the tail store-release that publishes them, so a
 * stealer that wins the CAS owns exactly the Gs it read.  runnext holds at
 * most one G that the owner runs before the ring: a G readied by the
 * running one (a channel partner) inherits the rest of the time slice,
 * which is what makes ping-pong cheap.  The global queue and the idle-P
 * list are guarded by sched.lock.
 *
 * The global queue is a growable ring of G pointers.  Rejected: a list
 * through G.schedlink, as Go's is: each G sits at the top of its own stack,
 * one page per slot hundreds of KiB apart, so walking a batch of 128 to
 * move it missed the cache and the TLB once per G -- gort__globrunqget
 * was 12% of skynet's CPU time, runqputslow's linking 3%.
 *
 * Rejected: a locked deque per P (every put would take a lock), a single
 * global queue (contention across all Ms on every switch).
 */
#include "runtime.h"

#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#define RQ(i) ((i) % GORT_RUNQ_SIZE)

/* Ring full: move half of it plus g to the global queue in one batch. */
static bool runqputslow(P *pp, G *g, uint32_t h, uint32_t t)
{
    G *batch[GORT_RUNQ_SIZE / 2 + 1];
    uint32_t n = (t - h) / 2;
    for (uint32_t i = 0; i < n; i++)
        batch[i] = atomic_load_explicit(&pp->runq[RQ(h + i)], memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&pp->runqhead, &h, h + n,
                                                 memory_order_release, memory_order_relaxed))
        return false; /* a stealer took some; the caller retries the fast path */
    batch[n] = g;
    gort__lock(&sched.lock);
    gort__globrunqputbatch(batch, (int32_t)n + 1);
    gort__unlock(&sched.lock);
    return true;
}

void gort__runqput(P *pp, G *g, bool next)
{
    if (next) {
        G *old = atomic_exchange_explicit(&pp->runnext, g, memory_order_acq_rel);
        if (!old)
            return;
        g = old; /* the displaced runnext goes to the tail */
    }
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t - h < GORT_RUNQ_SIZE) {
            atomic_store_explicit(&pp->runq[RQ(t)], g, memory_order_relaxed);
            atomic_store_explicit(&pp->runqtail, t + 1, memory_order_release);
            return;
        }
        if (runqputslow(pp, g, h, t))
            return;
    }
}

G *gort__runqget(P *pp)
{
    bool inherit;
    return gort__runqget_inherit(pp, &inherit);
}

/* Start the cache and TLB misses of the G at ring position h, the next
 * one this P will take from its ring, while the G just taken runs.  Each
 * G sits at the top of its own stack page, so with many goroutines alive
 * the first touch of the next one missed both: in skynet (1M goroutines)
 * 92% of schedule()'s samples, 14% of the run, sat on that one load (the
 * lockedm test).  One line is prefetched, the G's tail (lockedm, thread
 * state), which also starts the page walk for the rest of the G: skynet
 * 421 -> 358 ms (medians of 13, 2 Ps).  The head line too (status, m,
 * preempt) gained no more there and cost spawn 7 ns a goroutine.  Not
 * while thieves take from this ring (a steal in the last 256 slices):
 * the next G is then as likely to run on another core, which must take
 * back the line our prefetch shared.  Only the ring's next, not runnext,
 * which was readied just now from this core.  A stale pick costs nothing
 * but the prefetch: Gs are never freed. */
enum { PREFETCH_QUIET_TICKS = 256 };

static inline void prefetch_next(P *pp, uint32_t h)
{
    if (pp->schedtick - atomic_load_explicit(&pp->stolentick, memory_order_relaxed) <
        PREFETCH_QUIET_TICKS)
        return;
    const G *n = atomic_load_explicit(&pp->runq[RQ(h)], memory_order_relaxed);
    __builtin_prefetch(&n->lockedm, 0);
}

/* *inherit: g came from runnext, so it runs in the time slice of the G
 * that readied it (Go's inheritTime).  A pair handing off through runnext
 * then counts as one goroutine for sysmon and is preempted after a
 * quantum like any other, instead of keeping the P from its ring for as
 * long as the pair lasts. */
G *gort__runqget_inherit(P *pp, bool *inherit)
{
    G *next = atomic_load_explicit(&pp->runnext, memory_order_relaxed);
    if (next && atomic_compare_exchange_strong_explicit(&pp->runnext, &next, NULL,
                                                        memory_order_acq_rel,
                                                        memory_order_relaxed)) {
        *inherit = true;
        return next;
    }
    *inherit = false;
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t == h)
            return NULL;
        G *g = atomic_load_explicit(&pp->runq[RQ(h)], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&pp->runqhead, &h, h + 1,
                                                  memory_order_release, memory_order_relaxed)) {
            if (h + 1 != t)
                prefetch_next(pp, h + 1);
            return g;
        }
    }
}

/* The moment runqgrab gives a running P's owner before taking its
 * runnext: Go's usleep(3), which the kernel's default timer slack makes
 * 50-60 us.  That length stays (a ping-pong pair on one P is left alone
 * that long), but the wait is a futex wait on gcwaiting, so a stop of the
 * world that begins meanwhile wakes the thread (stw.c) instead of waiting
 * out the sleep: the stopper cannot signal an M that runs no goroutine,
 * and such waits made 1 in ~300 stops in bench/stw_syscall take 100-150
 * us instead of ~5.  nstealwait tells the stopper whether to wake
 * anyone: we count ourselves before the kernel compares gcwaiting, it
 * sets gcwaiting before it reads the count (both seq_cst). */
static void steal_grace(void)
{
    /* A goroutine is spawning others faster than stacks are pooled (the
     * usual reason a running P's runnext is all there is to steal): spend
     * the moment committing the next 32 stacks (stack.c), ~80 us, instead
     * of sleeping.  Not once a stop of the world has begun; one that
     * begins meanwhile waits for the batch, where it would have cut the
     * sleep short. */
    if (!atomic_load(&sched.gcwaiting) && gort__stack_prepare_help())
        return;
    atomic_fetch_add(&sched.nstealwait, 1);
    gort__futex_wait(&sched.gcwaiting, 0, gort__nanotime() + 3000);
    atomic_fetch_sub(&sched.nstealwait, 1);
}

/* Tell p2's owner that its ring is being stolen from (prefetch_next). */
static inline void mark_stolen(P *p2)
{
    atomic_store_explicit(&p2->stolentick,
                          __atomic_load_n(&p2->schedtick, __ATOMIC_RELAXED),
                          memory_order_relaxed);
}

/* Claim up to half of p2's ring into batch[]; returns how many. */
static uint32_t runqgrab(P *p2, G **batch, bool stealrunnext)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&p2->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&p2->runqtail, memory_order_acquire);
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0) {
            if (!stealrunnext)
                return 0;
            G *next = atomic_load_explicit(&p2->runnext, memory_order_acquire);
            if (!next)
                return 0;
            /* The owner is probably about to run its runnext (it was just
             * readied by the running G): give it a moment, as Go does, so
             * we don't bounce a ping-pong pair between Ps. */
            if (atomic_load_explicit(&p2->status, memory_order_relaxed) == P_RUNNING) {
                steal_grace();
                if (atomic_load(&sched.gcwaiting))
                    return 0; /* the stop came meanwhile: steal nothing */
            }
            if (!atomic_compare_exchange_strong_explicit(&p2->runnext, &next, NULL,
                                                         memory_order_acq_rel,
                                                         memory_order_relaxed))
                continue;
            batch[0] = next;
            mark_stolen(p2);
            return 1;
        }
        if (n > GORT_RUNQ_SIZE / 2)
            continue; /* inconsistent h/t snapshot */
        for (uint32_t i = 0; i < n; i++)
            batch[i] = atomic_load_explicit(&p2->runq[RQ(h + i)], memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&p2->runqhead, &h, h + n,
                                                    memory_order_release,
                                                    memory_order_relaxed)) {
            mark_stolen(p2);
            return n;
        }
    }
}

G *gort__runqsteal(P *pp, P *p2, bool stealrunnext)
{
    G *batch[GORT_RUNQ_SIZE / 2];
    uint32_t n = runqgrab(p2, batch, stealrunnext);
    if (n == 0)
        return NULL;
    G *g = batch[--n];
    if (n == 0)
        return g;
    uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
    uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
    if (t - h + n >= GORT_RUNQ_SIZE)
        gort__throw("runqsteal: runq overflow");
    for (uint32_t i = 0; i < n; i++)
        atomic_store_explicit(&pp->runq[RQ(t + i)], batch[i], memory_order_relaxed);
    atomic_store_explicit(&pp->runqtail, t + n, memory_order_release);
    return g;
}

/* Make room for n more Gs in the global ring (sched.lock held): double it
 * into a new mapping, oldest first.  mmap, not malloc: the scheduler
 * queues Gs where the C allocator may not be re-entered (a goroutine
 * preempted or parked with malloc's own lock held is still queued). */
static void globrunq_grow(uint32_t n)
{
    uint32_t size = (uint32_t)atomic_load_explicit(&sched.runqsize, memory_order_relaxed);
    if (size + n <= sched.runqcap)
        return;
    uint32_t cap = sched.runqcap ? sched.runqcap : 512;
    while (cap < size + n)
        cap *= 2;
    G **ring = mmap(NULL, cap * sizeof(G *), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring == MAP_FAILED)
        gort__throw("out of memory: global run queue of %u goroutines", cap);
    for (uint32_t i = 0; i < size; i++)
        ring[i] = sched.runq[(sched.runqhead + i) & (sched.runqcap - 1)];
    if (sched.runq)
        munmap(sched.runq, sched.runqcap * sizeof(G *));
    sched.runq = ring;
    sched.runqcap = cap;
    sched.runqhead = 0;
}

void gort__globrunqput(G *g)
{
    gort__globrunqputbatch(&g, 1);
}

void gort__globrunqputbatch(G *const *gs, int32_t n)
{
    globrunq_grow((uint32_t)n);
    uint32_t t = sched.runqhead +
                 (uint32_t)atomic_load_explicit(&sched.runqsize, memory_order_relaxed);
    for (int32_t i = 0; i < n; i++)
        sched.runq[(t + (uint32_t)i) & (sched.runqcap - 1)] = gs[i];
    atomic_fetch_add_explicit(&sched.runqsize, n, memory_order_relaxed);
}

/* Take a fair share of the global queue: one G to return, the rest (up to
 * half a ring) into pp's ring. */
G *gort__globrunqget(P *pp, int32_t max)
{
    int32_t size = atomic_load_explicit(&sched.runqsize, memory_order_relaxed);
    if (size == 0)
        return NULL;
    int32_t n = size / sched.gomaxprocs + 1;
    if (n > size)
        n = size;
    if (max > 0 && n > max)
        n = max;
    if (n > GORT_RUNQ_SIZE / 2)
        n = GORT_RUNQ_SIZE / 2;
    atomic_fetch_sub_explicit(&sched.runqsize, n, memory_order_relaxed);
    uint32_t mask = sched.runqcap - 1, h = sched.runqhead;
    sched.runqhead = (h + (uint32_t)n) & mask;
    for (int32_t i = 1; i < n; i++)
        gort__runqput(pp, sched.runq[(h + (uint32_t)i) & mask], false);
    return sched.runq[h & mask];
}

void gort__pidleput(P *pp)
{
    gort__slice_served(pp); /* the next slice will not begin at the note */
    atomic_store_explicit(&pp->status, P_IDLE, memory_order_relaxed);
    pp->link = sched.pidle;
    sched.pidle = pp;
    atomic_fetch_add_explicit(&sched.npidle, 1, memory_order_relaxed);
}

void gort__pstop_locked(P *pp)
{
    gort__slice_served(pp); /* the next slice will not begin at the note */
    atomic_store(&pp->status, P_STOPPED);
    if (--sched.stopwait == 0)
        gort__notewakeup(&sched.stopnote);
}

void gort__pidleput_or_stop(P *pp)
{
    if (atomic_load(&sched.gcwaiting))
        gort__pstop_locked(pp);
    else
        gort__pidleput(pp);
}

P *gort__pidleget(void)
{
    P *pp = sched.pidle;
    if (pp) {
        sched.pidle = pp->link;
        pp->link = NULL;
        atomic_fetch_sub_explicit(&sched.npidle, 1, memory_order_relaxed);
    }
    return pp;
}

/* Take `want` off the idle list if it is there, else any idle P (exitsyscall
 * prefers the P its goroutine ran on: its run queue and stacks are warm). */
P *gort__pidleget_pref(P *want)
{
    for (P **pl = &sched.pidle; want && *pl; pl = &(*pl)->link) {
        if (*pl == want) {
            *pl = want->link;
            want->link = NULL;
            atomic_fetch_sub_explicit(&sched.npidle, 1, memory_order_relaxed);
            return want;
        }
    }
    return gort__pidleget();
}
