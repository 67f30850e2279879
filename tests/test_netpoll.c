/*
 * test_netpoll.c — each call of the fd API (gort.h, "Network and
 * file-descriptor I/O") doing its job, at GORTMAXPROCS=1, 2 and 4:
 *
 *  - gort_read/gort_write: data both ways; a reader parks (io_wait counts
 *    it) and its P runs other goroutines; gort_write of 8 MiB through a
 *    socket and a pipe whose reader takes odd-sized bites writes all n
 *    bytes (many partial writes) and the reader sees every byte in order;
 *    the fd is O_NONBLOCK once registered; regular files work too.
 *  - gort_accept: parked and already-pending connections; the new fd is
 *    O_NONBLOCK and FD_CLOEXEC; the peer address is filled in.
 *  - gort_connect: a blocking socket the caller made; ECONNREFUSED; the
 *    EINPROGRESS path that really parks (a full accept queue: the connect
 *    completes only when the listener makes room).
 *  - gort_fd_wait: READ, WRITE, both; readiness that exists before the
 *    call is seen at once (level semantics at call time), also on an fd
 *    whose edge was consumed by an earlier wait; a hang-up counts as ready.
 *  - argument errors: EBADF, EINVAL.
 *  - 200 goroutines ping-ponging on 100 socket pairs.
 */
#include "netcheck.h"

static int procs;

static void test_rw_basic(void)
{
    int sv[2];
    unix_pair(sv);
    CHECK_CALL(gort_write(sv[0], "hello", 5), 5);
    char buf[16] = {0};
    CHECK_CALL(gort_read(sv[1], buf, sizeof buf), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    /* Registered fds are non-blocking from now on. */
    CHECK(fd_nonblock(sv[0]) && fd_nonblock(sv[1]));
    /* A zero-length read returns 0 at once, not EOF-waiting. */
    CHECK_CALL(gort_read(sv[1], buf, 0), 0);
    CHECK_CALL(gort_close(sv[0]), 0);
    CHECK_CALL(gort_close(sv[1]), 0);
    CHECK(!fd_open(sv[0]) && !fd_open(sv[1]));
}

/* A reader parks; at GORTMAXPROCS=1 the main goroutine runs meanwhile
 * (the reader holds no P), then wakes it with data. */
static void test_read_parks(void)
{
    int sv[2];
    unix_pair(sv);
    char buf[8];
    op_t o;
    op_init(&o, sv[1]);
    o.buf = buf;
    o.n = sizeof buf;
    uint64_t base = io_wait_now();
    CHECK_EQ(gort_go(g_read, &o), 0);
    wait_io_wait(base + 1);
    op_still_parked(&o, "gort_read with nothing to read");
    CHECK_CALL(gort_write(sv[0], "abc", 3), 3);
    op_await(&o, "parked gort_read after a write");
    CHECK(o.ret == 3 && memcmp(buf, "abc", 3) == 0, "ret %ld errno %d", o.ret, o.err);
    CHECK_EQ(io_wait_now(), base);
    op_free(&o);
    close(sv[0]);
    close(sv[1]);
}

/* ---- big writes: gort_write must write all n bytes ----------------- */

#define BIG (8u << 20)
static unsigned char *bigbuf;

typedef struct {
    int fd;
    size_t got;
    bool bad;
    gort_waitgroup *wg;
} slow_reader_t;

/* Reads in odd-sized bites (1..4093 bytes), yielding between them, so the
 * writer meets a full buffer again and again. */
static void slow_reader(void *a)
{
    slow_reader_t *r = a;
    unsigned char buf[4093];
    size_t bite = 1;
    for (;;) {
        ssize_t n = gort_read(r->fd, buf, bite);
        if (n == 0)
            break;
        CHECK(n > 0, "gort_read: %s", strerror(errno));
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pat(r->got + (size_t)i))
                r->bad = true;
        r->got += (size_t)n;
        bite = bite * 3 % sizeof buf + 1;
        if ((r->got & 7) == 0)
            gort_yield();
    }
    gort_wg_done(r->wg);
}

static void big_write_through(int wfd, int rfd, bool shrink)
{
    if (shrink) {
        int sz = 4096;
        setsockopt(wfd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        setsockopt(rfd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    slow_reader_t r = {rfd, 0, false, &wg};
    gort_wg_add(&wg, 1);
    CHECK_EQ(gort_go(slow_reader, &r), 0);
    ssize_t w = gort_write(wfd, bigbuf, BIG);
    CHECK(w == (ssize_t)BIG, "gort_write wrote %zd of %u: %s", w, BIG, strerror(errno));
    CHECK_CALL(gort_close(wfd), 0);
    gort_wg_wait(&wg);
    CHECK(r.got == BIG, "reader got %zu of %u", r.got, BIG);
    CHECK(!r.bad, "reader saw bytes out of order");
    CHECK_CALL(gort_close(rfd), 0);
}

static void test_big_write(void)
{
    bigbuf = malloc(BIG);
    CHECK(bigbuf);
    for (size_t i = 0; i < BIG; i++)
        bigbuf[i] = pat(i);
    int sv[2];
    unix_pair(sv);
    big_write_through(sv[0], sv[1], true);
    /* TCP keeps its own buffer sizes: with a few KiB the receiver's
     * window updates stall for seconds (silly-window avoidance), which is
     * the kernel's business, not gort's. */
    tcp_pair(sv);
    big_write_through(sv[0], sv[1], false);
    int p[2];
    CHECK_CALL(pipe(p), 0);
    big_write_through(p[1], p[0], false);
    free(bigbuf);
}

/* ---- accept --------------------------------------------------------- */

typedef struct {
    int lfd;
    int fd;
    int err;
    struct sockaddr_in sa;
    socklen_t len;
    gort_chan *done;
} acc_t;

static void acceptor(void *a)
{
    acc_t *x = a;
    x->len = sizeof x->sa;
    x->fd = gort_accept(x->lfd, (struct sockaddr *)&x->sa, &x->len);
    x->err = errno;
    gort_chan_send(x->done, NULL);
}

static void check_accepted(acc_t *x, int client)
{
    CHECK(x->fd >= 0, "gort_accept: %s", strerror(x->err));
    CHECK(fd_nonblock(x->fd), "accepted fd is not O_NONBLOCK");
    CHECK(fd_cloexec(x->fd), "accepted fd is not FD_CLOEXEC");
    CHECK_EQ(x->len, sizeof(struct sockaddr_in));
    struct sockaddr_in me;
    socklen_t ml = sizeof me;
    CHECK_CALL(getsockname(client, (struct sockaddr *)&me, &ml), 0);
    CHECK_EQ(x->sa.sin_family, AF_INET);
    CHECK_EQ(x->sa.sin_port, me.sin_port);
    /* The new fd works, both ways. */
    CHECK_CALL(gort_write(x->fd, "s", 1), 1);
    char c = 0;
    CHECK_CALL(gort_read(client, &c, 1), 1);
    CHECK_EQ(c, 's');
    CHECK_CALL(gort_write(client, "c", 1), 1);
    CHECK_CALL(gort_read(x->fd, &c, 1), 1);
    CHECK_EQ(c, 'c');
}

static void test_accept(void)
{
    struct sockaddr_in a;
    int lfd = tcp_listener(16, &a); /* a blocking fd, as the caller made it */
    acc_t x = {.lfd = lfd, .done = gort_chan_make(0, 1)};

    /* Parked first, then a client arrives. */
    uint64_t base = io_wait_now();
    CHECK_EQ(gort_go(acceptor, &x), 0);
    wait_io_wait(base + 1);
    CHECK(fd_nonblock(lfd), "listener not O_NONBLOCK once registered");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_CALL(gort_connect(c, (struct sockaddr *)&a, sizeof a), 0);
    gort_case cs = {x.done, GORT_RECV, NULL, false};
    CHECK(gort_select(&cs, 1, SLACK) == 0, "parked gort_accept not woken by a connection");
    check_accepted(&x, c);
    close(x.fd);
    close(c);

    /* Already pending when gort_accept is called: returns at once. */
    c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_CALL(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    acceptor(&x);
    CHECK(gort_chan_recv(x.done, NULL));
    check_accepted(&x, c);
    close(x.fd);
    close(c);

    /* NULL address arguments. */
    c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_CALL(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    int s = gort_accept(lfd, NULL, NULL);
    CHECK(s >= 0, "gort_accept(NULL, NULL): %s", strerror(errno));
    CHECK(fd_nonblock(s) && fd_cloexec(s));
    close(s);
    close(c);
    CHECK_CALL(gort_close(lfd), 0);
    gort_chan_free(x.done);
}

/* ---- connect -------------------------------------------------------- */

static void test_connect(void)
{
    struct sockaddr_in a;
    int lfd = tcp_listener(16, &a);
    int c = socket(AF_INET, SOCK_STREAM, 0); /* blocking: gort makes it non-blocking */
    CHECK_CALL(gort_connect(c, (struct sockaddr *)&a, sizeof a), 0);
    CHECK(fd_nonblock(c));
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    CHECK_CALL(getpeername(c, (struct sockaddr *)&peer, &pl), 0);
    CHECK_EQ(peer.sin_port, a.sin_port);
    int s = gort_accept(lfd, NULL, NULL);
    CHECK(s >= 0);
    CHECK_CALL(gort_write(c, "x", 1), 1);
    char ch;
    CHECK_CALL(gort_read(s, &ch, 1), 1);
    close(s);
    close(c);
    close(lfd);

    /* Refused: a bound port nobody listens on. */
    int r = tcp_refuser(&a);
    c = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    CHECK_CALL(gort_connect(c, (struct sockaddr *)&a, sizeof a), -1);
    CHECK(errno == ECONNREFUSED, "errno %d (%s), want ECONNREFUSED", errno, strerror(errno));
    close(c);
    /* Already non-blocking and registered by an earlier call. */
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK_EQ(gort_fd_wait(c, GORT_WRITE, -1), 0);
    CHECK_CALL(gort_connect(c, (struct sockaddr *)&a, sizeof a), -1);
    CHECK(errno == ECONNREFUSED, "errno %d (%s), want ECONNREFUSED", errno, strerror(errno));
    close(c);
    close(r);
}

typedef struct {
    int fd;
    struct sockaddr_in a;
    int ret, err;
    gort_chan *done;
} conn_t;

static void connector(void *arg)
{
    conn_t *x = arg;
    x->ret = gort_connect(x->fd, (struct sockaddr *)&x->a, sizeof x->a);
    x->err = errno;
    gort_chan_send(x->done, NULL);
}

/* The connect parks (EINPROGRESS, SYN dropped on a full queue) and
 * completes once the listener makes room: the SYN is retransmitted after
 * about one second.  Run once, not per GORTMAXPROCS (it costs 1-3 s). */
static void test_connect_parks(void)
{
    struct sockaddr_in a;
    int lfd = tcp_listener(0, &a);
    int fill[16];
    int nfill = fill_acceptq(lfd, &a, fill, 16);
    conn_t x = {.fd = socket(AF_INET, SOCK_STREAM, 0), .a = a, .done = gort_chan_make(0, 1)};
    uint64_t base = io_wait_now();
    CHECK_EQ(gort_go(connector, &x), 0);
    wait_io_wait(base + 1);
    gort_case cs = {x.done, GORT_RECV, NULL, false};
    CHECK(gort_select(&cs, 1, 0) == -1, "connect to a full accept queue returned %d (%s)",
          x.ret, strerror(x.err));
    /* Make room: the retransmitted SYN gets in. */
    int s = accept(lfd, NULL, NULL);
    CHECK(s >= 0);
    close(s);
    CHECK(gort_select(&cs, 1, 10 * SEC) == 0, "parked gort_connect not done after room was made");
    CHECK(x.ret == 0, "gort_connect: %s", strerror(x.err));
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    close(x.fd);
    close(lfd);
    gort_chan_free(x.done);
}

/* ---- fd_wait -------------------------------------------------------- */

static void test_fd_wait(void)
{
    int sv[2];
    unix_pair(sv);
    int64_t t0 = gort_nanotime();
    /* Data there before the first call on a never-registered fd. */
    CHECK_CALL(write(sv[0], "1", 1), 1);
    CHECK_EQ(gort_fd_wait(sv[1], GORT_READ, t0 + SLACK), 0);
    /* Still there: level semantics, not "wait for the next edge". */
    CHECK_EQ(gort_fd_wait(sv[1], GORT_READ, gort_nanotime() + SLACK), 0);
    CHECK_EQ(gort_fd_wait(sv[1], GORT_READ | GORT_WRITE, gort_nanotime() + SLACK), 0);
    char c;
    CHECK_CALL(gort_read(sv[1], &c, 1), 1);

    /* Park, get woken by an edge, do not consume: the next wait returns
     * at once (twice). */
    op_t o;
    op_init(&o, sv[1]);
    o.events = GORT_READ;
    uint64_t base = io_wait_now();
    CHECK_EQ(gort_go(g_fd_wait, &o), 0);
    wait_io_wait(base + 1);
    op_still_parked(&o, "gort_fd_wait(READ) with nothing to read");
    CHECK_CALL(gort_write(sv[0], "2", 1), 1);
    op_await(&o, "parked gort_fd_wait(READ) after a write");
    CHECK_EQ(o.ret, 0);
    op_free(&o);
    CHECK_EQ(gort_fd_wait(sv[1], GORT_READ, gort_nanotime() + SLACK), 0);
    CHECK_EQ(gort_fd_wait(sv[1], GORT_READ, gort_nanotime() + SLACK), 0);
    CHECK_CALL(gort_read(sv[1], &c, 1), 1);
    CHECK_EQ(c, '2');

    /* WRITE on an empty socket: at once.  READ|WRITE with nothing to
     * read: writable, at once. */
    CHECK_EQ(gort_fd_wait(sv[1], GORT_WRITE, gort_nanotime() + SLACK), 0);
    CHECK_EQ(gort_fd_wait(sv[1], GORT_READ | GORT_WRITE, gort_nanotime() + SLACK), 0);

    /* WRITE on a full socket parks until the peer reads. */
    fill_sndbuf(sv[0]);
    op_init(&o, sv[0]);
    o.events = GORT_WRITE;
    CHECK_EQ(gort_go(g_fd_wait, &o), 0);
    wait_io_wait(base + 1);
    op_still_parked(&o, "gort_fd_wait(WRITE) on a full socket");
    drain_now(sv[1]);
    op_await(&o, "parked gort_fd_wait(WRITE) after the peer drained");
    CHECK_EQ(o.ret, 0);
    op_free(&o);

    /* READ|WRITE: full and nothing to read parks; data to read wakes. */
    fill_sndbuf(sv[0]);
    op_init(&o, sv[0]);
    o.events = GORT_READ | GORT_WRITE;
    CHECK_EQ(gort_go(g_fd_wait, &o), 0);
    wait_io_wait(base + 1);
    op_still_parked(&o, "gort_fd_wait(READ|WRITE), full and nothing to read");
    CHECK_CALL(write(sv[1], "3", 1), 1);
    op_await(&o, "parked gort_fd_wait(READ|WRITE) after data came");
    CHECK_EQ(o.ret, 0);
    op_free(&o);
    /* ... and the same, woken by the WRITE side. */
    CHECK_CALL(gort_read(sv[0], &c, 1), 1);
    op_init(&o, sv[0]);
    o.events = GORT_READ | GORT_WRITE;
    CHECK_EQ(gort_go(g_fd_wait, &o), 0);
    wait_io_wait(base + 1);
    op_still_parked(&o, "gort_fd_wait(READ|WRITE), full and nothing to read");
    drain_now(sv[1]);
    op_await(&o, "parked gort_fd_wait(READ|WRITE) after the peer drained");
    CHECK_EQ(o.ret, 0);
    op_free(&o);

    /* A hang-up is readiness: a parked READ wait wakes when the peer
     * closes, and a new one returns at once. */
    op_init(&o, sv[0]);
    o.events = GORT_READ;
    CHECK_EQ(gort_go(g_fd_wait, &o), 0);
    wait_io_wait(base + 1);
    CHECK_CALL(close(sv[1]), 0);
    op_await(&o, "parked gort_fd_wait(READ) after the peer closed");
    CHECK_EQ(o.ret, 0);
    op_free(&o);
    CHECK_EQ(gort_fd_wait(sv[0], GORT_READ, gort_nanotime() + SLACK), 0);
    CHECK_EQ(gort_fd_wait(sv[0], GORT_WRITE, gort_nanotime() + SLACK), 0);
    close(sv[0]);

    /* A pipe: the read end waits for READ, the write end for WRITE. */
    int p[2];
    CHECK_CALL(pipe(p), 0);
    CHECK_EQ(gort_fd_wait(p[1], GORT_WRITE, gort_nanotime() + SLACK), 0);
    op_init(&o, p[0]);
    o.events = GORT_READ;
    CHECK_EQ(gort_go(g_fd_wait, &o), 0);
    wait_io_wait(base + 1);
    CHECK_CALL(gort_write(p[1], "p", 1), 1);
    op_await(&o, "parked gort_fd_wait(READ) on a pipe after a write");
    CHECK_EQ(o.ret, 0);
    op_free(&o);
    close(p[0]);
    close(p[1]);
}

/* ---- regular files and argument errors ------------------------------ */

static void test_regular_file(void)
{
    char path[] = "/tmp/gort-netpoll-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK_CALL(gort_write(fd, "regular", 7), 7);
    CHECK_EQ(gort_fd_wait(fd, GORT_READ | GORT_WRITE, gort_nanotime() + SLACK), 0);
    CHECK_CALL(lseek(fd, 0, SEEK_SET), 0);
    char buf[16] = {0};
    CHECK_CALL(gort_read(fd, buf, sizeof buf), 7);
    CHECK(memcmp(buf, "regular", 7) == 0);
    CHECK_CALL(gort_read(fd, buf, sizeof buf), 0); /* end of file */
    CHECK_CALL(gort_close(fd), 0);
    fd = open("/dev/null", O_RDWR);
    CHECK(fd >= 0);
    CHECK_CALL(gort_write(fd, "x", 1), 1);
    CHECK_CALL(gort_read(fd, buf, 1), 0);
    close(fd);
}

static void test_errors(void)
{
    char c;
    errno = 0;
    CHECK_CALL(gort_read(-1, &c, 1), -1);
    CHECK_EQ(errno, EBADF);
    CHECK_CALL(gort_write(-1, &c, 1), -1);
    CHECK_EQ(errno, EBADF);
    CHECK_CALL(gort_accept(-1, NULL, NULL), -1);
    CHECK_EQ(errno, EBADF);
    CHECK_EQ(gort_fd_wait(-1, GORT_READ, -1), EBADF);
    CHECK_EQ(gort_set_deadline(-1, GORT_READ, -1), EBADF);
    CHECK_CALL(gort_close(-1), -1);
    CHECK_EQ(errno, EBADF);

    int sv[2];
    unix_pair(sv);
    CHECK_EQ(gort_fd_wait(sv[0], 0, -1), EINVAL);
    CHECK_EQ(gort_fd_wait(sv[0], 4, -1), EINVAL);
    CHECK_EQ(gort_set_deadline(sv[0], 0, -1), EINVAL);
    CHECK_EQ(gort_set_deadline(sv[0], 8, gort_nanotime()), EINVAL);
    /* A number that was closed: EBADF everywhere, registered or not. */
    CHECK_EQ(gort_fd_wait(sv[0], GORT_WRITE, -1), 0); /* registers it */
    CHECK_CALL(gort_close(sv[0]), 0);
    CHECK_EQ(gort_fd_wait(sv[0], GORT_READ, -1), EBADF);
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, -1), EBADF);
    CHECK_CALL(gort_read(sv[0], &c, 1), -1);
    CHECK_EQ(errno, EBADF);
    CHECK_CALL(gort_close(sv[0]), -1);
    CHECK_EQ(errno, EBADF);
    CHECK_CALL(close(sv[0]), -1);
    CHECK_EQ(errno, EBADF);
    /* accept on a socket that is not listening. */
    CHECK_CALL(gort_accept(sv[1], NULL, NULL), -1);
    CHECK(errno == EINVAL || errno == EOPNOTSUPP, "errno %d", errno);
    close(sv[1]);
}

/* ---- many goroutines ------------------------------------------------ */

#define NPAIRS 100
#define ROUNDS 100

typedef struct {
    int fd;
    bool initiator;
    uint32_t id;
    gort_waitgroup *wg;
} pinger_t;

static void pinger(void *a)
{
    pinger_t *p = a;
    uint32_t v = p->id << 16;
    for (int i = 0; i < ROUNDS; i++) {
        uint32_t got;
        if (p->initiator) {
            CHECK_CALL(gort_write(p->fd, &v, sizeof v), (long)sizeof v);
            CHECK_CALL(gort_read(p->fd, &got, sizeof got), (long)sizeof got);
            CHECK(got == v + 1, "pair %u round %d: got %#x want %#x", p->id, i, got, v + 1);
            v += 2;
        } else {
            CHECK_CALL(gort_read(p->fd, &got, sizeof got), (long)sizeof got);
            CHECK(got == v, "pair %u round %d: got %#x want %#x", p->id, i, got, v);
            got++;
            CHECK_CALL(gort_write(p->fd, &got, sizeof got), (long)sizeof got);
            v += 2;
        }
    }
    gort_wg_done(p->wg);
}

static void test_many(void)
{
    static pinger_t ps[2 * NPAIRS];
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_wg_add(&wg, 2 * NPAIRS);
    for (uint32_t i = 0; i < NPAIRS; i++) {
        int sv[2];
        if (i % 2)
            tcp_pair(sv);
        else
            unix_pair(sv);
        ps[2 * i] = (pinger_t){sv[0], true, i, &wg};
        ps[2 * i + 1] = (pinger_t){sv[1], false, i, &wg};
    }
    /* Responders first: they all park before any data flows. */
    for (int i = 0; i < NPAIRS; i++)
        CHECK_EQ(gort_go(pinger, &ps[2 * i + 1]), 0);
    wait_io_wait(NPAIRS);
    for (int i = 0; i < NPAIRS; i++)
        CHECK_EQ(gort_go(pinger, &ps[2 * i]), 0);
    gort_wg_wait(&wg);
    CHECK_EQ(io_wait_now(), 0);
    for (int i = 0; i < 2 * NPAIRS; i++)
        CHECK_CALL(gort_close(ps[i].fd), 0);
}

static void all(void *a)
{
    (void)a;
    watchdog_start("test_netpoll", 60);
    test_rw_basic();
    test_read_parks();
    test_big_write();
    test_accept();
    test_connect();
    test_fd_wait();
    test_regular_file();
    test_errors();
    test_many();
    if (procs == 2)
        test_connect_parks();
}

int main(void)
{
    static const char *const cfg[] = {"1", "2", "4"};
    for (int i = 0; i < 3; i++) {
        procs = atoi(cfg[i]);
        run_main_child(all, NULL, cfg[i], NULL);
    }
    return 0;
}
