/* Deadlock detection: every goroutine blocked with nothing to wake them
 * prints Go's message and exits with status 2; a blocked goroutine that a
 * timer or another thread will wake is not a deadlock. */
#include "check.h"
#include <pthread.h>

static void block_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(0, 0);
    int v;
    gort_chan_recv(c, &v); /* nobody will ever send */
}

static void blocked_pair(void *arg)
{
    gort_chan *c = arg;
    gort_chan_send(c, NULL);
}

static void block_many(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(0, 0);
    for (int i = 0; i < 10; i++)
        gort_go(blocked_pair, c); /* senders with no receiver */
    gort_chan *never = gort_chan_make(0, 0);
    gort_chan_recv(never, NULL);
}

static void child_deadlock(void *arg)
{
    exit(gort_main(arg, NULL) == 0 ? 0 : 3);
}

static gort_chan *late;
static void *late_sender(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);
    int v = 7;
    gort_chan_send(late, &v);
    return NULL;
}

static void woken_later(void *arg)
{
    (void)arg;
    /* Blocked for 200 ms, but a thread will send: not a deadlock. */
    late = gort_chan_make(sizeof(int), 0);
    pthread_t th;
    pthread_create(&th, NULL, late_sender, NULL);
    int v = 0;
    CHECK(gort_chan_recv(late, &v));
    CHECK_EQ(v, 7);
    pthread_join(th, NULL);
    /* Blocked on a timer only: not a deadlock either. */
    gort_sleep(100000000);
}

int main(void)
{
    expect_child(child_deadlock, (void *)block_main, 2,
                 "gort: fatal error: all goroutines are asleep - deadlock!", "goroutine 1 [");
    expect_child(child_deadlock, (void *)block_many, 2,
                 "all goroutines are asleep - deadlock!", "chan send");
    run_main(woken_later, NULL);
    return 0;
}
