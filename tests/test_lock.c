/*
 * test_lock.c — the runtime's internal lock (lock_futex.c) under waits long
 * enough to make waiters sleep, in both unlock modes: the plain store with
 * the sleeper's membarrier (the default where membarrier registers) and
 * the exchange (GORTDEBUG=lockfence=1, a child re-executed with it, since
 * the mode is fixed by a constructor before main).
 *
 * Holders keep the lock past the waiters' spin budget now and then, so
 * waiters register and sleep on the futex; a lost wakeup is a hang that
 * the alarm turns into a failure, and a broken exclusion a wrong count.
 * Plain threads use the lock raw, goroutines through channels whose
 * buffers they contend for (each a channel lock per operation).
 */
#define _GNU_SOURCE
#include "check.h"
#include "../src/runtime.h" /* gort__mutex, gort__lock_raw, gort__lock_sleeps */

#include <linux/membarrier.h>

enum { THREADS = 4, ITERS = 3000, HOLD_EVERY = 40, HOLD_NS = 60000 };

static gort__mutex mu;
static long counter; /* under mu, deliberately not atomic */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *hammer(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < ITERS; i++) {
        gort__lock_raw(&mu);
        long c = counter;
        /* Longer than a waiter spins (20 us): the others go to sleep. */
        if ((i + id) % HOLD_EVERY == 0)
            for (int64_t until = now_ns() + HOLD_NS; now_ns() < until;)
                __asm__ volatile("" ::: "memory");
        counter = c + 1;
        gort__unlock_raw(&mu);
    }
    return NULL;
}

/* Goroutines and plain threads contending for one small buffered channel:
 * every operation takes its lock, and holders are often descheduled on an
 * oversubscribed machine. */
enum { SENDERS = 6, PER_SENDER = 20000 };
static gort_chan *ch;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static uint64_t raw_sleeps;

static void send_go(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_SENDER; i++) {
        int64_t v = 1;
        gort_chan_send(ch, &v);
    }
    gort_wg_done(&wg);
}

static void *send_thread(void *arg)
{
    send_go(arg);
    return NULL;
}

static void body(void *arg)
{
    (void)arg;
    ch = gort_chan_make(sizeof(int64_t), 4);
    CHECK(ch != NULL);
    gort_wg_add(&wg, SENDERS);
    pthread_t t[SENDERS / 2];
    for (int i = 0; i < SENDERS / 2; i++) {
        gort_go(send_go, NULL);
        CHECK(pthread_create(&t[i], NULL, send_thread, NULL) == 0);
    }
    int64_t sum = 0, v;
    for (int i = 0; i < SENDERS * PER_SENDER; i++) {
        CHECK(gort_chan_recv(ch, &v));
        sum += v;
    }
    gort_wg_wait(&wg);
    for (int i = 0; i < SENDERS / 2; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(sum, (int64_t)SENDERS * PER_SENDER);
    /* gort_stats reports the sleeps, the raw phase's included. */
    gort_stats st;
    gort_read_stats(&st);
    CHECK(st.lock_sleeps >= raw_sleeps && raw_sleeps > 0);
}

static void run(bool fenced)
{
    /* The mode: an exchange when asked for, or where membarrier cannot be
     * registered (registering again is harmless), else the plain store. */
    bool mb = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    CHECK_EQ(gort__lock_fast_unlock(), !fenced && mb);
    printf("%s unlock (membarrier %s)\n", gort__lock_fast_unlock() ? "plain-store" : "exchange",
           mb ? "registered" : "unavailable");

    uint64_t s0 = gort__lock_sleeps();
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, hammer, (void *)i) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(counter, (long)THREADS * ITERS);
    uint64_t slept = gort__lock_sleeps() - s0;
    printf("raw: %d acquisitions, %" PRIu64 " sleeps\n", THREADS * ITERS, slept);
    /* 300 holds of 60 us with three other threads waiting: some of them
     * outwait the spin (even on one CPU, where a spinner uses up its
     * slice while the holder waits for the CPU). */
    CHECK(slept > 0);
    raw_sleeps = gort__lock_sleeps();

    CHECK_EQ(gort_main(body, NULL), 0);
    printf("channel: %d sends, lock sleeps now %" PRIu64 "\n", SENDERS * PER_SENDER,
           gort__lock_sleeps());
}

int main(int argc, char **argv)
{
    alarm(100);
    if (argc > 1 && strcmp(argv[1], "fenced") == 0) {
        run(true);
        return 0;
    }
    /* This process's mode is the default unless the environment says. */
    run(gort__gortdebug_early("lockfence"));

    /* The other mode, in a fresh process (its constructor decides). */
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setenv("GORTDEBUG", "lockfence=1", 1);
        execl("/proc/self/exe", argv[0], "fenced", (char *)NULL);
        _exit(127);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("ok\n");
    return 0;
}
