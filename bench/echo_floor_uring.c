/*
 * echo_floor_uring.c — a second floor under issue 10's echo1k: the same
 * protocol (echo.h) served with no runtime through io_uring's completion
 * model instead of epoll's readiness model.  Not a twin and not a target:
 * where echo_floor.c bounds what a readiness server (gort's netpoller,
 * Go's) can reach on this machine, this one measures what batching the
 * system calls themselves would add (`make bench` reports it as
 * information beside echo_floor).
 *
 * Why it matters here: on this host (a 2-vCPU VM) a system call's fixed
 * cost is about 1.1 µs of CPU (getppid in a loop), so a readiness server's
 * read + send per request pay ~2.2 µs before TCP does any work.  With
 * io_uring the thread queues a recv per connection and a send per reply
 * and makes one io_uring_enter for all it has queued, reaping every
 * completion from the shared ring without a system call.
 *
 * Two modes (ECHO_URING=complete, the default, or batch):
 *
 *   complete: the completion model.  Each thread has its own ring and a
 *     multishot accept on the shared listener; a connection stays on the
 *     thread that accepted it.  Per connection one request at a time:
 *     recv into its 2 KiB buffer, then send what came, then recv again.
 *     The ring is SINGLE_ISSUER|DEFER_TASKRUN (Linux 6.1), so the kernel's
 *     deferred work for a recv that had to wait runs only inside this
 *     thread's own io_uring_enter: natural for a thread that owns its
 *     connections, hard for a runtime whose goroutines move between
 *     threads (DESIGN.md, "How far the echo target is from this host's
 *     floor").
 *   batch: epoll's readiness model, as echo_floor.c, with the system
 *     calls batched: for the connections one epoll_wait reported, one
 *     io_uring_enter makes all their recvs, and one more all the sends.
 *     Every op carries MSG_DONTWAIT, so none waits in the kernel: each
 *     completes inside the io_uring_enter that submitted it (data or
 *     -EAGAIN), whichever thread made it.  This is the shape a goroutine
 *     runtime can take: a ring per P, flushed by whichever thread holds
 *     the P.
 *
 * Left out, deliberately, as in echo_floor.c: deadlines, cancellation,
 * fairness, short sends (a 64-byte reply into an empty socket buffer is
 * never short; a short one ends the run with exit 2, not a wrong echo).
 */
#define _GNU_SOURCE
#include "echo_floor.h"

#include <liburing.h>
#include <stdbool.h>

struct conn {
    int fd;
    int sending; /* the op in flight: 0 recv, 1 send */
    int len;     /* bytes being sent; batch mode: the op's result */
    char buf[ECHO_BUF];
};

static char accept_tag; /* user_data of the multishot accept */

static struct io_uring_sqe *sqe_get(struct io_uring *r)
{
    struct io_uring_sqe *s = io_uring_get_sqe(r);
    if (!s) { /* the submission ring is full: hand it over first */
        io_uring_submit(r);
        s = io_uring_get_sqe(r);
    }
    if (!s)
        echo_die("io_uring_get_sqe");
    return s;
}

static void post_recv(struct io_uring *r, struct conn *c)
{
    struct io_uring_sqe *s = sqe_get(r);
    io_uring_prep_recv(s, c->fd, c->buf, sizeof c->buf, 0);
    c->sending = 0;
    io_uring_sqe_set_data(s, c);
}

static void post_send(struct io_uring *r, struct conn *c, int n)
{
    struct io_uring_sqe *s = sqe_get(r);
    io_uring_prep_send(s, c->fd, c->buf, (size_t)n, MSG_NOSIGNAL);
    c->sending = 1;
    c->len = n;
    io_uring_sqe_set_data(s, c);
}

static void post_accept(struct io_uring *r)
{
    struct io_uring_sqe *s = sqe_get(r);
    io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data(s, &accept_tag);
}

static void complete(struct io_uring *r, struct io_uring_cqe *cqe)
{
    void *d = io_uring_cqe_get_data(cqe);
    if (d == &accept_tag) {
        if (cqe->res >= 0) {
            struct conn *c = malloc(sizeof *c);
            if (!c)
                echo_die("malloc");
            c->fd = cqe->res;
            echo_nodelay(c->fd);
            atomic_fetch_add(&n_accepted, 1);
            post_recv(r, c);
        } else if (cqe->res != -EINTR && cqe->res != -ECONNABORTED) {
            errno = -cqe->res;
            echo_die("accept");
        }
        if (!(cqe->flags & IORING_CQE_F_MORE)) /* the multishot ended */
            post_accept(r);
        return;
    }
    struct conn *c = d;
    if (!c->sending && cqe->res > 0) {
        post_send(r, c, cqe->res);
    } else if (c->sending && cqe->res == c->len) {
        post_recv(r, c);
    } else if (c->sending && cqe->res >= 0) {
        errno = EIO;
        echo_die("short send");
    } else { /* EOF, reset, or a failed send */
        close(c->fd);
        free(c);
        atomic_fetch_add(&n_done, 1);
    }
}

static void *loop(void *arg)
{
    (void)arg;
    struct io_uring r;
    struct io_uring_params p = {0};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int e = io_uring_queue_init_params(4096, &r, &p);
    if (e < 0) {
        errno = -e;
        echo_die("io_uring_queue_init_params");
    }
    post_accept(&r);
    while (atomic_load(&n_done) < n_conns) {
        /* The timeout lets a thread whose connections are all gone see
         * that the others' are too. */
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 100000000};
        struct io_uring_cqe *cqe;
        int w = io_uring_submit_and_wait_timeout(&r, &cqe, 1, &ts, NULL);
        if (w < 0 && w != -ETIME && w != -EINTR) {
            errno = -w;
            echo_die("io_uring_submit_and_wait_timeout");
        }
        unsigned head, n = 0;
        io_uring_for_each_cqe(&r, head, cqe) {
            complete(&r, cqe);
            n++;
        }
        io_uring_cq_advance(&r, n);
    }
    io_uring_queue_exit(&r);
    return NULL;
}

/* ---- batch mode ---- */

/* Submit what is queued, wait for its n completions, store each result
 * in its connection's len. */
static void flush(struct io_uring *r, int n)
{
    int w;
    do
        w = io_uring_submit_and_wait(r, (unsigned)n);
    while (w == -EINTR);
    if (w < 0) {
        errno = -w;
        echo_die("io_uring_submit_and_wait");
    }
    struct io_uring_cqe *cqe;
    unsigned head, k = 0;
    io_uring_for_each_cqe(r, head, cqe) {
        ((struct conn *)io_uring_cqe_get_data(cqe))->len = cqe->res;
        k++;
    }
    io_uring_cq_advance(r, k);
}

enum { BATCH = 128 };

static void *loop_batch(void *arg)
{
    (void)arg;
    struct io_uring r;
    int e = io_uring_queue_init(2 * BATCH, &r, 0);
    if (e < 0) {
        errno = -e;
        echo_die("io_uring_queue_init");
    }
    int ep = floor_epoll();
    struct epoll_event evs[BATCH];
    struct conn *ready[BATCH];
    while (atomic_load(&n_done) < n_conns) {
        int k = epoll_wait(ep, evs, BATCH, 100);
        if (k < 0 && errno != EINTR)
            echo_die("epoll_wait");
        int m = 0;
        for (int i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                floor_accept_all(ep, sizeof(struct conn));
                continue;
            }
            struct io_uring_sqe *s = sqe_get(&r);
            io_uring_prep_recv(s, c->fd, c->buf, sizeof c->buf, MSG_DONTWAIT);
            io_uring_sqe_set_data(s, c);
            ready[m++] = c;
        }
        if (!m)
            continue;
        flush(&r, m);
        /* A 64-byte request is read whole: one recv per edge (a request
         * split across edges is read at the next edge). */
        int ns = 0;
        for (int i = 0; i < m; i++) {
            struct conn *c = ready[i];
            if (c->len > 0) {
                struct io_uring_sqe *s = sqe_get(&r);
                io_uring_prep_send(s, c->fd, c->buf, (size_t)c->len, MSG_NOSIGNAL | MSG_DONTWAIT);
                io_uring_sqe_set_data(s, c);
                ready[ns++] = c;
            } else if (c->len != -EAGAIN) { /* EOF or reset */
                close(c->fd);
                free(c);
                atomic_fetch_add(&n_done, 1);
            }
        }
        if (ns)
            flush(&r, ns); /* a short or failed send shows at the next recv */
    }
    close(ep);
    io_uring_queue_exit(&r);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = getenv("ECHO_URING");
    bool batch = mode && strcmp(mode, "batch") == 0;
    return batch ? floor_main(argc, argv, "floor_batch", loop_batch, true)
                 : floor_main(argc, argv, "floor_uring", loop, false);
}
