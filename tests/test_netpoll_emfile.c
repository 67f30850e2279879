/*
 * test_netpoll_emfile.c — gort_accept when the fd table is full
 * (GORTMAXPROCS=2, then 1).
 *
 * RLIMIT_NOFILE is lowered to a few above what is open, the table is
 * filled with /dev/null, and a client connects (its socket made beforehand):
 *  - gort_accept with the connection already pending returns -1 EMFILE at
 *    once (documented: returned at once, never retried);
 *  - an acceptor parked before the connection arrives wakes and returns
 *    -1 EMFILE too;
 *  - the process does not spin meanwhile: over a 300 ms window in which
 *    every goroutine waits on something else (a sleep), with the
 *    listener still readable, the process uses under 50 ms of CPU (a
 *    busy poller or a retrying accept uses the whole window, or at least
 *    its share of a loaded machine, well above that);
 *  - once one fd is freed, gort_accept returns the pending connection at
 *    once (no new edge comes: the call must try accept4 before parking),
 *    and the new fd works.
 */
#include "netcheck.h"

#define WINDOW (300 * MS)
#define MAX_CPU (50 * MS)

static void check_not_spinning(const char *when)
{
    int64_t c0 = cpu_ns(), t0 = gort_nanotime();
    gort_sleep(WINDOW);
    int64_t c1 = cpu_ns(), t1 = gort_nanotime();
    CHECK(c1 - c0 < MAX_CPU, "%s: %lld ms of CPU in %lld ms of waiting: spinning", when,
          (long long)((c1 - c0) / MS), (long long)((t1 - t0) / MS));
}

static void all(void *arg)
{
    (void)arg;
    watchdog_start("test_netpoll_emfile", 60);
    struct sockaddr_in a;
    int lfd = tcp_listener(16, &a);
    /* The poller exists before the table fills (its own fds). */
    CHECK_EQ(gort_fd_wait(lfd, GORT_READ, 0), ETIMEDOUT);
    int c1 = socket(AF_INET, SOCK_STREAM, 0);
    int c2 = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c1 >= 0 && c2 >= 0);

    struct rlimit old, rl;
    CHECK_CALL(getrlimit(RLIMIT_NOFILE, &old), 0);
    int highest = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fd_open(fd))
            highest = fd;
    rl = old;
    rl.rlim_cur = (rlim_t)highest + 16;
    CHECK_CALL(setrlimit(RLIMIT_NOFILE, &rl), 0);
    static int fill[4096];
    int nfill = 0;
    for (;;) {
        int d = open("/dev/null", O_RDONLY);
        if (d < 0) {
            CHECK(errno == EMFILE, "open: %s", strerror(errno));
            break;
        }
        CHECK(nfill < 4096);
        fill[nfill++] = d;
    }

    /* Pending before the call. */
    CHECK_CALL(connect(c1, (struct sockaddr *)&a, sizeof a), 0);
    int64_t t0 = gort_nanotime();
    errno = 0;
    CHECK_CALL(gort_accept(lfd, NULL, NULL), -1);
    CHECK(errno == EMFILE, "errno %d (%s)", errno, strerror(errno));
    CHECK(gort_nanotime() - t0 < SLACK, "EMFILE took %lld ms", (long long)((gort_nanotime() - t0) / MS));
    check_not_spinning("after gort_accept's EMFILE, connection pending");
    errno = 0;
    CHECK_CALL(gort_accept(lfd, NULL, NULL), -1); /* still full: again at once */
    CHECK_EQ(errno, EMFILE);

    /* Parked, then a connection comes (and one is still pending). */
    op_t o;
    op_init(&o, lfd);
    /* The pending connection makes the listener readable: the acceptor
     * fails at once, or parks first if it was taken; both end EMFILE. */
    CHECK_EQ(gort_go(g_accept, &o), 0);
    CHECK_CALL(connect(c2, (struct sockaddr *)&a, sizeof a), 0);
    op_await(&o, "gort_accept with the table full");
    CHECK(o.ret == -1 && o.err == EMFILE, "ret %ld errno %d", o.ret, o.err);
    op_free(&o);
    check_not_spinning("after a parked gort_accept's EMFILE");

    /* Room for one: the pending connection comes out at once. */
    close(fill[--nfill]);
    t0 = gort_nanotime();
    int s = gort_accept(lfd, NULL, NULL);
    CHECK(s >= 0, "gort_accept after an fd was freed: %s", strerror(errno));
    CHECK(gort_nanotime() - t0 < SLACK);
    CHECK(fd_nonblock(s) && fd_cloexec(s));
    CHECK_CALL(gort_write(c1, "h", 1), 1);
    char ch;
    int got = (int)gort_read(s, &ch, 1);
    if (got != 1) /* accepted c2's connection: c1 is the other one */
        CHECK(0, "read from the accepted fd: %d (%s)", got, strerror(errno));
    /* Table full again: EMFILE again, no spin. */
    errno = 0;
    CHECK_CALL(gort_accept(lfd, NULL, NULL), -1);
    CHECK_EQ(errno, EMFILE);
    close(fill[--nfill]);
    int s2 = gort_accept(lfd, NULL, NULL);
    CHECK(s2 >= 0, "second gort_accept after an fd was freed: %s", strerror(errno));
    close(s);
    close(s2);
    while (nfill)
        close(fill[--nfill]);
    CHECK_CALL(setrlimit(RLIMIT_NOFILE, &old), 0);
    close(c1);
    close(c2);
    close(lfd);
}

int main(void)
{
    run_main_child(all, NULL, "2", NULL);
    run_main_child(all, NULL, "1", NULL);
    return 0;
}
