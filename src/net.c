/*
 * net.c — gort_listen and gort_dial, Go's net.Listen and net.Dial (Go's
 * net/dial.go, ipsock.go, ipsock_posix.go, unixsock_posix.go): parse a
 * network and an address, resolve it, and return a connected or listening
 * stream socket that the netpoller knows (non-blocking, close-on-exec,
 * registered), so gort_read/gort_write/gort_accept park goroutines on it.
 *
 * Networks.  "tcp" (either family), "tcp4", "tcp6", "unix" (a stream
 * socket at a path; a leading '@' names a Linux abstract socket).  Anything
 * else is EAFNOSUPPORT.  Addresses are Go's: "host:port", "[v6]:port",
 * ":port"; the port is a number (empty = 0) or a service name.
 *
 * Name resolution.  An IP literal is parsed without a lookup.  A name
 * goes to getaddrinfo, which may read files and wait for DNS servers: it
 * is a blocking call and runs inside the system-call bracket (entered by
 * hand: libgort's own calls to the libc wrappers are not bracketed, their
 * return address being the runtime's).  Names under "invalid" (RFC 6761
 * 6.4) and "onion" (RFC 7686, as Go does) fail at once with ENOENT,
 * without asking a resolver.  getaddrinfo's errors map to errno:
 * EAI_NONAME, EAI_NODATA, EAI_ADDRFAMILY, EAI_SERVICE -> ENOENT (no such
 * name, or none of that family, or no such service); EAI_AGAIN -> EAGAIN
 * (temporary: a server did not answer); EAI_MEMORY -> ENOMEM; EAI_SYSTEM
 * -> its errno; EAI_FAIL and anything else -> EIO.  An IP literal of the
 * other family ("tcp4" with "[::1]:80") is EAFNOSUPPORT, as connect(2)
 * says for a mismatched address.  A unix listener whose backlog is full
 * fails a dial with EAGAIN at once (Linux cannot wait for room; Go
 * returns the same error).
 *
 * gort_dial's deadline bounds the lookup too when the caller is a
 * goroutine: the lookup runs on a helper goroutine (getaddrinfo cannot be
 * interrupted), and the dialer stops waiting for it at the deadline; the
 * helper finishes on its own and frees what it used (Go's cgo resolver
 * does the same with a thread).  On a plain thread the lookup runs inline
 * and the deadline is looked at after it.  Then each address is tried in
 * the resolver's order, one at a time, each with a share of the time left
 * (the time left divided by the addresses left, but at least 2 s when
 * that much is left: Go's partialDeadline); the first error is the one
 * reported, as Go's dialSerial does.  A connection that turns out to be
 * connected to itself (a TCP simultaneous open on a local ephemeral port)
 * is dropped and retried, twice, as Go does.  Dialed TCP sockets get
 * TCP_NODELAY and 15 s keep-alives (Go's defaults).
 *
 * Listening.  SO_REUSEADDR on TCP.  The backlog is the kernel's maximum:
 * Linux clamps listen(2)'s backlog to net.core.somaxconn, so asking for
 * INT_MAX gets it without reading /proc (Go reads the file because other
 * kernels do not clamp).  "tcp" with an empty or unspecified host (":80",
 * "0.0.0.0:80", "[::]:80") listens dual-stack on [::] with IPV6_V6ONLY off
 * and falls back to 0.0.0.0 when IPv6 is unavailable, as Go does; "tcp6"
 * sets IPV6_V6ONLY; a name listens on its first IPv4 address, else its
 * first (Go's Listen).  A "unix" listener's file is neither removed before
 * bind (an existing file is EADDRINUSE) nor after gort_close (close does
 * not know it is a listener's): the caller unlinks it.  Go does not unlink
 * first either, but its UnixListener.Close removes the file.
 *
 * Threads.  Both calls work from threads that are not goroutines: the
 * lookup and connect then block that thread.
 *
 * Rejected: Happy Eyeballs (Go's dialParallel races the second family
 * after 300 ms; addresses are tried serially here, which with loopback and
 * the resolver's RFC 6724 order costs one refused connect at worst);
 * getaddrinfo_a (glibc's asynchronous lookup runs a thread per request and
 * reports by signal or a new thread; a goroutine in the bracket is the
 * same thing with the scheduler's accounting); a resolver of our own (Go
 * has one; /etc/nsswitch.conf, mDNS and LDAP modules are libc's business);
 * unlinking a unix socket's path before bind (it may be another live
 * server's).
 *
 * Ownership: the returned fd is the caller's.  Lookup state shared with a
 * helper goroutine is freed by whichever of the two lets go last.
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The resolver: getaddrinfo, or a test's stand-in (tests may set it from
 * the static library to make a lookup block under their control). */
int (*gort__net_getaddrinfo)(const char *, const char *, const struct addrinfo *,
                             struct addrinfo **) = getaddrinfo;

#define SANE_MIN_NS 2000000000LL /* Go's saneMinimum for an address's share */
#define KEEPALIVE_S 15            /* Go's defaultTCPKeepAliveIdle/Interval */

/* errno through a call the compiler cannot fold: the calls below may park
 * and resume on another thread, and glibc declares __errno_location
 * const. */
static inline int get_errno(void) { return *gort_errno_location(); }
static inline int fail(int e)
{
    *gort_errno_location() = e;
    return -1;
}

enum { NET_TCP, NET_TCP4, NET_TCP6, NET_UNIX };

static int parse_network(const char *network)
{
    if (!network)
        return -1;
    if (!strcmp(network, "tcp"))
        return NET_TCP;
    if (!strcmp(network, "tcp4"))
        return NET_TCP4;
    if (!strcmp(network, "tcp6"))
        return NET_TCP6;
    if (!strcmp(network, "unix"))
        return NET_UNIX;
    return -1;
}

static int net_family(int net)
{
    return net == NET_TCP4 ? AF_INET : net == NET_TCP6 ? AF_INET6 : AF_UNSPEC;
}

/* An address split into host and port, Go's SplitHostPort. */
typedef struct hostport {
    char host[NI_MAXHOST];
    char port[NI_MAXSERV];
    int literal;    /* AF_INET / AF_INET6 if host is an IP literal, else 0 */
    bool wildcard;  /* empty host, 0.0.0.0 or :: */
} hostport;

static bool all_digits(const char *s)
{
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* 0 or EINVAL. */
static int split_host_port(const char *addr, hostport *hp)
{
    const char *host, *hend, *port;
    if (addr[0] == '[') {
        host = addr + 1;
        hend = strchr(host, ']');
        if (!hend || hend[1] != ':')
            return EINVAL; /* missing ']' or missing port */
        port = hend + 2;
        if (memchr(host, '[', (size_t)(hend - host)))
            return EINVAL;
    } else {
        hend = strrchr(addr, ':');
        if (!hend)
            return EINVAL; /* missing port */
        host = addr;
        port = hend + 1;
        if (memchr(host, ':', (size_t)(hend - host)))
            return EINVAL; /* too many colons: a v6 literal needs brackets */
        if (memchr(host, '[', (size_t)(hend - host)) || memchr(host, ']', (size_t)(hend - host)))
            return EINVAL;
    }
    if (strchr(port, '[') || strchr(port, ']') || strchr(port, ':'))
        return EINVAL;
    size_t hn = (size_t)(hend - host), pn = strlen(port);
    if (hn >= sizeof hp->host || pn >= sizeof hp->port)
        return EINVAL;
    memcpy(hp->host, host, hn);
    hp->host[hn] = 0;
    if (pn == 0) {
        strcpy(hp->port, "0"); /* Go: an empty port is port 0 */
    } else if (all_digits(port + (port[0] == '+' || port[0] == '-'))) {
        /* A number, with Go's optional sign ("+80", "000080" are port 80;
         * "-0" is 0): in range, and passed on as plain digits. */
        const char *d = port + (port[0] == '+' || port[0] == '-');
        if (!*d)
            return EINVAL;
        while (*d == '0' && d[1])
            d++;
        if (strlen(d) > 5 || atoi(d) > 65535 || (port[0] == '-' && atoi(d) != 0))
            return EINVAL;
        snprintf(hp->port, sizeof hp->port, "%d", atoi(d));
    } else {
        /* A service name ("http", "3com-tsmux").  Only name characters:
         * getaddrinfo reads a port with strtoul, which skips white space,
         * takes a sign and keeps 16 bits, so " 65616" would have been
         * port 80. */
        for (const char *c = port; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
                return EINVAL;
        memcpy(hp->port, port, pn + 1);
    }
    /* Classify the host: literals need no lookup. */
    unsigned char buf[sizeof(struct in6_addr)];
    char tmp[NI_MAXHOST];
    hp->literal = 0;
    hp->wildcard = hn == 0;
    if (hn == 0)
        return 0;
    if (inet_pton(AF_INET, hp->host, buf) == 1) {
        hp->literal = AF_INET;
        hp->wildcard = ((struct in_addr *)buf)->s_addr == INADDR_ANY;
        return 0;
    }
    strcpy(tmp, hp->host);
    char *zone = strchr(tmp, '%'); /* fe80::1%eth0 */
    if (zone)
        *zone = 0;
    if (inet_pton(AF_INET6, tmp, buf) == 1) {
        hp->literal = AF_INET6;
        hp->wildcard = !zone && IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)buf);
    }
    /* Brackets may hold a name too: Go's SplitHostPort accepts that. */
    return 0;
}

/* host is name, or a name's last label, ignoring case and a final dot. */
static bool under_domain(const char *host, const char *dom)
{
    size_t n = strlen(host), d = strlen(dom);
    if (n && host[n - 1] == '.')
        n--;
    if (n < d || strncasecmp(host + n - d, dom, d))
        return false;
    return n == d || host[n - d - 1] == '.';
}

static int eai_errno(int rc, int sys)
{
    switch (rc) {
    case 0:
        return 0;
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
    case EAI_SERVICE:
        return ENOENT;
    case EAI_AGAIN:
        return EAGAIN;
    case EAI_MEMORY:
        return ENOMEM;
    case EAI_SYSTEM:
        return sys ? sys : EIO;
    default:
        return EIO;
    }
}

/* getaddrinfo inside the system-call bracket (a no-op on a thread that
 * is not a goroutine).  "Surely blocks": the P is handed on at once if
 * work waits behind it, as the getaddrinfo wrapper would for the program.
 * Returns an errno value. */
static int lookup_blocking(const char *host, const char *port, const struct addrinfo *hints,
                           struct addrinfo **res)
{
    bool in = gort__entersyscall(true);
    int rc = gort__net_getaddrinfo(host, port, hints, res);
    int sys = rc == EAI_SYSTEM ? get_errno() : 0;
    if (in)
        gort__exitsyscall();
    return eai_errno(rc, sys);
}

/* A lookup on a helper goroutine, which the dialer can stop waiting for. */
typedef struct lookup {
    _Atomic int refs; /* the dialer and the helper */
    gort_chan *done;  /* cap 1, struct{}: the helper finished */
    hostport hp;
    struct addrinfo hints;
    struct addrinfo *res;
    int err;
} lookup;

static void lookup_put(lookup *l)
{
    if (atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    if (l->res)
        freeaddrinfo(l->res);
    gort_chan_free(l->done);
    free(l);
}

static void lookup_helper(void *arg)
{
    lookup *l = arg;
    l->err = lookup_blocking(l->hp.host, l->hp.port, &l->hints, &l->res);
    gort_chan_send(l->done, NULL); /* never blocks: cap 1, one send */
    lookup_put(l);
}

/* Resolve on a helper goroutine, waiting until deadline at most.  Returns
 * an errno value, or -1 if the helper could not be started (the caller
 * looks up inline then). */
static int lookup_until(const hostport *hp, const struct addrinfo *hints, int64_t deadline,
                        struct addrinfo **res)
{
    lookup *l = calloc(1, sizeof *l);
    if (!l)
        return -1;
    l->done = gort_chan_make(0, 1);
    if (!l->done) {
        free(l);
        return -1;
    }
    l->hp = *hp;
    l->hints = *hints;
    atomic_store(&l->refs, 2);
    if (gort_go(lookup_helper, l) != 0) {
        gort_chan_free(l->done);
        free(l);
        return -1;
    }
    gort_case c = {.chan = l->done, .op = GORT_RECV};
    int64_t left = deadline - gort__nanotime();
    int err = ETIMEDOUT;
    if (left > 0 && gort_select(&c, 1, left) == 0) {
        err = l->err; /* the channel orders the helper's writes before this */
        *res = l->res;
        l->res = NULL;
    }
    lookup_put(l);
    return err;
}

/* Resolve hp for net into *res (an errno value).  Literals and numeric
 * ports are parsed without blocking; names are looked up as above.  For
 * gort_dial an empty host means the local system (getaddrinfo's loopback
 * addresses), as in Go. */
static int resolve(int net, const hostport *hp, int64_t deadline, struct addrinfo **res)
{
    int fam = net_family(net);
    if (hp->literal && fam != AF_UNSPEC && hp->literal != fam)
        return EAFNOSUPPORT;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = fam;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    bool numeric_port = all_digits(hp->port);
    if (numeric_port)
        hints.ai_flags |= AI_NUMERICSERV;
    if (hp->literal || !hp->host[0]) {
        hints.ai_flags |= AI_NUMERICHOST;
        const char *h = hp->host[0] ? hp->host : NULL;
        if (numeric_port) { /* nothing to read or ask: no bracket */
            int rc = getaddrinfo(h, hp->port, &hints, res);
            return eai_errno(rc, rc == EAI_SYSTEM ? get_errno() : 0);
        }
        return lookup_blocking(h, hp->port, &hints, res); /* /etc/services */
    }
    if (under_domain(hp->host, "invalid") || under_domain(hp->host, "onion"))
        return ENOENT;
    if (deadline >= 0 && gort_self() != 0) {
        int err = lookup_until(hp, &hints, deadline, res);
        if (err >= 0)
            return err;
    }
    return lookup_blocking(hp->host, hp->port, &hints, res);
}

/* A unix socket address; 0 or EINVAL.  A path needs its terminating NUL
 * in sun_path (107 bytes at most, as in Go); "@name" is abstract:
 * sun_path starts with a NUL and the length, not a terminator, ends the
 * name, so it may fill sun_path. */
static int unix_addr(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
    size_t n = strlen(path);
    if (n == 0 || n > sizeof sun->sun_path || (path[0] != '@' && n == sizeof sun->sun_path))
        return EINVAL;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n);
    if (path[0] == '@') {
        sun->sun_path[0] = 0;
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

static int new_socket(int family)
{
    int proto = family == AF_UNIX ? 0 : IPPROTO_TCP;
    return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
}

static void set_int(int fd, int level, int opt, int v)
{
    (void)setsockopt(fd, level, opt, &v, sizeof v);
}

/* Register fd with the netpoller (netpoll.c) as gort_accept does for
 * its fds: known to be a non-blocking socket (TCP unless AF_UNIX: new_socket
 * makes it), so one epoll_ctl and no probing.  0 or an errno value. */
static int net_register(int fd, int family)
{
    gort__pollfd *pd = gort__pd_get(fd);
    if (!pd)
        return ENOMEM;
    int e = gort__pd_acquire(pd, PD_KNOWN_SOCKET | PD_KNOWN_NONBLOCK |
                                     (family == AF_UNIX ? 0 : PD_KNOWN_TCP));
    if (e)
        return e;
    gort__pd_release(pd);
    return 0;
}

/* Close fd keeping errno; fd may or may not be registered yet. */
static int close_fail(int fd, int e)
{
    gort_close(fd);
    return fail(e);
}

/* ---------------------------------------------------------------------
 * Listen
 * ------------------------------------------------------------------- */

static int listen_on(const struct sockaddr *sa, socklen_t len, int v6only)
{
    int fd = new_socket(sa->sa_family);
    if (fd < 0)
        return -1;
    if (sa->sa_family != AF_UNIX)
        set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (sa->sa_family == AF_INET6 && v6only >= 0)
        set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only);
    if (bind(fd, sa, len) < 0 || listen(fd, INT_MAX) < 0)
        return close_fail(fd, get_errno());
    int e = net_register(fd, sa->sa_family);
    if (e)
        return close_fail(fd, e);
    return fd;
}

/* "tcp" on every address: [::] dual-stack, else 0.0.0.0. */
static int listen_any(int net, uint16_t port)
{
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(port);
    if (net != NET_TCP4) {
        int fd = listen_on((struct sockaddr *)&s6, sizeof s6, net == NET_TCP6);
        int e = get_errno();
        if (fd >= 0 || net == NET_TCP6 || (e != EAFNOSUPPORT && e != EADDRNOTAVAIL))
            return fd;
    }
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof s4);
    s4.sin_family = AF_INET;
    s4.sin_port = htons(port);
    s4.sin_addr.s_addr = htonl(INADDR_ANY);
    return listen_on((struct sockaddr *)&s4, sizeof s4, -1);
}

/* Both calls' arguments: the network, then a unix address (sun, len) or
 * a host and port (hp).  0 or an errno value. */
static int parse_args(const char *network, const char *address, int *net,
                      struct sockaddr_un *sun, socklen_t *len, hostport *hp)
{
    *net = parse_network(network);
    if (*net < 0)
        return network ? EAFNOSUPPORT : EINVAL;
    if (!address)
        return EINVAL;
    if (*net == NET_UNIX)
        return unix_addr(address, sun, len);
    return split_host_port(address, hp);
}

int gort_listen(const char *network, const char *address)
{
    int net;
    struct sockaddr_un sun;
    socklen_t len;
    hostport hp;
    int e = parse_args(network, address, &net, &sun, &len, &hp);
    if (e)
        return fail(e);
    if (net == NET_UNIX)
        return listen_on((struct sockaddr *)&sun, len, -1);
    if (hp.literal && net != NET_TCP && hp.literal != net_family(net))
        return fail(EAFNOSUPPORT);
    if (hp.wildcard && all_digits(hp.port))
        return listen_any(net, (uint16_t)atoi(hp.port));
    struct addrinfo *res = NULL;
    e = resolve(net, &hp, -1, &res);
    if (e)
        return fail(e);
    /* Go's Listen: the first IPv4 address, else the first. */
    struct addrinfo *ai = res;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            ai = a;
            break;
        }
    int fd = -1;
    if (!ai) {
        e = ENOENT;
    } else if (hp.wildcard) {
        /* A wildcard with a service name: resolved only for the port. */
        uint16_t port = ai->ai_family == AF_INET
                            ? ntohs(((struct sockaddr_in *)ai->ai_addr)->sin_port)
                            : ntohs(((struct sockaddr_in6 *)ai->ai_addr)->sin6_port);
        fd = listen_any(net, port);
        e = get_errno();
    } else {
        fd = listen_on(ai->ai_addr, ai->ai_addrlen, net == NET_TCP6);
        e = get_errno();
    }
    freeaddrinfo(res);
    return fd >= 0 ? fd : fail(e);
}

/* ---------------------------------------------------------------------
 * Dial
 * ------------------------------------------------------------------- */

/* Connected to itself: a connect to a local port nobody listens on can
 * pick that very port as its ephemeral source and "succeed" (TCP
 * simultaneous open).  Go's selfConnect. */
static bool self_connected(int fd)
{
    struct sockaddr_storage a, b;
    socklen_t al = sizeof a, bl = sizeof b;
    if (getsockname(fd, (struct sockaddr *)&a, &al) < 0 ||
        getpeername(fd, (struct sockaddr *)&b, &bl) < 0)
        return false;
    return al == bl && memcmp(&a, &b, al) == 0;
}

/* One connect to sa until deadline (-1: none).  fd or -1 with errno. */
static int dial_one(const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
    for (int tries = 0;; tries++) {
        int fd = new_socket(sa->sa_family);
        if (fd < 0)
            return -1;
        int e = net_register(fd, sa->sa_family);
        if (!e)
            e = gort_set_deadline(fd, GORT_WRITE, deadline);
        if (e)
            return close_fail(fd, e);
        if (gort_connect(fd, sa, len) < 0) {
            e = get_errno();
            /* Go's spuriousENOTAVAIL: ephemeral ports ran out for a moment. */
            if (e == EADDRNOTAVAIL && tries < 2 && sa->sa_family != AF_UNIX) {
                gort_close(fd);
                continue;
            }
            return close_fail(fd, e);
        }
        if (sa->sa_family != AF_UNIX && self_connected(fd)) {
            gort_close(fd);
            if (tries < 2)
                continue;
            return fail(ECONNREFUSED);
        }
        e = gort_set_deadline(fd, GORT_WRITE, -1);
        if (e)
            return close_fail(fd, e);
        if (sa->sa_family != AF_UNIX) {
            set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
            set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
            set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, KEEPALIVE_S);
            set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, KEEPALIVE_S);
        }
        return fd;
    }
}

/* This address's share of the time left (Go's partialDeadline). */
static int64_t partial_deadline(int64_t now, int64_t deadline, int left)
{
    if (deadline < 0)
        return -1;
    int64_t rem = deadline - now;
    int64_t share = rem / left;
    if (share < SANE_MIN_NS)
        share = rem < SANE_MIN_NS ? rem : SANE_MIN_NS;
    return now + share;
}

int gort_dial(const char *network, const char *address, int64_t deadline)
{
    int net;
    struct sockaddr_un sun;
    socklen_t len;
    hostport hp;
    int e = parse_args(network, address, &net, &sun, &len, &hp);
    if (e)
        return fail(e);
    if (deadline < 0)
        deadline = -1; /* none, as gort_set_deadline reads it */
    if (deadline >= 0 && gort__nanotime() >= deadline)
        return fail(ETIMEDOUT);
    if (net == NET_UNIX)
        return dial_one((struct sockaddr *)&sun, len, deadline);
    struct addrinfo *res = NULL;
    e = resolve(net, &hp, deadline, &res);
    if (e)
        return fail(e);
    int n = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        n++;
    int fd = -1, first = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next, n--) {
        int64_t now = gort__nanotime();
        if (deadline >= 0 && now >= deadline) {
            if (!first)
                first = ETIMEDOUT;
            break;
        }
        fd = dial_one(a->ai_addr, a->ai_addrlen, partial_deadline(now, deadline, n));
        if (fd >= 0)
            break;
        if (!first)
            first = get_errno();
    }
    freeaddrinfo(res);
    if (fd >= 0)
        return fd;
    return fail(first ? first : ENOENT);
}
