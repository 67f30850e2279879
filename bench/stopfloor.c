/*
 * stopfloor.c — the floor under a request-to-stop that needs no signal
 * (issue 11's split-stack mode), on this machine, with no runtime
 * involved: one thread sleeps 100 us, as bench/stop_fib's stopper does
 * between samples, then bumps a request word and spins until a thread
 * spinning on the other CPU has copied it into an acknowledge word.  That
 * is the least any poison-the-guard stop costs: the request's line goes
 * to the target's core and the answer's line comes back (gort's stop adds
 * the prologue's call into the runtime, a switch to g0 and the P's state
 * change).  A sample is late when either thread loses its CPU in between
 * (interrupts; on a VM, the hypervisor running something else on the
 * physical core), so the spinner also counts how often it lost its CPU:
 * it reads the clock on every turn, and a step over 10 us between two
 * reads is a gap.  Not a twin benchmark: it bounds what the target
 * "request-to-stop p99 <= 2 us" can reach here (see bench/README.md), as
 * siglat.c bounds the signal path.
 *
 * RESULT name=stopfloor impl=vm unit=ns value=<p99> p50= p90= p99= max=
 *        over2us_pct=<samples over 2 us, percent>
 *        gaps10_per_s=<the spinner's gaps over 10 us per second>
 *        gapmed_ns=<their median> lost_pct=<its time without the CPU>
 *
 * argv[1]: samples (default 5000).  The two threads are pinned to the
 * first two CPUs the process may use (unpinned if that fails).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { MAXGAPS = 1 << 20, GAP_NS = 10000 };

static _Atomic uint64_t req __attribute__((aligned(64)));
static _Atomic uint64_t ack __attribute__((aligned(64)));
static _Atomic int done;
static uint64_t gaps[MAXGAPS];
static long ngaps;
static uint64_t spin_t0, spin_t1;

static uint64_t now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (cpu >= 0 && pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
        fprintf(stderr, "stopfloor: cannot pin to CPU %d; unpinned\n", cpu);
}

static void *spinner(void *arg)
{
    pin((int)(intptr_t)arg);
    uint64_t last = now();
    spin_t0 = last;
    while (!atomic_load_explicit(&done, memory_order_relaxed)) {
        uint64_t r = atomic_load_explicit(&req, memory_order_relaxed);
        if (r != atomic_load_explicit(&ack, memory_order_relaxed))
            atomic_store_explicit(&ack, r, memory_order_relaxed);
        uint64_t t = now();
        if (t - last > GAP_NS && ngaps < MAXGAPS)
            gaps[ngaps++] = t - last;
        last = t;
    }
    spin_t1 = last;
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 5000;
    if (n < 100 || n > 10000000) {
        fprintf(stderr, "usage: stopfloor [samples, 100-10000000]\n");
        return 2;
    }
    int cpus[2] = {-1, -1}, k = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
            if (CPU_ISSET(c, &set))
                cpus[k++] = c;
    if (k < 2)
        cpus[0] = cpus[1] = -1; /* one CPU: the two threads share it */
    pin(cpus[0]);
    pthread_t th;
    if (pthread_create(&th, NULL, spinner, (void *)(intptr_t)cpus[1]) != 0) {
        fprintf(stderr, "stopfloor: pthread_create failed\n");
        return 1;
    }
    uint64_t *lat = malloc((size_t)n * sizeof *lat);
    if (!lat)
        return 1;
    struct timespec pause = {0, 100000};
    for (long i = 0; i < n; i++) {
        nanosleep(&pause, NULL);
        uint64_t t0 = now(), want = (uint64_t)i + 1;
        atomic_store_explicit(&req, want, memory_order_relaxed);
        while (atomic_load_explicit(&ack, memory_order_relaxed) != want)
            __builtin_ia32_pause();
        lat[i] = now() - t0;
    }
    atomic_store(&done, 1);
    pthread_join(th, NULL);
    qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
    long over2 = 0;
    for (long i = 0; i < n; i++)
        over2 += lat[i] > 2000;
    double span = (double)(spin_t1 - spin_t0) / 1e9, lost = 0;
    for (long i = 0; i < ngaps; i++)
        lost += (double)gaps[i];
    qsort(gaps, (size_t)ngaps, sizeof *gaps, cmp_u64);
#define PCT(p) (unsigned long long)lat[(long)((double)n * (p) / 100.0)]
    printf("RESULT name=stopfloor impl=vm unit=ns value=%llu n=%ld p50=%llu p90=%llu p99=%llu "
           "max=%llu over2us_pct=%.2f gaps10_per_s=%.0f gapmed_ns=%llu lost_pct=%.2f\n",
           PCT(99), n, PCT(50), PCT(90), PCT(99), (unsigned long long)lat[n - 1], 100.0 * (double)over2 / (double)n,
           (double)ngaps / span, ngaps ? (unsigned long long)gaps[ngaps / 2] : 0ULL,
           100.0 * lost / 1e9 / span);
    return 0;
}
