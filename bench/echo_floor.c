/*
 * echo_floor.c — the floor under issue 10's echo1k on this machine: the
 * same protocol (echo.h) served by a plain C program with no runtime at
 * all, the way a hand-written event loop would do it.  Not a twin and not a
 * target: it bounds what any server, gort's or Go's, can reach here with
 * this load generator (bench/echo_load.c), as stopfloor.c bounds issue 11's
 * request-to-stop.  `make bench` runs it interleaved with echo1k's gort and
 * Go servers; results.md shows floor / Go and gort / floor.
 *
 * Threads: GORTMAXPROCS of them (default 2, the P count the gort server
 * gets), each with its own epoll set holding the listener (EPOLLEXCLUSIVE,
 * so an incoming connection wakes one thread) and the connections that
 * thread accepted, edge-triggered.  A thread never touches another's
 * connections: no lock, no shared line, no thread hand-off -- the layout a
 * goroutine-per-connection runtime cannot have, since a goroutine may run
 * on any thread.  Per readable edge: read(2) until a read comes back short
 * (a TCP queue read short is empty, so no EAGAIN read follows; the same
 * proof gort's netpoller uses), send(2) back each chunk, MSG_NOSIGNAL.  A
 * connection's 2 KiB buffer (ECHO_BUF, as every server) is in its own
 * malloc'd record.
 *
 * What it leaves out, deliberately: deadlines, cancellation, fairness
 * between connections, and blocking of any kind -- a send that would block
 * waits in poll(2) on that one socket, which a real server could not do
 * (never taken with 64-byte ping-pong).
 */
#define _GNU_SOURCE
#include "echo_floor.h"

#include <stdbool.h>

struct conn {
    int fd;
    char buf[ECHO_BUF];
};


static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            poll(&pf, 1, -1);
        } else if (w < 0 && errno != EINTR) {
            return; /* reset: the read that follows sees it */
        }
    }
}

/* Serve one readable edge; false once the connection is closed. */
static bool serve(struct conn *c)
{
    for (;;) {
        ssize_t r = read(c->fd, c->buf, sizeof c->buf);
        if (r > 0) {
            send_all(c->fd, c->buf, (size_t)r);
            if (r < (ssize_t)sizeof c->buf)
                return true;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && errno == EAGAIN) {
            return true;
        } else {
            close(c->fd);
            free(c);
            atomic_fetch_add(&n_done, 1);
            return false;
        }
    }
}

static void *loop(void *arg)
{
    (void)arg;
    int ep = floor_epoll();
    struct epoll_event evs[128];
    while (atomic_load(&n_done) < n_conns) {
        /* The timeout lets a thread whose connections are all gone see
         * that the others' are too. */
        int k = epoll_wait(ep, evs, 128, 100);
        if (k < 0 && errno != EINTR)
            echo_die("epoll_wait");
        for (int i = 0; i < k; i++) {
            if (!evs[i].data.ptr)
                floor_accept_all(ep, sizeof(struct conn));
            else
                serve(evs[i].data.ptr);
        }
    }
    close(ep);
    return NULL;
}

int main(int argc, char **argv)
{
    return floor_main(argc, argv, "floor", loop, true);
}
