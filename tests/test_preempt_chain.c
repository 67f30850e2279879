/*
 * test_preempt_chain.c — a program's own SIGURG handler keeps working.
 * It is installed before gort_main; the runtime's handler saves it and
 * passes on every SIGURG that is not a preemption signal.  While hogs are
 * being preempted (so the runtime's SIGURGs are flying), SIGURGs sent with
 * kill() reach the program's handler, each one (the test waits for each
 * before sending the next, as standard signals coalesce), with
 * si_code == SI_USER; the runtime's own preemption signals never do.
 */
#include "check.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

#define NKILL 20

static _Atomic int user_seen, user_bad_code;

static void user_handler(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    if (sig != SIGURG || si->si_code != SI_USER)
        atomic_fetch_add(&user_bad_code, 1);
    atomic_fetch_add(&user_seen, 1);
}

static _Atomic int stop;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static void hog(void *arg)
{
    (void)arg;
    volatile uint64_t x = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        x = x + 1;
    gort_wg_done(&wg);
}

static void main_g(void *arg)
{
    (void)arg;
    int nhog = gort_maxprocs(0) + 2;
    gort_wg_add(&wg, nhog);
    for (int i = 0; i < nhog; i++)
        CHECK_EQ(gort_go(hog, NULL), 0);
    for (int i = 0; i < NKILL; i++) {
        int before = atomic_load(&user_seen);
        CHECK(kill(getpid(), SIGURG) == 0);
        int64_t t0 = gort_nanotime();
        while (atomic_load(&user_seen) == before) {
            CHECK(gort_nanotime() - t0 < 5000000000LL, "kill() %d never reached the handler", i);
            gort_sleep(100000);
        }
        gort_sleep(10000000); /* let the hogs be preempted in between */
    }
    atomic_store(&stop, 1);
    gort_wg_wait(&wg);
    gort_stats st;
    gort_read_stats(&st);
    fprintf(stderr, "async_preempts=%llu signals=%llu user handler calls=%d\n",
            (unsigned long long)st.async_preempts, (unsigned long long)st.signals_sent,
            atomic_load(&user_seen));
    CHECK(st.signals_sent > 0, "no preemption signal was sent during the test");
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = user_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGURG, &sa, NULL) == 0);
    setenv("GORTDEBUG", "quantum=500us", 1);
    run_main(main_g, NULL);
    CHECK_EQ(atomic_load(&user_seen), NKILL);
    CHECK_EQ(atomic_load(&user_bad_code), 0);
    /* The program sees its own handler (sigaction reports the program's
     * action, interpose_signal.c) while the kernel still has the
     * runtime's, chaining to it. */
    struct sigaction cur;
    CHECK(sigaction(SIGURG, NULL, &cur) == 0);
    CHECK(cur.sa_sigaction == user_handler);
    CHECK(kernel_sigaction(SIGURG).handler != (void *)user_handler);
    printf("%d kill(SIGURG) reached the program's handler; no preemption signal did\n", NKILL);
    return 0;
}
