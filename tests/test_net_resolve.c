/* Name resolution in gort_dial / gort_listen.  With one P, a goroutine
 * inside getaddrinfo does not hold it: a stand-in resolver (the runtime's
 * gort__net_getaddrinfo, set from the static library) blocks in a raw
 * read(2) until another goroutine writes to a pipe, and it is
 * GORT_NOSPLIT, so nothing but the lookup's system-call bracket can let
 * that goroutine run; without the bracket the test hangs and its watchdog
 * fails it.  Checked for the inline lookup (no deadline), the helper
 * goroutine's (a deadline) and listen's, and from a plain thread.  Also:
 * IP literals never reach the resolver and service names do; every
 * EAI_* code maps to the errno gort.h and net.c document. */
#define _GNU_SOURCE
#include "check.h"

#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

extern int (*gort__net_getaddrinfo)(const char *, const char *, const struct addrinfo *,
                                    struct addrinfo **);

static int release_pipe[2];
static _Atomic int calls;
static _Atomic int block_next; /* the next call waits for the pipe */
static int fake_rc;            /* 0: resolve to 127.0.0.1; else this EAI_* code */
static int fake_errno;         /* with EAI_SYSTEM */

GORT_NOSPLIT static int fake_getaddrinfo(const char *host, const char *port,
                                         const struct addrinfo *hints, struct addrinfo **res)
{
    atomic_fetch_add(&calls, 1);
    if (atomic_exchange(&block_next, 0)) {
        char c;
        long r;
        do
            r = raw_syscall3(0 /* read */, release_pipe[0], (long)&c, 1);
        while (r == -EINTR);
    }
    if (fake_rc) {
        errno = fake_errno;
        return fake_rc;
    }
    struct addrinfo h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    h.ai_family = AF_INET;
    return getaddrinfo("127.0.0.1", port, &h, res);
}

static int port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    CHECK_CALL(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

/* Runs once the lookup is blocked inside its bracket, on the only P. */
static void releaser(void *arg)
{
    wait_in_syscall(1);
    CHECK_CALL(write(release_pipe[1], "x", 1), 1);
    gort_wg_done(arg);
}

static void blocked_dial(int ln, int64_t deadline)
{
    char addr[64];
    snprintf(addr, sizeof addr, "blocked.example:%d", port_of(ln));
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_wg_add(&wg, 1);
    atomic_store(&block_next, 1);
    CHECK_CALL(gort_go(releaser, &wg), 0);
    int before = atomic_load(&calls);
    int fd = gort_dial("tcp", addr, deadline);
    CHECK(fd >= 0, "dial %s: %s", addr, strerror(errno));
    CHECK_EQ(atomic_load(&calls), before + 1);
    gort_wg_wait(&wg);
    int s = gort_accept(ln, NULL, NULL);
    CHECK(s >= 0);
    CHECK_CALL(gort_close(s), 0);
    CHECK_CALL(gort_close(fd), 0);
}

static void blocked_listen(void)
{
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_wg_add(&wg, 1);
    atomic_store(&block_next, 1);
    CHECK_CALL(gort_go(releaser, &wg), 0);
    int ln = gort_listen("tcp", "blocked.example:0");
    CHECK(ln >= 0, "listen: %s", strerror(errno));
    gort_wg_wait(&wg);
    CHECK_CALL(gort_close(ln), 0);
}

static void *thread_dial(void *arg)
{
    int ln = *(int *)arg;
    char addr[64];
    snprintf(addr, sizeof addr, "blocked.example:%d", port_of(ln));
    int fd = gort_dial("tcp", addr, gort_nanotime() + 30000000000LL);
    CHECK(fd >= 0, "dial from a thread: %s", strerror(errno));
    CHECK_CALL(gort_close(fd), 0);
    return NULL;
}

static void eai(int rc, int sys, int want)
{
    fake_rc = rc;
    fake_errno = sys;
    int fd = gort_dial("tcp", "fake.example:80", -1);
    CHECK(fd == -1 && errno == want, "EAI %d (%s): %d, errno %s, want %s", rc, gai_strerror(rc),
          fd, strerror(errno), strerror(want));
    fd = gort_dial("tcp", "fake.example:80", gort_nanotime() + 30000000000LL);
    CHECK(fd == -1 && errno == want, "EAI %d, with a deadline: errno %s", rc, strerror(errno));
    fd = gort_listen("tcp", "fake.example:0");
    CHECK(fd == -1 && errno == want, "EAI %d, listen: errno %s", rc, strerror(errno));
    fake_rc = 0;
}

static void main_g(void *arg)
{
    CHECK_EQ(gort_maxprocs(0), 1);
    int ln = gort_listen("tcp4", "127.0.0.1:0");
    CHECK(ln >= 0, "listen: %s", strerror(errno));

    watchdog_phase("inline lookup");
    blocked_dial(ln, -1);
    watchdog_phase("lookup on a helper goroutine");
    blocked_dial(ln, gort_nanotime() + 30000000000LL);
    watchdog_phase("listen's lookup");
    blocked_listen();

    watchdog_phase("lookup from a plain thread");
    atomic_store(&block_next, 1);
    pthread_t t;
    CHECK_CALL(pthread_create(&t, NULL, thread_dial, &ln), 0);
    while (atomic_load(&block_next))
        gort_yield(); /* the thread is in the lookup */
    CHECK_CALL(write(release_pipe[1], "x", 1), 1);
    CHECK_CALL(pthread_join(t, NULL), 0);
    int s = gort_accept(ln, NULL, NULL);
    CHECK(s >= 0);
    CHECK_CALL(gort_close(s), 0);

    watchdog_phase("literals and services");
    int before = atomic_load(&calls);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port_of(ln));
    int fd = gort_dial("tcp", addr, -1);
    CHECK(fd >= 0);
    CHECK_CALL(gort_close(fd), 0);
    CHECK_CALL(gort_close(gort_accept(ln, NULL, NULL)), 0);
    fd = gort_listen("tcp", "[::1]:0"); /* may fail without IPv6; never a lookup */
    if (fd >= 0)
        CHECK_CALL(gort_close(fd), 0);
    fd = gort_listen("tcp", ":0");
    CHECK(fd >= 0);
    CHECK_CALL(gort_close(fd), 0);
    CHECK_EQ(atomic_load(&calls), before);
    /* A service name is a lookup (/etc/services), bracketed too. */
    fd = gort_listen("tcp", "127.0.0.1:gort-no-such-service");
    CHECK_EQ(atomic_load(&calls), before + 1);
    if (fd >= 0)
        CHECK_CALL(gort_close(fd), 0);

    watchdog_phase("EAI codes");
    eai(EAI_NONAME, 0, ENOENT);
#ifdef EAI_NODATA
    eai(EAI_NODATA, 0, ENOENT);
#endif
#ifdef EAI_ADDRFAMILY
    eai(EAI_ADDRFAMILY, 0, ENOENT);
#endif
    eai(EAI_SERVICE, 0, ENOENT);
    eai(EAI_AGAIN, 0, EAGAIN);
    eai(EAI_FAIL, 0, EIO);
    eai(EAI_MEMORY, 0, ENOMEM);
    eai(EAI_SYSTEM, EMFILE, EMFILE);
    eai(EAI_SYSTEM, 0, EIO);
    eai(EAI_OVERFLOW, 0, EIO);
    CHECK_CALL(gort_close(ln), 0);
}

int main(void)
{
    watchdog_start("test_net_resolve", 60);
    CHECK_CALL(pipe(release_pipe), 0);
    gort__net_getaddrinfo = fake_getaddrinfo;
    setenv("GORTMAXPROCS", "1", 1);
    run_main(main_g, NULL);
    return 0;
}
