/*
 * test_netpoll_dump.c — goroutines parked on the netpoller in the
 * goroutine dump, as Go shows them: "[IO wait]".  Covered: a goroutine in
 * gort_read, one in gort_accept, one in gort_fd_wait with a deadline and
 * one in gort_write on a full socket; the in-process dump
 * (gort_dump_goroutines) and the SIGQUIT one (exit 2), each with the
 * parked goroutines' own frames.  GORTDEBUG=schedtrace's SCHED line
 * counts them (iowait=4) while they are parked.
 */
#define _GNU_SOURCE
#include "netcheck.h"
#include <sys/mman.h>

#define NOTAIL() __asm__ volatile("" ::: "memory")

static int sv[2], full[2], lfd;

__attribute__((noinline)) static void io_block_read(void *a)
{
    (void)a;
    char c;
    gort_read(sv[0], &c, 1);
    NOTAIL();
}
__attribute__((noinline)) static void io_block_accept(void *a)
{
    (void)a;
    gort_accept(lfd, NULL, NULL);
    NOTAIL();
}
__attribute__((noinline)) static void io_block_fd_wait(void *a)
{
    (void)a;
    gort_fd_wait(sv[1], GORT_READ, gort_nanotime() + 3600 * SEC);
    NOTAIL();
}
__attribute__((noinline)) static void io_block_write(void *a)
{
    (void)a;
    static char buf[1 << 16];
    gort_write(full[0], buf, sizeof buf);
    NOTAIL();
}

static int count(const char *hay, const char *needle);

/* The whole in-process dump in buf. */
static void dump_to(char *buf, size_t n)
{
    int fd = memfd_create("dump", 0);
    CHECK(fd >= 0);
    CHECK_EQ(gort_dump_goroutines(fd), 0);
    ssize_t r = pread(fd, buf, n - 1, 0);
    buf[r > 0 ? r : 0] = 0;
    close(fd);
}

static char big[1 << 18];

/* Start the four and wait until a dump shows them all parked: io_wait
 * counts a goroutine a moment before its park completes, so the dump is
 * the condition (polled, as test_dump.c does). */
static void setup(void)
{
    unix_pair(sv);
    unix_pair(full);
    fill_sndbuf(full[0]);
    lfd = tcp_listener(4, NULL);
    uint64_t base = io_wait_now();
    CHECK_EQ(gort_go(io_block_read, NULL), 0);
    CHECK_EQ(gort_go(io_block_accept, NULL), 0);
    CHECK_EQ(gort_go(io_block_fd_wait, NULL), 0);
    CHECK_EQ(gort_go(io_block_write, NULL), 0);
    wait_io_wait(base + 4);
    for (int i = 0;; i++) {
        dump_to(big, sizeof big);
        if (count(big, "[IO wait]:") == 4)
            break;
        CHECK(i < 5000, "the four never showed [IO wait] together:\n%s", big);
        gort_sleep(MS);
    }
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void check_dump(const char *buf)
{
    /* "[IO wait]:" (Go adds ", N minutes" after a minute: not here). */
    CHECK(count(buf, "[IO wait]:") == 4, "want 4 goroutines in [IO wait]:\n%s", buf);
    static const char *const fns[] = {"io_block_read", "io_block_accept", "io_block_fd_wait",
                                      "io_block_write"};
    for (int i = 0; i < 4; i++)
        CHECK(strstr(buf, fns[i]), "no %s frame in:\n%s", fns[i], buf);
}

static void main_inproc(void *a)
{
    (void)a;
    watchdog_start("test_netpoll_dump", 60);
    setup();
    dump_to(big, sizeof big);
    check_dump(big);
}

static void main_sigquit(void *a)
{
    (void)a;
    setup();
    kill(getpid(), SIGQUIT);
    for (;;) /* the handler exits 2 */
        gort_sleep(MS);
}

static void child_sigquit(void *a)
{
    (void)a;
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    setenv("GORTMAXPROCS", "2", 1);
    gort_main(main_sigquit, NULL);
    _exit(5);
}

/* schedtrace every 10 ms; lines printed while the 4 are parked say so. */
static void main_sched(void *a)
{
    (void)a;
    watchdog_start("test_netpoll_dump (schedtrace)", 60);
    setup();
    gort_sleep(100 * MS); /* room for a few SCHED lines */
    fflush(stderr);
}

static void child_sched(void *a)
{
    (void)a;
    setenv("GORTMAXPROCS", "2", 1);
    setenv("GORTDEBUG", "schedtrace=10", 1);
    int rc = gort_main(main_sched, NULL);
    _exit(rc);
}

int main(void)
{
    run_main_child(main_inproc, NULL, "2", NULL);
    static char buf[1 << 18];
    int st = capture_child(child_sigquit, NULL, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "SIGQUIT: quit"), "%s", buf);
    check_dump(buf);

    st = capture_child(child_sched, NULL, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "SCHED "), "no SCHED line:\n%s", buf);
    CHECK(strstr(buf, " iowait=4 "), "no SCHED line with iowait=4:\n%s", buf);
    return 0;
}
