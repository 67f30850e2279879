/*
 * test_sync_foreign.c — plain pthreads (not goroutines) using gort_mutex,
 * gort_waitgroup, gort_once and gort_cond together with goroutines: shared
 * counter under contention, threads waiting on a group goroutines release
 * (and the reverse), a thread <-> goroutine ping-pong on a cond, and one
 * broadcast waking a mix of thread and goroutine waiters.
 */
#include "check.h"

#include <pthread.h>

enum { NF = 4, NG = 8, ITERS = 5000, ROUNDS = 2000, NMIX = 6 };

static gort_mutex mu;
static long counter;
static gort_waitgroup done_wg; /* everyone, threads and goroutines */
static gort_waitgroup gate;    /* threads wait here for the goroutines */
static gort_once once;
static int once_runs;

static void once_fn(void *arg)
{
    (void)arg;
    __atomic_fetch_add(&once_runs, 1, __ATOMIC_RELAXED);
}

static void hammer(int yield_every)
{
    for (int i = 0; i < ITERS; i++) {
        gort_mutex_lock(&mu);
        long v = *(volatile long *)&counter;
        if (yield_every && i % yield_every == 0)
            gort_yield();
        *(volatile long *)&counter = v + 1;
        gort_mutex_unlock(&mu);
    }
}

static void *thread_counter(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_self(), 0); /* really not a goroutine */
    gort_wg_wait(&gate);      /* blocks this thread until goroutines open it */
    gort_once_do(&once, once_fn, NULL);
    hammer(0);
    gort_wg_done(&done_wg);
    return NULL;
}

static void g_counter(void *arg)
{
    (void)arg;
    gort_once_do(&once, once_fn, NULL);
    hammer(50);
    gort_wg_done(&done_wg);
}

static void g_open_gate(void *arg)
{
    (void)arg;
    gort_wg_done(&gate);
}

static void test_counter(void)
{
    pthread_t th[NF];
    gort_wg_add(&gate, 1);
    gort_wg_add(&done_wg, NF + NG);
    for (int i = 0; i < NF; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, thread_counter, NULL), 0);
    /* Wait (without sleeping the test into passing) until every thread is
     * parked on the gate, so the release really wakes blocked threads. */
    while ((uint32_t)__atomic_load_n(&gate.state, __ATOMIC_SEQ_CST) != NF)
        gort_yield();
    CHECK_EQ(gort_go(g_open_gate, NULL), 0);
    for (int i = 0; i < NG; i++)
        CHECK_EQ(gort_go(g_counter, NULL), 0);
    gort_wg_wait(&done_wg); /* the main goroutine waits on threads too */
    CHECK_EQ(counter, (long)(NF + NG) * ITERS);
    CHECK_EQ(once_runs, 1);
    CHECK_EQ(mu.state, 0);
    for (int i = 0; i < NF; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
}

/* ---- ping-pong: a thread and a goroutine take turns on one cond ---- */

static gort_mutex pm;
static gort_cond pc;
static int turn; /* 0: goroutine's move, 1: thread's move; under pm */
static int moves;
static gort_waitgroup pp_wg;

static void play(int me)
{
    for (int i = 0; i < ROUNDS; i++) {
        gort_mutex_lock(&pm);
        while (turn != me)
            gort_cond_wait(&pc, &pm);
        moves++;
        turn = 1 - me;
        gort_cond_signal(&pc); /* only the other player can be waiting */
        gort_mutex_unlock(&pm);
    }
}

static void *thread_player(void *arg)
{
    (void)arg;
    play(1);
    gort_wg_done(&pp_wg);
    return NULL;
}

static void g_player(void *arg)
{
    (void)arg;
    play(0);
    gort_wg_done(&pp_wg);
}

static void test_pingpong(void)
{
    pthread_t th;
    gort_wg_add(&pp_wg, 2);
    CHECK_EQ(pthread_create(&th, NULL, thread_player, NULL), 0);
    CHECK_EQ(gort_go(g_player, NULL), 0);
    gort_wg_wait(&pp_wg);
    CHECK_EQ(moves, 2 * ROUNDS);
    CHECK_EQ(pthread_join(th, NULL), 0);
}

/* ---- one broadcast wakes thread and goroutine waiters alike ---- */

static gort_mutex bm;
static gort_cond bc;
static bool go_flag;
static int nready, nwoke;
static gort_waitgroup b_wg;

static void mixed_wait(void)
{
    gort_mutex_lock(&bm);
    nready++;
    while (!go_flag)
        gort_cond_wait(&bc, &bm);
    nwoke++;
    gort_mutex_unlock(&bm);
    gort_wg_done(&b_wg);
}

static void *thread_mixed(void *arg)
{
    (void)arg;
    mixed_wait();
    return NULL;
}

static void g_mixed(void *arg)
{
    (void)arg;
    mixed_wait();
}

static void test_mixed_broadcast(void)
{
    pthread_t th[NMIX];
    gort_wg_add(&b_wg, 2 * NMIX);
    for (int i = 0; i < NMIX; i++) {
        CHECK_EQ(pthread_create(&th[i], NULL, thread_mixed, NULL), 0);
        CHECK_EQ(gort_go(g_mixed, NULL), 0);
    }
    for (;;) {
        gort_mutex_lock(&bm);
        int r = nready;
        gort_mutex_unlock(&bm);
        if (r == 2 * NMIX)
            break;
        gort_yield();
    }
    gort_mutex_lock(&bm);
    CHECK_EQ(nwoke, 0);
    go_flag = true;
    gort_cond_broadcast(&bc);
    gort_mutex_unlock(&bm);
    gort_wg_wait(&b_wg);
    CHECK_EQ(nwoke, 2 * NMIX);
    for (int i = 0; i < NMIX; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
}

/* ---- a thread waits for goroutines it did not start ---- */

static gort_waitgroup t_wg, t_done;
static int t_work;
static long t_seen;

static void g_work(void *arg)
{
    (void)arg;
    __atomic_fetch_add(&t_work, 1, __ATOMIC_RELAXED);
    gort_wg_done(&t_wg);
}

static void *thread_waits(void *arg)
{
    (void)arg;
    gort_wg_wait(&t_wg);
    t_seen = __atomic_load_n(&t_work, __ATOMIC_RELAXED);
    gort_wg_done(&t_done);
    return NULL;
}

static void test_thread_waits_for_goroutines(void)
{
    pthread_t th;
    gort_wg_add(&t_wg, 50);
    gort_wg_add(&t_done, 1);
    CHECK_EQ(pthread_create(&th, NULL, thread_waits, NULL), 0);
    for (int i = 0; i < 50; i++)
        CHECK_EQ(gort_go(g_work, NULL), 0);
    gort_wg_wait(&t_done); /* park, not block the M, while workers run */
    CHECK_EQ(t_seen, 50);
    CHECK_EQ(pthread_join(th, NULL), 0);
}

static void main_g(void *arg)
{
    (void)arg;
    gort_maxprocs(2);
    test_counter();
    test_pingpong();
    test_mixed_broadcast();
    test_thread_waits_for_goroutines();
}

int main(void)
{
    run_main(main_g, NULL);
    printf("test_sync_foreign: ok\n");
    return 0;
}
