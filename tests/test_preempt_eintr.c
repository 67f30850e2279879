/*
 * test_preempt_eintr.c — the preemption signal is not sent to threads
 * blocked in the kernel, so plain blocking system calls made by goroutines
 * do not fail with EINTR.  nanosleep() is the sharp case: it is never
 * restarted after a signal handler, SA_RESTART or not.  One goroutine
 * blocks in read() on a pipe (a foreign thread writes after a while),
 * another sleeps in nanosleep() repeatedly, while hogs keep every P's run
 * queue busy so sysmon keeps asking the blocked goroutines' Ps to preempt.
 * The hogs themselves must be preempted (signals are sent), yet neither
 * system call may see EINTR.
 */
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define NPROCS 3
#define NHOGS 4

static int pipefd[2];
static _Atomic int stop_hogs;
static gort_waitgroup wg_io = GORT_WAITGROUP_INIT, wg_hogs = GORT_WAITGROUP_INIT;
static int read_result = -2, read_errno, sleep_eintr, sleep_calls;

static void reader(void *arg)
{
    (void)arg;
    char c = 0;
    ssize_t n = read(pipefd[0], &c, 1);
    read_errno = n < 0 ? errno : 0;
    read_result = n == 1 ? c : -1;
    gort_wg_done(&wg_io);
}

static void sleeper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 25; i++) {
        struct timespec ts = {0, 20 * 1000 * 1000}, rem;
        sleep_calls++;
        if (nanosleep(&ts, &rem) != 0 && errno == EINTR)
            sleep_eintr++;
    }
    gort_wg_done(&wg_io);
}

static void hog(void *arg)
{
    (void)arg;
    volatile uint64_t x = 0;
    while (!atomic_load_explicit(&stop_hogs, memory_order_relaxed))
        x = x + 1;
    gort_wg_done(&wg_hogs);
}

static void *writer(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 400 * 1000 * 1000};
    nanosleep(&ts, NULL);
    ssize_t w = write(pipefd[1], "x", 1);
    CHECK(w == 1);
    return NULL;
}

static void main_g(void *arg)
{
    (void)arg;
    gort_wg_add(&wg_hogs, NHOGS);
    for (int i = 0; i < NHOGS; i++)
        CHECK_EQ(gort_go(hog, NULL), 0);
    gort_wg_add(&wg_io, 2);
    CHECK_EQ(gort_go(reader, NULL), 0);
    CHECK_EQ(gort_go(sleeper, NULL), 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, writer, NULL) == 0);
    gort_wg_wait(&wg_io);
    atomic_store(&stop_hogs, 1);
    gort_wg_wait(&wg_hogs);
    pthread_join(th, NULL);
    gort_stats st;
    gort_read_stats(&st);
    fprintf(stderr, "async_preempts=%llu requests=%llu signals=%llu\n",
            (unsigned long long)st.async_preempts, (unsigned long long)st.preempt_requests,
            (unsigned long long)st.signals_sent);
    CHECK(st.async_preempts > 0, "the hogs were never preempted");
}

int main(void)
{
    CHECK(pipe(pipefd) == 0);
    setenv("GORTMAXPROCS", "3", 1);
    setenv("GORTDEBUG", "quantum=200us", 1);
    run_main(main_g, NULL);
    CHECK(read_result == 'x', "read() returned %d (errno %d)", read_result, read_errno);
    CHECK(sleep_eintr == 0, "%d of %d nanosleep() calls failed with EINTR", sleep_eintr,
          sleep_calls);
    printf("read() and %d nanosleep() calls: no EINTR\n", sleep_calls);
    return 0;
}
