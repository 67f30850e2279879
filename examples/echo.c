/* echo.c — a TCP echo server as a Go programmer writes one: listen, accept
 * in a loop, one goroutine per connection that copies what it reads back
 * to the peer until end of file.  The I/O calls park the goroutine on the
 * netpoller, not the thread: an idle connection costs its goroutine's stack
 * and no thread, and GORTMAXPROCS threads serve any number of them.
 *
 *   echo [-t SECONDS] [ADDRESS]
 *
 * ADDRESS is "host:port" (default 127.0.0.1:0, a free port; ":0" is every
 * address), or a Unix socket: a path (anything with a '/') or "@name" in
 * Linux's abstract namespace.  The first line of output is
 * "echo: listening on ADDRESS" with the address actually bound (the port
 * getsockname reports), so a script can connect; `make demo` does
 * (examples/demo.sh, with examples/democlient.c as the client).  -t closes
 * a connection that has been idle, or whose peer has not taken our writes,
 * for SECONDS (Go: SetDeadline before each Read).  Runs until killed.
 * (server.h has what echo and httpd share: arguments, listening, and
 * accept's back-off.)
 *
 * The Go it mirrors:
 *
 *     ln, _ := net.Listen("tcp", addr)
 *     for {
 *         c, err := ln.Accept()      // + net/http's back-off on EMFILE
 *         if err != nil { ... }
 *         go func() { defer c.Close(); io.Copy(c, c) }()
 *     }
 *
 * Nothing in a connection's loop allocates or touches stdio: the buffer is
 * on the goroutine's stack.  Its 2 KiB keep the whole stack a connection
 * touches (its G at the top, serve's frame, the runtime's frames while it
 * is parked) in one page: 5,000 idle connections cost 4.05-4.08 KiB of RSS
 * each, measured; with 4 KiB or more they cost 8.  Bulk transfers pay one
 * more read and write per 2 KiB (Go's io.Copy uses 32 KiB, on the heap).
 */
#include "server.h"
#include <gort.h>
#include <netinet/tcp.h>

static int64_t idle_ns; /* -t: 0 means no deadline */

/* One goroutine per connection: read, write back, until EOF, an error
 * (a reset peer: ECONNRESET; EPIPE, never SIGPIPE) or the idle deadline. */
static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[2048]; /* see the top of the file */
    for (;;) {
        if (idle_ns)
            gort_set_deadline(fd, GORT_READ | GORT_WRITE, gort_nanotime() + idle_ns);
        ssize_t n = gort_read(fd, buf, sizeof buf);
        if (n <= 0)
            break; /* 0: the peer closed; -1: ETIMEDOUT, ECONNRESET, ... */
        if (gort_write(fd, buf, (size_t)n) != n)
            break;
    }
    gort_close(fd);
}

/* Accept for ever, a goroutine per connection.  Failures: see accept_retry
 * (server.h), net/http's back-off when out of file descriptors. */
static void accept_loop(int ln)
{
    int64_t delay = 0;
    for (;;) {
        int fd = gort_accept(ln, NULL, NULL);
        if (fd < 0) {
            if (accept_retry("echo", &delay))
                continue;
            exit(1);
        }
        delay = 0;
        int one = 1; /* as Go's net does for every TCP connection */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (gort_go(serve, (void *)(intptr_t)fd) != 0) {
            fprintf(stderr, "echo: gort_go failed: dropping a connection\n");
            gort_close(fd);
        }
    }
}

static void main_goroutine(void *address)
{
    accept_loop(server_listen("echo", address));
}

int main(int argc, char **argv)
{
    const char *address = server_args("echo", argc, argv, &idle_ns);
    return gort_main(main_goroutine, (void *)address);
}
