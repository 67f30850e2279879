/*
 * test_chan.c — every channel call: make/free/len/cap, buffered and
 * unbuffered send/receive between goroutines, zero-size and large
 * elements, NULL elem pointers, trysend/tryrecv, close semantics (drain,
 * zeroing, waking every blocked receiver), nil channels, and the misuse
 * that must stop the program (checked in forked children).
 */
#include "check.h"

#include <errno.h>
#include <stdint.h>

/* ---- make / free / len / cap --------------------------------------- */

static void test_make(void)
{
    gort_chan *c = gort_chan_make(sizeof(int), 5);
    CHECK(c != NULL);
    CHECK_EQ(gort_chan_cap(c), 5);
    CHECK_EQ(gort_chan_len(c), 0);
    gort_chan_free(c);

    errno = 0;
    CHECK(gort_chan_make(SIZE_MAX / 2, 3) == NULL);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK(gort_chan_make(1, SIZE_MAX) == NULL);
    CHECK_EQ(errno, EINVAL);
    /* The header's counts are 32-bit (chan.h); no overflow of the size
     * needed to reach these. */
    errno = 0;
    CHECK(gort_chan_make((size_t)UINT32_MAX + 1, 0) == NULL);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK(gort_chan_make(0, (size_t)UINT32_MAX + 1) == NULL);
    CHECK_EQ(errno, EINVAL);
    /* The largest capacity of empty elements needs no buffer at all. */
    c = gort_chan_make(0, UINT32_MAX);
    CHECK(c != NULL);
    CHECK_EQ(gort_chan_cap(c), UINT32_MAX);
    CHECK(gort_chan_trysend(c, NULL));
    CHECK_EQ(gort_chan_len(c), 1);
    gort_chan_free(c);

    gort_chan_free(NULL);
    CHECK_EQ(gort_chan_len(NULL), 0);
    CHECK_EQ(gort_chan_cap(NULL), 0);

    c = gort_chan_make(0, 0); /* chan struct{} */
    CHECK(c != NULL);
    CHECK_EQ(gort_chan_cap(c), 0);
    gort_chan_free(c);
}

/* ---- buffered, single goroutine ------------------------------------- */

static void test_buffered_local(void)
{
    gort_chan *c = gort_chan_make(sizeof(int), 3);
    for (int i = 0; i < 3; i++) {
        CHECK(gort_chan_trysend(c, &i));
        CHECK_EQ(gort_chan_len(c), i + 1);
    }
    int v = 99;
    CHECK(!gort_chan_trysend(c, &v)); /* full */
    bool ok = false;
    CHECK(gort_chan_tryrecv(c, &v, &ok));
    CHECK(ok);
    CHECK_EQ(v, 0);
    v = 3;
    gort_chan_send(c, &v); /* room again: does not block */
    for (int want = 1; want <= 3; want++) {
        CHECK(gort_chan_recv(c, &v));
        CHECK_EQ(v, want);
    }
    CHECK_EQ(gort_chan_len(c), 0);
    CHECK(!gort_chan_tryrecv(c, &v, &ok)); /* empty */
    CHECK(!gort_chan_tryrecv(c, &v, NULL));

    /* Wrap the ring many times with a receive that discards the value. */
    for (int i = 0; i < 100; i++) {
        gort_chan_send(c, &i);
        gort_chan_send(c, &i);
        CHECK(gort_chan_tryrecv(c, NULL, &ok) && ok);
        CHECK(gort_chan_recv(c, &v));
        CHECK_EQ(v, i);
    }
    gort_chan_free(c);
}

/* ---- unbuffered ping-pong between goroutines ------------------------ */

typedef struct pingpong {
    gort_chan *ping, *pong;
    int n;
} pingpong;

static void ponger(void *arg)
{
    /* Copy everything first: the caller's frame that holds *pp may be
     * gone as soon as it has the last reply. */
    pingpong pp = *(pingpong *)arg;
    int v;
    for (int i = 0; i < pp.n; i++) {
        CHECK(gort_chan_recv(pp.ping, &v));
        v++;
        gort_chan_send(pp.pong, &v);
    }
}

static void test_unbuffered(void)
{
    pingpong pp = {gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), 0), 10000};
    int v = 0;
    CHECK(!gort_chan_trysend(pp.ping, &v)); /* nobody receiving */
    CHECK(!gort_chan_tryrecv(pp.ping, &v, NULL));
    CHECK_EQ(gort_go(ponger, &pp), 0);
    for (int i = 0; i < pp.n; i++) {
        gort_chan_send(pp.ping, &v);
        CHECK(gort_chan_recv(pp.pong, &v));
        CHECK_EQ(v, i + 1);
    }
    CHECK_EQ(gort_chan_len(pp.ping), 0);
    gort_chan_free(pp.ping);
    gort_chan_free(pp.pong);
}

/* trysend succeeds on an unbuffered channel exactly when a receiver is
 * parked: retry until the receiver has parked (yielding, not sleeping). */
static void recv_one(void *arg)
{
    gort_chan **cs = arg;
    int v = 0;
    CHECK(gort_chan_recv(cs[0], &v));
    gort_chan_send(cs[1], &v);
}

static void test_trysend_to_parked(void)
{
    gort_chan *cs[2] = {gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), 1)};
    CHECK_EQ(gort_go(recv_one, cs), 0);
    int v = 4242, spins = 0;
    while (!gort_chan_trysend(cs[0], &v)) {
        gort_yield();
        CHECK(++spins < 10000000);
    }
    int got = 0;
    CHECK(gort_chan_recv(cs[1], &got));
    CHECK_EQ(got, 4242);
    gort_chan_free(cs[0]);
    gort_chan_free(cs[1]);
}

/* ---- FIFO through a small buffer with a parked sender ---------------- */

typedef struct seqarg {
    gort_chan *c;
    int n;
} seqarg;

static void seq_sender(void *arg)
{
    seqarg a = *(seqarg *)arg; /* the caller's frame ends with the last value */
    for (int i = 0; i < a.n; i++)
        gort_chan_send(a.c, &i);
}

static void test_buffered_fifo(void)
{
    seqarg a = {gort_chan_make(sizeof(int), 3), 20000};
    CHECK_EQ(gort_go(seq_sender, &a), 0);
    for (int i = 0; i < a.n; i++) {
        int v = -1;
        CHECK(gort_chan_recv(a.c, &v));
        CHECK(v == i, "got %d want %d", v, i);
        if (i % 7 == 0)
            gort_yield(); /* let the buffer fill and the sender park */
    }
    gort_chan_free(a.c);
}

/* ---- element sizes -------------------------------------------------- */

typedef struct big {
    uint64_t w[40];
} big;

static void big_sender(void *arg)
{
    gort_chan *c = arg;
    for (uint64_t i = 0; i < 200; i++) {
        big b;
        for (int k = 0; k < 40; k++)
            b.w[k] = i * 1000 + (uint64_t)k;
        gort_chan_send(c, &b);
    }
}

static void zero_sender(void *arg)
{
    gort_chan *c = arg;
    for (int i = 0; i < 1000; i++)
        gort_chan_send(c, NULL);
    gort_chan_close(c);
}

static void test_elem_sizes(void)
{
    for (size_t cap = 0; cap <= 2; cap += 2) {
        gort_chan *c = gort_chan_make(sizeof(big), cap);
        CHECK_EQ(gort_go(big_sender, c), 0);
        for (uint64_t i = 0; i < 200; i++) {
            big b;
            memset(&b, 0xff, sizeof b);
            CHECK(gort_chan_recv(c, &b));
            for (int k = 0; k < 40; k++)
                CHECK_EQ(b.w[k], i * 1000 + (uint64_t)k);
        }
        gort_chan_free(c);
    }

    for (size_t cap = 0; cap <= 5; cap += 5) {
        gort_chan *z = gort_chan_make(0, cap);
        CHECK_EQ(gort_go(zero_sender, z), 0);
        int n = 0;
        while (gort_chan_recv(z, NULL))
            n++;
        CHECK_EQ(n, 1000);
        CHECK_EQ(gort_chan_len(z), 0);
        gort_chan_free(z);
    }

    /* Buffered zero-size channel counts its elements. */
    gort_chan *z = gort_chan_make(0, 4);
    for (int i = 0; i < 4; i++)
        CHECK(gort_chan_trysend(z, NULL));
    CHECK(!gort_chan_trysend(z, NULL));
    CHECK_EQ(gort_chan_len(z), 4);
    gort_chan_free(z);
}

/* ---- close ---------------------------------------------------------- */

typedef struct closearg {
    gort_chan *c, *done;
} closearg;

static void blocked_receiver(void *arg)
{
    closearg *a = arg;
    int v = 12345;
    bool ok = gort_chan_recv(a->c, &v);
    int res = (!ok && v == 0) ? 1 : 0; /* closed: false and zeroed */
    gort_chan_send(a->done, &res);
}

static void test_close(void)
{
    /* Drain then false + zero. */
    gort_chan *c = gort_chan_make(sizeof(int), 4);
    for (int i = 1; i <= 3; i++)
        gort_chan_send(c, &i);
    gort_chan_close(c);
    int v;
    for (int i = 1; i <= 3; i++) {
        CHECK(gort_chan_recv(c, &v));
        CHECK_EQ(v, i);
    }
    v = 77;
    CHECK(!gort_chan_recv(c, &v));
    CHECK_EQ(v, 0);
    bool ok = true;
    v = 77;
    CHECK(gort_chan_tryrecv(c, &v, &ok)); /* closed: completes at once */
    CHECK(!ok);
    CHECK_EQ(v, 0);
    CHECK(!gort_chan_recv(c, NULL));
    gort_chan_free(c);

    /* Close wakes every parked receiver. */
    enum { N = 50 };
    closearg a = {gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), N)};
    for (int i = 0; i < N; i++)
        CHECK_EQ(gort_go(blocked_receiver, &a), 0);
    /* Wait (by yielding) until all are parked: not needed for
     * correctness, but it makes the close exercise the wake path. */
    for (int i = 0; i < 100; i++)
        gort_yield();
    gort_chan_close(a.c);
    for (int i = 0; i < N; i++) {
        CHECK(gort_chan_recv(a.done, &v));
        CHECK_EQ(v, 1);
    }
    gort_chan_free(a.c);
    gort_chan_free(a.done);

    /* Unbuffered closed chan with zero-size elements. */
    c = gort_chan_make(0, 0);
    gort_chan_close(c);
    CHECK(!gort_chan_recv(c, NULL));
    gort_chan_free(c);
}

/* ---- nil channel ---------------------------------------------------- */

static int nil_reached;

static void nil_blocker(void *arg)
{
    (void)arg;
    int v = 0;
    if ((uintptr_t)arg & 1)
        gort_chan_send(NULL, &v);
    else
        gort_chan_recv(NULL, &v);
    __atomic_store_n(&nil_reached, 1, __ATOMIC_SEQ_CST); /* never */
}

static void test_nil(void)
{
    int v = 0;
    bool ok = true;
    CHECK(!gort_chan_trysend(NULL, &v));
    CHECK(!gort_chan_tryrecv(NULL, &v, &ok));
    CHECK_EQ(gort_chan_len(NULL), 0);
    /* Blocking forever on a nil channel must not stop anything else. */
    CHECK_EQ(gort_go(nil_blocker, (void *)1), 0);
    CHECK_EQ(gort_go(nil_blocker, (void *)2), 0);
    for (int i = 0; i < 50; i++)
        gort_yield();
    CHECK_EQ(__atomic_load_n(&nil_reached, __ATOMIC_SEQ_CST), 0);
}

/* ---- misuse (children) ---------------------------------------------- */

static void m_send_closed(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    gort_chan_close(c);
    int v = 1;
    gort_chan_send(c, &v);
}
static void m_trysend_closed(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    gort_chan_close(c);
    int v = 1;
    gort_chan_trysend(c, &v);
}
static void m_close_closed(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(0, 0);
    gort_chan_close(c);
    gort_chan_close(c);
}
static void m_close_nil(void *arg)
{
    (void)arg;
    gort_chan_close(NULL);
}
static void parked_sender(void *arg)
{
    int v = 5;
    gort_chan_send(arg, &v);
}
static void m_close_wakes_sender(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_go(parked_sender, c);
    for (int i = 0; i < 50; i++)
        gort_yield();
    gort_chan_close(c);
    for (;;)
        gort_yield(); /* the woken sender must kill the program */
}

static void child(void *fn)
{
    _exit(gort_main((void (*)(void *))fn, NULL) == 0 ? 0 : 3);
}

static void test_misuse(void)
{
    static const struct {
        void (*fn)(void *);
        const char *msg;
    } cases[] = {
        {m_send_closed, "gort: fatal error: send on closed channel"},
        {m_trysend_closed, "gort: fatal error: send on closed channel"},
        {m_close_closed, "gort: fatal error: close of closed channel"},
        {m_close_nil, "gort: fatal error: close of nil channel"},
        {m_close_wakes_sender, "gort: fatal error: send on closed channel"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_child(child, (void *)cases[i].fn, -1, cases[i].msg, NULL);
}

static void gmain(void *arg)
{
    (void)arg;
    test_make();
    test_buffered_local();
    test_unbuffered();
    test_trysend_to_parked();
    test_buffered_fifo();
    test_elem_sizes();
    test_close();
    test_nil();
}

int main(void)
{
    /* Children first: fork before this process starts any runtime thread. */
    test_misuse();
    run_main(gmain, NULL);
    printf("test_chan: ok\n");
    return 0;
}
