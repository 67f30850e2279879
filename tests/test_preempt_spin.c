/*
 * test_preempt_spin.c — the headline case of asynchronous preemption: with
 * one P, a goroutine spin-waiting in a call-free loop for a flag that only
 * another goroutine sets finishes, because the spinner is stopped by the
 * preemption signal; a ring of spinners passing a token needs a
 * preemption for (nearly) every hand-off and finishes too.  With
 * GORTDEBUG=asyncpreemptoff=1 the same spin-wait never finishes: the child
 * running it is killed by alarm().  Work a plain thread readies onto a P
 * whose lone loop has run past its slice is run within a few ms, even
 * though sysmon has stopped polling by then, and so does a timer such a
 * loop arms without blocking.
 *
 * Those two delays are measured in CPU time of the loop's thread: how long
 * the loop kept spinning after the work was readied (or the timer was
 * due), which is what gort's mechanism decides -- sysmon woken by the new
 * work or sleeping until the deadline, the signal sent, the loop stopped
 * at its next instruction.  Wall time also counts the time the machine did
 * not run our threads: with two competing busy loops and other processes
 * on 2 cores, the loop's thread waited up to 100 ms for a CPU with the
 * signal pending (schedstat run_delay), and 8 of 30 runs failed a 10 ms
 * wall-clock bound while the loop had spun for under 5 ms of CPU.  No
 * runtime can stop a thread that is not running.  Unloaded, the loop has
 * a CPU to itself and its CPU time is the wall time, so the check is the
 * same as the old wall-clock one; a missing wake-up (sysmon sleeping to
 * its next timed check, ~30 ms) still fails it unless the loop gets under
 * a third of a CPU.  Wall times are printed as well.
 *
 * Every case runs in its own child process, because the configuration is
 * read once per process, when the runtime starts.
 */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

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

/* Work readied onto a P whose lone loop has run for a while: sysmon has
 * stopped polling by then (a quiet spell), so only the wake-up that new
 * runnable work sends it gets the loop preempted within about a quantum
 * (at quantum=1ms), rather than at sysmon's next timed check (tens of
 * ms).  A plain thread starts the goroutine, as C code handing work to
 * goroutines would. */
#define NLATE 5
static _Atomic int late_stop;
static _Atomic int64_t late_t0, late_t1, late_c0, late_c1;
static gort_waitgroup late_wg = GORT_WAITGROUP_INIT;
/* The CPU clock of the thread running late_hog, once it runs. */
static clockid_t hog_clock;
static _Atomic int hog_running;

static void late_hog(void *arg)
{
    (void)arg;
    CHECK_EQ(pthread_getcpuclockid(pthread_self(), &hog_clock), 0);
    atomic_store(&hog_running, 1);
    while (!atomic_load_explicit(&late_stop, memory_order_relaxed))
        ;
    gort_wg_done(&late_wg);
}

static void late_work(void *arg)
{
    (void)arg;
    atomic_store(&late_t1, gort_nanotime());
    atomic_store(&late_c1, clock_ns(hog_clock));
    atomic_store_explicit(&late_stop, 1, memory_order_relaxed);
    gort_wg_done(&late_wg);
}

static void *late_starter(void *arg)
{
    (void)arg;
    /* The hog's clock is needed below: wait until it has started. */
    while (!atomic_load(&hog_running))
        usleep(1000);
    /* Let the hog's slice expire and sysmon go quiet (after a few 250 us
     * rounds); 20 ms is well inside sysmon's longest quiet sleep (50 ms),
     * so without the wake-up the work would wait ~30 ms. */
    usleep(20 * 1000);
    atomic_store(&late_t0, gort_nanotime());
    CHECK_EQ(gort_go(late_work, NULL), 0);
    /* The loop's CPU clock starts once gort_go has returned: the work is
     * queued and sysmon woken; time this thread waited for a CPU inside
     * gort_go is the machine's.  If the work ran before this read, the
     * difference is negative: it did not wait. */
    atomic_store(&late_c0, clock_ns(hog_clock));
    return NULL;
}

/* The same for a timer that a lone loop arms without ever blocking: its
 * P must be taken from the loop when the timer is due, so sysmon has to
 * learn of the new deadline while it sleeps. */
static _Atomic int64_t timer_late, timer_late_cpu;

static void timer_hog(void *arg)
{
    (void)arg;
    int64_t t0 = gort_nanotime();
    while (gort_nanotime() - t0 < 20 * 1000000LL) /* sysmon goes quiet */
        ;
    int64_t due = gort_nanotime() + 5 * 1000000LL; /* no later than the timer's */
    gort_chan *ch = gort_after(5 * 1000000LL);
    CHECK(ch != NULL);
    /* The CPU time this thread has used once the timer is due (sampled
     * at the first check after `due`, one inner loop late at most). */
    clockid_t clk;
    int64_t cpu_due = -1;
    /* Mostly call-free: a loop that lived in gort_chan_len (runtime code,
     * never an async safe point) would make every preemption signal miss
     * and measure that instead (11-15 ms in 1 of ~20 UBSan runs). */
    do {
        for (volatile int i = 0; i < 10000; i++)
            ;
        if (cpu_due < 0 && gort_nanotime() >= due) {
            CHECK_EQ(pthread_getcpuclockid(pthread_self(), &clk), 0);
            cpu_due = clock_ns(clk);
        }
    } while (gort_chan_len(ch) == 0);
    /* If the timer fired before the loop saw it due, it cost no spinning. */
    atomic_store(&timer_late_cpu, cpu_due < 0 ? 0 : clock_ns(clk) - cpu_due);
    atomic_store(&timer_late, gort_nanotime() - due); /* >= the true lateness */
    gort_chan_free(ch);
    gort_wg_done(&late_wg);
}

static void main_late(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_maxprocs(0), 1);
    int64_t worst = 0, worst_wall = 0;
    for (int i = 0; i < NLATE; i++) {
        atomic_store(&late_stop, 0);
        atomic_store(&hog_running, 0);
        gort_wg_add(&late_wg, 2);
        CHECK_EQ(gort_go(late_hog, NULL), 0);
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, late_starter, NULL), 0);
        gort_wg_wait(&late_wg);
        CHECK_EQ(pthread_join(th, NULL), 0);
        int64_t d = atomic_load(&late_c1) - atomic_load(&late_c0);
        if (d > worst)
            worst = d;
        d = atomic_load(&late_t1) - atomic_load(&late_t0);
        if (d > worst_wall)
            worst_wall = d;
    }
    printf("work readied onto a lone loop ran after the loop spun at most %.2f ms of CPU "
           "(%.2f ms wall; quantum 1 ms)\n", worst / 1e6, worst_wall / 1e6);
    CHECK(worst < 10 * 1000000LL, "%.2f ms of CPU (%.2f ms wall)", worst / 1e6, worst_wall / 1e6);

    gort_wg_add(&late_wg, 1);
    CHECK_EQ(gort_go(timer_hog, NULL), 0);
    gort_wg_wait(&late_wg);
    int64_t tl = atomic_load(&timer_late), tc = atomic_load(&timer_late_cpu);
    printf("a 5 ms timer armed by a lone loop fired after the loop spun %.2f ms of CPU past it "
           "(%.2f ms late in wall time)\n", tc / 1e6, tl / 1e6);
    CHECK(tc < 10 * 1000000LL, "%.2f ms of CPU (%.2f ms wall)", tc / 1e6, tl / 1e6);
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

static void late_child(void *arg)
{
    (void)arg;
    setenv("GORTMAXPROCS", "1", 1);
    setenv("GORTDEBUG", "quantum=1ms", 1);
    alarm(20);
    run_main(main_late, NULL);
    fflush(NULL);
}

int main(void)
{
    /* Preemption on: both finish well inside the alarm. */
    int st = run_child("quantum=1ms", false, 20);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "spin child status %#x", st);
    st = run_child("quantum=1ms", true, 60);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ring child status %#x", st);

    char err[4096];
    st = capture_child(late_child, NULL, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "late-work child status %#x: %s", st, err);

    /* Preemption off: the spin-wait with one P can never end. */
    st = run_child("quantum=1ms,asyncpreemptoff=1,stuckreport=0", false, 2);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM,
          "asyncpreemptoff child should hang until SIGALRM, status %#x", st);
    printf("asyncpreemptoff=1: spin-wait hung as expected (killed by SIGALRM)\n");
    return 0;
}
