/*
 * test_netpoll_deadline.c — deadlines of the fd API, at GORTMAXPROCS=1, 2
 * and 4.  A deadline never fires early: every ETIMEDOUT is checked to come
 * at or after the deadline (gort_nanotime), and within a generous bound
 * after it (the machine is loaded).
 *
 *  - gort_fd_wait's own deadline: READ, WRITE (full socket), READ|WRITE;
 *    a deadline in the past fails at once; the fd's deadlines apply too.
 *  - gort_set_deadline before a call: the read fails ETIMEDOUT, and every
 *    later one at once until cleared; clearing lets data through.
 *  - gort_set_deadline on a read already parked: set (none before),
 *    shortened, moved into the past (wakes at once), extended and cleared
 *    (the reader keeps waiting past the old deadline, then gets data).
 *  - write deadlines: a full socket (nothing written: -1 ETIMEDOUT), and a
 *    large write cut short (the bytes written, errno ETIMEDOUT; the peer
 *    receives exactly those bytes).
 *  - read and write deadlines are independent; READ|WRITE sets both.
 *  - gort_accept and gort_connect obey them (connect: a full accept queue).
 *  - 100 goroutines parked with staggered deadlines all time out, none
 *    early, none lost.
 */
#include "netcheck.h"

#define TICK (30 * MS)

static void check_timed_out(long ret, int err, int64_t t_end, int64_t deadline, const char *what)
{
    CHECK(ret == -1 && err == ETIMEDOUT, "%s: returned %ld errno %d (%s), want -1 ETIMEDOUT",
          what, ret, err, strerror(err));
    CHECK(t_end >= deadline, "%s: ETIMEDOUT %lld ns before the deadline", what,
          (long long)(deadline - t_end));
    CHECK(t_end - deadline < SLACK, "%s: ETIMEDOUT %lld ms after the deadline", what,
          (long long)((t_end - deadline) / MS));
}

static void check_fd_wait_timeout(int fd, int events, const char *what)
{
    int64_t d = gort_nanotime() + TICK;
    int r = gort_fd_wait(fd, events, d);
    int64_t t = gort_nanotime();
    check_timed_out(r == ETIMEDOUT ? -1 : r, r, t, d, what);
}

static void test_fd_wait_deadline(void)
{
    int sv[2];
    unix_pair(sv);
    check_fd_wait_timeout(sv[0], GORT_READ, "gort_fd_wait(READ)");
    fill_sndbuf(sv[0]);
    check_fd_wait_timeout(sv[0], GORT_WRITE, "gort_fd_wait(WRITE), full");
    check_fd_wait_timeout(sv[0], GORT_READ | GORT_WRITE, "gort_fd_wait(READ|WRITE), full");
    /* In the past: at once (not ready), also 0 and far in the past. */
    int64_t t0 = gort_nanotime();
    CHECK_EQ(gort_fd_wait(sv[0], GORT_READ, t0 - 1), ETIMEDOUT);
    CHECK_EQ(gort_fd_wait(sv[0], GORT_READ, 0), ETIMEDOUT);
    CHECK_EQ(gort_fd_wait(sv[0], GORT_WRITE, 1), ETIMEDOUT);
    CHECK(gort_nanotime() - t0 < SLACK);
    /* The fd's own read deadline applies to gort_fd_wait(READ, none). */
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, gort_nanotime() - 1), 0);
    CHECK_EQ(gort_fd_wait(sv[0], GORT_READ, -1), ETIMEDOUT);
    int64_t d = gort_nanotime() + TICK;
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, d), 0);
    int r = gort_fd_wait(sv[0], GORT_READ, -1);
    check_timed_out(r == ETIMEDOUT ? -1 : r, r, gort_nanotime(), d, "fd_wait under a read deadline");
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, -1), 0);
    /* The earlier of the two wins: the call's. */
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, gort_nanotime() + 3600 * SEC), 0);
    check_fd_wait_timeout(sv[0], GORT_READ, "gort_fd_wait with a later fd deadline");
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, -1), 0);
    close(sv[0]);
    close(sv[1]);
}

static void test_read_deadline_before(void)
{
    int sv[2];
    unix_pair(sv);
    char c;
    int64_t d = gort_nanotime() + TICK;
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, d), 0);
    long r = gort_read(sv[0], &c, 1);
    check_timed_out(r, errno, gort_nanotime(), d, "gort_read, deadline set before");
    /* Past it: every read fails at once, data there or not is not the
     * question here (nothing to read). */
    int64_t t0 = gort_nanotime();
    CHECK_CALL(gort_read(sv[0], &c, 1), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(gort_nanotime() - t0 < SLACK);
    /* Cleared: data goes through. */
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, -1), 0);
    CHECK_CALL(gort_write(sv[1], "d", 1), 1);
    CHECK_CALL(gort_read(sv[0], &c, 1), 1);
    CHECK_EQ(c, 'd');
    /* A deadline set into the past before the call: at once. */
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, gort_nanotime() - SEC), 0);
    t0 = gort_nanotime();
    CHECK_CALL(gort_read(sv[0], &c, 1), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(gort_nanotime() - t0 < SLACK);
    close(sv[0]);
    close(sv[1]);
}

/* A reader parked with `initial` as its read deadline. */
static void park_reader(op_t *o, int fd, char *buf, int64_t initial)
{
    op_init(o, fd);
    o->buf = buf;
    o->n = 1;
    CHECK_EQ(gort_set_deadline(fd, GORT_READ, initial), 0);
    uint64_t base = io_wait_now();
    CHECK_EQ(gort_go(g_read, o), 0);
    wait_io_wait(base + 1);
}

static void test_parked_read(void)
{
    int sv[2];
    unix_pair(sv);
    char c;
    op_t o;

    /* No deadline when it parked; one set afterwards ends it. */
    park_reader(&o, sv[0], &c, -1);
    int64_t d = gort_nanotime() + TICK;
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, d), 0);
    op_await(&o, "parked gort_read after a deadline was set");
    check_timed_out(o.ret, o.err, o.t_end, d, "parked read, deadline set");
    op_free(&o);

    /* Shortened from an hour. */
    park_reader(&o, sv[0], &c, gort_nanotime() + 3600 * SEC);
    d = gort_nanotime() + TICK;
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, d), 0);
    op_await(&o, "parked gort_read after its deadline was shortened");
    check_timed_out(o.ret, o.err, o.t_end, d, "parked read, deadline shortened");
    op_free(&o);

    /* Moved into the past: wakes at once. */
    park_reader(&o, sv[0], &c, -1);
    d = gort_nanotime();
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, d - SEC), 0);
    op_await(&o, "parked gort_read after its deadline moved into the past");
    check_timed_out(o.ret, o.err, o.t_end, d - SEC, "parked read, deadline in the past");
    op_free(&o);

    /* Cleared, and extended, before the old deadline: the reader keeps
     * waiting past the old deadline, then gets data.  If this goroutine
     * only got to change the deadline after it had passed (a loaded
     * machine), the attempt proves nothing and is made again, longer. */
    for (int how = 0; how < 2; how++) {
        for (int64_t span = 100 * MS;; span *= 2) {
            CHECK(span < 60 * SEC, "could never change a deadline before it passed");
            int64_t old = gort_nanotime() + span;
            park_reader(&o, sv[0], &c, old);
            CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, how ? gort_nanotime() + 3600 * SEC : -1), 0);
            if (gort_nanotime() >= old) { /* too late to tell: clean up, retry */
                CHECK_CALL(gort_write(sv[1], "x", 1), 1);
                op_await(&o, "reader");
                if (o.ret != 1) /* it timed out first: fine, nothing read */
                    CHECK_CALL(gort_read(sv[0], &c, 1), 1);
                op_free(&o);
                continue;
            }
            /* Give the old deadline every chance to fire (wrongly). */
            gort_sleep(old - gort_nanotime() + 20 * MS);
            op_still_parked(&o, how ? "gort_read whose deadline was extended"
                                    : "gort_read whose deadline was cleared");
            CHECK_CALL(gort_write(sv[1], "y", 1), 1);
            op_await(&o, "parked gort_read after data");
            CHECK(o.ret == 1 && c == 'y', "ret %ld errno %d", o.ret, o.err);
            op_free(&o);
            break;
        }
    }
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, -1), 0);
    close(sv[0]);
    close(sv[1]);
}

static void test_write_deadline(void)
{
    int sv[2];
    unix_pair(sv);
    /* Full: nothing can be written, -1 ETIMEDOUT. */
    fill_sndbuf(sv[0]);
    int64_t d = gort_nanotime() + TICK;
    CHECK_EQ(gort_set_deadline(sv[0], GORT_WRITE, d), 0);
    static char buf[1 << 20];
    long r = gort_write(sv[0], buf, sizeof buf);
    check_timed_out(r, errno, gort_nanotime(), d, "gort_write to a full socket");
    /* The read side has no deadline: reading still waits and works. */
    CHECK_CALL(gort_write(sv[1], "r", 1), 1);
    char c;
    CHECK_CALL(gort_read(sv[0], &c, 1), 1);
    close(sv[0]);
    close(sv[1]);

    /* Empty, but the peer never reads: some bytes go, then the deadline.
     * The count is what the peer receives, exactly. */
    unix_pair(sv);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)pat(i);
    d = gort_nanotime() + TICK;
    CHECK_EQ(gort_set_deadline(sv[0], GORT_WRITE, d), 0);
    r = gort_write(sv[0], buf, sizeof buf);
    int err = errno;
    int64_t t = gort_nanotime();
    CHECK(r > 0 && r < (long)sizeof buf, "gort_write returned %ld (%s)", r, strerror(err));
    CHECK_EQ(err, ETIMEDOUT);
    CHECK(t >= d, "partial write stopped %lld ns before its deadline", (long long)(d - t));
    size_t got = 0;
    static char in[65536];
    for (;;) {
        ssize_t n = recv(sv[1], in, sizeof in, MSG_DONTWAIT);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            CHECK_EQ((unsigned char)in[i], pat(got + (size_t)i));
        got += (size_t)n;
    }
    CHECK(got == (size_t)r, "gort_write said %ld bytes, the peer got %zu", r, got);
    /* A later write fails at once; a cleared deadline lets it through. */
    CHECK_CALL(gort_write(sv[0], "z", 1), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK_EQ(gort_set_deadline(sv[0], GORT_WRITE, -1), 0);
    CHECK_CALL(gort_write(sv[0], "z", 1), 1);
    CHECK_CALL(gort_read(sv[1], &c, 1), 1);
    CHECK_EQ(c, 'z');
    /* Independence: a read deadline in the past does not stop writes, a
     * write deadline in the past does not stop reads. */
    CHECK_EQ(gort_set_deadline(sv[1], GORT_READ, gort_nanotime() - 1), 0);
    CHECK_CALL(gort_write(sv[1], "w", 1), 1);
    CHECK_CALL(gort_read(sv[1], &c, 1), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK_EQ(gort_set_deadline(sv[0], GORT_WRITE, gort_nanotime() - 1), 0);
    CHECK_CALL(gort_read(sv[0], &c, 1), 1);
    CHECK_EQ(c, 'w');
    /* Both at once. */
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ | GORT_WRITE, gort_nanotime() - 1), 0);
    CHECK_CALL(gort_read(sv[0], &c, 1), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK_CALL(gort_write(sv[0], "w", 1), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ | GORT_WRITE, -1), 0);
    CHECK_CALL(gort_write(sv[0], "w", 1), 1);
    close(sv[0]);
    close(sv[1]);
}

/* A parked writer whose write deadline is set afterwards. */
static void test_parked_write(void)
{
    int sv[2];
    unix_pair(sv);
    fill_sndbuf(sv[0]);
    static char buf[4096];
    op_t o;
    op_init(&o, sv[0]);
    o.buf = buf;
    o.n = sizeof buf;
    uint64_t base = io_wait_now();
    CHECK_EQ(gort_go(g_write, &o), 0);
    wait_io_wait(base + 1);
    int64_t d = gort_nanotime() + TICK;
    CHECK_EQ(gort_set_deadline(sv[0], GORT_WRITE, d), 0);
    op_await(&o, "parked gort_write after a write deadline was set");
    check_timed_out(o.ret, o.err, o.t_end, d, "parked write, deadline set");
    op_free(&o);
    close(sv[0]);
    close(sv[1]);
}

static void test_accept_connect_deadline(void)
{
    struct sockaddr_in a;
    int lfd = tcp_listener(0, &a);
    int64_t d = gort_nanotime() + TICK;
    CHECK_EQ(gort_set_deadline(lfd, GORT_READ | GORT_WRITE, d), 0);
    long r = gort_accept(lfd, NULL, NULL);
    check_timed_out(r, errno, gort_nanotime(), d, "gort_accept");
    CHECK_EQ(gort_set_deadline(lfd, GORT_READ | GORT_WRITE, -1), 0);

    /* Connect: fill the accept queue (backlog 0: one connection), so the
     * next SYN is dropped and the connect stays in progress. */
    int fill[4];
    int nfill = fill_acceptq(lfd, &a, fill, 4);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    d = gort_nanotime() + TICK;
    CHECK_EQ(gort_set_deadline(c, GORT_WRITE, d), 0);
    r = gort_connect(c, (struct sockaddr *)&a, sizeof a);
    check_timed_out(r, errno, gort_nanotime(), d, "gort_connect to a full accept queue");
    close(c);
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    close(lfd);
}

/* ---- many staggered deadlines --------------------------------------- */

#define NSTAG 100

static void test_staggered(void)
{
    static op_t ops[NSTAG];
    static int fds[NSTAG][2];
    static char bufs[NSTAG];
    uint64_t base = io_wait_now();
    int64_t t0 = gort_nanotime();
    for (int i = 0; i < NSTAG; i++) {
        unix_pair(fds[i]);
        op_init(&ops[i], fds[i][0]);
        /* Deadlines out of order: 10..60 ms, interleaved. */
        int64_t d = t0 + 10 * MS + (int64_t)((i * 37) % NSTAG) * MS / 2;
        if (i % 2) {
            ops[i].events = GORT_READ;
            ops[i].deadline = d;
            CHECK_EQ(gort_go(g_fd_wait, &ops[i]), 0);
        } else {
            ops[i].deadline = d;
            ops[i].buf = &bufs[i];
            ops[i].n = 1;
            CHECK_EQ(gort_set_deadline(fds[i][0], GORT_READ, d), 0);
            CHECK_EQ(gort_go(g_read, &ops[i]), 0);
        }
    }
    for (int i = 0; i < NSTAG; i++) {
        op_await(&ops[i], "staggered deadline");
        long ret = i % 2 ? (ops[i].ret == ETIMEDOUT ? -1 : ops[i].ret) : ops[i].ret;
        check_timed_out(ret, ops[i].err, ops[i].t_end, ops[i].deadline, "staggered");
        op_free(&ops[i]);
        close(fds[i][0]);
        close(fds[i][1]);
    }
    CHECK_EQ(io_wait_now(), base);
}

static void all(void *a)
{
    (void)a;
    watchdog_start("test_netpoll_deadline", 60);
    test_fd_wait_deadline();
    test_read_deadline_before();
    test_parked_read();
    test_write_deadline();
    test_parked_write();
    test_accept_connect_deadline();
    test_staggered();
}

int main(void)
{
    run_main_child(all, NULL, "1", NULL);
    run_main_child(all, NULL, "2", NULL);
    run_main_child(all, NULL, "4", NULL);
    return 0;
}
