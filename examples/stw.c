/* stw.c — the talk "Pardon the interruption: loop preemption in Go 1.14":
 * stopping the world (as Go's GC does) must wait for every running
 * goroutine to stop, so one call-free loop ("Loops cause scheduling
 * latency", "Loops can cause scheduler deadlocks") stalls the whole
 * program.  Every P runs a goroutine spinning in a call-free loop while the
 * main goroutine times gort_stop_the_world() 500 times.  With asynchronous
 * preemption the spinners are interrupted by a signal at once; without it
 * (a child re-run with GORTDEBUG=asyncpreemptoff=1) the first stop never
 * completes: it hangs. */
#include <gort.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Re-execute this program (/proc/self/exe) with GORT_DEMO_CHILD=mode and
 * GORTDEBUG=dbg; SIGKILL it if it is not done within limit_s seconds. */
static bool run_child(const char *mode, const char *dbg, int limit_s)
{
    fflush(NULL);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        setenv("GORT_DEMO_CHILD", mode, 1);
        setenv("GORTDEBUG", dbg, 1);
        execl("/proc/self/exe", mode, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (now_s() - t0 > limit_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            printf("  => hung (killed after %d s)\n", limit_s);
            return false;
        }
        usleep(10000);
    }
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    printf(ok ? "  => finished (child ran %.2f s)\n" : "  => child failed after %.2f s\n",
           now_s() - t0);
    return ok;
}

enum { ROUNDS = 500 };
static atomic_int stop, started;
static atomic_ulong spins;

static void spinner(void *arg)
{
    unsigned long n = 0;
    atomic_fetch_add(&started, 1);
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        n++; /* call-free: no gort call, nowhere to stop voluntarily */
    atomic_fetch_add(&spins, n);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void main_goroutine(void *arg)
{
    static int64_t lat[ROUNDS];
    int procs = gort_maxprocs(0);
    for (int i = 0; i < procs; i++)
        gort_go(spinner, NULL);
    while (atomic_load(&started) < procs - 1)
        ; /* until every other P runs a spinner (one waits for ours) */
    printf("  %d Ps, each with a spinning goroutine; stopping the world %d times...\n",
           procs, ROUNDS);
    for (int i = 0; i < ROUNDS; i++) {
        int64_t t0 = gort_nanotime();
        gort_stop_the_world();
        lat[i] = gort_nanotime() - t0;
        gort_start_the_world();
        gort_sleep(200 * 1000); /* the spinners get every P back */
    }
    atomic_store(&stop, 1);
    qsort(lat, ROUNDS, sizeof lat[0], cmp64);
    gort_stats st;
    gort_read_stats(&st);
    printf("  stop-the-world latency: p50 %.1f us, p99 %.1f us, max %.1f us\n",
           lat[ROUNDS / 2] / 1e3, lat[ROUNDS * 99 / 100] / 1e3, lat[ROUNDS - 1] / 1e3);
    printf("  stw_count %llu, async preemptions %llu, preemption signals %llu\n",
           (unsigned long long)st.stw_count, (unsigned long long)st.async_preempts,
           (unsigned long long)st.signals_sent);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep order with the child's stderr */
    if (getenv("GORT_DEMO_CHILD"))
        return gort_main(main_goroutine, NULL);
    printf("-- with async preemption:\n");
    bool ok = run_child("on", "", 10);
    printf("-- without (GORTDEBUG=asyncpreemptoff=1):\n");
    run_child("off", "asyncpreemptoff=1,stuckreport=500ms", 2);
    return ok ? 0 : 1;
}
