/*
 * test_dump_malloc.c — SIGQUIT to a program whose goroutines loop in
 * malloc/free, with preemption frequent (GORTDEBUG=quantum=100us): the
 * signal often lands on a thread whose SIGURG handler is running on top
 * of malloc.  The dump used to take the handler's pc (runtime code) as
 * proof that libdw could be loaded, and dlopen's calloc waited for the
 * arena lock that the malloc frame underneath held: no dump, and the
 * process hung for ever (an adversarial hunt: 9 of 40 runs).  Each round
 * here must end in the dump's exit status 2, within 20 s.
 */
#define _GNU_SOURCE
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

enum { ROUNDS = 20 };

static volatile long sink;

static void churn(void *arg)
{
    (void)arg;
    for (;;) {
        void *p = malloc((size_t)(sink % 5000 + 1));
        sink++;
        free(p);
    }
}

static void child_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (int i = 0; i < 4; i++)
        CHECK_EQ(gort_go(churn, NULL), 0);
    CHECK_EQ(write(fd, "r", 1), 1);
    for (;;)
        gort_sleep(1000000);
}

static void one_round(int round)
{
    int p[2];
    CHECK(pipe(p) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2); /* the dump itself is not what is checked */
        setenv("GORTMAXPROCS", "2", 1);
        setenv("GORTDEBUG", "quantum=100us", 1);
        gort_main(child_main, (void *)(intptr_t)p[1]);
        _exit(1);
    }
    close(p[1]);
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1);
    close(p[0]);
    struct timespec ts = {0, (long)(round % 5) * 10000000L + 20000000L};
    nanosleep(&ts, NULL);
    CHECK(kill(pid, SIGQUIT) == 0);
    int st = 0;
    for (int i = 0; i < 2000; i++) { /* 20 s */
        pid_t r = waitpid(pid, &st, WNOHANG);
        CHECK(r >= 0);
        if (r == pid)
            break;
        if (i == 1999) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            CHECK(0, "round %d: no exit 20 s after SIGQUIT (the dump hung)", round);
        }
        ts = (struct timespec){0, 10000000L};
        nanosleep(&ts, NULL);
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "round %d: status %#x", round, st);
}

int main(void)
{
    for (int r = 0; r < ROUNDS; r++)
        one_round(r);
    printf("ok (%d dumps)\n", ROUNDS);
    return 0;
}
