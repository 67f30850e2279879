/*
 * echo_floor.h — what the floors under echo1k share (echo_floor.c,
 * echo_floor_uring.c): the listener and counters, accepting until the
 * queue is empty, and a main that starts one event-loop thread per P
 * (GORTMAXPROCS, default 2, the P count gort's server gets) and waits for
 * them.  Each includer defines _GNU_SOURCE first (accept4).
 */
#ifndef GORT_BENCH_ECHO_FLOOR_H
#define GORT_BENCH_ECHO_FLOOR_H

#include "echo.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/resource.h>

static int lfd, n_conns;
static _Atomic int n_accepted, n_done;

/* The next connection waiting on the non-blocking listener, with
 * TCP_NODELAY, non-blocking and close-on-exec; -1 once none is left. */
static inline int floor_accept_next(void)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            echo_nodelay(fd);
            atomic_fetch_add(&n_accepted, 1);
            return fd;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN)
            echo_die("accept4");
        return -1;
    }
}

/* Accept every connection waiting and add each to the epoll set ep,
 * edge-triggered for input, its event data a malloc'd record of `size`
 * bytes whose first member is the int fd. */
static inline void floor_accept_all(int ep, size_t size)
{
    for (int fd; (fd = floor_accept_next()) >= 0;) {
        int *c = malloc(size);
        if (!c)
            echo_die("malloc");
        *c = fd;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            echo_die("epoll_ctl");
    }
}

/* A thread's epoll set, holding the listener (EPOLLEXCLUSIVE: a new
 * connection wakes one thread; its event data is NULL). */
static inline int floor_epoll(void)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        echo_die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
        echo_die("epoll_ctl(listener)");
    return ep;
}

/* The server's main: listen (non-blocking if asked), announce as impl,
 * run loop on each thread until all have returned, report. */
static inline int floor_main(int argc, char **argv, const char *impl, void *(*loop)(void *),
                             bool nonblock)
{
    int port, nt = 2;
    const char *e = getenv("GORTMAXPROCS");
    if (e && atoi(e) > 0)
        nt = atoi(e);
    n_conns = echo_conns_arg(argc, argv);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    lfd = echo_listen(&port);
    if (nonblock && fcntl(lfd, F_SETFL, O_NONBLOCK) != 0)
        echo_die("fcntl");
    printf("SERVER impl=%s port=%d\n", impl, port);
    fflush(stdout);
    pthread_t *t = calloc((size_t)nt, sizeof *t);
    if (!t)
        echo_die("calloc");
    for (int i = 0; i < nt; i++)
        if (pthread_create(&t[i], NULL, loop, NULL) != 0)
            echo_die("pthread_create");
    for (int i = 0; i < nt; i++)
        pthread_join(t[i], NULL);
    close(lfd);
    printf("SERVER_DONE threads=%d accepted=%d\n", nt, atomic_load(&n_accepted));
    fflush(stdout);
    return 0;
}

#endif /* GORT_BENCH_ECHO_FLOOR_H */
