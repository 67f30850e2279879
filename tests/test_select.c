/*
 * test_select.c — gort_select: uniform fairness among ready cases (recv and
 * send, each within 10% of uniform over 100k selects), default (timeout 0),
 * timeouts, NULL channel cases, blocking selects woken by a sender, by a
 * receiver and by close, send+recv on the same channel, duplicate
 * channels, more cases than fit the on-stack arrays, n == 0, timeouts
 * racing with senders (no message lost or duplicated), and a send on a
 * closed channel stopping the program.
 */
#include "check.h"

#include <stdatomic.h>

#include <stdint.h>

static int64_t ms(int64_t n) { return n * 1000000; }

/* ---- fairness ------------------------------------------------------- */

static void check_uniform(const long *cnt, int k, long total)
{
    double want = (double)total / k;
    for (int i = 0; i < k; i++)
        CHECK(cnt[i] > want * 0.9 && cnt[i] < want * 1.1,
              "case %d fired %ld times, want %.0f +-10%%", i, cnt[i], want);
}

static void test_fair_recv(void)
{
    enum { K = 4, N = 100000 };
    gort_chan *c[K];
    gort_case cs[K];
    int vals[K];
    long cnt[K] = {0};
    for (int i = 0; i < K; i++) {
        c[i] = gort_chan_make(sizeof(int), 1);
        CHECK(gort_chan_trysend(c[i], &i));
        cs[i] = (gort_case){.chan = c[i], .op = GORT_RECV, .elem = &vals[i]};
    }
    for (int it = 0; it < N; it++) {
        int r = gort_select(cs, K, -1);
        CHECK(r >= 0 && r < K);
        CHECK(cs[r].ok);
        CHECK_EQ(vals[r], r);
        cnt[r]++;
        CHECK(gort_chan_trysend(c[r], &r)); /* make it ready again */
    }
    check_uniform(cnt, K, N);
    for (int i = 0; i < K; i++)
        gort_chan_free(c[i]);
}

static void test_fair_send(void)
{
    enum { K = 3, N = 100000 };
    gort_chan *c[K];
    gort_case cs[K];
    int vals[K];
    long cnt[K] = {0};
    for (int i = 0; i < K; i++) {
        c[i] = gort_chan_make(sizeof(int), 1);
        vals[i] = 100 + i;
        cs[i] = (gort_case){.chan = c[i], .op = GORT_SEND, .elem = &vals[i]};
    }
    for (int it = 0; it < N; it++) {
        int r = gort_select(cs, K, 0);
        CHECK(r >= 0 && r < K);
        cnt[r]++;
        int v;
        CHECK(gort_chan_tryrecv(c[r], &v, NULL));
        CHECK_EQ(v, 100 + r);
    }
    check_uniform(cnt, K, N);
    for (int i = 0; i < K; i++)
        gort_chan_free(c[i]);
}

/* ---- default, timeout, NULL chans, n == 0 --------------------------- */

static void test_default_timeout(void)
{
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    int v = 0;
    gort_case cs[2] = {
        {.chan = c, .op = GORT_RECV, .elem = &v},
        {.chan = c, .op = GORT_SEND, .elem = &v}, /* never pairs with itself */
    };
    CHECK_EQ(gort_select(cs, 2, 0), -1);

    int64_t t0 = gort_nanotime();
    CHECK_EQ(gort_select(cs, 2, ms(20)), -1);
    int64_t dt = gort_nanotime() - t0;
    CHECK(dt >= ms(20), "timed out after %lld ns", (long long)dt);
    CHECK(dt < ms(2000), "timed out after %lld ns", (long long)dt);

    /* NULL channels never fire, even with a ready case beside them. */
    gort_chan *b = gort_chan_make(sizeof(int), 1);
    gort_case nc[3] = {
        {.chan = NULL, .op = GORT_RECV, .elem = &v},
        {.chan = b, .op = GORT_SEND, .elem = &v},
        {.chan = NULL, .op = GORT_SEND, .elem = &v},
    };
    for (int i = 0; i < 100; i++) {
        CHECK_EQ(gort_select(nc, 3, -1), 1);
        CHECK(gort_chan_tryrecv(b, NULL, NULL));
    }
    nc[1].chan = NULL;
    CHECK_EQ(gort_select(nc, 3, 0), -1);
    t0 = gort_nanotime();
    CHECK_EQ(gort_select(nc, 3, ms(5)), -1);
    CHECK(gort_nanotime() - t0 >= ms(5));

    CHECK_EQ(gort_select(NULL, 0, 0), -1);
    t0 = gort_nanotime();
    CHECK_EQ(gort_select(NULL, 0, ms(5)), -1);
    CHECK(gort_nanotime() - t0 >= ms(5));

    gort_chan_free(b);
    gort_chan_free(c);
}

/* ---- blocking selects ----------------------------------------------- */

typedef struct pair {
    gort_chan *a, *b;
} pair;

static void send_b_later(void *arg)
{
    pair *p = arg;
    for (int i = 0; i < 20; i++)
        gort_yield();
    int v = 31337;
    gort_chan_send(p->b, &v);
}

static void recv_a_later(void *arg)
{
    pair *p = arg;
    for (int i = 0; i < 20; i++)
        gort_yield();
    int v = 0;
    CHECK(gort_chan_recv(p->a, &v));
    CHECK_EQ(v, 777);
    gort_chan_send(p->b, &v);
}

static void close_b_later(void *arg)
{
    pair *p = arg;
    for (int i = 0; i < 20; i++)
        gort_yield();
    gort_chan_close(p->b);
}

static void test_blocking(void)
{
    pair p = {gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), 0)};
    int va = 0, vb = 0;
    gort_case cs[2] = {
        {.chan = p.a, .op = GORT_RECV, .elem = &va},
        {.chan = p.b, .op = GORT_RECV, .elem = &vb},
    };
    /* Woken by a sender on the second channel. */
    CHECK_EQ(gort_go(send_b_later, &p), 0);
    CHECK_EQ(gort_select(cs, 2, -1), 1);
    CHECK(cs[1].ok);
    CHECK_EQ(vb, 31337);

    /* A send case taken by a receiver; also with a timeout armed. */
    int out = 777;
    gort_case ss[2] = {
        {.chan = p.a, .op = GORT_SEND, .elem = &out},
        {.chan = NULL, .op = GORT_RECV, .elem = NULL},
    };
    CHECK_EQ(gort_go(recv_a_later, &p), 0);
    CHECK_EQ(gort_select(ss, 2, ms(10000)), 0);
    CHECK(gort_chan_recv(p.b, &vb));
    CHECK_EQ(vb, 777);

    /* Woken by close: the receive fires with ok == false and zero value. */
    CHECK_EQ(gort_go(close_b_later, &p), 0);
    vb = 5;
    CHECK_EQ(gort_select(cs, 2, -1), 1);
    CHECK(!cs[1].ok);
    CHECK_EQ(vb, 0);
    /* Closed channel is always ready now. */
    CHECK_EQ(gort_select(cs, 2, 0), 1);
    gort_chan_free(p.a);
    gort_chan_free(p.b);
}

/* Two goroutines each select {send c, recv c} on one unbuffered channel:
 * they must pair with each other, never with themselves. */
typedef struct selfpair {
    gort_chan *c, *done;
    int id, n;
} selfpair;

static void self_pairer(void *arg)
{
    selfpair *s = arg;
    long sent = 0, got = 0;
    for (int i = 0; i < s->n; i++) {
        int out = s->id, in = -1;
        gort_case cs[2] = {
            {.chan = s->c, .op = GORT_SEND, .elem = &out},
            {.chan = s->c, .op = GORT_RECV, .elem = &in},
        };
        int r = gort_select(cs, 2, -1);
        if (r == 0) {
            sent++;
        } else {
            CHECK_EQ(r, 1);
            CHECK(in == 1 - s->id, "received %d in goroutine %d", in, s->id);
            got++;
        }
    }
    long res[2] = {sent, got};
    gort_chan_send(s->done, res);
}

static void test_same_chan(void)
{
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_chan *done = gort_chan_make(2 * sizeof(long), 2);
    selfpair s[2] = {{c, done, 0, 5000}, {c, done, 1, 5000}};
    CHECK_EQ(gort_go(self_pairer, &s[0]), 0);
    CHECK_EQ(gort_go(self_pairer, &s[1]), 0);
    long r0[2], r1[2];
    CHECK(gort_chan_recv(done, r0));
    CHECK(gort_chan_recv(done, r1));
    CHECK_EQ(r0[0] + r1[0], 5000);
    CHECK_EQ(r0[1] + r1[1], 5000);
    CHECK_EQ(r0[0], r1[1]);
    gort_chan_free(c);
    gort_chan_free(done);
}

/* Duplicate channels in one select and more cases than the stack arrays. */
typedef struct manyarg {
    gort_chan **c;
    int idx;
} manyarg;

static void send_to_idx(void *arg)
{
    manyarg *m = arg;
    for (int i = 0; i < 10; i++)
        gort_yield();
    gort_chan_send(m->c[m->idx], &m->idx);
}

static void test_many_cases(void)
{
    enum { K = 40 };
    gort_chan *c[K];
    gort_case cs[2 * K];
    int vals[2 * K];
    for (int i = 0; i < K; i++)
        c[i] = gort_chan_make(sizeof(int), 0);
    for (int i = 0; i < 2 * K; i++) /* each channel appears twice */
        cs[i] = (gort_case){.chan = c[i % K], .op = GORT_RECV, .elem = &vals[i]};
    for (int idx = 0; idx < K; idx += 7) {
        manyarg m = {c, idx};
        CHECK_EQ(gort_go(send_to_idx, &m), 0);
        int r = gort_select(cs, 2 * K, -1);
        CHECK(r == idx || r == idx + K, "fired %d for channel %d", r, idx);
        CHECK(cs[r].ok);
        CHECK_EQ(vals[r], idx);
    }
    CHECK_EQ(gort_select(cs, 2 * K, 0), -1);
    CHECK_EQ(gort_select(cs, 2 * K, 1000), -1);
    for (int i = 0; i < K; i++)
        gort_chan_free(c[i]);
}

/* ---- timeouts racing with senders ----------------------------------- */

typedef struct racearg {
    gort_chan *c;
    int n;
} racearg;

static void racing_sender(void *arg)
{
    racearg r = *(racearg *)arg; /* the caller's frame ends with the last value */
    for (int i = 0; i < r.n; i++)
        gort_chan_send(r.c, &i);
}

static void test_timeout_race(void)
{
    racearg r = {gort_chan_make(sizeof(int), 0), 20000};
    CHECK_EQ(gort_go(racing_sender, &r), 0);
    int next = 0, v = -1;
    long timeouts = 0;
    gort_case cs[1] = {{.chan = r.c, .op = GORT_RECV, .elem = &v}};
    while (next < r.n) {
        /* 0..3 us: the timer and the sender race for the wakeup. */
        int64_t to = (next % 4) * 1000;
        int k = gort_select(cs, 1, to == 0 ? 1 : to);
        if (k < 0) {
            timeouts++;
            continue;
        }
        CHECK(v == next, "got %d want %d", v, next);
        next++;
    }
    int left = 0;
    CHECK(!gort_chan_tryrecv(r.c, &left, NULL));
    gort_chan_free(r.c);
    (void)timeouts;
}

/* ---- blocking forever ----------------------------------------------- */

static int forever_returned;

static void select_forever(void *arg)
{
    (void)arg;
    gort_select(NULL, 0, -1);
    __atomic_store_n(&forever_returned, 1, __ATOMIC_SEQ_CST);
}

static void test_forever(void)
{
    CHECK_EQ(gort_go(select_forever, NULL), 0);
    gort_case nc = {.chan = NULL, .op = GORT_RECV};
    CHECK_EQ(gort_select(&nc, 1, ms(5)), -1);
    CHECK_EQ(__atomic_load_n(&forever_returned, __ATOMIC_SEQ_CST), 0);
}

/* ---- misuse --------------------------------------------------------- */

static void m_select_send_closed(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_chan_close(c);
    int v = 1;
    gort_case cs[1] = {{.chan = c, .op = GORT_SEND, .elem = &v}};
    gort_select(cs, 1, 0);
}

static void blocked_select_sender(void *arg)
{
    int v = 1, w;
    gort_case cs[2] = {
        {.chan = arg, .op = GORT_SEND, .elem = &v},
        {.chan = NULL, .op = GORT_RECV, .elem = &w},
    };
    gort_select(cs, 2, -1);
}

static void m_close_wakes_select_sender(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_go(blocked_select_sender, c);
    for (int i = 0; i < 50; i++)
        gort_yield();
    gort_chan_close(c);
    for (;;)
        gort_yield();
}

static void child(void *fn)
{
    _exit(gort_main((void (*)(void *))fn, NULL) == 0 ? 0 : 3);
}

/* ---- select with no usable case and a timeout ------------------------ */

/* The park callback of a select with no channel to lock must not touch the
 * select's frame after arming the timer: the timer can wake the goroutine,
 * which then returns and reuses that stack (this crashed under load). */
static gort_waitgroup wg_nocase;
static void nocase_sleeper(void *arg)
{
    gort_case nilcase = {.chan = NULL, .op = GORT_RECV};
    for (int i = 0; i < 3000; i++) {
        CHECK_EQ(gort_select(arg ? &nilcase : NULL, arg ? 1 : 0, 1000), -1);
        volatile char scribble[2048];
        for (size_t k = 0; k < sizeof scribble; k += 64)
            scribble[k] = (char)0xa5;
    }
    gort_wg_done(&wg_nocase);
}

static _Atomic int stop_hog;
static void busy(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop_hog, memory_order_relaxed))
        ;
    gort_wg_done(&wg_nocase);
}

static void test_no_case_timeout(void)
{
    gort_wg_add(&wg_nocase, 5);
    gort_go(nocase_sleeper, NULL);
    gort_go(nocase_sleeper, (void *)1);
    gort_go(nocase_sleeper, NULL);
    gort_go(nocase_sleeper, (void *)1);
    atomic_store(&stop_hog, 0);
    gort_go(busy, NULL);
    /* Let the sleepers finish (the hog is preempted for them). */
    while (gort_num_goroutine() > 2)
        gort_sleep(1000000);
    atomic_store(&stop_hog, 1);
    gort_wg_wait(&wg_nocase);
}

static void gmain(void *arg)
{
    (void)arg;
    test_fair_recv();
    test_fair_send();
    test_default_timeout();
    test_blocking();
    test_same_chan();
    test_many_cases();
    test_timeout_race();
    test_no_case_timeout();
    test_forever();
}

int main(void)
{
    expect_child(child, (void *)m_select_send_closed, -1,
                 "gort: fatal error: send on closed channel", NULL);
    expect_child(child, (void *)m_close_wakes_select_sender, -1,
                 "gort: fatal error: send on closed channel", NULL);
    run_main(gmain, NULL);
    printf("test_select: ok\n");
    return 0;
}
