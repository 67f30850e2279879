/*
 * test_syscall_eintr.c — gort never makes a system call fail with EINTR.
 *
 * Run twice, once with each form of the barrier pair that keeps signals
 * out of calls (syscall.c: the exchange, and GORTDEBUG=membarrier=1).
 * GORTMAXPROCS=2, GORTDEBUG=quantum=100us: two call-free hogs keep both Ps
 * busy, so sysmon asks for preemptions all the time, while one goroutine
 * per kind of call loops for 2 s (longer on a loaded machine, until
 * enough calls and preemptions were seen; 8 s at most) over calls that a signal handler
 * interrupts even with SA_RESTART (signal(7)): nanosleep (also checked
 * for returning early; alone, and after 300 us of work so that sysmon
 * wants the goroutine preempted just as it enters the call), poll with a 0 or 1 ms timeout, select and
 * epoll_wait with a timeout, sem_timedwait, sigtimedwait on a signal
 * nobody sends, read on a socket with SO_RCVTIMEO, and System V
 * messages (msgrcv on an empty queue and msgsnd on a full one, which a
 * plain thread fills and drains every 200 us).  Every EINTR is
 * counted and must be 0.  So that the property is not vacuous, the hogs
 * must have been preempted by signal many times in the same window.
 * Beside them a goroutine's sleep(1) returns 0 after at least 1 s.
 */
#define _GNU_SOURCE
#include "check.h"

#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/msg.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#define RUN_NS (2000LL * 1000 * 1000)
/* A loaded machine runs fewer calls and preemptions in RUN_NS: the loops
 * go on until each kind has MIN_CALLS calls and the hogs MIN_PREEMPTS
 * signal preemptions, up to MAX_NS. */
#define MIN_CALLS 50
#define MIN_PREEMPTS 100
#define MAX_NS (8000LL * 1000 * 1000)

enum {
    K_NANOSLEEP,
    K_COMPUTE_SLEEP,
    K_POLL,
    K_SELECT,
    K_EPOLL,
    K_SEMTIMED,
    K_SIGTIMED,
    K_RCVTIMEO,
    K_MSGRCV,
    K_MSGSND,
    NK
};
static const char *const kname[NK] = {"nanosleep(50us)", "300us work, nanosleep(1ms)",
                                      "poll(NULL, 0, 0..1ms)",
                                      "select(200us)",   "epoll_wait(1ms)",
                                      "sem_timedwait(200us)", "sigtimedwait(200us)",
                                      "read(SO_RCVTIMEO 1ms)", "msgrcv(empty queue)",
                                      "msgsnd(full queue)"};
static long calls[NK], eintr[NK], other[NK];
static _Atomic long early;
static int64_t deadline, hard_deadline;
static uint64_t preempts0;
static _Atomic int stop_hogs;
static gort_waitgroup wg_loops = GORT_WAITGROUP_INIT, wg_hogs = GORT_WAITGROUP_INIT;
static int epfd, sv[2];
/* System V queues: msg_in fed by the pump for msgrcv, msg_out (its bytes
 * limit a few messages) drained by it for msgsnd. */
enum { MSG_BYTES = 4000 };
struct msg {
    long type;
    char text[MSG_BYTES];
};
static int msg_in = -1, msg_out = -1;
static _Atomic int stop_pump;
static sem_t sem;
static int sleep_rc = -1;
static int64_t sleep_ns;

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void hog(void *arg)
{
    (void)arg;
    volatile uint64_t x = 0;
    while (!atomic_load_explicit(&stop_hogs, memory_order_relaxed))
        x = x + 1;
    gort_wg_done(&wg_hogs);
}

/* One call of kind k; returns 0 or the errno it failed with, with the
 * errno values each call gives for an ordinary timeout mapped to 0. */
__attribute__((noinline)) static int one_call(int k, long i)
{
    int rc;
    switch (k) {
    case K_NANOSLEEP: {
        struct timespec ts = {0, 50000}, rem = {0, 0};
        int64_t t0 = mono_ns();
        rc = nanosleep(&ts, &rem);
        if (rc == 0 && mono_ns() - t0 < 50000)
            early++;
        return rc == 0 ? 0 : errno;
    }
    case K_COMPUTE_SLEEP: {
        /* The case: a goroutine that has run a while (so sysmon
         * wants it preempted) and then sleeps: a signal decided on while
         * it ran must not land inside the sleep. */
        int64_t end = mono_ns() + 300000;
        while (mono_ns() < end)
            ;
        struct timespec ts = {0, 1000000}, rem = {0, 0};
        int64_t t0 = mono_ns();
        rc = nanosleep(&ts, &rem);
        if (rc == 0 && mono_ns() - t0 < 1000000)
            early++;
        return rc == 0 ? 0 : errno;
    }
    case K_POLL:
        rc = poll(NULL, 0, (int)(i & 1));
        return rc == 0 ? 0 : rc < 0 ? errno : -1;
    case K_SELECT: {
        struct timeval tv = {0, 200};
        rc = select(0, NULL, NULL, NULL, &tv);
        return rc == 0 ? 0 : rc < 0 ? errno : -1;
    }
    case K_EPOLL: {
        struct epoll_event ev;
        rc = epoll_wait(epfd, &ev, 1, 1);
        return rc == 0 ? 0 : rc < 0 ? errno : -1;
    }
    case K_SEMTIMED: {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        rc = sem_timedwait(&sem, &ts);
        return rc == 0 ? -1 : errno == ETIMEDOUT ? 0 : errno;
    }
    case K_SIGTIMED: {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        struct timespec ts = {0, 200000};
        rc = sigtimedwait(&set, NULL, &ts);
        return rc >= 0 ? -1 : errno == EAGAIN ? 0 : errno;
    }
    case K_RCVTIMEO: {
        char c;
        ssize_t n = read(sv[0], &c, 1);
        return n >= 0 ? -1 : (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : errno;
    }
    case K_MSGRCV: {
        static struct msg m;
        return msgrcv(msg_in, &m, MSG_BYTES, 0, 0) == MSG_BYTES ? 0 : errno;
    }
    case K_MSGSND: {
        static struct msg m = {.type = 1};
        return msgsnd(msg_out, &m, MSG_BYTES, 0) == 0 ? 0 : errno;
    }
    }
    return -1;
}

static void looper(void *arg)
{
    int k = (int)(intptr_t)arg;
    for (long i = 0;; i++) {
        int64_t now = gort_nanotime();
        if (now >= hard_deadline)
            break;
        if (now >= deadline && calls[k] >= MIN_CALLS) {
            gort_stats s;
            gort_read_stats(&s);
            if (s.async_preempts - preempts0 >= MIN_PREEMPTS)
                break;
        }
        int e = one_call(k, i);
        calls[k]++;
        if (e == EINTR)
            eintr[k]++;
        else if (e != 0)
            other[k]++;
    }
    gort_wg_done(&wg_loops);
}

/* A plain thread: every 200 us, a message into msg_in (while fewer than
 * two wait) and one out of msg_out, so that both blocking calls return. */
static void *pump(void *arg)
{
    (void)arg;
    static struct msg m = {.type = 1};
    while (!atomic_load(&stop_pump)) {
        struct msqid_ds ds;
        if (msgctl(msg_in, IPC_STAT, &ds) == 0 && ds.msg_qnum < 2)
            (void)msgsnd(msg_in, &m, MSG_BYTES, IPC_NOWAIT);
        (void)msgrcv(msg_out, &m, MSG_BYTES, 0, IPC_NOWAIT);
        usleep(200);
    }
    return NULL;
}

static void sleeper(void *arg)
{
    (void)arg;
    int64_t t0 = mono_ns();
    sleep_rc = (int)sleep(1);
    sleep_ns = mono_ns() - t0;
    gort_wg_done(&wg_loops);
}

static void gmain(void *arg)
{
    (void)arg;
    gort_stats s0, s1;
    gort_read_stats(&s0);
    preempts0 = s0.async_preempts;
    gort_wg_add(&wg_hogs, 2);
    for (int i = 0; i < 2; i++)
        CHECK_CALL(gort_go(hog, NULL), 0);
    deadline = gort_nanotime() + RUN_NS;
    hard_deadline = deadline - RUN_NS + MAX_NS;
    pthread_t pt;
    CHECK(pthread_create(&pt, NULL, pump, NULL) == 0);
    gort_wg_add(&wg_loops, NK + 1);
    for (int k = 0; k < NK; k++)
        CHECK_CALL(gort_go(looper, (void *)(intptr_t)k), 0);
    CHECK_CALL(gort_go(sleeper, NULL), 0);
    gort_wg_wait(&wg_loops);
    gort_read_stats(&s1);
    atomic_store(&stop_pump, 1);
    CHECK(pthread_join(pt, NULL) == 0);
    atomic_store(&stop_hogs, 1);
    gort_wg_wait(&wg_hogs);

    long total = 0, total_eintr = 0, total_other = 0;
    for (int k = 0; k < NK; k++) {
        fprintf(stderr, "%-24s %7ld calls, %ld EINTR, %ld unexpected results\n", kname[k],
                calls[k], eintr[k], other[k]);
        total += calls[k];
        total_eintr += eintr[k];
        total_other += other[k];
    }
    uint64_t ap = s1.async_preempts - s0.async_preempts;
    uint64_t sig = s1.signals_sent - s0.signals_sent;
    fprintf(stderr, "total %ld calls, %ld EINTR, %ld nanosleep returned early; "
            "async_preempts +%llu, signals_sent +%llu; sleep(1) = %d after %.3f s\n",
            total, total_eintr, atomic_load(&early), (unsigned long long)ap, (unsigned long long)sig, sleep_rc,
            sleep_ns / 1e9);
    CHECK(total_eintr == 0, "%ld calls failed with EINTR", total_eintr);
    CHECK(atomic_load(&early) == 0, "%ld nanosleep calls returned early", atomic_load(&early));
    CHECK(total_other == 0, "%ld calls gave unexpected results", total_other);
    for (int k = 0; k < NK; k++)
        CHECK(calls[k] >= MIN_CALLS, "%s: only %ld calls in 8 s", kname[k], calls[k]);
    /* 2 s of two hogs at a 100 us quantum is thousands of preemptions on a
     * quiet machine; without enough of them nothing was tested. */
    CHECK(ap >= MIN_PREEMPTS, "only %llu async preemptions in 8 s: the signals were not tested",
          (unsigned long long)ap);
    CHECK(sleep_rc == 0, "sleep(1) returned %d", sleep_rc);
    CHECK(sleep_ns >= 1000000000LL, "sleep(1) took %lld ns", (long long)sleep_ns);
}

int main(void)
{
    epfd = epoll_create1(0);
    CHECK(epfd >= 0);
    CHECK(sem_init(&sem, 0, 0) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct timeval tv = {0, 1000};
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    msg_in = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    msg_out = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    CHECK(msg_in >= 0 && msg_out >= 0, "msgget: %s", strerror(errno));
    struct msqid_ds ds;
    CHECK(msgctl(msg_out, IPC_STAT, &ds) == 0);
    ds.msg_qbytes = 3 * MSG_BYTES; /* full after three */
    CHECK(msgctl(msg_out, IPC_SET, &ds) == 0);
    watchdog_start("test_syscall_eintr", 60);
    /* Both forms of the barrier pair that keeps signals out of calls
     * (syscall.c): the exchange (default) and membarrier. */
    run_main_child(gmain, NULL, "2", "quantum=100us");
    run_main_child(gmain, NULL, "2", "quantum=100us,membarrier=1");
    msgctl(msg_in, IPC_RMID, NULL);
    msgctl(msg_out, IPC_RMID, NULL);
    return 0;
}
