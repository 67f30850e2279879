/*
 * test_fork.c — fork() from goroutines and from a plain thread while other
 * goroutines are busy in the runtime: the child holds only the forking
 * goroutine.  Each child either execs (works), makes a wrapped libc call
 * and _exits (works), or makes a gort call that needs the scheduler
 * (gort_yield, a blocking channel send, gort_sleep, gort_go), which must
 * be `gort: fatal error: ... in the child of fork()` with status 2: never
 * a hang, and never another goroutine's side effect in the child (busy
 * goroutines write a byte to a pipe whenever they run in a process that
 * is not the parent).  Before the change, children ran copies of the
 * busy goroutines (3 of 3) or hung in their first gort call (47 of 200).
 * Run at GORTMAXPROCS=1 and 2.  (The busy goroutines call no libc
 * function: on the base code a goroutine a preemption signal finds in
 * libc runs on P-less, and its next park with a runtime lock held
 * (gopark_insyscall) may move it to another M with the lock, ending in
 * "runtime lock count went negative", "blocked with a runtime lock held"
 * or a hang, fork or no fork; reported, not this test's subject.)
 */
#define _GNU_SOURCE
#include "check.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <time.h>

#define NCHILD 200
#define WAIT_NS (10LL * 1000000000) /* a child still alive after this hung */

static pid_t parent;
static int sidefx[2];         /* a byte per busy-goroutine iteration run outside the parent */
static atomic_bool stop;
static atomic_int busy_running;
static gort_chan *pingc;

/* getpid by the syscall instruction itself, in this file's code: a libc
 * call here would put the goroutine P-less in foreign code (see the
 * header: a separate runtime bug). */
static pid_t raw_getpid(void)
{
    return (pid_t)raw_syscall3(SYS_getpid, 0, 0, 0);
}

static void note_side_effect(void)
{
    if (raw_getpid() != parent) {
        char b = 'X';
        (void)!write(sidefx[1], &b, 1);
    }
}

static void pinger(void *arg)
{
    (void)arg;
    atomic_fetch_add(&busy_running, 1);
    for (int v = 0; !atomic_load(&stop); v++) {
        note_side_effect();
        gort_chan_send(pingc, &v);
    }
    int v = -1;
    gort_chan_send(pingc, &v);
}

static void ponger(void *arg)
{
    (void)arg;
    atomic_fetch_add(&busy_running, 1);
    int v;
    while (gort_chan_recv(pingc, &v) && v >= 0)
        note_side_effect();
}

static void nop(void *arg) { (void)arg; }

/* Timers, new goroutines (sched.lock, free lists) and a buffered channel. */
static void spawner(void *arg)
{
    gort_chan *c = arg;
    atomic_fetch_add(&busy_running, 1);
    for (long i = 0; !atomic_load(&stop); i++) {
        note_side_effect();
        if (!gort_chan_trysend(c, &i)) {
            long v;
            bool ok;
            gort_chan_tryrecv(c, &v, &ok);
        }
        if ((i & 1023) == 0)
            gort_go(nop, NULL);
        if ((i & 1023) == 512)
            gort_sleep(20000);
    }
}

static void never(void *arg) { (void)arg; _exit(99); }

enum { CH_EXEC, CH_WRAPPED, CH_YIELD, CH_SEND, CH_SLEEP, CH_GO, CH_NMODES };
static const char *const mode_name[] = {"exec", "wrapped call", "gort_yield",
                                        "channel send", "gort_sleep", "gort_go"};

/* In the child: only async-signal-safe calls and the one being tested. */
__attribute__((noreturn)) static void child(int mode, int errfd, int outfd, gort_chan *lonely)
{
    dup2(errfd, 2);
    switch (mode) {
    case CH_EXEC: {
        char *argv[] = {"true", NULL};
        execv("/bin/true", argv);
        _exit(98);
    }
    case CH_WRAPPED: {
        /* write() is wrapped: it must not touch the gone scheduler. */
        char msg[] = "ok";
        ssize_t n = write(outfd, msg, 2);
        _exit(n == 2 && gort_nanotime() > 0 ? 7 : 97);
    }
    case CH_YIELD:
        gort_yield();
        break;
    case CH_SEND: {
        int v = 1;
        gort_chan_send(lonely, &v); /* nobody receives: a park */
        break;
    }
    case CH_SLEEP:
        gort_sleep(1000);
        break;
    case CH_GO:
        gort_go(never, NULL);
        gort_yield();
        break;
    }
    _exit(96); /* the gort call returned */
}

/* Wait for pid at most WAIT_NS; returns its status, or -1 if it hung. */
static int wait_bounded(pid_t pid)
{
    int64_t deadline = gort_nanotime() + WAIT_NS;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        CHECK(r >= 0, "waitpid: errno %d", errno);
        if (r == pid)
            return st;
        if (gort_nanotime() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        gort_sleep(200000);
    }
}

static int ok_count[CH_NMODES], hung, wrong;

/* Fork one child of the given mode and check what it did. */
static void one_child(int mode, gort_chan *lonely)
{
    char path[] = "/tmp/gort-fork-XXXXXX";
    int errfd = mkstemp(path);
    CHECK(errfd >= 0);
    unlink(path);
    int out[2];
    CHECK(pipe(out) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: errno %d", errno);
    if (pid == 0)
        child(mode, errfd, out[1], lonely);
    close(out[1]);
    int st = wait_bounded(pid);
    char buf[4096];
    ssize_t n = pread(errfd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    char ob[8] = {0};
    ssize_t on = read(out[0], ob, sizeof ob - 1);
    close(out[0]);
    close(errfd);
    bool ok;
    if (st == -1) {
        hung++;
        CHECK(0, "child %d (%s) hung; stderr:\n%s", pid, mode_name[mode], buf);
    }
    switch (mode) {
    case CH_EXEC:
        ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        break;
    case CH_WRAPPED:
        ok = WIFEXITED(st) && WEXITSTATUS(st) == 7 && on == 2 && strcmp(ob, "ok") == 0;
        break;
    default:
        ok = WIFEXITED(st) && WEXITSTATUS(st) == 2 &&
             strstr(buf, "gort: fatal error: ") && strstr(buf, "in the child of fork()");
        break;
    }
    char b;
    CHECK(read(sidefx[0], &b, 1) < 0 && errno == EAGAIN,
          "another goroutine ran in the child (%s)", mode_name[mode]);
    if (ok) {
        ok_count[mode]++;
    } else {
        wrong++;
        fprintf(stderr, "child (%s): status %#x; stderr:\n%s\n", mode_name[mode], st, buf);
    }
}

static void *thread_forker(void *arg)
{
    gort_chan *lonely = arg;
    /* A plain thread: its child's channel send parks through a futex. */
    for (int i = 0; i < 10; i++)
        one_child(i % 2 ? CH_SEND : CH_EXEC, lonely);
    return NULL;
}

static void main_g(void *arg)
{
    (void)arg;
    parent = getpid(); /* this child of main's, the goroutines' process */
    CHECK(pipe2(sidefx, O_NONBLOCK) == 0);
    pingc = gort_chan_make(sizeof(int), 0);
    gort_chan *lonely = gort_chan_make(sizeof(int), 0);
    gort_go(pinger, NULL);
    gort_go(ponger, NULL);
    gort_chan *buf = gort_chan_make(sizeof(long), 4);
    gort_go(spawner, buf);
    while (atomic_load(&busy_running) < 3)
        gort_yield();
    for (int i = 0; i < NCHILD; i++)
        one_child(i % CH_NMODES, lonely);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_forker, lonely) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    atomic_store(&stop, true);
    char b;
    ssize_t n = read(sidefx[0], &b, 1);
    CHECK(n < 0 && errno == EAGAIN, "another goroutine ran in a child (side effect seen)");
    printf("%d children + 10 from a thread: %d hung, %d wrong;", NCHILD, hung, wrong);
    for (int m = 0; m < CH_NMODES; m++)
        printf(" %s %d", mode_name[m], ok_count[m]);
    printf("\n");
    CHECK(hung == 0 && wrong == 0, "%d hung, %d wrong", hung, wrong);
}

int main(void)
{
    run_main_child(main_g, NULL, "1", NULL);
    run_main_child(main_g, NULL, "2", NULL);
    printf("ok\n");
    return 0;
}
