/*
 * test_errgroup.c — gort_errgroup (x/sync/errgroup): Wait waits for every
 * goroutine and returns the first error; that error cancels the group's
 * context at once (with the error as cause) so the others, blocked on it,
 * return early; a limit bounds how many run at once and Go blocks at it;
 * TryGo refuses at the limit; a group without a context; changing the
 * limit while goroutines run is a fatal error.
 */
#include "check.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

static int64_t ms(int64_t n) { return n * 1000000; }

static atomic_int running, max_running, finished;

static int worker_ok(gort_ctx *ctx, void *arg)
{
    (void)ctx;
    int now = atomic_fetch_add(&running, 1) + 1;
    int m = atomic_load(&max_running);
    while (now > m && !atomic_compare_exchange_weak(&max_running, &m, now))
        ;
    for (int i = 0; i < (int)(intptr_t)arg; i++)
        gort_yield();
    atomic_fetch_add(&running, -1);
    atomic_fetch_add(&finished, 1);
    return 0;
}

/* Blocks until the group's context is cancelled, then reports why. */
static int worker_wait(gort_ctx *ctx, void *arg)
{
    (void)arg;
    int err = gort_ctx_sleep(ctx, ms(60000));
    CHECK_EQ(err, ECANCELED);
    CHECK_EQ(gort_ctx_cause(ctx), 77);
    atomic_fetch_add(&finished, 1);
    return err;
}

static int worker_fail(gort_ctx *ctx, void *arg)
{
    (void)ctx;
    gort_sleep(ms(2));
    return (int)(intptr_t)arg;
}

static int worker_block(gort_ctx *ctx, void *arg)
{
    (void)ctx;
    gort_chan_recv(arg, NULL); /* until closed */
    return 0;
}

static void test_first_error_cancels(void)
{
    atomic_store(&finished, 0);
    gort_ctx *parent = gort_ctx_with_cancel(gort_ctx_background());
    gort_errgroup *g = gort_errgroup_new(parent);
    CHECK(g);
    for (int i = 0; i < 50; i++)
        CHECK_EQ(gort_errgroup_go(g, worker_wait, NULL), 0);
    CHECK_EQ(gort_errgroup_go(g, worker_fail, (void *)77), 0);
    int64_t t0 = gort_nanotime();
    CHECK_EQ(gort_errgroup_wait(g), 77); /* the first error, not the waiters' ECANCELED */
    CHECK(gort_nanotime() - t0 < ms(2000));
    CHECK_EQ(atomic_load(&finished), 50);
    CHECK_EQ(gort_ctx_err(gort_errgroup_ctx(g)), ECANCELED);
    CHECK_EQ(gort_ctx_err(parent), 0); /* the parent is not touched */
    gort_errgroup_free(g);
    gort_ctx_cancel(parent);
    gort_ctx_release(parent);

    /* The parent's cancellation reaches the group's goroutines. */
    parent = gort_ctx_with_cancel(gort_ctx_background());
    g = gort_errgroup_new(parent);
    atomic_store(&finished, 0);
    for (int i = 0; i < 10; i++)
        gort_errgroup_go(g, worker_wait, NULL);
    gort_sleep(ms(2));
    gort_ctx_cancel_cause(parent, 77);
    CHECK_EQ(gort_errgroup_wait(g), ECANCELED);
    CHECK_EQ(atomic_load(&finished), 10);
    gort_errgroup_free(g);
    gort_ctx_release(parent);
}

static void test_no_error(void)
{
    gort_errgroup *g = gort_errgroup_new(NULL); /* no context */
    atomic_store(&finished, 0);
    for (int i = 0; i < 200; i++)
        gort_errgroup_go(g, worker_ok, (void *)(intptr_t)(i % 5));
    CHECK_EQ(gort_errgroup_wait(g), 0);
    CHECK_EQ(atomic_load(&finished), 200);
    CHECK(gort_errgroup_ctx(g) == gort_ctx_background());
    /* Errors without a context: the first one is still returned. */
    gort_errgroup_go(g, worker_fail, (void *)5);
    CHECK_EQ(gort_errgroup_wait(g), 5);
    gort_errgroup_free(g);
}

static void test_limit(void)
{
    gort_errgroup *g = gort_errgroup_new(gort_ctx_background());
    CHECK_EQ(gort_errgroup_set_limit(g, 3), 0);
    atomic_store(&running, 0);
    atomic_store(&max_running, 0);
    atomic_store(&finished, 0);
    for (int i = 0; i < 300; i++)
        gort_errgroup_go(g, worker_ok, (void *)(intptr_t)20);
    CHECK_EQ(gort_errgroup_wait(g), 0);
    CHECK_EQ(atomic_load(&finished), 300);
    CHECK(atomic_load(&max_running) <= 3, "%d ran at once", atomic_load(&max_running));
    CHECK(atomic_load(&max_running) >= 1);
    gort_errgroup_free(g);

    /* TryGo at the limit. */
    g = gort_errgroup_new(NULL);
    CHECK_EQ(gort_errgroup_set_limit(g, 1), 0);
    gort_chan *release = gort_chan_make(0, 0);
    CHECK(gort_errgroup_try_go(g, worker_block, release));
    CHECK(!gort_errgroup_try_go(g, worker_fail, (void *)0), "TryGo beyond the limit");
    gort_chan_close(release);
    CHECK_EQ(gort_errgroup_wait(g), 0);
    CHECK(gort_errgroup_try_go(g, worker_fail, (void *)9));
    CHECK_EQ(gort_errgroup_wait(g), 9);
    gort_errgroup_free(g);
    gort_chan_free(release);
}

static void gmain(void *arg)
{
    (void)arg;
    test_first_error_cancels();
    test_no_error();
    test_limit();
    printf("test_errgroup: ok\n");
}

/* A goroutine that stays in the group (its channel is never closed): the
 * fatal error ends the child. */
static void limit_while_running(void *arg)
{
    (void)arg;
    gort_errgroup *g = gort_errgroup_new(NULL);
    gort_errgroup_set_limit(g, 2);
    gort_errgroup_go(g, worker_block, gort_chan_make(0, 0));
    gort_errgroup_set_limit(g, 4);
}

/* The same with no limit before: the goroutines started without one
 * count too (they hold no token, so the limit's channel did not show
 * them, and each would later have taken back a token it never sent). */
static void limit_after_unlimited(void *arg)
{
    (void)arg;
    gort_errgroup *g = gort_errgroup_new(NULL);
    gort_chan *c = gort_chan_make(0, 0);
    gort_errgroup_go(g, worker_block, c);
    gort_errgroup_go(g, worker_block, c);
    gort_errgroup_set_limit(g, 1);
}

static void child(void *fn)
{
    _exit(gort_main((void (*)(void *))fn, NULL) == 0 ? 0 : 3);
}

int main(void)
{
    expect_child(child, (void *)limit_while_running, 2,
                 "gort: fatal error: gort_errgroup_set_limit: limit changed while 1 goroutines",
                 NULL);
    expect_child(child, (void *)limit_after_unlimited, 2,
                 "gort: fatal error: gort_errgroup_set_limit: limit changed while 2 goroutines",
                 NULL);
    run_main(gmain, NULL);
    return 0;
}
