/*
 * test_lock.c — the runtime's internal lock (lock_futex.c) under waits long
 * enough to make waiters sleep, in both unlock modes: the plain store with
 * the sleeper's membarrier (the default once the scheduler is initialised,
 * where membarrier registers) and the exchange (GORTDEBUG=lockfence=1, in
 * a child re-executed with it).
 *
 *  - forced: a waiter that must sleep (the holder lets go only once the
 *    sleep counter moved) and must then be woken.
 *  - hammer: holders keep the lock past the waiters' spin now and then, so
 *    waiters register and sleep; a broken exclusion is a wrong count.
 *  - litmus: one holder, one waiter, and quiet after each unlock.  The
 *    holder releases around the moment the waiter gives up spinning, just
 *    after stores that miss the cache (its unlock's store then waits in
 *    the store buffer).  A lost wakeup leaves the waiter asleep for good,
 *    since nothing unlocks again: the round's deadline names it.  Built
 *    without the sleeper's membarrier this lost a wakeup within 20,000
 *    rounds in 5 runs of 5.  Bounded by time as well as rounds: on a
 *    loaded machine a round waits for both threads to be on a CPU.
 *  - channel: goroutines and plain threads contending for one small
 *    buffered channel, each operation a channel lock.
 */
#define _GNU_SOURCE
#include "check.h"
#include "../src/runtime.h" /* gort__mutex, gort__lock_raw, gort__lock_sleeps */

#include <linux/membarrier.h>
#include <sched.h>
#include <sys/prctl.h>

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

/* ---- forced ---- */

static gort__mutex fm;
static _Atomic int fwaiting;

static void *forced_waiter(void *arg)
{
    (void)arg;
    atomic_store(&fwaiting, 1);
    gort__lock_raw(&fm);
    gort__unlock_raw(&fm);
    return NULL;
}

static void forced(void)
{
    for (int i = 0; i < 20; i++) {
        uint64_t s0 = gort__lock_sleeps();
        gort__lock_raw(&fm);
        atomic_store(&fwaiting, 0);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, forced_waiter, NULL) == 0);
        int64_t deadline = now_ns() + 20000000000LL;
        while (gort__lock_sleeps() == s0) {
            if (now_ns() > deadline) {
                fprintf(stderr, "forced: the waiter never slept (waiting: %d)\n",
                        atomic_load(&fwaiting));
                exit(1);
            }
            sched_yield();
        }
        /* Asleep (or on its way into the futex wait): this unlock must
         * wake it, or the join hangs until the alarm. */
        gort__unlock_raw(&fm);
        pthread_join(t, NULL);
    }
    printf("forced: 20 waiters slept and were woken\n");
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

enum { ROUNDS = 40000, COLD = 64 << 20 };
static gort__mutex lm;
static _Atomic long held, trying, done;
static _Atomic int litmus_stop;
static char *cold;

/* Until *v == want: spin first (the round's timing depends on seeing the
 * change at once), then yield (on a loaded machine the other thread may
 * be waiting for this CPU).  False at the deadline (0: none). */
static bool await(_Atomic long *v, long want, int64_t deadline)
{
    int64_t spin_end = now_ns() + 100000;
    while (atomic_load(v) != want) {
        int64_t t = now_ns();
        if (deadline && t > deadline)
            return false;
        if (t < spin_end)
            __builtin_ia32_pause();
        else
            sched_yield();
    }
    return true;
}

static void *litmus_waiter(void *arg)
{
    (void)arg;
    for (long r = 1; r <= ROUNDS && !atomic_load(&litmus_stop); r++) {
        await(&held, r, 0);
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
    int64_t stop_at = now_ns() + 6000000000LL;
    long r;
    for (r = 1; r <= ROUNDS; r++) {
        if (now_ns() > stop_at) {
            /* The waiter sits at round r; it sees the stop once it
             * looks again, and round r never comes. */
            atomic_store(&litmus_stop, 1);
            atomic_store(&held, r);
            break;
        }
        gort__lock_raw(&lm);
        atomic_store(&held, r);
        await(&trying, r, 0);
        /* Release within +-40% of the moment the waiter stops spinning. */
        int64_t spin = GORT__LOCK_SPIN_NS;
        spin_until(now_ns() + spin * 8 / 10 + rand_r(&seed) % (spin * 6 / 10));
        for (int k = 0; k < 8; k++)
            cold[((size_t)rand_r(&seed) * 64 * 7919 + (size_t)k * 4096 * 31) % COLD] = (char)r;
        gort__unlock_raw(&lm);
        /* A lost wakeup is for good; a loaded machine only delays the
         * waiter (up to ~1.5 s seen), so the deadline is generous. */
        if (!await(&done, r, now_ns() + 20000000000LL)) {
            fprintf(stderr, "lost wakeup in round %ld: key %u, the waiter still asleep\n", r,
                    atomic_load(&lm.key));
            exit(1);
        }
    }
    pthread_join(t, NULL);
    free(cold);
    printf("litmus: %ld rounds, %" PRIu64 " sleeps\n", r - 1, gort__lock_sleeps() - s0);
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

    forced();

    uint64_t s0 = gort__lock_sleeps();
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, hammer, (void *)i) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(counter, (long)THREADS * ITERS);
    uint64_t slept = gort__lock_sleeps() - s0;
    /* How many slept depends on how often the others were on a CPU
     * during a long hold: forced() above is the phase that must sleep. */
    printf("hammer: %d acquisitions, %" PRIu64 " sleeps\n", THREADS * ITERS, slept);

    /* With one CPU the waiter never spins (so never races an unlock at
     * the end of its spin), and each round waits for a time slice. */
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) > 1)
        litmus();
    else
        printf("litmus: skipped, one CPU\n");
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
    /* This process's mode is the default unless the environment says
     * (lockfence=1 as a whole item; the runtime rejects lockfence=10). */
    const char *dbg = getenv("GORTDEBUG");
    bool fenced = false;
    for (const char *p = dbg; p && (p = strstr(p, "lockfence=1")); p++)
        if ((p == dbg || p[-1] == ',') && (p[11] == ',' || p[11] == '\0'))
            fenced = true;
    run(fenced);

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
        /* Dies with the parent (its alarm): no orphan left running. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execle("/proc/self/exe", argv[0], "fenced", (char *)NULL, envp);
        _exit(127);
    }
    alarm(100); /* the child has its own */
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("ok\n");
    return 0;
}
