/*
 * pipeline.c — a pipeline of stages over buffered channels: a source
 * goroutine sends 1..N on a channel of capacity 128; six stage goroutines
 * each receive from the previous channel until it is closed, apply their
 * own step (v = v * (2k + 3) + k, then one BENCH_MIX) and send on the next
 * channel (capacity 128), closing it at the end; the main goroutine is the
 * sink and sums what comes out.  The sum is checked against the same steps
 * run sequentially (before the clock starts; exit 2 on a mismatch).
 * Value: wall time in ms.  Go twin: bench/go "pipeline" (programs.go),
 * `for v := range in { out <- f(v) }; close(out)`.
 *
 * What it stresses: buffered channels between goroutines on 2 Ps, where a
 * stage parks when its input is empty or its output full and the
 * scheduler decides who runs next (batching through the buffers, or a
 * wake per item).
 *
 * argv[1]: the number of items (default 1000000).
 */
#include "common.h"

enum { STAGES = 6, CAP = 128 };

static gort_chan *ch[STAGES + 1];
static long n_items;

static inline uint64_t step(uint64_t v, int k)
{
    v = v * (uint64_t)(2 * k + 3) + (uint64_t)k;
    BENCH_MIX(v);
    return v;
}

static void source(void *arg)
{
    (void)arg;
    for (uint64_t v = 1; v <= (uint64_t)n_items; v++)
        gort_chan_send(ch[0], &v);
    gort_chan_close(ch[0]);
}

static void stage(void *arg)
{
    int k = (int)(uintptr_t)arg;
    gort_chan *in = ch[k], *out = ch[k + 1];
    uint64_t v;
    while (gort_chan_recv(in, &v)) {
        v = step(v, k);
        gort_chan_send(out, &v);
    }
    gort_chan_close(out);
}

static void bench(void *arg)
{
    (void)arg;
    gort_stats s0, s1;
    char st[512];
    long n = n_items;
    uint64_t want = 0, sum = 0, v;
    for (uint64_t i = 1; i <= (uint64_t)n; i++) {
        v = i;
        for (int k = 0; k < STAGES; k++)
            v = step(v, k);
        want += v;
    }
    for (int k = 0; k <= STAGES; k++)
        if (!(ch[k] = gort_chan_make(sizeof(uint64_t), CAP)))
            bench_die("gort_chan_make failed");

    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    bench_go(source, NULL);
    for (int k = 0; k < STAGES; k++)
        bench_go(stage, (void *)(uintptr_t)k);
    long got = 0;
    while (gort_chan_recv(ch[STAGES], &v)) {
        sum += v;
        got++;
    }
    int64_t t1 = bench_now();
    gort_read_stats(&s1);
    if (sum != want || got != n) {
        fprintf(stderr, "pipeline: %ld items summing to %" PRIu64 ", want %ld and %" PRIu64 "\n",
                got, sum, n, want);
        exit(2);
    }
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=pipeline impl=gort unit=ms value=%.1f items=%ld stages=%d ns_per_hop=%.1f %s\n",
           (double)(t1 - t0) / 1e6, n, STAGES, (double)(t1 - t0) / (double)n / (STAGES + 1), st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_items = bench_arg(argc, argv, 1000000);
    int rc = gort_main(bench, NULL);
    return rc ? 1 : 0;
}
