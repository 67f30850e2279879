/*
 * echo.h — what the echo benchmark's programs share (bench/echo.c,
 * echo_threads.c, echo_client.c).  Plain libc only: it does not include
 * gort.h, so the thread-per-connection server and the client build and run
 * without gort.
 *
 * The benchmark: bench/echo_client drives one server process over loopback
 * TCP.  It starts the server as `SERVER_CMD... <conns>`; every server (gort's
 * bench/echo.c, the thread-per-connection bench/echo_threads.c, Go's
 * `gobench echo`) then
 *   - listens on 127.0.0.1, an ephemeral port, and prints
 *     "SERVER impl=<impl> port=<port>" on stdout (flushed);
 *   - accepts exactly <conns> connections, each served by its own goroutine
 *     or thread that echoes with blocking read()/write() (Go: net.Conn) until
 *     EOF;
 *   - once every connection is closed, prints one more line
 *     "SERVER_DONE key=value ..." (its own counters, may be empty) and exits 0.
 * Every socket on both sides has TCP_NODELAY, as Go's net package sets by
 * default.  The client is the same program, with the same load, for all
 * three servers; it prints the RESULT line.
 */
#ifndef GORT_BENCH_ECHO_H
#define GORT_BENCH_ECHO_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define ECHO_CONNS 50 /* default connection count */
#define ECHO_MSG 64   /* bytes per request (and per reply) */
#define ECHO_BUF 2048 /* the servers' read buffer (as examples/echo.c; 4 KiB puts a
                       * gort connection's idle stack on a second page) */

static inline void echo_die(const char *what)
{
    fprintf(stderr, "echo: %s: %s\n", what, strerror(errno));
    exit(2);
}

static inline int64_t echo_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One line from fd into buf (without the newline), waiting at most
 * timeout_ms in all; 0, or -1 on EOF/timeout.  (The clients read the
 * server's first line with it.) */
static inline int echo_read_line(int fd, char *buf, size_t len, int timeout_ms)
{
    size_t n = 0;
    int64_t deadline = echo_now() + (int64_t)timeout_ms * 1000000;
    while (n + 1 < len) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int64_t left = (deadline - echo_now()) / 1000000;
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (ch == '\n')
            break;
        buf[n++] = ch;
    }
    buf[n] = 0;
    return 0;
}

static inline void echo_sleep_ns(int64_t ns)
{
    struct timespec ts = { ns / 1000000000, ns % 1000000000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

#ifdef _GNU_SOURCE /* the clients (pipe2); the servers do not start servers */
/* Start `cmd[0..ncmd) conns` with its stdout on a pipe (the clients then
 * read its "SERVER impl=... port=..." line from *out); its pid. */
static inline pid_t echo_spawn_server(char **cmd, int ncmd, int conns, const char *who, int *out)
{
    char **argv = calloc((size_t)ncmd + 2, sizeof *argv);
    char nbuf[32];
    int p[2];
    if (!argv)
        echo_die("calloc");
    snprintf(nbuf, sizeof nbuf, "%d", conns);
    memcpy(argv, cmd, (size_t)ncmd * sizeof *argv);
    argv[ncmd] = nbuf;
    if (pipe2(p, O_CLOEXEC) != 0)
        echo_die("pipe");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        echo_die("fork");
    if (pid == 0) {
        dup2(p[1], 1);
        execvp(argv[0], argv);
        fprintf(stderr, "%s: exec %s: %s\n", who, argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    free(argv);
    *out = p[0];
    return pid;
}
#endif

static inline void echo_nodelay(int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        echo_die("setsockopt(TCP_NODELAY)");
}

/* A listening socket on 127.0.0.1, ephemeral port (stored in *port). */
static inline int echo_listen(int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof a;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        echo_die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        echo_die("bind");
    if (listen(fd, 1024) != 0)
        echo_die("listen");
    if (getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        echo_die("getsockname");
    *port = ntohs(a.sin_port);
    return fd;
}

/* Write all n bytes: 0, or -1 with errno set. */
static inline int echo_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read exactly n bytes: 0, 1 at EOF before n, or -1 with errno set. */
static inline int echo_read_full(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r == 0)
            return 1;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* One connection, served the ordinary way: blocking read, write it back,
 * until EOF (or an error: the peer reset).  Closes fd. */
static inline void echo_serve(int fd)
{
    char buf[ECHO_BUF];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (echo_write_all(fd, buf, (size_t)r) != 0)
            break;
    }
    close(fd);
}

/* accept() one connection, retrying EINTR/ECONNABORTED; TCP_NODELAY set. */
static inline int echo_accept(int lfd)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd >= 0) {
            echo_nodelay(fd);
            return fd;
        }
        if (errno != EINTR && errno != ECONNABORTED)
            echo_die("accept");
    }
}

/* The server's connection count: argv[1], else ECHO_CONNS. */
static inline int echo_conns_arg(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : ECHO_CONNS;
    return n > 0 ? n : ECHO_CONNS;
}

#endif /* GORT_BENCH_ECHO_H */
