/* Many goroutines: 100k goroutines parked on one channel.  That is more
 * than vm.max_map_count allows guarded stacks for, so this exercises the
 * unguarded-slab fallback (and its one-time warning, checked in a child),
 * and checks the resident memory per parked goroutine stays near one page. */
#include "check.h"
#include <stdatomic.h>

#define N 100000
static gort_chan *gate;
static gort_waitgroup started, finished;
static _Atomic long sum;

static void parked(void *arg)
{
    gort_wg_done(&started);
    int v = 0;
    CHECK(gort_chan_recv(gate, &v));
    atomic_fetch_add(&sum, v + (long)(intptr_t)arg);
    gort_wg_done(&finished);
}

static void gmain(void *arg)
{
    (void)arg;
    gate = gort_chan_make(sizeof(int), 0);
    long before = rss_bytes();
    gort_wg_add(&started, N);
    gort_wg_add(&finished, N);
    for (long i = 0; i < N; i++)
        CHECK_EQ(gort_go(parked, (void *)(intptr_t)i), 0);
    gort_wg_wait(&started);
    long after = rss_bytes();
    double per = (double)(after - before) / N;
    fprintf(stderr, "RSS per parked goroutine: %.0f bytes\n", per);
#if defined(__SANITIZE_ADDRESS__)
    (void)per; /* ASan's shadow and redzones inflate RSS: no bound */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    (void)per;
#else
    CHECK(per < 6000, "%.0f bytes per parked goroutine", per);
#endif
#else
    CHECK(per < 6000, "%.0f bytes per parked goroutine", per);
#endif
    CHECK(gort_num_goroutine() >= N);
    for (int i = 0; i < N; i++) {
        int one = 1;
        gort_chan_send(gate, &one);
    }
    gort_wg_wait(&finished);
    CHECK_EQ(atomic_load(&sum), (long)N + (long)N * (N - 1) / 2);
}

static void child(void *arg)
{
    (void)arg;
    exit(gort_main(gmain, NULL));
}

int main(void)
{
    expect_child(child, NULL, 0, "further stacks have no guard page", NULL);
    return 0;
}
