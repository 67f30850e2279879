/*
 * interpose_lock.c — pthread mutexes, rwlocks and spinlocks (and C11's
 * mtx_t), wrapped so that a goroutine holding one stays where the lock's
 * owner is: on its thread, not preempted.
 *
 * Why.  A pthread lock belongs to the thread that took it (glibc records
 * the owner's tid; ERRORCHECK and RECURSIVE mutexes test it).  A goroutine
 * preempted or parked while holding one would let another goroutine run
 * on that thread and see the lock as its own (EDEADLK, a second recursive
 * acquisition, an unlock that succeeds for the wrong goroutine), or move
 * to another thread and unlock a lock its new thread does not own (EPERM);
 * with a default mutex, a goroutine spinning or waiting for the lock on
 * the holder's P waits for ever.
 *
 * What.  Every successful acquisition by a goroutine counts in g->plocks
 * (a mutex lock, trylock, timedlock or clocklock, EOWNERDEAD of a robust
 * mutex included since the lock is then held; rwlock read and write
 * locks, tries and timed ones; spinlock lock and trylock; mtx_lock,
 * mtx_trylock, mtx_timedlock; a stdio stream's lock taken with flockfile
 * or ftrylockfile, recursive and owned by the thread like a RECURSIVE
 * mutex), every successful unlock uncounts it, and a
 * failed call changes nothing.  pthread_cond_wait & co. leave it as it
 * is: they give the mutex up and take it back inside libc, on the same
 * thread, and return holding it.  While g->plocks > 0 the goroutine is
 * locked to its thread (lockosthread.c's mechanism, shared with
 * gort_lock_thread: a gort call that parks brings it back to the same
 * thread, which runs nothing else meanwhile), and neither asynchronous
 * preemption (GORT_PR_PTHREADLOCK, named by the stuck report) nor a
 * pending request at a gort call stops it.  A contended lock is waited
 * for inside the system-call bracket (trylock first, so an uncontended
 * one costs no bracket): the P goes on to other goroutines meanwhile,
 * and the count is taken before the bracket ends, so exitsyscall's slow
 * path already sees the goroutine locked and keeps it on this thread.
 *
 * Cases.
 *  - Unlocked by a goroutine that did not lock it (a default mutex used
 *    as a binary semaphore: undefined for POSIX, tolerated by glibc): the
 *    unlocker's count does not go below 0, and the locker stays counted,
 *    so it stays on its thread and is not preempted asynchronously until
 *    it exits (the count dies with the goroutine; its thread goes back to
 *    the pool).  Use sem_t or gort's own types for semaphores.
 *  - Plain threads (not goroutines): nothing counted, nothing changes;
 *    a goroutine contending with one waits inside the bracket.
 *  - The runtime's own calls: counted like any goroutine code's when made
 *    on a goroutine (they are balanced); on g0, curg is NULL: not counted.
 *  - Signal handlers: a lock taken and released in a handler nets zero.
 *  - Locks libc takes internally (stdio's, malloc's, the loader's) do not
 *    go through these symbols and are not counted: libc is never
 *    preempted asynchronously, and does not park in gort.
 *  - libgort.a: interpose_linux.c's constructor calls
 *    gort__interpose_lock_init, so linking that file pulls these wrappers
 *    in; gort-static.pc exports them so shared libraries bind to them.
 *    A library loaded with RTLD_DEEPBIND, or one calling glibc's
 *    __pthread_mutex_lock aliases, bypasses them (not covered).
 *
 * Cost: one indirect call into libc and a few loads and stores of the
 * running goroutine's fields per lock and per unlock (bench/pthread_lock).
 *
 * Rejected: reading the owner from the mutex (glibc's private layout,
 * and no owner at all for rwlocks and spinlocks); pinning the goroutine
 * only when it is about to park (asynchronous preemption does not ask
 * first); refusing to park while a lock is held (waiting on a channel
 * under a mutex is legitimate C, only slow).
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "interpose.h"

#include <pthread.h>
#include <stdio.h>
#include <threads.h>
#include <time.h>

/* ret, name, (parameters), (arguments) */
#define LOCKS(X)                                                                                \
    X(int, pthread_mutex_lock, (pthread_mutex_t *m), (m))                                       \
    X(int, pthread_mutex_trylock, (pthread_mutex_t *m), (m))                                    \
    X(int, pthread_mutex_timedlock, (pthread_mutex_t *m, const struct timespec *t), (m, t))     \
    X(int, pthread_mutex_clocklock, (pthread_mutex_t *m, clockid_t k, const struct timespec *t), \
      (m, k, t))                                                                                \
    X(int, pthread_mutex_unlock, (pthread_mutex_t *m), (m))                                     \
    X(int, pthread_rwlock_rdlock, (pthread_rwlock_t *l), (l))                                   \
    X(int, pthread_rwlock_tryrdlock, (pthread_rwlock_t *l), (l))                                \
    X(int, pthread_rwlock_timedrdlock, (pthread_rwlock_t *l, const struct timespec *t), (l, t)) \
    X(int, pthread_rwlock_clockrdlock,                                                          \
      (pthread_rwlock_t *l, clockid_t k, const struct timespec *t), (l, k, t))                  \
    X(int, pthread_rwlock_wrlock, (pthread_rwlock_t *l), (l))                                   \
    X(int, pthread_rwlock_trywrlock, (pthread_rwlock_t *l), (l))                                \
    X(int, pthread_rwlock_timedwrlock, (pthread_rwlock_t *l, const struct timespec *t), (l, t)) \
    X(int, pthread_rwlock_clockwrlock,                                                          \
      (pthread_rwlock_t *l, clockid_t k, const struct timespec *t), (l, k, t))                  \
    X(int, pthread_rwlock_unlock, (pthread_rwlock_t *l), (l))                                   \
    X(int, pthread_spin_lock, (pthread_spinlock_t *l), (l))                                     \
    X(int, pthread_spin_trylock, (pthread_spinlock_t *l), (l))                                  \
    X(int, pthread_spin_unlock, (pthread_spinlock_t *l), (l))                                   \
    X(int, mtx_lock, (mtx_t *m), (m))                                                           \
    X(int, mtx_trylock, (mtx_t *m), (m))                                                        \
    X(int, mtx_timedlock, (mtx_t *m, const struct timespec *t), (m, t))                         \
    X(int, mtx_unlock, (mtx_t *m), (m))                                                         \
    X(void, flockfile, (FILE *f), (f))                                                          \
    X(int, ftrylockfile, (FILE *f), (f))                                                        \
    X(void, funlockfile, (FILE *f), (f))

#define DECLARE_LOCK(ret, name, params, args) DECLARE(ret, name, false, params, args)
LOCKS(DECLARE_LOCK)

void gort__interpose_lock_init(void)
{
#define RESOLVE(ret, name, params, args) (void)REAL(name);
    LOCKS(RESOLVE)
#undef RESOLVE
}

/* The calling goroutine took / gave up one lock.  Runtime code: never
 * preempted in here, so the count and the lock agree at every safe point. */
static inline void took(void)
{
    M *m = gort__m_tls;
    if (m && !gort__in_vfork_child()) { /* a vfork child's locks are its own */
        G *g = m->curg;
        if (g && g->plocks++ == 0)
            gort__lockthread(m, g);
    }
}

static inline void gave(void)
{
    M *m = gort__m_tls;
    if (m && !gort__in_vfork_child()) {
        G *g = m->curg;
        if (g && g->plocks > 0 && --g->plocks == 0)
            gort__unlockthread_maybe(m, g);
    }
}

/* A robust mutex whose owner died is acquired (and must be made
 * consistent by the new owner). */
static inline bool mutex_got(int r) { return r == 0 || r == EOWNERDEAD; }

/* Try first; only a lock that would wait enters the bracket, and the
 * count is taken inside it, before exitsyscall can move anything.
 * `block`: a timed wait surely sleeps (the hand-off at once); a plain
 * lock wait is mostly short (sysmon's retake bound). */
#define LOCK_WRAPPER(name, try, got, busy, block, params, args, trycall)     \
    GORT_API int name params                                                 \
    {                                                                        \
        int r = REAL(try) trycall;                                           \
        if (likely(r != (busy))) {                                           \
            if (got(r))                                                      \
                took();                                                      \
            return r;                                                        \
        }                                                                    \
        name##_fn *f_ = REAL(name);                                          \
        ENTER(block);                                                        \
        r = f_ args;                                                         \
        if (got(r))                                                          \
            took();                                                          \
        LEAVE();                                                             \
        return r;                                                            \
    }

#define TRY_WRAPPER(name, got, params, args) \
    GORT_API int name params                 \
    {                                        \
        int r = REAL(name) args;             \
        if (got(r))                          \
            took();                          \
        return r;                            \
    }

#define UNLOCK_WRAPPER(name, ok, params, args) \
    GORT_API int name params                   \
    {                                          \
        int r = REAL(name) args;               \
        if (r == (ok))                         \
            gave();                            \
        return r;                              \
    }

static inline bool zero(int r) { return r == 0; }
static inline bool thrd_ok(int r) { return r == thrd_success; }

LOCK_WRAPPER(pthread_mutex_lock, pthread_mutex_trylock, mutex_got, EBUSY, false,
             (pthread_mutex_t *m), (m), (m))
LOCK_WRAPPER(pthread_mutex_timedlock, pthread_mutex_trylock, mutex_got, EBUSY, true,
             (pthread_mutex_t *m, const struct timespec *t), (m, t), (m))
LOCK_WRAPPER(pthread_mutex_clocklock, pthread_mutex_trylock, mutex_got, EBUSY, true,
             (pthread_mutex_t *m, clockid_t k, const struct timespec *t), (m, k, t), (m))
TRY_WRAPPER(pthread_mutex_trylock, mutex_got, (pthread_mutex_t *m), (m))
UNLOCK_WRAPPER(pthread_mutex_unlock, 0, (pthread_mutex_t *m), (m))

LOCK_WRAPPER(pthread_rwlock_rdlock, pthread_rwlock_tryrdlock, zero, EBUSY, false,
             (pthread_rwlock_t *l), (l), (l))
LOCK_WRAPPER(pthread_rwlock_timedrdlock, pthread_rwlock_tryrdlock, zero, EBUSY, true,
             (pthread_rwlock_t *l, const struct timespec *t), (l, t), (l))
LOCK_WRAPPER(pthread_rwlock_clockrdlock, pthread_rwlock_tryrdlock, zero, EBUSY, true,
             (pthread_rwlock_t *l, clockid_t k, const struct timespec *t), (l, k, t), (l))
LOCK_WRAPPER(pthread_rwlock_wrlock, pthread_rwlock_trywrlock, zero, EBUSY, false,
             (pthread_rwlock_t *l), (l), (l))
LOCK_WRAPPER(pthread_rwlock_timedwrlock, pthread_rwlock_trywrlock, zero, EBUSY, true,
             (pthread_rwlock_t *l, const struct timespec *t), (l, t), (l))
LOCK_WRAPPER(pthread_rwlock_clockwrlock, pthread_rwlock_trywrlock, zero, EBUSY, true,
             (pthread_rwlock_t *l, clockid_t k, const struct timespec *t), (l, k, t), (l))
TRY_WRAPPER(pthread_rwlock_tryrdlock, zero, (pthread_rwlock_t *l), (l))
TRY_WRAPPER(pthread_rwlock_trywrlock, zero, (pthread_rwlock_t *l), (l))
UNLOCK_WRAPPER(pthread_rwlock_unlock, 0, (pthread_rwlock_t *l), (l))

/* A contended spinlock spins in libc: inside the bracket, so the P moves
 * on after the retake bound instead of spinning beside the holder. */
LOCK_WRAPPER(pthread_spin_lock, pthread_spin_trylock, zero, EBUSY, false,
             (pthread_spinlock_t *l), (l), (l))
TRY_WRAPPER(pthread_spin_trylock, zero, (pthread_spinlock_t *l), (l))
UNLOCK_WRAPPER(pthread_spin_unlock, 0, (pthread_spinlock_t *l), (l))

LOCK_WRAPPER(mtx_lock, mtx_trylock, thrd_ok, thrd_busy, false, (mtx_t *m), (m), (m))
LOCK_WRAPPER(mtx_timedlock, mtx_trylock, thrd_ok, thrd_busy, true,
             (mtx_t *m, const struct timespec *t), (m, t), (m))
TRY_WRAPPER(mtx_trylock, thrd_ok, (mtx_t *m), (m))
UNLOCK_WRAPPER(mtx_unlock, thrd_success, (mtx_t *m), (m))

/* stdio's stream lock, taken explicitly (stdio's own functions take and
 * release it inside libc, unseen: nothing to count there). */
GORT_API void flockfile(FILE *f)
{
    if (REAL(ftrylockfile)(f) != 0) {
        flockfile_fn *f_ = REAL(flockfile);
        ENTER(false);
        f_(f);
        took();
        LEAVE();
        return;
    }
    took();
}

TRY_WRAPPER(ftrylockfile, zero, (FILE *f), (f))

/* funlockfile reports nothing: count it if the goroutine holds any. */
GORT_API void funlockfile(FILE *f)
{
    REAL(funlockfile)(f);
    gave();
}
