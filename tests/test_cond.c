/*
 * test_cond.c — gort_cond: signal/broadcast with no waiters, signal wakes
 * exactly one waiter and in FIFO order, broadcast wakes all, a signal sent
 * between a waiter's ticket and its park is not lost, and a bounded buffer
 * with many producers and consumers on 2 Ps.
 */
#include "check.h"

static gort_mutex mu;
static gort_cond cv;
static int nwaiting; /* waiters that took their ticket; under mu */
static int nwoken;   /* waiters that returned from wait; under mu */
static int order[64], norder;
static gort_waitgroup wg;

static int locked_read(int *p)
{
    gort_mutex_lock(&mu);
    int v = *p;
    gort_mutex_unlock(&mu);
    return v;
}

static void wait_until(int *p, int want)
{
    while (locked_read(p) != want)
        gort_yield();
}

static void waiter(void *arg)
{
    gort_mutex_lock(&mu);
    nwaiting++;
    gort_cond_wait(&cv, &mu); /* ticket taken before mu is released */
    nwoken++;
    order[norder++] = (int)(long)arg;
    gort_mutex_unlock(&mu);
    gort_wg_done(&wg);
}

static void reset(void)
{
    nwaiting = nwoken = norder = 0;
}

static void test_no_waiters(void)
{
    gort_cond c = GORT_COND_INIT;
    gort_cond_signal(&c);
    gort_cond_broadcast(&c);
    CHECK_EQ(c.wait, 0);
    CHECK_EQ(c.notify, 0);
}

/* Waiters are started one at a time so their tickets are in id order;
 * each signal must wake exactly the oldest. */
static void test_signal_fifo(void)
{
    enum { N = 10 };
    reset();
    gort_wg_add(&wg, N);
    for (long i = 0; i < N; i++) {
        CHECK_EQ(gort_go(waiter, (void *)i), 0);
        wait_until(&nwaiting, (int)i + 1);
    }
    for (int i = 0; i < N; i++) {
        gort_cond_signal(&cv);
        wait_until(&nwoken, i + 1);
        /* Give a spurious extra wakeup the chance to show. */
        for (int k = 0; k < 20; k++)
            gort_yield();
        CHECK_EQ(locked_read(&nwoken), i + 1);
    }
    gort_wg_wait(&wg);
    for (int i = 0; i < N; i++)
        CHECK_EQ(order[i], i);
    CHECK_EQ(cv.wait, cv.notify);
    CHECK(cv.head == NULL && cv.tail == NULL);
}

static void test_broadcast(void)
{
    enum { N = 40 };
    reset();
    gort_wg_add(&wg, N);
    for (long i = 0; i < N; i++)
        CHECK_EQ(gort_go(waiter, (void *)i), 0);
    wait_until(&nwaiting, N);
    CHECK_EQ(locked_read(&nwoken), 0);
    gort_cond_broadcast(&cv);
    gort_wg_wait(&wg);
    CHECK_EQ(nwoken, N);
    CHECK_EQ(cv.wait, cv.notify);
    /* Nothing left to wake. */
    gort_cond_signal(&cv);
    gort_cond_broadcast(&cv);
    CHECK_EQ(cv.wait, cv.notify);
}

/* The window between taking a ticket (under the user's mutex) and parking
 * cannot be held open from outside gort_cond_wait, so drive the notify list
 * directly (the runtime's hidden symbols link fine from the static
 * library): a signal or broadcast that lands in that window must make the
 * later wait return at once instead of sleeping forever. */
uint32_t gort__notifylist_add(gort_cond *c);
void gort__notifylist_wait(gort_cond *c, uint32_t ticket);

static void test_signal_before_park(void)
{
    gort_cond c = GORT_COND_INIT;
    uint32_t t0 = gort__notifylist_add(&c);
    uint32_t t1 = gort__notifylist_add(&c);
    CHECK_EQ(t0, 0);
    CHECK_EQ(t1, 1);
    gort_cond_signal(&c); /* serves ticket 0 only */
    CHECK_EQ(c.notify, 1);
    gort__notifylist_wait(&c, t0); /* returns: already served */
    uint32_t t2 = gort__notifylist_add(&c);
    gort_cond_broadcast(&c); /* serves 1 and 2 */
    CHECK_EQ(c.notify, 3);
    gort__notifylist_wait(&c, t2);
    gort__notifylist_wait(&c, t1);
    CHECK(c.head == NULL && c.tail == NULL);
    gort_cond_signal(&c); /* nothing outstanding: no-op */
    CHECK_EQ(c.notify, 3);

    /* Ticket arithmetic survives wraparound. */
    gort_cond w = GORT_COND_INIT;
    w.wait = w.notify = UINT32_MAX - 1;
    uint32_t a = gort__notifylist_add(&w), b = gort__notifylist_add(&w);
    CHECK_EQ(b, 0xffffffffu);
    gort_cond_signal(&w);
    gort_cond_signal(&w);
    CHECK_EQ(w.notify, 0);
    gort__notifylist_wait(&w, a);
    gort__notifylist_wait(&w, b);
}

/* Bounded buffer: classic two-condition producer/consumer. */
enum { CAP = 8, NPROD = 8, NCONS = 8, PER = 2000 };
static gort_mutex bm;
static gort_cond notfull, notempty;
static long buf[CAP];
static int head, count;
static long consumed_sum;
static int consumed_n;

static void producer(void *arg)
{
    long base = (long)arg * PER;
    for (long i = 0; i < PER; i++) {
        gort_mutex_lock(&bm);
        while (count == CAP)
            gort_cond_wait(&notfull, &bm);
        buf[(head + count) % CAP] = base + i;
        count++;
        gort_cond_signal(&notempty);
        gort_mutex_unlock(&bm);
    }
    gort_wg_done(&wg);
}

static void consumer(void *arg)
{
    (void)arg;
    for (int i = 0; i < NPROD * PER / NCONS; i++) {
        gort_mutex_lock(&bm);
        while (count == 0)
            gort_cond_wait(&notempty, &bm);
        long v = buf[head];
        head = (head + 1) % CAP;
        count--;
        consumed_sum += v;
        consumed_n++;
        gort_cond_signal(&notfull);
        gort_mutex_unlock(&bm);
    }
    gort_wg_done(&wg);
}

static void test_bounded_buffer(void)
{
    gort_wg_add(&wg, NPROD + NCONS);
    for (long i = 0; i < NCONS; i++)
        CHECK_EQ(gort_go(consumer, (void *)i), 0);
    for (long i = 0; i < NPROD; i++)
        CHECK_EQ(gort_go(producer, (void *)i), 0);
    gort_wg_wait(&wg);
    long n = (long)NPROD * PER;
    CHECK_EQ(consumed_n, n);
    CHECK_EQ(consumed_sum, n * (n - 1) / 2);
    CHECK_EQ(count, 0);
}

static void main_g(void *arg)
{
    (void)arg;
    gort_maxprocs(2);
    test_no_waiters();
    test_signal_fifo();
    test_broadcast();
    test_signal_before_park();
    test_bounded_buffer();
}

int main(void)
{
    run_main(main_g, NULL);
    printf("test_cond: ok\n");
    return 0;
}
