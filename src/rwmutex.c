/*
 * rwmutex.c — gort_rwmutex, Go's sync.RWMutex (sync/rwmutex.go): a
 * writer-preferring reader/writer lock built from a gort_mutex and two of
 * sema.c's address-keyed semaphores, so that, like every gort sync type, it
 * parks goroutines and blocks plain threads with the same code.
 *
 * State (all in the public struct, accessed with __atomic operations).
 *   readers      readers holding or waiting for the read lock.  A writer
 *                subtracts MAX_READERS (1 << 30) from it when it arrives,
 *                so "negative" means "a writer is pending or active" and
 *                readers + MAX_READERS is still the reader count.
 *   departing    while a writer is pending: the readers that held the lock
 *                when it arrived and have not yet released it.  The one
 *                that takes it to 0 releases writer_sema.
 *   w            serialises writers: held from the start of lock() to the
 *                end of unlock(), so at most one writer ever touches the
 *                two counters' writer side.  Taken without the mutex's
 *                active spin: its holder keeps it while it waits for
 *                readers, a park (sync.c gort__mutex_lock_nospin).
 *   reader_sema  readers that arrived while the count was negative wait
 *                here; unlock() releases one unit per such reader, all in
 *                one trip through the semaphore's root lock.
 *   writer_sema  the pending writer waits here for `departing` to drain.
 *   bias         0 while readers may hold the lock in per-P slots instead
 *                of `readers` (rwmutex_bias.c); GORT_RW_NOBIAS_ from a
 *                writer's revocation (which moves every slot holding the
 *                lock into `readers`, with GORT_RW_REVOKING_ set while it
 *                does) to its unlock.  Written only by the holder of w.
 *
 * Protocol (Go's, on `readers`; with the bias on, readers skip it and a
 * writer first revokes the bias, so Go's protocol then sees every reader).
 *   rlock:   readers += 1; a result < 0 means a writer is there: wait on
 *            reader_sema (the writer's unlock will have counted us in).
 *   runlock: readers -= 1; a result < 0 means a writer is pending: we are
 *            one of the readers it waits for, so departing -= 1, and the
 *            last one wakes the writer.
 *   lock:    take w (excludes other writers); readers -= MAX_READERS, which
 *            returns how many readers hold the lock now (r); if r != 0 add
 *            r to departing and, unless those readers already left (the
 *            sum came back to 0), wait on writer_sema.  From the subtraction
 *            on, every new reader sees a negative count and waits: this is
 *            the writer preference, and why a stream of readers cannot
 *            starve a writer.
 *   unlock:  readers += MAX_READERS returns the readers that queued meanwhile
 *            (r); release r units of reader_sema, then release w.  Readers get
 *            in before the next writer can subtract again, so writers
 *            cannot starve readers either.
 *   `departing` may go negative for a moment (a reader decrements it before
 *   the writer has added r); the add that brings it back to exactly 0 is
 *   the one that knows everybody has left.
 *
 * The read side's fast paths (the bias test and the two adds) exist
 * twice: here, and inline in gort.h (gnu_inline), where they are compiled
 * into the program and call gort_rwmutex_rlock_bias_ / runlock_bias_
 * (rwmutex_bias.c) or gort_rwmutex_rlock_slow_ / runlock_slow_; change
 * both together.  Why inline: docs/DESIGN.md "RWMutex and the weighted
 * semaphore" (the contended line, not the call's cost).
 *
 * Misuse (Go's fatal errors, with a traceback here): runlock that finds
 * readers == -1 (nobody held it) or -MAX_READERS (a writer holds it, no
 * reader), or, with the bias on, neither a slot nor a count unit to give
 * back (rwmutex_bias.c); unlock that finds readers >= 0 after adding back
 * (no writer held it).  A runlock of a read lock that another reader holds cannot be told
 * from a legal one, as in Go.
 *
 * Memory order: every read-modify-write is acq_rel (x86 makes them full
 * barriers anyway); the ordering a reader needs after a writer is given by
 * the counter RMWs themselves or, on the slow path, by the semaphore (whose
 * operations are seq_cst).
 *
 * Alternatives rejected.
 *   - pthread_rwlock: blocks the M instead of parking the goroutine, and
 *     glibc's default prefers readers (writers starve).
 *   - One state word with a reader count and writer bits, readers woken by
 *     a broadcast: every unlock would wake every waiter to race for the
 *     word; Go's counted reader_sema release wakes exactly the readers that
 *     were counted, and each gets in without another CAS.
 *   - Per-P reader counters in the lock (a "big reader" lock): the struct
 *     would need storage per P, so it could no longer be a few integers
 *     ready when zeroed.  The bias gets the same effect from one table
 *     shared by every lock (rwmutex_bias.c).
 */
#include "runtime.h"

#define MAX_READERS GORT_RW_MAX_READERS

static inline int32_t add_readers(gort_rwmutex *rw, int32_t d)
{
    return __atomic_add_fetch(&rw->readers, d, __ATOMIC_ACQ_REL);
}

/* The read side's fast paths are also inlined into programs by gort.h;
 * these are the out-of-line copies and the slow paths the inline ones
 * call. */
/* Wait on one of the two semaphores: park at once, as Go does.  A spin
 * first was measured both ways (read-mostly benchmark, 8 goroutines on 2
 * Ps, interleaved with Go on a quiet machine).  On an Intel Xeon host it
 * helped: 39-47 ns/op with the mutex's 4 rounds against 43-60 parking at
 * once (Go 29-43).  On this AMD EPYC host it hurts: 21-26 ns/op with 4
 * rounds, 17-20 with 1, 14-16 parking at once, Go 14-16 in the same
 * minutes; parking at once costs 2-3x the switches and 10x the steals and
 * still wins, because a P whose readers park goes idle and leaves the
 * lock's line to one core, where a spinner keeps both cores fighting over
 * it.  Go's behaviour is the one the target is set against, so it is
 * ours; docs/DESIGN.md "RWMutex and the weighted semaphore". */
static void sema_wait(uint32_t *sema, const char *reason)
{
    gort__semacquire(sema, false, reason);
}

void gort_rwmutex_rlock_slow_(gort_rwmutex *rw)
{
    /* A writer is pending or active; its unlock counts us and releases
     * the semaphore for us (possibly before we get there). */
    sema_wait(&rw->reader_sema, "sync.RWMutex.RLock");
}

void gort_rwmutex_rlock(gort_rwmutex *rw)
{
    if (__atomic_load_n(&rw->bias, __ATOMIC_RELAXED) == 0)
        gort_rwmutex_rlock_bias_(rw);
    else if (unlikely(add_readers(rw, 1) < 0))
        gort_rwmutex_rlock_slow_(rw);
}

bool gort_rwmutex_tryrlock(gort_rwmutex *rw)
{
    if (__atomic_load_n(&rw->bias, __ATOMIC_RELAXED) == 0 && gort__rwbias_claim(rw))
        return true;
    int32_t c = __atomic_load_n(&rw->readers, __ATOMIC_RELAXED);
    for (;;) {
        if (c < 0)
            return false; /* a writer is pending or active */
        if (__atomic_compare_exchange_n(&rw->readers, &c, c + 1, true, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            return true;
    }
}

GORT_NOINLINE_COLD void gort_rwmutex_runlock_slow_(gort_rwmutex *rw, int32_t r)
{
    if (r + 1 == 0 || r + 1 == -MAX_READERS)
        gort__throw("sync: RUnlock of unlocked RWMutex");
    /* A writer is pending and counted us among the readers to wait for. */
    if (__atomic_sub_fetch(&rw->departing, 1, __ATOMIC_ACQ_REL) == 0)
        gort__semrelease(&rw->writer_sema, false);
}

void gort_rwmutex_runlock(gort_rwmutex *rw)
{
    if (__atomic_load_n(&rw->bias, __ATOMIC_ACQUIRE) != GORT_RW_NOBIAS_) {
        gort_rwmutex_runlock_bias_(rw);
        return;
    }
    int32_t r = add_readers(rw, -1);
    if (unlikely(r < 0))
        gort_rwmutex_runlock_slow_(rw, r);
}

void gort_rwmutex_lock(gort_rwmutex *rw)
{
    gort__mutex_lock_nospin(&rw->w); /* held across a park: sync.c */
    if (__atomic_load_n(&rw->bias, __ATOMIC_RELAXED) == 0)
        gort__rwbias_revoke(rw); /* every read lock is in `readers` now */
    /* Announce the writer: from here on new readers wait. */
    int32_t r = add_readers(rw, -MAX_READERS) + MAX_READERS;
    if (r != 0 && __atomic_add_fetch(&rw->departing, r, __ATOMIC_ACQ_REL) != 0)
        sema_wait(&rw->writer_sema, "sync.RWMutex.Lock");
}

bool gort_rwmutex_trylock(gort_rwmutex *rw)
{
    if (!gort_mutex_trylock(&rw->w))
        return false;
    if (__atomic_load_n(&rw->bias, __ATOMIC_RELAXED) == 0)
        gort__rwbias_revoke(rw);
    int32_t zero = 0;
    if (!__atomic_compare_exchange_n(&rw->readers, &zero, -MAX_READERS, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        gort__rwbias_restore(rw);
        gort_mutex_unlock(&rw->w);
        return false; /* readers hold it */
    }
    return true;
}

void gort_rwmutex_unlock(gort_rwmutex *rw)
{
    /* Let readers in again; r counts those that arrived meanwhile. */
    int32_t r = add_readers(rw, MAX_READERS);
    /* Unsigned: a negative r (impossible through the API: the runlock
     * that could cause it throws) must not become a huge release. */
    if (unlikely((uint32_t)r >= MAX_READERS))
        gort__throw("sync: Unlock of unlocked RWMutex");
    gort__semrelease_n(&rw->reader_sema, (uint32_t)r);
    /* Before w goes: the next writer's revocation must see it. */
    gort__rwbias_restore(rw);
    gort_mutex_unlock(&rw->w);
}
