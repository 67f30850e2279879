/*
 * errgroup.c — groups of goroutines working on subtasks of one task
 * (golang.org/x/sync/errgroup): start them, wait for all, keep the first
 * error, and cancel the group's context on it; optionally at most `limit`
 * running at once.
 *
 * A group is a WaitGroup for the running goroutines, an error slot set
 * once (first non-zero result wins, by CAS), a context derived from the
 * caller's that the first error cancels (cause: that error), and for a
 * limit a channel of capacity `limit` used as a counting semaphore, as
 * errgroup does: gort_errgroup_go sends a token before starting (so it
 * blocks while `limit` run) and the goroutine takes it back when done.
 *
 * Ownership: the caller owns the group and frees it with
 * gort_errgroup_free after gort_errgroup_wait; the group holds a reference
 * on its context, which gort_errgroup_ctx lends (retain it to keep it past
 * the free).  Each started goroutine has a small heap record (fn, arg,
 * group) it frees itself.
 *
 * Rejected: a separate semaphore type for the limit (the channel is
 * exactly the semantics wanted, including a blocking Go and TryGo);
 * returning a richer error than an int (C has no error interface; an int
 * lets fn return errno values or the program's own codes).
 */
#include "runtime.h"

#include <stdlib.h>

struct gort_errgroup {
    gort_waitgroup wg;
    _Atomic int err;
    gort_ctx *ctx;      /* reference held */
    bool has_ctx;       /* made from a parent: the first error cancels ctx */
    gort_chan *sem;     /* limit tokens, NULL for no limit */
    /* Goroutines started and not yet done, tokens or not: what
     * gort_errgroup_set_limit checks (the channel's length counts only
     * those started under a limit, so a limit set while unlimited ones
     * ran went unnoticed, and each of them then took back a token it never
     * sent, letting more than `limit` run). */
    _Atomic int active;
};

struct task {
    struct gort_errgroup *g;
    int (*fn)(gort_ctx *, void *);
    void *arg;
    gort_chan *sem;     /* the channel it sent its token to, or NULL */
};

gort_errgroup *gort_errgroup_new(gort_ctx *parent)
{
    struct gort_errgroup *g = calloc(1, sizeof *g);
    if (!g) {
        errno = ENOMEM;
        return NULL;
    }
    if (parent) {
        g->ctx = gort_ctx_with_cancel(parent);
        if (!g->ctx) {
            free(g);
            errno = ENOMEM;
            return NULL;
        }
        g->has_ctx = true;
    } else {
        g->ctx = gort_ctx_background();
    }
    return g;
}

gort_ctx *gort_errgroup_ctx(gort_errgroup *g)
{
    return g->ctx;
}

int gort_errgroup_set_limit(gort_errgroup *g, int n)
{
    int active = atomic_load(&g->active);
    if (active != 0)
        gort__throw("gort_errgroup_set_limit: limit changed while %d goroutines of the group "
                    "are still active", active);
    gort_chan *old = g->sem;
    g->sem = NULL;
    if (n >= 0) {
        /* A limit of 0 lets nothing start (Go's, too): a channel with no
         * buffer on which no one receives. */
        g->sem = gort_chan_make(0, (size_t)n);
        if (!g->sem) {
            g->sem = old;
            return ENOMEM;
        }
    }
    gort_chan_free(old);
    return 0;
}

static void task_run(void *arg)
{
    struct task *t = arg;
    struct gort_errgroup *g = t->g;
    int err = t->fn(g->ctx, t->arg);
    gort_chan *sem = t->sem;
    free(t);
    if (err) {
        int zero = 0;
        if (atomic_compare_exchange_strong(&g->err, &zero, err) && g->has_ctx)
            gort_ctx_cancel_cause(g->ctx, err);
    }
    if (sem)
        gort_chan_tryrecv(sem, NULL, NULL);
    atomic_fetch_sub(&g->active, 1); /* after the token: set_limit may free sem */
    gort_wg_done(&g->wg); /* last: g may be freed once the waiter returns */
}

static int start(struct gort_errgroup *g, int (*fn)(gort_ctx *, void *), void *arg)
{
    struct task *t = malloc(sizeof *t);
    if (!t) {
        if (g->sem)
            gort_chan_tryrecv(g->sem, NULL, NULL);
        return ENOMEM;
    }
    *t = (struct task){g, fn, arg, g->sem};
    atomic_fetch_add(&g->active, 1);
    gort_wg_add(&g->wg, 1);
    int r = gort_go(task_run, t);
    if (r != 0) {
        free(t);
        if (g->sem)
            gort_chan_tryrecv(g->sem, NULL, NULL);
        atomic_fetch_sub(&g->active, 1);
        gort_wg_done(&g->wg);
    }
    return r;
}

int gort_errgroup_go(gort_errgroup *g, int (*fn)(gort_ctx *, void *), void *arg)
{
    if (g->sem)
        gort_chan_send(g->sem, NULL);
    return start(g, fn, arg);
}

bool gort_errgroup_try_go(gort_errgroup *g, int (*fn)(gort_ctx *, void *), void *arg)
{
    if (g->sem && !gort_chan_trysend(g->sem, NULL))
        return false;
    return start(g, fn, arg) == 0;
}

int gort_errgroup_wait(gort_errgroup *g)
{
    gort_wg_wait(&g->wg);
    int err = atomic_load(&g->err);
    if (g->has_ctx)
        gort_ctx_cancel_cause(g->ctx, err);
    return err;
}

void gort_errgroup_free(gort_errgroup *g)
{
    if (!g)
        return;
    gort_ctx_release(g->ctx);
    gort_chan_free(g->sem);
    free(g);
}
