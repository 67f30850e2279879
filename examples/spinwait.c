/* spinwait.c — the talk "Pardon the interruption: loop preemption in Go
 * 1.14": "Unbounded call-free loops could deadlock the scheduler".  On one
 * P (GOMAXPROCS=1) the main goroutine starts a goroutine that sets a flag,
 * then spin-waits for it without calling the runtime:
 *
 *     for (;;) if (atomic_load(&done)) break;   // Go: for atomic.Load(&s) == 0 {}
 *
 * With asynchronous preemption the spinner is interrupted after its time
 * slice, the setter runs and the loop ends.  Without it (a child re-run with
 * GORTDEBUG=asyncpreemptoff=1) the setter never gets the P: it hangs. */
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

static atomic_int done;

static void setter(void *arg)
{
    atomic_store(&done, 1);
}

static void main_goroutine(void *arg)
{
    gort_maxprocs(1);
    printf("  1 P; main starts the setter goroutine and spins on the flag...\n");
    int64_t t0 = gort_nanotime();
    gort_go(setter, NULL);
    for (;;)
        if (atomic_load(&done))
            break;
    gort_stats st;
    gort_read_stats(&st);
    printf("  flag seen after %.1f ms (async preemptions: %llu)\n",
           (gort_nanotime() - t0) / 1e6, (unsigned long long)st.async_preempts);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep order with the child's stderr */
    if (getenv("GORT_DEMO_CHILD"))
        return gort_main(main_goroutine, NULL);
    printf("-- with async preemption (GORTDEBUG=quantum=10ms):\n");
    bool ok = run_child("on", "quantum=10ms", 5);
    printf("-- without (GORTDEBUG=asyncpreemptoff=1):\n");
    run_child("off", "asyncpreemptoff=1,stuckreport=500ms", 2);
    return ok ? 0 : 1;
}
