/* gort_listen / gort_dial: every network ("tcp4", "tcp6", "tcp" with
 * ":0" and a name, "unix" with a path and an abstract name) carries bytes
 * both ways between a dialed and an accepted fd; the fds are non-blocking
 * and close-on-exec, dialed TCP has TCP_NODELAY, "tcp" on ":0" is
 * dual-stack and "tcp6" is not; each documented error (EINVAL for
 * malformed addresses, EAFNOSUPPORT, ENOENT for a name under .invalid,
 * ECONNREFUSED, EADDRINUSE, ETIMEDOUT for a past deadline); and the same
 * from a plain thread that is not a goroutine, and from main() before
 * gort_main has started the runtime.  IPv6 parts are skipped,
 * with a message, where the machine has no IPv6 loopback. */
#define _GNU_SOURCE
#include "check.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static bool have_ipv6;

/* Is ::1 usable here? */
static bool probe_ipv6(void)
{
    int s = socket(AF_INET6, SOCK_STREAM, 0);
    if (s < 0)
        return false;
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    bool ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    return ok;
}

static int local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    CHECK_CALL(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    CHECK_EQ(ss.ss_family, AF_INET6);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int sock_family(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    CHECK_CALL(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    return ss.ss_family;
}

static int sockopt(int fd, int level, int opt)
{
    int v = -1;
    socklen_t len = sizeof v;
    CHECK_CALL(getsockopt(fd, level, opt, &v, &len), 0);
    return v;
}

static void check_flags(int fd)
{
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "fd %d is blocking", fd);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "fd %d is not close-on-exec", fd);
}

/* Dial network/addr, accept on ln, send a line each way, close both. */
static void roundtrip(int ln, const char *network, const char *addr, bool tcp)
{
    int c = gort_dial(network, addr, gort_nanotime() + 10000000000LL);
    CHECK(c >= 0, "dial %s %s: %s", network, addr, strerror(errno));
    check_flags(c);
    if (tcp) {
        CHECK(sockopt(c, IPPROTO_TCP, TCP_NODELAY) != 0, "no TCP_NODELAY");
        CHECK(sockopt(c, SOL_SOCKET, SO_KEEPALIVE) != 0, "no keep-alive");
    }
    int s = gort_accept(ln, NULL, NULL);
    CHECK(s >= 0, "accept: %s", strerror(errno));
    check_flags(s);
    char buf[32];
    CHECK_CALL(gort_write(c, "ping", 4), 4);
    CHECK_CALL(gort_read(s, buf, sizeof buf), 4);
    CHECK(!memcmp(buf, "ping", 4));
    CHECK_CALL(gort_write(s, "pong!", 5), 5);
    CHECK_CALL(gort_read(c, buf, sizeof buf), 5);
    CHECK(!memcmp(buf, "pong!", 5));
    CHECK_CALL(gort_close(c), 0);
    CHECK_CALL(gort_read(s, buf, sizeof buf), 0); /* EOF */
    CHECK_CALL(gort_close(s), 0);
}

static void test_tcp4(void)
{
    int ln = gort_listen("tcp4", "127.0.0.1:0");
    CHECK(ln >= 0, "listen tcp4: %s", strerror(errno));
    check_flags(ln);
    CHECK_EQ(sock_family(ln), AF_INET);
    CHECK(sockopt(ln, SOL_SOCKET, SO_REUSEADDR) != 0, "no SO_REUSEADDR");
    /* The backlog is net.core.somaxconn (TCP_INFO of a listener: sacked). */
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    unsigned somax = 0;
    if (f && fscanf(f, "%u", &somax) == 1) {
        struct tcp_info ti;
        socklen_t tl = sizeof ti;
        CHECK_CALL(getsockopt(ln, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
        CHECK(ti.tcpi_sacked == somax, "backlog %u, somaxconn %u", ti.tcpi_sacked, somax);
    }
    if (f)
        fclose(f);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", local_port(ln));
    roundtrip(ln, "tcp4", addr, true);
    roundtrip(ln, "tcp", addr, true);
    /* A name: localhost resolves through /etc/hosts; only its IPv4
     * address listens, so this also checks that dial tries the next
     * address after a refused one. */
    snprintf(addr, sizeof addr, "localhost:%d", local_port(ln));
    roundtrip(ln, "tcp", addr, true);
    roundtrip(ln, "tcp4", addr, true);
    /* Brackets may hold any host, as in Go. */
    snprintf(addr, sizeof addr, "[localhost]:%d", local_port(ln));
    roundtrip(ln, "tcp", addr, true);
    snprintf(addr, sizeof addr, "[127.0.0.1]:%d", local_port(ln));
    roundtrip(ln, "tcp4", addr, true);
    CHECK_CALL(gort_close(ln), 0);

    /* Listening on a name: Go's choice, its first IPv4 address. */
    ln = gort_listen("tcp", "localhost:0");
    CHECK(ln >= 0, "listen localhost: %s", strerror(errno));
    CHECK_EQ(sock_family(ln), AF_INET);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", local_port(ln));
    roundtrip(ln, "tcp", addr, true);
    CHECK_CALL(gort_close(ln), 0);
}

static void test_tcp6(void)
{
    if (!have_ipv6) {
        printf("test_net_listen_dial: skipping tcp6: no IPv6 loopback here\n");
        return;
    }
    int ln = gort_listen("tcp6", "[::1]:0");
    CHECK(ln >= 0, "listen tcp6: %s", strerror(errno));
    check_flags(ln);
    CHECK_EQ(sock_family(ln), AF_INET6);
    char addr[64];
    snprintf(addr, sizeof addr, "[::1]:%d", local_port(ln));
    roundtrip(ln, "tcp6", addr, true);
    roundtrip(ln, "tcp", addr, true);
    CHECK_CALL(gort_close(ln), 0);

    /* "tcp6" on every address is IPv6 only. */
    ln = gort_listen("tcp6", ":0");
    CHECK(ln >= 0, "listen tcp6 :0: %s", strerror(errno));
    CHECK_EQ(sock_family(ln), AF_INET6);
    CHECK(sockopt(ln, IPPROTO_IPV6, IPV6_V6ONLY) != 0, "tcp6 listener is dual-stack");
    CHECK_CALL(gort_close(ln), 0);
}

/* "tcp" on ":0" (and on an unspecified literal) listens on every address,
 * both families; an empty host dials the local system. */
static void test_tcp_any(void)
{
    const char *any[] = {":0", "0.0.0.0:0", "[::]:0", ":"};
    for (size_t i = 0; i < sizeof any / sizeof any[0]; i++) {
        if (!have_ipv6 && any[i][0] == '[')
            continue;
        int ln = gort_listen("tcp", any[i]);
        CHECK(ln >= 0, "listen tcp %s: %s", any[i], strerror(errno));
        check_flags(ln);
        int port = local_port(ln);
        CHECK(port > 0);
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        roundtrip(ln, "tcp4", addr, true);
        if (have_ipv6) {
            CHECK_EQ(sock_family(ln), AF_INET6);
            CHECK_EQ(sockopt(ln, IPPROTO_IPV6, IPV6_V6ONLY), 0);
            snprintf(addr, sizeof addr, "[::1]:%d", port);
            roundtrip(ln, "tcp6", addr, true);
        }
        snprintf(addr, sizeof addr, ":%d", port);
        roundtrip(ln, "tcp", addr, true);
        CHECK_CALL(gort_close(ln), 0);
    }
    int ln = gort_listen("tcp4", ":0");
    CHECK(ln >= 0, "listen tcp4 :0: %s", strerror(errno));
    CHECK_EQ(sock_family(ln), AF_INET);
    CHECK_CALL(gort_close(ln), 0);
}

static void expect_err(int got, int want_errno, const char *what)
{
    int e = errno;
    CHECK(got == -1 && e == want_errno, "%s: returned %d errno %s, want %s", what, got,
          strerror(e), strerror(want_errno));
}

static void test_unix(void)
{
    char path[] = "/tmp/gort-net-XXXXXX";
    CHECK(mkdtemp(path));
    char sock[64];
    snprintf(sock, sizeof sock, "%s/s", path);
    int ln = gort_listen("unix", sock);
    CHECK(ln >= 0, "listen unix: %s", strerror(errno));
    check_flags(ln);
    struct stat st;
    CHECK_CALL(stat(sock, &st), 0);
    CHECK(S_ISSOCK(st.st_mode));
    roundtrip(ln, "unix", sock, false);
    /* The path exists: a second listener does not remove it. */
    CHECK_CALL(gort_listen("unix", sock), -1);
    CHECK_EQ(errno, EADDRINUSE);
    CHECK_CALL(gort_close(ln), 0);
    /* Nor does close: the caller unlinks. */
    CHECK_CALL(stat(sock, &st), 0);
    CHECK_CALL(gort_dial("unix", sock, -1), -1);
    CHECK_EQ(errno, ECONNREFUSED);
    CHECK_CALL(unlink(sock), 0);
    CHECK_CALL(gort_dial("unix", sock, -1), -1);
    CHECK_EQ(errno, ENOENT);

    /* A full backlog: EAGAIN at once (a deadline does not wait for room). */
    int raw = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(raw >= 0);
    struct sockaddr_un ra;
    memset(&ra, 0, sizeof ra);
    ra.sun_family = AF_UNIX;
    strcpy(ra.sun_path, sock);
    CHECK_CALL(bind(raw, (struct sockaddr *)&ra, sizeof ra), 0);
    CHECK_CALL(listen(raw, 0), 0);
    int queued[8], nq = 0, fd;
    while ((fd = gort_dial("unix", sock, gort_nanotime() + 10000000000LL)) >= 0) {
        CHECK(nq < 8, "the backlog never fills");
        queued[nq++] = fd;
    }
    CHECK_EQ(errno, EAGAIN);
    for (int i = 0; i < nq; i++)
        CHECK_CALL(gort_close(queued[i]), 0);
    close(raw);
    CHECK_CALL(unlink(sock), 0);
    CHECK_CALL(rmdir(path), 0);

    /* Linux's abstract namespace: '@' for the leading NUL; no file. */
    char name[64];
    snprintf(name, sizeof name, "@gort-net-test-%d", (int)getpid());
    ln = gort_listen("unix", name);
    CHECK(ln >= 0, "listen unix %s: %s", name, strerror(errno));
    struct sockaddr_un sun;
    socklen_t len = sizeof sun;
    CHECK_CALL(getsockname(ln, (struct sockaddr *)&sun, &len), 0);
    CHECK_EQ(len, offsetof(struct sockaddr_un, sun_path) + strlen(name));
    CHECK(sun.sun_path[0] == 0 && !memcmp(sun.sun_path + 1, name + 1, strlen(name) - 1));
    roundtrip(ln, "unix", name, false);
    CHECK_CALL(gort_close(ln), 0);

    /* Longest names that fit: a path of 107 bytes (and its NUL), an
     * abstract name of 108 ('@' and 107); one more byte is EINVAL. */
    char lng[200];
    strcpy(path, "/tmp/gort-net-XXXXXX");
    CHECK(mkdtemp(path));
    int n = snprintf(lng, sizeof lng, "%s/", path);
    memset(lng + n, 'p', sizeof lng - (size_t)n);
    lng[107] = 0;
    ln = gort_listen("unix", lng);
    CHECK(ln >= 0, "listen unix, 107 bytes: %s", strerror(errno));
    roundtrip(ln, "unix", lng, false);
    CHECK_CALL(gort_close(ln), 0);
    CHECK_CALL(unlink(lng), 0);
    lng[107] = 'p';
    lng[108] = 0;
    expect_err(gort_listen("unix", lng), EINVAL, "path of 108 bytes");
    expect_err(gort_dial("unix", lng, -1), EINVAL, "path of 108 bytes");
    CHECK_CALL(rmdir(path), 0);
    n = snprintf(lng, sizeof lng, "@gort-net-%d-", (int)getpid()); /* unique */
    memset(lng + n, 'a', sizeof lng - (size_t)n);
    lng[108] = 0;
    ln = gort_listen("unix", lng);
    CHECK(ln >= 0, "listen unix, abstract 108 bytes: %s", strerror(errno));
    roundtrip(ln, "unix", lng, false);
    CHECK_CALL(gort_close(ln), 0);
    lng[108] = 'a';
    lng[109] = 0;
    expect_err(gort_listen("unix", lng), EINVAL, "abstract name of 109 bytes");
    expect_err(gort_dial("unix", lng, -1), EINVAL, "abstract name of 109 bytes");
}


static void test_errors(void)
{
    static const char *malformed[] = {
        "127.0.0.1",       /* no port */
        "localhost",       /* no port */
        "::1:80",          /* v6 literal without brackets */
        "[::1]",           /* no port */
        "[::1]80",         /* no colon */
        "[::1:80",         /* no ']' */
        "::1]:80",         /* stray ']' */
        "127.0.0.1:65536", /* port out of range */
        "127.0.0.1:123456",
        "127.0.0.1:-1",
        "127.0.0.1:+65536",
        "127.0.0.1:+",
        /* What getaddrinfo's strtoul would take as a number and cut to
         * 16 bits (65616 and 4294967376 are 80 modulo 65536). */
        "127.0.0.1: 65616",
        "127.0.0.1: 4294967376",
        "127.0.0.1:\t80",
        "127.0.0.1: -1",
        "127.0.0.1:8 0",
        "[[::1]]:80",
        "1.2.3.4:80:90",
        "",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        expect_err(gort_dial("tcp", malformed[i], -1), EINVAL, malformed[i]);
        expect_err(gort_listen("tcp", malformed[i]), EINVAL, malformed[i]);
    }
    expect_err(gort_dial("tcp", NULL, -1), EINVAL, "NULL address");
    expect_err(gort_listen(NULL, ":0"), EINVAL, "NULL network");
    expect_err(gort_listen("unix", ""), EINVAL, "empty unix path");
    /* Go's port syntax: a sign and leading zeros are allowed. */
    static const char *zero[] = {"127.0.0.1:+0", "127.0.0.1:-0", "127.0.0.1:000000"};
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++) {
        int fd = gort_listen("tcp", zero[i]);
        CHECK(fd >= 0, "gort_listen(\"tcp\", \"%s\"): errno %d", zero[i], errno);
        struct sockaddr_in a;
        socklen_t al = sizeof a;
        CHECK(getsockname(fd, (struct sockaddr *)&a, &al) == 0 && ntohs(a.sin_port) != 0);
        CHECK(gort_close(fd) == 0);
    }

    static const char *networks[] = {"udp", "ip", "tcp5", "TCP", "unixgram", ""};
    for (size_t i = 0; i < sizeof networks / sizeof networks[0]; i++) {
        expect_err(gort_dial(networks[i], "127.0.0.1:80", -1), EAFNOSUPPORT, networks[i]);
        expect_err(gort_listen(networks[i], ":0"), EAFNOSUPPORT, networks[i]);
    }
    /* A literal of the other family. */
    expect_err(gort_dial("tcp4", "[::1]:80", -1), EAFNOSUPPORT, "tcp4 [::1]");
    expect_err(gort_listen("tcp6", "127.0.0.1:0"), EAFNOSUPPORT, "tcp6 127.0.0.1");
    expect_err(gort_listen("tcp4", "[::]:0"), EAFNOSUPPORT, "tcp4 [::]");

    /* RFC 6761: names under .invalid never resolve (no resolver asked). */
    const char *invalid[] = {"nothing.invalid:80", "a.b.INVALID.:80", "invalid:80",
                             "x.onion:80"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        expect_err(gort_dial("tcp", invalid[i], -1), ENOENT, invalid[i]);
        expect_err(gort_dial("tcp", invalid[i], gort_nanotime() + 5000000000LL), ENOENT,
                   invalid[i]);
        expect_err(gort_listen("tcp", invalid[i]), ENOENT, invalid[i]);
    }
    /* A refused connection: a port that is bound but not listening. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_CALL(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", local_port(s));
    expect_err(gort_dial("tcp", addr, -1), ECONNREFUSED, addr);
    expect_err(gort_dial("tcp4", addr, gort_nanotime() + 5000000000LL), ECONNREFUSED, addr);
    /* ...and that port is in use for a listener. */
    expect_err(gort_listen("tcp4", addr), EADDRINUSE, addr);
    close(s);

    /* A deadline already past: nothing is tried. */
    expect_err(gort_dial("tcp", "127.0.0.1:1", gort_nanotime() - 1), ETIMEDOUT, "past");
    expect_err(gort_dial("unix", "/nonexistent", gort_nanotime()), ETIMEDOUT, "past unix");
}

static void run_all(void)
{
    test_tcp4();
    test_tcp6();
    test_tcp_any();
    test_unix();
    test_errors();
}

static void *thread_main(void *arg)
{
    CHECK_EQ(gort_self(), 0);
    run_all();
    return arg;
}

static void main_g(void *arg)
{
    run_all();
    /* The same from a plain thread: every call blocks the thread. */
    pthread_t t;
    CHECK_CALL(pthread_create(&t, NULL, thread_main, NULL), 0);
    CHECK_CALL(pthread_join(t, NULL), 0);
}

int main(void)
{
    watchdog_start("test_net_listen_dial", 60);
    have_ipv6 = probe_ipv6();
    /* Before gort_main: the calling thread polls for itself. */
    run_all();
    run_main(main_g, NULL);
    return 0;
}
