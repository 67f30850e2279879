/*
 * test_netpoll_peer.c — what the peer does to us: end of file, resets,
 * and SIGPIPE (GORTMAXPROCS=2, then the SIGPIPE part again at 1).
 *
 *  - EOF: a peer's shutdown(SHUT_WR) or close makes gort_read return 0,
 *    for a reader already parked and for one that comes later (socket
 *    pair, TCP, pipe whose write end closes); data sent before the EOF is
 *    read first, also when data and EOF reach a parked reader as one edge
 *    (its read is short, and the next must still find the EOF).
 *  - Reset: a TCP peer closing with SO_LINGER {1, 0} sends RST: gort_read
 *    fails ECONNRESET (parked or not); writing to it fails EPIPE or
 *    ECONNRESET; a writer parked on a full socket when the RST comes stops
 *    with the bytes written or -1, errno EPIPE or ECONNRESET.
 *  - SIGPIPE: gort_write to a socket whose peer closed and to a pipe whose
 *    read end closed fails EPIPE (also when parked on a full pipe when the
 *    reader goes, and from a plain thread); the process is not killed, a
 *    SIGPIPE handler the program installed is never called, no SIGPIPE is
 *    left pending, and the disposition stays the program's: with SIG_DFL a
 *    plain write(2) to a broken pipe still kills the process.
 */
#include "netcheck.h"

static bool err_is_reset(int e) { return e == EPIPE || e == ECONNRESET; }

static void test_eof(void)
{
    char buf[16];
    int sv[2];
    /* Data, then shutdown: the data, then 0, then 0 again. */
    unix_pair(sv);
    CHECK_CALL(gort_write(sv[1], "last", 4), 4);
    CHECK_CALL(shutdown(sv[1], SHUT_WR), 0);
    CHECK_CALL(gort_read(sv[0], buf, sizeof buf), 4);
    CHECK_CALL(gort_read(sv[0], buf, sizeof buf), 0);
    CHECK_CALL(gort_read(sv[0], buf, sizeof buf), 0);
    /* The other direction still works after a half close. */
    CHECK_CALL(gort_write(sv[0], "back", 4), 4);
    CHECK_CALL(gort_read(sv[1], buf, sizeof buf), 4);
    close(sv[0]);
    close(sv[1]);

    /* Parked readers woken by EOF: socket pair close, TCP shutdown and
     * close, pipe write end close. */
    for (int kind = 0; kind < 4; kind++) {
        int rfd, wfd;
        if (kind == 0 || kind == 3) {
            unix_pair(sv);
        } else {
            tcp_pair(sv);
        }
        rfd = sv[0], wfd = sv[1];
        if (kind == 3) {
            close(sv[0]);
            close(sv[1]);
            CHECK_CALL(pipe(sv), 0);
            rfd = sv[0], wfd = sv[1];
        }
        op_t o;
        op_init(&o, rfd);
        o.buf = buf;
        o.n = sizeof buf;
        uint64_t base = io_wait_now();
        CHECK_EQ(gort_go(g_read, &o), 0);
        wait_io_wait(base + 1);
        if (kind == 2)
            CHECK_CALL(shutdown(wfd, SHUT_WR), 0);
        else
            CHECK_CALL(close(wfd), 0);
        op_await(&o, "parked gort_read at the peer's EOF");
        CHECK(o.ret == 0, "kind %d: parked read at EOF returned %ld errno %d", kind, o.ret, o.err);
        op_free(&o);
        CHECK_CALL(gort_read(rfd, buf, sizeof buf), 0);
        close(rfd);
        if (kind == 2)
            close(wfd);
    }
}

/* Reads until EOF; ret = bytes before it, or -1. */
static void g_read_to_eof(void *a)
{
    op_t *o = a;
    size_t total = 0;
    for (;;) {
        ssize_t r = gort_read(o->fd, o->buf + total, o->n - total);
        if (r <= 0) {
            op_finish(o, r == 0 ? (long)total : -1);
            return;
        }
        total += (size_t)r;
    }
}

/* Data and the EOF in one edge: a parked reader is woken once, its read
 * returns the data (short: the buffer is bigger), and the next read must
 * return 0 although no further edge comes. */
static void test_data_then_eof_one_edge(void)
{
    for (int kind = 0; kind < 3; kind++) {
        int sv[2];
        if (kind == 0)
            unix_pair(sv);
        else if (kind == 1)
            tcp_pair(sv);
        else
            CHECK_CALL(pipe(sv), 0);
        char buf[64];
        op_t o;
        op_init(&o, sv[0]);
        o.buf = buf;
        o.n = sizeof buf;
        uint64_t base = io_wait_now();
        CHECK_EQ(gort_go(g_read_to_eof, &o), 0);
        wait_io_wait(base + 1);
        CHECK_CALL(write(sv[1], "abc", 3), 3);
        CHECK_CALL(close(sv[1]), 0);
        op_await(&o, kind == 0 ? "reader to EOF (unix), data and close in one edge"
                     : kind == 1 ? "reader to EOF (TCP), data and close in one edge"
                                 : "reader to EOF (pipe), data and close in one edge");
        CHECK(o.ret == 3, "kind %d: %ld bytes before EOF, errno %d", kind, o.ret, o.err);
        op_free(&o);
        close(sv[0]);
    }
}

static void rst_close(int fd)
{
    struct linger lg = {1, 0};
    CHECK_CALL(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    CHECK_CALL(close(fd), 0);
}

static void test_reset(void)
{
    char buf[16];
    int sv[2];
    /* Not parked: RST already there. */
    tcp_pair(sv);
    rst_close(sv[1]);
    CHECK_EQ(gort_fd_wait(sv[0], GORT_READ, gort_nanotime() + SLACK), 0); /* error = ready */
    errno = 0;
    CHECK_CALL(gort_read(sv[0], buf, sizeof buf), -1);
    CHECK(errno == ECONNRESET, "read after RST: errno %d (%s)", errno, strerror(errno));
    /* Writing to the reset connection: EPIPE (the error was reported). */
    errno = 0;
    CHECK_CALL(gort_write(sv[0], "x", 1), -1);
    CHECK(err_is_reset(errno), "write after RST: errno %d (%s)", errno, strerror(errno));
    close(sv[0]);

    /* Parked reader gets the RST. */
    tcp_pair(sv);
    op_t o;
    op_init(&o, sv[0]);
    o.buf = buf;
    o.n = sizeof buf;
    uint64_t base = io_wait_now();
    CHECK_EQ(gort_go(g_read, &o), 0);
    wait_io_wait(base + 1);
    rst_close(sv[1]);
    op_await(&o, "parked gort_read at the peer's RST");
    CHECK(o.ret == -1 && o.err == ECONNRESET, "parked read at RST: %ld errno %d (%s)", o.ret,
          o.err, strerror(o.err));
    op_free(&o);
    close(sv[0]);

    /* Write first (no error reported yet): EPIPE or ECONNRESET. */
    tcp_pair(sv);
    rst_close(sv[1]);
    CHECK_EQ(gort_fd_wait(sv[0], GORT_WRITE, gort_nanotime() + SLACK), 0);
    errno = 0;
    CHECK_CALL(gort_write(sv[0], "x", 1), -1);
    CHECK(err_is_reset(errno), "write at RST: errno %d (%s)", errno, strerror(errno));
    close(sv[0]);

    /* A writer parked mid-write (peer not reading, buffers full) when the
     * peer resets: it stops with what it wrote, errno says why.  Both
     * buffers fixed small: with the kernel's autotuning (tcp_rmem up to
     * 32 MiB on one host) the whole 4 MiB sometimes fit, under load, and
     * the writer finished without parking (6 of 10 runs beside six busy
     * loops). */
    tcp_pair(sv);
    int small = 65536;
    CHECK_CALL(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    CHECK_CALL(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    static char big[4 << 20];
    op_init(&o, sv[0]);
    o.buf = big;
    o.n = sizeof big;
    CHECK_EQ(gort_go(g_write, &o), 0);
    wait_io_wait(base + 1);
    rst_close(sv[1]);
    op_await(&o, "parked gort_write at the peer's RST");
    CHECK((o.ret == -1 || (o.ret > 0 && o.ret < (long)sizeof big)) && err_is_reset(o.err),
          "parked write at RST: %ld errno %d (%s)", o.ret, o.err, strerror(o.err));
    op_free(&o);
    close(sv[0]);
}

/* ---- SIGPIPE --------------------------------------------------------- */

static volatile sig_atomic_t handler_calls;
static void count_sigpipe(int s)
{
    (void)s;
    handler_calls++;
}

static bool sigpipe_pending(void)
{
    sigset_t p;
    sigemptyset(&p);
    sigpending(&p);
    return sigismember(&p, SIGPIPE);
}

static void check_no_sigpipe(const char *what)
{
    CHECK(handler_calls == 0, "%s: the program's SIGPIPE handler ran %d times", what,
          (int)handler_calls);
    CHECK(!sigpipe_pending(), "%s: SIGPIPE left pending", what);
}

static void *thread_write_broken(void *arg)
{
    int *p = arg;
    errno = 0;
    ssize_t r = gort_write(p[1], "t", 1);
    p[2] = r == -1 ? errno : 0;
    return NULL;
}

static void epipe_cases(void)
{
    char buf[16];
    /* Socket pair, peer closed. */
    int sv[2];
    unix_pair(sv);
    close(sv[1]);
    errno = 0;
    CHECK_CALL(gort_write(sv[0], "x", 1), -1);
    CHECK_EQ(errno, EPIPE);
    check_no_sigpipe("gort_write to a closed socket peer");
    close(sv[0]);
    /* TCP, peer closed (FIN, then RST for the data, then EPIPE). */
    tcp_pair(sv);
    close(sv[1]);
    ssize_t r;
    int tries = 0;
    while ((r = gort_write(sv[0], "y", 1)) == 1) {
        CHECK(++tries < 1000, "writes to a closed TCP peer kept succeeding");
        gort_sleep(MS); /* the peer's RST must come back */
    }
    CHECK(r == -1 && err_is_reset(errno), "errno %d", errno);
    CHECK_CALL(gort_write(sv[0], "y", 1), -1);
    CHECK_EQ(errno, EPIPE);
    check_no_sigpipe("gort_write to a closed TCP peer");
    close(sv[0]);
    /* Pipe, read end closed. */
    int p[3];
    CHECK_CALL(pipe(p), 0);
    close(p[0]);
    errno = 0;
    CHECK_CALL(gort_write(p[1], "z", 1), -1);
    CHECK_EQ(errno, EPIPE);
    check_no_sigpipe("gort_write to a pipe with no reader");
    /* The same from a thread that is not a goroutine. */
    pthread_t th;
    p[2] = -1;
    CHECK_EQ(pthread_create(&th, NULL, thread_write_broken, p), 0);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK(p[2] == EPIPE, "plain thread: errno %d", p[2]);
    check_no_sigpipe("gort_write from a plain thread to a pipe with no reader");
    close(p[1]);
    /* Parked on a full pipe when the reader goes: stops with EPIPE. */
    CHECK_CALL(pipe(p), 0);
    fill_pipe(p[1]);
    static char big[1 << 16];
    op_t o;
    op_init(&o, p[1]);
    o.buf = big;
    o.n = sizeof big;
    uint64_t base = io_wait_now();
    CHECK_EQ(gort_go(g_write, &o), 0);
    wait_io_wait(base + 1);
    close(p[0]);
    op_await(&o, "gort_write parked on a full pipe whose reader closed");
    CHECK(o.ret == -1 && o.err == EPIPE, "ret %ld errno %d", o.ret, o.err);
    op_free(&o);
    check_no_sigpipe("parked gort_write on a pipe whose reader closed");
    close(p[1]);
    /* Many in a row, from several goroutines: no stray signal at all. */
    for (int i = 0; i < 50; i++) {
        CHECK_CALL(pipe(p), 0);
        close(p[0]);
        CHECK_CALL(gort_write(p[1], buf, 1), -1);
        CHECK_EQ(errno, EPIPE);
        close(p[1]);
    }
    check_no_sigpipe("50 broken pipes");
    gort_sleep(MS);
    gort_yield();
}

/* The program's disposition is SIG_DFL: gort's calls do not die, a plain
 * write(2) still does. */
static void main_default(void *a)
{
    (void)a;
    watchdog_start("test_netpoll_peer (SIG_DFL)", 60);
    struct sigaction sa;
    CHECK_CALL(sigaction(SIGPIPE, NULL, &sa), 0);
    CHECK(sa.sa_handler == SIG_DFL, "gort changed SIGPIPE's disposition");
    epipe_cases();
    CHECK_CALL(sigaction(SIGPIPE, NULL, &sa), 0);
    CHECK(sa.sa_handler == SIG_DFL, "SIGPIPE's disposition changed after gort_write's EPIPE");
    int p[2];
    CHECK_CALL(pipe(p), 0);
    close(p[0]);
    fprintf(stderr, "about to die\n");
    ssize_t r = write(p[1], "d", 1);
    fprintf(stderr, "plain write to a broken pipe returned %zd: SIGPIPE did not kill\n", r);
    _exit(7);
}

static void child_default(void *procs)
{
    setenv("GORTMAXPROCS", procs, 1);
    gort_main(main_default, NULL);
    _exit(5);
}

static void main_handler(void *a)
{
    (void)a;
    watchdog_start("test_netpoll_peer (handler)", 60);
    signal(SIGPIPE, count_sigpipe);
    epipe_cases();
    /* The handler is the program's and still works. */
    raise(SIGPIPE);
    CHECK_EQ(handler_calls, 1);
}

static void main_eof_reset(void *a)
{
    (void)a;
    watchdog_start("test_netpoll_peer", 60);
    test_eof();
    test_data_then_eof_one_edge();
    test_reset();
}

int main(void)
{
    run_main_child(main_eof_reset, NULL, "2", NULL);
    static const char *const cfg[] = {"1", "2"};
    for (int i = 0; i < 2; i++) {
        run_main_child(main_handler, NULL, cfg[i], NULL);
        char buf[16384];
        int st = capture_child(child_default, (void *)cfg[i], buf, sizeof buf);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE,
              "GORTMAXPROCS=%s: want death by SIGPIPE at the plain write only; status %#x:\n%s",
              cfg[i], st, buf);
        CHECK(strstr(buf, "about to die\n"), "died before the plain write:\n%s", buf);
    }
    return 0;
}
