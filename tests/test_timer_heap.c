/*
 * test_timer_heap.c — the per-P timer heap with thousands of timers:
 * removing timers from anywhere in the heap (gort_chan_free of a pending
 * gort_after disarms its timer), moving every timer of a removed P to P0
 * (gort_maxprocs) and that P's heap taking timers again once it is back,
 * and what is left firing exactly once, never early, and,
 * within one heap, in deadline order by the reported expiry time.
 */
#include "check.h"

#include <stdint.h>

static int64_t ms(int64_t n) { return n * 1000000; }

enum { N1 = 3000, NG2 = 8, PER2 = 500, N2 = NG2 * PER2 };

typedef struct {
    gort_chan *c;
    int64_t dur;
    int64_t lo, hi; /* the clock before and after gort_after */
    int64_t fired;
    bool freed;
} tmr;

static tmr t1[N1], t2[N2], t3[N2];

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void arm(tmr *t, int64_t dur)
{
    t->dur = dur;
    t->lo = gort_nanotime();
    t->c = gort_after(dur);
    t->hi = gort_nanotime();
    CHECK(t->c != NULL);
}

/* Receive every timer not freed: one value each, no earlier than its
 * deadline, no later than now. */
static void collect(tmr *ts, int n)
{
    for (int i = 0; i < n; i++) {
        if (ts[i].freed)
            continue;
        CHECK(gort_chan_recv(ts[i].c, &ts[i].fired));
        CHECK(ts[i].fired >= ts[i].lo + ts[i].dur, "timer %d fired %lld ns early", i,
              (long long)(ts[i].lo + ts[i].dur - ts[i].fired));
        CHECK(ts[i].fired <= gort_nanotime());
    }
    for (int i = 0; i < n; i++) {
        if (ts[i].freed)
            continue;
        int64_t v;
        CHECK(!gort_chan_tryrecv(ts[i].c, &v, NULL), "timer %d fired twice", i);
        gort_chan_free(ts[i].c);
    }
}

/* One P, one heap: 3000 deadlines spread over 10-40 ms, a third removed
 * from wherever they sit in the heap before anything fires. */
static void one_heap(void)
{
    CHECK(gort_maxprocs(1) >= 1);
    for (int i = 0; i < N1; i++)
        arm(&t1[i], ms(10) + (int64_t)(next_rand() % (uint64_t)ms(30)));
    for (int i = 0; i < N1; i += 3) {
        gort_chan_free(t1[i].c);
        t1[i].freed = true;
    }
    collect(t1, N1);
    /* Deadline order: a timer whose deadline is surely earlier than
     * another's (its latest possible deadline precedes the other's
     * earliest) reports an expiry no later than the other's. */
    long ordered = 0;
    for (int j = 0; j < N1; j++) {
        if (t1[j].freed)
            continue;
        for (int k = 0; k < N1; k++) {
            if (t1[k].freed || t1[j].hi + t1[j].dur >= t1[k].lo + t1[k].dur)
                continue;
            ordered++;
            CHECK(t1[j].fired <= t1[k].fired,
                  "timer %d (deadline <= %lld) reported %lld, after timer %d (deadline >= %lld) "
                  "reported %lld",
                  j, (long long)(t1[j].hi + t1[j].dur), (long long)t1[j].fired, k,
                  (long long)(t1[k].lo + t1[k].dur), (long long)t1[k].fired);
        }
    }
    CHECK(ordered > 0);
    printf("one heap: %d timers, %d removed, %ld ordered pairs checked\n", N1, (N1 + 2) / 3,
           ordered);
}

static gort_waitgroup wg;
static tmr *cur2;

static void armer(void *arg)
{
    int g = (int)(intptr_t)arg;
    for (int i = 0; i < PER2; i++) {
        tmr *t = &cur2[g * PER2 + i];
        /* A per-goroutine sequence, so the draws do not depend on the
         * interleaving. */
        uint64_t x = (uint64_t)(g * PER2 + i + 1) * 0x2545F4914F6CDD1DULL;
        x ^= x >> 29;
        arm(t, ms(40) + (int64_t)(x % (uint64_t)ms(40)));
    }
    gort_wg_done(&wg);
}

/* Timers armed on two Ps; P1 removed (its heap moves into P0's), then a
 * third removed from the merged heap. */
static void moved_heap(tmr *ts)
{
    gort_maxprocs(2);
    cur2 = ts;
    gort_wg_add(&wg, NG2);
    for (int g = 0; g < NG2; g++)
        CHECK(gort_go(armer, (void *)(intptr_t)g) == 0);
    gort_wg_wait(&wg);
    gort_maxprocs(1);
    for (int i = 1; i < N2; i += 3) {
        gort_chan_free(ts[i].c);
        ts[i].freed = true;
    }
    collect(ts, N2);
    printf("moved heap: %d timers, %d removed\n", N2, N2 / 3);
}

static void gmain(void *arg)
{
    (void)arg;
    int procs = gort_maxprocs(0);
    one_heap();
    moved_heap(t2);
    /* Again: P1 comes back with an emptied heap and takes new timers. */
    moved_heap(t3);
    gort_maxprocs(procs);
}

int main(void)
{
    CHECK(gort_main(gmain, NULL) == 0);
    printf("ok\n");
    return 0;
}
