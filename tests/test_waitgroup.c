/*
 * test_waitgroup.c — gort_waitgroup: zero-value wait, many workers on 2 Ps,
 * many concurrent waiters released together, reuse across rounds, and the
 * misuse Go detects (negative counter, reuse before Wait returned).
 */
#include "check.h"

enum { NW = 200, ROUNDS = 20, NWAITERS = 16 };

static gort_waitgroup wg;
static int work;

static void worker(void *arg)
{
    (void)arg;
    __atomic_fetch_add(&work, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&work, __ATOMIC_RELAXED) % 3 == 0)
        gort_yield();
    gort_wg_done(&wg);
}

static void test_zero(void)
{
    gort_waitgroup z = GORT_WAITGROUP_INIT;
    gort_wg_wait(&z); /* counter 0: returns at once */
    gort_wg_add(&z, 3);
    gort_wg_add(&z, -2);
    gort_wg_done(&z);
    gort_wg_wait(&z);
    CHECK_EQ(z.state, 0);
}

static void test_many_workers(void)
{
    for (int r = 0; r < ROUNDS; r++) {
        __atomic_store_n(&work, 0, __ATOMIC_RELAXED);
        gort_wg_add(&wg, NW);
        for (int i = 0; i < NW; i++)
            CHECK_EQ(gort_go(worker, NULL), 0);
        gort_wg_wait(&wg);
        /* Wait returning means every Done happened, and so every
         * increment before it. */
        CHECK_EQ(__atomic_load_n(&work, __ATOMIC_RELAXED), NW);
        CHECK_EQ(__atomic_load_n(&wg.state, __ATOMIC_SEQ_CST), 0);
    }
}

/* Several goroutines wait on one group; one Done releases all of them. */
static gort_waitgroup gate, released;
static int passed;

static void gate_waiter(void *arg)
{
    (void)arg;
    gort_wg_wait(&gate);
    __atomic_fetch_add(&passed, 1, __ATOMIC_RELAXED);
    gort_wg_done(&released);
}

static void test_many_waiters(void)
{
    for (int r = 0; r < 5; r++) {
        __atomic_store_n(&passed, 0, __ATOMIC_RELAXED);
        gort_wg_add(&gate, 1);
        gort_wg_add(&released, NWAITERS);
        for (int i = 0; i < NWAITERS; i++)
            CHECK_EQ(gort_go(gate_waiter, NULL), 0);
        /* All of them registered as waiters (low 32 bits of state). */
        while ((uint32_t)__atomic_load_n(&gate.state, __ATOMIC_SEQ_CST) != NWAITERS)
            gort_yield();
        CHECK_EQ(__atomic_load_n(&passed, __ATOMIC_RELAXED), 0);
        gort_wg_done(&gate);
        gort_wg_wait(&released);
        CHECK_EQ(__atomic_load_n(&passed, __ATOMIC_RELAXED), NWAITERS);
        CHECK_EQ(gate.state, 0);
        CHECK_EQ(gate.sema, 0);
    }
}

/* ---- misuse ---- */

static void negative_main(void *arg)
{
    gort_waitgroup w = GORT_WAITGROUP_INIT;
    if (arg)
        gort_wg_add(&w, 1);
    gort_wg_add(&w, arg ? -2 : -1);
}

static void child_negative(void *arg)
{
    gort_main(negative_main, arg);
    _exit(0);
}

static gort_waitgroup rw;

static void reuse_waiter(void *arg)
{
    (void)arg;
    gort_wg_wait(&rw);
}

/* On one P: Done readies the waiter into our runnext, and we Add again
 * before it runs, so it wakes to a non-zero state. */
static void reuse_main(void *arg)
{
    (void)arg;
    gort_maxprocs(1);
    gort_wg_add(&rw, 1);
    gort_go(reuse_waiter, NULL);
    while ((uint32_t)__atomic_load_n(&rw.state, __ATOMIC_SEQ_CST) != 1)
        gort_yield();
    gort_wg_done(&rw);
    gort_wg_add(&rw, 1);
    gort_yield();
    gort_sleep(100 * 1000 * 1000); /* the waiter must have thrown by now */
}

static void child_reuse(void *arg)
{
    (void)arg;
    gort_main(reuse_main, NULL);
    _exit(0);
}

static void main_g(void *arg)
{
    (void)arg;
    gort_maxprocs(2);
    test_zero();
    test_many_workers();
    test_many_waiters();
}

int main(void)
{
    expect_child(child_negative, NULL, -1,
                 "gort: fatal error: sync: negative WaitGroup counter", NULL);
    expect_child(child_negative, (void *)1, -1,
                 "gort: fatal error: sync: negative WaitGroup counter", NULL);
    expect_child(child_reuse, NULL, -1,
                 "gort: fatal error: sync: WaitGroup is reused before previous Wait has returned",
                 NULL);
    run_main(main_g, NULL);
    printf("test_waitgroup: ok\n");
    return 0;
}
