/*
 * echo.c — gort's server of the echo benchmark (see echo.h): a TCP echo
 * server written the ordinary way, as the issue that added it describes it
 * (issue 8): goroutine 1 accept()s, one goroutine per connection echoes with
 * blocking read()/write(), plain libc calls with no gort-specific I/O.  Run
 * with GORTMAXPROCS=2 it needs every blocked read() to give its P away, or
 * two connections hold both Ps and the other 48 are never served.
 *
 * Driven by bench/echo_client (the value, round trips per second, is
 * measured there); the thread-per-connection twin is bench/echo_threads.c,
 * the Go twin `gobench echo` (net.Listen/net.Conn, netpoller).  This
 * program adds gort's counters over its whole run (accept to last close,
 * the client's warm-up included) to SERVER_DONE.
 */
#include "common.h"
#include "echo.h"

#include <signal.h>

static gort_waitgroup conns_wg = GORT_WAITGROUP_INIT;
static int n_conns;

static void conn(void *arg)
{
    echo_serve((int)(intptr_t)arg);
    gort_wg_done(&conns_wg);
}

static void server(void *arg)
{
    (void)arg;
    int port;
    int lfd = echo_listen(&port);
    gort_stats s0, s1;
    char st[512];

    printf("SERVER impl=gort port=%d\n", port);
    fflush(stdout);
    gort_read_stats(&s0);
    for (int i = 0; i < n_conns; i++) {
        int fd = echo_accept(lfd);
        gort_wg_add(&conns_wg, 1);
        bench_go(conn, (void *)(intptr_t)fd);
    }
    close(lfd);
    gort_wg_wait(&conns_wg);
    gort_read_stats(&s1);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("SERVER_DONE %s syscalls=%" PRIu64 " handoffs=%" PRIu64 "\n", st,
           s1.syscalls - s0.syscalls, s1.handoffs - s0.handoffs);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_conns = echo_conns_arg(argc, argv);
    signal(SIGPIPE, SIG_IGN); /* a reset peer is an error return, not death */
    return gort_main(server, NULL) ? 1 : 0;
}
