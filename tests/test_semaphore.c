/*
 * test_semaphore.c — gort_semaphore (x/sync/semaphore's Weighted): try and
 * static forms; weighted acquire waits until enough units are back; FIFO
 * fairness (a queued large request is not overtaken by later small ones
 * that would fit, and is served before them); a large request is not
 * starved by a stream of small ones; deadlines (expiry leaves the units
 * alone, a timed-out head lets the ones behind it in, a past deadline fails
 * at once, a request larger than the semaphore waits for its deadline
 * without holding anybody back); deadline against release races; the
 * units-in-use invariant under mixed load from goroutines and plain
 * threads (threads with deadlines too); misuse is a fatal error.
 */
#include "check.h"
#include "misuse_child.h"
#include "semaphore_util.h"

#include <pthread.h>

#define MS (1000 * 1000LL)

/* ---- basics ---- */

static gort_semaphore st = GORT_SEMAPHORE_INIT(3);

static void test_basic(void)
{
    CHECK(gort_semaphore_tryacquire(&st, 2));
    CHECK(!gort_semaphore_tryacquire(&st, 2));
    CHECK(gort_semaphore_tryacquire(&st, 1));
    CHECK(gort_semaphore_tryacquire(&st, 0));
    CHECK(!gort_semaphore_tryacquire(&st, 1));
    gort_semaphore_release(&st, 3);
    CHECK_EQ(cur_of(&st), 0);
    gort_semaphore_acquire(&st, 3);
    gort_semaphore_release(&st, 1);
    gort_semaphore_release(&st, 2);
    CHECK_EQ(gort_semaphore_acquire_until(&st, 3, gort_nanotime() + 1000 * MS), 0);
    gort_semaphore_release(&st, 3);
    CHECK_EQ(gort_semaphore_acquire_until(&st, 1, -1), 0);
    gort_semaphore_release(&st, 1);

    gort_semaphore s;
    gort_semaphore_init(&s, 0);
    CHECK(gort_semaphore_tryacquire(&s, 0));
    CHECK(!gort_semaphore_tryacquire(&s, 1));
    CHECK(s.head == NULL && s.tail == NULL && s.lock == 0);
}

/* ---- weighted acquire ---- */

static gort_semaphore ws;
static gort_waitgroup w_wg;
static int w_got;

static void want5(void *arg)
{
    (void)arg;
    gort_semaphore_acquire(&ws, 5);
    __atomic_store_n(&w_got, 1, __ATOMIC_SEQ_CST);
    gort_wg_done(&w_wg);
}

static void test_weighted(void)
{
    gort_semaphore_init(&ws, 10);
    gort_semaphore_acquire(&ws, 7);
    gort_wg_add(&w_wg, 1);
    CHECK_EQ(gort_go(want5, NULL), 0);
    wait_queued(&ws, 1); /* 3 free: it waits */
    gort_semaphore_release(&ws, 1);
    for (int i = 0; i < 50; i++)
        gort_yield();
    CHECK_EQ(__atomic_load_n(&w_got, __ATOMIC_SEQ_CST), 0); /* 4 free: still waits */
    CHECK_EQ(queued(&ws), 1);
    gort_semaphore_release(&ws, 1); /* 5 free: granted by this release */
    CHECK_EQ(cur_of(&ws), 10);
    gort_wg_wait(&w_wg);
    CHECK_EQ(w_got, 1);
    gort_semaphore_release(&ws, 10);
    CHECK_EQ(cur_of(&ws), 0);
}

/* ---- FIFO: no overtaking, served in arrival order ---- */

static gort_semaphore fs;
static gort_waitgroup f_wg;
static char f_order[8];
static int f_n;

static void fifo_waiter(void *arg)
{
    long want = (long)arg;
    gort_semaphore_acquire(&fs, want);
    f_order[__atomic_fetch_add(&f_n, 1, __ATOMIC_SEQ_CST)] = (char)('0' + want);
    gort_wg_done(&f_wg);
}

static void test_fifo(void)
{
    gort_semaphore_init(&fs, 10);
    gort_semaphore_acquire(&fs, 10);
    gort_wg_add(&f_wg, 3);
    CHECK_EQ(gort_go(fifo_waiter, (void *)8L), 0);
    wait_queued(&fs, 1);
    CHECK_EQ(gort_go(fifo_waiter, (void *)1L), 0);
    wait_queued(&fs, 2);
    CHECK_EQ(gort_go(fifo_waiter, (void *)2L), 0);
    wait_queued(&fs, 3);
    /* 3 free: enough for the 1 and the 2 behind, not for the 8 ahead. */
    gort_semaphore_release(&fs, 3);
    CHECK_EQ(cur_of(&fs), 7);
    CHECK_EQ(queued(&fs), 3);
    CHECK(!gort_semaphore_tryacquire(&fs, 1)); /* nor for a newcomer */
    CHECK(!gort_semaphore_tryacquire(&fs, 0));
    for (int i = 0; i < 50; i++)
        gort_yield();
    CHECK_EQ(__atomic_load_n(&f_n, __ATOMIC_SEQ_CST), 0);
    /* 8 free: the 8 goes first; the others wait behind it. */
    gort_semaphore_release(&fs, 5);
    CHECK_EQ(cur_of(&fs), 10);
    CHECK_EQ(queued(&fs), 2);
    while (__atomic_load_n(&f_n, __ATOMIC_SEQ_CST) < 1)
        gort_yield();
    /* Our last 2 back: the 1 fits, the 2 behind it not in the 1 left. */
    gort_semaphore_release(&fs, 2);
    CHECK_EQ(cur_of(&fs), 9);
    CHECK_EQ(queued(&fs), 1);
    while (__atomic_load_n(&f_n, __ATOMIC_SEQ_CST) < 2)
        gort_yield();
    gort_semaphore_release(&fs, 1); /* one of the 8's units: the 2 fits */
    gort_wg_wait(&f_wg);
    CHECK(memcmp(f_order, "812", 3) == 0, "order %.3s", f_order);
    CHECK_EQ(cur_of(&fs), 10);
    CHECK_EQ(queued(&fs), 0);
}

/* ---- a large request is not starved by a stream of small ones ---- */

enum { SMALL = 6 };
static gort_semaphore ls;
static int l_stop;
static gort_waitgroup l_wg;
static long l_small_ops;

static void small_user(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&l_stop, __ATOMIC_SEQ_CST)) {
        gort_semaphore_acquire(&ls, 1);
        gort_yield(); /* hold it a while: the pool is rarely all free */
        __atomic_add_fetch(&l_small_ops, 1, __ATOMIC_RELAXED);
        gort_semaphore_release(&ls, 1);
    }
    gort_wg_done(&l_wg);
}

static void test_large_not_starved(void)
{
    watchdog_phase("a large request against a stream of small ones");
    gort_semaphore_init(&ls, 4);
    gort_wg_add(&l_wg, SMALL);
    for (int i = 0; i < SMALL; i++)
        CHECK_EQ(gort_go(small_user, NULL), 0);
    while (__atomic_load_n(&l_small_ops, __ATOMIC_RELAXED) < 100)
        gort_yield();
    for (int i = 0; i < 50; i++) {
        gort_semaphore_acquire(&ls, 4);
        CHECK_EQ(cur_of(&ls), 4);
        gort_semaphore_release(&ls, 4);
    }
    __atomic_store_n(&l_stop, 1, __ATOMIC_SEQ_CST);
    gort_wg_wait(&l_wg);
    CHECK_EQ(cur_of(&ls), 0);
}

/* ---- deadlines ---- */

static gort_semaphore ds;
static gort_waitgroup d_wg;
static int d_res = -1;
static int64_t d_at;

static void timed_head(void *arg)
{
    (void)arg;
    __atomic_store_n(&d_at, gort_nanotime() + 30 * MS, __ATOMIC_SEQ_CST);
    d_res = gort_semaphore_acquire_until(&ds, 8, __atomic_load_n(&d_at, __ATOMIC_SEQ_CST));
    gort_wg_done(&d_wg);
}

static void test_deadline(void)
{
    watchdog_phase("deadlines");
    gort_semaphore_init(&ds, 10);
    gort_semaphore_acquire(&ds, 9);

    /* Expiry: nothing taken, nothing left queued. */
    int64_t t0 = gort_nanotime();
    CHECK_EQ(gort_semaphore_acquire_until(&ds, 2, t0 + 20 * MS), ETIMEDOUT);
    CHECK(gort_nanotime() - t0 >= 20 * MS);
    CHECK_EQ(cur_of(&ds), 9);
    CHECK_EQ(queued(&ds), 0);

    /* A deadline already past fails even when the units are free. */
    CHECK_EQ(gort_semaphore_acquire_until(&ds, 1, gort_nanotime() - 1), ETIMEDOUT);
    CHECK_EQ(gort_semaphore_acquire_until(&ds, 0, 0), ETIMEDOUT);
    CHECK_EQ(cur_of(&ds), 9);

    /* A timed-out head lets the request behind it in. */
    gort_semaphore_release(&ds, 4); /* 5 free */
    int64_t got;
    for (int attempt = 0;; attempt++) {
        CHECK(attempt < 5, "the head never queued before its 30 ms deadline");
        __atomic_store_n(&d_res, -1, __ATOMIC_SEQ_CST);
        gort_wg_add(&d_wg, 1);
        CHECK_EQ(gort_go(timed_head, NULL), 0);
        /* A head stalled past its deadline before queueing fails at once
         * and never queues: wait for either, and try again then. */
        while (queued(&ds) != 1 && __atomic_load_n(&d_res, __ATOMIC_SEQ_CST) == -1)
            gort_yield();
        if (queued(&ds) != 1) {
            gort_wg_wait(&d_wg);
            continue;
        }
        gort_semaphore_acquire(&ds, 2); /* fits, but queues behind the 8 */
        got = gort_nanotime();
        gort_wg_wait(&d_wg);
        break;
    }
    CHECK_EQ(d_res, ETIMEDOUT);
    /* Its deadline (d_at) had passed when the 2 got in: a bound on the
     * order of the two events, not on how soon either woke after it. */
    CHECK(got >= d_at, "got the units %lld ns before the head's deadline",
          (long long)(d_at - got));
    CHECK_EQ(cur_of(&ds), 7);

    /* More than the semaphore holds: waits for the deadline, queues
     * nobody behind it. */
    t0 = gort_nanotime();
    CHECK_EQ(gort_semaphore_acquire_until(&ds, 11, t0 + 10 * MS), ETIMEDOUT);
    CHECK(gort_nanotime() - t0 >= 10 * MS);
    CHECK_EQ(queued(&ds), 0);
    gort_semaphore_release(&ds, 7);
    CHECK_EQ(cur_of(&ds), 0);
}

/* ---- deadline against release: exactly one of them decides ---- */

enum { RACE_ROUNDS = 2000 };
static gort_semaphore rs;
static int r_go;
static gort_waitgroup r_wg;

static void race_releaser(void *arg)
{
    /* Release at about the waiter's deadline: 0-60 us after the start. */
    int64_t delay = (long)arg;
    while (!__atomic_load_n(&r_go, __ATOMIC_SEQ_CST))
        gort_yield();
    int64_t until = gort_nanotime() + delay;
    while (gort_nanotime() < until)
        ;
    gort_semaphore_release(&rs, 2);
    gort_wg_done(&r_wg);
}

static void test_deadline_race(void)
{
    watchdog_phase("deadline against release");
    gort_semaphore_init(&rs, 2);
    int ok = 0, timedout = 0;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        gort_semaphore_acquire(&rs, 2);
        __atomic_store_n(&r_go, 0, __ATOMIC_SEQ_CST);
        gort_wg_add(&r_wg, 1);
        CHECK_EQ(gort_go(race_releaser, (void *)(long)(i * 37 % 60 * 1000)), 0);
        int64_t dl = gort_nanotime() + 1000 + (i % 50) * 1000;
        __atomic_store_n(&r_go, 1, __ATOMIC_SEQ_CST);
        int r = gort_semaphore_acquire_until(&rs, 1, dl);
        gort_wg_wait(&r_wg);
        CHECK_EQ(queued(&rs), 0);
        if (r == 0) {
            ok++;
            CHECK_EQ(cur_of(&rs), 1); /* granted: we hold exactly our unit */
            gort_semaphore_release(&rs, 1);
        } else {
            CHECK_EQ(r, ETIMEDOUT);
            timedout++;
            CHECK_EQ(cur_of(&rs), 0); /* timed out: nothing kept for us */
        }
    }
    CHECK_EQ(ok + timedout, RACE_ROUNDS);
    if (getenv("TEST_VERBOSE"))
        printf("deadline race: %d granted, %d timed out\n", ok, timedout);
    CHECK_EQ(cur_of(&rs), 0);
}

/* ---- mixed load, goroutines and threads ---- */

enum { MX_SIZE = 6, MX_G = 8, MX_T = 3, MX_ITERS = 3000 };
static gort_semaphore ms;
static int m_inuse;
static gort_waitgroup m_wg;
static int m_timeouts;

static void mixed(long id)
{
    bool thread = gort_self() == 0;
    for (int i = 0; i < MX_ITERS; i++) {
        int64_t n = 1 + (i + id) % 4;
        if (thread && i % 7 == 0) {
            /* A plain thread with a deadline: the timer lives on a P's
             * heap and wakes this thread. */
            if (gort_semaphore_acquire_until(&ms, n, gort_nanotime() + 20 * 1000) != 0) {
                __atomic_add_fetch(&m_timeouts, 1, __ATOMIC_RELAXED);
                continue;
            }
        } else if (i % 5 == 0) {
            if (!gort_semaphore_tryacquire(&ms, n))
                continue;
        } else {
            gort_semaphore_acquire(&ms, n);
        }
        int u = __atomic_add_fetch(&m_inuse, (int)n, __ATOMIC_SEQ_CST);
        CHECK(u <= MX_SIZE, "%d units in use", u);
        if (!thread && i % 16 == 0)
            gort_yield();
        __atomic_sub_fetch(&m_inuse, (int)n, __ATOMIC_SEQ_CST);
        gort_semaphore_release(&ms, n);
    }
    gort_wg_done(&m_wg);
}

static void g_mixed(void *arg)
{
    mixed((long)arg);
}

static void *t_mixed(void *arg)
{
    mixed((long)arg);
    return NULL;
}

static void test_mixed(void)
{
    watchdog_phase("mixed goroutines and threads");
    gort_semaphore_init(&ms, MX_SIZE);
    pthread_t th[MX_T];
    gort_wg_add(&m_wg, MX_G + MX_T);
    for (long i = 0; i < MX_T; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, t_mixed, (void *)(100 + i)), 0);
    for (long i = 0; i < MX_G; i++)
        CHECK_EQ(gort_go(g_mixed, (void *)i), 0);
    gort_wg_wait(&m_wg);
    for (int i = 0; i < MX_T; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    CHECK_EQ(cur_of(&ms), 0);
    CHECK_EQ(queued(&ms), 0);
    CHECK_EQ(m_inuse, 0);
}

/* A thread blocked in acquire is woken by a goroutine's release, and a
 * thread's deadline expires on its own. */
static gort_semaphore ts = GORT_SEMAPHORE_INIT(1);
static int t_res = -1;
static int t_phase;

static void *thread_acquirer(void *arg)
{
    (void)arg;
    int64_t t0 = gort_nanotime();
    CHECK_EQ(gort_semaphore_acquire_until(&ts, 1, t0 + 10 * MS), ETIMEDOUT);
    CHECK(gort_nanotime() - t0 >= 10 * MS);
    __atomic_store_n(&t_phase, 1, __ATOMIC_SEQ_CST);
    gort_semaphore_acquire(&ts, 1); /* blocks the thread until released */
    t_res = 0;
    gort_semaphore_release(&ts, 1);
    return NULL;
}

static void test_thread(void)
{
    watchdog_phase("a thread waits");
    gort_semaphore_acquire(&ts, 1);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, thread_acquirer, NULL), 0);
    /* Past its timed wait, and queued in its plain one. */
    while (!__atomic_load_n(&t_phase, __ATOMIC_SEQ_CST))
        gort_yield();
    wait_queued(&ts, 1);
    gort_semaphore_release(&ts, 1);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(t_res, 0);
    CHECK_EQ(cur_of(&ts), 0);
}

/* ---- misuse ---- */

enum { BAD_RELEASE, BAD_RELEASE_MORE, BAD_NEGATIVE, BAD_TOO_BIG };

static __attribute__((noinline)) void misuse(long kind)
{
    gort_semaphore s = GORT_SEMAPHORE_INIT(4);
    switch (kind) {
    case BAD_RELEASE:
        gort_semaphore_release(&s, 1);
        break;
    case BAD_RELEASE_MORE:
        gort_semaphore_acquire(&s, 2);
        gort_semaphore_release(&s, 3);
        break;
    case BAD_NEGATIVE:
        gort_semaphore_acquire(&s, -1);
        break;
    case BAD_TOO_BIG:
        gort_semaphore_acquire(&s, 5);
        break;
    }
}

static void main_g(void *arg)
{
    (void)arg;
    test_basic();
    test_weighted();
    test_fifo();
    test_large_not_starved();
    test_deadline();
    test_deadline_race();
    test_mixed();
    test_thread();
}

int main(void)
{
    const char *more = "gort: fatal error: semaphore: released more than held";
    const char *tb = "misuse";
    expect_child(child_misuse, (void *)BAD_RELEASE, 2, more, tb);
    expect_child(child_misuse, (void *)BAD_RELEASE_MORE, 2, more, tb);
    expect_child(child_misuse, (void *)BAD_NEGATIVE, 2,
                 "gort: fatal error: semaphore: negative weight", tb);
    expect_child(child_misuse, (void *)BAD_TOO_BIG, 2,
                 "gort: fatal error: semaphore: acquire of 5 units can never succeed", tb);
    expect_child(child_misuse_thread, (void *)BAD_RELEASE, -1, more, tb);

    watchdog_start("test_semaphore", 60);
    run_main(main_g, NULL);
    alarm(0);
    printf("test_semaphore: ok\n");
    return 0;
}
