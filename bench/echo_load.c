/*
 * echo_load.c — the load generator of issue 10's network benchmarks, the
 * same program for every server (protocol in echo.h: the server prints
 * "SERVER impl=X port=N", accepts `conns` connections, echoes each until
 * EOF, then prints "SERVER_DONE ..." and exits).  Usage:
 *
 *   echo_load [-c conns] [-T threads] [-t secs] [-w warmup] [-i idle_secs]
 *             SERVER_CMD [ARGS...]
 *
 * It starts `SERVER_CMD ARGS... conns` with its stdout on a pipe and opens
 * the connections in batches of 500, each batch followed by one 64-byte
 * ping-pong on every connection of the batch (so every connection is
 * accepted and its server-side reader is waiting before the next batch:
 * the listen backlog never overflows, and no SYN is dropped and retried a
 * second later).  Then one of two measurements:
 *
 * echo (default): `threads` (2) plain pthreads, each owning every
 *   threads-th connection through its own level-triggered epoll set, run a
 *   closed loop per connection: write 64 bytes, wait for the 64 bytes back,
 *   compare, write the next.  After `warmup` (1 s) the completed requests
 *   of a `secs` (3 s) window are counted and their latencies (write to
 *   last byte read, CLOCK_MONOTONIC) go into a log-linear histogram (32
 *   buckets per octave, < 3 % error).  Prints
 *     RESULT name=echo1k impl=X unit=req/s value=<requests per second>
 *            p50_ns= p99_ns= p999_ns= max_ns= conn_min= conn_max=
 *            server_cpu_us_per_req= client_cpu_us_per_req=
 *            server_cores= client_cores= ...
 *   (the benchmark's name is "echo1k" whatever -c is; conn_min/max are
 *   the slowest and fastest connection's requests per second).
 *
 * idle (-i secs): no load.  The server's RSS (VmRSS) and thread count are
 *   read from /proc before the first connection and again after every
 *   connection has made its one round trip and then sat idle for `secs`.
 *     RESULT name=idle10k impl=X unit=bytes value=<RSS growth / conns>
 *            os_threads=<server threads, idle> rss_before= rss_after= ...
 *
 * Why epoll and two threads: 1000 client threads would be 1000 runnable
 * threads on this 2-CPU machine, and the kernel's scheduling of them would
 * dominate what is measured.  One epoll loop per thread costs a write, a
 * read and a share of an epoll_wait per request, about the least a client
 * can do, and two threads let the client use both CPUs when the server
 * needs less than the client.  Every server gets this same client, on the
 * same CPUs (no pinning: the client's and the server's threads share both
 * CPUs as the kernel schedules them), so each pays for the client's CPU
 * the same way; server_cpu_us_per_req (from /proc/PID/stat over the
 * window) is the server's own cost, independent of how the CPUs were
 * shared, and client_cores says how busy the client was (2.0 would mean
 * it was the bottleneck).
 *
 * It fails (exit 1, no RESULT) on a wrong reply, an EOF or error, a
 * connection without any completed request in the window, or a server that
 * stops answering for 10 s.  RLIMIT_NOFILE's soft limit is raised to the
 * hard one here, before the server is started (it inherits it).
 */
#define _GNU_SOURCE
#include "echo.h"

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define BATCH 500
#define NBUCKET 2048

struct conn {
    int fd, id;
    uint32_t got;     /* bytes of the current reply read */
    uint64_t seq;     /* current request's sequence number */
    int64_t sent;     /* when it was written */
    uint64_t in_win;  /* requests completed in the window */
    char req[ECHO_MSG], rep[ECHO_MSG];
};

struct worker {
    int ep, nconn;
    struct conn **conns;
    uint64_t hist[NBUCKET];
    uint64_t count; /* requests completed in the window */
    int64_t max_ns;
    pthread_t th;
};

/* 0: warm-up, 1: measuring, 2: stopping (finish the round trip, close). */
static atomic_int phase;
static atomic_int workers_done;
static pid_t server_pid;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "echo_load: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (server_pid > 0)
        kill(server_pid, SIGKILL);
    exit(1);
}

/* Log-linear histogram: exact below 64 ns, then 32 buckets per octave. */
static int bucket_of(uint64_t v)
{
    if (v < 64)
        return (int)v;
    int e = 63 - __builtin_clzll(v); /* >= 6 */
    int b = 64 + (e - 6) * 32 + (int)((v >> (e - 5)) & 31);
    return b < NBUCKET ? b : NBUCKET - 1;
}

static uint64_t bucket_mid(int b)
{
    if (b < 64)
        return (uint64_t)b;
    int e = (b - 64) / 32 + 6, m = (b - 64) % 32;
    uint64_t lo = (uint64_t)(32 + m) << (e - 5), w = (uint64_t)1 << (e - 5);
    return lo + w / 2;
}

static uint64_t hist_q(const uint64_t *h, uint64_t total, double p)
{
    uint64_t want = (uint64_t)(p * (double)total + 0.999999), acc = 0;
    if (want < 1)
        want = 1;
    for (int b = 0; b < NBUCKET; b++) {
        acc += h[b];
        if (acc >= want)
            return bucket_mid(b);
    }
    return 0;
}

static void fill_req(struct conn *c)
{
    c->seq++;
    memcpy(c->req, &c->seq, sizeof c->seq);
    memcpy(c->req + 8, &c->id, sizeof c->id);
    for (int k = 12; k < ECHO_MSG; k++)
        c->req[k] = (char)(c->seq + (uint64_t)k);
}

static void send_req(struct conn *c)
{
    fill_req(c);
    c->got = 0;
    c->sent = echo_now();
    /* 64 bytes into an empty send buffer (one request outstanding):
     * complete or an error, never EAGAIN. */
    ssize_t w = write(c->fd, c->req, ECHO_MSG);
    if (w != ECHO_MSG)
        fail("write on connection %d: %s", c->id, w < 0 ? strerror(errno) : "short write");
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event ev[256];
    int open = w->nconn;
    for (int i = 0; i < w->nconn; i++)
        send_req(w->conns[i]);
    while (open > 0) {
        int n = epoll_wait(w->ep, ev, 256, 1000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("epoll_wait: %s", strerror(errno));
        for (int k = 0; k < n; k++) {
            struct conn *c = ev[k].data.ptr;
            ssize_t r = read(c->fd, c->rep + c->got, ECHO_MSG - c->got);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0)
                fail("read on connection %d: %s", c->id, r == 0 ? "EOF from the server"
                                                                : strerror(errno));
            c->got += (uint32_t)r;
            if (c->got < ECHO_MSG)
                continue;
            int64_t now = echo_now();
            if (memcmp(c->req, c->rep, ECHO_MSG) != 0)
                fail("connection %d: the server echoed different bytes", c->id);
            int ph = atomic_load_explicit(&phase, memory_order_relaxed);
            if (ph == 1) {
                int64_t d = now - c->sent;
                w->hist[bucket_of((uint64_t)d)]++;
                if (d > w->max_ns)
                    w->max_ns = d;
                w->count++;
                c->in_win++;
            }
            if (ph == 2) {
                close(c->fd); /* also leaves the epoll set */
                c->fd = -1;
                open--;
                continue;
            }
            send_req(c);
        }
    }
    atomic_fetch_add(&workers_done, 1);
    return NULL;
}


/* The server's user+system CPU time in seconds (/proc/PID/stat). */
static double proc_cpu(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return -1;
    buf[r] = 0;
    char *p = strrchr(buf, ')'); /* the command may hold spaces */
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A field of /proc/PID/status ("VmRSS", "Threads"): its number, or -1. */
static long proc_status(pid_t pid, const char *key)
{
    char path[64], line[256];
    long v = -1;
    size_t kl = strlen(key);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Connect conns[lo..hi) (blocking connect, TCP_NODELAY), then one
 * ping-pong on each: every one of them is then accepted and served. */
static void open_batch(struct conn *conns, int lo, int hi, int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = lo; i < hi; i++) {
        struct conn *c = &conns[i];
        c->id = i;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
            fail("socket (connection %d): %s", i, strerror(errno));
        while (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0)
            if (errno != EINTR)
                fail("connect (connection %d): %s", i, strerror(errno));
        echo_nodelay(c->fd);
    }
    for (int i = lo; i < hi; i++) {
        struct conn *c = &conns[i];
        fill_req(c);
        if (echo_write_all(c->fd, c->req, ECHO_MSG) != 0)
            fail("write (connection %d): %s", i, strerror(errno));
    }
    for (int i = lo; i < hi; i++) {
        struct conn *c = &conns[i];
        int r = echo_read_full(c->fd, c->rep, ECHO_MSG);
        if (r != 0)
            fail("read (connection %d): %s", i, r > 0 ? "EOF" : strerror(errno));
        if (memcmp(c->req, c->rep, ECHO_MSG) != 0)
            fail("connection %d: the server echoed different bytes", i);
    }
}

int main(int argc, char **argv)
{
    int n = 1000, nthreads = 2, opt;
    double secs = 3, warmup = 1, idle = -1;
    while ((opt = getopt(argc, argv, "+c:T:t:w:i:")) != -1) {
        switch (opt) {
        case 'c': n = atoi(optarg); break;
        case 'T': nthreads = atoi(optarg); break;
        case 't': secs = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'i': idle = atof(optarg); break;
        default: optind = argc; break;
        }
    }
    if (optind >= argc || n < 1 || nthreads < 1 || secs <= 0 || warmup < 0) {
        fprintf(stderr, "usage: echo_load [-c conns] [-T threads] [-t secs] [-w warmup] "
                        "[-i idle_secs] SERVER_CMD [ARGS...]\n");
        return 2;
    }
    if (nthreads > n)
        nthreads = n;
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64)
        fail("RLIMIT_NOFILE is %lu, %d connections need %d (raise the hard limit)",
             (unsigned long)rl.rlim_cur, n, n + 64);

    char line[1024], impl[64];
    int port, out;
    server_pid = echo_spawn_server(argv + optind, argc - optind, n, "echo_load", &out);
    if (echo_read_line(out, line, sizeof line, 30000) != 0 ||
        sscanf(line, "SERVER impl=%63s port=%d", impl, &port) != 2)
        fail("the server did not print \"SERVER impl=... port=...\" within 30 s");

    struct conn *conns = calloc((size_t)n, sizeof *conns);
    if (!conns)
        echo_die("calloc");
    long rss0 = 0, thr0 = 0;
    if (idle >= 0) {
        echo_sleep_ns(200000000); /* let the server finish starting up */
        rss0 = proc_status(server_pid, "VmRSS");
        thr0 = proc_status(server_pid, "Threads");
    }
    int64_t tc0 = echo_now();
    for (int lo = 0; lo < n; lo += BATCH)
        open_batch(conns, lo, lo + BATCH < n ? lo + BATCH : n, port);
    double connect_s = (double)(echo_now() - tc0) / 1e9;

    if (idle >= 0) {
        echo_sleep_ns((int64_t)(idle * 1e9));
        long rss1 = proc_status(server_pid, "VmRSS"), thr1 = proc_status(server_pid, "Threads");
        long hwm = proc_status(server_pid, "VmHWM");
        if (rss0 < 0 || rss1 < 0 || thr1 < 0)
            fail("cannot read /proc/%d/status", (int)server_pid);
        /* Still alive and answering after the idle time? */
        for (int i = 0; i < n; i += n / 10 > 0 ? n / 10 : 1) {
            fill_req(&conns[i]);
            if (echo_write_all(conns[i].fd, conns[i].req, ECHO_MSG) != 0 ||
                echo_read_full(conns[i].fd, conns[i].rep, ECHO_MSG) != 0 ||
                memcmp(conns[i].req, conns[i].rep, ECHO_MSG) != 0)
                fail("connection %d does not answer after %.1f s idle", i, idle);
        }
        for (int i = 0; i < n; i++)
            close(conns[i].fd);
        if (echo_read_line(out, line, sizeof line, 30000) != 0 ||
            strncmp(line, "SERVER_DONE", 11) != 0)
            fail("the server did not print SERVER_DONE within 30 s of the last close");
        int st;
        if (waitpid(server_pid, &st, 0) != server_pid || !WIFEXITED(st) ||
            WEXITSTATUS(st) != 0) {
            server_pid = 0;
            fail("the server exited with status %#x", st);
        }
        server_pid = 0;
        printf("RESULT name=idle10k impl=%s unit=bytes value=%.0f conns=%d os_threads=%ld "
               "os_threads_before=%ld rss_before=%ld rss_after=%ld rss_hwm=%ld idle_s=%.1f "
               "connect_s=%.2f %s\n",
               impl, (double)(rss1 - rss0) * 1024.0 / n, n, thr1, thr0, rss0 * 1024,
               rss1 * 1024, hwm * 1024, idle, connect_s, line + 11 + (line[11] == ' '));
        fflush(stdout);
        return 0;
    }

    /* echo: the connections go to the workers round-robin. */
    struct worker *w = calloc((size_t)nthreads, sizeof *w);
    for (int t = 0; t < nthreads; t++) {
        w[t].ep = epoll_create1(EPOLL_CLOEXEC);
        if (w[t].ep < 0)
            echo_die("epoll_create1");
        w[t].conns = calloc((size_t)n / nthreads + 1, sizeof *w[t].conns);
    }
    for (int i = 0; i < n; i++) {
        struct worker *x = &w[i % nthreads];
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };
        fcntl(conns[i].fd, F_SETFL, fcntl(conns[i].fd, F_GETFL) | O_NONBLOCK);
        if (epoll_ctl(x->ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0)
            echo_die("epoll_ctl");
        x->conns[x->nconn++] = &conns[i];
    }
    for (int t = 0; t < nthreads; t++) {
        errno = pthread_create(&w[t].th, NULL, worker_main, &w[t]);
        if (errno)
            echo_die("pthread_create");
    }
    echo_sleep_ns((int64_t)(warmup * 1e9));
    double s0 = proc_cpu(server_pid), c0 = self_cpu();
    int64_t t0 = echo_now();
    atomic_store(&phase, 1);
    echo_sleep_ns((int64_t)(secs * 1e9));
    atomic_store(&phase, 2);
    int64_t t1 = echo_now();
    double s1 = proc_cpu(server_pid), c1 = self_cpu();

    int64_t deadline = echo_now() + 10 * (int64_t)1000000000;
    while (atomic_load(&workers_done) < nthreads && echo_now() < deadline)
        echo_sleep_ns(10000000);
    if (atomic_load(&workers_done) < nthreads)
        fail("some connections got no reply for 10 s: the %s server hangs", impl);
    static uint64_t hist[NBUCKET];
    uint64_t total = 0;
    int64_t maxd = 0;
    for (int t = 0; t < nthreads; t++) {
        pthread_join(w[t].th, NULL);
        for (int b = 0; b < NBUCKET; b++)
            hist[b] += w[t].hist[b];
        total += w[t].count;
        maxd = w[t].max_ns > maxd ? w[t].max_ns : maxd;
    }
    double dt = (double)(t1 - t0) / 1e9, lo = 1e300, hi = 0;
    for (int i = 0; i < n; i++) {
        if (conns[i].in_win == 0)
            fail("connection %d completed no request in %.1f s (the %s server does not serve "
                 "its connections at once)", i, dt, impl);
        double r = (double)conns[i].in_win / dt;
        lo = r < lo ? r : lo;
        hi = r > hi ? r : hi;
    }

    char done[1024] = "";
    if (echo_read_line(out, line, sizeof line, 10000) != 0 || strncmp(line, "SERVER_DONE", 11) != 0)
        fail("the server did not print SERVER_DONE within 10 s of the last close");
    snprintf(done, sizeof done, "%s", line + 11 + (line[11] == ' '));
    int st;
    if (waitpid(server_pid, &st, 0) != server_pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        server_pid = 0;
        fail("the server exited with status %#x", st);
    }
    server_pid = 0;
    double rate = (double)total / dt;
    printf("RESULT name=echo1k impl=%s unit=req/s value=%.0f p50_ns=%" PRIu64 " p90_ns=%" PRIu64
           " p99_ns=%" PRIu64 " p999_ns=%" PRIu64 " max_ns=%" PRId64 " conns=%d msg=%d "
           "client_threads=%d window_s=%.2f conn_min=%.0f conn_max=%.0f "
           "server_cpu_us_per_req=%.2f client_cpu_us_per_req=%.2f server_cores=%.2f "
           "client_cores=%.2f connect_s=%.2f %s\n",
           impl, rate, hist_q(hist, total, .5), hist_q(hist, total, .9),
           hist_q(hist, total, .99), hist_q(hist, total, .999), maxd, n, ECHO_MSG, nthreads, dt,
           lo, hi, s0 >= 0 && s1 >= 0 ? (s1 - s0) * 1e6 / (double)total : -1,
           (c1 - c0) * 1e6 / (double)total, s0 >= 0 && s1 >= 0 ? (s1 - s0) / dt : -1,
           (c1 - c0) / dt, connect_s, done);
    fflush(stdout);
    return 0;
}
