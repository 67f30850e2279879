/*
 * buffered.c — buffered channel producer -> consumer.  A producer goroutine
 * sends N int64s on a channel of capacity 128 and closes it; the main
 * goroutine receives until closed.  Value: ns per message.
 * Twins: bench/go "buffered" (make(chan int64, 128)) and
 * bench/boost/buffered.cpp (buffered_channel<int64_t>(128): Boost needs a
 * power-of-two capacity and holds capacity-1 = 127 values).
 */
#include "common.h"

static gort_chan *ch;
static long n_msgs;

static void producer(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (int64_t i = 0; i < n; i++)
        gort_chan_send(ch, &i);
    gort_chan_close(ch);
}

static int64_t run(long n)
{
    int64_t v, sum = 0;
    ch = gort_chan_make(sizeof(int64_t), 128);
    if (!ch)
        bench_die("gort_chan_make failed");
    bench_go(producer, (void *)(intptr_t)n);
    while (gort_chan_recv(ch, &v))
        sum += v;
    /* Not freed: the producer may still be returning from close (Go and
     * Boost leave it to the GC / destructor at exit too). */
    return sum;
}

static void bench(void *arg)
{
    (void)arg;
    long n = n_msgs;
    gort_stats s0, s1;
    char st[512];

    run(10000); /* warm-up */
    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    int64_t sum = run(n);
    int64_t t1 = bench_now();
    gort_read_stats(&s1);
    if (sum != (int64_t)n * (n - 1) / 2)
        bench_die("buffered: wrong sum");
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=buffered impl=gort unit=ns/op value=%.1f n=%ld %s\n",
           (double)(t1 - t0) / (double)n, n, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_msgs = bench_arg(argc, argv, 2000000);
    return gort_main(bench, NULL) ? 1 : 0;
}
