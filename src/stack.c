/*
 * stack.c — goroutine stacks and the dead-G pools (Go's stack.go plus the
 * gfget/gfput half of proc.go).
 *
 * Layout.  Each goroutine lives in one anonymous mapping:
 *     [guard page][ usable stack ......... ][ struct gort_g ]
 *     map         stack_lo                  stack_hi == (uintptr_t)g
 * The G sits at the top of its own stack, in the page the first frames
 * touch anyway, so a parked goroutine costs one resident page.  Mappings
 * are MAP_NORESERVE and committed lazily by the kernel on first touch.
 *
 * Guard pages cost a VMA each (the PROT_NONE page splits the mapping), and
 * vm.max_map_count (65530 by default) caps VMAs per process.  Once guarded
 * stacks would use most of that budget, new stacks come from unguarded
 * slabs of many stacks in one VMA, with a one-time warning: a million
 * goroutines keep working, the later ones without overflow detection.
 *
 * Ownership.  Gs are never freed (Go does the same): a dead G keeps its
 * stack and goes to its P's free list (owner-only, no lock), spilling half
 * to the global list (sched.gflock) when the local one is full.
 *
 * Deep stacks give their pages back, so a burst of deep goroutines does
 * not pin memory in the pools.  Deciding which stacks grew deep must not
 * slow every goroutine exit, so it is done when a P runs out of work
 * (gort__gfscavenge, from findrunnable, before the P sleeps): the Gs that
 * died since the last scan are at the head of its free list, and for each
 * one mincore() says whether any page below the kept top (SCAVENGE_KEEP)
 * is resident; if so, those pages go back with MADV_DONTNEED.  Stacks
 * spilled to the global pool unscanned go to its dirty list, which sysmon
 * scans in batches off the goroutines' path (one P spawning and another
 * retiring would otherwise pay a syscall per goroutine).  Rejected:
 * mincore() at every exit (a syscall per goroutine on the spawn path), probing a few
 * words below the top (misses sparse frames), a canary written at creation
 * (commits a page per goroutine).
 *
 * Rejected: copying/growable stacks (C has no stack maps to fix pointers
 * into the stack), malloc'd stacks (no guard page, eager commit by some
 * allocators), munmap on exit (a syscall and a shootdown per goroutine).
 */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef GORT_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define GORT_VALGRIND 1
#endif

#define GFREE_LOCAL_MAX 64
#define SLAB_STACKS 64
#define SCAVENGE_KEEP (16 * 1024) /* top of a pooled stack left resident */

static size_t pagesz;
static size_t gsize;               /* sizeof(G) rounded to 64 */
static size_t guarded_max;         /* guarded stacks allowed before slabs */
static _Atomic size_t nguarded;
static gort__mutex slablock;        /* guards the current slab */
static char *slab_next, *slab_end;
static size_t slab_slot;
static _Atomic bool slab_warned;

void gort__stack_init(void)
{
    pagesz = (size_t)sysconf(_SC_PAGESIZE);
    gsize = (sizeof(G) + 63) & ~(size_t)63;
    long maxmap = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &maxmap) != 1)
            maxmap = 65530;
        fclose(f);
    }
    /* Two VMAs per guarded stack; keep a quarter of the budget (and at least
     * 4096) for malloc arenas, libraries and the program's own mappings. */
    long reserve = maxmap / 4 > 4096 ? maxmap / 4 : 4096;
    guarded_max = maxmap > reserve ? (size_t)(maxmap - reserve) / 2 : 0;
    slab_slot = (gort__cfg.stacksize + gsize + pagesz - 1) & ~(pagesz - 1);
}

static G *g_in_region(char *base, size_t len, bool guarded)
{
    G *g = (G *)(base + len - gsize);
    memset(g, 0, sizeof *g);
    g->stack_map = base;
    g->stack_maplen = len;
    g->stack_lo = (uintptr_t)base + (guarded ? pagesz : 0);
    g->stack_hi = (uintptr_t)g; /* 64-byte aligned */
    g->guarded = guarded;
#ifdef GORT_VALGRIND
    g->valgrind_id = VALGRIND_STACK_REGISTER(g->stack_lo, g->stack_hi);
#endif
    return g;
}

static G *alloc_guarded(void)
{
    size_t len = (pagesz + gort__cfg.stacksize + gsize + pagesz - 1) & ~(pagesz - 1);
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (mprotect(p, pagesz, PROT_NONE) != 0) {
        munmap(p, len);
        return NULL;
    }
    return g_in_region(p, len, true);
}

static G *alloc_from_slab(void)
{
    gort__lock(&slablock);
    if (slab_next == slab_end) {
        size_t len = slab_slot * SLAB_STACKS;
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (p == MAP_FAILED) {
            gort__unlock(&slablock);
            return NULL;
        }
        slab_next = p;
        slab_end = p + len;
    }
    char *base = slab_next;
    slab_next += slab_slot;
    gort__unlock(&slablock);
    return g_in_region(base, slab_slot, false);
}

G *gort__stackalloc_g(void)
{
    G *g = NULL;
    if (atomic_fetch_add(&nguarded, 1) < guarded_max) {
        g = alloc_guarded();
        if (!g)
            atomic_fetch_sub(&nguarded, 1);
        /* ENOMEM from mmap/mprotect with VMAs to spare: fall through to a
         * slab, which needs no new VMA most of the time. */
    } else {
        atomic_fetch_sub(&nguarded, 1);
        if (!atomic_exchange(&slab_warned, true))
            gort__print("gort: warning: vm.max_map_count allows ~%zu guarded goroutine stacks; "
                        "further stacks have no guard page\n", guarded_max);
    }
    if (!g)
        g = alloc_from_slab();
    return g;
}

void gort__stack_scavenge(G *g)
{
    uintptr_t lo = g->stack_lo & ~(uintptr_t)(pagesz - 1);
    uintptr_t hi = (g->stack_hi - SCAVENGE_KEEP) & ~(uintptr_t)(pagesz - 1);
    if (hi <= lo)
        return;
    size_t npages = (hi - lo) / pagesz;
    unsigned char vec[256];
    /* Scan from the top down: a stack that grew at all grew from there. */
    for (size_t done = 0; done < npages;) {
        size_t n = npages - done < sizeof vec ? npages - done : sizeof vec;
        uintptr_t at = hi - (done + n) * pagesz;
        if (mincore((void *)at, n * pagesz, vec) != 0)
            return;
        for (size_t i = 0; i < n; i++)
            if (vec[i] & 1) {
                madvise((void *)lo, hi - lo, MADV_DONTNEED);
                return;
            }
        done += n;
    }
}

void gort__gfscavenge(P *p)
{
    for (G *g = p->gfree; g && p->gfree_unscanned > 0; g = g->schedlink) {
        if (g->stack_clean)
            continue;
        gort__stack_scavenge(g);
        g->stack_clean = true;
        p->gfree_unscanned--;
    }
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

/* Move Gs off a global list (gflock held) onto p's, up to half full. */
static void refill(P *p, G **list, int32_t *cnt)
{
    while (p->gfreecnt < GFREE_LOCAL_MAX / 2 && *list) {
        G *g = *list;
        *list = g->schedlink;
        (*cnt)--;
        g->schedlink = p->gfree;
        p->gfree = g;
        p->gfreecnt++;
        if (!g->stack_clean)
            p->gfree_unscanned++;
    }
}

G *gort__gfget(P *p)
{
    if (!p->gfree &&
        (atomic_load_explicit((_Atomic int32_t *)&sched.gfreecnt, memory_order_relaxed) > 0 ||
         atomic_load_explicit((_Atomic int32_t *)&sched.ndirty, memory_order_relaxed) > 0)) {
        gort__lock(&sched.gflock);
        /* Unscanned ones first: reusing a stack makes scanning it moot. */
        refill(p, &sched.gfree_dirty, &sched.ndirty);
        refill(p, &sched.gfree, &sched.gfreecnt);
        gort__unlock(&sched.gflock);
    }
    G *g = p->gfree;
    if (g) {
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
    if (p->gfreecnt < GFREE_LOCAL_MAX)
        return;
    gort__gfdrain(p, GFREE_LOCAL_MAX / 2);
}

void gort__gfdrain(P *p, int32_t keep)
{
    /* Unscanned stacks to the global dirty list for sysmon, the rest to
     * the clean list. */
    gort__lock(&sched.gflock);
    while (p->gfreecnt > keep) {
        G *x = p->gfree;
        p->gfree = x->schedlink;
        p->gfreecnt--;
        if (!x->stack_clean) {
            p->gfree_unscanned--;
            x->schedlink = sched.gfree_dirty;
            sched.gfree_dirty = x;
            sched.ndirty++;
        } else {
            x->schedlink = sched.gfree;
            sched.gfree = x;
            sched.gfreecnt++;
        }
    }
    gort__unlock(&sched.gflock);
}

void gort__gfscavenge_global(void)
{
    if (atomic_load_explicit((_Atomic int32_t *)&sched.ndirty, memory_order_relaxed) == 0)
        return;
    /* A batch off the dirty list; scanned without the lock (syscalls). */
    G *batch = NULL;
    int32_t n = 0;
    gort__lock_raw(&sched.gflock);
    while (sched.gfree_dirty && n < 256) {
        G *g = sched.gfree_dirty;
        sched.gfree_dirty = g->schedlink;
        sched.ndirty--;
        g->schedlink = batch;
        batch = g;
        n++;
    }
    gort__unlock_raw(&sched.gflock);
    G *tail = batch;
    for (G *g = batch; g; g = g->schedlink) {
        gort__stack_scavenge(g);
        g->stack_clean = true;
        tail = g;
    }
    if (!batch)
        return;
    gort__lock_raw(&sched.gflock);
    tail->schedlink = sched.gfree;
    sched.gfree = batch;
    sched.gfreecnt += n;
    gort__unlock_raw(&sched.gflock);
}
