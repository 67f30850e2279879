/*
 * test_netpoll_thread.c — threads that are not goroutines (pthreads) using
 * the whole fd API, mixed with goroutines, at GORTMAXPROCS=1 and 2.  A
 * plain thread's call blocks the thread; gort_stats.io_wait counts it
 * while it waits on the poller.
 *
 *  - a thread parked in gort_read is woken by a goroutine's gort_write,
 *    and a goroutine parked in gort_read by a thread's gort_write;
 *  - a thread parked in gort_read, gort_accept or gort_fd_wait wakes with
 *    ECANCELED when a goroutine gort_closes the fd;
 *  - a thread accepts (gort_accept) a goroutine's gort_connect and they
 *    echo; a thread's gort_connect is refused (ECONNREFUSED);
 *  - a thread's gort_write of 4 MiB to a goroutine reading slowly writes
 *    it all;
 *  - deadlines on a thread: gort_fd_wait's, and a goroutine shortening the
 *    read deadline of a thread already parked (ETIMEDOUT, never early);
 *  - 8 threads and 8 goroutines ping-pong at once;
 *  - the process's main thread before gort_main (no poller yet): a read
 *    woken by a thread, fd_wait's deadline, a write; then a goroutine
 *    parks on the same fd (registered before the runtime existed) and is
 *    woken.
 */
#include "netcheck.h"

typedef struct {
    int fd;
    int kind;        /* what the thread does, see thread_main */
    long ret;
    int err;
    int64_t t_end;
    size_t n;
    char buf[64];
    atomic_int done;
} th_t;

enum { T_READ, T_ACCEPT, T_FD_WAIT, T_WRITE_BIG, T_ECHO_SERVER, T_PING };

#define TBIG (4u << 20)
static unsigned char *tbig;

static void *thread_main(void *arg)
{
    th_t *t = arg;
    CHECK(gort_self() == 0, "a plain thread claims to be a goroutine");
    switch (t->kind) {
    case T_READ:
        t->ret = gort_read(t->fd, t->buf, sizeof t->buf);
        break;
    case T_ACCEPT:
        t->ret = gort_accept(t->fd, NULL, NULL);
        break;
    case T_FD_WAIT:
        t->ret = gort_fd_wait(t->fd, GORT_READ, -1);
        errno = (int)t->ret;
        break;
    case T_WRITE_BIG:
        t->ret = gort_write(t->fd, tbig, TBIG);
        break;
    case T_ECHO_SERVER: {
        int s = gort_accept(t->fd, NULL, NULL);
        CHECK(s >= 0, "thread gort_accept: %s", strerror(errno));
        CHECK(fd_nonblock(s) && fd_cloexec(s));
        char b[256];
        ssize_t n;
        size_t total = 0;
        while ((n = gort_read(s, b, sizeof b)) > 0) {
            CHECK_CALL(gort_write(s, b, (size_t)n), n);
            total += (size_t)n;
        }
        CHECK(n == 0, "thread echo read: %s", strerror(errno));
        gort_close(s);
        t->ret = (long)total;
        break;
    }
    case T_PING:
        for (uint32_t i = 0; i < 200; i++) {
            uint32_t v = i, got = 0;
            CHECK_CALL(gort_write(t->fd, &v, sizeof v), (long)sizeof v);
            CHECK_CALL(gort_read(t->fd, &got, sizeof got), (long)sizeof got);
            CHECK(got == v + 1, "thread ping %u: got %u", i, got);
        }
        t->ret = 200;
        break;
    }
    t->err = errno;
    t->t_end = gort_nanotime();
    atomic_store(&t->done, 1);
    return NULL;
}

static pthread_t start(th_t *t)
{
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, thread_main, t), 0);
    return th;
}

/* Join with a bound: a thread that is never woken fails the test. */
static void join(pthread_t th, th_t *t, const char *what)
{
    int64_t start = gort_nanotime();
    while (!atomic_load(&t->done)) {
        CHECK(gort_nanotime() - start < SLACK, "%s: the thread was not woken", what);
        gort_sleep(100000);
    }
    CHECK_EQ(pthread_join(th, NULL), 0);
}

static void test_wake_by_data(void)
{
    int sv[2];
    unix_pair(sv);
    th_t t = {.fd = sv[0], .kind = T_READ};
    uint64_t base = io_wait_now();
    pthread_t th = start(&t);
    wait_io_wait(base + 1); /* the thread is parked on the poller */
    CHECK(!atomic_load(&t.done));
    CHECK_CALL(gort_write(sv[1], "from g", 6), 6);
    join(th, &t, "thread parked in gort_read, goroutine writes");
    CHECK(t.ret == 6 && memcmp(t.buf, "from g", 6) == 0, "ret %ld errno %d", t.ret, t.err);
    CHECK_EQ(io_wait_now(), base);

    /* The other way: a goroutine parked, a thread writes. */
    char b[8] = {0};
    op_t o;
    op_init(&o, sv[1]);
    o.buf = b;
    o.n = sizeof b;
    CHECK_EQ(gort_go(g_read, &o), 0);
    wait_io_wait(base + 1);
    th_t w = {.fd = sv[0], .kind = T_PING}; /* writes 4 bytes, then reads */
    pthread_t wt = start(&w);
    op_await(&o, "goroutine parked in gort_read, thread writes");
    CHECK(o.ret == 4, "ret %ld", o.ret);
    /* Answer the thread's pings for it from here on. */
    uint32_t v;
    memcpy(&v, b, 4);
    for (uint32_t i = 0;; i++) {
        CHECK_EQ(v, i);
        v++;
        CHECK_CALL(gort_write(sv[1], &v, sizeof v), 4);
        if (i == 199)
            break;
        CHECK_CALL(gort_read(sv[1], &v, sizeof v), 4);
    }
    join(wt, &w, "thread ping");
    op_free(&o);
    close(sv[0]);
    close(sv[1]);
}

static void test_cancel(void)
{
    for (int kind = T_READ; kind <= T_FD_WAIT; kind++) {
        int sv[2] = {-1, -1};
        int fd;
        if (kind == T_ACCEPT) {
            fd = tcp_listener(4, NULL);
        } else {
            unix_pair(sv);
            fd = sv[0];
        }
        th_t t = {.fd = fd, .kind = kind};
        uint64_t base = io_wait_now();
        pthread_t th = start(&t);
        wait_io_wait(base + 1);
        CHECK_CALL(gort_close(fd), 0);
        join(th, &t, kind == T_READ ? "thread in gort_read, gort_close"
                     : kind == T_ACCEPT ? "thread in gort_accept, gort_close"
                                        : "thread in gort_fd_wait, gort_close");
        long ret = kind == T_FD_WAIT ? (t.ret == ECANCELED ? -1 : t.ret) : t.ret;
        CHECK(ret == -1 && t.err == ECANCELED, "kind %d: ret %ld errno %d (%s)", kind, t.ret,
              t.err, strerror(t.err));
        if (sv[1] >= 0)
            close(sv[1]);
    }
}

static void test_accept_connect(void)
{
    struct sockaddr_in a;
    int lfd = tcp_listener(4, &a);
    th_t t = {.fd = lfd, .kind = T_ECHO_SERVER};
    pthread_t th = start(&t);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_CALL(gort_connect(c, (struct sockaddr *)&a, sizeof a), 0);
    char out[1000], in[1000];
    for (int i = 0; i < 1000; i++)
        out[i] = (char)pat((size_t)i);
    for (int r = 0; r < 20; r++) {
        CHECK_CALL(gort_write(c, out, sizeof out), (long)sizeof out);
        size_t got = 0;
        while (got < sizeof in) {
            ssize_t n = gort_read(c, in + got, sizeof in - got);
            CHECK(n > 0, "echo read: %zd %s", n, strerror(errno));
            got += (size_t)n;
        }
        CHECK(memcmp(in, out, sizeof in) == 0);
    }
    CHECK_CALL(shutdown(c, SHUT_WR), 0);
    join(th, &t, "thread echo server");
    CHECK_EQ(t.ret, 20 * 1000);
    close(c);
    close(lfd);
}

static void *thread_misc(void *arg)
{
    (void)arg;
    /* Refused. */
    struct sockaddr_in a;
    int r = tcp_refuser(&a);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    CHECK_CALL(gort_connect(c, (struct sockaddr *)&a, sizeof a), -1);
    CHECK(errno == ECONNREFUSED, "thread connect: errno %d", errno);
    close(c);
    close(r);
    /* fd_wait's deadline. */
    int sv[2];
    unix_pair(sv);
    int64_t d = gort_nanotime() + 20 * MS;
    CHECK_EQ(gort_fd_wait(sv[0], GORT_READ, d), ETIMEDOUT);
    int64_t t = gort_nanotime();
    CHECK(t >= d && t - d < SLACK, "thread fd_wait deadline: %lld ns off", (long long)(t - d));
    /* fd deadline set before. */
    d = gort_nanotime() + 20 * MS;
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, d), 0);
    char ch;
    CHECK_CALL(gort_read(sv[0], &ch, 1), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    t = gort_nanotime();
    CHECK(t >= d, "thread read deadline fired early");
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, -1), 0);
    CHECK_CALL(gort_write(sv[1], "k", 1), 1);
    CHECK_CALL(gort_read(sv[0], &ch, 1), 1);
    close(sv[0]);
    close(sv[1]);
    return NULL;
}

static void test_thread_misc(void)
{
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, thread_misc, NULL), 0);
    CHECK_EQ(pthread_join(th, NULL), 0);
}

/* A goroutine shortens the read deadline of a parked thread. */
static void test_thread_deadline_parked(void)
{
    int sv[2];
    unix_pair(sv);
    th_t t = {.fd = sv[0], .kind = T_READ};
    uint64_t base = io_wait_now();
    pthread_t th = start(&t);
    wait_io_wait(base + 1);
    int64_t d = gort_nanotime() + 20 * MS;
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, d), 0);
    join(th, &t, "thread parked in gort_read, deadline set");
    CHECK(t.ret == -1 && t.err == ETIMEDOUT, "ret %ld errno %d", t.ret, t.err);
    CHECK(t.t_end >= d, "thread's deadline fired %lld ns early", (long long)(d - t.t_end));
    close(sv[0]);
    close(sv[1]);
}

typedef struct {
    int fd;
    gort_waitgroup *wg;
} slow_t;

static void slow_read_all(void *arg)
{
    slow_t *s = arg;
    static unsigned char b[3001];
    size_t got = 0;
    for (;;) {
        ssize_t n = gort_read(s->fd, b, sizeof b);
        if (n == 0)
            break;
        CHECK(n > 0, "%s", strerror(errno));
        for (ssize_t i = 0; i < n; i++)
            CHECK_EQ(b[i], pat(got + (size_t)i));
        got += (size_t)n;
        gort_yield();
    }
    CHECK_EQ(got, TBIG);
    gort_wg_done(s->wg);
}

static void test_thread_big_write(void)
{
    tbig = malloc(TBIG);
    CHECK(tbig);
    for (size_t i = 0; i < TBIG; i++)
        tbig[i] = pat(i);
    int sv[2];
    unix_pair(sv);
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    slow_t s = {sv[1], &wg};
    gort_wg_add(&wg, 1);
    CHECK_EQ(gort_go(slow_read_all, &s), 0);
    th_t t = {.fd = sv[0], .kind = T_WRITE_BIG};
    pthread_t th = start(&t);
    join(th, &t, "thread big write");
    CHECK(t.ret == (long)TBIG, "thread gort_write returned %ld (%s)", t.ret, strerror(t.err));
    close(sv[0]);
    gort_wg_wait(&wg);
    close(sv[1]);
    free(tbig);
}

#define NT 8
typedef struct {
    int fd;
    gort_waitgroup *wg;
} pong_t;

static void ponger(void *arg)
{
    pong_t *p = arg;
    uint32_t v;
    for (int i = 0; i < 200; i++) {
        CHECK_CALL(gort_read(p->fd, &v, sizeof v), 4);
        v++;
        CHECK_CALL(gort_write(p->fd, &v, sizeof v), 4);
    }
    gort_wg_done(p->wg);
}

static void test_many_threads(void)
{
    th_t t[NT];
    pong_t p[NT];
    pthread_t th[NT];
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_wg_add(&wg, NT);
    for (int i = 0; i < NT; i++) {
        int sv[2];
        if (i % 2)
            tcp_pair(sv);
        else
            unix_pair(sv);
        p[i] = (pong_t){sv[1], &wg};
        CHECK_EQ(gort_go(ponger, &p[i]), 0);
        memset(&t[i], 0, sizeof t[i]);
        t[i].fd = sv[0];
        t[i].kind = T_PING;
        th[i] = start(&t[i]);
    }
    for (int i = 0; i < NT; i++) {
        join(th[i], &t[i], "ping thread");
        CHECK_EQ(t[i].ret, 200);
    }
    gort_wg_wait(&wg);
    for (int i = 0; i < NT; i++) {
        close(t[i].fd);
        close(p[i].fd);
    }
}

static void all(void *a)
{
    (void)a;
    watchdog_start("test_netpoll_thread", 60);
    test_wake_by_data();
    test_cancel();
    test_accept_connect();
    test_thread_misc();
    test_thread_deadline_parked();
    test_thread_big_write();
    test_many_threads();
}

/* ---- before gort_main ----------------------------------------------- */

static int pre[2];

static void *late_writer(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
    CHECK_CALL(write(pre[1], "p", 1), 1);
    return NULL;
}

static void main_after_pre(void *a)
{
    (void)a;
    watchdog_start("test_netpoll_thread (pre-main fd)", 60);
    /* The fd was registered before the runtime (and its poller) existed:
     * a goroutine parks on it and is woken by a thread's write. */
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, late_writer, NULL), 0);
    char c = 0;
    CHECK_EQ(gort_set_deadline(pre[0], GORT_READ, gort_nanotime() + SLACK), 0);
    long r = gort_read(pre[0], &c, 1);
    CHECK(r == 1 && c == 'p', "goroutine read of an fd used before gort_main: %ld (%s)", r,
          strerror(errno));
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(gort_set_deadline(pre[0], GORT_READ, -1), 0);
}

/* The process's main thread before gort_main (nobody polls yet: the call
 * blocks the thread on its own), then the runtime. */
static void pre_main(void)
{
    fflush(NULL);
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        setenv("GORTMAXPROCS", "2", 1);
        alarm(60);
        unix_pair(pre);
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, late_writer, NULL), 0);
        char c = 0;
        CHECK_CALL(gort_read(pre[0], &c, 1), 1);
        CHECK_EQ(c, 'p');
        CHECK_EQ(pthread_join(th, NULL), 0);
        int64_t d = gort_nanotime() + 20 * MS;
        CHECK_EQ(gort_fd_wait(pre[0], GORT_READ, d), ETIMEDOUT);
        CHECK(gort_nanotime() >= d, "pre-main fd_wait returned before its deadline");
        CHECK_CALL(gort_write(pre[0], "q", 1), 1);
        CHECK_CALL(read(pre[1], &c, 1), 1);
        run_main(main_after_pre, NULL);
        _exit(0);
    }
    int st;
    CHECK(waitpid(p, &st, 0) == p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fd calls before gort_main: status %#x", st);
}

int main(void)
{
    pre_main();
    run_main_child(all, NULL, "1", NULL);
    run_main_child(all, NULL, "2", NULL);
    return 0;
}
