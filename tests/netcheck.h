/*
 * netcheck.h — helpers for the netpoller's tests (test_netpoll*.c), on top
 * of check.h.  Sockets are made with the plain calls (socketpair, pipe,
 * socket+bind+listen on 127.0.0.1:0), never with gort_listen/gort_dial, so
 * these tests exercise only the fd API (gort_read, gort_write, gort_accept,
 * gort_connect, gort_fd_wait, gort_set_deadline, gort_close).
 *
 * "Parked" is observed, never guessed with a sleep: wait_io_wait(n) yields
 * until gort_stats.io_wait (goroutines and threads parked on the netpoller)
 * reaches n, and fails the test with a message if it never does.
 */
#ifndef GORT_TEST_NETCHECK_H
#define GORT_TEST_NETCHECK_H
#include "check.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#define MS ((int64_t)1000000)
#define SEC ((int64_t)1000000000)

/* Upper bound for "returns promptly" and "wakes": generous, the suite runs
 * on a loaded machine.  Lower bounds (a deadline never fires early) are
 * exact. */
#define SLACK (5 * SEC)

/* A TCP listener on 127.0.0.1 and a free port (written to *addr). */
static inline int tcp_listener(int backlog, struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_CALL(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_CALL(listen(fd, backlog), 0);
    socklen_t len = sizeof a;
    CHECK_CALL(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    if (addr)
        *addr = a;
    return fd;
}

/* A bound, not listening, TCP socket: connecting to *addr is refused for
 * as long as it stays open (nobody else can take the port). */
static inline int tcp_refuser(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_CALL(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    CHECK_CALL(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *addr = a;
    return fd;
}

/* A connected TCP pair over loopback made with the plain calls (the
 * kernel completes a loopback connect before accept is called). */
static inline void tcp_pair(int fds[2])
{
    struct sockaddr_in a;
    int l = tcp_listener(1, &a);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c >= 0);
    CHECK_CALL(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0, "accept: %s", strerror(errno));
    close(l);
    fds[0] = c;
    fds[1] = s;
}

/* Accept queue length and limit of a listening socket (TCP_INFO). */
static inline void acceptq(int lfd, unsigned *len, unsigned *max)
{
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    CHECK_CALL(getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
    *len = ti.tcpi_unacked;
    *max = ti.tcpi_sacked;
}

/* Fill lfd's accept queue with established connections (their fds in
 * fill[], count returned): a further SYN is dropped by the kernel, so a
 * connect to lfd stays in progress until room is made. */
static inline int fill_acceptq(int lfd, struct sockaddr_in *a, int *fill, int max_fill)
{
    int n = 0;
    for (int64_t start = gort_nanotime();;) {
        unsigned len, max;
        acceptq(lfd, &len, &max);
        if (len > max)
            return n;
        if (n > 0 && (unsigned)n > max) { /* the last handshake is still on its way */
            CHECK(gort_nanotime() - start < SLACK, "accept queue: %u of %u", len, max);
            gort_yield();
            continue;
        }
        CHECK(n < max_fill, "accept queue never filled (len %u max %u)", len, max);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(c >= 0);
        /* A plain blocking connect: loopback completes the handshake at
         * once while the queue has room. */
        CHECK_CALL(connect(c, (struct sockaddr *)a, sizeof *a), 0);
        fill[n++] = c;
    }
}

static inline void unix_pair(int fds[2])
{
    CHECK_CALL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
}

static inline bool fd_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    CHECK(fl >= 0);
    return fl & O_NONBLOCK;
}

static inline bool fd_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    CHECK(fl >= 0);
    return fl & FD_CLOEXEC;
}

static inline bool fd_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

/* Inode of what fd is now (0 if closed).  "fd n was closed" is checked as
 * "n no longer refers to that inode": a runtime thread started meanwhile
 * may open its /proc file under the freed number. */
static inline unsigned long fd_ino(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

/* Fill fd's send side (and the peer's receive side) until the kernel says
 * EAGAIN; returns the bytes queued.  The fd's O_NONBLOCK is not touched. */
static inline size_t fill_sndbuf(int fd)
{
    static char junk[65536];
    size_t total = 0;
    for (;;) {
        ssize_t r = send(fd, junk, sizeof junk, MSG_DONTWAIT);
        if (r < 0) {
            CHECK(errno == EAGAIN || errno == EWOULDBLOCK, "send: %s", strerror(errno));
            /* A large write can fail while a small one still fits. */
            r = send(fd, junk, 1, MSG_DONTWAIT);
            if (r < 0)
                return total;
        }
        total += (size_t)r;
    }
}

/* The same for a pipe's write end (no send(2) on pipes). */
static inline size_t fill_pipe(int wfd)
{
    static char junk[65536];
    int fl = fcntl(wfd, F_GETFL);
    CHECK_CALL(fcntl(wfd, F_SETFL, fl | O_NONBLOCK), 0);
    size_t total = 0;
    for (;;) {
        ssize_t r = write(wfd, junk, sizeof junk);
        if (r < 0)
            r = write(wfd, junk, 1);
        if (r < 0) {
            CHECK(errno == EAGAIN, "write: %s", strerror(errno));
            break;
        }
        total += (size_t)r;
    }
    CHECK_CALL(fcntl(wfd, F_SETFL, fl), 0);
    return total;
}

/* Drain whatever is readable now without blocking; returns the bytes. */
static inline size_t drain_now(int fd)
{
    static char junk[65536];
    size_t total = 0;
    for (;;) {
        ssize_t r = recv(fd, junk, sizeof junk, MSG_DONTWAIT);
        if (r <= 0)
            return total;
        total += (size_t)r;
    }
}

static inline uint64_t io_wait_now(void)
{
    gort_stats s;
    gort_read_stats(&s);
    return s.io_wait;
}

/* Yield (and, after a while, sleep a little) until gort_stats.io_wait is
 * at least n: the goroutines or threads this test parks are parked.  A
 * missing park is a failure with a message, not a hang. */
static inline void wait_io_wait(uint64_t n)
{
    int64_t start = gort_nanotime();
    for (int i = 0;; i++) {
        uint64_t now = io_wait_now();
        if (now >= n)
            return;
        CHECK(gort_nanotime() - start < 20 * SEC,
              "gort_stats.io_wait stayed at %" PRIu64 ", want >= %" PRIu64, now, n);
        if (i < 1000)
            gort_yield();
        else
            gort_sleep(100000);
    }
}

/* The same from a thread that is not a goroutine. */
static inline void wait_io_wait_thread(uint64_t n)
{
    int64_t start = gort_nanotime();
    while (io_wait_now() < n) {
        CHECK(gort_nanotime() - start < 20 * SEC, "gort_stats.io_wait stayed at %" PRIu64
              ", want >= %" PRIu64, io_wait_now(), n);
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
}

/* Entries in a /proc directory (fds, threads). */
static inline int count_dir(const char *path)
{
    DIR *d = opendir(path);
    CHECK(d, "opendir %s", path);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - (strcmp(path, "/proc/self/fd") == 0); /* opendir's own fd */
}
static inline int fd_count(void) { return count_dir("/proc/self/fd"); }

/* Open fds other than /proc files.  The runtime keeps no descriptor of
 * its own besides the poller's (no pidfd: mem_linux.c; no per-thread
 * /proc file), but it opens a /proc file for a moment now and then (the
 * deadlock check's /proc/self/status), which is not an fd leak.  With a
 * list (" N=target ...") for messages. */
static inline int fd_list_noproc(char *out, size_t outn)
{
    int n = 0;
    size_t used = 0;
    if (outn)
        out[0] = 0;
    for (int fd = 0; fd < 65536; fd++) {
        char p[64], l[256];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        ssize_t r = readlink(p, l, sizeof l - 1);
        if (r < 0)
            continue;
        l[r] = 0;
        if (strncmp(l, "/proc/", 6) == 0)
            continue;
        n++;
        if (used < outn) {
            int w = snprintf(out + used, outn - used, " %d=%s", fd, l);
            if (w > 0)
                used += (size_t)w;
        }
    }
    return n;
}
static inline int fd_count_noproc(void) { return fd_list_noproc(NULL, 0); }
static inline int thread_count(void) { return count_dir("/proc/self/task"); }

static inline int64_t cpu_ns(void)
{
    return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

/* A goroutine's result, handed back on a channel: the test waits for it
 * with a bound (a missing wake-up fails with a message, not a hang). */
typedef struct {
    int fd;
    int events;      /* for fd_wait */
    int64_t deadline;
    size_t n;        /* bytes to read / write */
    char *buf;
    long ret;        /* what the call returned */
    int err;         /* errno after it */
    int64_t t_end;   /* gort_nanotime() when it returned */
    gort_chan *done; /* receives one int when finished */
    atomic_int finished;
} op_t;

static inline void op_init(op_t *o, int fd)
{
    memset(o, 0, sizeof *o);
    o->fd = fd;
    o->deadline = -1;
    o->done = gort_chan_make(sizeof(int), 1);
    CHECK(o->done);
}

static inline void op_finish(op_t *o, long ret)
{
    o->err = errno;
    o->ret = ret;
    o->t_end = gort_nanotime();
    atomic_store(&o->finished, 1);
    int one = 1;
    gort_chan_send(o->done, &one);
}

/* Wait (bounded) for o to finish. */
static inline void op_await(op_t *o, const char *what)
{
    gort_case c = {o->done, GORT_RECV, NULL, false};
    int r = gort_select(&c, 1, SLACK);
    CHECK(r == 0, "%s: not woken within %llds", what, (long long)(SLACK / SEC));
}

/* o must still be parked: nothing on its channel. */
static inline void op_still_parked(op_t *o, const char *what)
{
    CHECK(!atomic_load(&o->finished), "%s returned %ld errno %d (%s), want it still parked",
          what, o->ret, o->err, strerror(o->err));
}

static inline void op_free(op_t *o)
{
    gort_chan_free(o->done);
    o->done = NULL;
}

static inline void g_read(void *a)
{
    op_t *o = a;
    op_finish(o, gort_read(o->fd, o->buf, o->n));
}
/* A goroutine reading one byte of fd into *c, parked on the netpoller by
 * the time this returns (o set up here; op_free it). */
static inline void park_byte_reader(op_t *o, int fd, char *c)
{
    op_init(o, fd);
    o->buf = c;
    o->n = 1;
    uint64_t base = io_wait_now();
    CHECK_EQ(gort_go(g_read, o), 0);
    wait_io_wait(base + 1);
}

/* A socket pair whose first end the netpoller knows (a byte went through
 * it with gort_read). */
static inline void registered_pair(int sv[2])
{
    char c;
    unix_pair(sv);
    CHECK_CALL(gort_write(sv[1], "r", 1), 1);
    CHECK_CALL(gort_read(sv[0], &c, 1), 1);
}

static inline void g_write(void *a)
{
    op_t *o = a;
    op_finish(o, gort_write(o->fd, o->buf, o->n));
}
static inline void g_accept(void *a)
{
    op_t *o = a;
    op_finish(o, gort_accept(o->fd, NULL, NULL));
}
/* gort_fd_wait returns its error instead of setting errno. */
static inline void g_fd_wait(void *a)
{
    op_t *o = a;
    int r = gort_fd_wait(o->fd, o->events, o->deadline);
    errno = r;
    op_finish(o, r);
}

/* Bytes with a pattern a reader can check at any offset. */
static inline unsigned char pat(size_t i) { return (unsigned char)(i * 7 + (i >> 13)); }

#endif
