/* gort_dial's deadline.  A connect that never completes fails with
 * ETIMEDOUT at the deadline, not before and not much after: the peer is a
 * listener whose accept queue is full (nobody accepts), where the kernel
 * drops every new SYN whatever the SYN-cookie setting, so the connect
 * stays pending; the test fills the queue step by step and reads the
 * listener's TCP_INFO (tcpi_unacked = queued, tcpi_sacked = backlog) to
 * know it is full rather than guessing with timeouts.  Also: while one
 * goroutine waits in such a dial, another runs at GORTMAXPROCS=1; a dial
 * from a plain thread times out the same way; and a name lookup that
 * hangs is bounded by the deadline too (a stand-in resolver blocks until
 * the test releases it), its helper finishing and freeing afterwards;
 * with two addresses, a black hole first, the first gets its share of
 * the time (Go's partialDeadline) and the second connects after it. */
#define _GNU_SOURCE
#include "check.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#define MS 1000000LL

static int full_port;
static int fillers[64], nfill;

static void queue_state(int ln, unsigned *queued, unsigned *backlog)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    CHECK_CALL(getsockopt(ln, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    *queued = ti.tcpi_unacked;
    *backlog = ti.tcpi_sacked;
}

/* A listener (backlog 1) whose accept queue is full; returns it. */
static int full_listener(void)
{
    int ln = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(ln >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_CALL(bind(ln, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_CALL(listen(ln, 1), 0);
    socklen_t len = sizeof a;
    CHECK_CALL(getsockname(ln, (struct sockaddr *)&a, &len), 0);
    full_port = ntohs(a.sin_port);
    for (;;) {
        unsigned queued, backlog;
        queue_state(ln, &queued, &backlog);
        CHECK_EQ(backlog, 1);
        if (queued > backlog)
            return ln;
        CHECK(nfill < 64, "the accept queue never fills");
        /* Room for one more: this connect completes. */
        int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        CHECK(c >= 0);
        int r = connect(c, (struct sockaddr *)&a, sizeof a);
        CHECK(r == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
        struct pollfd p = {c, POLLOUT, 0};
        CHECK_CALL(poll(&p, 1, 20000), 1);
        int err = -1;
        socklen_t el = sizeof err;
        CHECK_CALL(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el), 0);
        CHECK_EQ(err, 0);
        fillers[nfill++] = c;
        /* The listener's side counts it once the handshake's last ACK is
         * processed: wait for that before the next one. */
        for (int i = 0;; i++) {
            unsigned q2, b2;
            queue_state(ln, &q2, &b2);
            if (q2 > queued)
                break;
            CHECK(i < 20000, "the listener never counted connection %d", nfill);
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

static volatile int spins;
static volatile int stop_spin;

static void spinner(void *arg)
{
    while (!stop_spin) {
        spins++;
        gort_yield();
    }
    gort_wg_done(arg);
}

static void dial_times_out(const char *network, int64_t wait_ns)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", full_port);
    int64_t t0 = gort_nanotime();
    int fd = gort_dial(network, addr, t0 + wait_ns);
    int e = errno;
    int64_t took = gort_nanotime() - t0;
    CHECK(fd == -1 && e == ETIMEDOUT, "dial %s: %d, %s", addr, fd, strerror(e));
    CHECK(took >= wait_ns, "timed out after %lld ns, before the deadline %lld",
          (long long)took, (long long)wait_ns);
    CHECK(took < wait_ns + 3000 * MS, "timed out %lld ms late", (long long)(took - wait_ns) / MS);
}

static void *thread_dial(void *arg)
{
    dial_times_out("tcp4", 150 * MS);
    return arg;
}

/* ---- A resolver that hangs until released ---------------------------- */

extern int (*gort__net_getaddrinfo)(const char *, const char *, const struct addrinfo *,
                                    struct addrinfo **);
static int release_pipe[2];
static _Atomic int lookups_done;

/* Never asynchronously preempted: only the bracket lets others run. */
GORT_NOSPLIT static int hung_getaddrinfo(const char *host, const char *port,
                                         const struct addrinfo *hints, struct addrinfo **res)
{
    char c;
    long r;
    do
        r = raw_syscall3(0 /* read */, release_pipe[0], (long)&c, 1);
    while (r == -EINTR);
    struct addrinfo h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    int rc = getaddrinfo("127.0.0.1", port, &h, res); /* memory the helper must free */
    atomic_fetch_add(&lookups_done, 1);
    return rc;
}

static void test_lookup_deadline(void)
{
    CHECK_CALL(pipe(release_pipe), 0);
    gort__net_getaddrinfo = hung_getaddrinfo;
    int before = gort_num_goroutine();
    int64_t t0 = gort_nanotime();
    int fd = gort_dial("tcp", "hung.example:80", t0 + 200 * MS);
    int e = errno;
    int64_t took = gort_nanotime() - t0;
    CHECK(fd == -1 && e == ETIMEDOUT, "dial: %d, %s", fd, strerror(e));
    CHECK(took >= 200 * MS && took < 3200 * MS, "took %lld ms", (long long)took / MS);
    CHECK_EQ(atomic_load(&lookups_done), 0);
    /* Release it: the helper finishes and frees what the lookup made
     * (ASan's leak check runs at exit). */
    CHECK_CALL(write(release_pipe[1], "x", 1), 1);
    while (gort_num_goroutine() > before)
        gort_yield();
    CHECK_EQ(atomic_load(&lookups_done), 1);
    gort__net_getaddrinfo = getaddrinfo;
}

/* ---- Several addresses: each gets a share of the time left ----------- */

static const char *chain_hosts[2];

static int chain_getaddrinfo(const char *host, const char *port, const struct addrinfo *hints,
                             struct addrinfo **res)
{
    struct addrinfo h = *hints, *a = NULL, *b = NULL;
    h.ai_flags |= AI_NUMERICHOST;
    h.ai_family = AF_INET;
    CHECK_CALL(getaddrinfo(chain_hosts[0], port, &h, &a), 0);
    CHECK_CALL(getaddrinfo(chain_hosts[1], port, &h, &b), 0);
    CHECK(a->ai_next == NULL);
    a->ai_next = b;
    *res = a;
    return 0;
}

static void test_shares(void)
{
    /* 127.0.0.2 is loopback too (127/8); listen there on the full port. */
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)full_port);
    CHECK(inet_pton(AF_INET, "127.0.0.2", &a.sin_addr) == 1);
    int ln2 = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(ln2 >= 0);
    CHECK_CALL(bind(ln2, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_CALL(listen(ln2, 16), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "two.example:%d", full_port);
    gort__net_getaddrinfo = chain_getaddrinfo;

    /* Refused, then connected: at once. */
    chain_hosts[0] = "127.0.0.3";
    chain_hosts[1] = "127.0.0.2";
    int fd = gort_dial("tcp", addr, -1);
    CHECK(fd >= 0, "dial: %s", strerror(errno));
    CHECK_CALL(gort_close(fd), 0);

    /* Black hole, then a listener: the first gets half of 4.4 s (at
     * least Go's 2 s minimum), the second connects after it. */
    chain_hosts[0] = "127.0.0.1";
    int64_t t0 = gort_nanotime();
    fd = gort_dial("tcp", addr, t0 + 4400 * MS);
    int64_t took = gort_nanotime() - t0;
    CHECK(fd >= 0, "dial: %s", strerror(errno));
    CHECK(took >= 2200 * MS && took < 4400 * MS, "took %lld ms", (long long)took / MS);
    CHECK_CALL(gort_close(fd), 0);

    /* Less than the minimum left: the first address gets it all, and its
     * timeout is the error. */
    t0 = gort_nanotime();
    fd = gort_dial("tcp", addr, t0 + 300 * MS);
    int e = errno;
    took = gort_nanotime() - t0;
    CHECK(fd == -1 && e == ETIMEDOUT, "dial: %d %s", fd, strerror(e));
    CHECK(took >= 300 * MS && took < 3300 * MS, "took %lld ms", (long long)took / MS);
    gort__net_getaddrinfo = getaddrinfo;
    close(ln2);
}

static void main_g(void *arg)
{
    int ln = full_listener();
    unsigned queued, backlog;

    /* Another goroutine runs while one waits in a dial. */
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_wg_add(&wg, 1);
    CHECK_CALL(gort_go(spinner, &wg), 0);
    int before = spins;
    dial_times_out("tcp4", 300 * MS);
    CHECK(spins > before, "nothing ran while the dial waited");
    stop_spin = 1;
    gort_wg_wait(&wg);

    dial_times_out("tcp", 100 * MS);
    /* A plain thread blocks in it, and times out the same way. */
    pthread_t t;
    CHECK_CALL(pthread_create(&t, NULL, thread_dial, NULL), 0);
    CHECK_CALL(pthread_join(t, NULL), 0);

    test_shares();

    /* Still full: the timeouts were the dropped SYNs'. */
    queue_state(ln, &queued, &backlog);
    CHECK(queued > backlog, "queue %u of %u", queued, backlog);
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    close(ln);

    test_lookup_deadline();
}

int main(void)
{
    watchdog_start("test_net_dial_deadline", 60);
    setenv("GORTMAXPROCS", "1", 1);
    run_main(main_g, NULL);
    return 0;
}
