/*
 * test_chan_foreign.c — plain pthreads (not goroutines) talking to
 * goroutines over channels: a thread blocks in send until a goroutine
 * receives and in recv until a goroutine sends, threads and goroutines
 * fan messages into one channel, a thread blocks in select (with and
 * without a timeout), and a thread is woken by close.  The goroutine side
 * learns that a thread finished through a channel, so no goroutine ever
 * blocks its M in pthread_join while the thread still needs it.
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

enum { THREADS = 4, PER = 5000 };

static gort_chan *to_go, *from_go, *done;

/* Echo server on goroutines: doubles what the threads send. */
static void echo(void *arg)
{
    (void)arg;
    long v;
    while (gort_chan_recv(to_go, &v)) {
        v *= 2;
        gort_chan_send(from_go, &v);
    }
}

/* Each thread sends PER requests and checks PER replies.  Replies may go
 * to any thread, so each checks only that replies are even and counts
 * them, and the sum is checked globally. */
static _Atomic long reply_sum, reply_count;
/* Clients exit together, after all have reported: a thread exiting while
 * others still work is not what this test is about (and it stresses the
 * scheduler's thread accounting in checkdead, not channels). */
static pthread_barrier_t exit_together;

static void *client(void *arg)
{
    long id = (long)(intptr_t)arg;
    for (long k = 0; k < PER; k++) {
        long v = id * PER + k;
        gort_chan_send(to_go, &v);
        long r = -1;
        CHECK(gort_chan_recv(from_go, &r));
        CHECK(r % 2 == 0);
        atomic_fetch_add(&reply_sum, r);
        atomic_fetch_add(&reply_count, 1);
    }
    CHECK(gort_self() == 0);
    gort_chan_send(done, &id);
    pthread_barrier_wait(&exit_together);
    return NULL;
}

/* A thread blocked in select, first with a timeout that expires, then
 * until a goroutine sends, then woken by close. */
static gort_chan *sel_a, *sel_b;

static void *selector(void *arg)
{
    (void)arg;
    int va = 0, vb = 0;
    gort_case cs[2] = {
        {.chan = sel_a, .op = GORT_RECV, .elem = &va},
        {.chan = sel_b, .op = GORT_RECV, .elem = &vb},
    };
    int64_t t0 = gort_nanotime();
    CHECK_EQ(gort_select(cs, 2, 5000000), -1);
    CHECK(gort_nanotime() - t0 >= 5000000);
    CHECK_EQ(gort_select(cs, 2, 0), -1);

    long ready = 1;
    gort_chan_send(done, &ready); /* tell the goroutine to send on sel_b */
    CHECK_EQ(gort_select(cs, 2, -1), 1);
    CHECK(cs[1].ok);
    CHECK_EQ(vb, 99);

    gort_chan_send(done, &ready); /* tell it to close sel_a */
    CHECK_EQ(gort_select(cs, 2, -1), 0);
    CHECK(!cs[0].ok);
    /* Plain blocking receive on a closed channel from a thread. */
    CHECK(!gort_chan_recv(sel_a, &va));
    gort_chan_send(done, &ready);
    return NULL;
}

static void gmain(void *arg)
{
    (void)arg;
    to_go = gort_chan_make(sizeof(long), 0);
    from_go = gort_chan_make(sizeof(long), 3);
    done = gort_chan_make(sizeof(long), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(gort_go(echo, NULL), 0);

    pthread_t th[THREADS];
    CHECK_EQ(pthread_barrier_init(&exit_together, NULL, THREADS), 0);
    for (long i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, client, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++) {
        long id;
        CHECK(gort_chan_recv(done, &id));
    }
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0); /* they are at the barrier */
    pthread_barrier_destroy(&exit_together);
    long n = (long)THREADS * PER;
    CHECK_EQ(atomic_load(&reply_count), n);
    CHECK_EQ(atomic_load(&reply_sum), n * (n - 1)); /* 2 * sum(0..n-1) */
    gort_chan_close(to_go);

    sel_a = gort_chan_make(sizeof(int), 0);
    sel_b = gort_chan_make(sizeof(int), 0);
    pthread_t st;
    CHECK_EQ(pthread_create(&st, NULL, selector, NULL), 0);
    long r;
    CHECK(gort_chan_recv(done, &r));
    int v = 99;
    gort_chan_send(sel_b, &v); /* the thread may or may not be parked yet */
    CHECK(gort_chan_recv(done, &r));
    gort_chan_close(sel_a);
    CHECK(gort_chan_recv(done, &r));
    CHECK_EQ(pthread_join(st, NULL), 0);

    gort_chan_free(sel_a);
    gort_chan_free(sel_b);
    printf("test_chan_foreign: ok\n");
}

int main(void)
{
    run_main(gmain, NULL);
    return 0;
}
