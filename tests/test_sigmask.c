/*
 * test_sigmask.c — a goroutine's signal mask is the goroutine's
 * (threadstate.c, interpose_signal.c).
 *
 * sigwait: the usual block-then-sigwait setup in a goroutine (it blocks
 * SIGUSR1, yields, then waits for it with sigtimedwait), with hogs that
 * must be preempted on the thread it set its mask on, so that goroutine 1
 * can sleep and wake 20 times.  Before, the blocked SIGUSR1 stayed on that
 * thread and every later preemption there was refused ("inside a signal
 * handler?"): a hang at GORTMAXPROCS=1.  Run at 1 and 2 Ps.
 *
 * migrate: goroutines with masks of their own (one of them blocking
 * SIGURG too) and goroutines without, at 2 Ps and quantum=200us, check
 * after every yield and across asynchronous preemptions that the mask they
 * see (pthread_sigmask query) and the mask on their thread (raw
 * rt_sigprocmask) are theirs, while moving between threads; a goroutine
 * started by a masked one inherits its mask.
 */
#define _GNU_SOURCE
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#define BIT(s) (1ull << ((s) - 1))


static uint64_t view_mask(void)
{
    sigset_t s;
    CHECK(pthread_sigmask(SIG_BLOCK, NULL, &s) == 0);
    return sigset_word(&s);
}

/* ---- sigwait ----------------------------------------------------------- */

static atomic_int w_tid;
static atomic_bool w_got, release;
static atomic_long strays;
static gort_waitgroup wg;

static void on_usr1(int sig) { (void)sig; atomic_fetch_add(&strays, 1); }

static void waiter(void *arg)
{
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);
    /* Let the hogs run on this thread, with its mask as it is. */
    for (int i = 0; i < 50; i++)
        gort_yield();
    struct timespec ts = {0, 2000000};
    while (!atomic_load(&w_got)) {
        atomic_store(&w_tid, (int)gettid());
        if (sigtimedwait(&set, NULL, &ts) == SIGUSR1)
            atomic_store(&w_got, true);
    }
    CHECK(view_mask() & BIT(SIGUSR1));
    gort_wg_done(&wg);
}

static void hog(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&release, memory_order_relaxed))
        ;
    gort_wg_done(&wg);
}

static void sigwait_main(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 3);
    CHECK(gort_go(waiter, NULL) == 0);
    CHECK(gort_go(hog, NULL) == 0);
    CHECK(gort_go(hog, NULL) == 0);
    /* Each wake-up needs a hog preempted. */
    for (int i = 0; i < 20; i++)
        gort_sleep(1000000);
    while (!atomic_load(&w_got)) {
        int tid = atomic_load(&w_tid);
        if (tid)
            syscall(SYS_tgkill, getpid(), tid, SIGUSR1);
        gort_sleep(1000000);
    }
    for (int i = 0; i < 20; i++)
        gort_sleep(1000000);
    atomic_store(&release, true);
    gort_wg_wait(&wg);
    CHECK((view_mask() & BIT(SIGUSR1)) == 0);
}

/* ---- migrate ----------------------------------------------------------- */

#define ROUNDS 3000
static atomic_long moves, checked;
static atomic_bool inherit_ok;

static void inherit_child(void *arg)
{
    uint64_t want = *(uint64_t *)arg;
    atomic_store(&inherit_ok, view_mask() == want && (kernel_sigmask() & ~BIT(SIGURG)) == (want & ~BIT(SIGURG)));
    gort_wg_done(&wg);
}

static void masked(void *arg)
{
    int k = (int)(intptr_t)arg; /* 0: no mask, 1..3: masks of their own */
    uint64_t base = view_mask(); /* what gort_main's caller had */
    uint64_t want = base;
    if (k > 0) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGRTMIN + k);
        sigaddset(&s, SIGUSR2);
        if (k == 3)
            sigaddset(&s, SIGURG); /* seen as blocked, never blocked on the thread */
        sigset_t old;
        CHECK(pthread_sigmask(SIG_BLOCK, &s, &old) == 0);
        CHECK(sigset_word(&old) == base);
        want = base | sigset_word(&s);
    }
    uint64_t on_thread = want & ~BIT(SIGURG);
    if (k == 1) {
        /* A goroutine it starts has its mask. */
        gort_wg_add(&wg, 1);
        CHECK(gort_go(inherit_child, &want) == 0);
    }
    pid_t last = gettid();
    long n = 0;
    int64_t t0 = gort_nanotime();
    for (int i = 0;; i++) {
        if (i % 64 == 0 && i >= ROUNDS) {
            /* Enough rounds; go on until preemptions happened (bounded). */
            gort_stats st;
            gort_read_stats(&st);
            if (st.async_preempts >= 200 || gort_nanotime() - t0 > 30LL * 1000000000)
                break;
        }
        /* Call-free work.  Every 64th round is a stretch of about a
         * millisecond, several quanta, with no system call in it (the mask
         * checks are system calls, where sysmon takes the P instead of
         * signalling), so sysmon must stop it with the signal however the
         * machine's load stretches the rest. */
        unsigned x = (unsigned)i;
        int spins = i % 64 == 63 ? 1 << 20 : 2000;
        for (int j = 0; j < spins; j++) {
            x = x * 2654435761u + 1;
            __asm__ volatile("" : "+r"(x));
        }
        uint64_t t = kernel_sigmask(), v = view_mask();
        CHECK(t == on_thread, "goroutine %d: thread mask %#llx, want %#llx", k,
              (unsigned long long)t, (unsigned long long)on_thread);
        CHECK(v == want, "goroutine %d: mask %#llx, want %#llx", k,
              (unsigned long long)v, (unsigned long long)want);
        n++;
        if (i % 16 == 0)
            gort_yield();
        pid_t now = gettid();
        if (now != last)
            atomic_fetch_add(&moves, 1);
        last = now;
    }
    atomic_fetch_add(&checked, n);
    gort_wg_done(&wg);
}

static void migrate_main(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 6);
    for (intptr_t k = 0; k <= 3; k++)
        CHECK(gort_go(masked, (void *)k) == 0);
    CHECK(gort_go(masked, (void *)0) == 0);
    CHECK(gort_go(masked, (void *)0) == 0);
    gort_wg_wait(&wg);
    gort_stats s;
    gort_read_stats(&s);
    fprintf(stderr, "migrate: %ld checks, %ld thread changes, %llu async preemptions (%llu sync, %llu requests, %llu signals)\n",
            atomic_load(&checked), atomic_load(&moves), (unsigned long long)s.async_preempts,
            (unsigned long long)s.sync_preempts, (unsigned long long)s.preempt_requests, (unsigned long long)s.signals_sent);
    CHECK(atomic_load(&inherit_ok));
    CHECK(atomic_load(&moves) >= 50, "only %ld thread changes", atomic_load(&moves));
    CHECK(s.async_preempts >= 200, "only %llu async preemptions", (unsigned long long)s.async_preempts);
}

/* ---- driver ------------------------------------------------------------ */

struct run { void (*fn)(void *); const char *procs, *debug; };

static void child(void *arg)
{
    struct run *r = arg;
    setenv("GORTMAXPROCS", r->procs, 1);
    setenv("GORTDEBUG", r->debug, 1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    alarm(60); /* a hang fails the run, instead of the whole test timing out */
    run_main(r->fn, NULL);
}

int main(void)
{
    struct run runs[] = {
        {sigwait_main, "1", "quantum=1ms,stuckreport=3s"},
        {sigwait_main, "2", "quantum=1ms,stuckreport=3s"},
        {migrate_main, "2", "quantum=200us"},
    };
    char buf[16384];
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        int st = capture_child(child, &runs[i], buf, sizeof buf);
        fputs(buf, stderr);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "run %zu: status %#x", i, st);
    }
    return 0;
}
