/*
 * echo_client.c — the load of the echo benchmark, the same for every server
 * (see echo.h).  Usage:
 *
 *   echo_client [-c conns] [-t secs] [-w warmup_secs] SERVER_CMD [ARGS...]
 *
 * It starts `SERVER_CMD ARGS... conns` with its stdout on a pipe, reads the
 * port from the server's first line, opens `conns` (50) connections, then
 * runs one plain pthread per connection (no gort here: this program is not
 * linked with it), each a closed loop of 64-byte requests: write, read the
 * 64-byte reply back in full, compare, count.  After `warmup` (0.5 s) it
 * counts the round trips of all connections for `secs` (3 s); then every
 * thread finishes its round trip and closes its connection, the server
 * prints SERVER_DONE and exits, and the client prints
 *
 *   RESULT name=echo impl=<server's impl> unit=ns/op value=<ns per round
 *          trip, all connections together> rt_per_s=... conn_min=...
 *          conn_max=... server_cpu_us_per_rt=... <SERVER_DONE's fields>
 *
 * value is 1e9 / (round trips per second): lower is better, as in the other
 * benchmarks; conn_min/conn_max are the slowest and fastest connection's
 * round trips per second (a server that serves connections one at a time
 * shows conn_min near 0).  It fails (exit 1, no RESULT) if a reply is
 * wrong, if a connection made no round trip in the measured window, or if
 * the server stops answering (10 s), which is what gort did before issue 8.
 *
 * Fairness: the client runs as a separate process with the same 50 threads
 * for every server, on the same 2 CPUs as the server; each server pays for
 * the CPU the client takes in the same way.  The server's CPU time per
 * round trip (user + system, from its rusage, whole run) is reported so
 * a server's efficiency can be told apart from how the CPUs were shared.
 */
#define _GNU_SOURCE
#include "echo.h"

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/wait.h>

struct conn {
    _Alignas(64) atomic_uint_fast64_t n; /* round trips done */
    int fd, id;
    pthread_t th;
};

static atomic_int stop, finished;
static struct conn *conns;
static pid_t server_pid;

static void fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "echo_client: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    if (server_pid > 0)
        kill(server_pid, SIGKILL);
    exit(1);
}

static void *client(void *arg)
{
    struct conn *c = arg;
    char req[ECHO_MSG], rep[ECHO_MSG];
    uint64_t seq = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        seq++;
        memcpy(req, &seq, sizeof seq);
        memcpy(req + 8, &c->id, sizeof c->id);
        for (int k = 12; k < ECHO_MSG; k++)
            req[k] = (char)(seq + (uint64_t)k);
        if (echo_write_all(c->fd, req, sizeof req) != 0)
            fail("write: %s", strerror(errno));
        int r = echo_read_full(c->fd, rep, sizeof rep);
        if (r != 0)
            fail("read: %s", r > 0 ? "EOF from the server" : strerror(errno));
        if (memcmp(req, rep, sizeof req) != 0)
            fail("%s", "the server echoed different bytes");
        atomic_store_explicit(&c->n, seq, memory_order_relaxed);
    }
    close(c->fd);
    atomic_fetch_add(&finished, 1);
    return NULL;
}


static double cpu_secs(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 +
           (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    int n = ECHO_CONNS, opt;
    double secs = 3, warmup = 0.5;
    while ((opt = getopt(argc, argv, "+c:t:w:")) != -1) {
        switch (opt) {
        case 'c': n = atoi(optarg); break;
        case 't': secs = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        default: optind = argc; break;
        }
    }
    if (optind >= argc || n < 1 || secs <= 0 || warmup < 0) {
        fprintf(stderr, "usage: echo_client [-c conns] [-t secs] [-w warmup_secs] "
                        "SERVER_CMD [ARGS...]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    /* The server: SERVER_CMD ARGS... conns, stdout on a pipe. */
    char line[1024], impl[64];
    int port, out;
    server_pid = echo_spawn_server(argv + optind, argc - optind, n, "echo_client", &out);
    if (echo_read_line(out, line, sizeof line, 30000) != 0 ||
        sscanf(line, "SERVER impl=%63s port=%d", impl, &port) != 2)
        fail("%s", "the server did not print \"SERVER impl=... port=...\" within 30 s");

    /* Connect every connection before any load starts: the kernel
     * completes them from the listen backlog whether or not the server
     * has accept()ed yet. */
    conns = calloc((size_t)n, sizeof *conns);
    if (!conns)
        echo_die("calloc");
    for (int i = 0; i < n; i++) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        conns[i].id = i;
        conns[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (conns[i].fd < 0)
            echo_die("socket");
        if (connect(conns[i].fd, (struct sockaddr *)&a, sizeof a) != 0)
            echo_die("connect");
        echo_nodelay(conns[i].fd);
    }
    for (int i = 0; i < n; i++) {
        errno = pthread_create(&conns[i].th, NULL, client, &conns[i]);
        if (errno)
            echo_die("pthread_create");
    }

    uint64_t *c0 = calloc((size_t)n, sizeof *c0), *c1 = calloc((size_t)n, sizeof *c1);
    echo_sleep_ns((int64_t)(warmup * 1e9));
    int64_t t0 = echo_now();
    for (int i = 0; i < n; i++)
        c0[i] = atomic_load_explicit(&conns[i].n, memory_order_relaxed);
    echo_sleep_ns((int64_t)(secs * 1e9));
    int64_t t1 = echo_now();
    for (int i = 0; i < n; i++)
        c1[i] = atomic_load_explicit(&conns[i].n, memory_order_relaxed);
    atomic_store(&stop, 1);

    /* Each thread finishes the round trip it is in; one that never gets
     * its reply means the server stopped serving that connection. */
    int64_t deadline = echo_now() + 10 * (int64_t)1000000000;
    while (atomic_load(&finished) < n && echo_now() < deadline)
        echo_sleep_ns(10000000);
    if (atomic_load(&finished) < n) {
        int stuck = n - atomic_load(&finished);
        snprintf(line, sizeof line, "%d of %d connections got no reply for 10 s: the %s server "
                 "hangs", stuck, n, impl);
        fail("%s", line);
    }
    uint64_t all = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(conns[i].th, NULL);
        all += atomic_load(&conns[i].n);
    }

    char done[1024] = "";
    if (echo_read_line(out, line, sizeof line, 10000) != 0 ||
        strncmp(line, "SERVER_DONE", 11) != 0)
        fail("%s", "the server did not print SERVER_DONE within 10 s of the last close");
    snprintf(done, sizeof done, "%s", line + 11 + (line[11] == ' '));
    int st;
    if (waitpid(server_pid, &st, 0) != server_pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(line, sizeof line, "the server exited with status %#x", st);
        server_pid = 0;
        fail("%s", line);
    }
    server_pid = 0;
    struct rusage rs, rc;
    getrusage(RUSAGE_SELF, &rs);
    getrusage(RUSAGE_CHILDREN, &rc);

    double dt = (double)(t1 - t0) / 1e9, lo = 1e300, hi = 0;
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        uint64_t d = c1[i] - c0[i];
        if (d == 0) {
            snprintf(line, sizeof line, "connection %d made no round trip in %.1f s (the %s "
                     "server does not serve its connections at once)", i, dt, impl);
            fail("%s", line);
        }
        sum += d;
        lo = (double)d / dt < lo ? (double)d / dt : lo;
        hi = (double)d / dt > hi ? (double)d / dt : hi;
    }
    double rate = (double)sum / dt;
    printf("RESULT name=echo impl=%s unit=ns/op value=%.1f rt_per_s=%.0f conns=%d msg=%d "
           "window_s=%.2f conn_min=%.0f conn_max=%.0f server_cpu_us_per_rt=%.2f "
           "client_cpu_us_per_rt=%.2f %s\n",
           impl, 1e9 / rate, rate, n, ECHO_MSG, dt, lo, hi, cpu_secs(&rc) * 1e6 / (double)all,
           cpu_secs(&rs) * 1e6 / (double)all, done);
    fflush(stdout);
    return 0;
}
