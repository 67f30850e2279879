/*
 * check.h — tiny assertion and child-process helpers for gort's tests.
 * Every test is a standalone program: exit 0 = pass.  CHECK prints the
 * failing condition with file:line and exits 1.  expect_child runs a
 * function in a forked child and checks its exit status and that stderr
 * contains a given message (used for misuse that must stop the program);
 * capture_child is the same run without the checks, for tests that look at
 * the status and stderr themselves.  rss_bytes reads the resident set size.
 */
#ifndef GORT_TEST_CHECK_H
#define GORT_TEST_CHECK_H
#include <gort.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* 1 in a build with AddressSanitizer: gcc defines __SANITIZE_ADDRESS__,
 * clang answers __has_feature.  Its shadow memory, quarantine and redzones
 * move RSS and slow every allocation, so memory bounds and counts differ. */
#if defined(__SANITIZE_ADDRESS__)
#define GORT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_TEST_ASAN 1
#endif
#endif
#ifndef GORT_TEST_ASAN
#define GORT_TEST_ASAN 0
#endif

/* Whether elfutils' libdw is there for gort to load (tracebacks then
 * carry file:line where the code has debug information). */
static inline int have_libdw(void)
{
    return dlopen("libdw.so.1", RTLD_LAZY | RTLD_LOCAL) != NULL;
}

/* The first 64 signals of a sigset_t as a word (bit s-1 for signal s). */
static inline uint64_t sigset_word(const sigset_t *s)
{
    uint64_t w;
    memcpy(&w, s, sizeof w);
    return w;
}

/* The calling thread's mask as the kernel has it, read past gort's
 * wrappers (which report the goroutine's own). */
static inline uint64_t kernel_sigmask(void)
{
    uint64_t w = 0;
    if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &w, sizeof w) != 0) {
        fprintf(stderr, "rt_sigprocmask: %s\n", strerror(errno));
        exit(1);
    }
    return w;
}

/* The kernel's action for sig, read past gort's wrappers (which report
 * the program's own): struct kernel_sigaction's layout on x86-64. */
struct kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};
__attribute__((unused)) static struct kernel_sigaction kernel_sigaction(int sig)
{
    struct kernel_sigaction k;
    if (syscall(SYS_rt_sigaction, sig, NULL, &k, sizeof k.mask) != 0) {
        fprintf(stderr, "rt_sigaction: %s\n", strerror(errno));
        exit(1);
    }
    return k;
}

/* Whether memcheck (or another valgrind tool) runs this process: valgrind
 * preloads its vgpreload_*.so through LD_PRELOAD.  For the few checks
 * valgrind itself cannot run (a fixed table of its own that 10,000 stacks
 * overflow). */
static inline int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload") != NULL;
}

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__,         \
                    __LINE__, #cond);                                      \
            fprintf(stderr, "" __VA_ARGS__);                               \
            fprintf(stderr, "\n");                                         \
            fflush(stderr);                                                \
            _exit(1);                                                      \
        }                                                                  \
    } while (0)

/* Each operand evaluated once: a failure must not run a call again (a
 * second gort_select or acquire would change what the message shows). */
#define CHECK_EQ(a, b)                                                     \
    do {                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                \
        if (a_ != b_) {                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s: %lld != %lld\n", \
                    __FILE__, __LINE__, #a, #b, a_, b_);                   \
            fflush(stderr);                                                \
            _exit(1);                                                      \
        }                                                                  \
    } while (0)

/* Split-stack mode (make test-split compiles the suite -fsplit-stack and
 * defines GORT_TEST_SPLIT): a stack overflow is caught by a function's
 * prologue check instead of the guard page.  (Not a weak reference to
 * __morestack: gold refuses any reference to it but a prologue's call.) */
static inline bool split_mode(void)
{
#ifdef GORT_TEST_SPLIT
    return true;
#else
    return false;
#endif
}

/* A clock's reading in nanoseconds: CLOCK_PROCESS_CPUTIME_ID, a thread's
 * CPU clock (pthread_getcpuclockid), CLOCK_MONOTONIC... */
static inline int64_t clock_ns(clockid_t clk)
{
    struct timespec ts;
    CHECK(clock_gettime(clk, &ts) == 0);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* What a hung child (reap_child) gets between SIGQUIT (a gort child
 * prints every goroutine's stack, which takes tens of seconds under
 * memcheck) and SIGKILL. */
static inline int child_grace_s(void) { return under_valgrind() ? 30 : 10; }

/* How long a child of capture_child or run_main_child may run: until 5 s
 * plus the grace before the runner's deadline for the whole test
 * (tests/run.sh exports GORT_TEST_DEADLINE, in seconds since the epoch),
 * so that the parent names a hung child, with its goroutines, before the
 * runner kills the test with only its name; at least 1 s.  60 s when the
 * test runs by hand. */
static inline int child_limit_s(void)
{
    const char *e = getenv("GORT_TEST_DEADLINE");
    if (!e || atol(e) <= 0)
        return 60;
    long left = atol(e) - (long)time(NULL) - child_grace_s() - 5;
    return left > 1 ? (int)left : 1;
}

/* Reap pid into *st within secs seconds: 1 if it exited, 0 if it still
 * runs.  A waitpid(WNOHANG) poll, 1 ms at first, backing off to 50 ms:
 * no pidfd, which memcheck 3.19 does not know (ENOSYS and a warning in
 * the log), and no SIGCHLD wait, which another thread of a gort parent
 * could take. */
static inline int wait_child_for(pid_t pid, int *st, int secs)
{
    struct timespec nap = {0, 1000000};
    int64_t t0 = clock_ns(CLOCK_MONOTONIC);
    for (;;) {
        pid_t w = waitpid(pid, st, WNOHANG);
        if (w == pid)
            return 1;
        CHECK(w == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
        if (clock_ns(CLOCK_MONOTONIC) - t0 >= secs * (int64_t)1000000000)
            return 0;
        nanosleep(&nap, NULL);
        nap.tv_nsec = nap.tv_nsec * 2 < 50000000 ? nap.tv_nsec * 2 : 50000000;
    }
}

/* Reap pid, giving it until `limit` seconds: 0 if it ended in time; if
 * not, it gets SIGQUIT (a gort program prints every goroutine's stack
 * and exits) and child_grace_s() more, 1 if it ended then, 2 if it
 * needed SIGKILL.  Reaped in every case, its status in *st. */
static inline int reap_child(pid_t pid, int *st, int limit)
{
    if (wait_child_for(pid, st, limit))
        return 0;
    kill(pid, SIGQUIT);
    if (wait_child_for(pid, st, child_grace_s()))
        return 1;
    kill(pid, SIGKILL); /* cannot be caught: wait for it */
    pid_t w;
    while ((w = waitpid(pid, st, 0)) < 0 && errno == EINTR)
        ;
    CHECK(w == pid, "waitpid: %s", strerror(errno));
    return 2;
}

/* Run fn(arg) in a child process (it exits 0 if fn returns) with its stderr
 * captured into buf (n bytes, NUL-terminated); returns the raw wait
 * status.  A child still running after child_limit_s() is a failure of the
 * test, named here (reap_child: SIGQUIT for its goroutines, then
 * SIGKILL), with its stderr printed above the message. */
#define capture_child(fn, arg, buf, n) capture_child_named(#fn, fn, arg, buf, n)
static inline int capture_child_named(const char *name, void (*fn)(void *), void *arg, char *buf,
                                      size_t n)
{
    char path[] = "/tmp/gort-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fd, 2);
        fn(arg);
        _exit(0);
    }
    int st = 0, limit = child_limit_s();
    int hung = reap_child(pid, &st, limit);
    ssize_t r = pread(fd, buf, n - 1, 0);
    close(fd);
    buf[r > 0 ? r : 0] = 0;
    CHECK(!hung, "child %s still ran after %d s; SIGQUIT%s, then status %#x; its stderr:\n%s\n"
          "(end of %s's stderr) child %s hung",
          name, limit, hung > 1 ? " and SIGKILL" : "", st, buf, name, name);
    return st;
}

/* Run fn(arg) in a child process.  The child's stderr is captured.  Passes
 * if the child exited with `want_status` (-1: killed by any signal or
 * exited non-zero) and its stderr contains every non-NULL needle. */
#define expect_child(fn, ...) expect_child_named(#fn, fn, __VA_ARGS__)
static inline void expect_child_named(const char *name, void (*fn)(void *), void *arg,
                                      int want_status, const char *needle1, const char *needle2)
{
    char buf[16384];
    int st = capture_child_named(name, fn, arg, buf, sizeof buf);
    int ok_status;
    if (want_status == -1)
        ok_status = WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0);
    else
        ok_status = WIFEXITED(st) && WEXITSTATUS(st) == want_status;
    if (!ok_status || (needle1 && !strstr(buf, needle1)) ||
        (needle2 && !strstr(buf, needle2))) {
        fprintf(stderr, "child: status %#x (want %d); stderr:\n%s\n", st,
                want_status, buf);
        fprintf(stderr, "wanted: '%s' '%s'\n", needle1 ? needle1 : "",
                needle2 ? needle2 : "");
        CHECK(0, "child did not fail as expected");
    }
}

/* Resident set size of this process in bytes (/proc/self/statm). */
static inline long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    CHECK(f && fscanf(f, "%ld %ld", &size, &res) == 2);
    fclose(f);
    return res * sysconf(_SC_PAGESIZE);
}

#if GORT_TEST_ASAN
/* In ASan's runtime (gcc ships no header for it). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* Bytes malloc has handed out and not had back: the leak measure that
 * RSS is not under AddressSanitizer, whose quarantine keeps freed blocks
 * resident (up to 256 MiB by default) and so moves RSS by megabytes that
 * are not the program's.  Outside ASan, glibc's count of bytes in use. */
static inline long heap_bytes(void)
{
#if GORT_TEST_ASAN
    return (long)__sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    return (long)(mi.uordblks + mi.hblkhd);
#endif
}

/* Run fn(arg) as the main goroutine under gort_main and check it returned 0. */
static inline void run_main(void (*fn)(void *), void *arg)
{
    int rc = gort_main(fn, arg);
    CHECK(rc == 0, "gort_main returned %d", rc);
}

/* run_main in a forked child, with GORTMAXPROCS=procs and, unless NULL,
 * GORTDEBUG=debug: a fresh runtime per setting.  Checks it exited 0 within
 * child_limit_s() (its stderr is the test's: a hung child's goroutines
 * are printed above the failure). */
#define run_main_child(fn, ...) run_main_child_named(#fn, fn, __VA_ARGS__)
__attribute__((unused)) static void run_main_child_named(const char *name, void (*fn)(void *),
                                                         void *arg, const char *procs,
                                                         const char *debug)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setenv("GORTMAXPROCS", procs, 1);
        if (debug)
            setenv("GORTDEBUG", debug, 1);
        run_main(fn, arg);
        fflush(NULL);
        _exit(0);
    }
    int st = 0, limit = child_limit_s();
    int hung = reap_child(pid, &st, limit);
    CHECK(!hung, "run_main_child(%s) GORTMAXPROCS=%s GORTDEBUG=%s still ran after %d s; "
          "SIGQUIT%s, then status %#x", name, procs, debug ? debug : "", limit,
          hung > 1 ? " and SIGKILL" : "", st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "GORTMAXPROCS=%s GORTDEBUG=%s: status %#x",
          procs, debug ? debug : "", st);
}


/* Recursion that really uses about n KiB of stack: each level keeps 1000
 * bytes the compiler cannot elide (their address escapes; clang otherwise
 * lays out only the elements it sees used). */
__attribute__((noinline, unused)) static long use_stack_kib(int n)
{
    volatile char buf[1000];
    buf[0] = (char)n;
    buf[999] = (char)n;
    __asm__ volatile("" : : "r"(buf) : "memory");
    if (n == 0)
        return buf[0];
    return use_stack_kib(n - 1) + buf[999];
}

/* ---- For tests of blocking calls (test_syscall_*.c) ------------------ */

/* A system call made by the `syscall` instruction itself: no libc entry
 * point, so nothing that wraps libc's blocking calls sees it. */
static inline long raw_syscall3(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

/* CHECK that call (evaluated once) returned want; the message has errno. */
#define CHECK_CALL(call, want)                                             \
    do {                                                                   \
        long long r_ = (long long)(call);                                  \
        int e_ = errno;                                                    \
        CHECK(r_ == (long long)(want), "returned %lld, errno %d (%s)", r_, \
              e_, strerror(e_));                                           \
    } while (0)

/* Watchdog for tests whose failure mode is a hang: watchdog_start(name, s)
 * arms alarm(s); watchdog_phase(what) names the step under way.  On expiry
 * the handler writes "<name>: watchdog: no progress in '<what>'", then
 * raises SIGQUIT (gort's goroutine dump, exit 2) and, should that hang
 * too, exits 1 five seconds later.  Writes go through raw_syscall3: the
 * handler may interrupt anything, libc's wrappers included. */
__attribute__((unused)) static const char *volatile watchdog_name_ = "test";
__attribute__((unused)) static const char *volatile watchdog_what_ = "start";
__attribute__((unused)) static volatile int watchdog_fired_;

static inline void watchdog_phase(const char *what) { watchdog_what_ = what; }

static inline void watchdog_put_(const char *s)
{
    raw_syscall3(1 /* write */, 2, (long)s, (long)strlen(s));
}

__attribute__((unused)) static void watchdog_handler_(int sig)
{
    (void)sig;
    if (watchdog_fired_++) {
        watchdog_put_("watchdog: the goroutine dump did not finish either\n");
        raw_syscall3(231 /* exit_group */, 1, 0, 0);
    }
    watchdog_put_(watchdog_name_);
    watchdog_put_(": watchdog: no progress in '");
    watchdog_put_(watchdog_what_);
    watchdog_put_("'\n");
    alarm(5);
    raw_syscall3(62 /* kill */, getpid(), 3 /* SIGQUIT */, 0);
}

static inline void watchdog_start(const char *name, unsigned seconds)
{
    watchdog_name_ = name;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = watchdog_handler_;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    alarm(seconds);
}

/* Yield until gort_stats.in_syscall reaches n: the goroutines this test
 * blocks are inside their calls. */
static inline void wait_in_syscall(uint64_t n)
{
    for (;;) {
        gort_stats s;
        gort_read_stats(&s);
        if (s.in_syscall >= n)
            return;
        gort_yield();
    }
}

/* A loop that must keep a thread busy long enough for something measured
 * in that thread's CPU time (the stuck report waits for stuckreport of the
 * stuck thread's CPU, not of wall time) runs until cpu_timer_done: on a
 * loaded machine a wall-time bound gives the thread only its share.  The
 * clock is the process's CPU time, which while such a loop runs at one P
 * is nearly all the loop's (the runtime's own threads use little), and
 * which, unlike a thread's clock, does not care on which thread the loop
 * ends up.  A plain watcher thread reads it, so the loop itself makes no
 * system call: one there is a point where a signal finds the goroutine
 * "in a system call" and the runtime may hand its P away.  cpu_timer_stop
 * ends and joins the watcher. */
typedef struct {
    clockid_t clk;
    int64_t until;
    int done; /* __atomic builtins: check.h is also C++ */
    pthread_t th;
} cpu_timer;

__attribute__((unused)) static void *cpu_timer_watch_(void *arg)
{
    cpu_timer *t = (cpu_timer *)arg;
    while (!__atomic_load_n(&t->done, __ATOMIC_SEQ_CST) && clock_ns(t->clk) < t->until)
        usleep(1000);
    __atomic_store_n(&t->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static inline void cpu_timer_start(cpu_timer *t, int64_t ns)
{
    t->clk = CLOCK_PROCESS_CPUTIME_ID;
    t->until = clock_ns(t->clk) + ns;
    __atomic_store_n(&t->done, 0, __ATOMIC_SEQ_CST);
    CHECK(pthread_create(&t->th, NULL, cpu_timer_watch_, t) == 0);
}

static inline __attribute__((always_inline)) int cpu_timer_done(cpu_timer *t)
{
    return __atomic_load_n(&t->done, __ATOMIC_RELAXED);
}

static inline void cpu_timer_stop(cpu_timer *t)
{
    __atomic_store_n(&t->done, 1, __ATOMIC_SEQ_CST); /* the loop may have ended for another reason */
    CHECK(pthread_join(t->th, NULL) == 0);
}

/* rw has no reader and no writer and nothing left over.  A write lock
 * taken and given back first moves any read-bias slot still holding rw
 * into the count (src/rwmutex_bias.c), so the count is then the whole
 * truth. */
__attribute__((unused)) static void rwmutex_check_idle(gort_rwmutex *rw)
{
    /* A try, so that a read lock left over fails here, not in the
     * watchdog. */
    CHECK(gort_rwmutex_trylock(rw), "a read or write lock is still held");
    CHECK_EQ(__atomic_load_n(&rw->readers, __ATOMIC_SEQ_CST), -(1 << 30));
    CHECK_EQ(rw->departing, 0);
    gort_rwmutex_unlock(rw);
    CHECK_EQ(__atomic_load_n(&rw->readers, __ATOMIC_SEQ_CST), 0);
    CHECK_EQ(rw->w.state, 0);
    CHECK_EQ(rw->reader_sema, 0u);
    CHECK_EQ(rw->writer_sema, 0u);
}

#endif
