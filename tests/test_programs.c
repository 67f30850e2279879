/*
 * test_programs.c — issue 12's whole programs (bench/skynet.c, sieve.c,
 * pool.c, pipeline.c, msort.c, sleepers.c) at reduced sizes, each checking
 * its answer, so the runtime paths they take stay correct: a 10-ary tree
 * of 11,111 goroutines (1,111 in the second and third runs) summing over
 * unbuffered channels, the concurrent
 * prime sieve (150 filters), 1000 workers on a two-case select, a
 * six-stage pipeline over buffered channels, a parallel merge sort that
 * spawns down to a cutoff and waits on WaitGroups, and 500 goroutines
 * sleeping 1-3 ms (none may wake early).  All of it runs under one
 * runtime, three times in fresh children: GORTMAXPROCS=2, GORTMAXPROCS=1,
 * and GORTMAXPROCS=2 with GORTDEBUG=guardedstacks=64 so that almost every
 * goroutine runs on an unguarded slab stack (the path past
 * vm.max_map_count that skynet's million goroutines take).
 */
#include "check.h"

#include <stdint.h>

/* The programs' goroutines are the benchmarks' own (bench/skynet.h,
 * sieve.h, pool.h, msort.h).  They start goroutines and make channels
 * through bench_go and bench_chan, which here CHECK that it worked (and
 * count the goroutines: test_msort checks that its sort spawned), and
 * PROGRAM_CHECK checks what the benchmarks only evaluate. */
static _Atomic long spawns;

static gort_chan *bench_chan(size_t elem, size_t cap)
{
    gort_chan *c = gort_chan_make(elem, cap);
    CHECK(c != NULL);
    return c;
}

static void bench_go(void (*fn)(void *), void *arg)
{
    CHECK(gort_go(fn, arg) == 0);
    spawns++;
}

#define PROGRAM_CHECK(...) CHECK(__VA_ARGS__)
#define MSORT_CUTOFF 512

enum { POOL_WORKERS = 1000, POOL_JOBS = 5000 };

static uint64_t work(uint64_t x)
{
    for (int i = 0; i < 16; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        x ^= x >> 29;
    }
    return x;
}

#include "../bench/skynet.h"
#include "../bench/sieve.h"
#include "../bench/pool.h"
#include "../bench/msort.h"

/* ---- skynet --------------------------------------------------------- */

static void test_skynet(int64_t n)
{
    gort_chan *c = bench_chan(sizeof(int64_t), 0);
    struct sk_arg root = { c, 0, n };
    int64_t sum = 0;
    CHECK(gort_go(skynet, &root) == 0);
    CHECK(gort_chan_recv(c, &sum));
    CHECK_EQ(sum, n * (n - 1) / 2);
    gort_chan_free(c);
}

/* ---- prime sieve ---------------------------------------------------- */

static void test_sieve(void)
{
    static const int64_t first[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29 };
    gort_chan *ch = bench_chan(sizeof(int64_t), 0);
    int64_t prime = 0;
    CHECK(gort_go(generate, ch) == 0);
    for (int i = 0; i < 150; i++) {
        CHECK(gort_chan_recv(ch, &prime));
        if (i < 10)
            CHECK_EQ(prime, first[i]);
        gort_chan *ch1 = bench_chan(sizeof(int64_t), 0);
        struct filter_arg *a = malloc(sizeof *a);
        CHECK(a != NULL);
        *a = (struct filter_arg){ ch, ch1, prime };
        CHECK(gort_go(filter, a) == 0);
        ch = ch1;
    }
    CHECK_EQ(prime, 863); /* the 150th prime */
    /* The generator and the 150 filters stay parked on their channels,
     * as in Go's program; gort_main stops them at the end. */
}

/* ---- worker pool through select --------------------------------------- */

static void test_pool(void)
{
    uint64_t want = 0, sum = 0, r;
    for (int i = 0; i < POOL_JOBS; i++)
        want += work((uint64_t)i);
    jobs = bench_chan(sizeof(int64_t), 100);
    results = bench_chan(sizeof(uint64_t), 100);
    quit = bench_chan(0, 0);
    n_jobs = POOL_JOBS;
    gort_wg_add(&pool_wg, POOL_WORKERS);
    for (int w = 0; w < POOL_WORKERS; w++)
        CHECK(gort_go(worker, NULL) == 0);
    CHECK(gort_go(producer, NULL) == 0);
    for (int i = 0; i < POOL_JOBS; i++) {
        CHECK(gort_chan_recv(results, &r));
        sum += r;
    }
    gort_chan_close(quit);
    gort_wg_wait(&pool_wg);
    CHECK(sum == want, "pool: sum %" PRIu64 ", want %" PRIu64, sum, want);
    CHECK_EQ(gort_chan_len(results), 0);
}

/* ---- pipeline over buffered channels ---------------------------------- */

enum { STAGES = 6, ITEMS = 20000 };
static gort_chan *pipe_ch[STAGES + 1];

static uint64_t step(uint64_t v, int k)
{
    v = v * (uint64_t)(2 * k + 3) + (uint64_t)k;
    return v ^ (v >> 29);
}

static void source(void *arg)
{
    (void)arg;
    for (uint64_t v = 1; v <= ITEMS; v++)
        gort_chan_send(pipe_ch[0], &v);
    gort_chan_close(pipe_ch[0]);
}

static void stage(void *arg)
{
    int k = (int)(uintptr_t)arg;
    uint64_t v;
    while (gort_chan_recv(pipe_ch[k], &v)) {
        v = step(v, k);
        gort_chan_send(pipe_ch[k + 1], &v);
    }
    gort_chan_close(pipe_ch[k + 1]);
}

static void test_pipeline(void)
{
    uint64_t want = 0, sum = 0, v;
    for (uint64_t i = 1; i <= ITEMS; i++) {
        v = i;
        for (int k = 0; k < STAGES; k++)
            v = step(v, k);
        want += v;
    }
    for (int k = 0; k <= STAGES; k++)
        pipe_ch[k] = bench_chan(sizeof(uint64_t), 128);
    CHECK(gort_go(source, NULL) == 0);
    for (int k = 0; k < STAGES; k++)
        CHECK(gort_go(stage, (void *)(uintptr_t)k) == 0);
    long got = 0;
    while (gort_chan_recv(pipe_ch[STAGES], &v)) {
        sum += v;
        got++;
    }
    CHECK_EQ(got, ITEMS);
    CHECK(sum == want, "pipeline: sum %" PRIu64 ", want %" PRIu64, sum, want);
}

/* ---- parallel merge sort ---------------------------------------------- */

static void test_msort(void)
{
    enum { N = 50000 };
    int64_t *a = malloc(N * sizeof *a), *tmp = malloc(N * sizeof *a);
    CHECK(a && tmp);
    uint64_t x = 1, sum0 = 0, sum1 = 0;
    for (long i = 0; i < N; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        a[i] = (int64_t)(x >> 33) % 1000; /* many duplicates */
        sum0 += (uint64_t)a[i];
    }
    spawns = 0;
    psort(a, tmp, N);
    CHECK(spawns >= N / CUTOFF / 2, "only %ld goroutines spawned", (long)spawns);
    for (long i = 0; i < N; i++) {
        CHECK(i == 0 || a[i - 1] <= a[i], "not sorted at %ld", i);
        sum1 += (uint64_t)a[i];
    }
    CHECK(sum0 == sum1);
    free(a);
    free(tmp);
}

/* ---- sleepers ------------------------------------------------------- */

enum { SLEEPERS = 500, SLEEPS = 3 };
static gort_waitgroup sleep_wg = GORT_WAITGROUP_INIT;
static _Atomic long sleeps_done;

static void sleeper(void *arg)
{
    uint64_t s = 0x9E3779B97F4A7C15ULL * ((uintptr_t)arg + 1);
    for (int k = 0; k < SLEEPS; k++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        int64_t d = (int64_t)(1000 + s % 2001) * 1000; /* 1-3 ms */
        int64_t t = gort_nanotime();
        gort_sleep(d);
        int64_t late = gort_nanotime() - (t + d);
        CHECK(late >= 0, "sleep of %lld ns returned %lld ns early", (long long)d,
              (long long)-late);
        sleeps_done++;
    }
    gort_wg_done(&sleep_wg);
}

static void test_sleepers(void)
{
    sleeps_done = 0;
    gort_wg_add(&sleep_wg, SLEEPERS);
    for (long g = 0; g < SLEEPERS; g++)
        CHECK(gort_go(sleeper, (void *)(uintptr_t)g) == 0);
    gort_wg_wait(&sleep_wg);
    CHECK_EQ(sleeps_done, SLEEPERS * SLEEPS);
}

static void programs(void *arg)
{
    test_skynet((int64_t)(uintptr_t)arg);
    test_sieve();
    test_pool();
    test_pipeline();
    test_msort();
    test_sleepers();
    test_skynet(1000); /* again, on the Gs and stacks the others left */
}

int main(void)
{
    run_main_child(programs, (void *)(uintptr_t)10000, "2", NULL);
    run_main_child(programs, (void *)(uintptr_t)1000, "1", NULL);
    run_main_child(programs, (void *)(uintptr_t)1000, "2", "guardedstacks=64");
    printf("ok\n");
    return 0;
}
