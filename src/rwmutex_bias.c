/*
 * rwmutex_bias.c — the read bias of gort_rwmutex: a reader takes the read
 * lock by writing the lock's address into a slot of its P's own column of
 * a process-wide table, instead of adding to the lock's shared `readers`
 * count.  With the count shared, every read lock and unlock moves the
 * lock's cache line between the cores that read, two transfers per
 * operation, and that is the whole cost of a read-mostly lock on more
 * than one core (Go's too); a P's column stays in its core's cache.  This
 * is BRAVO (Dice and Kogan, "BRAVO: Biased Locking for Reader-Writer
 * Locks", USENIX ATC 2019) reworked for a lock whose read side may be
 * released by another goroutine or thread than the one that took it, as
 * Go's RWMutex allows.  A writer revokes the bias before it runs Go's
 * protocol (rwmutex.c); its unlock restores it.
 *
 * The table.  cols[c].slot[b]: column c = the P's id mod NCOL, bucket b =
 * a hash of the lock's address.  A slot holds a lock address or NULL; a
 * slot holding rw is one read lock of rw, whoever holds it.  A column is
 * written by the goroutines of one P at a time (a goroutine that moved,
 * or another that releases for it, gives back whichever slot it finds
 * first), so its lines stay with one core.  Locks that share a bucket
 * share its slot: the second one's readers use the count, which is always
 * correct.  The table is 128 KiB of zeroed memory; only the columns of
 * Ps that exist are ever touched.
 *
 * Units.  Read locks of rw are counted in two places: the count and the
 * slots holding rw.  The invariant: count + slots = read locks held +
 * claims being decided.  Units are interchangeable, because nothing
 * records which goroutine holds which:
 *   claim     a slot NULL -> rw (CAS), then re-read rw->bias: still 0, the
 *             read lock is held; otherwise undo the claim (CAS rw -> NULL)
 *             and use the count.  If the undo fails, a writer already
 *             moved that unit into the count, or a release spent it in
 *             place of its own: either way the claimer now holds a unit
 *             that is still counted, so it holds the read lock.
 *   release   clear a slot holding rw (this P's column first, then the
 *             others in use); if none, take one unit from the count, but
 *             never the count's last ("no readers"): a unit in neither
 *             place is on its way (below), so look again.
 *   revoke    the writer, holding w: rw->bias = NOBIAS|REVOKING (an atomic
 *             exchange, a full barrier), then every slot still holding rw
 *             is moved into the count (CAS rw -> NULL, then add 1: never
 *             counted twice; between the two steps the unit is in neither
 *             place, which REVOKING tells a release that finds nothing),
 *             then rw->bias = NOBIAS.  From there on the writer runs Go's
 *             protocol on the count alone.
 * The claim's re-read and the writer's exchange are a Dekker pair (both
 * seq_cst, and the writer's scan loads too): either the claimer sees
 * NOBIAS and backs out, or the writer's scan, which comes after its
 * exchange, sees the claim and moves it.  A release that finds nothing
 * may be early (a revoking writer between its two steps) or may have been
 * outrun (another release took the slot it was about to check, and the
 * unit that one left was claimed behind the scan).  It then settles the
 * question under the writers' mutex, taken only with a try: bias revoked,
 * the count holds every read lock, and an empty count is the misuse Go
 * reports ("RUnlock of unlocked").  If a writer holds the mutex, its own
 * revocation is filling the count: look again.
 *
 * Writer preference holds as in Go, with one edge: a claimer that read
 * the bias on just before a writer revoked it, and whose claim another
 * reader's release then spent, keeps the read lock the writer counted
 * (the writer waits for it), as if it had arrived first.
 *
 * Policy: none; the bias is on whenever no writer holds the lock (and
 * more than one P exists).  BRAVO turns it off for a while after a
 * revocation, to bound what writers spend revoking.  Here a revocation is
 * one pass over the columns in use, so that bound matters little, and
 * every policy tried (BRAVO's timed inhibition, the time between writes,
 * claims counted per window, claims from a second column, with back-off)
 * made the one-writer benchmark bimodal on 2 Ps: with the bias off, a
 * writer that finds readers inside parks, the readers that queue behind
 * it park, their P goes idle, and the program settles on one P with every
 * read contended (22-24 ns/op, Go's figure too), where the bias keeps both
 * Ps reading (10-11 ns/op).  The cost of never turning it off: the read
 * path is a call into the library and a TLS load, ~2.5 ns per lock/unlock
 * pair uncontended (12.2 -> 14.6 ns/op with 8 goroutines on 1 P, measured
 * before restore() left the bias off at 1 P); and on the benchmark where
 * all 8 goroutines write 1 op in 100, 12-18% (14.4 -> 16.3 ns/op on 2 Ps,
 * Go 18.7).  There the cost is each write's scan, which pulls the other
 * P's slot line away so that its next claim misses: a copy with the whole
 * read path inlined into the program measured the same on that shape.
 *
 * Plain threads (no M) always use the count.
 *
 * Rejected:
 *   - A column per M or per CPU: Ms are unbounded, and a CPU id read in
 *     user code is stale by the next instruction; a P is exclusive to one
 *     running goroutine, so its column is only shared after a move.
 *   - Slots keyed by the goroutine (BRAVO's thread hash): the unlock must
 *     find the slot again, which fails when another goroutine releases the
 *     lock (legal in Go and here).
 *   - Per-lock reader arrays: gort_rwmutex must be a few words that work
 *     when zeroed, and has no destroy call to free them.
 *   - Counters in the slots instead of addresses: a count released on
 *     another column than it was taken on never returns to zero, so a slot
 *     could never be given back to another lock.
 *   - The read path inline in gort.h (as the count's is): it needs the
 *     M's column and the table, which would become ABI, and a TLS
 *     variable exported from libgort.so is what broke errno (threadstate.c).
 */
#include "runtime.h"

#include <sched.h>

enum { NCOL = 64, NBUCKET = 256 };

static struct {
    _Atomic(gort_rwmutex *) slot[NBUCKET];
} __attribute__((aligned(GORT_CACHELINE))) cols[NCOL];

/* Columns ever used (a high-water mark): revoke and release scan only
 * these.  Raised (seq_cst) by gort__rwbias_setp before this thread's
 * first claim in a column, so a writer whose scan follows a claim in the
 * seq_cst order also sees the column.  Never lowered: after
 * gort_maxprocs(n) shrinks the Ps, slots in the columns of the Ps gone
 * may still hold read locks. */
static _Atomic int32_t ncols;

/* The calling thread's column + 1; 0 on threads that are not Ms.  Set when
 * the M takes a P: one TLS load on the read path instead of the chain
 * M -> P -> id.  Stale while the M has no P (a system call), which only
 * makes two Ms share a column for a while: every slot write is a CAS. */
__thread int32_t gort__rwcol_tls __attribute__((tls_model("initial-exec"), visibility("hidden")));

static inline uint32_t bucket(const gort_rwmutex *rw)
{
    return (uint32_t)(((uint64_t)(uintptr_t)rw >> 3) * 0x9E3779B97F4A7C15ull >> 56);
}

void gort__rwbias_setp(int32_t pid)
{
    if (pid < 0) {
        gort__rwcol_tls = 0; /* no longer an M */
        return;
    }
    int32_t c = pid % NCOL, n = atomic_load(&ncols);
    while (n <= c && !atomic_compare_exchange_weak(&ncols, &n, c + 1))
        ;
    gort__rwcol_tls = c + 1;
}

static inline bool claim(gort_rwmutex *rw)
{
    int32_t c = gort__rwcol_tls - 1;
    if (c < 0)
        return false;
    _Atomic(gort_rwmutex *) *s = &cols[c].slot[bucket(rw)];
    gort_rwmutex *old = NULL;
    if (atomic_load_explicit(s, memory_order_relaxed) != NULL ||
        !atomic_compare_exchange_strong(s, &old, rw))
        return false; /* another lock (or another read of this one) has it */
    if (__atomic_load_n(&rw->bias, __ATOMIC_SEQ_CST) == 0)
        return true;
    old = rw;
    if (atomic_compare_exchange_strong(s, &old, NULL))
        return false; /* backed out: a writer is revoking or has revoked */
    return true;      /* the claim was spent or converted: we hold its unit */
}

static inline bool take(_Atomic(gort_rwmutex *) *s, gort_rwmutex *rw)
{
    gort_rwmutex *old = rw;
    /* seq_cst, not only acquire: in revoke this load is the second half
     * of the writer's side of the Dekker pair with claim() (an acquire
     * load is outside the seq_cst order and could miss a claim whose
     * claimer saw the bias still on).  Acquire is also what a writer that
     * finds a slot already given back needs to see what its reader read.
     * A plain load on x86-64 either way. */
    return atomic_load_explicit(s, memory_order_seq_cst) == rw &&
           atomic_compare_exchange_strong(s, &old, NULL);
}

/* Give back a slot holding rw: this thread's column first (its own
 * line), then the others in use. */
static inline bool release(gort_rwmutex *rw)
{
    uint32_t b = bucket(rw);
    int32_t c0 = gort__rwcol_tls - 1;
    if (c0 >= 0 && take(&cols[c0].slot[b], rw))
        return true;
    int32_t n = atomic_load(&ncols);
    for (int32_t c = 0; c < n; c++)
        if (c != c0 && take(&cols[c].slot[b], rw))
            return true;
    return false;
}

bool gort__rwbias_claim(gort_rwmutex *rw)
{
    return claim(rw);
}

void gort_rwmutex_rlock_bias_(gort_rwmutex *rw)
{
    if (!claim(rw) && __atomic_add_fetch(&rw->readers, 1, __ATOMIC_ACQ_REL) < 0)
        gort_rwmutex_rlock_slow_(rw);
}

/* Give back one unit of the count, never its last (0, or -MAX while a
 * writer is pending: the count then holds no read lock to give back). */
static bool count_release(gort_rwmutex *rw)
{
    int32_t c = __atomic_load_n(&rw->readers, __ATOMIC_RELAXED);
    while (c != 0 && c != -GORT_RW_MAX_READERS) {
        if (__atomic_compare_exchange_n(&rw->readers, &c, c - 1, true, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            if (c - 1 < 0)
                gort_rwmutex_runlock_slow_(rw, c - 1); /* a pending writer counted us */
            return true;
        }
    }
    return false;
}

/* A runlock that found its unit neither in a slot nor in the count: the
 * unit is on its way (a revoking writer between its two steps, or a slot
 * that moved under the scan), or there is none (misuse).  Decide for
 * sure under the writers' mutex: with the bias revoked and no writer able
 * to start, the count holds every read lock.  If a writer holds the
 * mutex, its own revocation is putting every unit in the count: false,
 * look again.  Never waits for the mutex: that writer may be waiting for
 * this very read lock. */
static bool settle(gort_rwmutex *rw)
{
    if (!gort_mutex_trylock(&rw->w)) {
        /* In a child of fork() the writer may have stayed in the parent
         * in the middle of its revocation. */
        if (gort__in_forked_child())
            gort__forked_fatal("sync.RWMutex.RUnlock while the parent held the writers' mutex");
        return false;
    }
    if (__atomic_load_n(&rw->bias, __ATOMIC_RELAXED) == 0)
        gort__rwbias_revoke(rw);
    bool ok = count_release(rw);
    gort__rwbias_restore(rw);
    gort_mutex_unlock(&rw->w);
    if (!ok)
        gort__throw("sync: RUnlock of unlocked RWMutex");
    return true;
}

/* Release a read lock while the bias is on or being revoked: a slot
 * holding rw if there is one, else a unit of the count, else settle().
 * Once a revocation has completed (bias exactly NOBIAS), the count holds
 * every read lock: release there as the inline path does, which also
 * makes a runlock while a writer holds the lock the misuse error at once
 * instead of a wait (at 1 P, one that would never end: library code is
 * not preempted, so the writer would not run again). */
void gort_rwmutex_runlock_bias_(gort_rwmutex *rw)
{
    for (int tries = 0;; tries++) {
        if (__atomic_load_n(&rw->bias, __ATOMIC_ACQUIRE) == GORT_RW_NOBIAS_) {
            int32_t r = __atomic_sub_fetch(&rw->readers, 1, __ATOMIC_ACQ_REL);
            if (r < 0)
                gort_rwmutex_runlock_slow_(rw, r);
            return;
        }
        if (release(rw) || count_release(rw) || settle(rw))
            return;
        if (tries >= 10)
            sched_yield(); /* a writer is revoking or holds the lock */
    }
}

void gort__rwbias_revoke(gort_rwmutex *rw)
{
    __atomic_exchange_n(&rw->bias, GORT_RW_NOBIAS_ | GORT_RW_REVOKING_, __ATOMIC_SEQ_CST);
    uint32_t b = bucket(rw);
    int32_t n = atomic_load(&ncols);
    for (int32_t c = 0; c < n; c++)
        if (take(&cols[c].slot[b], rw))
            __atomic_add_fetch(&rw->readers, 1, __ATOMIC_ACQ_REL);
    __atomic_store_n(&rw->bias, GORT_RW_NOBIAS_, __ATOMIC_RELEASE);
}

void gort__rwbias_restore(gort_rwmutex *rw)
{
    /* With one P there is no second core for the count's line to move to,
     * and the count's inline path is the cheaper one. */
    if (__atomic_load_n(&sched.gomaxprocs, __ATOMIC_RELAXED) > 1)
        __atomic_store_n(&rw->bias, 0, __ATOMIC_RELEASE);
}
