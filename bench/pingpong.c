/*
 * pingpong.c — unbuffered channel ping-pong.  The main goroutine sends an
 * int64 on `ping` (unbuffered) and waits for it back on `pong`; a second
 * goroutine echoes.  Value: ns per round trip (two unbuffered hand-offs).
 * 10k warm-up round trips first.  Twins: bench/go "pingpong" (chan int64),
 * bench/boost/pingpong.cpp (boost::fibers::unbuffered_channel<int64_t>).
 */
#include "common.h"

static gort_chan *ping, *pong;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static long n_rounds;

static void echo(void *arg)
{
    (void)arg;
    int64_t v;
    while (gort_chan_recv(ping, &v))
        gort_chan_send(pong, &v);
    gort_wg_done(&wg);
}

static void bench(void *arg)
{
    (void)arg;
    long n = n_rounds;
    gort_stats s0, s1;
    char st[512];

    ping = gort_chan_make(sizeof(int64_t), 0);
    pong = gort_chan_make(sizeof(int64_t), 0);
    if (!ping || !pong)
        bench_die("gort_chan_make failed");
    gort_wg_add(&wg, 1);
    bench_go(echo, NULL);

    int64_t v = 0;
    for (long i = 0; i < 10000; i++) { /* warm-up */
        gort_chan_send(ping, &v);
        gort_chan_recv(pong, &v);
    }
    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    for (long i = 0; i < n; i++) {
        v = i;
        gort_chan_send(ping, &v);
        gort_chan_recv(pong, &v);
    }
    int64_t t1 = bench_now();
    gort_read_stats(&s1);
    gort_chan_close(ping);
    gort_wg_wait(&wg);
    if (v != n - 1)
        bench_die("pingpong: wrong value echoed");
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=pingpong impl=gort unit=ns/op value=%.1f n=%ld %s\n",
           (double)(t1 - t0) / (double)n, n, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_rounds = bench_arg(argc, argv, 500000);
    return gort_main(bench, NULL) ? 1 : 0;
}
