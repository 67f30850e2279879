/* gort_maxprocs before gort_main: resizing restarts the world, and the
 * restart's wakep must not start an M that takes the only P before
 * gort_main does (it found none and crashed in acquirep: SIGSEGV in about
 * a third of the runs with one P).  Each setting runs in fresh child
 * processes, many times, since the failure was a race. */
#include "check.h"

static void gmain(void *arg)
{
    int want = (int)(intptr_t)arg;
    CHECK_EQ(gort_maxprocs(0), want);
    gort_stats s;
    gort_read_stats(&s);
    CHECK_EQ(s.procs, want);
}

static void child(int procs)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        CHECK(gort_maxprocs(procs) >= 1);
        run_main(gmain, (void *)(intptr_t)procs);
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "maxprocs %d: status %#x", procs, st);
}

int main(void)
{
    for (int i = 0; i < 40; i++) {
        child(1);
        child(2);
    }
    return 0;
}
