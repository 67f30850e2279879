/*
 * scavenge.c — the stack scavenger: dead goroutines' stacks that grew deep
 * give their pages back to the kernel (Go's mgcscavenge.go returns free
 * heap pages; the memory gort pools is stacks).  The pools themselves
 * (gfget/gfput/gfdrain) and the stacks' layout are stack.c's.
 *
 * Deep stacks give their pages back, so a burst of deep goroutines does
 * not pin memory in the pools.  Deciding which stacks grew deep must not
 * slow every goroutine exit, and dropping pages (madvise MADV_DONTNEED,
 * 10-16 us per 128 KiB stack here, 0.13-1.2 ms on some VMs) must never run
 * where it delays goroutines: not on a P (its timers and run queue wait),
 * not on sysmon (preemption and timer wakeups wait).  So:
 *   - a dead G goes on its P's free list marked unscanned (!stack_clean);
 *   - when the P is about to go idle (gort__gfscavenge, from findrunnable)
 *     it checks those with mincore() (~1 us each: is any page below the
 *     kept top, SCAVENGE_KEEP, resident?), marks the shallow ones clean and
 *     moves the deep ones to the global dirty list (sched.gfree_dirty);
 *   - a busy P that never idles moves all its unscanned Gs there, unchecked,
 *     once it holds UNSCANNED_MAX of them, and a full free list spills them
 *     there too (gfdrain);
 *   - an M that just gave up its P scavenges one small batch itself
 *     before it sleeps (gort__scavenge_help): it holds no P, so nothing
 *     waits for it, and on a machine whose CPUs are shared the work no
 *     longer rests on one thread getting scheduled;
 *   - whoever adds to the dirty list wakes the scavenger thread, which
 *     lets the list age SCAV_AGE_NS (what a burst reuses meanwhile is
 *     never scanned: gfget takes dirty stacks first; up to
 *     SCAV_AGE_MAX_NS while its scans find only shallow stacks), then
 *     takes batches of SCAV_BATCH off it, checks them with mincore, drops
 *     the deep ones' pages in one process_madvise call per batch (one TLB
 *     flush for the batch on Linux 6.16+; madvise per range as fallback),
 *     and puts them on the clean list.  It sleeps only when the dirty list
 *     is empty, so nothing is left behind when the program goes idle.
 * The bound (docs/DESIGN.md "Stacks"): a dead deep stack reaches the
 * scavenger when its P idles or holds 32 unscanned stacks, and is returned
 * after the age (5 ms; a burst that follows shallow-only rounds can wait
 * out the rest of a 40 ms sleep and then a 40 ms age, ~80 ms) and a few
 * ms of the scavenger's CPU time for a burst of hundreds; tests wait up
 * to 1 s of wall time (SCAVENGE_BOUND_MS) for a machine whose CPUs are
 * shared.  Rejected: mincore() at every exit (a
 * syscall per goroutine on the spawn path), probing a few words below the
 * top (misses sparse frames), a canary written at creation (commits a page
 * per goroutine), the scan on sysmon or on an idling P (the delays above:
 * a 1 ms sleeper 94-873 ms late on a slow VM), a low-priority (SCHED_IDLE
 * or nice 19) scavenger (starved on a busy machine: no bound at all).
 *
 * Ownership.  The scavenger thread owns the madvise work: it sleeps on
 * scav_note while sched.gfree_dirty is empty and is woken (gort__scav_wake)
 * by whoever puts stacks there.  It is a plain thread like sysmon, not an
 * M: it holds no P, runs no goroutine, and every signal is blocked on it.
 * The free lists are sched's, under sched.gflock (runtime.h): stack.c's
 * pools put dead stacks on gfree_dirty and take from all three lists; this
 * file moves a P's unscanned stacks to gfree_dirty (the P's owner, in
 * gort__scav_handoff), gfree_dirty to gfree_aged (the scavenger alone),
 * and scanned batches from gfree_aged to gfree (the scavenger, or an M
 * without a P in gort__scavenge_help).
 *
 * Invariants.  A batch being scanned is on no list, so no goroutine starts
 * on a stack whose pages are being dropped.  Only pages below the top
 * SCAVENGE_KEEP of a stack are dropped: the G and the first frames stay
 * resident.  stack_clean is set only once a stack was checked (and its
 * deep pages dropped); gort__gfput clears it.  The scavenger sleeps only
 * after seeing gfree_dirty empty with scav_wait already set, so a stack
 * queued after that check is queued after the flag and wakes it.
 */
#include "runtime.h"

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SCAVENGE_KEEP (16 * 1024) /* top of a pooled stack left resident */
#define SCAV_BATCH 64     /* stacks the scavenger takes off the dirty list at once */
#define SCAV_HELP 16      /* stacks an M without a P scavenges before it sleeps */
#define SCAV_AGE_NS 5000000 /* a dead stack's wait on the dirty list before a scan */
#define SCAV_AGE_MAX_NS 40000000 /* ... after rounds that found only shallow stacks */
_Static_assert(SCAV_AGE_MAX_NS < 1000000000, "the age is a timespec's tv_nsec");

static size_t pagesz;

void gort__scavenge_init(size_t page)
{
    pagesz = page;
}

/* Does any page of g's stack below the kept top hold memory?  One
 * mincore() per 256 pages, scanned from the top down: a stack that grew at
 * all grew from there. */
static bool stack_deep(G *g, uintptr_t *lo_out, uintptr_t *hi_out)
{
    uintptr_t lo = g->stack_lo & ~(uintptr_t)(pagesz - 1);
    uintptr_t hi = (g->stack_hi - SCAVENGE_KEEP) & ~(uintptr_t)(pagesz - 1);
    if (hi <= lo)
        return false;
    *lo_out = lo;
    *hi_out = hi;
    size_t npages = (hi - lo) / pagesz;
    unsigned char vec[256];
    for (size_t done = 0; done < npages;) {
        size_t n = npages - done < sizeof vec ? npages - done : sizeof vec;
        uintptr_t at = hi - (done + n) * pagesz;
        if (mincore((void *)at, n * pagesz, vec) != 0)
            return true; /* cannot tell: let madvise decide */
        for (size_t i = 0; i < n; i++)
            if (vec[i] & 1)
                return true;
        done += n;
    }
    return false;
}

static _Atomic bool scav_started;
_Atomic int gort__scavenger_threads;
static _Atomic uint32_t scav_wait;   /* 1 while the scavenger sleeps (or is about to) */
static gort__note scav_note;
static _Atomic bool scav_found_deep; /* a scan dropped pages since the scavenger last looked */

/* Release the deep ranges of a batch: in one process_madvise where the
 * kernel takes it on our own process without a descriptor (mem_linux.c;
 * one TLB flush for the lot since Linux 6.16), else one madvise per
 * range. */
static void dontneed_ranges(struct iovec *iov, int n)
{
    if (n > 1) {
        size_t total = 0;
        for (int i = 0; i < n; i++)
            total += iov[i].iov_len;
        if (gort__madvise_many(iov, (size_t)n, MADV_DONTNEED) == (long)total)
            return;
        /* Refused, or a short count: the whole batch range by range
         * (idempotent). */
    }
    for (int i = 0; i < n; i++)
        (void)gort__madvise(iov[i].iov_base, iov[i].iov_len, MADV_DONTNEED);
}

/* The aged list, sched.gfree_aged: dirty stacks that have waited
 * SCAV_AGE_NS (guarded by sched.gflock).  The scavenger moves the whole
 * dirty list there, sleeps SCAV_AGE_NS, then scans what is still there;
 * gfget takes from the dirty list first and then from the aged one, so a
 * stack that a burst of goroutines reuses within that time is never
 * scanned.  Without the wait, skynet's scavenger thread took 22% of the
 * process's CPU time scanning stacks (mincore) that were reused a moment
 * later. */

/* Scan one batch off the aged list and return it to the clean list.  The
 * batch is on no list meanwhile, so nobody can reuse those stacks while
 * their pages are being dropped.  Returns false if the list was empty. */
static bool scav_batch(int32_t max)
{
    /* Whole chunks off the aged list, up to max Gs (at least one chunk);
     * a first chunk longer than max is split after max Gs, outside the
     * lock, and its rest goes to the dirty list, with a wake-up: only the
     * dirty list keeps the scavenger thread awake, and an M helping
     * (gort__scavenge_help, 16 at a time) could otherwise put the rest
     * back on the aged list after the thread had found it empty and gone
     * to sleep, leaving deep stacks resident in an idle program (found in
     * review: up to 112 Gs left, with the helper's scan slowed to 20 ms).
     * Chunks popped in order stay linked through chunknext: the list is
     * cut after the last one. */
    G *chunks, *last = NULL;
    int32_t n = 0, k;
    gort__lock_raw(&sched.gflock);
    chunks = sched.gfree_aged;
    while (sched.gfree_aged && (n == 0 || n + sched.gfree_aged->chunkn <= max)) {
        last = gort__gfchunk_pop(&sched.gfree_aged, &sched.naged, &k);
        n += k;
    }
    gort__unlock_raw(&sched.gflock);
    if (!last)
        return false;
    last->chunknext = NULL;
    /* One chain of the chunks, walked once for the scan: each chunk's
     * last G is linked to the next chunk's first, and the chain is cut
     * after max Gs. */
    G *batch = NULL, **link = &batch, *rest = NULL;
    int32_t taken = 0;
    struct iovec iov[SCAV_BATCH];
    int niov = 0;
    for (G *c = chunks; c && !rest; c = c->chunknext) {
        for (G *g = c; g; g = g->schedlink) {
            if (taken == max) { /* only in a first chunk longer than max */
                rest = g;
                break;
            }
            uintptr_t lo, hi;
            if (stack_deep(g, &lo, &hi)) {
                iov[niov].iov_base = (void *)lo;
                iov[niov].iov_len = hi - lo;
                niov++;
            }
            g->stack_clean = true;
            *link = g;
            link = &g->schedlink;
            taken++;
        }
    }
    *link = NULL;
    if (niov) {
        dontneed_ranges(iov, niov);
        atomic_store_explicit(&scav_found_deep, true, memory_order_relaxed);
    }
    gort__lock_raw(&sched.gflock);
    gort__gfchunk_push(&sched.gfree, &sched.gfreecnt, batch, taken);
    if (rest)
        gort__gfchunk_push(&sched.gfree_dirty, &sched.ndirty, rest, n - taken);
    gort__unlock_raw(&sched.gflock);
    if (rest)
        gort__scav_wake();
    return true;
}

static void *scavenger(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "gort-scavenge", 0, 0, 0);
    int64_t age = SCAV_AGE_NS;
    for (;;) {
        bool scanned = false;
        while (scav_batch(SCAV_BATCH))
            scanned = true;
        /* The wait adapts: each round that scanned stacks and found
         * nothing to drop doubles it (up to SCAV_AGE_MAX_NS), a drop by
         * anyone resets it.  A program that spawns bursts of shallow
         * goroutines (skynet) then reuses most stacks before anyone scans
         * them: its scans went from ~50k a run to ~18k, its wall time from
         * 352 to 297 ms (medians of 9 interleaved; DESIGN.md "Stacks").
         * Go's scavenger is lazier still: it paces itself to 1% of a
         * CPU. */
        if (atomic_exchange_explicit(&scav_found_deep, false, memory_order_relaxed))
            age = SCAV_AGE_NS;
        else if (scanned)
            age = age * 2 < SCAV_AGE_MAX_NS ? age * 2 : SCAV_AGE_MAX_NS;
        /* The aged list is empty: age what is dirty now, if anything.  A
         * plain thread with every signal blocked: nanosleep is not
         * interrupted. */
        gort__lock_raw(&sched.gflock);
        bool aging = sched.gfree_dirty != NULL;
        if (aging) {
            /* The aged list was just drained (and nobody else adds to
             * it): no walk to the end of a long dirty list under gflock. */
            if (sched.gfree_aged) {
                G *t = sched.gfree_aged; /* chunks: few, and only their first Gs */
                while (t->chunknext)
                    t = t->chunknext;
                t->chunknext = sched.gfree_dirty;
            } else {
                sched.gfree_aged = sched.gfree_dirty;
            }
            sched.naged += sched.ndirty;
            sched.gfree_dirty = NULL;
            sched.ndirty = 0;
        }
        gort__unlock_raw(&sched.gflock);
        if (aging) {
            struct timespec ts = {0, age};
            nanosleep(&ts, NULL);
            continue;
        }
        /* Empty: sleep until gort__scav_wake.  The flag is set before the
         * re-check under gflock, so a stack queued after the re-check is
         * queued after the flag and its gort__scav_wake sees it. */
        gort__noteclear(&scav_note);
        atomic_store(&scav_wait, 1);
        gort__lock_raw(&sched.gflock);
        bool empty = sched.gfree_dirty == NULL;
        gort__unlock_raw(&sched.gflock);
        if (empty)
            gort__notesleep(&scav_note);
        if (atomic_exchange(&scav_wait, 0) == 0 && !empty)
            gort__notesleep(&scav_note); /* a waker took the flag: absorb its wakeup */
    }
    return NULL;
}

static void scav_start(void)
{
    /* No signal is for the scavenger: its stack is small and it runs no
     * user code (the preemption signal least of all). */
    sigset_t all;
    sigfillset(&all);
    if (!gort__helper_thread(scavenger, 64 * 1024, &all))
        atomic_store(&scav_started, false); /* retried at the next wake */
    else
        atomic_store(&gort__scavenger_threads, 1); /* checkdead counts it */
}

/* Stacks were put on sched.gfree_dirty (after gflock was released). */
void gort__scav_wake(void)
{
    if (!atomic_load_explicit(&scav_started, memory_order_relaxed) &&
        !atomic_exchange(&scav_started, true)) {
        scav_start();
        return;
    }
    if (atomic_exchange(&scav_wait, 0))
        gort__notewakeup(&scav_note);
}

/* Move p's unscanned stacks to the dirty list for the scavenger.  With
 * `scan`, each is first checked with mincore (~1 us) and only the deep
 * ones move: the P is about to idle, and a goroutine that stayed shallow
 * (the common case) should cost no wakeup of the scavenger. */
void gort__scav_handoff(P *p, bool scan)
{
    G *head = NULL;
    int32_t n = 0;
    for (G **link = &p->gfree; *link && p->gfree_unscanned > 0;) {
        G *g = *link;
        if (g->stack_clean) {
            link = &g->schedlink;
            continue;
        }
        uintptr_t lo, hi;
        if (scan && !stack_deep(g, &lo, &hi)) {
            g->stack_clean = true;
            p->gfree_unscanned--;
            link = &g->schedlink;
            continue;
        }
        *link = g->schedlink;
        p->gfreecnt--;
        p->gfree_unscanned--;
        g->schedlink = head; /* the first one ends the chain: NULL */
        head = g;
        n++;
    }
    if (!head)
        return;
    gort__lock(&sched.gflock);
    gort__gfchunk_push(&sched.gfree_dirty, &sched.ndirty, head, n);
    gort__unlock(&sched.gflock);
    gort__scav_wake();
}

void gort__gfscavenge(P *p)
{
    gort__scav_handoff(p, true);
}

bool gort__scavenge_help(void)
{
    if (atomic_load_explicit((_Atomic int32_t *)&sched.naged, memory_order_relaxed) == 0)
        return false;
    return scav_batch(SCAV_HELP);
}
