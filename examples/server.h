/* server.h — what the two servers (echo.c, httpd.c) share, header-only like
 * demo_child.h:
 *
 *   server_args(name, argc, argv, &idle_ns)
 *                        parse "[-t SECONDS] [ADDRESS]" (usage and exit 2
 *                        on anything else); returns ADDRESS, by default
 *                        "127.0.0.1:0";
 *   server_listen(name, address)
 *                        gort_listen ("unix" if the address has a '/'
 *                        or starts with '@', Linux's abstract namespace;
 *                        else "tcp"), then print "NAME: listening on
 *                        ADDR" with the address actually bound (the port
 *                        getsockname reports) as the first line of
 *                        output, flushed, so a script can connect; exits 1
 *                        if it cannot listen;
 *   accept_retry(name, &delay)
 *                        after gort_accept failed: whether to call it
 *                        again (sleeping first if the error asks for it)
 *                        or give up (the caller exits).
 */
#ifndef GORT_EXAMPLES_SERVER_H
#define GORT_EXAMPLES_SERVER_H

#include <gort.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static inline const char *server_args(const char *name, int argc, char **argv, int64_t *idle_ns)
{
    int opt;
    *idle_ns = 0;
    while ((opt = getopt(argc, argv, "t:")) != -1) {
        char *end;
        double s = opt == 't' ? strtod(optarg, &end) : 0;
        if (opt != 't' || *end || !(s > 0) || s > 1e6)
            goto usage;
        *idle_ns = (int64_t)(s * 1e9);
    }
    if (argc - optind > 1)
        goto usage;
    return optind < argc ? argv[optind] : "127.0.0.1:0";
usage:
    fprintf(stderr, "usage: %s [-t IDLE_SECONDS] [HOST:PORT | /unix/socket/path | @abstract]\n",
            name);
    exit(2);
}

static inline int server_listen(const char *name, const char *address)
{
    bool unix_socket = strchr(address, '/') || address[0] == '@';
    int ln = gort_listen(unix_socket ? "unix" : "tcp", address);
    if (ln < 0) {
        fprintf(stderr, "%s: listen %s: %s\n", name, address, strerror(errno));
        exit(1);
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    if (getsockname(ln, (struct sockaddr *)&ss, &len) != 0) {
        fprintf(stderr, "%s: getsockname: %s\n", name, strerror(errno));
        exit(1);
    }
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        printf("%s: listening on %s:%u\n", name, host, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        printf("%s: listening on [%s]:%u\n", name, host, ntohs(a->sin6_port));
    } else {
        struct sockaddr_un *a = (struct sockaddr_un *)&ss;
        int n = (int)(len - offsetof(struct sockaddr_un, sun_path));
        if (n > 0 && a->sun_path[0] == 0) /* abstract: "@name", not NUL-ended */
            printf("%s: listening on @%.*s\n", name, n - 1, a->sun_path + 1);
        else
            printf("%s: listening on %s\n", name, a->sun_path);
    }
    fflush(stdout);
    return ln;
}

/* Out of file descriptors (EMFILE, ENFILE) or kernel memory, accept fails
 * at once for as long as the condition lasts: retrying at once would spin
 * a P at 100% and starve the very connections whose closing ends it.  So,
 * as net/http's Server.Serve does, sleep 5 ms, doubling up to 1 s while it
 * lasts (the caller sets *delay to 0 after each success).  A connection
 * the peer reset before we took it (ECONNABORTED, EPROTO) is skipped at
 * once.  Anything else is a bug or a dead listener: give up. */
static inline bool accept_retry(const char *name, int64_t *delay)
{
    int e = errno;
    if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        *delay = *delay ? *delay * 2 : 5000000;
        if (*delay > 1000000000)
            *delay = 1000000000;
        fprintf(stderr, "%s: accept: %s; retrying in %lld ms\n", name, strerror(e),
                (long long)(*delay / 1000000));
        gort_sleep(*delay);
        return true;
    }
    if (e == ECONNABORTED || e == EPROTO || e == EINTR)
        return true;
    fprintf(stderr, "%s: accept: %s\n", name, strerror(e));
    return false;
}

#endif
