/*
 * test_echo_blocking.c — issue 8's first symptom: a TCP echo server written
 * the ordinary way (blocking sockets, goroutine 1 accept()ing, one
 * goroutine per connection doing read()/write() until EOF, plain libc
 * calls) must serve all its connections at once with GORTMAXPROCS=2.
 * Before goroutines in system calls gave their P away, two goroutines
 * blocked in read() held both Ps and everything else waited forever.
 *
 * Phase 1 (2 Ps): the server and 50 clients, all goroutines, all on
 * blocking sockets over loopback.  Each client makes 200 round trips of
 * 64 bytes (each message names its client and round, the reply must be the
 * same bytes), and halfway through waits at a barrier until every client
 * has made its first 100: no client can finish while another is still
 * unserved, so the test needs all 50 connections (100 goroutines in
 * read()) served concurrently, not one after another.
 * Phase 2 (gort_maxprocs(1)): the same server, 50 clients that are plain
 * pthreads, 50 round trips each, the same barrier: every wake-up comes
 * from a thread that is not a goroutine, and one P must serve 50
 * goroutines that block in the kernel.
 * Both phases check gort's counters: every read/write the goroutines made
 * was entered as a system call, and none is inside one at the end.
 *
 * A hang is the failure mode, so a watchdog (alarm, 60 s, well inside the
 * suite's timeout) ends the test with a message that says where it stood.
 */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>

#define NCONN 50
#define MSG 64
#define WATCHDOG_SECS 60

static int listen_fd, port;
static int rounds;                        /* per client, this phase */
static gort_waitgroup served_wg;          /* server goroutines */
static gort_waitgroup clients_wg;         /* client goroutines (phase 1) */
static gort_waitgroup barrier;            /* halfway: every client there */
static pthread_barrier_t thread_barrier;  /* the same for phase 2 */
static bool thread_clients;

/* Progress, for the watchdog's message. */
static volatile sig_atomic_t phase;
static atomic_int accepted, clients_done, at_barrier;
static atomic_long round_trips, echoed_bytes;

/* ------------------------------------------------------------- watchdog */

static void put(const char *s)
{
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

static void put_num(long v)
{
    char b[24];
    int i = sizeof b;
    b[--i] = 0;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && i > 0);
    put(b + i);
}

static void watchdog(int sig)
{
    (void)sig;
    put("test_echo_blocking: watchdog: no end after ");
    put_num(WATCHDOG_SECS);
    put(" s in phase ");
    put_num(phase);
    put(phase == 1 ? " (2 Ps, goroutine clients)" : " (1 P, pthread clients)");
    put(": ");
    put_num(atomic_load(&accepted));
    put(" connections accepted, ");
    put_num(atomic_load(&at_barrier));
    put(" clients reached the halfway barrier, ");
    put_num(atomic_load(&clients_done));
    put(" of 50 clients done, ");
    put_num(atomic_load(&round_trips));
    put(" round trips: the blocking-socket echo server hangs (goroutines blocked in "
        "read()/write()/accept() hold their Ps)\n");
    _exit(1);
}

/* ------------------------------------------------------------- sockets */

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        CHECK(w > 0, "write: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

static void read_full(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        CHECK(r > 0, "read: %s", r == 0 ? "EOF" : strerror(errno));
        p += r;
        n -= (size_t)r;
    }
}

static void nodelay(int fd)
{
    int one = 1;
    CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
}

/* ------------------------------------------------------------- server */

/* Echo until EOF: the ordinary blocking loop. */
static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[1024];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        CHECK(r >= 0, "server read: %s", strerror(errno));
        if (r == 0)
            break;
        write_all(fd, buf, (size_t)r);
        atomic_fetch_add(&echoed_bytes, r);
    }
    CHECK(close(fd) == 0);
    gort_wg_done(&served_wg);
}

/* Accept NCONN connections, a goroutine each. */
static void acceptor(void *arg)
{
    (void)arg;
    for (int i = 0; i < NCONN; i++) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED)) {
            i--;
            continue;
        }
        CHECK(fd >= 0, "accept: %s", strerror(errno));
        nodelay(fd);
        atomic_fetch_add(&accepted, 1);
        CHECK(gort_go(serve, (void *)(intptr_t)fd) == 0);
    }
}

/* ------------------------------------------------------------- clients */

static void client_run(int id)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
    nodelay(fd);
    char req[MSG], rep[MSG];
    for (int r = 0; r < rounds; r++) {
        if (r == rounds / 2) {
            atomic_fetch_add(&at_barrier, 1);
            if (thread_clients) {
                int rc = pthread_barrier_wait(&thread_barrier);
                CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD);
            } else {
                gort_wg_done(&barrier);
                gort_wg_wait(&barrier);
            }
        }
        for (int k = 0; k < MSG; k++)
            req[k] = (char)(id * 7 + r * 13 + k);
        memcpy(req, &id, sizeof id);
        memcpy(req + sizeof id, &r, sizeof r);
        write_all(fd, req, sizeof req);
        read_full(fd, rep, sizeof rep);
        CHECK(memcmp(req, rep, MSG) == 0, "client %d round %d: the reply differs", id, r);
        atomic_fetch_add(&round_trips, 1);
    }
    CHECK(close(fd) == 0);
    atomic_fetch_add(&clients_done, 1);
}

static void client_goroutine(void *arg)
{
    client_run((int)(intptr_t)arg);
    gort_wg_done(&clients_wg);
}

static void *client_thread(void *arg)
{
    client_run((int)(intptr_t)arg);
    return NULL;
}

/* ------------------------------------------------------------- phases */

static void open_listener(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listen_fd >= 0);
    CHECK(bind(listen_fd, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
    CHECK(listen(listen_fd, 128) == 0);
    CHECK(getsockname(listen_fd, (struct sockaddr *)&a, &len) == 0);
    port = ntohs(a.sin_port);
}

static void run_phase(int which, int n_rounds, bool threads)
{
    gort_stats s0, s1;
    pthread_t th[NCONN];

    phase = which;
    rounds = n_rounds;
    thread_clients = threads;
    atomic_store(&accepted, 0);
    atomic_store(&clients_done, 0);
    atomic_store(&at_barrier, 0);
    atomic_store(&round_trips, 0);
    atomic_store(&echoed_bytes, 0);
    open_listener();
    gort_read_stats(&s0);

    gort_wg_add(&served_wg, NCONN);
    CHECK(gort_go(acceptor, NULL) == 0);
    if (threads) {
        CHECK(pthread_barrier_init(&thread_barrier, NULL, NCONN) == 0);
        for (int i = 0; i < NCONN; i++)
            CHECK(pthread_create(&th[i], NULL, client_thread, (void *)(intptr_t)i) == 0);
        for (int i = 0; i < NCONN; i++)
            CHECK(pthread_join(th[i], NULL) == 0);
        CHECK(pthread_barrier_destroy(&thread_barrier) == 0);
    } else {
        gort_wg_add(&barrier, NCONN);
        gort_wg_add(&clients_wg, NCONN);
        for (int i = 0; i < NCONN; i++)
            CHECK(gort_go(client_goroutine, (void *)(intptr_t)i) == 0);
        gort_wg_wait(&clients_wg);
    }
    gort_wg_wait(&served_wg);
    CHECK(close(listen_fd) == 0);
    gort_read_stats(&s1);

    long want = (long)NCONN * n_rounds;
    CHECK_EQ(atomic_load(&clients_done), NCONN);
    CHECK_EQ(atomic_load(&round_trips), want);
    CHECK_EQ(atomic_load(&echoed_bytes), want * MSG);
    /* The server's goroutines alone made at least one read and one write
     * per round trip (and phase 1's clients as many again), each entered
     * as a system call; at the end none is inside one. */
    uint64_t calls = s1.syscalls - s0.syscalls;
    uint64_t least = (uint64_t)want * (threads ? 2 : 4);
    CHECK(calls >= least, "phase %d: %llu system calls counted, want >= %llu", which,
          (unsigned long long)calls, (unsigned long long)least);
    CHECK_EQ(s1.in_syscall, 0);
    printf("phase %d (%d P%s, %s clients): %d connections x %d round trips of %d bytes; "
           "%llu system calls, %llu hand-offs, %llu threads\n",
           which, gort_maxprocs(0), gort_maxprocs(0) == 1 ? "" : "s",
           threads ? "pthread" : "goroutine", NCONN, n_rounds, MSG, (unsigned long long)calls,
           (unsigned long long)(s1.handoffs - s0.handoffs), (unsigned long long)s1.threads);
}

static void test_main(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_maxprocs(0), 2);
    run_phase(1, 200, false);
    gort_maxprocs(1);
    run_phase(2, 50, true);
}

int main(void)
{
    struct sigaction sa = { .sa_handler = watchdog };
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    signal(SIGPIPE, SIG_IGN);
    setenv("GORTMAXPROCS", "2", 1);
    alarm(WATCHDOG_SECS);
    run_main(test_main, NULL);
    printf("test_echo_blocking: ok\n");
    return 0;
}
