/*
 * echo_netpoll.c — gort's server of issue 10's echo benchmarks (echo1k,
 * idle10k; protocol in echo.h, load from bench/echo_load.c): the server
 * written the way the netpoller is meant to be used, Go's way —
 * gort_listen, goroutine 1 gort_accept()s, one goroutine per connection
 * reads into a 2 KiB (ECHO_BUF) stack buffer with gort_read and writes back what it
 * read with gort_write until EOF, then gort_close.  A goroutine waiting
 * for its client parks on the netpoller: it holds no thread.
 *
 * Its Go twin is `gobench echo` (net.Listen, a goroutine per net.Conn,
 * Read into a 2 KiB buffer, Write back), the same work; TCP_NODELAY is
 * set on every accepted connection as Go does by default.  The issue-8
 * benchmark bench/echo.c (plain blocking read()/write()) stays as it is.
 * RLIMIT_NOFILE's soft limit is raised to the hard one (Go >= 1.19 does
 * the same at start-up), for 10,000 connections.
 */
#include "common.h"
#include "echo.h"

#include <sys/resource.h>

static gort_waitgroup conns_wg = GORT_WAITGROUP_INIT;
static int n_conns;

static void conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[ECHO_BUF];
    for (;;) {
        ssize_t r = gort_read(fd, buf, sizeof buf);
        if (r <= 0)
            break;
        if (gort_write(fd, buf, (size_t)r) != r)
            break;
    }
    gort_close(fd);
    gort_wg_done(&conns_wg);
}

static void server(void *arg)
{
    (void)arg;
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    gort_stats s0, s1;
    char st[512];
    int lfd = gort_listen("tcp4", "127.0.0.1:0");
    if (lfd < 0)
        echo_die("gort_listen");
    if (getsockname(lfd, (struct sockaddr *)&a, &len) != 0)
        echo_die("getsockname");
    printf("SERVER impl=gort port=%d\n", ntohs(a.sin_port));
    fflush(stdout);
    gort_read_stats(&s0);
    for (int i = 0; i < n_conns; i++) {
        int fd = gort_accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                i--;
                continue;
            }
            echo_die("gort_accept");
        }
        echo_nodelay(fd);
        gort_wg_add(&conns_wg, 1);
        bench_go(conn, (void *)(intptr_t)fd);
    }
    gort_close(lfd);
    gort_wg_wait(&conns_wg);
    gort_read_stats(&s1);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("SERVER_DONE %s\n", st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    n_conns = echo_conns_arg(argc, argv);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return gort_main(server, NULL) ? 1 : 0;
}
