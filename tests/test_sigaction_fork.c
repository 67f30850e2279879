/*
 * test_sigaction_fork.c — a fork()'s child can set signal actions even if
 * another thread of the parent was inside sigaction at the fork.
 *
 * gort's sigaction wrapper holds a lock around the action change
 * (interpose_signal.c); a child of fork() inherits it as it was, and its
 * holder did not come along.  The library's constructor registers a
 * pthread_atfork child handler that frees it, so it works before
 * gort_main too, which this test never calls.  A plain thread sets
 * SIGUSR2's action in a loop while the main thread forks 200 times; each
 * child sets SIGUSR1's action and exits 0.  A child stuck on the lock (it
 * spins with every signal blocked) is killed after 10 s and fails the
 * test.
 */
#include "check.h"

#include <stdatomic.h>

enum { FORKS = 200 };

static _Atomic int stop;

static void handler(int sig) { (void)sig; }

static void *installer(void *arg)
{
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = handler;
    while (!atomic_load(&stop))
        CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);
    return NULL;
}

/* Wait up to 10 s for the child; kill it and fail if it hangs. */
static void reap(pid_t pid, int i)
{
    for (int ms = 0; ms < 10000; ms++) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        CHECK(r >= 0, "waitpid: %s", strerror(errno));
        if (r == pid) {
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: status %#x", i, st);
            return;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    CHECK(0, "child %d hung in sigaction (the lock its parent's thread held)", i);
}

int main(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, installer, NULL) == 0);
    for (int i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sigemptyset(&sa.sa_mask);
            sa.sa_handler = handler;
            _exit(sigaction(SIGUSR1, &sa, NULL) == 0 ? 0 : 3);
        }
        reap(pid, i);
    }
    atomic_store(&stop, 1);
    CHECK(pthread_join(t, NULL) == 0);
    puts("ok");
    return 0;
}
