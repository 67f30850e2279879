/* Goroutine dumps: gort_dump_goroutines (every wait state with Go's words,
 * [running]/[runnable], "created by", file:line with -g), SIGQUIT (the
 * same report, exit 2; GORTTRACEBACK=none/crash; a program's own SIGQUIT
 * handler is left alone), GORTTRACEBACK levels for fatal errors, the wait
 * duration rule, and a dump of many parked goroutines in bounded memory.
 *
 * The Makefile also builds this file without debug info (-g0, defining
 * GORT_TEST_NODEBUG) as test_dump_nog: there the frames must be
 * "function+0xoff (module)" with no file:line. */
#define _GNU_SOURCE
#include "check.h"
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>

/* Runtime-internal (hidden, but linkable from the static library): the
 * "N minutes" rule, tested directly instead of waiting a minute. */
int64_t gort__wait_minutes(int64_t since, int64_t now);

/* One channel per blocked role: a receiver and a sender on one channel
 * would complete each other. */
static gort_chan *never, *never_send, *never_sel1, *never_sel2;
static gort_mutex held = GORT_MUTEX_INIT;
static gort_mutex cmu = GORT_MUTEX_INIT;
static gort_cond cond = GORT_COND_INIT;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static volatile int spin_stop;

/* Keeps the blocking call from being a tail call, so the blocked
 * goroutine's own frame is on its stack for the dump to show. */
#define NOTAIL() __asm__ volatile("" ::: "memory")

/* How long a poll below waits for what it expects before it fails with
 * what it saw, well inside the runner's limit (300 s under valgrind,
 * where a whole run takes ~10 s): a wait that never ends is then a named
 * failure with a dump, not a bare TIMEOUT.  (CI once saw that TIMEOUT
 * under valgrind, in about 1 run of 100, and which wait it was is not
 * known.) */
#define WAIT_LIMIT_NS ((int64_t)60 * 1000000000)

static void block_recv(void *a) { (void)a; gort_chan_recv(never, NULL); NOTAIL(); }
static void block_send(void *a) { (void)a; gort_chan_send(never_send, NULL); NOTAIL(); }
static void block_select(void *a)
{
    (void)a;
    gort_case cs[2] = {{never_sel1, GORT_RECV, NULL, false}, {never_sel2, GORT_SEND, NULL, false}};
    gort_select(cs, 2, -1);
    NOTAIL();
}
static void block_select0(void *a) { (void)a; gort_select(NULL, 0, -1); NOTAIL(); }
static void block_nilchan(void *a) { (void)a; gort_chan_recv(NULL, NULL); NOTAIL(); }
static void block_sleep(void *a) { (void)a; gort_sleep((int64_t)3600 * 1000000000); NOTAIL(); }
static void block_mutex(void *a) { (void)a; gort_mutex_lock(&held); NOTAIL(); }
static void block_cond(void *a)
{
    (void)a;
    gort_mutex_lock(&cmu);
    gort_cond_wait(&cond, &cmu);
    NOTAIL();
}
static void block_wg(void *a) { (void)a; gort_wg_wait(&wg); NOTAIL(); }
static void spinner(void *a)
{
    (void)a;
    while (!spin_stop)
        ;
}
static void *thread_spawner(void *a)
{
    (void)a;
    gort_go(block_recv, NULL); /* created by a plain thread */
    return NULL;
}

/* The whole dump in buf (n bytes); returns gort_dump_goroutines' result. */
static int dump_to(char *buf, size_t n)
{
    int fd = memfd_create("dump", 0);
    CHECK(fd >= 0);
    int rc = gort_dump_goroutines(fd);
    ssize_t r = pread(fd, buf, n - 1, 0);
    buf[r > 0 ? r : 0] = 0;
    close(fd);
    return rc;
}

static const char *const states[] = {
    "[chan receive]:", "[chan send]:", "[select]:", "[select (no cases)]:",
    "[chan receive (nil chan)]:", "[sleep]:", "[sync.Mutex.Lock]:", "[sync.Cond.Wait]:",
    "[sync.WaitGroup.Wait]:",
};
#define NSTATES (sizeof states / sizeof states[0])

static bool all_parked(const char *buf)
{
    for (size_t i = 0; i < NSTATES; i++)
        if (!strstr(buf, states[i]))
            return false;
    /* two goroutines receive: block_recv from main and from the thread */
    const char *p = strstr(buf, "[chan receive]:");
    return p && strstr(p + 1, "[chan receive]:");
}

static char big[1 << 18];

/* Start one goroutine in each wait state and wait until the dump shows
 * them all parked (a condition, not a sleep: each poll is a dump). */
static void setup_states(bool with_spinner)
{
    never = gort_chan_make(0, 0);
    never_send = gort_chan_make(0, 0);
    never_sel1 = gort_chan_make(0, 0);
    never_sel2 = gort_chan_make(0, 0);
    gort_mutex_lock(&held);
    gort_wg_add(&wg, 1);
    void (*fns[])(void *) = {block_recv, block_send, block_select, block_select0,
                             block_nilchan, block_sleep, block_mutex, block_cond, block_wg};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        CHECK_EQ(gort_go(fns[i], NULL), 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, thread_spawner, NULL), 0);
    CHECK_EQ(pthread_join(th, NULL), 0);
    if (with_spinner)
        CHECK_EQ(gort_go(spinner, NULL), 0);
    int64_t t0 = gort_nanotime();
    for (int i = 0;; i++) {
        CHECK_EQ(dump_to(big, sizeof big), 0);
        if (all_parked(big))
            break;
        CHECK(gort_nanotime() - t0 < WAIT_LIMIT_NS, "goroutines did not park in 60 s (%d polls):\n%s",
              i, big);
        gort_sleep(1000000);
    }
}

/* What a frame of this file looks like: with debug info Go's two lines,
 * "name(...)\n\t.../test_dump.c:LINE +0xOFF"; without, "\tname+0xOFF (". */
static void check_frame(const char *buf, const char *fn)
{
    char want[128];
#ifdef GORT_TEST_NODEBUG
    snprintf(want, sizeof want, "\t%s+0x", fn);
    CHECK(strstr(buf, want), "no '%s' in:\n%s", want, buf);
    CHECK(!strstr(buf, "test_dump.c:"), "file:line without debug info:\n%s", buf);
#else
    if (!have_libdw()) {
        fprintf(stderr, "test_dump: libdw.so.1 not installed, no file:line to check\n");
        snprintf(want, sizeof want, "\t%s+0x", fn);
        CHECK(strstr(buf, want), "no '%s' in:\n%s", want, buf);
        return;
    }
    snprintf(want, sizeof want, "\n%s(...)\n\t", fn);
    const char *p = strstr(buf, want);
    CHECK(p, "no '%s' in:\n%s", want, buf);
    p += strlen(want);
    const char *nl = strchr(p, '\n');
    const char *f = strstr(p, "tests/test_dump.c:");
    CHECK(f && f < nl, "frame of %s has no file:line:\n%s", fn, buf);
    CHECK(strstr(f, " +0x") < nl, "%s", buf);
#endif
}

static void main_states(void *a)
{
    (void)a;
    setup_states(false);
    /* GORTMAXPROCS=1: the spinner runs only when main blocks, so once main
     * has slept and runs again the spinner is queued: [runnable]. */
    CHECK_EQ(gort_go(spinner, NULL), 0);
    gort_sleep(20000000);
    int rc = dump_to(big, sizeof big);
    CHECK_EQ(rc, 0);
    for (size_t i = 0; i < NSTATES; i++)
        CHECK(strstr(big, states[i]), "no %s in:\n%s", states[i], big);
    CHECK(strstr(big, "goroutine 1 [running]:\n"), "%s", big);
    CHECK(strstr(big, "[runnable]:\n"), "%s", big);
    CHECK(strstr(big, "created by main_states in goroutine 1\n"), "%s", big);
    CHECK(strstr(big, "created by thread_spawner on a thread that is not a goroutine\n"), "%s",
          big);
    /* Go's rule: no duration under a minute. */
    CHECK(!strstr(big, "minutes]"), "%s", big);
    /* Default level: no runtime-internal frames, public entry points kept. */
    CHECK(!strstr(big, "gort__"), "%s", big);
    check_frame(big, "block_recv");
    check_frame(big, "block_mutex");
    check_frame(big, "main_states");
    /* "created by" points at the gort_go call in setup_states. */
#ifndef GORT_TEST_NODEBUG
    if (have_libdw())
        CHECK(strstr(big, "created by setup_states in goroutine 1\n\t"), "%s", big);
#endif
    /* Errors are returned, the program goes on. */
    CHECK_EQ(gort_dump_goroutines(-1), EBADF);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    CHECK_EQ(gort_dump_goroutines(p[1]), EPIPE);
    close(p[1]);
    _exit(0);
}

static void child_states(void *a)
{
    (void)a;
    setenv("GORTMAXPROCS", "1", 1);
    gort_main(main_states, NULL);
    _exit(5);
}

#ifndef GORT_TEST_NODEBUG
/* A child whose wait ran past WAIT_LIMIT_NS: say what it waited for, dump
 * its goroutines to stderr (the parent prints them) and exit 6. */
static void gave_up(const char *what)
{
    fprintf(stderr, "test_dump: %s in 60 s\n", what);
    gort_dump_goroutines(2);
    _exit(6);
}

static void main_sigquit(void *a)
{
    (void)a;
    setup_states(true);
    kill(getpid(), SIGQUIT);
    /* The handler exits 2; it may run on this thread or another. */
    for (int64_t t0 = gort_nanotime(); gort_nanotime() - t0 < WAIT_LIMIT_NS;)
        gort_sleep(1000000);
    gave_up("SIGQUIT's handler did not end the process");
}

static void no_core(void)
{
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
}

static void child_sigquit(void *tb)
{
    setenv("GORTMAXPROCS", "2", 1);
    if (tb)
        setenv("GORTTRACEBACK", tb, 1);
    no_core();
    gort_main(main_sigquit, NULL);
    _exit(5);
}

static void test_sigquit(void)
{
    static char buf[1 << 18];
    int st = capture_child(child_sigquit, NULL, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "SIGQUIT: quit\nPC="), "%s", buf);
    for (size_t i = 0; i < NSTATES; i++)
        CHECK(strstr(buf, states[i]), "no %s in:\n%s", states[i], buf);
    /* The spinner: on its thread ([running], stack unavailable) or, if it
     * was just preempted, [runnable] with a stack; or the signal landed on
     * its thread and its stack is the interrupted one. */
    CHECK(strstr(buf, "goroutine running on other thread; stack unavailable") ||
              strstr(buf, "[runnable]:") || strstr(buf, "spinner"),
          "%s", buf);
    /* Preempted (the dump freezes the world first), its interrupted pc is
     * named as it is: at the loop's first instruction, the function's own,
     * it was once looked up as a return address and named after the
     * function before it (frame_dummy+0x10). */
    if (strstr(buf, "gort__asyncpreempt("))
        check_frame(buf, "spinner");
    CHECK(strstr(buf, "created by setup_states in goroutine 1\n"), "%s", buf);
    /* As in Go, SIGQUIT shows the runtime's frames at the default level. */
    CHECK(strstr(buf, "gort__gostart"), "%s", buf);
    check_frame(buf, "block_cond");

    st = capture_child(child_sigquit, "none", buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "SIGQUIT: quit\n"), "%s", buf);
    CHECK(!strstr(buf, "goroutine "), "none prints no goroutines:\n%s", buf);


    st = capture_child(child_sigquit, "crash", buf, sizeof buf);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "[sync.Cond.Wait]:"), "%s", buf);
}

/* SIGQUIT with no dump before it: the handler itself loads libdw (the
 * signal interrupts libc's syscall(), where loading is allowed), and the
 * interrupted goroutine's frames come from the signal context. */
__attribute__((noinline)) static void quit_me(void)
{
    syscall(SYS_tgkill, getpid(), gettid(), SIGQUIT);
    NOTAIL();
}
static void main_fresh(void *a)
{
    (void)a;
    quit_me();
    NOTAIL();
}
static void child_fresh(void *a)
{
    (void)a;
    gort_main(main_fresh, NULL);
    _exit(5);
}
static void test_sigquit_fresh(void)
{
    static char buf[1 << 16];
    int st = capture_child(child_fresh, NULL, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "SIGQUIT: quit\nPC="), "%s", buf);
    CHECK(strstr(buf, "goroutine 1 [running]:\n"), "%s", buf);
    check_frame(buf, "main_fresh");
}

/* A program that handles SIGQUIT itself keeps its handler: no dump. */
static volatile sig_atomic_t own_quits;
static void own_handler(int sig) { (void)sig; own_quits++; }
static void main_own(void *a)
{
    (void)a;
    kill(getpid(), SIGQUIT); /* process-directed, but this thread has it unblocked */
    int64_t t0 = gort_nanotime();
    while (!own_quits) {
        if (gort_nanotime() - t0 >= WAIT_LIMIT_NS)
            gave_up("the program's SIGQUIT handler did not run");
        gort_yield();
    }
    _exit(7);
}
static void child_own(void *a)
{
    (void)a;
    signal(SIGQUIT, own_handler);
    gort_main(main_own, NULL);
    _exit(5);
}

static void main_throw(void *a)
{
    (void)a;
    never = gort_chan_make(0, 0);
    CHECK_EQ(gort_go(block_recv, NULL), 0);
    /* Wait (a condition, not a guess) until it is parked in its receive:
     * under load a fixed sleep left it runnable (1 in 10 ASan runs). */
    for (int64_t t0 = gort_nanotime();;) {
        static char dump[65536];
        CHECK_EQ(dump_to(dump, sizeof dump), 0);
        if (strstr(dump, "[chan receive]:\n"))
            break;
        CHECK(gort_nanotime() - t0 < WAIT_LIMIT_NS, "block_recv did not park in 60 s:\n%s", dump);
        gort_yield();
    }
    gort_mutex m = GORT_MUTEX_INIT;
    gort_mutex_unlock(&m); /* fatal error */
    NOTAIL();
}
static void child_throw(void *tb)
{
    setenv("GORTMAXPROCS", "1", 1);
    setenv("GORTTRACEBACK", tb, 1);
    no_core();
    gort_main(main_throw, NULL);
    _exit(5);
}

static void test_throw_levels(void)
{
    static char buf[1 << 16];
    /* single and all alike: fatal errors list every goroutine (Go forces
     * "all" for them); runtime-internal frames hidden. */
    const char *lv[] = {"single", "all"};
    for (int i = 0; i < 2; i++) {
        int st = capture_child(child_throw, (void *)lv[i], buf, sizeof buf);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s: status %#x:\n%s", lv[i], st, buf);
        CHECK(strstr(buf, "gort: fatal error: sync: unlock of unlocked mutex\n\ngoroutine 1 [running]:\n"),
              "%s", buf);
        CHECK(strstr(buf, "[chan receive]:\n"), "%s:\n%s", lv[i], buf);
        CHECK(!strstr(buf, "gort__"), "%s:\n%s", lv[i], buf);
        check_frame(buf, "main_throw");
    }
    int st = capture_child(child_throw, "none", buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "gort: fatal error: sync: unlock of unlocked mutex\n"), "%s", buf);
    CHECK(!strstr(buf, "goroutine "), "%s", buf);
    st = capture_child(child_throw, "system", buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "gort__throw"), "%s", buf);
    CHECK(strstr(buf, "[chan receive]:\n"), "%s", buf);
    st = capture_child(child_throw, "crash", buf, sizeof buf);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "gort__throw"), "%s", buf);
}

static void test_minutes(void)
{
    const int64_t s = 1000000000, t = 1000 * s;
    CHECK_EQ(gort__wait_minutes(0, t), 0);      /* never parked */
    CHECK_EQ(gort__wait_minutes(t, t + 59 * s), 0);
    CHECK_EQ(gort__wait_minutes(t, t + 60 * s), 1);
    CHECK_EQ(gort__wait_minutes(t, t + 150 * s), 2);
    CHECK_EQ(gort__wait_minutes(t + 5, t), 0);  /* clock skew: nothing */
}

/* Many parked goroutines: the dump streams (a 4 KiB buffer) and resolves
 * each distinct pc once, so it is fast and its memory does not grow with
 * the number of goroutines. */
#if GORT_TEST_ASAN
#define NMANY 20000
#else
#define NMANY 200000
#endif
static gort_waitgroup parked_wg = GORT_WAITGROUP_INIT;
static void parked(void *a)
{
    (void)a;
    gort_wg_done(&parked_wg);
    gort_chan_recv(never, NULL);
    NOTAIL();
}
static void main_many(void *a)
{
    (void)a;
    never = gort_chan_make(0, 0);
    gort_wg_add(&parked_wg, NMANY);
    for (int i = 0; i < NMANY; i++)
        CHECK_EQ(gort_go(parked, NULL), 0);
    gort_wg_wait(&parked_wg);
    int fd = open("/dev/null", O_WRONLY);
    CHECK(fd >= 0);
    CHECK_EQ(gort_dump_goroutines(fd), 0); /* warm: libdw, line tables */
    long rss0 = rss_bytes();
    int64_t t0 = gort_nanotime();
    CHECK_EQ(gort_dump_goroutines(fd), 0);
    int64_t t1 = gort_nanotime();
    long grew = rss_bytes() - rss0;
    close(fd);
    fprintf(stderr, "test_dump: dump of %d parked goroutines: %.2f s, %.0f ns each, rss +%ld KiB\n",
            NMANY, (t1 - t0) / 1e9, (double)(t1 - t0) / NMANY, grew / 1024);
    CHECK(grew < 4 << 20, "dump grew rss by %ld bytes", grew);
    _exit(0);
}
static void child_many(void *a)
{
    (void)a;
    setenv("GORTSTACKSIZE", "16384", 1);
    gort_main(main_many, NULL);
    _exit(5);
}
#endif

int main(void)
{
    static char buf[1 << 18];
    int st = capture_child(child_states, NULL, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x:\n%s", st, buf);
#ifndef GORT_TEST_NODEBUG
    test_minutes();
    test_sigquit();
    test_sigquit_fresh();
    st = capture_child(child_own, NULL, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "status %#x:\n%s", st, buf);
    CHECK(!strstr(buf, "SIGQUIT"), "%s", buf);
    test_throw_levels();
    /* valgrind stops at its own segment table's size ("VG_N_SEGMENTS is
     * too low") long before this many stacks. */
    if (under_valgrind()) {
        fprintf(stderr, "test_dump: under valgrind: no dump of %d goroutines\n", NMANY);
        return 0;
    }
    st = capture_child(child_many, NULL, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x:\n%s", st, buf);
    fputs(buf, stderr);
#endif
    return 0;
}
