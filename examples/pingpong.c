/* pingpong.c — two goroutines bat a counter back and forth over two
 * unbuffered channels, then the main goroutine waits for a ball that never
 * comes with a select timeout.  Prints the cost of one round trip (two
 * channel hand-offs and two goroutine switches). */
#include <gort.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static gort_chan *ping, *pong;

static void player(void *arg)
{
    int64_t ball;
    while (gort_chan_recv(ping, &ball)) { /* until main closes ping */
        ball++;
        gort_chan_send(pong, &ball);
    }
}

static void main_goroutine(void *arg)
{
    int rounds = *(int *)arg;
    ping = gort_chan_make(sizeof(int64_t), 0);
    pong = gort_chan_make(sizeof(int64_t), 0);
    gort_go(player, NULL);

    int64_t ball = 0;
    int64_t t0 = gort_nanotime();
    for (int i = 0; i < rounds; i++) {
        gort_chan_send(ping, &ball);
        gort_chan_recv(pong, &ball);
        ball++;
    }
    int64_t dt = gort_nanotime() - t0;
    printf("pingpong: %d round trips, ball = %lld, %.0f ns per round trip (%d Ps)\n",
           rounds, (long long)ball, (double)dt / rounds, gort_maxprocs(0));

    /* Nobody serves now: a select with a 10ms timeout gives up. */
    gort_case c = {.chan = pong, .op = GORT_RECV, .elem = &ball};
    int64_t t1 = gort_nanotime();
    int which = gort_select(&c, 1, 10 * 1000 * 1000);
    printf("pingpong: select returned %d after %.1f ms (-1 = timeout)\n", which,
           (gort_nanotime() - t1) / 1e6);
    gort_chan_close(ping);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 100000;
    if (rounds < 1)
        rounds = 1;
    return gort_main(main_goroutine, &rounds);
}
