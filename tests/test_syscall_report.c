/*
 * test_syscall_report.c — the diagnostics know about blocking calls.
 *
 * 1. GORTMAXPROCS=1, GORTDEBUG=stuckreport=100ms: a hog beside a
 *    goroutine in sleep(1).  The sleeper is merely blocked in the kernel
 *    (its P went to the hog), so stderr must not say "cannot be
 *    preempted".  A control child with the same settings, where the
 *    goroutine instead spins 600 ms of CPU inside gort_preempt_disable beside a
 *    runnable goroutine, must get the report: the negative check is not
 *    vacuous.
 * 2. gort_dump_goroutines while a goroutine is blocked in read() shows it
 *    as "goroutine N [syscall".
 * 3. The SIGQUIT report, likewise (exit status 2), whether the signal
 *    goes to the process or to the blocked goroutine's own thread.
 */
#define _GNU_SOURCE
#include "check.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>

static _Atomic int stop_hog;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static int sleep_rc = -1;

static void hog(void *arg)
{
    (void)arg;
    volatile uint64_t x = 0;
    while (!atomic_load_explicit(&stop_hog, memory_order_relaxed))
        x = x + 1;
    gort_wg_done(&wg);
}

static void sleeper(void *arg)
{
    (void)arg;
    sleep_rc = (int)sleep(1);
    atomic_store(&stop_hog, 1);
    gort_wg_done(&wg);
}

static void main_hog_and_sleeper(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 2);
    CHECK_CALL(gort_go(hog, NULL), 0);
    CHECK_CALL(gort_go(sleeper, NULL), 0);
    gort_wg_wait(&wg);
    CHECK(sleep_rc == 0, "sleep(1) returned %d", sleep_rc);
}

static void noop(void *arg) { (void)arg; }


static void main_control(void *arg)
{
    (void)arg;
    CHECK_CALL(gort_go(noop, NULL), 0);
    /* 600 ms of this thread's CPU, not of wall time: the report counts
     * the CPU the stuck thread burns (a thread that gets little of a
     * loaded machine is not stuck), and at load 8 on 2 cores 600 ms of
     * wall time gave it less than the 100 ms the report waits for. */
    cpu_timer t;
    cpu_timer_start(&t, 600 * 1000 * 1000);
    gort_preempt_disable();
    while (!cpu_timer_done(&t))
        ;
    gort_preempt_enable();
    cpu_timer_stop(&t);
}

static void child_report(void *arg)
{
    setenv("GORTMAXPROCS", "1", 1);
    setenv("GORTDEBUG", "stuckreport=100ms", 1);
    watchdog_start("test_syscall_report (child)", 20);
    exit(gort_main((void (*)(void *))arg, NULL) == 0 ? 0 : 3);
}

static int p[2];
static _Atomic uint64_t reader_id;
static _Atomic pid_t reader_tid;

static void reader(void *arg)
{
    (void)arg;
    atomic_store(&reader_id, gort_self());
    atomic_store(&reader_tid, gettid()); /* its thread until read returns */
    char c = 0;
    CHECK_CALL(read(p[0], &c, 1), 1);
    gort_wg_done(&wg);
}

static void main_dump(void *arg)
{
    (void)arg;
    CHECK(pipe(p) == 0);
    gort_wg_add(&wg, 1);
    CHECK_CALL(gort_go(reader, NULL), 0);
    wait_in_syscall(1);
    int fd = memfd_create("dump", 0);
    CHECK(fd >= 0);
    CHECK_CALL(gort_dump_goroutines(fd), 0);
    static char buf[1 << 16];
    ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    CHECK(r > 0);
    buf[r] = 0;
    char want[64];
    snprintf(want, sizeof want, "goroutine %llu [syscall",
             (unsigned long long)atomic_load(&reader_id));
    CHECK(strstr(buf, want) != NULL, "no '%s' in the dump:\n%s", want, buf);
    CHECK_CALL(write(p[1], "x", 1), 1);
    gort_wg_wait(&wg);
}

static void main_sigquit(void *arg)
{
    (void)arg;
    CHECK(pipe(p) == 0);
    gort_wg_add(&wg, 1);
    CHECK_CALL(gort_go(reader, NULL), 0);
    wait_in_syscall(1);
    if (arg) /* to the reader's own thread, asleep in read() */
        tgkill(getpid(), atomic_load(&reader_tid), SIGQUIT);
    else /* to the process: any thread may take it */
        kill(getpid(), SIGQUIT);
    gort_wg_wait(&wg); /* the report ends the program first */
}

static void child_sigquit(void *arg)
{
    setenv("GORTMAXPROCS", "2", 1);
    watchdog_start("test_syscall_report (SIGQUIT child)", 20);
    exit(gort_main(main_sigquit, arg) == 0 ? 0 : 3);
}

int main(void)
{
    static char buf[16384];
    int st = capture_child(child_report, (void *)main_control, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "control child: status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "cannot be preempted") != NULL,
          "control: a 600 ms (CPU) preempt-disabled spin was not reported:\n%s", buf);

    st = capture_child(child_report, (void *)main_hog_and_sleeper, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "cannot be preempted") == NULL,
          "a goroutine in sleep(1) was reported as stuck:\n%s", buf);

    expect_child(child_sigquit, NULL, 2, "[syscall", NULL);
    /* The thread that takes the signal is the blocked goroutine's own:
     * it is still inside its call, not [running]. */
    expect_child(child_sigquit, (void *)1, 2, "[syscall", NULL);

    setenv("GORTMAXPROCS", "2", 1);
    watchdog_start("test_syscall_report", 20);
    watchdog_phase("gort_dump_goroutines beside a goroutine blocked in read()");
    run_main(main_dump, NULL);
    return 0;
}
