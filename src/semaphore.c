/*
 * semaphore.c — gort_semaphore, a weighted semaphore with the semantics of
 * golang.org/x/sync/semaphore (Weighted: Acquire, TryAcquire, Release), with
 * a deadline or a context (gort_ctx).  Not sema.c: that is the runtime's
 * unit semaphore (Go's runtime/sema.go) under the mutexes; this is the
 * user-level counting pool that x/sync builds from a mutex and a list.
 *
 * Data and ownership.
 *   size      fixed at init.
 *   cur       units held; guarded by `lock`.
 *   lock      the public uint32_t used in place as a runtime futex lock
 *             (gort__mutex), as gort_cond does: works on goroutines and on
 *             plain threads, and makes the holder non-preemptible for the
 *             few instructions it is held.
 *   head/tail a doubly linked FIFO of waiters, guarded by `lock`.  A waiter
 *             lives on the waiting goroutine's (or thread's) stack for the
 *             whole wait.
 *
 * Waiter life.  A waiter is QUEUED from the moment it is linked until
 * exactly one of two parties, each holding `lock`, moves it on: a release
 * (grant: the units are added to cur on its behalf, it is unlinked, state
 * GRANTED) or its deadline timer (unlinked, state TIMEDOUT).  The party that
 * did so readies the G after dropping the lock; the other finds the state
 * already changed and leaves the waiter alone.  Because both decide under
 * `lock`, no separate CAS (select's selectdone) is needed.  The timer is
 * the G's embedded one, armed from the park callback on g0 while `lock` is
 * still held (lock order: semaphore lock -> timerslock, like a channel's),
 * so no release can ready the G before its timer is armed; the woken G
 * disarms it with gort__deltimer, which waits out a callback still
 * running, so a callback never touches a waiter whose frame is gone.
 *
 * Fairness (x/sync's rule): a request is served at once only if it fits
 * and nobody is queued; release grants from the head while the head fits
 * and stops at the first that does not, even if a later, smaller request
 * would fit — otherwise a stream of small requests could starve a large
 * one.  A timed-out head unblocks the ones behind it (grant again).
 *
 * A request for more than `size` can never be served.  x/sync does not
 * queue it (it would block everybody behind it) but waits for its context;
 * we do the same with the deadline (a plain sleep), and without a deadline
 * it is a fatal error rather than a silent hang.
 *
 * A context is a third party of the same kind: its after-func
 * (cancel_waiter, below) takes `lock` and, if the waiter is still QUEUED,
 * unlinks it, marks it CANCELED, grants if it was the head and readies the
 * G (see docs/DESIGN.md "RWMutex and the weighted semaphore").
 *
 * Alternatives rejected.
 *   - x/sync's own structure, a mutex plus one channel per waiter closed
 *     on grant: a heap allocation per wait and a select to park, where a
 *     stack-resident waiter and one park do.
 *   - A lock-free fast path on an atomic `cur`: it must also know "no one
 *     is queued" in the same atomic step (fairness), so the whole state
 *     would have to fit in one word; the lock is uncontended in the common
 *     case and costs about the same as that CAS.
 *   - sema.c's address-keyed queues: they hand out one unit at a time and
 *     do not know a waiter's weight.
 */
#include "runtime.h"

#include <errno.h>

enum { W_QUEUED = 1, W_GRANTED, W_TIMEDOUT, W_INIT, W_CANCELED };

typedef struct semwaiter {
    struct semwaiter *next, *prev; /* queue links; guarded by s->lock */
    gort_semaphore *s;
    G *g;
    int64_t n;
    int64_t deadline; /* < 0: none */
    uint32_t state;   /* W_*; changed under s->lock */
    gort_waitgroup fn_done; /* ctx: done by cancel_waiter at its last touch */
} semwaiter;

_Static_assert(sizeof(gort__mutex) == sizeof(((gort_semaphore *)0)->lock),
               "gort_semaphore.lock must be able to hold a gort__mutex");

static inline gort__mutex *sem_lock(gort_semaphore *s)
{
    return (gort__mutex *)(void *)&s->lock;
}

/* Queue w last (lock held): FIFO, no overtaking. */
static void enqueue(gort_semaphore *s, semwaiter *w)
{
    w->prev = s->tail;
    if (s->tail)
        ((semwaiter *)s->tail)->next = w;
    else
        s->head = w;
    s->tail = w;
}

static void unlink_waiter(gort_semaphore *s, semwaiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        s->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        s->tail = w->prev;
    w->next = w->prev = NULL;
}

/* Grant units to the head waiters that fit, in order; return them as a
 * list through `next` for ready_all.  Caller holds s->lock. */
static semwaiter *grant(gort_semaphore *s)
{
    semwaiter *ready = NULL, *last = NULL;
    for (;;) {
        semwaiter *w = s->head;
        if (!w || s->size - s->cur < w->n)
            break; /* stop at the first that does not fit: no overtaking */
        s->cur += w->n;
        unlink_waiter(s, w);
        w->state = W_GRANTED;
        if (last)
            last->next = w;
        else
            ready = w;
        last = w;
    }
    return ready;
}

/* Ready the granted waiters, with no lock held. */
static void ready_all(semwaiter *w)
{
    while (w) {
        semwaiter *next = w->next; /* read before its owner can run */
        G *g = w->g;
        gort__goready(g, true);
        w = next;
    }
}

static void sem_timeout(void *arg, uint64_t seq)
{
    (void)seq;
    semwaiter *w = arg; /* valid: the G disarms us (deltimer) before leaving */
    gort_semaphore *s = w->s;
    gort__lock(sem_lock(s));
    if (w->state != W_QUEUED) {
        gort__unlock(sem_lock(s)); /* granted first: it keeps the units */
        return;
    }
    bool was_head = s->head == w;
    unlink_waiter(s, w);
    w->state = W_TIMEDOUT;
    G *g = w->g;
    /* The head leaving may let the ones behind it fit. */
    semwaiter *ready = was_head ? grant(s) : NULL;
    gort__unlock(sem_lock(s));
    gort__goready(g, false);
    ready_all(ready);
}

/* Park callback, on g0 (or the thread itself) once the G is saved. */
static bool sem_park(G *g, void *arg)
{
    semwaiter *w = arg;
    gort_semaphore *s = w->s; /* read before the unlock: w may go after it */
    if (w->deadline >= 0)
        gort__armtimer(&g->timer, w->deadline, sem_timeout, w, ++g->timerseq);
    gort__unlock(sem_lock(s));
    return true;
}

static GORT_NOINLINE_COLD void bad_weight(int64_t n)
{
    gort__throw("semaphore: negative weight %lld", (long long)n);
}

void gort_semaphore_init(gort_semaphore *s, int64_t size)
{
    if (size < 0)
        gort__throw("semaphore: negative size %lld", (long long)size);
    *s = (gort_semaphore){.size = size};
}

bool gort_semaphore_tryacquire(gort_semaphore *s, int64_t n)
{
    if (unlikely(n < 0))
        bad_weight(n);
    gort__lock(sem_lock(s));
    bool ok = s->size - s->cur >= n && s->head == NULL;
    if (ok)
        s->cur += n;
    gort__unlock(sem_lock(s));
    return ok;
}

static int acquire(gort_semaphore *s, int64_t n, int64_t deadline)
{
    if (unlikely(n < 0))
        bad_weight(n);
    /* As x/sync with a context already done: a deadline already past
     * fails even if the units are free. */
    if (deadline >= 0 && gort__nanotime() >= deadline)
        return ETIMEDOUT;
    gort__lock(sem_lock(s));
    if (s->size - s->cur >= n && s->head == NULL) {
        s->cur += n;
        gort__unlock(sem_lock(s));
        return 0;
    }
    if (n > s->size) {
        int64_t size = s->size;
        gort__unlock(sem_lock(s));
        if (deadline < 0)
            gort__throw("semaphore: acquire of %lld units can never succeed (size %lld)",
                        (long long)n, (long long)size);
        /* Never queued (it would hold back everyone behind it): just wait
         * for the deadline. */
        for (int64_t now = gort__nanotime(); now < deadline; now = gort__nanotime())
            gort_sleep(deadline - now);
        return ETIMEDOUT;
    }
    G *gp = gort__getg();
    if (unlikely(gp == NULL)) {
        gort__unlock(sem_lock(s));
        gort__throw("semaphore: cannot allocate a waiter for this thread");
    }
    semwaiter w = {.s = s, .g = gp, .n = n, .deadline = deadline, .state = W_QUEUED};
    enqueue(s, &w);
    gort__gopark(sem_park, &w, "semaphore.Acquire");
    if (deadline >= 0)
        gort__deltimer(&gp->timer);
    /* The state was set under the lock before we were readied. */
    uint32_t st = __atomic_load_n(&w.state, __ATOMIC_ACQUIRE);
    if (st == W_GRANTED)
        return 0;
    if (st != W_TIMEDOUT)
        gort__throw("semaphore: waiter woken in state %u", st);
    return ETIMEDOUT;
}

void gort_semaphore_acquire(gort_semaphore *s, int64_t n)
{
    (void)acquire(s, n, -1);
}

int gort_semaphore_acquire_until(gort_semaphore *s, int64_t n, int64_t deadline)
{
    return acquire(s, n, deadline < 0 ? -1 : deadline);
}

void gort_semaphore_release(gort_semaphore *s, int64_t n)
{
    if (unlikely(n < 0))
        bad_weight(n);
    gort__lock(sem_lock(s));
    if (unlikely(s->cur < n)) {
        int64_t cur = s->cur;
        gort__unlock(sem_lock(s));
        gort__throw("semaphore: released more than held (%lld of %lld)", (long long)n,
                    (long long)cur);
    }
    s->cur -= n;
    semwaiter *ready = grant(s);
    gort__unlock(sem_lock(s));
    ready_all(ready);
}

/* ---------------------------------------------------------------------
 * Acquire with a context: the context's after-func is the third party
 * that can end a wait (see the file comment).  It runs in its own
 * goroutine, so it may come before the waiter is queued (INIT: it only
 * marks it, and the waiter does not park) or after it was granted (it
 * does nothing); the waiter does not leave before it is done with it.
 * ------------------------------------------------------------------- */

static void cancel_waiter(void *arg)
{
    semwaiter *w = arg;
    gort_semaphore *s = w->s;
    G *g = NULL;
    semwaiter *ready = NULL;
    gort__lock(sem_lock(s));
    if (w->state == W_INIT) {
        w->state = W_CANCELED; /* not parked yet: it will see this */
    } else if (w->state == W_QUEUED) {
        bool was_head = s->head == w;
        unlink_waiter(s, w);
        w->state = W_CANCELED;
        g = w->g;
        ready = was_head ? grant(s) : NULL;
    }
    gort__unlock(sem_lock(s));
    if (g)
        gort__goready(g, false);
    ready_all(ready);
    gort_wg_done(&w->fn_done); /* the last touch of w */
}

int gort_semaphore_acquire_ctx(gort_semaphore *s, int64_t n, gort_ctx *ctx)
{
    if (unlikely(n < 0))
        bad_weight(n);
    int err = gort_ctx_err(ctx);
    if (err)
        return err;
    gort_chan *done = gort_ctx_done(ctx);
    if (!done)
        return acquire(s, n, -1); /* background: never cancelled */
    gort__lock(sem_lock(s));
    if (s->size - s->cur >= n && s->head == NULL) {
        s->cur += n;
        gort__unlock(sem_lock(s));
        return 0;
    }
    bool too_big = n > s->size;
    gort__unlock(sem_lock(s));
    if (too_big) {
        gort_chan_recv(done, NULL); /* never served: wait for the cancel */
        return gort_ctx_err(ctx);
    }

    G *gp = gort__getg();
    if (unlikely(gp == NULL))
        gort__throw("semaphore: cannot allocate a waiter for this thread");
    semwaiter w = {.s = s, .g = gp, .n = n, .deadline = -1, .state = W_INIT};
    gort_wg_add(&w.fn_done, 1);
    gort_ctx *h = gort_ctx_after_func(ctx, cancel_waiter, &w);
    if (!h)
        gort__throw("semaphore: out of memory");
    gort__lock(sem_lock(s));
    if (w.state == W_INIT) {
        if (s->size - s->cur >= n && s->head == NULL) {
            s->cur += n; /* freed meanwhile */
            w.state = W_GRANTED;
            gort__unlock(sem_lock(s));
        } else {
            w.state = W_QUEUED;
            enqueue(s, &w);
            gort__gopark(sem_park, &w, "semaphore.Acquire");
        }
    } else {
        gort__unlock(sem_lock(s)); /* cancelled before we queued */
    }
    if (!gort_ctx_after_func_stop(h))
        gort_wg_wait(&w.fn_done); /* cancel_waiter started: let it finish */
    gort_ctx_release(h);
    uint32_t st = __atomic_load_n(&w.state, __ATOMIC_ACQUIRE);
    if (st == W_GRANTED) {
        /* As x/sync: granted, but the context is done by now: give the
         * units back and report the cancellation. */
        err = gort_ctx_err(ctx);
        if (err)
            gort_semaphore_release(s, n);
        return err;
    }
    if (st != W_CANCELED)
        gort__throw("semaphore: waiter woken in state %u", st);
    err = gort_ctx_err(ctx);
    return err ? err : ECANCELED;
}
