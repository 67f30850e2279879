/*
 * test_lock.c — the runtime's internal lock (lock_futex.c) under waits long
 * enough to make waiters sleep, in both unlock modes: the plain store with
 * the sleeper's membarrier (the default once the scheduler is initialised,
 * where membarrier registers) and the exchange (GORTDEBUG=lockfence=1, in
 * a child re-executed with it).
 *
 *  - hammer: holders keep the lock past the waiters' spin now and then, so
 *    waiters register and sleep; a broken exclusion is a wrong count.
 *  - litmus: one holder, one waiter, and quiet after each unlock.  The
 *    holder releases around the moment the waiter gives up spinning, just
 *    after stores that miss the cache (its unlock's store then waits in
 *    the store buffer).  A lost wakeup leaves the waiter asleep for good,
 *    since nothing unlocks again: the round's deadline names it.  Built
 *    without the sleeper's membarrier this lost a wakeup within a few
 *    hundred rounds, every run.
 *  - channel: goroutines and plain threads contending for one small
 *    buffered channel, each operation a channel lock.
 */
#define _GNU_SOURCE
#include "check.h"
#include "../src/runtime.h" /* gort__mutex, gort__lock_raw, gort__lock_sleeps */

#include <linux/membarrier.h>

extern char **environ;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void spin_until(int64_t t)
{
    while (now_ns() < t)
        __builtin_ia32_pause();
}

/* ---- hammer ---- */

enum { THREADS = 4, ITERS = 3000, HOLD_EVERY = 40, HOLD_NS = 3 * GORT__LOCK_SPIN_NS };

static gort__mutex mu;
static long counter; /* under mu, deliberately not atomic */

static void *hammer(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < ITERS; i++) {
        gort__lock_raw(&mu);
        long c = counter;
        if ((i + id) % HOLD_EVERY == 0)
            spin_until(now_ns() + HOLD_NS);
        counter = c + 1;
        gort__unlock_raw(&mu);
    }
    return NULL;
}

/* ---- litmus ---- */

enum { ROUNDS = 20000, COLD = 64 << 20 };
static gort__mutex lm;
static _Atomic long held, trying, done;
static char *cold;

static void *litmus_waiter(void *arg)
{
    (void)arg;
    for (long r = 1; r <= ROUNDS; r++) {
        while (atomic_load(&held) != r)
            __builtin_ia32_pause();
        atomic_store(&trying, r);
        gort__lock_raw(&lm);
        gort__unlock_raw(&lm);
        atomic_store(&done, r);
    }
    return NULL;
}

static void litmus(void)
{
    cold = malloc(COLD);
    CHECK(cold != NULL);
    for (long i = 0; i < COLD; i += 4096)
        cold[i] = 1;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, litmus_waiter, NULL) == 0);
    unsigned seed = 1;
    uint64_t s0 = gort__lock_sleeps();
    for (long r = 1; r <= ROUNDS; r++) {
        gort__lock_raw(&lm);
        atomic_store(&held, r);
        while (atomic_load(&trying) != r)
            __builtin_ia32_pause();
        /* Release within +-40% of the moment the waiter stops spinning. */
        int64_t spin = GORT__LOCK_SPIN_NS;
        spin_until(now_ns() + spin * 8 / 10 + rand_r(&seed) % (spin * 6 / 10));
        for (int k = 0; k < 8; k++)
            cold[((size_t)rand_r(&seed) * 64 * 7919 + (size_t)k * 4096 * 31) % COLD] = (char)r;
        gort__unlock_raw(&lm);
        int64_t deadline = now_ns() + 2000000000LL;
        while (atomic_load(&done) != r) {
            if (now_ns() > deadline) {
                fprintf(stderr, "lost wakeup in round %ld: key %u, the waiter still asleep\n", r,
                        atomic_load(&lm.key));
                exit(1);
            }
            __builtin_ia32_pause();
        }
    }
    pthread_join(t, NULL);
    free(cold);
    printf("litmus: %d rounds, %" PRIu64 " sleeps\n", ROUNDS, gort__lock_sleeps() - s0);
}

/* ---- channel ---- */

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
    /* gort_stats reports the sleeps, the earlier phases' included. */
    gort_stats st;
    gort_read_stats(&st);
    CHECK(st.lock_sleeps >= raw_sleeps && raw_sleeps > 0);
}

static void run(bool fenced)
{
    gort_num_goroutine(); /* initialises the scheduler, which picks the mode */
    /* An exchange when asked for, or where membarrier cannot be registered
     * (registering again is harmless); else the plain store. */
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
    printf("hammer: %d acquisitions, %" PRIu64 " sleeps\n", THREADS * ITERS, slept);
    /* 300 holds of three spins each with three other threads waiting:
     * some of them outwait the spin, on one CPU as on several. */
    CHECK(slept > 0);

    litmus();
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
    const char *dbg = getenv("GORTDEBUG");
    run(dbg && strstr(dbg, "lockfence=1"));

    /* The other mode, in a fresh process: its environment is built here,
     * before the fork (no setenv in a child of a threaded process). */
    static char env_dbg[] = "GORTDEBUG=lockfence=1";
    char *envp[256];
    int n = 0;
    for (char **e = environ; *e && n < 254; e++)
        if (strncmp(*e, "GORTDEBUG=", 10) != 0)
            envp[n++] = *e;
    envp[n++] = env_dbg;
    envp[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        execle("/proc/self/exe", argv[0], "fenced", (char *)NULL, envp);
        _exit(127);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("ok\n");
    return 0;
}
