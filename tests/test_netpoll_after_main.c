/*
 * test_netpoll_after_main.c — the fd calls on a thread that is not a
 * goroutine once gort_main has returned (the program's main thread
 * cleaning up, say): nobody polls then, so the thread must wait for its fd
 * itself.  Before the fix it parked on the netpoller and never woke: a
 * gort_read whose data came later hung.
 *
 * Also: an fd a goroutine was parked on when gort_main returned can be
 * closed (the goroutine never runs again to let go of its call).
 *
 * Deterministic: the writer sends only once the reader's thread is asleep
 * in the kernel (/proc/self/task/TID/stat says S), i.e. parked.
 */
#define _GNU_SOURCE
#include "check.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/syscall.h>

static int sv[2];
static _Atomic pid_t reader_tid;
/* A pair whose end st[0] a goroutine is parked on when gort_main returns:
 * that goroutine never runs again, yet main()'s close of the fd must
 * return (it waited for ever for the parked call to let go). */
static int st[2];
/* And one whose goroutine was woken (readied, not yet run) when gort_main
 * returned: its call still holds its reference, and nothing will ever
 * run it to let go (the close hung on that too). */
static int sw[2];

static void stranded(void *arg)
{
    (void)arg;
    char c;
    gort_read(st[0], &c, 1); /* parked until the program ends */
}

static void woken(void *arg)
{
    (void)arg;
    char c;
    gort_read(sw[0], &c, 1); /* readied at the end, never run again */
}

static void body(void *arg)
{
    (void)arg;
    char c = 'a';
    CHECK_EQ(gort_write(sv[1], &c, 1), 1); /* registers both ends */
    CHECK_EQ(gort_read(sv[0], &c, 1), 1);
    CHECK_EQ(c, 'a');
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st) == 0);
    gort_stats s0, s1;
    gort_read_stats(&s0);
    CHECK_EQ(gort_go(stranded, NULL), 0);
    do {
        gort_yield();
        gort_read_stats(&s1);
    } while (s1.io_wait == s0.io_wait);
    /* One P, so that the goroutine readied below cannot run on another
     * before this one returns: it waits in this P's run queue, holding
     * its call's reference, when the program's goroutines stop. */
    gort_maxprocs(1);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sw) == 0);
    CHECK_EQ(gort_go(woken, NULL), 0);
    do {
        gort_yield();
        gort_read_stats(&s0);
    } while (s0.io_wait == s1.io_wait);
    /* A new deadline wakes the parked reader to re-read it. */
    CHECK_EQ(gort_set_deadline(sw[0], GORT_READ, gort_nanotime() + 3600 * (int64_t)1000000000), 0);
}

static bool sleeping(pid_t tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] == 'S';
}

static void *writer(void *arg)
{
    char c = *(char *)arg;
    pid_t tid;
    while ((tid = atomic_load(&reader_tid)) == 0)
        sched_yield();
    /* Asleep several times in a row: parked, not passing through a lock. */
    for (int seen = 0; seen < 20;) {
        seen = sleeping(tid) ? seen + 1 : 0;
        usleep(1000);
    }
    CHECK_EQ(write(sv[1], &c, 1), 1);
    return NULL;
}

int main(void)
{
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    run_main(body, NULL);

    for (int i = 0; i < 3; i++) {
        char want = (char)('x' + i), got = 0;
        atomic_store(&reader_tid, 0);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, writer, &want) == 0);
        atomic_store(&reader_tid, (pid_t)syscall(SYS_gettid));
        ssize_t n = gort_read(sv[0], &got, 1);
        CHECK(n == 1 && got == want, "read %zd errno %d", n, errno);
        pthread_join(t, NULL);
    }
    /* A deadline still bounds the wait. */
    int64_t t0 = gort_nanotime();
    CHECK_EQ(gort_fd_wait(sv[0], GORT_READ, t0 + 20000000), ETIMEDOUT);
    CHECK(gort_nanotime() - t0 >= 20000000);
    CHECK_EQ(gort_close(sv[0]), 0);
    CHECK_EQ(gort_close(sv[1]), 0);
    /* The stranded goroutine's fd: the close returns (alarm: a hang is a
     * failure with a name, not the suite's timeout). */
    signal(SIGALRM, SIG_DFL);
    alarm(30);
    CHECK_EQ(close(st[0]), 0);
    alarm(0);
    CHECK_EQ(close(st[1]), 0);
    alarm(30);
    CHECK_EQ(gort_close(sw[0]), 0);
    alarm(0);
    CHECK_EQ(close(sw[1]), 0);
    printf("ok\n");
    return 0;
}
