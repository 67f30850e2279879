/* demo_child.h — shared by the preemption demos (darken.c, forever.c,
 * spinwait.c, stw.c).  Each demo runs its scenario in a child process, once
 * with asynchronous preemption and once without, because the "without" run
 * may hang for good:
 *
 *   demo_start(fn)              call first in main(): line-buffers stdout
 *                               (keeps order with the child's stderr); in
 *                               the child (GORT_DEMO_CHILD set) it runs fn
 *                               as the main goroutine and exits with
 *                               gort_main's result, so it returns only in
 *                               the parent;
 *   now_s()                     monotonic clock in seconds (no gort call);
 *   run_child(mode, dbg, lim)   re-execute this program (/proc/self/exe)
 *                               with GORT_DEMO_CHILD=mode and GORTDEBUG=dbg,
 *                               SIGKILL it after lim seconds, print a
 *                               "  => ..." line saying how it ended, and
 *                               return whether it exited 0;
 *   cmp64(a, b)                 qsort comparator for int64_t.
 *
 * Header-only: every function is static inline, so a demo that uses only
 * some of them builds without unused-function warnings. */
#ifndef GORT_EXAMPLES_DEMO_CHILD_H
#define GORT_EXAMPLES_DEMO_CHILD_H

#include <gort.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline void demo_start(void (*main_goroutine)(void *))
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep order with the child's stderr */
    if (getenv("GORT_DEMO_CHILD"))
        exit(gort_main(main_goroutine, NULL));
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Re-execute this program (/proc/self/exe) with GORT_DEMO_CHILD=mode and
 * GORTDEBUG=dbg; SIGKILL it if it is not done within limit_s seconds. */
static inline bool run_child(const char *mode, const char *dbg, int limit_s)
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

static inline int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

#endif
