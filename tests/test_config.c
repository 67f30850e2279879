/*
 * test_config.c — configuration from the environment (GORTMAXPROCS,
 * GORTSTACKSIZE, GORTDEBUG), durations, and the format of fatal errors and
 * deadlock reports.  The environment is read once per process, so every
 * case runs in its own forked child; the parent never starts the runtime.
 */
#define _GNU_SOURCE
#include "check.h"
#include "../src/runtime.h" /* gort__cfg, gort__parse_env, gort__throw */

#include <fcntl.h>
#include <sched.h>

static int count(const char *hay, const char *needle)
{
    int c = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        c++;
    return c;
}

static void clear_env(void)
{
    unsetenv("GORTMAXPROCS");
    unsetenv("GORTSTACKSIZE");
    unsetenv("GORTDEBUG");
    unsetenv("GORTTRACEBACK");
}

/* ---- durations (no runtime needed) ---- */

static void test_durations(void)
{
    CHECK_EQ(gort__parse_duration("250"), 250);
    CHECK_EQ(gort__parse_duration("0"), 0);
    CHECK_EQ(gort__parse_duration("7ns"), 7);
    CHECK_EQ(gort__parse_duration("500us"), 500000);
    CHECK_EQ(gort__parse_duration("10ms"), 10000000);
    CHECK_EQ(gort__parse_duration("2s"), 2000000000LL);
    CHECK_EQ(gort__parse_duration("9223372036854775807"), INT64_MAX);
    CHECK_EQ(gort__parse_duration("9223372036854775808"), -1);
    CHECK_EQ(gort__parse_duration("10000000000s"), -1); /* overflows int64 ns */
    CHECK_EQ(gort__parse_duration(""), -1);
    CHECK_EQ(gort__parse_duration("ms"), -1);
    CHECK_EQ(gort__parse_duration("-5ms"), -1);
    CHECK_EQ(gort__parse_duration("10 ms"), -1);
    CHECK_EQ(gort__parse_duration("10m"), -1);
    CHECK_EQ(gort__parse_duration("1.5s"), -1);
    CHECK_EQ(gort__parse_duration(NULL), -1);
}

/* ---- GORTDEBUG / GORTSTACKSIZE parsed without starting the runtime ---- */

static void child_debug_keys(void *arg)
{
    clear_env();
    setenv("GORTDEBUG", "schedtrace=250,scheddetail=1,quantum=500us,asyncpreemptoff=1,"
                        "stuckreport=0", 1);
    setenv("GORTSTACKSIZE", "100K", 1);
    gort__parse_env();
    gort__parse_env(); /* idempotent */
    CHECK_EQ(gort__cfg.schedtrace_ms, 250);
    CHECK(gort__cfg.scheddetail);
    CHECK_EQ(gort__cfg.quantum_ns, 500000);
    CHECK(gort__cfg.asyncpreemptoff);
    CHECK_EQ(gort__cfg.stuck_report_ns, 0);
    CHECK_EQ(gort__cfg.stacksize, 100 * 1024); /* already page aligned */
    CHECK(gort__cfg.maxprocs >= 1);
}

static void child_defaults(void *arg)
{
    clear_env();
    gort__parse_env();
    CHECK_EQ(gort__cfg.schedtrace_ms, 0);
    CHECK(!gort__cfg.scheddetail);
    CHECK_EQ(gort__cfg.quantum_ns, 10000000);
    CHECK(!gort__cfg.asyncpreemptoff);
    CHECK_EQ(gort__cfg.stuck_report_ns, 1000000000LL);
    CHECK_EQ(gort__cfg.stacksize, 256 * 1024);
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    CHECK(gort__cfg.maxprocs >= 1 && gort__cfg.maxprocs <= CPU_COUNT(&set),
          "maxprocs %d, affinity %d", gort__cfg.maxprocs, CPU_COUNT(&set));
}

/* One allowed CPU: the default GORTMAXPROCS follows the affinity mask. */
static void child_affinity(void *arg)
{
    clear_env();
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    int first = -1;
    for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
        if (CPU_ISSET(i, &set))
            first = i;
    CPU_ZERO(&set);
    CPU_SET(first, &set);
    CHECK(sched_setaffinity(0, sizeof set, &set) == 0);
    gort__parse_env();
    CHECK_EQ(gort__cfg.maxprocs, 1);
}

static size_t stacksize_for(const char *in)
{
    /* A pipe would do; a second child that exits with the value is simpler. */
    int p[2];
    CHECK(pipe(p) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        clear_env();
        setenv("GORTSTACKSIZE", in, 1);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2); /* bad values warn; not interesting here */
        gort__parse_env();
        size_t v = gort__cfg.stacksize;
        CHECK(write(p[1], &v, sizeof v) == sizeof v);
        _exit(0);
    }
    close(p[1]);
    size_t v = 0;
    CHECK(read(p[0], &v, sizeof v) == sizeof v);
    close(p[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return v;
}

static void test_stacksizes(void)
{
    CHECK_EQ(stacksize_for("1M"), 1 << 20);
    CHECK_EQ(stacksize_for("1m"), 1 << 20);
    CHECK_EQ(stacksize_for("64KiB"), 64 << 10);
    CHECK_EQ(stacksize_for("65536"), 65536);
    CHECK_EQ(stacksize_for("65537"), 65536 + 4096); /* rounded up to a page */
    CHECK_EQ(stacksize_for("1000"), 16 << 10);      /* minimum 16 KiB */
    CHECK_EQ(stacksize_for("junk"), 256 << 10);     /* default kept */
    CHECK_EQ(stacksize_for("12Q"), 256 << 10);
    CHECK_EQ(stacksize_for("99999999999999999999"), 256 << 10);
}

/* ---- warnings ---- */

static void child_bad_debug(void *arg)
{
    clear_env();
    setenv("GORTDEBUG", "foo=1,quantum=abc,foo=2,schedtrace=-1,asyncpreemptoff=2,bar,"
                        "stuckreport=5ms", 1);
    gort__parse_env();
    gort__parse_env();
    /* good keys after bad ones still apply */
    CHECK_EQ(gort__cfg.stuck_report_ns, 5000000);
    CHECK_EQ(gort__cfg.quantum_ns, 10000000);
}

static void test_warnings(void)
{
    char buf[8192];
    int st = capture_child(child_bad_debug, NULL, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st, buf);
    CHECK_EQ(count(buf, "gort: warning: GORTDEBUG: unknown key 'foo'\n"), 1);
    CHECK_EQ(count(buf, "gort: warning: GORTDEBUG: unknown key 'bar'\n"), 1);
    CHECK_EQ(count(buf, "bad value 'abc' for key 'quantum'"), 1);
    CHECK_EQ(count(buf, "bad value '-1' for key 'schedtrace'"), 1);
    CHECK_EQ(count(buf, "bad value '2' for key 'asyncpreemptoff'"), 1);
    CHECK_EQ(count(buf, "gort: warning:"), 5);
}

static void child_bad_maxprocs(void *arg)
{
    clear_env();
    setenv("GORTMAXPROCS", "lots", 1);
    gort__parse_env();
    CHECK(gort__cfg.maxprocs >= 1);
}

/* ---- through gort_main ---- */

static void main_report_procs(void *arg)
{
    *(int *)arg = gort_maxprocs(0);
}

static void child_maxprocs3(void *arg)
{
    clear_env();
    setenv("GORTMAXPROCS", "3", 1);
    int n = 0;
    run_main(main_report_procs, &n);
    CHECK_EQ(n, 3);
    gort_stats s;
    gort_read_stats(&s);
    CHECK_EQ(s.procs, 3);
}

static void child_debug_in_main(void *arg)
{
    clear_env();
    setenv("GORTDEBUG", "nosuchkey=1", 1);
    int n = 0;
    run_main(main_report_procs, &n);
    CHECK(n >= 1);
}

/* A goroutine that needs more than the default 256 KiB of stack works
 * once GORTSTACKSIZE says so: the setting reaches the stack allocator. */
static volatile int deep_sum;
static void big_frame(void *arg)
{
    volatile char buf[600 * 1024];
    for (size_t i = 0; i < sizeof buf; i += 4096)
        buf[i] = (char)i;
    deep_sum = buf[4096];
    gort_wg_done(arg);
}

static void main_big_stack(void *arg)
{
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_wg_add(&wg, 1);
    CHECK_EQ(gort_go(big_frame, &wg), 0);
    gort_wg_wait(&wg);
}

static void child_big_stack(void *arg)
{
    clear_env();
    setenv("GORTSTACKSIZE", "1M", 1);
    run_main(main_big_stack, NULL);
}

/* ---- fatal errors ---- */

/* A traceback frame of function fn: "\tfn+0xOFF (module)", or Go's form
 * "fn(...)\n\tfile:line +0xOFF" when file:line is known. */
static bool has_frame(const char *buf, const char *fn)
{
    char a[128], b[128];
    snprintf(a, sizeof a, "\t%s+0x", fn);
    snprintf(b, sizeof b, "\n%s(...)\n\t", fn);
    return strstr(buf, a) || strstr(buf, b);
}

__attribute__((noinline)) static void misuse_unlock(void)
{
    gort_mutex m = GORT_MUTEX_INIT;
    gort_mutex_unlock(&m);
}

static void main_misuse(void *arg)
{
    misuse_unlock();
}

static void child_misuse(void *arg)
{
    clear_env();
    setenv("GORTTRACEBACK", "system", 1); /* runtime frames too */
    run_main(main_misuse, NULL);
    _exit(0); /* not reached if the runtime threw */
}

static void child_throw_thread(void *arg)
{
    gort__throw("boom %d", 42);
}

static void parked(void *arg)
{
    gort_chan *c = arg;
    gort_chan_recv(c, NULL); /* never sent to */
    deep_sum++;              /* not a tail call: keep this frame */
}

static void main_deadlock(void *arg)
{
    gort_chan *c = gort_chan_make(0, 0);
    gort_go(parked, c);
    gort_chan_recv(c, NULL);
    deep_sum++;
}

static void child_deadlock(void *arg)
{
    clear_env();
    setenv("GORTMAXPROCS", "2", 1);
    run_main(main_deadlock, NULL);
    _exit(0);
}

static void test_fatal(void)
{
    char buf[16384];

    /* A misuse on a goroutine: message, blank line, our goroutine's stack
     * with symbolized frames (static functions of the test too), exit 2. */
    int st = capture_child(child_misuse, NULL, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "gort: fatal error: sync: unlock of unlocked mutex\n\n"), "%s", buf);
    CHECK(strstr(buf, "goroutine 1 [running]:\n"), "%s", buf);
    CHECK(has_frame(buf, "gort__throw"), "%s", buf);
    CHECK(has_frame(buf, "misuse_unlock"), "%s", buf);
    CHECK(strstr(buf, "\tgoroutine function: main_misuse+0x0 ("), "%s", buf);
    CHECK(has_frame(buf, "gort__gostart"), "goroutine stack must end at the trampoline:\n%s", buf);

    /* On a plain thread, before the runtime ever started (default level:
     * the runtime's own frames are hidden). */
    st = capture_child(child_throw_thread, NULL, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "gort: fatal error: boom 42\n\nthread "), "%s", buf);
    CHECK(strstr(buf, "(not a goroutine) [running]:\n"), "%s", buf);
    CHECK(!strstr(buf, "gort__throw"), "%s", buf);
    CHECK(has_frame(buf, "child_throw_thread"), "%s", buf);

    /* Deadlock: every goroutine with its wait reason and a trace. */
    st = capture_child(child_deadlock, NULL, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x:\n%s", st, buf);
    CHECK(strstr(buf, "gort: fatal error: all goroutines are asleep - deadlock!\n\n"), "%s", buf);
    CHECK(strstr(buf, "goroutine 1 [chan receive]:\n"), "%s", buf);
    CHECK(strstr(buf, "goroutine 2 [chan receive]:\n"), "%s", buf);
    CHECK(has_frame(buf, "main_deadlock"), "%s", buf);
    CHECK(has_frame(buf, "parked"), "%s", buf);
}

int main(void)
{
    test_durations();
    expect_child(child_defaults, NULL, 0, NULL, NULL);
    expect_child(child_debug_keys, NULL, 0, NULL, NULL);
    expect_child(child_affinity, NULL, 0, NULL, NULL);
    test_stacksizes();
    test_warnings();
    expect_child(child_bad_maxprocs, NULL, 0, "gort: warning: GORTMAXPROCS: bad value 'lots'", NULL);
    expect_child(child_maxprocs3, NULL, 0, NULL, NULL);
    expect_child(child_debug_in_main, NULL, 0, "gort: warning: GORTDEBUG: unknown key 'nosuchkey'",
                 NULL);
    expect_child(child_big_stack, NULL, 0, NULL, NULL);
    test_fatal();
    printf("test_config: ok\n");
    return 0;
}
