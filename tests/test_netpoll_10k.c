/*
 * test_netpoll_10k.c — 10,000 connections, each with a goroutine parked in
 * gort_read, at GORTMAXPROCS=2 (and 4).
 *
 * The peers live in a helper process (forked before any runtime starts,
 * a plain C program): each socket pair is made here and its second end is
 * sent over a unix socket (SCM_RIGHTS) and closed here, so this process
 * holds 10,000 fds, not 20,000 (RLIMIT_NOFILE's hard limit is often
 * 20,000 or less).  Skipped, with a message, if the hard limit is under
 * 10,100.
 *
 * While all 10,000 are parked:
 *  - gort_stats.io_wait reports them (10,000, nothing else is parked on
 *    the poller);
 *  - the process has at most GORTMAXPROCS + 4 threads (an idle connection
 *    costs no thread);
 *  - RSS per connection is printed (goroutine stack + pd; not asserted:
 *    the 8 KiB target is the benchmark's).
 * Then the helper writes each connection's own index to it; every reader
 * must get exactly its own index (no crossed wake-ups) and finish, and
 * io_wait goes back to 0.
 */
#include "netcheck.h"

#define NCONN 10000
#define BATCH 200

static int ctl[2];        /* [0] this process, [1] the helper */
static int conn[NCONN];   /* this process's ends */
static gort_waitgroup wg;
static atomic_int wrong;

static void send_fds(int sock, const int *fds, int n)
{
    char dummy = 'f';
    struct iovec iov = {&dummy, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int) * BATCH)];
        struct cmsghdr align;
    } u;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
    CHECK_CALL(sendmsg(sock, &msg, 0), 1);
}

/* The helper: collect NCONN fds, then on 'w' write each its index, then
 * wait for the control socket to close. */
static void helper(void)
{
    static int peers[NCONN];
    int n = 0;
    while (n < NCONN) {
        char dummy;
        struct iovec iov = {&dummy, 1};
        union {
            char buf[CMSG_SPACE(sizeof(int) * BATCH)];
            struct cmsghdr align;
        } u;
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = u.buf;
        msg.msg_controllen = sizeof u.buf;
        ssize_t r = recvmsg(ctl[1], &msg, 0);
        if (r <= 0)
            _exit(3);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (!c || c->cmsg_type != SCM_RIGHTS)
            _exit(4);
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        memcpy(&peers[n], CMSG_DATA(c), sizeof(int) * (size_t)k);
        n += k;
    }
    char cmd;
    if (read(ctl[1], &cmd, 1) != 1 || cmd != 'w')
        _exit(5);
    for (int i = 0; i < NCONN; i++) {
        int32_t v = i;
        if (write(peers[i], &v, sizeof v) != (ssize_t)sizeof v)
            _exit(6);
    }
    while (read(ctl[1], &cmd, 1) > 0)
        ;
    _exit(0);
}

static void reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    int32_t v = -1;
    ssize_t r = gort_read(conn[i], &v, sizeof v);
    if (r != (ssize_t)sizeof v || v != i)
        atomic_fetch_add(&wrong, 1);
    gort_wg_done(&wg);
}

static int procs;

static void all(void *arg)
{
    (void)arg;
    watchdog_start("test_netpoll_10k", 90);
    int64_t t0 = gort_nanotime();
    int base_threads = thread_count();
    long rss0 = rss_bytes();
    int batch[BATCH], nb = 0;
    for (int i = 0; i < NCONN; i++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair %d: %s", i, strerror(errno));
        conn[i] = sv[0];
        batch[nb++] = sv[1];
        if (nb == BATCH) {
            send_fds(ctl[0], batch, nb);
            for (int k = 0; k < nb; k++)
                close(batch[k]);
            nb = 0;
        }
    }
    CHECK_EQ(nb, 0);
    int64_t t1 = gort_nanotime();
    long rss1 = rss_bytes();
    gort_wg_add(&wg, NCONN);
    for (int i = 0; i < NCONN; i++)
        CHECK_EQ(gort_go(reader, (void *)(intptr_t)i), 0);
    watchdog_phase("10,000 readers parking");
    wait_io_wait(NCONN);
    int64_t t2 = gort_nanotime();
    int threads = thread_count();
    long rss2 = rss_bytes();
    gort_stats s;
    gort_read_stats(&s);
    CHECK(s.io_wait == NCONN, "gort_stats.io_wait %" PRIu64 ", want %d", s.io_wait, NCONN);
    CHECK(threads <= procs + 4, "%d threads with %d connections parked at GORTMAXPROCS=%d "
          "(%d before)", threads, NCONN, procs, base_threads);
    fprintf(stderr, "GORTMAXPROCS=%d: %d threads; RSS %ld KiB with the fds, +%ld KiB for %d "
            "parked readers (%.0f B each); setup %lld ms, parking %lld ms\n",
            procs, threads, rss1 / 1024, (rss2 - rss1) / 1024, NCONN,
            (double)(rss2 - rss1) / NCONN, (long long)((t1 - t0) / MS),
            (long long)((t2 - t1) / MS));
    (void)rss0;

    watchdog_phase("10,000 readers waking");
    CHECK_CALL(write(ctl[0], "w", 1), 1);
    gort_wg_wait(&wg);
    int64_t t3 = gort_nanotime();
    CHECK(atomic_load(&wrong) == 0, "%d readers got another connection's data", atomic_load(&wrong));
    CHECK_EQ(io_wait_now(), 0);
    fprintf(stderr, "GORTMAXPROCS=%d: all %d woken in %lld ms\n", procs, NCONN,
            (long long)((t3 - t2) / MS));
    for (int i = 0; i < NCONN; i++)
        CHECK_CALL(close(conn[i]), 0);
}

int main(void)
{
    struct rlimit rl;
    CHECK_CALL(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < NCONN + 100) {
        printf("test_netpoll_10k: SKIP: RLIMIT_NOFILE hard limit %llu < %d\n",
               (unsigned long long)rl.rlim_max, NCONN + 100);
        return 0;
    }
    rl.rlim_cur = rl.rlim_max;
    CHECK_CALL(setrlimit(RLIMIT_NOFILE, &rl), 0);
    static const char *const cfg[] = {"2", "4"};
    for (int c = 0; c < 2; c++) {
        CHECK_CALL(socketpair(AF_UNIX, SOCK_STREAM, 0, ctl), 0);
        fflush(NULL);
        pid_t hp = fork();
        CHECK(hp >= 0);
        if (hp == 0) {
            close(ctl[0]);
            helper();
        }
        close(ctl[1]);
        procs = atoi(cfg[c]);
        run_main_child(all, NULL, cfg[c], NULL);
        close(ctl[0]);
        int st;
        CHECK(waitpid(hp, &st, 0) == hp);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "helper status %#x", st);
    }
    return 0;
}
