/*
 * rwmutex.c — read-mostly RWMutex (issue 13).  G=8 goroutines (on 2 Ps)
 * share one gort_rwmutex; each does N/G operations, of which every 100th
 * is a write (lock, increment a shared counter, unlock) and the others
 * reads (rlock, read the counter, runlock) — the shape of Go's
 * BenchmarkRWMutexWrite100.  Value: wall time / N = ns per operation.
 * With "1w" as the second argument (rwmutex1w): one writing goroutine
 * among the 8, the other reading of "8 goroutines, 1 writer";
 * it writes every 100th of its operations (1 op in 800 overall), the
 * other seven only read.
 * N = 20M (about a second): at 4M a run lasted ~0.15 s and its value
 * swung 2x from run to run on the shared 2-core machine.
 * Twin: bench/go "rwmutex" (sync.RWMutex).
 */
#include "common.h"

enum { G = 8, WRITE_EVERY = 100 };
/* The lock on a cache line of its own, as it lands in Go's binary (there
 * the linker puts main.rwmu far from main.rwCounter); sharing one with the
 * counter the writers bump would cost every reader a miss per write. */
static gort_rwmutex rw __attribute__((aligned(64))) = GORT_RWMUTEX_INIT;
static long counter __attribute__((aligned(64)));
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static long seen;
static bool one_writer;
static atomic_int tickets; /* workers started: in each run of G, the first writes */

static void worker(void *arg)
{
    long n = (long)(intptr_t)arg, sum = 0;
    bool writes = !one_writer || atomic_fetch_add(&tickets, 1) % G == 0;
    for (long i = 0; i < n; i++) {
        if (writes && i % WRITE_EVERY == 0) {
            gort_rwmutex_lock(&rw);
            counter++;
            gort_rwmutex_unlock(&rw);
        } else {
            gort_rwmutex_rlock(&rw);
            sum += *(volatile long *)&counter;
            gort_rwmutex_runlock(&rw);
        }
    }
    __atomic_add_fetch(&seen, sum != 0, __ATOMIC_RELAXED);
    gort_wg_done(&wg);
}

static long n_total;

static void bench(void *arg)
{
    (void)arg;
    long per = n_total / G, n = per * G;
    char st[512];
    int64_t ns = bench_workers_timed(worker, &wg, G, per, &counter, st, sizeof st);
    long writers = one_writer ? 1 : G;
    if (counter != writers * ((per + WRITE_EVERY - 1) / WRITE_EVERY))
        bench_die("rwmutex: lost increments");
    printf("RESULT name=%s impl=gort unit=ns/op value=%.1f n=%ld goroutines=%d writers=%ld "
           "write_every=%d %s\n",
           one_writer ? "rwmutex1w" : "rwmutex", (double)ns / (double)n, n, G, writers,
           WRITE_EVERY, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_total = bench_arg(argc, argv, 20000000);
    one_writer = argc > 2 && strcmp(argv[2], "1w") == 0;
    return gort_main(bench, NULL) ? 1 : 0;
}
