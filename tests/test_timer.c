/*
 * test_timer.c — gort_timer, gort_ticker and gort_after_func (time.Timer,
 * time.Ticker, time.AfterFunc with Go 1.23 semantics): a timer fires once
 * and not early; Stop and Reset racing with the firing never leave a stale
 * value behind and never lose or double a firing (the after-func count
 * equals armings minus successful stops); 100k timers started and stopped;
 * a ticker drops ticks for a slow receiver; an after-func runs once, in
 * its own goroutine, and still runs after its handle is freed; timers work
 * from a plain thread; closing a timer's channel is a fatal error.
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

static int64_t us(int64_t n) { return n * 1000; }
static int64_t ms(int64_t n) { return n * 1000000; }

static void spin_ns(int64_t ns)
{
    int64_t end = gort_nanotime() + ns;
    while (gort_nanotime() < end)
        ;
}

static void test_basic(void)
{
    int64_t t0 = gort_nanotime();
    gort_timer *t = gort_timer_new(ms(5));
    CHECK(t != NULL);
    int64_t v = 0;
    CHECK(gort_chan_recv(gort_timer_chan(t), &v));
    CHECK(v >= t0 + ms(5), "fired %lld ns early", (long long)(t0 + ms(5) - v));
    CHECK(!gort_timer_stop(t), "stop after the value was received must be false");
    /* Fired, value not received: Stop reports it pending and discards it. */
    CHECK(!gort_timer_reset(t, 0));
    while (gort_chan_len(gort_timer_chan(t)) == 0)
        gort_yield();
    CHECK(gort_timer_stop(t));
    CHECK(!gort_chan_tryrecv(gort_timer_chan(t), &v, NULL), "stale value after Stop");
    /* Stopped before firing: nothing ever arrives. */
    CHECK(!gort_timer_reset(t, ms(2)));
    CHECK(gort_timer_stop(t));
    gort_sleep(ms(10));
    CHECK(!gort_chan_tryrecv(gort_timer_chan(t), &v, NULL), "a stopped timer fired");
    /* Reset of a stopped timer fires once, at the new time. */
    t0 = gort_nanotime();
    CHECK(!gort_timer_reset(t, ms(3)));
    CHECK(gort_chan_recv(gort_timer_chan(t), &v));
    CHECK(v >= t0 + ms(3));
    gort_sleep(ms(5));
    CHECK(!gort_chan_tryrecv(gort_timer_chan(t), &v, NULL), "fired twice");
    gort_timer_free(t);
}

/* Stop racing with the firing: whatever the interleaving, a value that
 * was not received makes Stop return true, and none is left behind. */
static void test_stop_race(void)
{
    gort_timer *t = gort_timer_new(us(1));
    int64_t v;
    for (int i = 0; i < 3000; i++) {
        gort_timer_reset(t, us(i % 40));
        spin_ns(us((i * 7) % 40));
        CHECK(gort_timer_stop(t), "iteration %d: Stop of an unreceived timer returned false", i);
        CHECK(!gort_chan_tryrecv(gort_timer_chan(t), &v, NULL), "iteration %d: stale value", i);
    }
    gort_timer_free(t);
}

/* Reset racing with the firing: every value received after a Reset comes
 * from that Reset's arming (fired no earlier than reset time + d). */
static void test_reset_race(void)
{
    gort_timer *t = gort_timer_new(us(1));
    for (int i = 0; i < 2000; i++) {
        gort_timer_reset(t, us(i % 30));
        spin_ns(us((i * 13) % 30));
        int64_t t0 = gort_nanotime();
        gort_timer_reset(t, us(50));
        int64_t v = 0;
        CHECK(gort_chan_recv(gort_timer_chan(t), &v));
        CHECK(v >= t0 + us(50), "iteration %d: stale value, fired %lld ns before the reset's time",
              i, (long long)(t0 + us(50) - v));
    }
    gort_timer_free(t);
}

/* After-func armings racing with Stop/Reset from two goroutines: the
 * function runs exactly (armings - successful stops) times. */
static atomic_long af_runs;
static gort_waitgroup af_wg;

static void af_count(void *arg)
{
    (void)arg;
    atomic_fetch_add(&af_runs, 1);
}

struct af_racer {
    gort_timer *t;
    long armings, stops;
    int seed;
};

static void af_race(void *arg)
{
    struct af_racer *r = arg;
    unsigned s = (unsigned)r->seed;
    for (int i = 0; i < 3000; i++) {
        s = s * 1103515245u + 12345u;
        int64_t d = us((s >> 16) % 30);
        if ((s >> 8) & 1) {
            if (gort_timer_reset(r->t, d))
                r->stops++;
            r->armings++;
        } else if (gort_timer_stop(r->t)) {
            r->stops++;
        }
        spin_ns(us((s >> 20) % 20));
    }
    gort_wg_done(&af_wg);
}

static void test_after_func_race(void)
{
    atomic_store(&af_runs, 0);
    gort_timer *t = gort_after_func(us(5), af_count, NULL);
    CHECK(t != NULL);
    struct af_racer r[2] = {{t, 0, 0, 1}, {t, 0, 0, 2}};
    gort_wg_add(&af_wg, 2);
    gort_go(af_race, &r[0]);
    gort_go(af_race, &r[1]);
    gort_wg_wait(&af_wg);
    long armings = 1 + r[0].armings + r[1].armings;
    long stops = r[0].stops + r[1].stops;
    if (gort_timer_stop(t))
        stops++;
    /* Every arming not stopped has fired or is firing: wait for the
     * functions started to be counted. */
    int64_t until = gort_nanotime() + ms(20000);
    while (atomic_load(&af_runs) < armings - stops && gort_nanotime() < until)
        gort_sleep(us(200));
    gort_sleep(ms(5));
    CHECK_EQ(atomic_load(&af_runs), armings - stops);
    gort_timer_free(t);
}

/* 100k timers: started and stopped (every Stop true, nothing fires), then
 * 100k short ones of which every other is stopped: the others deliver one
 * value each, the stopped ones none. */
#define NT 100000
static void test_many(void)
{
    gort_timer **ts = malloc(NT * sizeof *ts);
    CHECK(ts);
    for (int i = 0; i < NT; i++) {
        ts[i] = gort_timer_new(ms(3600 * 1000));
        CHECK(ts[i]);
    }
    for (int i = 0; i < NT; i++)
        CHECK(gort_timer_stop(ts[i]));
    for (int i = 0; i < NT; i++)
        gort_timer_free(ts[i]);

    for (int i = 0; i < NT; i++)
        ts[i] = gort_timer_new(us(i % 2000));
    int stopped_true = 0;
    for (int i = 0; i < NT; i += 2)
        stopped_true += gort_timer_stop(ts[i]); /* fired-but-unreceived counts as true */
    CHECK_EQ(stopped_true, NT / 2);
    int64_t v;
    for (int i = 1; i < NT; i += 2)
        CHECK(gort_chan_recv(gort_timer_chan(ts[i]), &v));
    gort_sleep(ms(5));
    for (int i = 0; i < NT; i++)
        CHECK(!gort_chan_tryrecv(gort_timer_chan(ts[i]), &v, NULL), "timer %d: extra value", i);
    for (int i = 0; i < NT; i++)
        gort_timer_free(ts[i]);
    free(ts);
}

/* A slow receiver of a 1 ms ticker finds one old tick waiting, then the
 * next is new: the ticks in between were dropped, not queued. */
static void test_ticker_drops(void)
{
    gort_ticker *k = gort_ticker_new(ms(1));
    CHECK(k);
    int64_t v1, v2;
    for (int attempt = 0;; attempt++) {
        gort_ticker_reset(k, ms(1));
        gort_sleep(ms(100));
        int64_t woke = gort_nanotime();
        CHECK(gort_chan_recv(gort_ticker_chan(k), &v1));
        CHECK(gort_chan_recv(gort_ticker_chan(k), &v2));
        /* Only if the waiting tick is old did the ticker run while we
         * slept (a machine stalled for the whole sleep shows nothing). */
        if (woke - v1 < ms(50)) {
            CHECK(attempt < 5, "the ticker never ran during a 100 ms sleep");
            continue;
        }
        CHECK(v2 - v1 >= ms(10), "ticks were queued: %lld ns apart", (long long)(v2 - v1));
        break;
    }
    /* Ticks keep coming, in order (each one's time is when it fired: a
     * late tick may be followed by one less than a period later, as the
     * ticker keeps its schedule). */
    int64_t prev = v2;
    for (int i = 0; i < 5; i++) {
        CHECK(gort_chan_recv(gort_ticker_chan(k), &v1));
        CHECK(v1 > prev, "tick %d out of order", i);
        prev = v1;
    }
    /* Reset: the next tick is a whole new period from now, nothing stale. */
    gort_sleep(ms(3));
    int64_t t0 = gort_nanotime();
    gort_ticker_reset(k, ms(20));
    CHECK(gort_chan_recv(gort_ticker_chan(k), &v1));
    CHECK(v1 >= t0 + ms(20), "stale tick after Reset");
    /* Stop: no tick afterwards, none left behind. */
    gort_sleep(ms(25));
    gort_ticker_stop(k);
    CHECK(!gort_chan_tryrecv(gort_ticker_chan(k), &v1, NULL));
    gort_sleep(ms(30));
    CHECK(!gort_chan_tryrecv(gort_ticker_chan(k), &v1, NULL), "tick after Stop");
    gort_ticker_free(k);
}

/* Each tick of one ticker carries a later time than the one before, even
 * while other Ms run the same timer heap with older clock readings (a
 * stealer, sysmon).  The stamp is the heap's latest clock, which can be
 * ahead of the M that fires the tick; the tick used to be re-armed from
 * that M's older reading, so the next one could fire at once with the same
 * stamp (a helper's stress test: 1 run in 5 at 2 Ps, 3 in 5 at 4). */
static atomic_int distinct_stop;
static gort_waitgroup distinct_wg = GORT_WAITGROUP_INIT;

static void distinct_noise(void *arg)
{
    long id = (long)arg;
    /* 1-3 us: timers due on every heap all the time.  Under ASan, whose
     * runtime is several times slower, sleepers that dense starve the
     * receiver (each wake-up takes the P's runnext): 50-99 us there. */
    int64_t base = GORT_TEST_ASAN ? 50000 : 1000, step = GORT_TEST_ASAN ? 7000 : 300;
    while (!atomic_load(&distinct_stop))
        gort_sleep(base + id * step);
    gort_wg_done(&distinct_wg);
}

static void test_ticker_distinct(void)
{
    int old = gort_maxprocs(4); /* more Ms at the heaps: the race more often */
    atomic_store(&distinct_stop, 0);
    gort_wg_add(&distinct_wg, 8);
    for (long i = 0; i < 8; i++)
        CHECK(gort_go(distinct_noise, (void *)i) == 0);
    gort_ticker *k = gort_ticker_new(10000);
    CHECK(k);
    int64_t prev = 0;
    /* The plain build is the one that races; ASan's checks the memory. */
    int ticks = GORT_TEST_ASAN ? 3000 : 50000;
    for (int i = 0; i < ticks; i++) {
        int64_t v;
        CHECK(gort_chan_recv(gort_ticker_chan(k), &v));
        CHECK(v > prev, "tick %d carries %lld, the one before %lld", i, (long long)v,
              (long long)prev);
        prev = v;
    }
    gort_ticker_free(k);
    atomic_store(&distinct_stop, 1);
    gort_wg_wait(&distinct_wg);
    gort_maxprocs(old);
}

static atomic_long once_runs;
static _Atomic uint64_t once_goid;
static gort_chan *once_done;

static void once_fn(void *arg)
{
    atomic_fetch_add(&once_runs, 1);
    atomic_store(&once_goid, gort_self());
    gort_chan_send(once_done, &arg);
}

static void test_after_func(void)
{
    once_done = gort_chan_make(sizeof(void *), 4);
    int64_t t0 = gort_nanotime();
    gort_timer *t = gort_after_func(ms(2), once_fn, (void *)1);
    void *got;
    CHECK(gort_chan_recv(once_done, &got));
    CHECK(got == (void *)1);
    CHECK(gort_nanotime() >= t0 + ms(2));
    CHECK(atomic_load(&once_goid) != 0 && atomic_load(&once_goid) != gort_self(),
          "the function must run in its own goroutine");
    CHECK(!gort_timer_stop(t));
    gort_sleep(ms(10));
    CHECK_EQ(atomic_load(&once_runs), 1);
    gort_timer_free(t);

    /* Stopped before firing: never runs. */
    t = gort_after_func(ms(3600 * 1000), once_fn, (void *)2);
    CHECK(gort_timer_stop(t));
    CHECK(!gort_timer_stop(t));
    gort_timer_free(t);
    /* Freed while pending: still runs (dropping a *Timer does not stop it). */
    gort_timer_free(gort_after_func(ms(1), once_fn, (void *)3));
    CHECK(gort_chan_recv(once_done, &got));
    CHECK(got == (void *)3, "a stopped after-func ran");
    CHECK_EQ(atomic_load(&once_runs), 2);
    gort_chan_free(once_done);
}

/* From a thread that is not a goroutine. */
static void *thread_fn(void *arg)
{
    (void)arg;
    gort_timer *t = gort_timer_new(ms(2));
    int64_t v;
    CHECK(gort_chan_recv(gort_timer_chan(t), &v));
    CHECK(gort_timer_reset(t, ms(3600 * 1000)) == false);
    CHECK(gort_timer_stop(t));
    gort_timer_free(t);
    gort_ticker *k = gort_ticker_new(ms(1));
    CHECK(gort_chan_recv(gort_ticker_chan(k), &v));
    CHECK(gort_chan_recv(gort_ticker_chan(k), &v));
    gort_ticker_free(k);
    return NULL;
}

static void test_thread(void)
{
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_fn, NULL) == 0);
    CHECK(pthread_join(th, NULL) == 0); /* gort hands the P on meanwhile */
}

static void gmain(void *arg)
{
    (void)arg;
    test_basic();
    test_stop_race();
    test_reset_race();
    test_after_func_race();
    test_many();
    test_ticker_drops();
    test_ticker_distinct();
    test_after_func();
    test_thread();
    printf("test_timer: ok\n");
}

static void close_timer_chan(void *arg)
{
    (void)arg;
    gort_timer *t = gort_timer_new(ms(1));
    gort_chan_close(gort_timer_chan(t));
}

static void child(void *fn)
{
    _exit(gort_main((void (*)(void *))fn, NULL) == 0 ? 0 : 3);
}

int main(void)
{
    expect_child(child, (void *)close_timer_chan, 2,
                 "gort: fatal error: close of a gort_timer's or gort_ticker's channel",
                 "close_timer_chan");
    run_main(gmain, NULL);
    return 0;
}
