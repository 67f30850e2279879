/* Goroutines readied while the only sleeping Ms hold no P (one blocked in
 * the poller, one asleep until the next timer) all run on the idle Ps.
 * startm wakes such an M instead of creating a thread (mstart.c, proc.c
 * gort__wake_pless_m_locked); a first version merged several wakers into
 * one woken M that did not pass the wake on, so with 4 Ps the 2nd and 3rd
 * goroutine a plain thread readied waited on the global queue until main's
 * unrelated 2 s timer (about half the runs; found by review).
 *
 * Setup: a goroutine waits on a pipe (an M blocks in the poller); three
 * workers park on channels of their own; main sleeps 2 s (its M is the
 * timer sleeper).  A plain thread then readies the three workers back to
 * back.  Worker 0 spins until the other two have started, which they
 * should at once on the idle Ps.  The gort_sleep calls before the readying
 * only let the Ms go to sleep; if they have not, nothing is tested, and
 * the check still holds. */
#define _GNU_SOURCE
#include "check.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

enum { NW = 3, PROCS = 4 };
static gort_chan *c[NW], *done;
static int pfd[2];
static _Atomic int64_t start[NW];
static atomic_int nstarted;

static void reader(void *arg)
{
    (void)arg;
    char b;
    gort_read(pfd[0], &b, 1); /* until close: a goroutine on the poller */
}

static void worker(void *arg)
{
    long id = (long)arg;
    char x;
    CHECK(gort_chan_recv(c[id], &x));
    int64_t t = gort_nanotime();
    atomic_store(&start[id], t);
    atomic_fetch_add(&nstarted, 1);
    if (id == 0) /* hold this P until the others run (bounded) */
        while (atomic_load(&nstarted) < NW && gort_nanotime() - t < 5000000000LL)
            ;
    gort_chan_send(done, &x);
}

static void *readier(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
    char x = 1;
    for (int i = 0; i < NW; i++)
        gort_chan_send(c[i], &x);
    return NULL;
}

static void gmain(void *arg)
{
    (void)arg;
    CHECK(pipe2(pfd, O_NONBLOCK | O_CLOEXEC) == 0);
    done = gort_chan_make(1, NW);
    CHECK(gort_go(reader, NULL) == 0);
    gort_sleep(5000000);
    for (long i = 0; i < NW; i++) {
        c[i] = gort_chan_make(1, 1);
        CHECK(gort_go(worker, (void *)i) == 0);
        gort_sleep(5000000);
    }
    pthread_t t;
    CHECK(pthread_create(&t, NULL, readier, NULL) == 0);
    gort_sleep(2000000000LL);
    char x;
    for (int i = 0; i < NW; i++)
        CHECK(gort_chan_recv(done, &x));
    pthread_join(t, NULL);
    int64_t worst = 0;
    for (int i = 1; i < NW; i++)
        if (start[i] - start[0] > worst)
            worst = start[i] - start[0];
    /* Normal: a few ms (an M's wake-up, under load more); the bug: ~2 s. */
    CHECK(worst < 1000000000LL, "worker started %.1f ms after worker 0 with %d Ps idle",
          (double)worst / 1e6, PROCS - 2);
    gort_close(pfd[1]);
    gort_close(pfd[0]);
}

int main(void)
{
    CHECK(gort_maxprocs(PROCS) >= 1);
    for (int i = 0; i < 3; i++) { /* fresh runtimes: the race is per start */
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            run_main(gmain, NULL);
            _exit(0);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "run %d: status %#x", i, st);
    }
    return 0;
}
