/*
 * stack.c — goroutine stacks and the dead-G pools (Go's stack.go plus the
 * gfget/gfput half of proc.go).
 *
 * Layout.  Stacks are carved from slabs: one anonymous mapping holds
 * many equal slots (8 in the first slab, doubling up to 256), each
 *     [gap, 64 KiB][ usable stack ......... ][ struct gort_g ]
 *     slot          stack_lo                  stack_hi == (uintptr_t)g
 * The G sits at the top of its own stack, in the page the first frames
 * touch anyway, so a parked goroutine costs one resident page.  Mappings
 * are MAP_NORESERVE (and MADV_NOHUGEPAGE: a huge page would commit 2 MiB
 * around each G) and committed lazily by the kernel on first touch.
 *
 * The gap below a stack (STACK_GAP) is guard pages on a guarded stack and
 * a red zone on a slab stack (below).  It is larger than one page because
 * a C frame can skip a page without touching it: glibc, built without
 * stack-clash probes, allocas up to 64 KiB (printf("%.9000f") ~36 KiB for
 * its digits) and has fixed frames of up to 33 KiB.  With one guard page
 * such a frame's first write landed in what lies below the slot: the G and
 * top frames of another goroutine, or an M's thread stack with its TLS,
 * after which the fault could not even be reported (test_crash's "libc
 * frame past a page").  A frame that skips more than the gap still can;
 * code of the program's own that makes such frames wants
 * -fstack-clash-protection.  The cost is address space, and so page
 * tables: 1M parked goroutines take 619 MiB of them instead of 505
 * (VmPTE), and where a fresh page-table page is dear (this VM)
 * bench/sleepers' first run ~2.5 % more wall time.  128 KiB would also
 * cover a maximal alloca on top of the largest fixed frame; it cost twice
 * that (742 MiB, sleepers +4 %).
 *
 * Guard pages.  The guard pages are page-table markers installed with
 * madvise(MADV_GUARD_INSTALL) (Linux 6.13+): a touch faults like a
 * PROT_NONE page, but the mapping is not split, so a million stacks cost
 * a handful of VMAs (adjacent slabs merge) and vm.max_map_count (65530 by
 * default) is no limit.  Slots are prepared SLAB_PREP at a time
 * (slab_prepare): one process_madvise installs their guards, another
 * commits their top pages (MADV_POPULATE_WRITE), so a new goroutine takes
 * no page fault; that replaces an mmap, an mprotect and a fault per stack.
 * While a goroutine spawns others that live on, an M that would otherwise
 * wait (steal_grace in runq.c) prepares more on its own core
 * (gort__stack_prepare_help): the page commits, ~2.5 us a stack here,
 * then no longer all fall on the spawning thread.  Where the kernel refuses the
 * advice (probed once at start, and under valgrind), each guarded stack is
 * its own mapping with an mprotect'd PROT_NONE gap: two VMAs, so once
 * they would use most of vm.max_map_count, further stacks come from
 * red-zone slabs (Slab stacks below) whose overflow is caught at the next
 * switch.  That needs no warning: nothing has gone wrong and the user has
 * nothing to do; an overflow, when it happens, is a fatal error that says
 * the stack had no guard page.  GORTDEBUG=guardedstacks=N caps the guarded
 * stacks at N on any kernel (tests of the red-zone path).
 *
 * Ownership.  Gs are never freed (Go does the same): a dead G keeps its
 * stack and goes to its P's free list (owner-only, no lock), spilling half
 * to the global lists (sched.gflock) when the local one is full.  The
 * global lists hold chunks, whole schedlink chains moved without their Gs
 * being read (runtime.h, gort__gfchunk_push/pop): a P whose list is empty
 * takes one chunk as its list.  Rejected: taking Gs one by one (Go's
 * gfget), a walk through cold Gs under the lock (DESIGN.md "Stacks").
 *
 * Deep stacks give their pages back (scavenge.c): a dead G is pooled
 * unscanned (!stack_clean) and handed to the scavenger when its P idles,
 * holds UNSCANNED_MAX unscanned stacks or spills its free list; the
 * scavenger drops the pages a deep goroutine left below the stack's top.
 *
 * Slab stacks (unguarded).  A slot is [red zone][usable stack][G]; the 64 KiB
 * red zone (the gap, address space only) lies between a stack's
 * bottom (stack_lo) and the G of the slot below.  A goroutine that stays
 * on its stack never writes there, so at every switch out (mcall: yield,
 * park, preemption, exit) gort__stack_check reads the red zone's top 4 KiB
 * -- all zero, and never committed where reading untouched memory maps
 * the shared zero page (a kernel that commits a page on a read fault
 * makes each slab stack one page dearer) -- and compares the sp with
 * stack_lo; anything else is "gort: fatal error: stack overflow", before another goroutine runs on
 * what it overwrote.  An overflow deeper than the red zone, or a single
 * frame larger than 4 KiB that skips the checked page, can still reach the
 * neighbour first; guarded stacks have neither limit.
 *
 * Rejected: copying/growable stacks (C has no stack maps to fix pointers
 * into the stack), malloc'd stacks (no guard page, eager commit by some
 * allocators), munmap on exit (a syscall and a shootdown per goroutine),
 * MAP_GROWSDOWN stacks (still a VMA each, and the kernel keeps a 1 MiB
 * stack_guard_gap below each that no other mapping may use), a one-time
 * warning when the guarded budget runs out (it told users about the
 * runtime's internals, not about anything they must act on), red-zone
 * slabs for all stacks (the switch-time check reads 4 KiB per switch: 19%
 * of skynet's CPU time, and it misses overflows deeper than the zone).
 */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef GORT_ASAN
#include <sanitizer/asan_interface.h>
#endif
#include "valgrind_hooks.h"

#define GFREE_LOCAL_MAX 64
/* Stacks per slab: the first slab holds SLAB_FIRST, each later one twice
 * the last, up to SLAB_STACKS (a program with ten goroutines reserves a
 * few MiB of address space, a million-goroutine burst makes one mmap per
 * 256 stacks). */
#define SLAB_FIRST 8
#define SLAB_STACKS 256
/* Bytes below every stack's stack_lo (see "The gap below a stack" above):
 * guard pages where the stack is guarded, else never-written red zone
 * whose top REDZONE_CHECK bytes are checked at every switch. */
#define STACK_GAP (64 * 1024)
#define REDZONE_CHECK 4096
#define UNSCANNED_MAX 32  /* unscanned stacks a busy P keeps before handing them off */

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13+ */
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14+ */
#endif
#define SLAB_PREP 32 /* guard-marker slots prepared at once */
/* A P that has made BURST_AFTER new stacks since it last reused one a
 * goroutine had run on (a burst of goroutines that live on) takes
 * SLAB_BURST at a time; such a reuse (gort__gfget) ends the burst.
 * Preparing them in fewer, larger runs cut bench/sleepers' wall time on
 * the AMD EPYC VM, where a new stack's cost is in the hypervisor's mapping
 * of its page (medians of 8-10 interleaved runs, goroutines made without
 * stacks, unstarted.c: 337-356 ms at 32, 334 at 64, 305-324 at 128), but
 * a run holds its P while it writes every G (~8 us each there), and the
 * timers due on that P wait: mean wake-up lateness 1.8 ms at 32 and 64,
 * 2.2 at 128.  A program that makes a few goroutines still prepares 32
 * at a time. */
#define SLAB_BURST 64
#define BURST_AFTER (4 * SLAB_PREP)

/* A run of equal slots carved from one mapping at a time (slablock). */
typedef struct {
    char *next, *end;
    size_t slot;   /* bytes per slot, page-rounded */
    size_t below;  /* bytes below stack_lo (STACK_GAP): guard pages or the red zone */
    size_t nnext;  /* slots in the next mapping */
} slab;

static size_t pagesz;
static size_t gsize;               /* sizeof(G) rounded to 64 */
#define G_COLOURS 32               /* G placements per page (g_place) */
static bool guard_markers;         /* MADV_GUARD_INSTALL works here */
static size_t guarded_max;         /* guarded stacks allowed before red-zone slabs */
static _Atomic size_t nguarded;
static gort__mutex slablock;        /* guards both slabs */
static slab gslab, rzslab;          /* guard-marker slots; red-zone slots */


/* Can a page inside a read-write mapping be made a guard page without
 * splitting the mapping (MADV_GUARD_INSTALL, Linux 6.13+)?  Valgrind does
 * not know the advice: its stacks take the mprotect path. */
static bool probe_guard_markers(void)
{
    if (RUNNING_ON_VALGRIND)
        return false;
    char *p = mmap(NULL, 2 * pagesz, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    bool ok = madvise(p, pagesz, MADV_GUARD_INSTALL) == 0;
    munmap(p, 2 * pagesz);
    return ok;
}

void gort__stack_init(void)
{
    pagesz = (size_t)sysconf(_SC_PAGESIZE);
    gsize = (sizeof(G) + 63) & ~(size_t)63;
    gort__scavenge_init(pagesz);
    guard_markers = probe_guard_markers();
    if (guard_markers) {
        /* A guard costs no VMA: every stack gets one. */
        guarded_max = SIZE_MAX;
    } else {
        long maxmap = 65530;
        FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
        if (f) {
            if (fscanf(f, "%ld", &maxmap) != 1)
                maxmap = 65530;
            fclose(f);
        }
        /* Two VMAs per guarded stack; keep a quarter of the budget (and at
         * least 4096) for malloc arenas, libraries and the program's own
         * mappings. */
        long reserve = maxmap / 4 > 4096 ? maxmap / 4 : 4096;
        guarded_max = maxmap > reserve ? (size_t)(maxmap - reserve) / 2 : 0;
    }
    if (gort__cfg.guardedstacks >= 0 && (size_t)gort__cfg.guardedstacks < guarded_max)
        guarded_max = (size_t)gort__cfg.guardedstacks;
    gslab.below = STACK_GAP;
    gslab.slot = (STACK_GAP + gort__cfg.stacksize + gsize + (G_COLOURS - 1) * 64 + pagesz - 1) &
                 ~(pagesz - 1);
    gslab.nnext = SLAB_FIRST;
    rzslab.below = STACK_GAP;
    rzslab.slot = (STACK_GAP + gort__cfg.stacksize + gsize + (G_COLOURS - 1) * 64 + pagesz - 1) &
                  ~(pagesz - 1);
    rzslab.nnext = SLAB_FIRST;
}

/* Where a region's G goes: at the top, lowered by 0-31 cache lines by
 * the region's index.  Every G and the frames it parks with would
 * otherwise sit at one offset in their pages, and the L1 cache picks the
 * set by that offset: a sieve's 3000 goroutines all fought over 8 ways
 * of a few sets (CPU per hand-off grew with the number of goroutines,
 * 549 -> 837 ns from 300 to 3000 filters at 1 P, flat in Go).  The top
 * page has room: the slot rounds stack + G up to whole pages, and the
 * shift (at most 1984 bytes) stays inside the page committed for the G.
 * Rejected: a random colour (two neighbours may collide; the index
 * spreads any run of consecutive slots evenly). */
static G *g_place(char *base, size_t len)
{
    size_t colour = ((uintptr_t)base / len) % G_COLOURS;
    return (G *)(base + len - gsize - colour * 64);
}

static G *g_in_region(char *base, size_t len, size_t below, bool guarded)
{
    G *g = g_place(base, len);
    memset(g, 0, sizeof *g);
    g->stack_map = base;
    g->stack_maplen = len;
    g->stack_lo = (uintptr_t)base + below;
    g->stack_hi = (uintptr_t)g; /* 64-byte aligned */
    g->guarded = guarded;
    g->valgrind_id = VALGRIND_STACK_REGISTER(g->stack_lo, g->stack_hi);
    return g;
}

/* Kernels without guard markers: one mapping per stack, its gap made
 * PROT_NONE (two VMAs). */
static G *alloc_guarded(void)
{
    size_t len = gslab.slot;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (mprotect(p, STACK_GAP, PROT_NONE) != 0) {
        munmap(p, len);
        return NULL;
    }
    return g_in_region(p, len, STACK_GAP, true);
}

/* One slot of s, mapping a new slab when the current one is used up.
 * Adjacent slabs have equal flags, so the kernel merges them into one VMA
 * more often than not. */
static char *slab_take_locked(slab *s)
{
    if (s->next == s->end) {
        size_t len = s->slot * s->nnext;
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        /* With transparent huge pages "always", the first touch of a G
         * would commit 2 MiB around it: a slab spans many huge pages. */
        madvise(p, len, MADV_NOHUGEPAGE);
        s->next = p;
        s->end = p + len;
        if (s->nnext < SLAB_STACKS)
            s->nnext *= 2;
    }
    char *base = s->next;
    s->next += s->slot;
    return base;
}

static char *slab_take(slab *s)
{
    gort__lock(&slablock);
    char *base = slab_take_locked(s);
    gort__unlock(&slablock);
    return base;
}

/* Prepare n consecutive slots of a guard-marker slab from first, which
 * the caller claimed (no lock: nobody else can reach them): their guard
 * markers in one call, their top pages (the G and the first frames)
 * committed in another (MADV_POPULATE_WRITE: no page fault per
 * goroutine, ~0.5 us of a ~2.5 us first touch on an Intel host, 3 of 15
 * us on an AMD EPYC VM), their Gs written and linked through schedlink.
 * A guard the batch did not install is retried alone; one the kernel
 * refuses (ENOMEM for the page table) leaves that slot unguarded, its
 * never-written gap the red zone checked at each switch (mcall),
 * as in a red-zone slab. */
static G *slab_prepare_vec(const slab *s, char *first, size_t n, struct iovec *guard,
                           struct iovec *top)
{
    /* The span of address space one last-level page table maps (2 MiB
     * with 4 KiB pages and 8-byte entries). */
    const uintptr_t ptspan = (uintptr_t)pagesz * (pagesz / sizeof(uint64_t));
    uintptr_t lastpt = 0;
    for (size_t i = 0; i < n; i++) {
        char *base = first + i * s->slot;
        guard[i] = (struct iovec){base, STACK_GAP};
        top[i] = (struct iovec){base + s->slot - pagesz, pagesz};
        /* Fault in the top page of the first slot in each page table from
         * user mode, before the madvise calls below can make that table
         * inside the kernel.  Under the PVM hypervisor (shadow paging) of
         * the 2-vCPU machines this was measured on, stores into pages
         * whose table a syscall had made stayed slow for about half a
         * second after: bench/sleepers lost ~130 ms of CPU at the first
         * store into each due timer's G (checktimers), mean wake-up
         * lateness 1.1-1.4 ms against 0.5 with the tables made by faults
         * (DESIGN.md "Stacks").  Elsewhere it costs one fault in place of
         * a populate per page table (eight stacks at the default size).
         * A span with no top page in it (a slab's first guard just below
         * a 2 MiB boundary; the guard and deep end of each stack of 2 MiB
         * or more) still gets its table from the guard's madvise: only
         * frames that deep would run through it. */
        uintptr_t pt = (uintptr_t)top[i].iov_base / ptspan;
        if (i == 0 || pt != lastpt)
            *(volatile char *)((char *)top[i].iov_base + pagesz - 1) = 0;
        lastpt = pt;
    }
    long r = gort__madvise_many(guard, n, MADV_GUARD_INSTALL);
    size_t installed = r > 0 ? (size_t)r / STACK_GAP : 0;
    (void)gort__madvise_many(top, n, MADV_POPULATE_WRITE); /* else faulted in on first touch */
    G *list = NULL;
    for (size_t i = n; i-- > 0;) {
        bool guarded =
            i < installed || gort__madvise(guard[i].iov_base, STACK_GAP, MADV_GUARD_INSTALL) == 0;
        /* A refusal may have left part of the gap marked, and the switch's
         * red-zone check reads the gap: no markers at all then. */
        if (!guarded)
            (void)gort__madvise(guard[i].iov_base, STACK_GAP, MADV_GUARD_REMOVE);
        G *g = g_in_region(guard[i].iov_base, s->slot, STACK_GAP, guarded);
        g->schedlink = list;
        list = g;
    }
    return list;
}

/* n slots from first, in one pair of calls: up to SLAB_PREP with vectors
 * on the stack, a burst's SLAB_BURST with pp's (the caller may be
 * gort_go on a small goroutine stack: 2 KiB of vectors stay off it;
 * gort__stackalloc_g asks for more than SLAB_PREP only once
 * burst_vectors has mapped them). */
static G *slab_prepare(const slab *s, char *first, size_t n, P *pp)
{
    if (n > SLAB_PREP)
        return slab_prepare_vec(s, first, n, pp->prepvec, pp->prepvec + SLAB_BURST);
    struct iovec guard[SLAB_PREP], top[SLAB_PREP];
    return slab_prepare_vec(s, first, n, guard, top);
}

/* pp's vectors for a burst's batches, mapped at its first burst; NULL if
 * they cannot be, and the P goes on preparing SLAB_PREP at a time.  mmap,
 * not malloc: this runs on g0 when a goroutine starts (unstarted.c),
 * where the C allocator must not be re-entered. */
static struct iovec *burst_vectors(P *pp)
{
    if (!pp->prepvec) {
        void *v = mmap(NULL, 2 * SLAB_BURST * sizeof(struct iovec), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        pp->prepvec = v == MAP_FAILED ? NULL : v;
    }
    return pp->prepvec;
}

/* Up to want slots of a guard-marker slab, [gap][stack][G] each,
 * the gap page-table markers (MADV_GUARD_INSTALL), not a VMA: a fault
 * there is SIGSEGV like a PROT_NONE page.  The slots are claimed under
 * slablock and prepared outside it: the two process_madvise calls took
 * ~10 us with the lock held, and the other Ps' gort_go slept on it
 * (futex wait and wake were 7% of skynet's CPU).  Returns their Gs linked
 * through schedlink, *got of them. */
static G *alloc_marked(size_t want, size_t *got, P *pp)
{
    gort__lock(&slablock);
    char *first = slab_take_locked(&gslab); /* maps a new slab if need be */
    size_t n = 0;
    if (first) {
        n = 1 + (size_t)(gslab.end - gslab.next) / gslab.slot;
        if (n > want)
            n = want;
        gslab.next += (n - 1) * gslab.slot;
    }
    gort__unlock(&slablock);
    *got = n;
    return first ? slab_prepare(&gslab, first, n, pp) : NULL;
}

/* Reserve up to want of the guarded stacks' budget: how many. */
static size_t guarded_reserve(size_t want)
{
    size_t have = atomic_load(&nguarded), k;
    do {
        if (have >= guarded_max)
            return 0;
        k = guarded_max - have < want ? guarded_max - have : want;
    } while (!atomic_compare_exchange_weak(&nguarded, &have, have + k));
    return k;
}

/* Put first..last, n dead clean Gs linked through schedlink, on the
 * global clean list as one chunk.  (scavenge.c does the same under the
 * raw lock, as everything there, for its M-less thread.) */
static void gfput_global(G *first, G *last, int32_t n)
{
    last->schedlink = NULL;
    gort__lock(&sched.gflock);
    gort__gfchunk_push(&sched.gfree, &sched.gfreecnt, first, n);
    gort__unlock(&sched.gflock);
}

/* Preparation ahead of a burst (gort__stack_prepare_help, below). */
static _Atomic uint64_t ntaken, ntaken_seen;
static _Atomic int32_t nunused; /* Gs with g->prepared set */
static _Atomic bool helping;

/* The n new Gs of list g, linked through schedlink: dead, clean (only the
 * top page, which holds the G, is committed), never run, and put on allgs
 * in one step.  Returns the last. */
static G *adopt(G *g, size_t n)
{
    G *last = g;
    for (G *x = g; x; x = x->schedlink) {
        x->stack_clean = true;
        x->prepared = true;
        atomic_store_explicit(&x->status, G_DEAD, memory_order_relaxed);
        last = x;
    }
    atomic_fetch_add_explicit(&nunused, (int32_t)n, memory_order_relaxed);
    for (G *x = g; x != last; x = x->schedlink)
        x->alllink = x->schedlink;
    gort__allgs_add(g, last, (int32_t)n);
    return last;
}

void gort__allgs_add(G *first, G *last, int32_t n)
{
    G *head = __atomic_load_n(&sched.allgs, __ATOMIC_RELAXED);
    do
        __atomic_store_n(&last->alllink, head, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&sched.allgs, &head, first, true, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
    __atomic_add_fetch(&sched.nallgs, n, __ATOMIC_RELAXED);
}

/* New stacks for newg when the pools are empty: a batch of SLAB_PREP
 * (SLAB_BURST in a burst) where guard markers work (their preparation
 * costs two system calls whatever the count), else one.  The first G is
 * returned; the others go to pp's free list, or the global one when pp
 * is NULL (a plain thread), clean and dead, as if they had run. */
G *gort__stackalloc_g(P *pp)
{
    G *g = NULL;
    size_t want = !guard_markers                                          ? 1
                  : pp && pp->nstackfresh >= BURST_AFTER && burst_vectors(pp) ? SLAB_BURST
                                                                              : SLAB_PREP;
    size_t n = 0, k = guarded_reserve(want);
    if (k > 0) {
        if (guard_markers) {
            g = alloc_marked(k, &n, pp);
        } else {
            g = alloc_guarded();
            n = g != NULL;
        }
        if (n < k)
            atomic_fetch_sub(&nguarded, k - n);
        /* ENOMEM from mmap/mprotect with VMAs to spare: fall through to a
         * slab, which needs no new VMA most of the time. */
    }
    if (!g) {
        char *base = slab_take(&rzslab);
        if (!base)
            return NULL;
        g = g_in_region(base, rzslab.slot, STACK_GAP, false);
        n = 1;
    }
    if (pp)
        pp->nstackfresh += n;
    G *last = adopt(g, n);
    G *rest = g->schedlink;
    g->schedlink = NULL;
    g->stack_clean = false; /* about to run, as a G from gfget */
    atomic_store_explicit(&g->status, G_IDLE, memory_order_relaxed);
    if (rest) {
        if (pp) {
            last->schedlink = pp->gfree;
            pp->gfree = rest;
            pp->gfreecnt += (int32_t)n - 1;
        } else {
            gfput_global(rest, last, (int32_t)n - 1);
        }
    }
    return g;
}

/* Preparing stacks ahead of a burst.  A goroutine that lives on while more
 * are spawned needs a new slot, and committing its top page costs ~2.5 us
 * on this VM (a fault, or MADV_POPULATE_WRITE: the same), all on the
 * spawning thread: 10,000 living goroutines took 30 ms to start, as in
 * Go.  An M that would otherwise wait prepares PREP_HELP more on the global
 * free list from the other core: in steal_grace (runq.c, holding its
 * spinning P) or about to sleep without a P (findrunnable).  Only while a
 * burst consumes them: after a change of ntaken (Gs that never ran, taken
 * by gort__newg), with fewer than PREP_LOW prepared Gs unused anywhere
 * (nunused: every free list, global or per-P), and one helper at a time
 * (helping).  So helpers leave fewer than PREP_LOW + PREP_HELP (96, 384 KiB
 * committed) unused stacks behind a burst; a P's own batch
 * (gort__stackalloc_g) can leave up to SLAB_PREP - 1 more on that P
 * (SLAB_BURST - 1 in a burst, past GFREE_LOCAL_MAX until its next gfput
 * drains it).  The first spawn that needs a new batch can start one helper
 * (31 of its batch unused), so a program that starts a few goroutines may
 * commit 32 stacks more than it uses.  A stop of the world cannot cut a
 * batch short as it does the grace sleep: one that begins during a batch
 * waits for it, ~80 us here, a cost only spawn bursts pay (skipping the
 * commit would not help: writing each G faults its page in anyway).  10k
 * living goroutines start in 23.3 ms against 28.2 without help (medians of
 * 11); with PREP_LOW 32, 24.2; with half batches, 24.6; with no bound on
 * the helpers (gfreecnt < 64 as the gate, two at once), 20-21 ms but
 * 96-135 unused stacks left.  Guard-marker slabs only: elsewhere a stack is
 * a mapping of its own, one at a time. */
#define PREP_HELP SLAB_PREP
/* The helper has no P: its batches must fit slab_prepare's stack vectors. */
_Static_assert(PREP_HELP <= SLAB_PREP, "helper batches use slab_prepare's stack vectors");
#define PREP_LOW (2 * SLAB_PREP)

void gort__stack_taken(void)
{
    atomic_fetch_add_explicit(&ntaken, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&nunused, 1, memory_order_relaxed);
}

bool gort__stack_prepare_help(void)
{
    if (!guard_markers)
        return false;
    uint64_t seen = atomic_load_explicit(&ntaken_seen, memory_order_relaxed);
    uint64_t now = atomic_load_explicit(&ntaken, memory_order_relaxed);
    if (now == seen || atomic_load_explicit(&nunused, memory_order_relaxed) >= PREP_LOW ||
        atomic_load_explicit(&helping, memory_order_relaxed) ||
        atomic_exchange_explicit(&helping, true, memory_order_acquire))
        return false;
    bool done = false;
    size_t n = 0, k;
    /* Re-read under the flag: another helper may have just finished. */
    if (atomic_load_explicit(&nunused, memory_order_relaxed) >= PREP_LOW ||
        !atomic_compare_exchange_strong(&ntaken_seen, &seen, now) ||
        (k = guarded_reserve(PREP_HELP)) == 0)
        goto out;
    G *g = alloc_marked(k, &n, NULL);
    if (n < k)
        atomic_fetch_sub(&nguarded, k - n);
    if (!g)
        goto out;
    gfput_global(g, adopt(g, n), (int32_t)n);
    done = true;
out:
    atomic_store_explicit(&helping, false, memory_order_release);
    return done;
}

/* Called by mcall at every switch out of a goroutine on a slab stack
 * (yield, park, preemption -- async preemption ends in mcall too -- and
 * exit), on that stack.  The red zone below stack_lo is never written by
 * a goroutine that stayed on its stack, so a non-zero word in its top
 * page, or a saved sp below stack_lo, means it overflowed: stop before
 * anything runs on the damage.  Reading the untouched red zone maps the
 * shared zero page on most kernels: no memory is committed for it. */
__attribute__((no_sanitize_address)) void gort__stack_check(G *g, uintptr_t sp)
{
    /* 16-byte vectors (SSE2, in every x86-64) in four independent
     * accumulators: the loads are not serialised on one register, about
     * four times fewer cycles than a word-at-a-time loop (this runs at
     * every switch of a red-zone goroutine).  stack_lo is page-aligned. */
    typedef uint64_t v2u64 __attribute__((vector_size(16)));
    const v2u64 *w = (const v2u64 *)(g->stack_lo - REDZONE_CHECK);
    v2u64 a0 = {0, 0}, a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < REDZONE_CHECK / sizeof *w; i += 4) {
        a0 |= w[i];
        a1 |= w[i + 1];
        a2 |= w[i + 2];
        a3 |= w[i + 3];
    }
    a0 |= a1 | a2 | a3;
    if (likely((a0[0] | a0[1]) == 0 && sp >= g->stack_lo))
        return;
    gort__throw("stack overflow: goroutine %llu ran past the bottom of its %zu-byte stack "
                "(GORTSTACKSIZE=%zu; stack %#lx-%#lx is a slab stack, which has no guard page)",
                (unsigned long long)g->goid, (size_t)(g->stack_hi - g->stack_lo),
                gort__cfg.stacksize, (unsigned long)g->stack_lo, (unsigned long)g->stack_hi);
}


/* Reset a pooled G's stack for a new goroutine.  Sanitizer shadow left by
 * the previous goroutine's frames would otherwise report false errors. */
static void stack_reuse(G *g)
{
#ifdef GORT_ASAN
    __asan_unpoison_memory_region((void *)g->stack_lo, g->stack_hi - g->stack_lo);
#endif
    (void)g;
}

/* p's list is empty (gflock held): make one global chunk its list,
 * unscanned ones first (reusing a stack makes scanning it moot).  O(1):
 * only the chunk's first G is read.  Walking the Gs one by one, as this
 * did, chased a pointer through a cold G per step (each on its own stack
 * page, last touched by the P that freed it, often the other CPU) for up
 * to 32 steps under gflock: 9% of skynet's samples on 2 Ps. */
static void refill(P *p)
{
    int32_t n = 0;
    G *first = gort__gfchunk_pop(&sched.gfree_dirty, &sched.ndirty, &n);
    if (!first)
        first = gort__gfchunk_pop(&sched.gfree_aged, &sched.naged, &n);
    if (first) {
        p->gfree_unscanned += n;
    } else {
        first = gort__gfchunk_pop(&sched.gfree, &sched.gfreecnt, &n);
        if (!first)
            return;
    }
    p->gfree = first;
    p->gfreecnt = n;
}

G *gort__gfget(P *p)
{
    if (!p->gfree &&
        (atomic_load_explicit((_Atomic int32_t *)&sched.gfreecnt, memory_order_relaxed) > 0 ||
         atomic_load_explicit((_Atomic int32_t *)&sched.ndirty, memory_order_relaxed) > 0 ||
         atomic_load_explicit((_Atomic int32_t *)&sched.naged, memory_order_relaxed) > 0)) {
        gort__lock(&sched.gflock);
        refill(p);
        gort__unlock(&sched.gflock);
    }
    G *g = p->gfree;
    if (g) {
        if (unlikely(p->nstackfresh) && !g->prepared)
            p->nstackfresh = 0; /* a goroutine's stack again: the burst is over */
        p->gfree = g->schedlink;
        p->gfreecnt--;
        if (!g->stack_clean)
            p->gfree_unscanned--; /* reused: no need to scan it */
        g->schedlink = NULL;
        stack_reuse(g);
    }
    return g;
}

void gort__gfput(P *p, G *g)
{
    g->stack_clean = false;
    g->schedlink = p->gfree;
    p->gfree = g;
    p->gfreecnt++;
    p->gfree_unscanned++;
    if (p->gfreecnt >= GFREE_LOCAL_MAX)
        gort__gfdrain(p, GFREE_LOCAL_MAX / 2);
    else if (p->gfree_unscanned >= UNSCANNED_MAX)
        gort__scav_handoff(p, false);
}

void gort__gfdrain(P *p, int32_t keep)
{
    /* Unscanned stacks to the global dirty list for the scavenger, the
     * rest to the clean list: sorted into two chains here (these Gs died
     * on this P), each pushed as one chunk. */
    G *dirty = NULL, *clean = NULL;
    int32_t ndirty = 0, nclean = 0;
    while (p->gfreecnt > keep) {
        G *x = p->gfree;
        p->gfree = x->schedlink;
        p->gfreecnt--;
        if (!x->stack_clean) {
            p->gfree_unscanned--;
            x->schedlink = dirty;
            dirty = x;
            ndirty++;
        } else {
            x->schedlink = clean;
            clean = x;
            nclean++;
        }
    }
    if (!dirty && !clean)
        return;
    gort__lock(&sched.gflock);
    if (dirty)
        gort__gfchunk_push(&sched.gfree_dirty, &sched.ndirty, dirty, ndirty);
    if (clean)
        gort__gfchunk_push(&sched.gfree, &sched.gfreecnt, clean, nclean);
    gort__unlock(&sched.gflock);
    if (dirty)
        gort__scav_wake();
}

