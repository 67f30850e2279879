/* Scheduler API: gort_go, gort_self, gort_yield, gort_num_goroutine,
 * gort_maxprocs (ask and resize under load), gort_read_stats, gort_main
 * returning 0 and refusing a second call, work spreading to both Ps. */
#include "check.h"
#include <pthread.h>
#include <stdatomic.h>

static _Atomic int ran;
/* Ids are unique but not dense: each P takes them 16 at a time (as Go's
 * goidcache does), so allow a few batches of slack. */
#define IDMAX (5000 + 16 * 64 + 16)
static _Atomic unsigned char idseen[IDMAX];
static gort_waitgroup wg;

static void child(void *arg)
{
    uint64_t id = gort_self();
    CHECK(id > 1 && id < IDMAX, "child id %llu", (unsigned long long)id);
    CHECK(atomic_exchange(&idseen[id], 1) == 0, "id %llu given twice", (unsigned long long)id);
    for (int i = 0; i < 10; i++)
        gort_yield();
    atomic_fetch_add(&ran, (int)(intptr_t)arg);
    gort_wg_done(&wg);
}

static _Atomic bool stop_spin;
static void spinner(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_spin))
        gort_yield();
    gort_wg_done(&wg);
}

static void gmain(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_self(), 1);
    CHECK_EQ(gort_num_goroutine(), 1);
    int procs = gort_maxprocs(0);
    CHECK(procs >= 1);
    const int n = 5000;
    gort_wg_add(&wg, n);
    for (int i = 0; i < n; i++)
        CHECK_EQ(gort_go(child, (void *)(intptr_t)1), 0);
    CHECK(gort_num_goroutine() >= 1);
    gort_wg_wait(&wg);
    CHECK_EQ(atomic_load(&ran), n);
    int distinct = 0;
    for (int i = 0; i < IDMAX; i++)
        distinct += atomic_load(&idseen[i]);
    CHECK_EQ(distinct, n);

    /* Resize while goroutines run. */
    gort_wg_add(&wg, 8);
    for (int i = 0; i < 8; i++)
        gort_go(spinner, NULL);
    CHECK_EQ(gort_maxprocs(3), procs);
    CHECK_EQ(gort_maxprocs(0), 3);
    CHECK_EQ(gort_maxprocs(1), 3);
    CHECK_EQ(gort_maxprocs(0), 1);
    CHECK_EQ(gort_maxprocs(2), 1);
    atomic_store(&stop_spin, true);
    gort_wg_wait(&wg);

    gort_stats s;
    gort_read_stats(&s);
    CHECK_EQ(s.procs, 2);
    CHECK(s.threads >= 1);
    CHECK(s.context_switches >= (uint64_t)n);
    CHECK(s.spawned >= (uint64_t)n + 9);
    CHECK(s.stw_count >= 3, "stw %llu", (unsigned long long)s.stw_count);
    CHECK_EQ(gort_main(gmain, NULL), EBUSY);
}

int main(void)
{
    /* gort_maxprocs works before the runtime starts. */
    CHECK(gort_maxprocs(2) >= 1);
    CHECK_EQ(gort_maxprocs(0), 2);
    CHECK_EQ(gort_self(), 0);
    run_main(gmain, NULL);
    CHECK_EQ(gort_main(gmain, NULL), EBUSY);
    return 0;
}
