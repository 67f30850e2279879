/*
 * select.c — select over 4 channels.  Four producer goroutines each send
 * N/4 int64s on their own channel (capacity 128) and close it; the main
 * goroutine runs gort_select over the four receive cases until all are
 * closed (a closed case is disabled by setting its channel to NULL, as Go
 * sets a nil channel).  Value: wall time / N = ns per select that received
 * a value.  Twin: bench/go "select" (a 4-case select statement).  Boost.Fiber
 * has no select, so there is no Boost twin.
 */
#include "common.h"

enum { NCH = 4 };
static gort_chan *chans[NCH];
static long per_producer;

static void producer(void *arg)
{
    gort_chan *c = arg;
    for (int64_t i = 0; i < per_producer; i++)
        gort_chan_send(c, &i);
    gort_chan_close(c);
}

static int64_t run(long per)
{
    gort_case cases[NCH];
    int64_t vals[NCH], sum = 0;
    per_producer = per;
    for (int i = 0; i < NCH; i++) {
        chans[i] = gort_chan_make(sizeof(int64_t), 128);
        if (!chans[i])
            bench_die("gort_chan_make failed");
        cases[i] = (gort_case){ .chan = chans[i], .op = GORT_RECV, .elem = &vals[i] };
    }
    for (int i = 0; i < NCH; i++)
        bench_go(producer, chans[i]);
    for (int open = NCH; open > 0;) {
        int k = gort_select(cases, NCH, -1);
        if (k < 0)
            bench_die("select: unexpected timeout");
        if (!cases[k].ok) {
            cases[k].chan = NULL;
            open--;
        } else {
            sum += vals[k];
        }
    }
    return sum;
}

static long n_total;

static void bench(void *arg)
{
    (void)arg;
    long per = n_total / NCH, n = per * NCH;
    gort_stats s0, s1;
    char st[512];

    run(2500); /* warm-up */
    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    int64_t sum = run(per);
    int64_t t1 = bench_now();
    gort_read_stats(&s1);
    if (sum != (int64_t)NCH * per * (per - 1) / 2)
        bench_die("select: wrong sum");
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=select impl=gort unit=ns/op value=%.1f n=%ld %s\n",
           (double)(t1 - t0) / (double)n, n, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_total = bench_arg(argc, argv, 2000000);
    return gort_main(bench, NULL) ? 1 : 0;
}
