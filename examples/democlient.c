/* democlient.c — the client `make demo` drives the servers with (echo.c,
 * httpd.c), and checks what they answer.  Deliberately not a gort program:
 * plain threads and blocking sockets, as some other program talking to the
 * server would be, so a bug in gort cannot hide on both ends at once.
 * Every socket has a 10 s receive/send timeout, so a server that stops
 * answering fails the check instead of hanging it.
 *
 *   democlient echo ADDRESS [IDLE_SECONDS]
 *       8 connections at once, each 200 round trips of 1 to 64 bytes and
 *       4 of 256 KiB (more than the socket buffers hold, so both ends
 *       must write and read at once); a half-close must be answered with
 *       end of file; a peer that resets mid-echo must not hurt the server.
 *       With IDLE_SECONDS (the server's -t), an idle connection must be
 *       closed by the server, and not before that time.
 *   democlient http ADDRESS
 *       4 connections x 100 keep-alive requests, pipelined requests in one
 *       write, a request split across writes, HEAD, a POST with a body,
 *       HTTP/1.0 with and without keep-alive, "Connection: close" (also in
 *       the middle of a pipeline), a malformed request and one without
 *       Host (400).  Each answer's status line, headers and body are
 *       checked against what Go's net/http sends.
 *
 * ADDRESS is what the server printed: "host:port", "[v6]:port", a Unix
 * socket path or "@name" (abstract).  Prints one line per check; exits 1 at the first failure.
 * (Run by examples/demo.sh, not on its own.)
 */
#define _GNU_SOURCE /* memmem, strptime */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT_S 10

static const char *address;

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "democlient: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Connect to ADDRESS; blocking, with send/receive timeouts. */
static int dial(void)
{
    int fd = -1;
    if (strchr(address, '/') || address[0] == '@') {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        snprintf(un.sun_path, sizeof un.sun_path, "%s", address);
        socklen_t len = sizeof un;
        if (address[0] == '@') { /* abstract: a leading NUL, length exact */
            un.sun_path[0] = 0;
            len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(address));
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&un, len) != 0)
            fail("connect %s: %s", address, strerror(errno));
    } else {
        char host[256];
        const char *colon = strrchr(address, ':');
        if (!colon || (size_t)(colon - address) >= sizeof host)
            fail("bad address %s", address);
        memcpy(host, address, (size_t)(colon - address));
        host[colon - address] = 0;
        char *h = host;
        if (h[0] == '[') { /* [v6]:port */
            h++;
            h[strlen(h) - 1] = 0;
        }
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
        int rc = getaddrinfo(h, colon + 1, &hints, &ai);
        if (rc != 0)
            fail("resolve %s: %s", address, gai_strerror(rc));
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
            fail("connect %s: %s", address, strerror(errno));
        freeaddrinfo(ai);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static void write_all(int fd, const void *buf, size_t n, const char *what)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            fail("%s: write: %s", what, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

/* Read until end of file; fails on data or a timeout.  For checking that
 * the server closed the connection. */
static void expect_eof(int fd, const char *what)
{
    char c;
    ssize_t n;
    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    if (n > 0)
        fail("%s: got data (%02x) where the server should have closed", what, (unsigned char)c);
    if (n < 0 && errno != ECONNRESET)
        fail("%s: waiting for the server to close: %s", what, strerror(errno));
}

/* ------------------------------------------------------------------ echo */

#define ECHO_CONNS 8
#define ECHO_ROUNDS 200
#define ECHO_BIG (256 * 1024)

/* Send msg and read back as many bytes, both at once (poll): a message
 * larger than the socket buffers would otherwise deadlock the two ends. */
static void round_trip(int fd, const char *msg, char *reply, size_t n)
{
    size_t sent = 0, got = 0;
    while (got < n) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN | (sent < n ? POLLOUT : 0) };
        int r = poll(&pfd, 1, IO_TIMEOUT_S * 1000);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            fail("echo: no progress for %d s (%zu of %zu bytes sent, %zu back)", IO_TIMEOUT_S,
                 sent, n, got);
        if (sent < n && (pfd.revents & POLLOUT)) {
            ssize_t w = send(fd, msg + sent, n - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR)
                fail("echo: write: %s", strerror(errno));
            if (w > 0)
                sent += (size_t)w;
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t m = recv(fd, reply + got, n - got, MSG_DONTWAIT);
            if (m == 0)
                fail("echo: end of file after %zu of %zu bytes", got, n);
            if (m < 0 && errno != EAGAIN && errno != EINTR)
                fail("echo: read: %s", strerror(errno));
            if (m > 0)
                got += (size_t)m;
        }
    }
}

static void *echo_conn(void *arg)
{
    int id = (int)(intptr_t)arg;
    int fd = dial();
    char *msg = malloc(ECHO_BIG), *reply = malloc(ECHO_BIG);
    if (!msg || !reply)
        fail("out of memory");
    uint32_t x = 2463534242u + (uint32_t)id;
    for (int r = 0; r < ECHO_ROUNDS; r++) {
        size_t n = r % 50 == 49 ? ECHO_BIG : 1 + (size_t)(r * 7 + id) % 64;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift: bytes of every value */
            msg[i] = (char)x;
        }
        round_trip(fd, msg, reply, n);
        if (memcmp(msg, reply, n) != 0)
            fail("echo: connection %d, round %d: %zu bytes came back different", id, r, n);
    }
    shutdown(fd, SHUT_WR); /* the server sees EOF and closes its end */
    expect_eof(fd, "echo half-close");
    close(fd);
    free(msg);
    free(reply);
    return NULL;
}

static void echo_checks(const char *idle_arg)
{
    double t0 = now_s();
    pthread_t th[ECHO_CONNS];
    for (int i = 0; i < ECHO_CONNS; i++)
        if (pthread_create(&th[i], NULL, echo_conn, (void *)(intptr_t)i) != 0)
            fail("pthread_create");
    for (int i = 0; i < ECHO_CONNS; i++)
        pthread_join(th[i], NULL);
    printf("democlient: echo: %d connections x %d round trips (1..64 B, 256 KiB) "
           "echoed exactly, half-close answered with EOF (%.2f s)\n",
           ECHO_CONNS, ECHO_ROUNDS, now_s() - t0);

    /* A peer that sends a lot and resets without reading: the server's
     * write fails (ECONNRESET/EPIPE, not SIGPIPE) and it goes on serving. */
    for (int i = 0; i < 3; i++) {
        int fd = dial();
        static char junk[ECHO_BIG];
        memset(junk, 'x', sizeof junk);
        ssize_t w = send(fd, junk, sizeof junk, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)w;
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd); /* RST */
    }
    int fd = dial();
    char msg[] = "still there?", reply[sizeof msg];
    round_trip(fd, msg, reply, sizeof msg);
    if (memcmp(msg, reply, sizeof msg) != 0)
        fail("echo: wrong reply after reset peers");
    close(fd);
    printf("democlient: echo: 3 peers reset mid-echo; the server still answers\n");

    if (idle_arg) {
        double idle = atof(idle_arg);
        t0 = now_s();
        fd = dial();
        expect_eof(fd, "echo idle timeout");
        double took = now_s() - t0;
        close(fd);
        /* The server sets its deadline after accepting, which is after
         * t0: closing sooner than `idle` would be a deadline that fired
         * early.  (No upper bound beyond the receive timeout: a loaded
         * machine may be late.) */
        if (took < idle * 0.99)
            fail("echo: idle connection closed after %.3f s, before the %.3f s deadline",
                 took, idle);
        printf("democlient: echo: idle connection closed by the server after %.2f s "
               "(deadline %.2f s)\n", took, idle);
    }
}

/* ------------------------------------------------------------------ http */

#define HTTP_CONNS 4
#define HTTP_REQS 100
#define GET "GET / HTTP/1.1\r\nHost: demo\r\n\r\n"

/* A connection and what has been read from it but not consumed. */
struct hconn {
    int fd;
    size_t len;
    char buf[65536];
};

#define OK11 "HTTP/1.1 200 OK\r\n"
#define OK10 "HTTP/1.0 200 OK\r\n" /* Go answers HTTP/1.0 in kind */
#define BAD "HTTP/1.1 400 Bad Request\r\n"
#define NOHOST "HTTP/1.1 400 Bad Request: missing required Host header\r\n"

/* Read one answer from c and check it: the status line (OK11, OK10 or
 * BAD), and for 200 the headers Go's hello handler sends and its body
 * (none for HEAD).  Returns whether the answer said "Connection: close". */
static bool read_answer(struct hconn *c, const char *what, bool is_head, const char *status)
{
    char *end;
    size_t hlen;
    for (;;) {
        end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (end)
            break;
        if (c->len == sizeof c->buf)
            fail("%s: answer head larger than %zu bytes", what, sizeof c->buf);
        ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            fail("%s: end of file before a complete answer (%zu bytes: %.*s)", what, c->len,
                 (int)c->len, c->buf);
        if (n < 0)
            fail("%s: read: %s", what, strerror(errno));
        c->len += (size_t)n;
    }
    hlen = (size_t)(end - c->buf) + 4;
    char head[4096];
    if (hlen >= sizeof head)
        fail("%s: answer head too long", what);
    memcpy(head, c->buf, hlen);
    head[hlen] = 0;

    bool want_400 = strncmp(status, BAD, 12) == 0;
    if (strncmp(head, status, strlen(status)) != 0)
        fail("%s: status line is not %.*s: %s", what, (int)strlen(status) - 2, status, head);
    long clen = -1;
    bool date = false, ctype = false, close_hdr = false;
    for (char *line = strstr(head, "\r\n") + 2; *line && strncmp(line, "\r\n", 2) != 0;) {
        char *eol = strstr(line, "\r\n");
        *eol = 0;
        if (strncasecmp(line, "Content-Length: ", 16) == 0)
            clen = atol(line + 16);
        else if (strncasecmp(line, "Content-Type: ", 14) == 0)
            ctype = strcmp(line + 14, "text/plain; charset=utf-8") == 0;
        else if (strncasecmp(line, "Date: ", 6) == 0) {
            struct tm tm;
            const char *rest = strptime(line + 6, "%a, %d %b %Y %H:%M:%S GMT", &tm);
            date = strlen(line + 6) == 29 && rest && *rest == 0;
        } else if (strcasecmp(line, "Connection: close") == 0)
            close_hdr = true;
        line = eol + 2;
    }
    if (!ctype)
        fail("%s: no \"Content-Type: text/plain; charset=utf-8\"", what);
    const char *want_body = "Hello, World!\n";
    char bad_body[128];
    if (want_400) { /* Go repeats the status text as the body */
        snprintf(bad_body, sizeof bad_body, "%.*s", (int)strlen(status) - 11, status + 9);
        want_body = bad_body;
        if (!close_hdr)
            fail("%s: 400 without \"Connection: close\"", what);
    } else {
        if (!date)
            fail("%s: no Date header in IMF-fixdate form", what);
        if (clen != 14)
            fail("%s: Content-Length %ld, want 14", what, clen);
    }
    size_t blen = is_head ? 0 : strlen(want_body);
    while (c->len < hlen + blen) {
        ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail("%s: body cut short: %s", what, n ? strerror(errno) : "end of file");
        c->len += (size_t)n;
    }
    if (memcmp(c->buf + hlen, want_body, blen) != 0)
        fail("%s: body is %.*s", what, (int)blen, c->buf + hlen);
    c->len -= hlen + blen;
    memmove(c->buf, c->buf + hlen + blen, c->len);
    return close_hdr;
}

static struct hconn *hdial(void)
{
    struct hconn *c = calloc(1, sizeof *c);
    if (!c)
        fail("out of memory");
    c->fd = dial();
    return c;
}

static void hclose(struct hconn *c, bool expect_closed, const char *what)
{
    if (expect_closed) {
        if (c->len)
            fail("%s: %zu bytes after the last answer", what, c->len);
        expect_eof(c->fd, what);
    }
    close(c->fd);
    free(c);
}

static void *http_conn(void *arg)
{
    struct hconn *c = hdial();
    for (int i = 0; i < HTTP_REQS; i++) {
        write_all(c->fd, GET, sizeof GET - 1, "keep-alive");
        if (read_answer(c, "keep-alive", false, OK11))
            fail("keep-alive: \"Connection: close\" on request %d", i);
    }
    hclose(c, false, "keep-alive");
    return NULL;
}

static void http_checks(void)
{
    double t0 = now_s();
    pthread_t th[HTTP_CONNS];
    for (int i = 0; i < HTTP_CONNS; i++)
        if (pthread_create(&th[i], NULL, http_conn, NULL) != 0)
            fail("pthread_create");
    for (int i = 0; i < HTTP_CONNS; i++)
        pthread_join(th[i], NULL);
    printf("democlient: http: %d connections x %d keep-alive requests answered "
           "(%.2f s)\n", HTTP_CONNS, HTTP_REQS, now_s() - t0);

    /* Pipelining: 100 requests in one write (more answers than httpd's output
     * buffer holds), 100 answers in order. */
    struct hconn *c = hdial();
    static char many[100 * (sizeof GET - 1)];
    for (int i = 0; i < 100; i++)
        memcpy(many + i * (sizeof GET - 1), GET, sizeof GET - 1);
    write_all(c->fd, many, sizeof many, "pipelined");
    for (int i = 0; i < 100; i++)
        read_answer(c, "pipelined", false, OK11);
    /* One request a byte at a time: the parser keeps its state across reads. */
    for (size_t i = 0; i < sizeof GET - 1; i++)
        write_all(c->fd, &(GET)[i], 1, "split");
    read_answer(c, "split request", false, OK11);
    /* HEAD: the same head, no body. */
    const char headreq[] = "HEAD / HTTP/1.1\r\nHost: demo\r\n\r\n";
    write_all(c->fd, headreq, sizeof headreq - 1, "HEAD");
    read_answer(c, "HEAD", true, OK11);
    /* A POST's body is not taken for the next request. */
    const char post[] = "POST /form HTTP/1.1\r\nHost: demo\r\nContent-Length: 9\r\n\r\n"
                        "GET / xyz" GET;
    write_all(c->fd, post, sizeof post - 1, "POST");
    read_answer(c, "POST", false, OK11);
    read_answer(c, "request after POST", false, OK11);
    /* Connection: close in the middle of a pipeline: its answer says so,
     * the connection ends, and the request after it is not answered. */
    const char closing[] = GET "GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n" GET;
    write_all(c->fd, closing, sizeof closing - 1, "close");
    if (read_answer(c, "before close", false, OK11))
        fail("\"Connection: close\" on the answer before the closing request");
    if (!read_answer(c, "Connection: close", false, OK11))
        fail("no \"Connection: close\" on the answer to a closing request");
    hclose(c, true, "after Connection: close");
    printf("democlient: http: 100 pipelined requests, a request split in bytes, HEAD, POST "
           "with a body, Connection: close mid-pipeline: answered and closed as expected\n");

    /* HTTP/1.0: closed after one answer unless asked to keep alive. */
    c = hdial();
    const char req10[] = "GET / HTTP/1.0\r\n\r\n";
    write_all(c->fd, req10, sizeof req10 - 1, "HTTP/1.0");
    read_answer(c, "HTTP/1.0", false, OK10);
    hclose(c, true, "HTTP/1.0");
    c = hdial();
    const char req10k[] = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    for (int i = 0; i < 3; i++) {
        write_all(c->fd, req10k, sizeof req10k - 1, "HTTP/1.0 keep-alive");
        read_answer(c, "HTTP/1.0 keep-alive", false, OK10);
    }
    hclose(c, false, "HTTP/1.0 keep-alive");
    printf("democlient: http: HTTP/1.0 closed after one answer, kept alive when asked\n");

    /* Malformed: 400, then the server closes; good requests before the bad
     * one in the same write are still answered. */
    c = hdial();
    const char bad[] = GET "NOT HTTP AT ALL\r\n\r\n";
    write_all(c->fd, bad, sizeof bad - 1, "malformed");
    read_answer(c, "before malformed", false, OK11);
    read_answer(c, "malformed", false, BAD);
    hclose(c, true, "after 400");
    c = hdial();
    const char nohost[] = GET "GET / HTTP/1.1\r\n\r\n";
    write_all(c->fd, nohost, sizeof nohost - 1, "no Host");
    read_answer(c, "before no Host", false, OK11);
    read_answer(c, "no Host", false, NOHOST);
    hclose(c, true, "after 400 for no Host");
    printf("democlient: http: malformed request, HTTP/1.1 without Host: 400 Bad Request, "
           "then closed\n");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 3 && strcmp(argv[1], "echo") == 0 && argc <= 4) {
        address = argv[2];
        echo_checks(argc == 4 ? argv[3] : NULL);
    } else if (argc == 3 && strcmp(argv[1], "http") == 0) {
        address = argv[2];
        http_checks();
    } else {
        fprintf(stderr, "usage: democlient echo ADDRESS [IDLE_SECONDS]\n"
                        "       democlient http ADDRESS\n"
                        "(run by examples/demo.sh against build/examples/echo and httpd)\n");
        return 2;
    }
    return 0;
}
