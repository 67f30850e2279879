/* Stacks: a goroutine can use most of its 256 KiB stack; running past it
 * hits the guard page (SIGSEGV, not silent corruption); and a burst of
 * goroutines that grew deep stacks does not pin that memory after they
 * exit (their pooled stacks are returned with madvise by the scavenger
 * thread, within its documented bound). */
#include "check.h"
#include <signal.h>

#define SCAVENGE_BOUND_MS 1000 /* docs/DESIGN.md "Stacks" */

/* Each level uses ~1 KiB of stack that the compiler cannot elide. */
__attribute__((noinline)) static long deep(int n)
{
    volatile char buf[1000];
    buf[0] = (char)n;
    buf[999] = (char)n;
    /* The address escapes: the compiler must keep all 1000 bytes (clang
     * otherwise lays out only the elements it sees used). */
    __asm__ volatile("" : : "r"(buf) : "memory");
    if (n == 0)
        return buf[0];
    return deep(n - 1) + buf[999];
}

static gort_waitgroup wg, reached;
static gort_chan *hold;

static void use_stack(void *arg)
{
    long levels = (long)(intptr_t)arg;
    CHECK(deep((int)levels) >= 0);
    gort_wg_done(&reached);
    gort_chan_recv(hold, NULL); /* keep the stack alive until released */
    gort_wg_done(&wg);
}

static void burst_main(void *arg)
{
    (void)arg;
    hold = gort_chan_make(0, 0);
    /* Warm up: allocate the Gs and stacks once, shallow. */
    const int n = 300;
    long before = rss_bytes();
    gort_wg_add(&wg, n);
    gort_wg_add(&reached, n);
    for (int i = 0; i < n; i++)
        gort_go(use_stack, (void *)(intptr_t)128); /* ~128 KiB each */
    gort_wg_wait(&reached);
    long peak = rss_bytes();
    gort_chan_close(hold);
    gort_wg_wait(&wg);
    /* The scavenger thread returns the deep pages; DESIGN.md "Stacks"
     * documents the bound it works within (SCAVENGE_BOUND_MS). */
    int64_t t0 = gort_nanotime();
    long after;
    do {
        gort_sleep(1000000);
        after = rss_bytes();
    } while (after - before >= 12L * 1024 * 1024 &&
             gort_nanotime() - t0 < SCAVENGE_BOUND_MS * 1000000LL);
    printf("deep pages returned in %lld ms\n", (long long)((gort_nanotime() - t0) / 1000000));
    printf("burst of %d deep goroutines: RSS +%ld KiB at peak, +%ld KiB after exit\n",
            n, (peak - before) / 1024, (after - before) / 1024);
    printf("before %ld KiB peak %ld KiB after %ld KiB\n", before / 1024, peak / 1024, after / 1024);
    CHECK(peak - before > (long)n * 100 * 1024, "stacks were not touched?");
#ifndef __SANITIZE_ADDRESS__
    /* The top 16 KiB of each pooled stack stays: 300 * 16 KiB = 4.7 MiB. */
    CHECK(after - before < 12L * 1024 * 1024, "deep pooled stacks pin %ld KiB",
          (after - before) / 1024);
#endif
}

static void ok_main(void *arg)
{
    (void)arg;
    CHECK(deep(200) >= 0); /* ~200 KiB of a 256 KiB stack */
}

static void overflow_main(void *arg)
{
    (void)arg;
    deep(1000); /* ~1 MiB: past the guard page */
    fprintf(stderr, "survived a stack overflow?\n");
}

static void child(void *fn)
{
    exit(gort_main((void (*)(void *))fn, NULL));
}

int main(void)
{
    /* Children first: after gort_main a forked child could not start one. */
    expect_child(child, (void *)overflow_main, -1, NULL, NULL);
    expect_child(child, (void *)burst_main, 0, NULL, NULL);
    run_main(ok_main, NULL);
    return 0;
}
