/*
 * test_mutex.c — gort_mutex: basic calls, trylock, mutual exclusion under
 * heavy contention on 2 Ps, entering and leaving starvation mode, unlock
 * from another goroutine, and unlock-of-unlocked misuse.
 */
#include "check.h"

#include <pthread.h>

enum { MUTEX_LOCKED = 1, MUTEX_WOKEN = 2, MUTEX_STARVING = 4, WAITER_SHIFT = 3 };

static int32_t load_state(gort_mutex *m)
{
    return __atomic_load_n(&m->state, __ATOMIC_SEQ_CST);
}

/* ---- basics ---- */

static gort_mutex zeroed; /* static zero: must be usable as is */

static void test_basic(void)
{
    gort_mutex_lock(&zeroed);
    CHECK(!gort_mutex_trylock(&zeroed));
    gort_mutex_unlock(&zeroed);
    CHECK(gort_mutex_trylock(&zeroed));
    CHECK(!gort_mutex_trylock(&zeroed));
    gort_mutex_unlock(&zeroed);
    CHECK_EQ(load_state(&zeroed), 0);

    gort_mutex m = GORT_MUTEX_INIT;
    for (int i = 0; i < 1000; i++) {
        gort_mutex_lock(&m);
        gort_mutex_unlock(&m);
    }
    CHECK_EQ(load_state(&m), 0);
    CHECK_EQ(m.sema, 0);
}

/* ---- contention ---- */

enum { NG = 64, ITERS = 3000 };

static gort_mutex cm;
static long counter;          /* protected by cm, deliberately non-atomic */
static int inside;            /* holders right now, must stay <= 1 */
static gort_waitgroup cwg;

static void contender(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < ITERS; i++) {
        if (id % 4 == 0 && i % 8 == 0) {
            if (!gort_mutex_trylock(&cm))
                gort_mutex_lock(&cm);
        } else {
            gort_mutex_lock(&cm);
        }
        CHECK_EQ(__atomic_add_fetch(&inside, 1, __ATOMIC_RELAXED), 1);
        long v = *(volatile long *)&counter;
        if (i % 64 == 0)
            gort_yield(); /* hold the lock across a reschedule */
        *(volatile long *)&counter = v + 1;
        CHECK_EQ(__atomic_sub_fetch(&inside, 1, __ATOMIC_RELAXED), 0);
        gort_mutex_unlock(&cm);
    }
    gort_wg_done(&cwg);
}

static void test_contention(void)
{
    gort_wg_add(&cwg, NG);
    for (long i = 0; i < NG; i++)
        CHECK_EQ(gort_go(contender, (void *)i), 0);
    gort_wg_wait(&cwg);
    CHECK_EQ(counter, (long)NG * ITERS);
    CHECK_EQ(load_state(&cm), 0);
}

/* ---- starvation mode, driven deterministically on one P ---- */

static gort_mutex sm;
static int starve_done;

static void starver(void *arg)
{
    (void)arg;
    gort_mutex_lock(&sm);
    /* We got here by handoff (see test_starvation); the mode is left
     * because we were the last waiter. */
    CHECK_EQ(load_state(&sm), MUTEX_LOCKED);
    gort_mutex_unlock(&sm);
    __atomic_store_n(&starve_done, 1, __ATOMIC_SEQ_CST);
}

static void test_starvation(void)
{
    int prev = gort_maxprocs(1);
    gort_mutex_lock(&sm);
    CHECK_EQ(gort_go(starver, NULL), 0);
    /* Wait until the starver is queued on the semaphore. */
    while ((load_state(&sm) >> WAITER_SHIFT) != 1)
        gort_yield();
    gort_sleep(3 * 1000 * 1000); /* make its wait exceed the 1ms threshold */
    /* Unlock wakes it into our P's runnext; relocking at once barges past
     * it, so when it runs it finds the lock held after starving > 1ms. */
    gort_mutex_unlock(&sm);
    gort_mutex_lock(&sm);
    while ((load_state(&sm) & MUTEX_STARVING) == 0 ||
           (load_state(&sm) >> WAITER_SHIFT) != 1)
        gort_yield();
    CHECK_EQ(load_state(&sm), MUTEX_LOCKED | MUTEX_STARVING | (1 << WAITER_SHIFT));
    /* Unlock in starvation mode hands the lock over directly. */
    gort_mutex_unlock(&sm);
    while (!__atomic_load_n(&starve_done, __ATOMIC_SEQ_CST))
        gort_yield();
    CHECK_EQ(load_state(&sm), 0);
    CHECK_EQ(sm.sema, 0);
    gort_maxprocs(prev);
}

/* ---- starvation under real contention: exclusivity and clean exit ---- */

static gort_mutex hm;
static long hcount;
static gort_waitgroup hwg;

static void slow_holder(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < 20; i++) {
        gort_mutex_lock(&hm);
        CHECK_EQ(__atomic_add_fetch(&inside, 1, __ATOMIC_RELAXED), 1);
        long v = hcount;
        if ((i + id) % 5 == 0)
            gort_sleep(1500 * 1000); /* long hold: waiters starve */
        hcount = v + 1;
        CHECK_EQ(__atomic_sub_fetch(&inside, 1, __ATOMIC_RELAXED), 0);
        gort_mutex_unlock(&hm);
    }
    gort_wg_done(&hwg);
}

static void test_starving_contention(void)
{
    gort_wg_add(&hwg, 8);
    for (long i = 0; i < 8; i++)
        CHECK_EQ(gort_go(slow_holder, (void *)i), 0);
    gort_wg_wait(&hwg);
    CHECK_EQ(hcount, 8 * 20);
    CHECK_EQ(load_state(&hm), 0);
}

/* ---- unlock by a different goroutine (allowed, as in Go) ---- */

static gort_mutex xm;
static gort_waitgroup xwg;

static void unlocker(void *arg)
{
    (void)arg;
    gort_mutex_unlock(&xm);
    gort_wg_done(&xwg);
}

static void test_cross_unlock(void)
{
    gort_mutex_lock(&xm);
    gort_wg_add(&xwg, 1);
    CHECK_EQ(gort_go(unlocker, NULL), 0);
    gort_wg_wait(&xwg);
    CHECK(gort_mutex_trylock(&xm));
    gort_mutex_unlock(&xm);
}

/* ---- misuse ---- */

static void bad_unlock_main(void *arg)
{
    gort_mutex m = GORT_MUTEX_INIT;
    if (arg) { /* double unlock */
        gort_mutex_lock(&m);
        gort_mutex_unlock(&m);
    }
    gort_mutex_unlock(&m);
}

static void child_bad_unlock(void *arg)
{
    gort_main(bad_unlock_main, arg);
    _exit(0); /* unreachable if the misuse is caught */
}

static void *bad_unlock_thread(void *arg)
{
    (void)arg;
    gort_mutex m = GORT_MUTEX_INIT;
    gort_mutex_unlock(&m);
    return NULL;
}

static void child_bad_unlock_foreign(void *arg)
{
    (void)arg;
    pthread_t t;
    pthread_create(&t, NULL, bad_unlock_thread, NULL);
    pthread_join(t, NULL);
    _exit(0);
}

static void main_g(void *arg)
{
    (void)arg;
    test_basic();
    test_starvation();
    gort_maxprocs(2);
    test_contention();
    test_starving_contention();
    test_cross_unlock();
}

int main(void)
{
    const char *msg = "gort: fatal error: sync: unlock of unlocked mutex";
    expect_child(child_bad_unlock, NULL, -1, msg, NULL);
    expect_child(child_bad_unlock, (void *)1, -1, msg, NULL);
    expect_child(child_bad_unlock_foreign, NULL, -1, msg, NULL);
    run_main(main_g, NULL);
    printf("test_mutex: ok\n");
    return 0;
}
