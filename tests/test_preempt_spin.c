/*
 * test_preempt_spin.c — the headline case of asynchronous preemption: with
 * one P, a goroutine spin-waiting in a call-free loop for a flag that only
 * another goroutine sets finishes, because the spinner is stopped by the
 * preemption signal; a ring of spinners passing a token needs a
 * preemption for (nearly) every hand-off and finishes too.  With
 * GORTDEBUG=asyncpreemptoff=1 the same spin-wait never finishes: the child
 * running it is killed by alarm().
 *
 * Every case runs in its own child process, because the configuration is
 * read once per process, when the runtime starts.
 */
#include "check.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

static _Atomic int flag;

static void setter(void *arg)
{
    (void)arg;
    atomic_store_explicit(&flag, 1, memory_order_relaxed);
}

/* The loop the talk is about: no call, so nothing but a signal stops it. */
static void spin_until_set(void)
{
    while (!atomic_load_explicit(&flag, memory_order_relaxed))
        ;
}

#define NRING 4
#define ROUNDS 40
static _Atomic int turn;
static gort_waitgroup ring_wg = GORT_WAITGROUP_INIT;

static void ringer(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        while (atomic_load_explicit(&turn, memory_order_relaxed) != me)
            ;
        atomic_store_explicit(&turn, (me + 1) % NRING, memory_order_relaxed);
    }
    gort_wg_done(&ring_wg);
}

static void main_spin(void *arg)
{
    bool ring = arg != NULL;
    CHECK_EQ(gort_maxprocs(0), 1);
    CHECK_EQ(gort_go(setter, NULL), 0);
    spin_until_set();
    if (ring) {
        gort_wg_add(&ring_wg, NRING);
        for (int i = 0; i < NRING; i++)
            CHECK_EQ(gort_go(ringer, (void *)(intptr_t)i), 0);
        gort_wg_wait(&ring_wg);
        CHECK_EQ(atomic_load(&turn), 0);
    }
    gort_stats st;
    gort_read_stats(&st);
    printf("async_preempts=%llu sync_preempts=%llu requests=%llu signals=%llu\n",
           (unsigned long long)st.async_preempts, (unsigned long long)st.sync_preempts,
           (unsigned long long)st.preempt_requests, (unsigned long long)st.signals_sent);
    /* Neither loop makes a runtime call: only async preemption can have
     * moved them.  The ring needs more than one per round trip. */
    CHECK(st.async_preempts >= (ring ? (uint64_t)ROUNDS : 1), "%llu",
          (unsigned long long)st.async_preempts);
    CHECK(st.signals_sent >= st.async_preempts);
}

/* Run main_spin under the given GORTDEBUG in a child; returns its status. */
static int run_child(const char *gortdebug, bool ring, unsigned alarm_s)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setenv("GORTMAXPROCS", "1", 1);
        setenv("GORTDEBUG", gortdebug, 1);
        alarm(alarm_s);
        int rc = gort_main(main_spin, ring ? (void *)1 : NULL);
        fflush(NULL);
        _exit(rc == 0 ? 0 : 3);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    return st;
}

int main(void)
{
    /* Preemption on: both finish well inside the alarm. */
    int st = run_child("quantum=1ms", false, 20);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "spin child status %#x", st);
    st = run_child("quantum=1ms", true, 60);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ring child status %#x", st);

    /* Preemption off: the spin-wait with one P can never end. */
    st = run_child("quantum=1ms,asyncpreemptoff=1,stuckreport=0", false, 2);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM,
          "asyncpreemptoff child should hang until SIGALRM, status %#x", st);
    printf("asyncpreemptoff=1: spin-wait hung as expected (killed by SIGALRM)\n");
    return 0;
}
