/*
 * test_semaphore_ctx.c — gort_semaphore_acquire_ctx: a cancel wakes a
 * queued waiter with nothing taken; a context deadline; a cancelled head
 * lets the ones behind it in; a context already done fails even with the
 * units free; cancel against release over many rounds (exactly one wins,
 * the units add up); more than size waits for the cancel; background;
 * a plain thread.
 */
#include "check.h"
#include "semaphore_util.h"

#include <pthread.h>

#define MS (1000 * 1000LL)

static gort_semaphore s1;
static gort_ctx *c1;
static int r1 = -1;
static gort_waitgroup wg;

static void waiter(void *arg)
{
    r1 = gort_semaphore_acquire_ctx(&s1, (long)arg, c1);
    gort_wg_done(&wg);
}

static gort_ctx *c2;
static int r2 = -1;

static void waiter2(void *arg)
{
    r2 = gort_semaphore_acquire_ctx(&s1, (long)arg, c2);
    gort_wg_done(&wg);
}

static void test_cancel(void)
{
    gort_semaphore_init(&s1, 10);
    gort_semaphore_acquire(&s1, 5);
    c1 = gort_ctx_with_cancel(gort_ctx_background());
    gort_wg_add(&wg, 1);
    CHECK_EQ(gort_go(waiter, (void *)8L), 0);
    wait_queued(&s1, 1);
    gort_ctx_cancel(c1);
    gort_wg_wait(&wg);
    CHECK_EQ(r1, ECANCELED);
    CHECK_EQ(queued(&s1), 0);
    CHECK_EQ(cur_of(&s1), 5);
    /* Already cancelled: fails even though 5 are free. */
    CHECK_EQ(gort_semaphore_acquire_ctx(&s1, 1, c1), ECANCELED);
    CHECK_EQ(cur_of(&s1), 5);
    gort_ctx_release(c1);

    /* A cancelled head lets the request behind it in: the 2 queues behind
     * the 8 (FIFO) though 5 are free, and only the 8's cancel can let it
     * in (its own context is never cancelled: without that, a hang). */
    c1 = gort_ctx_with_cancel(gort_ctx_background());
    gort_wg_add(&wg, 2);
    CHECK_EQ(gort_go(waiter, (void *)8L), 0);
    wait_queued(&s1, 1);
    c2 = gort_ctx_with_cancel(gort_ctx_background());
    CHECK_EQ(gort_go(waiter2, (void *)2L), 0);
    wait_queued(&s1, 2);
    gort_ctx_cancel(c1);
    gort_wg_wait(&wg);
    CHECK_EQ(r1, ECANCELED);
    CHECK_EQ(r2, 0);
    CHECK_EQ(queued(&s1), 0);
    CHECK_EQ(cur_of(&s1), 7);
    gort_ctx_cancel(c2);
    gort_ctx_release(c2);
    gort_ctx_release(c1);

    /* A context deadline.  The clock is read before the context is made:
     * its deadline counts from there, so a reading taken after it may be
     * late by a preemption in between (UBSan CI, 1 run: 10 ms timeout
     * "returned early" by that much). */
    int64_t t0 = gort_nanotime();
    c2 = gort_ctx_with_timeout(gort_ctx_background(), 20 * MS);
    CHECK_EQ(gort_semaphore_acquire_ctx(&s1, 5, c2), ETIMEDOUT);
    CHECK(gort_nanotime() - t0 >= 20 * MS);
    CHECK_EQ(queued(&s1), 0);
    CHECK_EQ(cur_of(&s1), 7);
    gort_ctx_cancel(c2);
    gort_ctx_release(c2);

    /* More than size: waits for the cancel. */
    t0 = gort_nanotime();
    c2 = gort_ctx_with_timeout(gort_ctx_background(), 10 * MS);
    CHECK_EQ(gort_semaphore_acquire_ctx(&s1, 11, c2), ETIMEDOUT);
    CHECK(gort_nanotime() - t0 >= 10 * MS);
    gort_ctx_cancel(c2);
    gort_ctx_release(c2);

    /* Background: a plain acquire. */
    CHECK_EQ(gort_semaphore_acquire_ctx(&s1, 3, gort_ctx_background()), 0);
    gort_semaphore_release(&s1, 10);
    CHECK_EQ(cur_of(&s1), 0);
}

static gort_semaphore rs;
static int r_go;
static gort_ctx *rc;
static gort_waitgroup r_wg;

static void releaser(void *arg)
{
    while (!__atomic_load_n(&r_go, __ATOMIC_SEQ_CST))
        gort_yield();
    long mode = (long)arg % 3;
    if (mode != 2)
        wait_queued(&rs, 1); /* modes 0 and 1: act on a queued waiter */
    if (mode == 1)
        gort_ctx_cancel(rc);
    gort_semaphore_release(&rs, 2);
    if (mode == 2)
        gort_ctx_cancel(rc);
    gort_wg_done(&r_wg);
}

static void test_race(void)
{
    gort_semaphore_init(&rs, 2);
    int ok = 0, canceled = 0;
    for (int i = 0; i < 2000; i++) {
        gort_semaphore_acquire(&rs, 2);
        rc = gort_ctx_with_cancel(gort_ctx_background());
        __atomic_store_n(&r_go, 0, __ATOMIC_SEQ_CST);
        gort_wg_add(&r_wg, 1);
        CHECK_EQ(gort_go(releaser, (void *)(long)i), 0);
        __atomic_store_n(&r_go, 1, __ATOMIC_SEQ_CST);
        int r = gort_semaphore_acquire_ctx(&rs, 1, rc);
        gort_wg_wait(&r_wg);
        if (i % 3 == 0)
            CHECK_EQ(r, 0); /* released, never cancelled meanwhile */
        if (i % 3 == 1)
            CHECK_EQ(r, ECANCELED); /* queued, cancelled, then released */
        gort_ctx_cancel(rc);
        CHECK_EQ(queued(&rs), 0);
        if (r == 0) {
            ok++;
            CHECK_EQ(cur_of(&rs), 1);
            gort_semaphore_release(&rs, 1);
        } else {
            CHECK_EQ(r, ECANCELED);
            canceled++;
            CHECK_EQ(cur_of(&rs), 0);
        }
        gort_ctx_release(rc);
    }
    CHECK_EQ(ok + canceled, 2000);
    if (getenv("TEST_VERBOSE"))
        printf("cancel race: %d granted, %d cancelled\n", ok, canceled);
    CHECK_EQ(cur_of(&rs), 0);
}

static gort_semaphore ts = GORT_SEMAPHORE_INIT(1);
static gort_ctx *tc;
static int t_res = -1;

static void *thread_fn(void *arg)
{
    (void)arg;
    t_res = gort_semaphore_acquire_ctx(&ts, 1, tc);
    return NULL;
}

static void test_thread(void)
{
    gort_semaphore_acquire(&ts, 1);
    tc = gort_ctx_with_cancel(gort_ctx_background());
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, thread_fn, NULL), 0);
    wait_queued(&ts, 1);
    gort_ctx_cancel(tc);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(t_res, ECANCELED);
    CHECK_EQ(queued(&ts), 0);
    gort_ctx_release(tc);
    gort_semaphore_release(&ts, 1);
}

static void main_g(void *arg)
{
    (void)arg;
    test_cancel();
    test_race();
    test_thread();
}

int main(void)
{
    watchdog_start("test_semaphore_ctx", 60);
    run_main(main_g, NULL);
    alarm(0);
    printf("test_semaphore_ctx: ok\n");
    return 0;
}
