/* echo_blocking.c — a TCP echo server written the ordinary way: blocking
 * sockets, goroutine 1 accept()s, one goroutine per connection read()s and
 * write()s until EOF.  Plain libc calls, nothing gort-specific in the I/O:
 * while a goroutine waits in read() its P goes to another thread, so two
 * Ps serve any number of connections.
 *
 *   echo_blocking PORT     serve 127.0.0.1:PORT until killed (0: any free
 *                          port, printed);  try: nc 127.0.0.1 PORT
 *   echo_blocking          (`make demo`) serve a free port and drive it
 *                          with 50 client threads, 1000 round trips of
 *                          64 bytes each, then print the throughput and
 *                          how many connections were being served at once.
 */
#include <gort.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEMO_CONNS 50
#define DEMO_ROUNDS 1000
#define DEMO_MSG 64

static int listen_fd, port;
static atomic_int live, most_live; /* connections being served */

static void die(const char *what)
{
    fprintf(stderr, "echo_blocking: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One goroutine per connection: echo until the client closes. */
static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    int now = atomic_fetch_add(&live, 1) + 1;
    for (int m = atomic_load(&most_live); now > m;)
        if (atomic_compare_exchange_weak(&most_live, &m, now))
            break;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || write_all(fd, buf, (size_t)n) != 0)
            break;
    }
    atomic_fetch_sub(&live, 1);
    close(fd);
}

/* Accept `limit` connections (0: for ever), a goroutine each. */
static void accept_loop(int limit)
{
    for (int n = 0; limit == 0 || n < limit; n++) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) {
                n--;
                continue;
            }
            die("accept");
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (gort_go(serve, (void *)(intptr_t)fd) != 0) {
            fprintf(stderr, "echo_blocking: gort_go failed: dropping a connection\n");
            close(fd);
        }
    }
}

/* ---- the demo's clients: plain threads, as another program would be ---- */

static atomic_int failures;

static void *client(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("client connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[DEMO_MSG], rep[DEMO_MSG];
    for (int r = 0; r < DEMO_ROUNDS; r++) {
        snprintf(req, sizeof req, "client %d, message %d", id, r);
        size_t got = 0;
        if (write_all(fd, req, sizeof req) != 0)
            die("client write");
        while (got < sizeof rep) {
            ssize_t n = read(fd, rep + got, sizeof rep - got);
            if (n <= 0)
                die("client read");
            got += (size_t)n;
        }
        if (memcmp(req, rep, sizeof req) != 0)
            atomic_fetch_add(&failures, 1);
    }
    close(fd);
    return NULL;
}

static void demo(void)
{
    pthread_t th[DEMO_CONNS];
    int64_t t0 = gort_nanotime();
    for (int i = 0; i < DEMO_CONNS; i++)
        if (pthread_create(&th[i], NULL, client, (void *)(intptr_t)i) != 0)
            die("pthread_create");
    accept_loop(DEMO_CONNS);
    for (int i = 0; i < DEMO_CONNS; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(gort_nanotime() - t0) / 1e9;
    gort_stats s;
    gort_read_stats(&s);
    printf("echo_blocking: %d connections x %d round trips of %d bytes in %.2f s "
           "(%.0f round trips/s, %d wrong replies) with %d Ps\n",
           DEMO_CONNS, DEMO_ROUNDS, DEMO_MSG, secs, DEMO_CONNS * DEMO_ROUNDS / secs,
           atomic_load(&failures), gort_maxprocs(0));
    printf("echo_blocking: up to %d connections served at once; %llu system calls, "
           "%llu P hand-offs, %llu threads\n",
           atomic_load(&most_live), (unsigned long long)s.syscalls,
           (unsigned long long)s.handoffs, (unsigned long long)s.threads);
    if (atomic_load(&failures))
        exit(1);
}

static void main_goroutine(void *arg)
{
    const char *port_arg = arg;
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof a;
    int one = 1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)(port_arg ? atoi(port_arg) : 0));
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd < 0)
        die("socket");
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(listen_fd, 128) != 0 ||
        getsockname(listen_fd, (struct sockaddr *)&a, &len) != 0)
        die("listen");
    port = ntohs(a.sin_port);
    if (!port_arg) {
        demo();
        return;
    }
    printf("echo_blocking: listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    accept_loop(0);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a client that went away is an error return */
    return gort_main(main_goroutine, argc > 1 ? argv[1] : NULL);
}
