/*
 * context.c — cancellation trees with deadlines (Go's context package:
 * WithCancel, WithDeadline, WithTimeout, WithCancelCause, AfterFunc), and
 * the blocking calls that take one.
 *
 * A context is a node of a tree.  Cancelling one (explicitly, by its
 * deadline's timer, or because its parent was cancelled) records err and
 * cause once, closes its done channel, and cancels every child.  The
 * background context is the root that is never cancelled; its done
 * channel is NULL, which gort_select never picks (Go's nil channel).
 *
 * Invariants.
 *   - c->err goes from 0 to non-zero once, under c->lock; c->cause is
 *     written before it (release), so a reader that sees err sees cause.
 *   - c->settled goes true under the same hold of c->lock, after every
 *     child has been cancelled.  gort_ctx_err and gort_ctx_cause that see
 *     err but not settled wait for the lock, so that whoever sees a
 *     context cancelled sees its descendants cancelled too, as Go's Err
 *     (which takes the mutex its cancel holds through the children) gives.
 *     Rejected: storing err after the walk (a goroutine woken by the done
 *     channel, closed first as in Go, could read err 0); a lock in every
 *     gort_ctx_err (the uncancelled poll is the common call).
 *   - A child is in its parent's children list (linked) only while both
 *     are uncancelled; whoever unlinks it does so under the parent's lock.
 *   - The done channel is made lazily (most contexts are never waited on);
 *     one asked for after the cancel is a shared, already closed channel.
 *
 * Locks: parent->lock before child->lock (a cancel walks down holding the
 * parent's lock, as Go's does); a child never takes its parent's lock while
 * holding its own.  The deadline timer's callback takes context locks, so
 * gort__deltimer (which waits for a running callback) is only called with
 * no context lock held: by an explicit cancel and by the final release.  A
 * child cancelled from its parent leaves its timer armed (firing then is a
 * no-op) until it is released — the recursion runs under the parent's lock.
 *
 * Ownership.  Each gort_ctx_with_* result carries one reference, the
 * caller's.  A child holds a reference on its parent (so it may take the
 * parent's lock to unlink itself at any time), dropped when the child is
 * freed.  The last gort_ctx_release frees the node: unlinks it, stops its
 * timer, frees its channel.  Cancel releases the tree's resources (links,
 * timers) as in Go; memory goes with the references.
 *
 * Errors are errno values: ECANCELED is Go's context.Canceled, ETIMEDOUT
 * its DeadlineExceeded; a cause is any int the program chooses.
 *
 * Rejected: a goroutine per deadline or per AfterFunc (what Go does only
 * for foreign Context implementations, which C does not have); a done
 * channel made eagerly (an allocation per context, most unused); values on
 * contexts (a typed key/value chain fits Go's interfaces, not C: pass
 * values as arguments); waking blocked calls by signals.
 */
#include "runtime.h"

#include <stdlib.h>

enum { FROM_USER, FROM_PARENT, FROM_TIMER };

struct gort_ctx {
    _Atomic int32_t refs;   /* <0: immortal (background) */
    gort__mutex lock;
    _Atomic int err;        /* 0 until cancelled */
    _Atomic bool settled;   /* cancelled, children included; written under lock */
    int cause;
    gort_chan *done;        /* lazily made; under lock */
    struct gort_ctx *parent;   /* reference held; NULL for background's children */
    struct gort_ctx *children; /* uncancelled children; under lock */
    struct gort_ctx *next, *prev; /* siblings; under parent->lock */
    _Atomic bool linked;    /* in parent's children; written under parent->lock,
                               true -> false once: read unlocked, false is final */
    bool has_timer;
    int64_t deadline;       /* -1: none */
    gort__timer timer;
    void (*afn)(void *);    /* gort_ctx_after_func */
    void *aarg;
};

static struct gort_ctx background = {.refs = -1, .deadline = -1};
static gort_chan *_Atomic closed_chan;

gort_ctx *gort_ctx_background(void)
{
    return &background;
}

static gort_chan *closedchan(void)
{
    gort_chan *c = atomic_load_explicit(&closed_chan, memory_order_acquire);
    if (c)
        return c;
    c = gort_chan_make(0, 0);
    if (!c)
        gort__throw("context: out of memory");
    gort_chan_close(c);
    gort_chan *old = NULL;
    if (!atomic_compare_exchange_strong(&closed_chan, &old, c)) {
        gort_chan_free(c);
        return old;
    }
    return c;
}

static void unlink_child(gort_ctx *p, gort_ctx *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        p->children = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    atomic_store_explicit(&c->linked, false, memory_order_release);
}

/* The children walk of a cancel (c->lock held, so the sibling links are
 * stable) touches, per child, three lines nobody has used since the child
 * parked: the child, its done channel and the sudog of the goroutine
 * parked on it, the last on that goroutine's own stack page.  Fetched one
 * after the other they cost ~400-600 ns a child (10k waiters, 2 Ps).
 * Fetch them ahead, each stage from a line the stage before fetched one
 * step earlier: child i+3, channel i+2, sudog i+1. */
static inline gort_chan *done_hint(gort_ctx *k)
{
    return k ? __atomic_load_n(&k->done, __ATOMIC_RELAXED) : NULL;
}

static inline void cancel_prefetch(gort_ctx *k1, gort_ctx *k2, gort_ctx *k3)
{
    if (k3)
        __builtin_prefetch(k3, 1);
    gort_chan *d2 = done_hint(k2);
    if (d2)
        __builtin_prefetch(d2, 1); /* its header line: no need to call chan.c */
    gort_chan *d1 = done_hint(k1);
    if (d1)
        gort__chan_prefetch_receiver(d1);
}

static bool cancel(gort_ctx *c, int err, int cause, int from)
{
    gort__lock(&c->lock);
    if (atomic_load_explicit(&c->err, memory_order_relaxed)) {
        gort__unlock(&c->lock);
        return false;
    }
    c->cause = cause ? cause : err;
    atomic_store_explicit(&c->err, err, memory_order_release);
    if (c->done)
        gort_chan_close(c->done);
    else
        c->done = closedchan();
    /* k, and the three siblings after it (read before k is unlinked). */
    gort_ctx *k = c->children;
    gort_ctx *k1 = k ? k->next : NULL;
    gort_ctx *k2 = k1 ? k1->next : NULL;
    while (k) {
        gort_ctx *k3 = k2 ? k2->next : NULL;
        cancel_prefetch(k1, k2, k3);
        cancel(k, err, c->cause, FROM_PARENT);
        k->next = k->prev = NULL;
        /* The last touch of k: a release that sees it false frees k
         * without taking c->lock. */
        atomic_store_explicit(&k->linked, false, memory_order_release);
        k = k1;
        k1 = k2;
        k2 = k3;
    }
    c->children = NULL;
    if (c->afn && from == FROM_PARENT && gort_go(c->afn, c->aarg) != 0)
        gort__throw("gort_ctx_after_func: cannot start a goroutine (out of memory)");
    atomic_store_explicit(&c->settled, true, memory_order_release);
    gort__unlock(&c->lock);
    if (from != FROM_PARENT && c->parent && atomic_load_explicit(&c->linked, memory_order_acquire)) {
        gort__lock(&c->parent->lock);
        if (c->linked)
            unlink_child(c->parent, c);
        gort__unlock(&c->parent->lock);
    }
    if (from == FROM_USER && c->has_timer)
        gort__deltimer(&c->timer);
    return true;
}

static void deadline_fire(void *arg, uint64_t seq)
{
    (void)seq;
    cancel(arg, ETIMEDOUT, 0, FROM_TIMER);
}

/* A new child of parent, linked (or cancelled at once if the parent is).
 * afn (gort_ctx_after_func's node) is set before it is linked: a parent's
 * cancel may start it from then on. */
static gort_ctx *child(gort_ctx *parent, int64_t deadline, void (*afn)(void *), void *aarg)
{
    if (!parent)
        gort__throw("context: NULL parent (use gort_ctx_background())");
    gort_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    atomic_store_explicit(&c->refs, 1, memory_order_relaxed);
    c->deadline = parent->deadline;
    if (deadline >= 0 && (c->deadline < 0 || deadline < c->deadline))
        c->deadline = deadline;
    c->afn = afn;
    c->aarg = aarg;
    if (parent == &background)
        return c;
    gort_ctx_retain(parent);
    c->parent = parent;
    gort__lock(&parent->lock);
    int perr = atomic_load_explicit(&parent->err, memory_order_relaxed);
    if (!perr) {
        c->next = parent->children;
        if (c->next)
            c->next->prev = c;
        parent->children = c;
        c->linked = true;
    }
    int pcause = parent->cause;
    gort__unlock(&parent->lock);
    if (perr)
        cancel(c, perr, pcause, FROM_PARENT);
    return c;
}

gort_ctx *gort_ctx_with_cancel(gort_ctx *parent)
{
    return child(parent, -1, NULL, NULL);
}

gort_ctx *gort_ctx_with_deadline(gort_ctx *parent, int64_t deadline)
{
    if (deadline < 0)
        deadline = 0; /* a deadline in the past, not "none" */
    gort_ctx *c = child(parent, deadline, NULL, NULL);
    if (!c || c->deadline != deadline)
        return c; /* the parent's earlier deadline cancels it */
    if (deadline <= gort__nanotime()) {
        cancel(c, ETIMEDOUT, 0, FROM_USER);
        return c;
    }
    gort__lock(&c->lock);
    if (!atomic_load_explicit(&c->err, memory_order_relaxed)) {
        c->has_timer = true;
        /* The callback takes c->lock: safe, it cannot run on this M
         * before the unlock, and another M's waits for it. */
        gort__armtimer(&c->timer, deadline, deadline_fire, c, 0);
    }
    gort__unlock(&c->lock);
    return c;
}

gort_ctx *gort_ctx_with_timeout(gort_ctx *parent, int64_t ns)
{
    int64_t now = gort__nanotime();
    if (ns < 0)
        ns = 0;
    return gort_ctx_with_deadline(parent, ns > INT64_MAX - now ? INT64_MAX : now + ns);
}

void gort_ctx_cancel(gort_ctx *c)
{
    gort_ctx_cancel_cause(c, 0);
}

void gort_ctx_cancel_cause(gort_ctx *c, int cause)
{
    if (c == &background)
        return;
    cancel(c, ECANCELED, cause, FROM_USER);
}

gort_ctx *gort_ctx_retain(gort_ctx *c)
{
    if (atomic_load_explicit(&c->refs, memory_order_relaxed) >= 0)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void gort_ctx_release(gort_ctx *c)
{
    if (!c || atomic_load_explicit(&c->refs, memory_order_relaxed) < 0)
        return;
    int32_t old = atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel);
    if (old > 1)
        return;
    if (old != 1)
        gort__throw("gort_ctx_release: context released more often than retained");
    /* No child holds a reference, so none is linked; unlink c itself. */
    gort_ctx *p = c->parent;
    /* Unlinked by the parent's cancel (which may still be walking its
     * other children): no need to wait for its lock. */
    if (p && atomic_load_explicit(&c->linked, memory_order_acquire)) {
        gort__lock(&p->lock);
        if (c->linked)
            unlink_child(p, c);
        gort__unlock(&p->lock);
    }
    if (c->has_timer)
        gort__deltimer(&c->timer); /* waits for a running callback */
    if (c->done && c->done != atomic_load(&closed_chan))
        gort_chan_free(c->done);
    free(c);
    if (p)
        gort_ctx_release(p);
}

gort_chan *gort_ctx_done(gort_ctx *c)
{
    if (c == &background)
        return NULL;
    gort__lock(&c->lock);
    if (!c->done) {
        c->done = gort_chan_make(0, 0);
        if (!c->done)
            gort__throw("gort_ctx_done: out of memory");
    }
    gort_chan *d = c->done;
    gort__unlock(&c->lock);
    return d;
}

/* c's err, once any cancel that set it has cancelled c's children
 * (the invariant on settled, above). */
static int settled_err(gort_ctx *c)
{
    int err = atomic_load_explicit(&c->err, memory_order_acquire);
    if (err && !atomic_load_explicit(&c->settled, memory_order_acquire)) {
        gort__lock(&c->lock);
        gort__unlock(&c->lock);
    }
    return err;
}

int gort_ctx_err(gort_ctx *c)
{
    return settled_err(c);
}

int gort_ctx_cause(gort_ctx *c)
{
    return settled_err(c) ? c->cause : 0;
}

int64_t gort_ctx_deadline(gort_ctx *c)
{
    return c->deadline;
}

/* ---------------------------------------------------------------------
 * AfterFunc
 * ------------------------------------------------------------------- */

gort_ctx *gort_ctx_after_func(gort_ctx *c, void (*fn)(void *), void *arg)
{
    if (!fn)
        gort__throw("gort_ctx_after_func: nil function");
    /* The node is a child whose cancellation by its parent starts fn. */
    return child(c, -1, fn, arg);
}

bool gort_ctx_after_func_stop(gort_ctx *h)
{
    return cancel(h, ECANCELED, 0, FROM_USER);
}

/* ---------------------------------------------------------------------
 * Blocking calls that take a context
 * ------------------------------------------------------------------- */

int gort_ctx_sleep(gort_ctx *c, int64_t ns)
{
    gort_chan *d = gort_ctx_done(c);
    if (!d) {
        gort_sleep(ns);
        return 0;
    }
    int err = gort_ctx_err(c);
    if (err)
        return err;
    if (ns <= 0)
        return 0;
    gort_case k = {.chan = d, .op = GORT_RECV};
    return gort_select(&k, 1, ns) < 0 ? 0 : gort_ctx_err(c);
}

int gort_ctx_recv(gort_ctx *c, gort_chan *ch, void *elem, bool *ok)
{
    gort_case k[2] = {{.chan = ch, .op = GORT_RECV, .elem = elem},
                      {.chan = gort_ctx_done(c), .op = GORT_RECV}};
    int err = gort_ctx_err(c);
    if (err)
        return err;
    if (gort_select(k, 2, -1) == 1)
        return gort_ctx_err(c);
    if (ok)
        *ok = k[0].ok;
    return 0;
}

int gort_ctx_send(gort_ctx *c, gort_chan *ch, const void *elem)
{
    gort_case k[2] = {{.chan = ch, .op = GORT_SEND, .elem = (void *)elem},
                      {.chan = gort_ctx_done(c), .op = GORT_RECV}};
    int err = gort_ctx_err(c);
    if (err)
        return err;
    if (gort_select(k, 2, -1) == 1)
        return gort_ctx_err(c);
    return 0;
}

/* gort_ctx_fd_wait: the fd's own deadline is the wake-up, as Go's net
 * package does for a dial with a context (a function run on cancellation
 * sets the deadline to the past). */
struct fdwake {
    int fd, events;
    gort_waitgroup wg;
};

static void fd_wake(void *arg)
{
    struct fdwake *w = arg;
    gort_set_deadline(w->fd, w->events, 0);
    gort_wg_done(&w->wg);
}

int gort_ctx_fd_wait(gort_ctx *c, int fd, int events)
{
    if (c == &background)
        return gort_fd_wait(fd, events, -1);
    int err = gort_ctx_err(c);
    if (err)
        return err;
    /* The program's own deadlines on fd, put back after a cancel borrowed
     * them (pds are never freed; a close resets them to -1). */
    gort__pollfd *pd = gort__pd_peek(fd);
    int64_t rd = pd ? gort__pd_deadline(pd, GORT_READ, -1) : -1;
    int64_t wd = pd ? gort__pd_deadline(pd, GORT_WRITE, -1) : -1;
    struct fdwake w = {.fd = fd, .events = events};
    gort_wg_add(&w.wg, 1);
    gort_ctx *h = gort_ctx_after_func(c, fd_wake, &w);
    if (!h)
        return ENOMEM;
    int r = gort_fd_wait(fd, events, c->deadline);
    if (!gort_ctx_after_func_stop(h)) {
        /* fd_wake ran or is running: wait for it, then undo its deadline
         * (back to the program's, not to none). */
        gort_wg_wait(&w.wg);
        if (events & GORT_READ)
            gort_set_deadline(fd, GORT_READ, rd);
        if (events & GORT_WRITE)
            gort_set_deadline(fd, GORT_WRITE, wd);
    }
    gort_ctx_release(h);
    if (r == ETIMEDOUT) {
        err = gort_ctx_err(c);
        return err ? err : ETIMEDOUT;
    }
    return r;
}
