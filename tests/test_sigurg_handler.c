/*
 * test_sigurg_handler.c — a SIGURG handler the program installs after
 * gort started goes behind gort's (interpose_signal.c, signal_linux.c).
 *
 * At GORTMAXPROCS=1 goroutine 1 installs its own SIGURG handler (with
 * sigaction, then again with signal()), then needs a hog preempted 20
 * times to wake from gort_sleep; before, its handler replaced gort's and
 * the program hung ("SIGURG blocked?").  It sends itself SIGURGs with
 * kill(), one at a time, and its handler must see exactly those: each
 * one, and none of gort's preemption signals.  sigaction's old action is
 * the program's, as if its handler were installed; sysv_signal's
 * SA_RESETHAND gives one delivery, then the default; System V's sigset
 * goes behind gort's too.
 */
#define _GNU_SOURCE
#include "check.h"

#include <stdatomic.h>

#define NSEND 200
static atomic_long got, got_plain, foreign;
static atomic_bool release;
static gort_waitgroup wg;

static void on_urg(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    if (sig == SIGURG && si->si_code == SI_USER && si->si_pid == getpid())
        atomic_fetch_add(&got, 1);
    else
        atomic_fetch_add(&foreign, 1);
}

static void on_urg_plain(int sig)
{
    (void)sig;
    atomic_fetch_add(&got_plain, 1);
}

static void hog(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&release, memory_order_relaxed))
        ;
    gort_wg_done(&wg);
}

/* Send SIGURGs one at a time, each received before the next (two
 * pending standard signals are one), while a hog needs preempting. */
static void send_and_count(atomic_long *counter, int n)
{
    for (int i = 0; i < n; i++) {
        long before = atomic_load(counter);
        CHECK(kill(getpid(), SIGURG) == 0);
        int64_t t0 = gort_nanotime();
        while (atomic_load(counter) == before) {
            CHECK(gort_nanotime() - t0 < 10LL * 1000000000, "SIGURG %d never reached the handler", i);
            gort_sleep(i % 2 ? 0 : 100000);
        }
    }
}

static void main_g(void *arg)
{
    (void)arg;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_urg;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGURG, &sa, &old) == 0);
    /* Before it, nobody's handler: the default (gort's is not shown). */
    CHECK(!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL);
    CHECK(sigaction(SIGURG, NULL, &old) == 0);
    CHECK((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_urg);

    gort_wg_add(&wg, 1);
    CHECK(gort_go(hog, NULL) == 0);
    for (int i = 0; i < 20; i++)
        gort_sleep(1000000); /* each wake-up needs the hog preempted */
    send_and_count(&got, NSEND);

    /* signal() goes behind gort's too, and returns the previous one. */
    CHECK((void *)signal(SIGURG, on_urg_plain) == (void *)on_urg);
    CHECK(sigaction(SIGURG, NULL, &old) == 0 && old.sa_handler == on_urg_plain);
    for (int i = 0; i < 20; i++)
        gort_sleep(1000000);
    send_and_count(&got_plain, NSEND);
    /* sysv_signal: one delivery, then the default again (SA_RESETHAND). */
    CHECK(sysv_signal(SIGURG, on_urg_plain) == on_urg_plain);
    send_and_count(&got_plain, 1);
    CHECK(sigaction(SIGURG, NULL, &old) == 0 && old.sa_handler == SIG_DFL);
    CHECK(signal(SIGURG, on_urg_plain) == SIG_DFL);
    CHECK(signal(SIGURG, SIG_DFL) == on_urg_plain);
    for (int i = 0; i < 20; i++)
        gort_sleep(1000000);
    /* System V's sigset too (it went straight to libc and replaced gort's
     * handler: no preemption after it, the sleeps below hung). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    CHECK(sigset(SIGURG, on_urg_plain) == SIG_DFL);
    CHECK(sigaction(SIGURG, NULL, &old) == 0 && old.sa_handler == on_urg_plain);
    for (int i = 0; i < 20; i++)
        gort_sleep(1000000);
    send_and_count(&got_plain, NSEND);
    CHECK(sigset(SIGURG, SIG_DFL) == on_urg_plain);
#pragma GCC diagnostic pop
    for (int i = 0; i < 20; i++)
        gort_sleep(1000000);

    atomic_store(&release, true);
    gort_wg_wait(&wg);
    gort_stats s;
    gort_read_stats(&s);
    fprintf(stderr, "got %ld + %ld, foreign %ld; %llu async preemptions, %llu signals sent\n",
            atomic_load(&got), atomic_load(&got_plain), atomic_load(&foreign),
            (unsigned long long)s.async_preempts, (unsigned long long)s.signals_sent);
    CHECK_EQ(atomic_load(&got), NSEND);
    CHECK_EQ(atomic_load(&got_plain), 2 * NSEND + 1);
    CHECK_EQ(atomic_load(&foreign), 0);
    CHECK(s.async_preempts >= 60, "%llu", (unsigned long long)s.async_preempts);
}

static void child(void *arg)
{
    (void)arg;
    setenv("GORTMAXPROCS", "1", 1);
    setenv("GORTDEBUG", "quantum=1ms,stuckreport=3s", 1);
    alarm(60); /* a hang fails the run */
    run_main(main_g, NULL);
}

int main(void)
{
    char buf[16384];
    int st = capture_child(child, NULL, buf, sizeof buf);
    fputs(buf, stderr);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    return 0;
}
