/* gort_lock_thread / gort_unlock_thread (Go's runtime.LockOSThread) and
 * gort_main_thread.  A locked goroutine keeps its thread id across yields,
 * sleeps, channel waits, system calls (the hand-off) and asynchronous
 * preemptions; no other goroutine runs on that thread meanwhile; locks
 * nest; a goroutine that returns locked takes its thread with it (the tid
 * disappears from /proc/self/task) while one that unlocked does not; an
 * unlock too many is a fatal error; deadlock detection still sees a
 * locked goroutine (and a thread just ended) as idle; gort_main_thread
 * runs goroutine 1 on the calling thread and only there.  Every part runs
 * in its own child at GORTMAXPROCS=2 with a 200 us time slice. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#include "check.h"

/* ---- shared: "the locked thread runs nothing else" -----------------
 * The locked goroutine makes `epoch` odd while it is locked to locked_tid;
 * others read epoch, their tid, epoch again: the same odd epoch both times
 * with their tid equal to locked_tid means they ran on the locked thread
 * inside the locked window. */
static _Atomic uint64_t epoch;
static _Atomic pid_t locked_tid;
static _Atomic long intruders, other_runs;
static _Atomic int others_stop;

static void spin(long n)
{
    for (volatile long i = 0; i < n; i++)
        ;
}

static void other(void *arg)
{
    gort_chan *done = arg;
    while (!atomic_load(&others_stop)) {
        uint64_t e1 = atomic_load(&epoch);
        pid_t t = gettid();
        uint64_t e2 = atomic_load(&epoch);
        if (e1 == e2 && (e1 & 1) && t == atomic_load(&locked_tid))
            atomic_fetch_add(&intruders, 1);
        atomic_fetch_add(&other_runs, 1);
        spin(20000);
        if (atomic_load(&other_runs) % 4 == 0)
            gort_yield();
    }
    gort_chan_send(done, NULL);
}

static void pinger(void *arg)
{
    gort_chan *c = arg;
    int v;
    while (gort_chan_recv(c, &v) && v >= 0)
        gort_chan_send(c, &v);
}

static void pipe_writer(void *arg)
{
    int fd = *(int *)arg;
    gort_sleep(2000000);
    CHECK(write(fd, "x", 1) == 1);
}

#define SAME_THREAD(what)                                                              \
    do {                                                                               \
        pid_t t_ = gettid();                                                           \
        CHECK(t_ == tid, "%s: locked goroutine moved from thread %d to %d", what, tid, \
              t_);                                                                     \
    } while (0)

/* Spin call-free until stopped `want` times (a gap of over 150 us in its
 * clock: preempted), at most 5 s, checking after each stop that it is on
 * its thread tid still; returns the stops seen. */
static int spin_until_preempted(int want, pid_t tid)
{
    int gaps = 0;
    gort_stats st0, st;
    gort_read_stats(&st0);
    st = st0;
    int64_t last = gort_nanotime(), end = last + 5000000000LL;
    /* A gap may also be the kernel's doing (a loaded machine deschedules
     * the thread): go on until gort has preempted some goroutine
     * asynchronously too (beside six busy loops, 20 gaps once came with
     * none). */
    while ((gaps < want || st.async_preempts == st0.async_preempts) && last < end) {
        if (gaps >= want)
            gort_read_stats(&st);
        spin(2000);
        int64_t now = gort_nanotime();
        if (now - last > 150000) {
            gaps++;
            SAME_THREAD("preemption");
        }
        last = now;
    }
    return gaps;
}

/* ---- part 1: semantics while locked ---------------------------------- */
static void semantics(void *arg)
{
    (void)arg;
    enum { NOTHERS = 3 };
    gort_chan *done = gort_chan_make(0, 0);
    for (int i = 0; i < NOTHERS; i++)
        CHECK(gort_go(other, done) == 0);
    gort_yield();

    gort_lock_thread();
    pid_t tid = gettid();
    atomic_store(&locked_tid, tid);
    atomic_fetch_add(&epoch, 1); /* odd: locked */

    for (int i = 0; i < 300; i++) {
        gort_yield();
        SAME_THREAD("yield");
    }
    for (int i = 0; i < 30; i++) {
        gort_sleep(100000);
        SAME_THREAD("gort_sleep");
    }
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    CHECK(gort_go(pinger, c) == 0);
    for (int i = 0; i < 300; i++) {
        int v = i;
        gort_chan_send(c, &v);
        CHECK(gort_chan_recv(c, &v) && v == i);
        SAME_THREAD("channel");
    }
    int stopv = -1;
    gort_chan_send(c, &stopv);
    /* System calls: a sleep that hands the P off, and a read that blocks
     * until another goroutine writes. */
    for (int i = 0; i < 20; i++) {
        usleep(200);
        SAME_THREAD("usleep");
    }
    int fds[2];
    CHECK(pipe(fds) == 0);
    for (int i = 0; i < 5; i++) {
        CHECK(gort_go(pipe_writer, &fds[1]) == 0);
        char b;
        CHECK(read(fds[0], &b, 1) == 1);
        SAME_THREAD("blocking read");
    }
    close(fds[0]);
    close(fds[1]);
    /* Preemption: call-free spinning beside the others, until it was
     * stopped (a gap in its clock) at least 20 times. */
    gort_stats st0, st1;
    gort_read_stats(&st0);
    int gaps = spin_until_preempted(20, tid);
    gort_read_stats(&st1);
    CHECK(gaps >= 20, "only %d gaps", gaps);
    CHECK(st1.async_preempts > st0.async_preempts);

    /* Nesting: locked twice, unlocked once, still locked. */
    gort_lock_thread();
    gort_unlock_thread();
    for (int i = 0; i < 100; i++) {
        gort_yield();
        gort_sleep(10000);
        SAME_THREAD("nested");
    }
    atomic_fetch_add(&epoch, 1); /* even: about to unlock */
    gort_unlock_thread();

    atomic_store(&others_stop, 1);
    for (int i = 0; i < NOTHERS; i++)
        gort_chan_recv(done, NULL);
    fprintf(stderr, "intruders=%ld other_runs=%ld async_preempts=%llu\n",
            (long)atomic_load(&intruders), (long)atomic_load(&other_runs),
            (unsigned long long)(st1.async_preempts - st0.async_preempts));
    CHECK_EQ(atomic_load(&intruders), 0);
    CHECK(atomic_load(&other_runs) > 100);
}

/* ---- part 2: exit while locked takes the thread ----------------------- */
struct exiter {
    gort_chan *done;
    bool unlock_first;
    pid_t tid;
};

static void exiter(void *arg)
{
    struct exiter *e = arg;
    gort_lock_thread();
    gort_lock_thread();
    gort_yield();
    e->tid = gettid();
    if (e->unlock_first) {
        gort_unlock_thread();
        gort_unlock_thread();
    }
    gort_chan_send(e->done, NULL);
}

static bool task_exists(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void worker_chan(void *arg)
{
    gort_chan *c = arg;
    for (int i = 0; i < 100; i++)
        gort_yield();
    gort_chan_send(c, NULL);
}

static void exits(void *arg)
{
    (void)arg;
    gort_chan *done = gort_chan_make(0, 0);
    for (int round = 0; round < 10; round++) {
        struct exiter locked = {done, false, 0}, unlocked = {done, true, 0};
        CHECK(gort_go(exiter, &locked) == 0);
        gort_chan_recv(done, NULL);
        /* The locked one's thread ends once its goroutine is gone. */
        int64_t end = gort_nanotime() + 10000000000LL;
        while (task_exists(locked.tid) && gort_nanotime() < end)
            gort_sleep(1000000);
        CHECK(!task_exists(locked.tid), "thread %d of a goroutine that exited locked still exists",
              (int)locked.tid);
        /* One that unlocked first leaves its thread to the pool (no locked
         * goroutine is alive now to take it away). */
        CHECK(gort_go(exiter, &unlocked) == 0);
        gort_chan_recv(done, NULL);
        gort_sleep(1000000);
        CHECK(task_exists(unlocked.tid), "thread %d of an unlocked goroutine ended",
              (int)unlocked.tid);
        /* And the P the dying thread gave up runs goroutines. */
        gort_chan *c = gort_chan_make(0, 0);
        for (int i = 0; i < 4; i++)
            CHECK(gort_go(worker_chan, c) == 0);
        for (int i = 0; i < 4; i++)
            gort_chan_recv(c, NULL);
    }
}

/* ---- part 3: misuse ---------------------------------------------------- */
static void unlock_too_many(void *arg)
{
    (void)arg;
    gort_lock_thread();
    gort_unlock_thread();
    gort_unlock_thread();
}

/* ---- part 4: deadlock detection counts a sleeping locked thread ------- */
static void locked_sleeper(void *arg)
{
    gort_lock_thread();
    gort_chan_recv(arg, NULL); /* never sent */
}

static void deadlock_locked(void *arg)
{
    gort_chan *never = gort_chan_make(0, 0);
    CHECK(gort_go(locked_sleeper, never) == 0);
    if (arg) {
        /* A thread that just ended with its locked goroutine. */
        gort_chan *done = gort_chan_make(0, 0);
        struct exiter e = {done, false, 0};
        CHECK(gort_go(exiter, &e) == 0);
        gort_chan_recv(done, NULL);
    }
    gort_lock_thread();
    gort_chan_recv(never, NULL);
}

/* ---- part 5: gort_main_thread ----------------------------------------- */
static pid_t mainpid;
static _Atomic long on_main_thread;

static void main_other(void *arg)
{
    gort_chan *done = arg;
    /* Until goroutine 1 is done: it needs competition to be preempted. */
    for (long i = 0; !atomic_load(&others_stop); i++) {
        if (gettid() == mainpid)
            atomic_fetch_add(&on_main_thread, 1);
        spin(5000);
        if (i % 8 == 0)
            gort_yield();
    }
    gort_chan_send(done, NULL);
}

static void main_g1(void *arg)
{
    (void)arg;
    pid_t tid = mainpid;
    SAME_THREAD("start");
    CHECK(gort_self() == 1);
    gort_chan *done = gort_chan_make(0, 0);
    for (int i = 0; i < 3; i++)
        CHECK(gort_go(main_other, done) == 0);
    for (int i = 0; i < 200; i++) {
        gort_yield();
        SAME_THREAD("yield");
    }
    for (int i = 0; i < 20; i++) {
        gort_sleep(100000);
        usleep(100);
        SAME_THREAD("sleep");
    }
    /* gort_unlock_thread cannot undo gort_main_thread's lock. */
    gort_lock_thread();
    gort_unlock_thread();
    int gaps = spin_until_preempted(10, tid);
    CHECK(gaps >= 10);
    atomic_store(&others_stop, 1);
    for (int i = 0; i < 3; i++)
        gort_chan_recv(done, NULL);
    CHECK_EQ(atomic_load(&on_main_thread), 0);
}

static void main_thread_child(void *arg)
{
    (void)arg;
    mainpid = getpid(); /* the forked child's only thread: its main thread */
    CHECK(gettid() == mainpid);
    int rc = gort_main_thread(main_g1, NULL);
    CHECK(rc == 0, "gort_main_thread returned %d", rc);
    /* A plain thread again. */
    CHECK(gort_self() == 0);
    CHECK(gettid() == mainpid);
    CHECK(gort_main_thread(main_g1, NULL) == EBUSY);
}

/* ---- part 6: stop-the-world, GORTMAXPROCS changes and the exit -------- */
static _Atomic int stw_stop;
static _Atomic long stw_rounds;

static void stw_locked(void *arg)
{
    gort_chan *done = arg;
    gort_lock_thread();
    pid_t tid = gettid();
    for (long i = 0; !atomic_load(&stw_stop); i++) {
        spin(3000);
        if (i % 16 == 0)
            gort_yield();
        if (i % 64 == 0)
            gort_sleep(20000);
        SAME_THREAD("stop-the-world");
        atomic_fetch_add(&stw_rounds, 1);
    }
    gort_unlock_thread();
    gort_chan_send(done, NULL);
}

static void forever_locked(void *arg)
{
    gort_lock_thread();
    if (arg)
        gort_chan_recv(arg, NULL); /* parked for good */
    for (;;)
        spin(1000); /* running, preemptible */
}

static void stw_main(void *arg)
{
    (void)arg;
    gort_chan *done = gort_chan_make(0, 0);
    for (int i = 0; i < 2; i++)
        CHECK(gort_go(stw_locked, done) == 0);
    for (int i = 0; i < 100; i++) {
        gort_stop_the_world();
        gort_start_the_world();
        if (i % 10 == 0)
            gort_maxprocs(i % 20 == 0 ? 1 : 3);
        gort_sleep(100000);
    }
    gort_maxprocs(2);
    atomic_store(&stw_stop, 1);
    gort_chan_recv(done, NULL);
    gort_chan_recv(done, NULL);
    CHECK(atomic_load(&stw_rounds) > 100);
    /* Goroutine 1 returns with locked goroutines running and parked:
     * gort_main returns all the same. */
    CHECK(gort_go(forever_locked, NULL) == 0);
    CHECK(gort_go(forever_locked, gort_chan_make(0, 0)) == 0);
    gort_sleep(5000000);
}

/* ---- driver ------------------------------------------------------------ */
static void in_child(void *arg)
{
    void (*fn)(void *) = (void (*)(void *))arg;
    setenv("GORTMAXPROCS", "2", 1);
    setenv("GORTDEBUG", "quantum=200us", 1);
    watchdog_start("test_lockosthread", 60);
    run_main(fn, NULL);
}

static void deadlock_child(void *arg)
{
    setenv("GORTMAXPROCS", "2", 1);
    watchdog_start("deadlock", 30);
    run_main(deadlock_locked, arg);
}

static void main_thread_env(void *arg)
{
    setenv("GORTMAXPROCS", "2", 1);
    setenv("GORTDEBUG", "quantum=200us", 1);
    watchdog_start("gort_main_thread", 60);
    main_thread_child(arg);
}

int main(void)
{
    expect_child(in_child, (void *)semantics, 0, NULL, NULL);
    expect_child(in_child, (void *)exits, 0, NULL, NULL);
    expect_child(in_child, (void *)unlock_too_many, 2, "gort: fatal error: gort_unlock_thread",
                 "unlock_too_many");
    expect_child(deadlock_child, NULL, 2, "all goroutines are asleep - deadlock!", NULL);
    expect_child(deadlock_child, (void *)1, 2, "all goroutines are asleep - deadlock!", NULL);
    expect_child(main_thread_env, NULL, 0, NULL, NULL);
    expect_child(in_child, (void *)stw_main, 0, NULL, NULL);
    return 0;
}
