/*
 * test_vfork.c — a vfork() child's calls are its own.  The child runs the
 * program's code on its parent's thread's stack, memory and TLS until it
 * execs, and what a careful spawner does there (block every signal, reset
 * every handler, close the inherited descriptors, dup2, a short sleep,
 * restore the mask) reaches gort's libc wrappers.  They must not act for
 * the parent's goroutine and M (fork_linux.c, arch/vfork_amd64.S).  After
 * each child, in the parent:
 *  - a reader parked on a registered socket is still parked, and data
 *    wakes it (the child's close() of that socket was the child's);
 *  - SIGUSR1's action reads back as the program set it, without the
 *    SA_ONSTACK gort added, and SIGURG's handler is the program's;
 *  - the goroutine's mask is the one it set, in its own view and on its
 *    thread once it has been rescheduled;
 *  - goroutines still run, at GORTMAXPROCS=1 beside a call-free loop that
 *    holds the only other runnable slot (the child's sleep, bracketed,
 *    handed the parent's P away; with none to take back the child would
 *    have run the scheduler);
 *  - SIGCHLD's handler, which re-arms itself with signal() on the
 *    parent's thread as vfork returns, still has SA_ONSTACK;
 *  - the parent's deep frames raise no ASan report after the child's
 *    (libasan's vfork unpoisons the stack; gort's vfork replaces it).
 * Each child first vforks a grandchild of its own, whose return must
 * leave the child marked.
 * And a gort call in the child that would switch goroutines is a fatal
 * error that names vfork(), not a switch on the parent's stack; neither
 * it nor a fault's report in a child disturbs the parent, whose own
 * fatal error afterwards is reported in full.
 */
#define _GNU_SOURCE
#include "netcheck.h"

#include <sys/syscall.h>

#define ROUNDS 20

static atomic_bool stop;
static void spin(void *a)
{
    (void)a;
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        __asm__ volatile("pause");
}

static void on_usr1(int s) { (void)s; }
static void on_urg(int s) { (void)s; }


/* SIGCHLD's handler re-arms itself, System V style: it runs on the
 * parent's thread as vfork returns there, often before the parent's own
 * code, and its signal() must be the parent's (SA_ONSTACK added). */
static atomic_int chld_seen;
static void on_chld(int s)
{
    (void)s;
    atomic_fetch_add(&chld_seen, 1);
    signal(SIGCHLD, on_chld);
}

static bool kernel_onstack(int sig)
{
    return kernel_sigaction(sig).flags & SA_ONSTACK;
}

/* Frames deep below the parent's, with arrays (ASan poisons their
 * redzones in the shadow the child shares), then exec from there. */
static __attribute__((noinline)) void exec_deep(int depth)
{
    char buf[512];
    memset(buf, depth, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
    if (depth > 0)
        exec_deep(depth - 1);
    else
        execl("/bin/true", "true", (char *)NULL); /* returns only if it failed */
}

/* The parent's own deep frames over the same stack afterwards. */
static __attribute__((noinline)) int parent_deep(int depth)
{
    char buf[512];
    memset(buf, depth, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
    return buf[depth] + (depth > 0 ? parent_deep(depth - 1) : 0);
}

/* What the child does before exec.  Only async-signal-safe calls and
 * _exit: it shares the parent's memory. */
static void child(int reg_fd)
{
    /* A vfork of its own first: the grandchild's exit must leave this
     * child marked (it used to clear the mark). */
    pid_t q = vfork();
    if (q == 0)
        _exit(0);
    if (q < 0 || waitpid(q, NULL, 0) != q)
        _exit(9);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &all, NULL) != 0)
        _exit(10);
    for (int s = 1; s < 65; s++)
        if (s != SIGKILL && s != SIGSTOP && s != 32 && s != 33)
            signal(s, SIG_DFL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        _exit(11);
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul < 0 || dup2(nul, reg_fd) != reg_fd) /* onto the registered socket */
        _exit(12);
    if (close(reg_fd) != 0)
        _exit(13);
    for (int fd = 3; fd < 256; fd++)
        close(fd);
    usleep(2000); /* a call gort hands the P off for at once */
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
        _exit(14);
    exec_deep(8);
    _exit(15);
}

static void rounds(void *a)
{
    (void)a;
    watchdog_start("test_vfork", 60);
    int sv[2];
    registered_pair(sv);
    char c;
    op_t o;
    park_byte_reader(&o, sv[0], &c);

    struct sigaction sa, got;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    CHECK_CALL(sigaction(SIGUSR1, &sa, NULL), 0); /* no SA_ONSTACK: gort adds it */
    sa.sa_handler = on_urg;
    CHECK_CALL(sigaction(SIGURG, &sa, NULL), 0); /* goes behind gort's handler */
    sigset_t mine, now;
    sigemptyset(&mine);
    sigaddset(&mine, SIGUSR2);
    CHECK_EQ(pthread_sigmask(SIG_SETMASK, &mine, NULL), 0);
    signal(SIGCHLD, on_chld);
    CHECK(kernel_onstack(SIGCHLD));

    CHECK_EQ(gort_go(spin, NULL), 0);
    for (int i = 0; i < ROUNDS; i++) {
        watchdog_phase("a vfork child and its exec");
        pid_t p = vfork();
        if (p == 0)
            child(sv[0]);
        CHECK(p > 0, "vfork: %s", strerror(errno));
        int st;
        CHECK(waitpid(p, &st, 0) == p);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "round %d: child status %#x", i, st);

        watchdog_phase("the parent's state after the child");
        CHECK_CALL(sigaction(SIGUSR1, NULL, &got), 0);
        CHECK(got.sa_handler == on_usr1, "round %d: SIGUSR1's handler is gone", i);
        CHECK(!(got.sa_flags & SA_ONSTACK),
              "round %d: SIGUSR1 reads back with SA_ONSTACK, which the program never set", i);
        CHECK_CALL(sigaction(SIGURG, NULL, &got), 0);
        CHECK(got.sa_handler == on_urg, "round %d: the program's SIGURG handler is gone", i);
        CHECK_EQ(pthread_sigmask(SIG_SETMASK, NULL, &now), 0);
        CHECK(sigset_word(&now) == sigset_word(&mine), "round %d: mask %#llx, set %#llx", i,
              (unsigned long long)sigset_word(&now), (unsigned long long)sigset_word(&mine));
        gort_yield(); /* rescheduled: the recorded mask is applied again */
        uint64_t k = kernel_sigmask();
        CHECK(k == sigset_word(&mine),
              "round %d: the thread's mask is %#llx after a reschedule, want %#llx", i,
              (unsigned long long)k, (unsigned long long)sigset_word(&mine));
        op_still_parked(&o, "the parent's reader, after the child closed its socket,");
        CHECK(kernel_onstack(SIGCHLD),
              "round %d: SIGCHLD's handler, re-armed on the parent's thread, lost SA_ONSTACK", i);
        CHECK(parent_deep(8) != -1); /* under ASan: no report from the child's frames */
    }
    CHECK(atomic_load(&chld_seen) > 0);
    atomic_store(&stop, true);
    watchdog_phase("the parent's reader");
    CHECK_CALL(gort_write(sv[1], "x", 1), 1);
    op_await(&o, "the parent's reader");
    CHECK(o.ret == 1 && c == 'x', "ret %ld errno %d", o.ret, o.err);
    op_free(&o);
    close(sv[0]);
    close(sv[1]);
    alarm(0);
}

static void one_done(void *wg) { gort_wg_done(wg); }

/* A vfork inside gort_blocking: the child inherits the parent's bracket
 * depth, and its sleep used to take the bracket's own park, which
 * rewrote the parent's M before any check. */
static void *vfork_sleep(void *a)
{
    (void)a;
    pid_t p = vfork();
    if (p == 0) {
        gort_sleep(1000);
        _exit(0);
    }
    CHECK(p > 0);
    int st;
    CHECK(waitpid(p, &st, 0) == p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "child status %#x", st);
    return NULL;
}

static int received;
static gort_waitgroup *recv_wg;
static void recv_one(void *c)
{
    CHECK(gort_chan_recv(c, &received));
    gort_wg_done(recv_wg);
}

/* A goroutine switch in the child: fatal, and said so; then a fault in
 * a child, reported as the child's; then a channel send in a child,
 * refused before it takes the channel's lock; a sleep in a child of a
 * vfork made inside gort_blocking; a gort_read in a child.  The reports must leave
 * the parent as it was (the child's memory is the parent's): the
 * channel works, its goroutines run, and its own fatal error is
 * reported in full. */
static void die_in_children(void *a)
{
    (void)a;
    watchdog_start("test_vfork", 60);
    pid_t p = vfork();
    if (p == 0) {
        gort_yield();
        _exit(0);
    }
    CHECK(p > 0);
    int st;
    CHECK(waitpid(p, &st, 0) == p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "child status %#x", st); /* a fatal error */
    p = vfork();
    if (p == 0) {
        uintptr_t bad = 8; /* unmapped; opaque, so that the store stays */
        __asm__ volatile("" : "+r"(bad));
        *(volatile int *)bad = 1;
        _exit(0);
    }
    CHECK(p > 0);
    CHECK(waitpid(p, &st, 0) == p);
    if (GORT_TEST_ASAN) /* ASan's own SEGV handler reports it and exits 1 */
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "child status %#x", st);
    else
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "child status %#x", st);
    /* A channel operation in a child: refused before the child takes the
     * channel's lock, which the parent and its receiver need afterwards. */
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_wg_add(&wg, 1);
    recv_wg = &wg;
    CHECK_EQ(gort_go(recv_one, c), 0);
    p = vfork();
    if (p == 0) {
        int v = 6;
        gort_chan_send(c, &v);
        _exit(0);
    }
    CHECK(p > 0);
    CHECK(waitpid(p, &st, 0) == p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "child status %#x", st);
    int v = 7;
    gort_chan_send(c, &v);
    gort_wg_wait(&wg);
    CHECK_EQ(received, 7);
    gort_chan_free(c);

    gort_blocking(vfork_sleep, NULL);

    /* gort_read in a child, on a socket the netpoller does not know yet:
     * refused before the child takes a reference, a waiter or a lock,
     * which the parent's gort_close would then wait for. */
    int sv[2];
    unix_pair(sv);
    p = vfork();
    if (p == 0) {
        char b;
        (void)gort_read(sv[0], &b, 1);
        _exit(0);
    }
    CHECK(p > 0);
    CHECK(waitpid(p, &st, 0) == p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "child status %#x", st);
    char b;
    CHECK_CALL(gort_write(sv[1], "r", 1), 1);
    CHECK_CALL(gort_read(sv[0], &b, 1), 1);
    CHECK_CALL(gort_close(sv[0]), 0); /* waited for ever on the child's reference */
    close(sv[1]);

    gort_wg_add(&wg, 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(gort_go(one_done, &wg), 0);
    gort_wg_wait(&wg);
    /* And the parent's own fatal error is reported in full: the
     * children's reports left it the claim and this thread's depth. */
    gort_mutex mu = GORT_MUTEX_INIT;
    gort_mutex_unlock(&mu);
}

static void child_yield(void *a)
{
    (void)a;
    run_main(die_in_children, NULL);
    exit(0); /* not reached */
}

int main(void)
{
    run_main_child(rounds, NULL, "1", NULL);
    run_main_child(rounds, NULL, "2", NULL);
    expect_child(child_yield, NULL, 2, "in the child of vfork()",
                 "fatal error: sync: unlock of unlocked mutex\n\ngoroutine 1 [running]:");
    return 0;
}
