/*
 * test_syscall_deadlock.c — deadlock detection with goroutines in blocking
 * calls: a goroutine inside a system call is not asleep (a plain thread or
 * the kernel may end the call), and one whose call has returned is an
 * ordinary goroutine again.
 *
 * No false deadlock (each in its own child, which must exit 0):
 *  a. goroutine 1 blocked in read() on a pipe that a plain thread writes
 *     after 300 ms, every other goroutine blocked on channels for good;
 *  b. goroutine 1 blocked on a channel, every other goroutine too except
 *     one in read() (written by a thread after 300 ms), which then sends
 *     to goroutine 1;
 *  c. as b with usleep(300 ms) instead of read() and GORTMAXPROCS=1.
 * Real deadlocks after a call returned (exit 2, Go's message):
 *  d. a goroutine returns from usleep(), then every goroutine blocks on
 *     channels;
 *  e. the same after gort_blocking, at GORTMAXPROCS=1.
 * Each child has a watchdog: a missed deadlock hangs, and the report
 * names it.
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

static int p[2];
static gort_chan *never, *done;

static void block_forever(void *arg)
{
    (void)arg;
    gort_chan_recv(never, NULL);
}

static void *late_writer(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 300 * 1000 * 1000};
    while (nanosleep(&ts, &ts) != 0)
        CHECK(errno == EINTR);
    CHECK_CALL(write(p[1], "x", 1), 1);
    return NULL;
}

static void start_common(void)
{
    CHECK(pipe(p) == 0);
    never = gort_chan_make(0, 0);
    done = gort_chan_make(0, 0);
    for (int i = 0; i < 4; i++)
        CHECK_CALL(gort_go(block_forever, NULL), 0);
}

/* a */
static void main_reads(void *arg)
{
    (void)arg;
    start_common();
    pthread_t th;
    CHECK_CALL(pthread_create(&th, NULL, late_writer, NULL), 0);
    char c;
    CHECK_CALL(read(p[0], &c, 1), 1);
    CHECK_CALL(pthread_join(th, NULL), 0);
}

/* b */
static void read_then_send(void *arg)
{
    (void)arg;
    char c;
    CHECK_CALL(read(p[0], &c, 1), 1);
    gort_chan_send(done, NULL);
}

static void main_waits_reader(void *arg)
{
    (void)arg;
    start_common();
    pthread_t th;
    CHECK_CALL(gort_go(read_then_send, NULL), 0);
    CHECK_CALL(pthread_create(&th, NULL, late_writer, NULL), 0);
    CHECK(gort_chan_recv(done, NULL));
    CHECK_CALL(pthread_join(th, NULL), 0);
}

/* c */
static void sleep_then_send(void *arg)
{
    (void)arg;
    CHECK_CALL(usleep(300 * 1000), 0);
    gort_chan_send(done, NULL);
}

static void main_waits_sleeper(void *arg)
{
    (void)arg;
    start_common();
    CHECK_CALL(gort_go(sleep_then_send, NULL), 0);
    CHECK(gort_chan_recv(done, NULL));
}

/* d */
static void sleep_then_block(void *arg)
{
    (void)arg;
    CHECK_CALL(usleep(20 * 1000), 0);
    gort_chan_recv(never, NULL);
}

static void main_deadlocks_after_usleep(void *arg)
{
    (void)arg;
    start_common();
    CHECK_CALL(gort_go(sleep_then_block, NULL), 0);
    gort_chan_recv(done, NULL);
}

/* e */
static void *spin_20ms(void *arg)
{
    int64_t end = gort_nanotime() + 20 * 1000 * 1000;
    while (gort_nanotime() < end)
        ;
    return arg;
}

static void blocking_then_block(void *arg)
{
    (void)arg;
    gort_blocking(spin_20ms, NULL);
    gort_chan_recv(never, NULL);
}

static void main_deadlocks_after_blocking(void *arg)
{
    (void)arg;
    start_common();
    CHECK_CALL(gort_go(blocking_then_block, NULL), 0);
    gort_chan_recv(done, NULL);
}

struct child_cfg {
    const char *name;
    const char *procs;
    void (*fn)(void *);
};

static void child(void *arg)
{
    const struct child_cfg *cfg = arg;
    setenv("GORTMAXPROCS", cfg->procs, 1);
    watchdog_start(cfg->name, 20);
    int rc = gort_main(cfg->fn, NULL);
    exit(rc == 0 ? 0 : 3);
}

int main(void)
{
    static const struct child_cfg ok[] = {
        {"a: main in read()", "2", main_reads},
        {"a: main in read(), 1 P", "1", main_reads},
        {"b: main on a channel, one goroutine in read()", "2", main_waits_reader},
        {"b: main on a channel, one goroutine in read(), 1 P", "1", main_waits_reader},
        {"c: main on a channel, one goroutine in usleep(), 1 P", "1", main_waits_sleeper},
    };
    static const struct child_cfg dead[] = {
        {"d: deadlock after usleep()", "2", main_deadlocks_after_usleep},
        {"d: deadlock after usleep(), 1 P", "1", main_deadlocks_after_usleep},
        {"e: deadlock after gort_blocking, 1 P", "1", main_deadlocks_after_blocking},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        fprintf(stderr, "%s\n", ok[i].name);
        expect_child(child, (void *)&ok[i], 0, NULL, NULL);
    }
    for (size_t i = 0; i < sizeof dead / sizeof dead[0]; i++) {
        fprintf(stderr, "%s\n", dead[i].name);
        expect_child(child, (void *)&dead[i], 2,
                     "gort: fatal error: all goroutines are asleep - deadlock!", "goroutine 1 [");
    }
    return 0;
}
