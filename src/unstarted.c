/*
 * unstarted.c — goroutines that have not run yet hold no stack.
 *
 * gort_go on a P queues a record, not a G with a stack: a G-shaped
 * struct with no stack (g->unstarted), reset as newproc.c resets any new
 * G, that the run queues, stealing and dumps treat as the runnable G it
 * is.  When a P first picks it (execute_slice, proc.c) it takes a G with
 * a stack the usual way -- a dead G from its free lists, which by then
 * goroutines that finished may have filled, else a new stack -- copies
 * the record's identity into it (entry, argument, id, creator, inherited
 * signal mask) and runs that; the record goes back on the P's list.
 *
 * Why.  A new stack's first touch is the dearest thing about a goroutine
 * that lives: ~2.5 us on an Intel host, 8-10 us on the AMD EPYC VM (the
 * hypervisor maps each new page on its first access: DESIGN.md
 * "Stacks").  A spawner that makes goroutines faster than they run
 * leaves most of them queued: skynet at 2 Ps held ~61,000 Gs at its
 * peak, and at most ~9,600 of them had started; at 1 P, 85,000 and
 * 13,600.  With a stack per queued goroutine each of those was a fresh
 * page; with records, the queued ones cost 448 bytes of a dense slab, and
 * most find, when they start, the warm stack of one that just finished.
 * Go allocates each goroutine's stack when it is made, but its 8 KiB
 * stacks sit packed in its heap.
 *
 * Identity.  A goroutine's G changes once, at its first run: nothing can
 * hold the record's address before that but the queue it is taken from
 * (gort_go returns no handle) and allgs (records are on it, for dumps,
 * which print a queued record as "not started yet" with its creator).
 * The goroutine id, which users see, is the record's.
 *
 * Ownership.  A free record is on one P's list (pp->ufree, owner only) or
 * in a chunk on the global one (sched.ufree, under sched.gflock, which
 * the G free lists use too).  A queued record belongs to the queue like any G; the P
 * that starts it owns it until it is free again.  Records are never
 * freed (Gs are not either), and stay on allgs.
 *
 * Costs.  A spawn writes a record (a line or two, recycled LIFO) instead
 * of a dead G's; the first run takes the dead G and copies ~10 fields
 * into it (or makes a new stack, if none was freed meanwhile).  The
 * switch pays one flag test (execute_slice).  A stack that cannot be
 * mapped at the first run is a fatal error, as a stack Go cannot grow
 * is; gort_go's ENOMEM now means no memory for a record.
 *
 * Rejected: Gs kept apart from their stacks for the whole of every
 * goroutine's life (each switch would touch two distant lines, and a
 * parked goroutine would cost its G's line besides its stack's page);
 * binding the stack at gort_go but committing it at the first run (the
 * commit is the cost, and a stack chosen at spawn cannot be a finished
 * goroutine's warm one);
 * running the child at once and queueing the spawner (work-first, as
 * Cilk: it bounds the live set, but changes the order goroutines run in,
 * which Go programs' fairness and benchmarks rest on).
 */
#include "runtime.h"

#include <sys/mman.h>

/* Always a record, even when a dead G is free at gort_go: that stack,
 * given to a goroutine that then waits behind a full run queue, is one a
 * goroutine starting meanwhile cannot have, and it takes a new one.
 * Records only when no dead G was free (the first version) left skynet
 * where it was (peak RSS 260-300 MB, against 70-77 MB always); the
 * spawn+join benchmark, where a record is pure overhead, measured no
 * slower (160-175 ns against 189-192). */

/* Records per batch, and the most a P keeps before it gives half to the
 * global list (a spawning P takes records, a P that runs what it stole
 * frees them). */
#define UBATCH 64
#define UFREE_LOCAL_MAX 128

/* A new batch of records, linked through schedlink, on allgs.  mmap, not
 * malloc: this may run on g0 in the scheduler (a gort_after_func timer's
 * gort_go), where the C allocator must not be re-entered (runq.c). */
static G *batch(void)
{
    size_t sz = (sizeof(G) + 63) & ~(size_t)63;
    char *mem = mmap(NULL, sz * UBATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return NULL;
    G *first = NULL, *last = NULL;
    for (int i = UBATCH - 1; i >= 0; i--) {
        G *u = (G *)(mem + (size_t)i * sz);
        u->unstarted = true;
        atomic_store_explicit(&u->status, G_IDLE, memory_order_relaxed);
        u->schedlink = first;
        u->alllink = first;
        if (!last)
            last = u;
        first = u;
    }
    gort__allgs_add(first, last, UBATCH);
    return first;
}

G *gort__unstarted_new(P *pp)
{
    if (!pp->ufree) {
        /* A chunk that another P spilled (its schedlink chain, taken
         * whole: no record is read under the lock), else a new batch. */
        if (atomic_load_explicit((_Atomic int32_t *)&sched.ufreecnt, memory_order_relaxed) > 0) {
            int32_t n = 0;
            gort__lock(&sched.gflock);
            G *c = gort__gfchunk_pop(&sched.ufree, &sched.ufreecnt, &n);
            gort__unlock(&sched.gflock);
            pp->ufree = c;
            pp->ufreecnt = c ? n : 0;
        }
        if (!pp->ufree) {
            pp->ufree = batch();
            if (!pp->ufree)
                return NULL;
            pp->ufreecnt = UBATCH;
        }
    }
    G *u = pp->ufree;
    pp->ufree = u->schedlink;
    pp->ufreecnt--;
    u->schedlink = NULL;
    return u;
}

/* The first n records of pp's list (n <= its count) to the global one,
 * as one chunk. */
static void spill(P *pp, int32_t n)
{
    G *first = pp->ufree, *last = first;
    for (int32_t i = 1; i < n; i++)
        last = last->schedlink;
    pp->ufree = last->schedlink;
    pp->ufreecnt -= n;
    last->schedlink = NULL;
    gort__lock(&sched.gflock);
    gort__gfchunk_push(&sched.ufree, &sched.ufreecnt, first, n);
    gort__unlock(&sched.gflock);
}

void gort__unstarted_drain(P *pp)
{
    if (pp->ufree)
        spill(pp, pp->ufreecnt);
}

G *gort__unstarted_start(P *pp, G *u)
{
    G *g = gort__gfget(pp);
    if (!g) {
        g = gort__stackalloc_g(pp);
        if (!g)
            gort__throw("out of memory: no stack for goroutine %llu, which has not run yet "
                        "(GORTSTACKSIZE=%zu)",
                        (unsigned long long)u->goid, gort__cfg.stacksize);
    }
    g->goid = u->goid;
    g->gopc = u->gopc;
    g->parentgoid = u->parentgoid;
    gort__g_init(g, u->fn, u->arg, u->ts_sigmask_set, u->ts_sigmask);
    /* The record is free: a dump walking allgs now skips it. */
    atomic_store_explicit(&u->status, G_IDLE, memory_order_release);
    u->schedlink = pp->ufree;
    pp->ufree = u;
    if (++pp->ufreecnt > UFREE_LOCAL_MAX)
        spill(pp, UFREE_LOCAL_MAX / 2);
    return g;
}
