/*
 * siglat.c — the floor under any signal-based stop-the-world: how long a
 * SIGURG sent with tgkill takes to reach a handler on a thread spinning in
 * user code, on this machine, with no runtime involved.  gort's STW pause
 * is this plus the trampoline, a scheduler pass and the stopper's wakeup;
 * Go 1.19's has the same floor.  Not a twin benchmark: it bounds what the
 * "STW p99 <= 0.1 x Go" target can reach (see bench/README.md).
 * Prints p50/p99 of N deliveries, the sender sleeping between them.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic int64_t handled_at;
static _Atomic int target_tid, stop;

static int64_t now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void handler(int sig) { (void)sig; atomic_store(&handled_at, now()); }

static void *spinner(void *arg)
{
    (void)arg;
    atomic_store(&target_tid, (int)syscall(SYS_gettid));
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        ;
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    int64_t *v = malloc((size_t)n * sizeof *v);
    signal(SIGURG, handler);
    pthread_t th;
    pthread_create(&th, NULL, spinner, NULL);
    while (!atomic_load(&target_tid))
        ;
    for (int i = 0; i < n; i++) {
        atomic_store(&handled_at, 0);
        int64_t t0 = now();
        syscall(SYS_tgkill, getpid(), atomic_load(&target_tid), SIGURG);
        while (!atomic_load(&handled_at)) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
        v[i] = atomic_load(&handled_at) - t0;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("RESULT name=siglat impl=os unit=ns value=%lld p50=%lld p99=%lld max=%lld n=%d\n",
           (long long)v[n * 99 / 100], (long long)v[n / 2], (long long)v[n * 99 / 100],
           (long long)v[n - 1], n);
    return 0;
}
