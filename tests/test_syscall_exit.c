/*
 * test_syscall_exit.c — gort_main's exit and goroutines inside system
 * calls: a goroutine blocked in a wrapped read() when goroutine 1 returns
 * is frozen inside the call, so the call never completes: a byte written
 * to the pipe after gort_main returned is still there for the caller, and
 * the goroutine's code after read() never runs.  Both with the reader's P
 * handed off (1 P, another goroutine ran) and not.
 */
#include "check.h"

#include <fcntl.h>
#include <stdatomic.h>

static int pfd[2];
static _Atomic int after_read;

static void reader(void *a)
{
    (void)a;
    char c;
    ssize_t n = read(pfd[0], &c, 1);
    (void)n;
    atomic_store(&after_read, 1);
}

static void spin_a_bit(void *a)
{
    (void)a;
}

static void main_fn(void *a)
{
    (void)a;
    CHECK_EQ(gort_go(reader, NULL), 0);
    /* Until the reader is inside its call. */
    gort_stats s;
    do {
        gort_yield();
        gort_read_stats(&s);
    } while (s.in_syscall == 0);
    CHECK_EQ(gort_go(spin_a_bit, NULL), 0);
    gort_yield();
}

static void child(void *arg)
{
    setenv("GORTMAXPROCS", (const char *)arg, 1);
    alarm(20);
    CHECK(pipe(pfd) == 0);
    CHECK_EQ(gort_main(main_fn, NULL), 0);
    CHECK(write(pfd[1], "x", 1) == 1);
    usleep(100000); /* time for a wrongly live reader to take the byte */
    CHECK(fcntl(pfd[0], F_SETFL, O_NONBLOCK) == 0);
    char c;
    ssize_t n = read(pfd[0], &c, 1);
    CHECK(n == 1, "the goroutine's read() completed after gort_main returned (read: %zd, errno %d)", n,
          errno);
    CHECK_EQ(atomic_load(&after_read), 0);
    _exit(0);
}

int main(void)
{
    char buf[4096];
    const char *procs[] = {"1", "2"};
    for (int i = 0; i < 2; i++) {
        for (int r = 0; r < 5; r++) {
            int st = capture_child(child, (void *)procs[i], buf, sizeof buf);
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "GORTMAXPROCS=%s status %#x: %s", procs[i],
                  st, buf);
        }
    }
    return 0;
}
