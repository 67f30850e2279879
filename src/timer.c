/*
 * timer.c — timer objects for programs (Go's time.Timer, time.Ticker and
 * time.AfterFunc, with Go 1.23's semantics), built on time.c's per-P heap
 * timers (gort__addtimer / gort__deltimer).
 *
 * A gort_timer is one heap timer (rt) plus either a channel of capacity 1
 * (timers and tickers) or a function (after-func).  The heap callback
 * sends the firing time with a non-blocking send, so a ticker whose
 * receiver is slow drops ticks (the buffer is full) instead of queueing
 * them, as Go's does.
 *
 * No stale value after Stop or Reset (Go 1.23): both run under t->lock, and
 * do, in this order, (1) gort__deltimer, which removes the heap timer or,
 * if its callback is running, waits until it has returned — so no send of
 * the old arming can happen after it — then (2) a non-blocking receive
 * that drains a value the old arming already sent.  After that nothing of
 * the old arming can be received.  As in Go 1.23 a drained value counts as
 * "not yet fired" for Stop's and Reset's result (the channel behaves as an
 * unbuffered one whose value was never taken).
 *
 * Locks: t->lock (a runtime lock) serializes Stop/Reset/free of one timer
 * so a Reset's delete-then-arm cannot interleave with another's.  The heap
 * callback never takes t->lock, which is why deltimer may wait for it with
 * t->lock held.  Order: t->lock -> channel lock -> timerslock.
 *
 * Ownership.  The caller owns a gort_timer / gort_ticker and frees it with
 * gort_timer_free / gort_ticker_free; the channel is part of it (never
 * close or free it separately).  An after-func timer is reference counted:
 * one reference for the handle and one for each arming whose function has
 * not yet been started; the goroutine started for a firing drops that
 * arming's reference, so gort_timer_free on a pending after-func does not
 * cancel it (dropping a *Timer in Go does not either) and the memory goes
 * when the last reference does.  Before freeing, the heap callback must be
 * completely done with rt (checktimers writes rt->state after the callback
 * returns): destroy() waits for T_RUNNING to clear.
 *
 * Rejected: a per-timer generation number checked by the callback (Go's
 * t.seq) — deltimer's wait for a running callback already gives the
 * ordering, and a seq would only matter with lazy deletion, which time.c
 * does not do; a channel allocated together with the timer (would need
 * chan.c's private layout for a saving of one malloc); a goroutine per
 * ticker (what programs wrote by hand before: a thread of control and a
 * stack per ticker, and no way to drop ticks cheaply).
 */
#include "runtime.h"

#include <stdlib.h>

enum { KIND_CHAN, KIND_FUNC };

struct gort_timer {
    gort__timer rt;           /* the heap timer; rt.arg == this */
    gort__mutex lock;         /* serializes stop / reset / free */
    int kind;
    gort_chan *c;             /* KIND_CHAN: capacity 1, int64_t values */
    void (*fn)(void *);       /* KIND_FUNC */
    void *arg;
    _Atomic int32_t refs;     /* KIND_FUNC: handle + armings not yet started */
};

/* A ticker is a periodic timer; a distinct type so the compiler keeps the
 * two apart in programs. */
struct gort_ticker {
    struct gort_timer t;
};

static void chan_fire(void *arg, uint64_t seq)
{
    (void)seq;
    struct gort_timer *t = arg;
    int64_t now = t->rt.fired;
    /* Never blocks: a full buffer means the receiver has not taken the
     * previous value; this one is dropped (tickers). */
    gort_chan_trysend(t->c, &now);
}

static void destroy(struct gort_timer *t)
{
    /* The heap callback (or checktimers after it) may still be touching
     * rt: wait until it is done. */
    while (atomic_load_explicit(&t->rt.state, memory_order_acquire) == T_RUNNING)
        __builtin_ia32_pause();
    free(t);
}

static void unref(struct gort_timer *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        destroy(t);
}

static void func_run(void *arg)
{
    struct gort_timer *t = arg;
    void (*fn)(void *) = t->fn;
    void *farg = t->arg;
    unref(t); /* this arming's reference: t may be gone now */
    fn(farg);
}

static void func_fire(void *arg, uint64_t seq)
{
    (void)seq;
    /* Runs on a scheduler M with no lock held and no goroutine current:
     * gort_go queues the goroutine on this M's P. */
    if (gort_go(func_run, arg) != 0)
        gort__throw("gort_after_func: cannot start a goroutine (out of memory)");
}

static int64_t when_after(int64_t ns)
{
    int64_t now = gort__nanotime();
    if (ns < 0)
        ns = 0;
    return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

/* Arm (t->lock held or t not yet shared; rt not in any heap). */
static void arm(struct gort_timer *t, int64_t ns, int64_t period)
{
    t->rt.when = when_after(ns);
    t->rt.period = period;
    t->rt.f = t->kind == KIND_CHAN ? chan_fire : func_fire;
    t->rt.arg = t;
    if (t->kind == KIND_FUNC)
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    gort__addtimer(&t->rt);
}

/* Disarm and drain (t->lock held).  True if the timer was pending: still
 * in the heap, or its value not yet received. */
static bool disarm(struct gort_timer *t)
{
    bool pending = gort__deltimer(&t->rt);
    if (t->kind == KIND_CHAN) {
        if (gort_chan_tryrecv(t->c, NULL, NULL))
            pending = true;
    } else if (pending) {
        /* The arming's reference; the handle's keeps t alive. */
        atomic_fetch_sub_explicit(&t->refs, 1, memory_order_relaxed);
    }
    return pending;
}

static struct gort_timer *timer_make(size_t size, int kind)
{
    struct gort_timer *t = calloc(1, size);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    t->kind = kind;
    if (kind == KIND_CHAN) {
        t->c = gort_chan_make(sizeof(int64_t), 1);
        if (!t->c) {
            free(t);
            errno = ENOMEM;
            return NULL;
        }
        gort__chan_set_timer(t->c, &t->rt);
    } else {
        atomic_store_explicit(&t->refs, 1, memory_order_relaxed);
    }
    return t;
}

/* ---------------------------------------------------------------------
 * Timers
 * ------------------------------------------------------------------- */

gort_timer *gort_timer_new(int64_t ns)
{
    struct gort_timer *t = timer_make(sizeof *t, KIND_CHAN);
    if (t)
        arm(t, ns, 0);
    return t;
}

gort_timer *gort_after_func(int64_t ns, void (*fn)(void *), void *arg)
{
    if (!fn)
        gort__throw("gort_after_func: nil function");
    struct gort_timer *t = timer_make(sizeof *t, KIND_FUNC);
    if (!t)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    arm(t, ns, 0);
    return t;
}

gort_chan *gort_timer_chan(gort_timer *t)
{
    return t->c;
}

bool gort_timer_stop(gort_timer *t)
{
    gort__lock(&t->lock);
    bool pending = disarm(t);
    gort__unlock(&t->lock);
    return pending;
}

bool gort_timer_reset(gort_timer *t, int64_t ns)
{
    gort__lock(&t->lock);
    bool pending = disarm(t);
    arm(t, ns, 0);
    gort__unlock(&t->lock);
    return pending;
}

void gort_timer_free(gort_timer *t)
{
    if (!t)
        return;
    if (t->kind == KIND_FUNC) {
        unref(t); /* a pending function still runs, as in Go */
        return;
    }
    gort__lock(&t->lock);
    gort__deltimer(&t->rt);
    gort__unlock(&t->lock);
    gort__chan_set_timer(t->c, NULL);
    gort_chan_free(t->c);
    destroy(t);
}

/* ---------------------------------------------------------------------
 * Tickers
 * ------------------------------------------------------------------- */

gort_ticker *gort_ticker_new(int64_t period)
{
    if (period <= 0)
        gort__throw("non-positive interval for gort_ticker_new");
    struct gort_ticker *k = (struct gort_ticker *)timer_make(sizeof *k, KIND_CHAN);
    if (k)
        arm(&k->t, period, period);
    return k;
}

gort_chan *gort_ticker_chan(gort_ticker *k)
{
    return k->t.c;
}

void gort_ticker_stop(gort_ticker *k)
{
    gort_timer_stop(&k->t);
}

void gort_ticker_reset(gort_ticker *k, int64_t period)
{
    if (period <= 0)
        gort__throw("non-positive interval for gort_ticker_reset");
    gort__lock(&k->t.lock);
    disarm(&k->t);
    arm(&k->t, period, period);
    gort__unlock(&k->t.lock);
}

void gort_ticker_free(gort_ticker *k)
{
    if (k)
        gort_timer_free(&k->t);
}
