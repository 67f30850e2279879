/*
 * test_once.c — gort_once: runs exactly once sequentially and under heavy
 * concurrency on 2 Ps; every caller returns only after fn finished and sees
 * its effects; separate onces are independent.
 */
#include "check.h"

enum { NG = 100, NONCES = 64 };

static int calls;
static void incr(void *arg)
{
    (void)arg;
    __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
}

static void test_sequential(void)
{
    gort_once o = GORT_ONCE_INIT;
    gort_once_do(&o, incr, NULL);
    gort_once_do(&o, incr, NULL);
    gort_once_do(&o, incr, NULL);
    CHECK_EQ(calls, 1);
}

/* fn is slow (it sleeps and yields), so the other callers really pile up
 * on the once's mutex instead of all arriving after it finished. */
static gort_once slow_once;
static int slow_runs;
static long published; /* written by fn, plain store */

static void slow_init(void *arg)
{
    CHECK_EQ(__atomic_add_fetch(&slow_runs, 1, __ATOMIC_RELAXED), 1);
    gort_yield();
    gort_sleep(2 * 1000 * 1000);
    published = (long)arg;
}

static gort_once many[NONCES];
static int many_runs[NONCES];
static void count_idx(void *arg)
{
    __atomic_fetch_add(&many_runs[(long)arg], 1, __ATOMIC_RELAXED);
}

static gort_waitgroup wg;

static void caller(void *arg)
{
    long id = (long)arg;
    gort_once_do(&slow_once, slow_init, (void *)4242);
    CHECK_EQ(published, 4242); /* fn's effects are visible after Do */
    for (int k = 0; k < NONCES; k++) {
        int i = (int)((k + id) % NONCES);
        gort_once_do(&many[i], count_idx, (void *)(long)i);
        CHECK_EQ(__atomic_load_n(&many_runs[i], __ATOMIC_RELAXED), 1);
    }
    gort_wg_done(&wg);
}

static void test_concurrent(void)
{
    gort_wg_add(&wg, NG);
    for (long i = 0; i < NG; i++)
        CHECK_EQ(gort_go(caller, (void *)i), 0);
    gort_wg_wait(&wg);
    CHECK_EQ(slow_runs, 1);
    for (int i = 0; i < NONCES; i++) {
        CHECK_EQ(many_runs[i], 1);
        CHECK_EQ(many[i].done, 1);
        CHECK_EQ(many[i].m.state, 0);
    }
}

/* fn may itself use other onces (but not its own: that deadlocks, as in
 * Go). */
static gort_once outer, inner;
static int inner_runs;
static void inner_fn(void *arg) { (void)arg; inner_runs++; }
static void outer_fn(void *arg)
{
    (void)arg;
    gort_once_do(&inner, inner_fn, NULL);
}

static void main_g(void *arg)
{
    (void)arg;
    gort_maxprocs(2);
    test_sequential();
    test_concurrent();
    gort_once_do(&outer, outer_fn, NULL);
    gort_once_do(&outer, outer_fn, NULL);
    CHECK_EQ(inner_runs, 1);
}

int main(void)
{
    run_main(main_g, NULL);
    printf("test_once: ok\n");
    return 0;
}
