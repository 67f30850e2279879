/*
 * test_split_foreign.c — split-stack mode keeps the P hand-off of a long
 * call into foreign code (syscall_foreign.c, issue 8).
 *
 * A checked function that calls libc runs its body from a frame of
 * __morestack_non_split (morestack_amd64.S), whose return address is in
 * the runtime's code.  The hand-off refuses goroutines with runtime frames
 * under them, so before that return address was excepted, a split
 * function's long libc call held the P to its end: at GORTMAXPROCS=1 a
 * 1 ms ticker got no tick during a 60+ ms memset, and no hand-off was
 * counted.  Now the P goes to the ticker while the memset runs.
 */
#include "split.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SIZE (512u << 20)

static char *buf;
static atomic_int ticks;
static atomic_bool stop;

/* Checked, and calls libc: its prologue was rewritten to take
 * __morestack_non_split every call, and its body runs from that frame.
 * memsets of tens of ms each, until the ticker has ticked (at most 100):
 * the ticker can only run while a memset's P is handed off (no call in
 * the loop has a prologue to stop at), and a loaded machine may take
 * longer than one memset to give the handed-off P's new M a CPU (one
 * memset: 0 ticks in 1-2 of 40 runs beside two busy loops).  With the
 * old bug every memset held the P, so the loop ran all 100 and no tick
 * came.  Returns how many memsets ran. */
__attribute__((noinline)) static int fill(int v, int t0)
{
    int n = 0;
    do
        memset(buf, v + n++, SIZE);
    while (n < 100 && atomic_load(&ticks) == t0);
    return n;
}

static void ticker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        gort_sleep(1000000);
        atomic_fetch_add(&ticks, 1);
    }
}

static void main_goroutine(void *arg)
{
    (void)arg;
    buf = malloc(SIZE);
    CHECK(buf);
    memset(buf, 1, SIZE); /* fault the pages in first */
    CHECK(gort_go(ticker, NULL) == 0);
    gort_sleep(2000000);
    gort_stats before, after;
    gort_read_stats(&before);
    int t0 = atomic_load(&ticks);
    int64_t start = gort_nanotime();
    int calls = fill(2, t0); /* foreign calls of tens of ms each */
    int64_t ns = gort_nanotime() - start;
    int during = atomic_load(&ticks) - t0;
    gort_read_stats(&after);
    atomic_store(&stop, true);
    unsigned long long handoffs = (unsigned long long)(after.handoffs - before.handoffs);
    fprintf(stderr, "%d memsets of %u MiB: %.0f ms, %d ticks during them, %llu hand-offs\n", calls,
            SIZE >> 20, ns / 1e6, during, handoffs);
    CHECK(handoffs >= 1, "the P was never handed off during the foreign call");
    CHECK(during >= 1, "the ticker never ran during the foreign call");
    free(buf);
}

int main(void)
{
    setenv("GORTMAXPROCS", "1", 1);
    run_main(main_goroutine, NULL);
    return 0;
}
