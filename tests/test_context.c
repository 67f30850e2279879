/*
 * test_context.c — gort_ctx (Go's context): cancellation reaches every
 * descendant and no sibling, with err and cause; cancels racing with
 * waits, with other cancels and with the creation of children; deadlines
 * (own, inherited, past) expire with ETIMEDOUT and an explicit cancel wins
 * over a later deadline; sleep, send, recv and fd_wait taking a context
 * return promptly on cancel; after-funcs run once on cancel and can be
 * stopped; releases in any order free everything (ASan); calls from a
 * plain thread.
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static int64_t ms(int64_t n) { return n * 1000000; }

/* Generous: 2 CPUs shared with other tests, maybe a sanitizer build. */
#define PROMPT ms(500)

static bool is_done(gort_ctx *c)
{
    bool ok;
    return gort_chan_tryrecv(gort_ctx_done(c), NULL, &ok);
}

/* ------------------------------------------------------------------ */

#define FAN 4
#define DEPTH 4 /* 4 + 16 + 64 + 256 nodes under the root */
static gort_waitgroup tree_wg;
static atomic_int tree_woken;

static void tree_waiter(void *arg)
{
    gort_ctx *c = arg;
    CHECK(!gort_chan_recv(gort_ctx_done(c), NULL)); /* closed: ok false */
    CHECK_EQ(gort_ctx_err(c), ECANCELED);
    CHECK_EQ(gort_ctx_cause(c), 42);
    atomic_fetch_add(&tree_woken, 1);
    gort_ctx_release(c);
    gort_wg_done(&tree_wg);
}

static int build(gort_ctx *p, int depth, gort_ctx **all, int n)
{
    if (depth == DEPTH)
        return n;
    for (int i = 0; i < FAN; i++) {
        gort_ctx *c = gort_ctx_with_cancel(p);
        CHECK(c);
        all[n++] = c;
        n = build(c, depth + 1, all, n);
    }
    return n;
}

static void test_tree(void)
{
    gort_ctx *root = gort_ctx_with_cancel(gort_ctx_background());
    gort_ctx *all[400];
    int n = build(root, 0, all, 0);
    CHECK_EQ(n, 4 + 16 + 64 + 256);
    /* Cancel one subtree (all[0] and its 84 descendants): its nodes are
     * done, the siblings are not. */
    gort_ctx_cancel_cause(all[0], 7);
    int sub = 1 + 4 + 16 + 64;
    for (int i = 0; i < n; i++) {
        if (i < sub) {
            CHECK(is_done(all[i]), "node %d of the cancelled subtree not done", i);
            CHECK_EQ(gort_ctx_err(all[i]), ECANCELED);
            CHECK_EQ(gort_ctx_cause(all[i]), 7);
        } else {
            CHECK(!is_done(all[i]) && gort_ctx_err(all[i]) == 0, "sibling %d cancelled", i);
        }
    }
    CHECK(!is_done(root));
    /* The rest, through the root, with waiters parked on every node. */
    gort_wg_add(&tree_wg, n - sub);
    for (int i = sub; i < n; i++)
        gort_go(tree_waiter, gort_ctx_retain(all[i]));
    for (int i = 0; i < 100; i++)
        gort_yield();
    gort_ctx_cancel_cause(root, 42);
    gort_wg_wait(&tree_wg);
    CHECK_EQ(atomic_load(&tree_woken), n - sub);
    CHECK_EQ(gort_ctx_cause(root), 42);
    gort_ctx_cancel_cause(root, 43); /* a second cancel changes nothing */
    CHECK_EQ(gort_ctx_cause(root), 42);
    /* A child made after the cancel is born cancelled. */
    gort_ctx *late = gort_ctx_with_cancel(all[n - 1]);
    CHECK(is_done(late) && gort_ctx_err(late) == ECANCELED && gort_ctx_cause(late) == 42);
    gort_ctx_release(late);
    /* Release in creation order: parents before children (the children's
     * references keep them). */
    for (int i = 0; i < n; i++)
        gort_ctx_release(all[i]);
    gort_ctx_release(root);
}

/* ------------------------------------------------------------------ */

struct race {
    gort_ctx *parent, *child, *grand;
    gort_waitgroup wg;
    int which;
};

static void race_cancel(void *arg)
{
    struct race *r = arg;
    if (r->which++ & 1)
        gort_ctx_cancel(r->parent);
    else
        gort_ctx_cancel(r->child);
    gort_wg_done(&r->wg);
}

static void race_wait(void *arg)
{
    struct race *r = arg;
    gort_case k = {.chan = gort_ctx_done(r->grand), .op = GORT_RECV};
    CHECK_EQ(gort_select(&k, 1, -1), 0);
    gort_wg_done(&r->wg);
}

static void race_make(void *arg)
{
    struct race *r = arg;
    gort_ctx *c = gort_ctx_with_cancel(r->child);
    gort_ctx_release(c); /* released at once, maybe while being cancelled */
    gort_wg_done(&r->wg);
}

static void test_races(void)
{
    for (int i = 0; i < 3000; i++) {
        struct race r = {0};
        r.which = i;
        r.parent = gort_ctx_with_cancel(gort_ctx_background());
        r.child = gort_ctx_with_cancel(r.parent);
        r.grand = gort_ctx_with_timeout(r.child, (i % 3) * 20000);
        gort_wg_add(&r.wg, 4);
        gort_go(race_wait, &r);
        gort_go(race_make, &r);
        gort_go(race_cancel, &r);
        gort_go(race_cancel, &r);
        gort_wg_wait(&r.wg);
        CHECK(gort_ctx_err(r.child) == ECANCELED);
        int e = gort_ctx_err(r.grand);
        CHECK(e == ECANCELED || e == ETIMEDOUT, "grandchild err %d", e);
        gort_ctx_release(r.parent); /* parent first: children keep it */
        gort_ctx_release(r.grand);
        gort_ctx_release(r.child);
    }
}

/* ------------------------------------------------------------------ */

/* Whoever sees a context cancelled sees its children cancelled: Go's Err
 * takes the mutex its cancel holds while it cancels the children, and
 * gort_ctx_err waits for a cancel still walking them.  Here one goroutine
 * cancels a parent of 64 children while another spins on the parent's
 * err and then reads every child's (before the fix, 4-64 of 5,000 such
 * rounds saw a child not cancelled yet at 2 Ps). */
enum { SETTLED_KIDS = 64 };

struct settled {
    gort_ctx *parent;
    gort_waitgroup wg;
};

static void settled_cancel(void *arg)
{
    struct settled *s = arg;
    gort_ctx_cancel(s->parent);
    gort_wg_done(&s->wg);
}

static void test_err_settled(void)
{
    /* valgrind runs one thread at a time: two goroutines never overlap
     * there, and 5,000 rounds would take minutes for nothing. */
    int rounds = under_valgrind() ? 200 : 5000;
    long bad = 0;
    for (int i = 0; i < rounds; i++) {
        struct settled s = {0};
        s.parent = gort_ctx_with_cancel(gort_ctx_background());
        gort_ctx *kids[SETTLED_KIDS];
        for (int k = 0; k < SETTLED_KIDS; k++)
            kids[k] = gort_ctx_with_cancel(s.parent);
        gort_wg_add(&s.wg, 1);
        gort_go(settled_cancel, &s);
        /* With one P the canceller runs only when this goroutine yields;
         * then it finishes before we look, and the round checks nothing. */
        for (unsigned spins = 1; !gort_ctx_err(s.parent); spins++)
            if (spins % 256 == 0)
                gort_yield();
        /* Children are linked at the head and walked from it: kids[0]
         * is the last one the walk reaches, so look at it first. */
        for (int k = 0; k < SETTLED_KIDS; k++)
            if (gort_ctx_err(kids[k]) == 0 || gort_ctx_cause(kids[k]) == 0) {
                bad++;
                break;
            }
        gort_wg_wait(&s.wg);
        for (int k = 0; k < SETTLED_KIDS; k++)
            gort_ctx_release(kids[k]);
        gort_ctx_release(s.parent);
    }
    CHECK(bad == 0, "%ld of %d rounds saw the parent cancelled and a child not", bad, rounds);
}

/* ------------------------------------------------------------------ */

static void test_deadline(void)
{
    int64_t t0 = gort_nanotime();
    gort_ctx *c = gort_ctx_with_timeout(gort_ctx_background(), ms(1000));
    CHECK(gort_ctx_deadline(c) >= t0 + ms(1000));
    CHECK(!is_done(c));
    gort_ctx *kid = gort_ctx_with_timeout(c, ms(5000)); /* parent's is earlier */
    CHECK_EQ(gort_ctx_deadline(kid), gort_ctx_deadline(c));
    gort_ctx *early = gort_ctx_with_timeout(c, ms(5));
    CHECK(gort_ctx_deadline(early) < gort_ctx_deadline(c));
    CHECK(!gort_chan_recv(gort_ctx_done(early), NULL));
    CHECK(gort_nanotime() >= t0 + ms(5));
    CHECK_EQ(gort_ctx_err(early), ETIMEDOUT);
    CHECK_EQ(gort_ctx_err(c), 0);
    CHECK(!gort_chan_recv(gort_ctx_done(kid), NULL));
    CHECK(gort_nanotime() >= gort_ctx_deadline(c));
    CHECK(gort_nanotime() - t0 < ms(1000) + PROMPT);
    CHECK_EQ(gort_ctx_err(kid), ETIMEDOUT);
    CHECK_EQ(gort_ctx_err(c), ETIMEDOUT);
    CHECK_EQ(gort_ctx_cause(c), ETIMEDOUT);
    gort_ctx_release(early);
    gort_ctx_release(kid);
    gort_ctx_release(c);

    /* In the past: done at once. */
    c = gort_ctx_with_deadline(gort_ctx_background(), gort_nanotime() - 1);
    CHECK(is_done(c) && gort_ctx_err(c) == ETIMEDOUT);
    gort_ctx_release(c);

    /* Cancelled before its deadline: Canceled, and it stays so past it. */
    c = gort_ctx_with_timeout(gort_ctx_background(), ms(3600 * 1000));
    gort_ctx_cancel(c);
    CHECK_EQ(gort_ctx_err(c), ECANCELED);
    gort_ctx_release(c);
    int64_t d = gort_nanotime() + ms(5);
    c = gort_ctx_with_deadline(gort_ctx_background(), d);
    gort_ctx_cancel(c);
    CHECK(gort_ctx_err(c) == ECANCELED || gort_nanotime() >= d);
    int e0 = gort_ctx_err(c);
    gort_sleep(ms(10));
    CHECK_EQ(gort_ctx_err(c), e0);
    gort_ctx_release(c);

    /* Released before the deadline, never cancelled: its timer goes. */
    for (int i = 0; i < 1000; i++)
        gort_ctx_release(gort_ctx_with_timeout(gort_ctx_background(), i * 1000));
}

/* ------------------------------------------------------------------ */

struct blocked {
    gort_ctx *c;
    int which, err;
    gort_chan *ch;
    int64_t returned;
    gort_waitgroup wg;
};

static void blocked_call(void *arg)
{
    struct blocked *b = arg;
    int v = 0;
    bool ok;
    switch (b->which) {
    case 0: b->err = gort_ctx_sleep(b->c, ms(60000)); break;
    case 1: b->err = gort_ctx_recv(b->c, b->ch, &v, &ok); break;
    case 2: b->err = gort_ctx_send(b->c, b->ch, &v); break;
    }
    b->returned = gort_nanotime();
    gort_wg_done(&b->wg);
}

static void test_blocking_calls(void)
{
    for (int which = 0; which < 3; which++) {
        struct blocked b = {.which = which};
        b.c = gort_ctx_with_cancel(gort_ctx_background());
        b.ch = gort_chan_make(sizeof(int), 0);
        gort_wg_add(&b.wg, 1);
        gort_go(blocked_call, &b);
        gort_sleep(ms(5));
        int64_t t0 = gort_nanotime();
        gort_ctx_cancel(b.c);
        gort_wg_wait(&b.wg);
        CHECK_EQ(b.err, ECANCELED);
        CHECK(b.returned - t0 < PROMPT, "call %d returned %lld ns after the cancel", which,
              (long long)(b.returned - t0));
        /* Already cancelled: returns at once, the operation not done. */
        int v = 1;
        gort_chan *buf = gort_chan_make(sizeof(int), 1);
        CHECK_EQ(gort_ctx_send(b.c, buf, &v), ECANCELED);
        CHECK_EQ(gort_chan_len(buf), 0);
        gort_chan_free(buf);
        gort_ctx_release(b.c);
        gort_chan_free(b.ch);
    }
    /* Not cancelled: they do their work. */
    gort_ctx *c = gort_ctx_with_timeout(gort_ctx_background(), ms(60000));
    gort_chan *buf = gort_chan_make(sizeof(int), 1);
    int v = 5, w = 0;
    bool ok = false;
    CHECK_EQ(gort_ctx_send(c, buf, &v), 0);
    CHECK_EQ(gort_ctx_recv(c, buf, &w, &ok), 0);
    CHECK(ok && w == 5);
    int64_t t0 = gort_nanotime();
    CHECK_EQ(gort_ctx_sleep(c, ms(3)), 0);
    CHECK(gort_nanotime() - t0 >= ms(3));
    gort_ctx_cancel(c);
    gort_ctx_release(c);
    gort_chan_free(buf);
    /* A deadline ends a sleep with ETIMEDOUT. */
    c = gort_ctx_with_timeout(gort_ctx_background(), ms(5));
    CHECK_EQ(gort_ctx_sleep(c, ms(60000)), ETIMEDOUT);
    gort_ctx_release(c);
}

/* ------------------------------------------------------------------ */

struct fdw {
    gort_ctx *c;
    int fd, err;
    gort_waitgroup wg;
};

static void fd_waiter(void *arg)
{
    struct fdw *w = arg;
    w->err = gort_ctx_fd_wait(w->c, w->fd, GORT_READ);
    gort_wg_done(&w->wg);
}

/* A deadline the program set on the fd survives a cancelled
 * gort_ctx_fd_wait (the wake-up borrows the fd's deadline, then puts the
 * program's back, not "none").  With it cleared, the plain read below
 * would wait forever; the select bounds that to a failure. */
struct keep {
    int fd;
    ssize_t n;
    int err;
    gort_chan *done;
};

static void keep_reader(void *arg)
{
    struct keep *k = arg;
    char ch;
    k->n = gort_read(k->fd, &ch, 1);
    k->err = errno;
    gort_chan_close(k->done);
}

static void cancel_fn(void *arg)
{
    gort_ctx_cancel(arg);
}

static void test_fd_wait_keeps_deadline(int fd)
{
    for (int attempt = 0;; attempt++) {
        CHECK(attempt < 5, "the machine stalled past 1.5 s in every attempt");
        int64_t user = gort_nanotime() + ms(1500);
        CHECK_EQ(gort_set_deadline(fd, GORT_READ, user), 0);
        /* The context has no deadline of its own (the timer cancels its
         * parent), so only the cancel's wake-up or the program's deadline
         * can end the wait. */
        gort_ctx *parent = gort_ctx_with_cancel(gort_ctx_background());
        gort_ctx *c = gort_ctx_with_cancel(parent);
        gort_timer *t = gort_after_func(ms(5), cancel_fn, parent);
        int err = gort_ctx_fd_wait(c, fd, GORT_READ);
        int64_t end = gort_nanotime();
        gort_timer_stop(t);
        gort_timer_free(t);
        gort_ctx_cancel(c);
        gort_ctx_release(c);
        gort_ctx_cancel(parent);
        gort_ctx_release(parent);
        if (end >= user)
            continue; /* the program's deadline came first: try again */
        CHECK_EQ(err, ECANCELED);
        break;
    }
    struct keep k = {.fd = fd, .done = gort_chan_make(0, 0)};
    gort_go(keep_reader, &k);
    gort_case cs = {.chan = k.done, .op = GORT_RECV};
    int r = gort_select(&cs, 1, ms(30000)); /* not in CHECK_EQ: it evaluates twice */
    CHECK_EQ(r, 0); /* the deadline ended it, not the 30 s */
    CHECK(k.n == -1 && k.err == ETIMEDOUT, "n %zd errno %d", k.n, k.err);
    gort_chan_free(k.done);
    CHECK_EQ(gort_set_deadline(fd, GORT_READ, -1), 0);
}

static void test_fd_wait(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    struct fdw w = {.fd = p[0]};
    w.c = gort_ctx_with_cancel(gort_ctx_background());
    gort_wg_add(&w.wg, 1);
    gort_go(fd_waiter, &w);
    gort_sleep(ms(5));
    gort_ctx_cancel(w.c);
    gort_wg_wait(&w.wg);
    CHECK_EQ(w.err, ECANCELED);
    gort_ctx_release(w.c);
    /* The fd's deadline was put back: a plain wait works. */
    CHECK(write(p[1], "x", 1) == 1);
    CHECK_EQ(gort_fd_wait(p[0], GORT_READ, gort_nanotime() + ms(5000)), 0);
    char ch;
    CHECK(gort_read(p[0], &ch, 1) == 1);
    /* Deadline. */
    gort_ctx *c = gort_ctx_with_timeout(gort_ctx_background(), ms(5));
    CHECK_EQ(gort_ctx_fd_wait(c, p[0], GORT_READ), ETIMEDOUT);
    gort_ctx_release(c);
    /* Ready, not cancelled. */
    c = gort_ctx_with_cancel(gort_ctx_background());
    CHECK(write(p[1], "y", 1) == 1);
    CHECK_EQ(gort_ctx_fd_wait(c, p[0], GORT_READ), 0);
    gort_ctx_cancel(c);
    gort_ctx_release(c);
    CHECK(gort_read(p[0], &ch, 1) == 1);
    test_fd_wait_keeps_deadline(p[0]);
    gort_close(p[0]);
    close(p[1]);
}

/* ------------------------------------------------------------------ */

static atomic_int af_runs;
static _Atomic uint64_t af_goid;
static gort_chan *af_done;

static void af_fn(void *arg)
{
    atomic_fetch_add(&af_runs, 1);
    atomic_store(&af_goid, gort_self());
    gort_chan_send(af_done, &arg);
}

static void test_after_func(void)
{
    af_done = gort_chan_make(sizeof(void *), 4);
    gort_ctx *c = gort_ctx_with_cancel(gort_ctx_background());
    gort_ctx *h1 = gort_ctx_after_func(c, af_fn, (void *)1);
    gort_ctx *h2 = gort_ctx_after_func(c, af_fn, (void *)2);
    CHECK(gort_ctx_after_func_stop(h2));
    CHECK(!gort_ctx_after_func_stop(h2));
    gort_ctx_cancel(c);
    void *got;
    CHECK(gort_chan_recv(af_done, &got));
    CHECK(got == (void *)1);
    CHECK(atomic_load(&af_goid) != gort_self());
    CHECK(!gort_ctx_after_func_stop(h1));
    /* On a cancelled context: runs at once. */
    gort_ctx *h3 = gort_ctx_after_func(c, af_fn, (void *)3);
    CHECK(gort_chan_recv(af_done, &got));
    CHECK(got == (void *)3);
    gort_sleep(ms(5));
    CHECK_EQ(atomic_load(&af_runs), 2);
    gort_ctx_release(h1);
    gort_ctx_release(h2);
    gort_ctx_release(h3);
    gort_ctx_release(c);
    gort_chan_free(af_done);
}

/* ------------------------------------------------------------------ */

static void *thread_fn(void *arg)
{
    gort_ctx *c = arg;
    gort_ctx *kid = gort_ctx_with_cancel(c);
    CHECK(!gort_chan_recv(gort_ctx_done(kid), NULL));
    CHECK_EQ(gort_ctx_err(kid), ECANCELED);
    gort_ctx_release(kid);
    gort_ctx *t = gort_ctx_with_timeout(gort_ctx_background(), ms(2));
    CHECK_EQ(gort_ctx_sleep(t, ms(60000)), ETIMEDOUT);
    gort_ctx_release(t);
    return NULL;
}

static void test_thread(void)
{
    gort_ctx *c = gort_ctx_with_cancel(gort_ctx_background());
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_fn, c) == 0);
    gort_sleep(ms(5));
    gort_ctx_cancel(c);
    CHECK(pthread_join(th, NULL) == 0);
    gort_ctx_release(c);
}

static void gmain(void *arg)
{
    (void)arg;
    test_tree();
    test_races();
    test_err_settled();
    test_deadline();
    test_blocking_calls();
    test_fd_wait();
    test_after_func();
    test_thread();
    printf("test_context: ok\n");
}

int main(void)
{
    run_main(gmain, NULL);
    return 0;
}
