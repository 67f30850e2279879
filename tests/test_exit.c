/* gort_main's return: no goroutine runs after it (as when Go's main
 * returns).  Each round is a child process whose goroutines keep counting
 * in every way a goroutine can be busy or blocked: a call-free loop, a
 * channel ping-pong, a gort_sleep loop, a plain usleep() loop (blocked in
 * nanosleep, which a signal would end with EINTR), a read() on a pipe that
 * nobody writes yet (restarted by SA_RESTART), a pthread_mutex_lock of a
 * mutex the caller holds (a futex wait in libc), and a loop spending its
 * time inside libc's memset (where a goroutine cannot be stopped).
 * Goroutine 1 returns once every one of them has counted; then the child's
 * main thread watches the counters, writes to the pipe and unlocks the
 * mutex (a reader or locker still alive would wake and count), frees the
 * memory the goroutines write to and poisons their pointer, watches again,
 * and exits through an atexit handler that checks once more.  Any
 * goroutine code running after gort_main returned changes a counter or
 * crashes on the freed memory.  Every other round, a goroutine inside
 * gort_preempt_disable must be waited for, not frozen.
 *
 * Also: a goroutine that exits with the world stopped, and goroutine 1
 * returning with the world stopped, are fatal errors (they used to hang). */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

enum { C_SPIN, C_PINGPONG, C_GSLEEP, C_USLEEP, C_READ, C_LIBC, C_MUTEX, NC };
static const char *const cname[NC] = {"spin",  "pingpong", "gort_sleep", "usleep",
                                      "read",  "libc",     "pthread_mutex"};

struct shared {
    _Atomic uint64_t n[NC];
    char buf[1 << 16];
};
static struct shared *_Atomic sh;
static uint64_t snap[NC];
static int pipefd[2];
static gort_chan *ping, *pong;

static void count(int i)
{
    /* Through the pointer that main frees: a goroutine running after
     * gort_main returned faults here, if it does not change a counter. */
    atomic_fetch_add_explicit(&atomic_load_explicit(&sh, memory_order_relaxed)->n[i], 1,
                              memory_order_relaxed);
}

static void spinner(void *arg)
{
    (void)arg;
    for (;;)
        count(C_SPIN);
}

static void pinger(void *arg)
{
    (void)arg;
    for (int v = 0;; v++) {
        gort_chan_send(ping, &v);
        gort_chan_recv(pong, &v);
        count(C_PINGPONG);
    }
}

static void ponger(void *arg)
{
    (void)arg;
    for (int v;;) {
        gort_chan_recv(ping, &v);
        gort_chan_send(pong, &v);
    }
}

static void gsleeper(void *arg)
{
    (void)arg;
    for (;;) {
        gort_sleep(100000);
        count(C_GSLEEP);
    }
}

static void usleeper(void *arg)
{
    (void)arg;
    for (;;) {
        usleep(1000);
        count(C_USLEEP);
    }
}

static void reader(void *arg)
{
    (void)arg;
    count(C_READ); /* it has started; the read() below blocks until main writes */
    char c;
    while (read(pipefd[0], &c, 1) == 1)
        count(C_READ);
    count(C_READ); /* EOF or an error (EINTR) counts too */
}

/* Blocked in a futex wait inside libc, on a mutex the caller holds and
 * releases after gort_main returns. */
static pthread_mutex_t callers_mu = PTHREAD_MUTEX_INITIALIZER;
static void locker(void *arg)
{
    (void)arg;
    count(C_MUTEX);
    pthread_mutex_lock(&callers_mu);
    count(C_MUTEX);
    pthread_mutex_unlock(&callers_mu);
}

static void libcer(void *arg)
{
    (void)arg;
    for (int i = 0;; i++) {
        memset(atomic_load_explicit(&sh, memory_order_relaxed)->buf, i, sizeof sh->buf);
        count(C_LIBC);
    }
}

/* Inside gort_preempt_disable a goroutine is not frozen (it may be in
 * the middle of something the program needs finished): gort_main waits
 * until it leaves the section, where it stops at the runtime call. */
static _Atomic bool entered, main_returning, left_section;
static void nopreempt(void *arg)
{
    (void)arg;
    gort_preempt_disable();
    atomic_store(&entered, true);
    while (!atomic_load(&main_returning))
        ;
    /* Work on past goroutine 1's return (no system call: one would be
     * a place to freeze it). */
    for (volatile long k = 0; k < 20000000; k++)
        ;
    atomic_store(&left_section, true);
    /* It stops here if the exit's stop has begun; if the machine ran
     * gort_main's thread only after this loop ended, it finishes normally
     * before that stop: either way it left the section unfrozen, which
     * is what is checked, and it never runs after gort_main returns. */
    gort_preempt_enable();
    count(C_SPIN);
}

static void gmain(void *arg)
{
    /* Goroutines blocked in the kernel keep their Ps, and the timers on
     * them (a known limit): leave Ps free to run goroutine 1's. */
    gort_maxprocs(8);
    ping = gort_chan_make(sizeof(int), 0);
    pong = gort_chan_make(sizeof(int), 0);
    void (*fns[])(void *) = {spinner, pinger, ponger, gsleeper, usleeper, reader, libcer, locker};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        CHECK_EQ(gort_go(fns[i], NULL), 0);
    /* Return only once each kind has run (a wait for a condition, not for
     * a race: polling with gort_sleep). */
    for (int i = 0; i < NC; i++)
        while (atomic_load(&sh->n[i]) == 0)
            gort_sleep(200000);
    if (arg) {
        CHECK_EQ(gort_go(nopreempt, NULL), 0);
        while (!atomic_load(&entered))
            gort_sleep(200000);
        atomic_store(&main_returning, true);
    }
}

static void take(uint64_t *out)
{
    for (int i = 0; i < NC; i++)
        out[i] = atomic_load(&sh->n[i]);
}

static void compare(const uint64_t *a, const uint64_t *b, const char *when)
{
    for (int i = 0; i < NC; i++)
        CHECK(a[i] == b[i], "%s: goroutine '%s' ran after gort_main returned: %llu -> %llu",
              when, cname[i], (unsigned long long)a[i], (unsigned long long)b[i]);
}

static void ms_sleep(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static uint64_t final_snap[NC];
static void at_exit(void)
{
    compare(final_snap, snap, "in an atexit handler");
}

static void child_round(void *arg)
{
    struct shared *s = calloc(1, sizeof *s);
    CHECK(s && pipe(pipefd) == 0);
    atomic_store(&sh, s);
    pthread_mutex_lock(&callers_mu);
    bool nop = arg != NULL;
    /* The "cannot be preempted" report after 2 ms: frozen goroutines keep
     * their preemption requests for ever and must not be reported. */
    setenv("GORTDEBUG", "stuckreport=2ms", 1);
    CHECK_EQ(gort_main(gmain, arg), 0);
    CHECK(!nop || atomic_load(&left_section),
          "gort_main returned before a goroutine left its gort_preempt_disable section");
    /* From here the runtime must print nothing: catch its stderr apart
     * (restored before any CHECK). */
    char errpath[] = "/tmp/gort-exit-XXXXXX";
    int errfd = mkstemp(errpath), olderr = dup(2);
    CHECK(errfd >= 0 && olderr >= 0);
    unlink(errpath);
    dup2(errfd, 2);
    uint64_t a[NC], b[NC], c[NC];
    take(a);
    ms_sleep(5);
    take(b);
    /* Wake the reader and the locker: if they still ran, they would count. */
    ssize_t w = write(pipefd[1], "xyz", 3);
    close(pipefd[1]);
    pthread_mutex_unlock(&callers_mu);
    ms_sleep(5);
    take(c);
    char out[512];
    ssize_t n = pread(errfd, out, sizeof out - 1, 0);
    out[n > 0 ? n : 0] = 0;
    dup2(olderr, 2);
    CHECK_EQ(w, 3);
    compare(a, b, "right after");
    compare(a, c, "after the pipe was written and the mutex unlocked");
    CHECK(n == 0, "the runtime printed after gort_main returned: %s", out);
    /* The caller's cleanup: free what the goroutines use, poison it. */
    memcpy(snap, a, sizeof snap);
    memcpy(final_snap, a, sizeof final_snap);
    atomic_store(&sh, (struct shared *)(uintptr_t)8); /* faults if dereferenced */
    memset(s, 0xa5, sizeof *s);
    free(s);
    atexit(at_exit);
    ms_sleep(5);
    exit(0);
}

/* Exiting with the world stopped would leave it stopped for ever. */
static void exit_stopped(void *arg)
{
    (void)arg;
    gort_stop_the_world();
}

static void main_waits(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_go(exit_stopped, NULL), 0);
    gort_chan *never = gort_chan_make(1, 0);
    char c;
    gort_chan_recv(never, &c);
}

static void child_main(void *fn)
{
    exit(gort_main((void (*)(void *))fn, NULL));
}

/* How long gort_main takes to return after goroutine 1 does, with other
 * goroutines busy: printed, not asserted (a loaded machine decides it). */
static _Atomic int64_t t_return;
static void quick(void *arg)
{
    (void)arg;
    gort_maxprocs(8); /* free Ps: see gmain */
    for (int i = 0; i < 3; i++)
        gort_go(spinner, NULL);
    gort_go(usleeper, NULL);
    while (atomic_load(&sh->n[C_SPIN]) == 0 || atomic_load(&sh->n[C_USLEEP]) == 0)
        gort_sleep(100000);
    atomic_store(&t_return, gort_nanotime());
}

static void child_latency(void *arg)
{
    (void)arg;
    atomic_store(&sh, calloc(1, sizeof(struct shared)));
    CHECK_EQ(gort_main(quick, NULL), 0);
    int64_t dt = gort_nanotime() - atomic_load(&t_return);
    fprintf(stderr, "latency %lld\n", (long long)dt);
    exit(0);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 20;
    expect_child(child_main, (void *)exit_stopped, 2,
                 "gort: fatal error: goroutine 1 exited with the world stopped", "goroutine 1");
    expect_child(child_main, (void *)main_waits, 2,
                 "gort: fatal error: goroutine ", "exited with the world stopped");
    for (int r = 0; r < rounds; r++)
        expect_child(child_round, r % 2 ? (void *)1 : NULL, 0, NULL, NULL);
    int64_t worst = 0, sum = 0;
    for (int r = 0; r < 5; r++) {
        char buf[4096];
        int st = capture_child(child_latency, NULL, buf, sizeof buf);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st, buf);
        char *p = strstr(buf, "latency ");
        CHECK(p);
        int64_t dt = atoll(p + 8);
        sum += dt;
        if (dt > worst)
            worst = dt;
    }
    fprintf(stderr, "%d rounds; gort_main returns %.1f us (mean of 5) after goroutine 1, worst %.1f us\n",
            rounds, sum / 5e3, worst / 1e3);
    return 0;
}
