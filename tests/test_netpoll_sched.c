/*
 * test_netpoll_sched.c — the netpoller and the scheduler around it.
 *
 *  - Busy Ps: at GORTMAXPROCS=1 and 2, as many goroutines as Ps spin
 *    without any call (preemptible only by signal) while a goroutine is
 *    parked in gort_read; a plain thread writes to its peer.  Nobody is
 *    idle to poll, and the spinners, preempted, go straight back on the run
 *    queue: the reader must still be woken (sysmon polls when nobody has
 *    for 10 ms; findrunnable polls between goroutines).  The spinners stop
 *    when the reader has its byte, or after 10 s (then the test fails with
 *    a message instead of hanging).  Likewise a deadline: a reader with a
 *    50 ms read deadline among spinners times out, not early, within the
 *    bound.
 *  - Resizing: 100 readers parked, then given deadlines 200 ms away, plus
 *    100 without, while gort_maxprocs goes 4 -> 1 -> 3 (the per-P timer heaps
 *    holding the deadlines are merged and split); the 100 with deadlines
 *    time out, not early; the others are then woken by data, each its own.
 */
#include "netcheck.h"

static atomic_int stop_spin;

static void spinner(void *a)
{
    (void)a;
    int64_t until = gort_nanotime() + 10 * SEC;
    while (!atomic_load_explicit(&stop_spin, memory_order_relaxed)) {
        for (volatile int i = 0; i < 1000; i++)
            ;
        if (gort_nanotime() > until) /* a clock read, not a scheduling point */
            break;
    }
}

typedef struct {
    int fd;
    int64_t delay;
} tw_t;

static void *thread_writer(void *arg)
{
    tw_t *t = arg;
    struct timespec ts = {0, (long)t->delay};
    nanosleep(&ts, NULL);
    ssize_t r = send(t->fd, "w", 1, MSG_NOSIGNAL);
    (void)r;
    return NULL;
}

static void test_busy(int procs)
{
    int sv[2];
    unix_pair(sv);
    /* The reader is this goroutine itself. */
    atomic_store(&stop_spin, 0);
    for (int i = 0; i < procs; i++)
        CHECK_EQ(gort_go(spinner, NULL), 0);
    gort_yield();
    tw_t t = {sv[1], 20 * MS};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, thread_writer, &t), 0);
    int64_t t0 = gort_nanotime();
    char c;
    ssize_t r = gort_read(sv[0], &c, 1);
    int64_t t1 = gort_nanotime();
    atomic_store(&stop_spin, 1);
    CHECK(r == 1, "gort_read among %d spinners: %zd (%s)", procs, r, strerror(errno));
    CHECK(t1 - t0 < 5 * SEC, "gort_read among %d spinners took %lld ms", procs,
          (long long)((t1 - t0) / MS));
    CHECK_EQ(pthread_join(th, NULL), 0);
    fprintf(stderr, "GORTMAXPROCS=%d: reader among spinners woken %.1f ms after the call "
            "(the write came at 20 ms)\n", procs, (double)(t1 - t0) / 1e6);

    /* A deadline among spinners. */
    atomic_store(&stop_spin, 0);
    for (int i = 0; i < procs; i++)
        CHECK_EQ(gort_go(spinner, NULL), 0);
    gort_yield();
    int64_t d = gort_nanotime() + 50 * MS;
    CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, d), 0);
    r = gort_read(sv[0], &c, 1);
    int64_t t2 = gort_nanotime();
    atomic_store(&stop_spin, 1);
    CHECK(r == -1 && errno == ETIMEDOUT, "deadline among spinners: %zd (%s)", r, strerror(errno));
    CHECK(t2 >= d && t2 - d < 5 * SEC, "deadline among spinners: %lld ms off",
          (long long)((t2 - d) / MS));
    fprintf(stderr, "GORTMAXPROCS=%d: deadline among spinners fired %.1f ms late\n", procs,
            (double)(t2 - d) / 1e6);
    while (gort_num_goroutine() > 1)
        gort_sleep(MS);
    close(sv[0]);
    close(sv[1]);
}

static void main_busy1(void *a)
{
    (void)a;
    watchdog_start("test_netpoll_sched (busy)", 60);
    test_busy(1);
}
static void main_busy2(void *a)
{
    (void)a;
    watchdog_start("test_netpoll_sched (busy)", 60);
    test_busy(2);
}

#define NR 100

static void main_resize(void *a)
{
    (void)a;
    watchdog_start("test_netpoll_sched (resize)", 60);
    static int fds[2 * NR][2];
    static op_t ops[2 * NR];
    static int32_t vals[2 * NR];
    for (int i = 0; i < 2 * NR; i++) {
        unix_pair(fds[i]);
        op_init(&ops[i], fds[i][0]);
        ops[i].buf = (char *)&vals[i];
        ops[i].n = sizeof vals[i];
        CHECK_EQ(gort_go(g_read, &ops[i]), 0);
    }
    /* All parked first, then the deadlines (they reach parked calls):
     * set before the goroutines were made, a deadline 200 ms away could
     * pass while 200 goroutines were still starting on a loaded machine,
     * and the wait below then never saw all 200 parked at once (an ASan
     * run beside other work: io_wait stopped at 100). */
    wait_io_wait(2 * NR);
    int64_t d = gort_nanotime() + 200 * MS;
    for (int i = 0; i < NR; i++) {
        ops[i].deadline = d;
        CHECK_EQ(gort_set_deadline(fds[i][0], GORT_READ, d), 0);
    }
    CHECK_EQ(gort_maxprocs(1), 4);
    CHECK_EQ(gort_maxprocs(3), 1);
    for (int i = 0; i < NR; i++) {
        op_await(&ops[i], "reader with a deadline across gort_maxprocs changes");
        CHECK(ops[i].ret == -1 && ops[i].err == ETIMEDOUT, "reader %d: %ld errno %d", i,
              ops[i].ret, ops[i].err);
        CHECK(ops[i].t_end >= d, "reader %d timed out %lld ns early", i, (long long)(d - ops[i].t_end));
    }
    CHECK_EQ(gort_maxprocs(2), 3);
    for (int i = NR; i < 2 * NR; i++)
        op_still_parked(&ops[i], "reader without a deadline");
    for (int i = NR; i < 2 * NR; i++) {
        int32_t v = i;
        CHECK_CALL(gort_write(fds[i][1], &v, sizeof v), (long)sizeof v);
    }
    for (int i = NR; i < 2 * NR; i++) {
        op_await(&ops[i], "reader woken by data after gort_maxprocs changes");
        CHECK(ops[i].ret == 4 && vals[i] == i, "reader %d: ret %ld value %d", i, ops[i].ret, vals[i]);
    }
    for (int i = 0; i < 2 * NR; i++) {
        op_free(&ops[i]);
        close(fds[i][0]);
        close(fds[i][1]);
    }
    CHECK_EQ(io_wait_now(), 0);
}

int main(void)
{
    run_main_child(main_busy1, NULL, "1", NULL);
    run_main_child(main_busy2, NULL, "2", NULL);
    run_main_child(main_resize, NULL, "4", NULL);
    return 0;
}
