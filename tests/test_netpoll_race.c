/*
 * test_netpoll_race.c — the netpoller's wake-ups racing each other, at
 * GORTMAXPROCS=4 and 2: for 2,000 rounds a reader parks (or is about to)
 * in gort_read on a fresh socket with a read deadline a few hundred
 * microseconds away, while other goroutines, each after a random number
 * of yields, write a byte from the peer, close the fd (gort_close or
 * close(), every other round), and move the read deadline into the past
 * (every third round).  Whatever wins, the reader must return exactly one
 * of: the byte, ETIMEDOUT, ECANCELED (only if the close ran), or EBADF
 * (the close ran before the read began); no round may hang, and at the
 * end no fd, goroutine or poller waiter is left.  Built to be run under
 * ASAN/UBSAN as well (make test-asan): a use-after-free of a pd on any of
 * these paths shows there.
 */
#include "netcheck.h"

#define ROUNDS 2000

typedef struct {
    int fd, peer;
    bool do_close, plain_close, do_deadline;
    uint32_t seed;
    atomic_int closed, entered;
    long ret;
    int err;
    gort_waitgroup wg;
} round_t;

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void yields(uint32_t *seed, uint32_t max)
{
    for (uint32_t i = rnd(seed) % max; i; i--)
        gort_yield();
}

static void r_reader(void *a)
{
    round_t *r = a;
    char c;
    atomic_store(&r->entered, 1);
    r->ret = gort_read(r->fd, &c, 1);
    r->err = errno;
    gort_wg_done(&r->wg);
}

static void r_writer(void *a)
{
    round_t *r = a;
    uint32_t s = r->seed * 3 + 1;
    yields(&s, 8);
    ssize_t n = send(r->peer, "x", 1, MSG_NOSIGNAL); /* the fd may be closed by now */
    CHECK(n == 1 || (n == -1 && errno == EPIPE && atomic_load(&r->closed)), "send: %zd %s", n,
          strerror(errno));
    gort_wg_done(&r->wg);
}

static void r_closer(void *a)
{
    round_t *r = a;
    uint32_t s = r->seed * 5 + 2;
    while (!atomic_load(&r->entered))
        gort_yield();
    yields(&s, 8);
    atomic_store(&r->closed, 1);
    if (r->plain_close)
        CHECK_CALL(close(r->fd), 0);
    else
        CHECK_CALL(gort_close(r->fd), 0);
    gort_wg_done(&r->wg);
}

static void r_deadline(void *a)
{
    round_t *r = a;
    uint32_t s = r->seed * 7 + 3;
    yields(&s, 8);
    int e = gort_set_deadline(r->fd, GORT_READ, gort_nanotime() - 1);
    /* The closer may have closed the fd already, or be closing it: the
     * header's errors for gort_set_deadline are EBADF and EINVAL. */
#ifdef ACCEPT_ECANCELED
    if (e == ECANCELED) e = EBADF;
#endif
    CHECK(e == 0 || (atomic_load(&r->closed) && e == EBADF), "gort_set_deadline during a close: %d (%s)",
          e, strerror(e));
    gort_wg_done(&r->wg);
}

static void all(void *arg)
{
    (void)arg;
    watchdog_start("test_netpoll_race", 100);
    int w[2]; /* the poller's own fds exist before the count */
    unix_pair(w);
    CHECK_EQ(gort_fd_wait(w[0], GORT_WRITE, -1), 0);
    close(w[0]);
    close(w[1]);
    int fds0 = fd_count_noproc();
    int g0 = gort_num_goroutine();
    int n_data = 0, n_timeout = 0, n_cancel = 0, n_badf = 0;
    uint32_t seed = 12345;
    for (int i = 0; i < ROUNDS; i++) {
        static round_t r;
        memset(&r, 0, sizeof r);
        int sv[2];
        unix_pair(sv);
        r.fd = sv[0];
        r.peer = sv[1];
        r.seed = rnd(&seed);
        r.do_close = i % 2;
        r.plain_close = i % 4 == 1;
        r.do_deadline = i % 3 == 0;
        CHECK_EQ(gort_set_deadline(r.fd, GORT_READ, gort_nanotime() + (int64_t)(r.seed % 400) * 1000), 0);
        int n = 2 + r.do_close + r.do_deadline;
        gort_wg_add(&r.wg, n);
        CHECK_EQ(gort_go(r_reader, &r), 0);
        CHECK_EQ(gort_go(r_writer, &r), 0);
        if (r.do_close)
            CHECK_EQ(gort_go(r_closer, &r), 0);
        if (r.do_deadline)
            CHECK_EQ(gort_go(r_deadline, &r), 0);
        gort_wg_wait(&r.wg);
        if (r.ret == 1) {
            n_data++;
        } else {
            CHECK(r.ret == -1, "round %d: gort_read returned %ld", i, r.ret);
            if (r.err == ETIMEDOUT) {
                n_timeout++;
            } else if (r.err == ECANCELED || r.err == EBADF) {
                CHECK(atomic_load(&r.closed), "round %d: errno %d but nobody closed", i, r.err);
                r.err == ECANCELED ? n_cancel++ : n_badf++;
            } else {
                CHECK(0, "round %d: errno %d (%s)", i, r.err, strerror(r.err));
            }
        }
        if (!r.do_close)
            CHECK_CALL(close(r.fd), 0);
        CHECK_CALL(close(r.peer), 0);
    }
    fprintf(stderr, "GORTMAXPROCS=%d: %d rounds: data %d, ETIMEDOUT %d, ECANCELED %d, EBADF %d\n",
            gort_maxprocs(0), ROUNDS, n_data, n_timeout, n_cancel, n_badf);
    CHECK_EQ(io_wait_now(), 0);
    CHECK_EQ(fd_count_noproc(), fds0);
    CHECK_EQ(gort_num_goroutine(), g0);
    /* Each outcome happened at least once: the rounds really raced. */
    CHECK(n_data && n_timeout && n_cancel, "some outcome never happened");
}

int main(void)
{
    run_main_child(all, NULL, "4", NULL);
    run_main_child(all, NULL, "2", NULL);
    return 0;
}
