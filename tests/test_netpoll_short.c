/*
 * test_netpoll_short.c — short reads that leave data queued.  A stream
 * read can return less than asked while more is already in the socket:
 * the kernel stops a unix stream read after a message that carried file
 * descriptors (SCM_RIGHTS), at a change of sender when SO_PASSCRED is on,
 * and a TCP read at the urgent mark (MSG_OOB).  No new edge comes for the
 * rest, so gort_read must not take a short read for "drained" and park:
 * the reader, parked first and then sent everything at once, must get all
 * the ordinary bytes.  A read deadline (2 s) turns a wrong park into a
 * failure with a message.  GORTMAXPROCS=1 (the order is then exact) and 2.
 */
#define _GNU_SOURCE
#include "netcheck.h"
#include <sys/ioctl.h>

static void send_with_fd(int s, const char *data, int fd)
{
    struct iovec iov = {(void *)data, strlen(data)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    memset(&u, 0, sizeof u); /* CMSG_SPACE's padding too */
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    CHECK_CALL(sendmsg(s, &m, 0), (long)strlen(data));
}

typedef struct {
    op_t o;
    size_t want;
    atomic_size_t have; /* bytes read so far */
    char got[64];
} collect_t;

/* Read until `want` bytes came, EOF, or an error (the deadline). */
static void collector(void *a)
{
    collect_t *c = a;
    size_t n = 0;
    for (;;) {
        ssize_t r = gort_read(c->o.fd, c->got + n, sizeof c->got - 1 - n);
        if (r <= 0) {
            op_finish(&c->o, r < 0 ? -1 : (long)n);
            return;
        }
        n += (size_t)r;
        atomic_store(&c->have, n);
        if (n >= c->want) {
            op_finish(&c->o, (long)n);
            return;
        }
    }
}

static void start_collector(collect_t *c, int fd, size_t want)
{
    memset(c, 0, sizeof *c);
    op_init(&c->o, fd);
    c->want = want;
    CHECK_EQ(gort_set_deadline(fd, GORT_READ, gort_nanotime() + 2 * SEC), 0);
    uint64_t base = io_wait_now();
    CHECK_EQ(gort_go(collector, c), 0);
    wait_io_wait(base + 1);
}

static void finish_collector(collect_t *c, const char *want, const char *what)
{
    op_await(&c->o, what);
    CHECK(c->o.ret == (long)strlen(want) && memcmp(c->got, want, strlen(want)) == 0,
          "%s: got %ld bytes '%s' (errno %d %s), want '%s'", what, c->o.ret, c->got, c->o.err,
          c->o.ret < 0 ? strerror(c->o.err) : "", want);
    op_free(&c->o);
}

static void test_scm_rights(void)
{
    int sv[2];
    unix_pair(sv);
    collect_t c;
    start_collector(&c, sv[0], 6);
    int nul = open("/dev/null", O_RDONLY);
    CHECK(nul >= 0);
    send_with_fd(sv[1], "aaa", nul); /* the read stops after this message */
    CHECK_CALL(write(sv[1], "bbb", 3), 3);
    finish_collector(&c, "aaabbb", "unix stream read after an SCM_RIGHTS message");
    close(nul);
    close(sv[0]);
    close(sv[1]);
}

static void test_passcred(void)
{
    int sv[2];
    unix_pair(sv);
    int one = 1;
    CHECK_CALL(setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
    collect_t c;
    start_collector(&c, sv[0], 6);
    /* Two senders (processes): the read stops where the sender changes. */
    fflush(NULL);
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        ssize_t r = send(sv[1], "ccc", 3, MSG_NOSIGNAL);
        _exit(r == 3 ? 0 : 1);
    }
    /* Wait for the child's bytes without a blocking call (that would
     * hand the P to the reader before "ddd" is there). */
    for (int64_t t0 = gort_nanotime();;) {
        int q = 0;
        CHECK_CALL(ioctl(sv[0], FIONREAD, &q), 0);
        if ((size_t)q + atomic_load(&c.have) >= 3) /* at 2 Ps the reader may have them */
            break;
        CHECK(gort_nanotime() - t0 < SLACK, "the child's bytes never came");
    }
    CHECK_CALL(write(sv[1], "ddd", 3), 3);
    int st;
    CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    finish_collector(&c, "cccddd", "unix stream read with SO_PASSCRED, two senders");
    close(sv[0]);
    close(sv[1]);
}

static void test_tcp_urgent(void)
{
    int sv[2];
    tcp_pair(sv);
    collect_t c;
    start_collector(&c, sv[1], 6);
    CHECK_CALL(send(sv[0], "eee", 3, 0), 3);
    CHECK_CALL(send(sv[0], "!", 1, MSG_OOB), 1); /* the read stops at the mark */
    CHECK_CALL(send(sv[0], "fff", 3, 0), 3);
    /* Let the segments arrive before the reader runs (at GORTMAXPROCS=1
     * it cannot run before this goroutine blocks): wait, without a
     * blocking call, until the receiver has acknowledged them all. */
    for (int64_t t0 = gort_nanotime();;) {
        struct tcp_info ti;
        socklen_t tl = sizeof ti;
        CHECK_CALL(getsockopt(sv[0], IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
        if (ti.tcpi_unacked == 0)
            break;
        CHECK(gort_nanotime() - t0 < SLACK, "the bytes were never acknowledged");
    }
    finish_collector(&c, "eeefff", "TCP read at the urgent mark");
    close(sv[0]);
    close(sv[1]);
}

static void all(void *a)
{
    (void)a;
    watchdog_start("test_netpoll_short", 60);
    test_scm_rights();
    test_passcred();
    test_tcp_urgent();
}

int main(void)
{
    run_main_child(all, NULL, "1", NULL);
    run_main_child(all, NULL, "2", NULL);
    return 0;
}
