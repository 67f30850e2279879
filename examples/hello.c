/* hello.c — the README's example: ten goroutines send their results over
 * a channel; a WaitGroup tells a closer goroutine when to close it. */
#include <gort.h>
#include <stdint.h>
#include <stdio.h>

static gort_chan *results;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static void worker(void *arg)
{
    int n = (int)(intptr_t)arg, sq = n * n;
    gort_chan_send(results, &sq);
    gort_wg_done(&wg);
}

static void closer(void *arg)
{
    gort_wg_wait(&wg);      /* every worker has sent */
    gort_chan_close(results);
}

static void main_goroutine(void *arg)
{
    results = gort_chan_make(sizeof(int), 0);
    for (int i = 1; i <= 10; i++) {
        gort_wg_add(&wg, 1);
        gort_go(worker, (void *)(intptr_t)i);
    }
    gort_go(closer, NULL);
    int v, sum = 0;
    while (gort_chan_recv(results, &v)) /* false once closed and drained */
        sum += v;
    printf("hello from 10 goroutines: sum of squares = %d\n", sum);
}

int main(void)
{
    return gort_main(main_goroutine, NULL);
}
