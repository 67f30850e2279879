/*
 * test_syscall_stw.c — stop-the-world does not wait for goroutines inside
 * blocking calls, and they do not come back to goroutine code until the
 * world restarts (Go's semantics).
 *
 * 1. A goroutine blocks in read() on a pipe.  gort_stop_the_world must
 *    return (if it waited for the reader, the test hangs: the watchdog
 *    names the step).  With the world stopped a plain thread writes the
 *    pipe: the read returns in the kernel, but the goroutine must not
 *    run its own code (it sets a flag right after read returns) until
 *    gort_start_the_world.  The stopper checks the flag for 100 ms of
 *    its own spinning: that wait only gives a violation time to show; it
 *    makes nothing pass.  After the restart the flag becomes 1.
 * 2. The same with a goroutine inside gort_blocking(spin until a flag the
 *    stopper sets with the world stopped).
 * 3. A goroutine in sleep(2): the stop returns in well under a second
 *    (500 ms: a loose sanity bound; it used to take the whole 2 s).
 * Run at GORTMAXPROCS=2 so an idle P exists that a returning goroutine
 * could wrongly take.
 */
#include "check.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

static int p[2];
static sem_t go_write;
static _Atomic int written, after_read, released, after_blocking, sleeping;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static void *writer(void *arg)
{
    (void)arg;
    while (sem_wait(&go_write) != 0)
        CHECK(errno == EINTR);
    CHECK_CALL(write(p[1], "w", 1), 1);
    atomic_store(&written, 1);
    return NULL;
}

static void reader(void *arg)
{
    (void)arg;
    char c = 0;
    ssize_t n = read(p[0], &c, 1);
    atomic_store(&after_read, 1);
    CHECK_EQ(n, 1);
    gort_wg_done(&wg);
}

static void *spin(void *arg)
{
    while (!atomic_load(&released))
        ;
    return arg;
}

static void blocker(void *arg)
{
    (void)arg;
    gort_blocking(spin, NULL);
    atomic_store(&after_blocking, 1);
    gort_wg_done(&wg);
}

static void sleeper(void *arg)
{
    (void)arg;
    atomic_store(&sleeping, 1);
    sleep(2);
    atomic_store(&sleeping, 2);
}

/* Spin (no gort call, no system call: the world is stopped) for ns. */
static void spin_for(int64_t ns)
{
    int64_t end = gort_nanotime() + ns;
    while (gort_nanotime() < end)
        ;
}

static void gmain(void *arg)
{
    (void)arg;
    /* 1: read() */
    CHECK(pipe(p) == 0);
    pthread_t th;
    CHECK_CALL(pthread_create(&th, NULL, writer, NULL), 0);
    gort_wg_add(&wg, 1);
    CHECK_CALL(gort_go(reader, NULL), 0);
    wait_in_syscall(1);
    watchdog_phase("gort_stop_the_world beside a goroutine blocked in read()");
    gort_stop_the_world();
    watchdog_phase("the world stopped, the pipe written");
    CHECK_CALL(sem_post(&go_write), 0);
    while (!atomic_load(&written))
        ;
    spin_for(100 * 1000 * 1000);
    int early = atomic_load(&after_read);
    gort_start_the_world();
    CHECK(early == 0, "the reader ran goroutine code with the world stopped");
    watchdog_phase("the reader after gort_start_the_world");
    gort_wg_wait(&wg);
    CHECK_EQ(atomic_load(&after_read), 1);
    CHECK_CALL(pthread_join(th, NULL), 0);

    /* 2: gort_blocking */
    gort_wg_add(&wg, 1);
    CHECK_CALL(gort_go(blocker, NULL), 0);
    wait_in_syscall(1);
    watchdog_phase("gort_stop_the_world beside a goroutine in gort_blocking");
    gort_stop_the_world();
    atomic_store(&released, 1);
    spin_for(100 * 1000 * 1000);
    early = atomic_load(&after_blocking);
    gort_start_the_world();
    CHECK(early == 0, "the gort_blocking caller ran goroutine code with the world stopped");
    watchdog_phase("the gort_blocking caller after gort_start_the_world");
    gort_wg_wait(&wg);

    /* 3: sleep(2) */
    CHECK_CALL(gort_go(sleeper, NULL), 0);
    wait_in_syscall(1);
    CHECK_EQ(atomic_load(&sleeping), 1);
    watchdog_phase("gort_stop_the_world beside a goroutine in sleep(2)");
    int64_t t0 = gort_nanotime();
    gort_stop_the_world();
    int64_t dt = gort_nanotime() - t0;
    gort_start_the_world();
    fprintf(stderr, "stop-the-world beside sleep(2): %.3f ms\n", dt / 1e6);
    CHECK(dt < 500 * 1000 * 1000, "stop-the-world took %.3f s", dt / 1e9);
    CHECK_EQ(atomic_load(&sleeping), 1);
    /* Returning now leaves the sleeper frozen in its call (gort_main's
     * exit semantics): no need to wait 2 s. */
}

int main(void)
{
    setenv("GORTMAXPROCS", "2", 1);
    CHECK(sem_init(&go_write, 0, 0) == 0);
    watchdog_start("test_syscall_stw", 30);
    run_main(gmain, NULL);
    return 0;
}
