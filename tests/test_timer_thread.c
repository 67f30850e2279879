/*
 * test_timer_thread.c — timers on a plain thread when no scheduler runs
 * them: before gort_main and after it returned.  The timers live on the
 * Ps' heaps, run by the scheduler's Ms; with none running, a plain
 * thread's gort_select timeout, gort_after, timer channel and context
 * deadline never fired, and each call hung for ever (an adversarial
 * hunt).  Now the blocked thread serves the timers itself.  Also:
 * gort_maxprocs(n) once gort_main returned answers instead of waiting for
 * the exit's stop of the world, which never ends.
 *
 * Also a timed wait begun while gort_main runs and still waiting when it
 * returns, and a timer reset to fire sooner while a thread waits for it
 * (both waited for the old deadline, or for ever, until blocked threads
 * were kicked to look at the timers again: a review).
 *
 * Each phase under an alarm, so a hang is a named failure.
 */
#include "check.h"

#include <pthread.h>

static void check_timers(const char *when)
{
    alarm(20);
    int64_t t0 = gort_nanotime();
    CHECK_EQ(gort_select(NULL, 0, 10000000), -1);
    CHECK(gort_nanotime() - t0 >= 10000000, "%s: select returned early", when);

    gort_chan *c = gort_after(5000000);
    CHECK(c != NULL);
    int64_t v = 0;
    t0 = gort_nanotime();
    CHECK(gort_chan_recv(c, &v), "%s: gort_after's channel closed", when);
    CHECK(v >= t0 && gort_nanotime() - t0 >= 4000000, "%s: gort_after fired early", when);
    gort_chan_free(c);

    gort_timer *t = gort_timer_new(5000000);
    CHECK(t != NULL);
    CHECK(gort_chan_recv(gort_timer_chan(t), &v));
    gort_timer_free(t);

    /* A deadline on a select that has a case that never fires. */
    gort_chan *never = gort_chan_make(sizeof(int), 0);
    int x;
    gort_case cs[1] = {{.chan = never, .op = GORT_RECV, .elem = &x}};
    t0 = gort_nanotime();
    CHECK_EQ(gort_select(cs, 1, 5000000), -1);
    CHECK(gort_nanotime() - t0 >= 5000000);
    gort_chan_free(never);

    gort_ctx *ctx = gort_ctx_with_timeout(gort_ctx_background(), 5000000);
    CHECK(ctx != NULL);
    gort_case done[1] = {{.chan = gort_ctx_done(ctx), .op = GORT_RECV, .elem = NULL}};
    CHECK_EQ(gort_select(done, 1, -1), 0);
    CHECK_EQ(gort_ctx_err(ctx), ETIMEDOUT);
    gort_ctx_release(ctx);
    alarm(0);
    printf("%s: ok\n", when);
}

/* A plain thread whose timed wait began while gort_main ran: when it
 * returns, the thread must serve its own timer (it slept with no
 * deadline, the Ms' business, and was kicked to look again). */
static int64_t span_took;

static void *span_thread(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(0, 0);
    gort_case k[1] = {{.chan = c, .op = GORT_RECV}};
    int64_t t0 = gort_nanotime();
    CHECK_EQ(gort_select(k, 1, 300000000), -1);
    span_took = gort_nanotime() - t0;
    gort_chan_free(c);
    return NULL;
}

static pthread_t span;

static void body(void *arg)
{
    (void)arg;
    CHECK(pthread_create(&span, NULL, span_thread, NULL) == 0);
    gort_sleep(50000000); /* the thread is waiting when gort_main returns */
}

/* A timer reset to fire sooner while a plain thread already waits for it
 * (before gort_main): the waiter must wake at the new time, not the old. */
static gort_timer *reset_timer;

static void *reset_waiter(void *arg)
{
    int64_t *took = arg, v, t0 = gort_nanotime();
    CHECK(gort_chan_recv(gort_timer_chan(reset_timer), &v));
    *took = gort_nanotime() - t0;
    return NULL;
}

static void check_reset(void)
{
    alarm(20);
    reset_timer = gort_timer_new(3000000000);
    CHECK(reset_timer != NULL);
    int64_t took = 0;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, reset_waiter, &took) == 0);
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL); /* the waiter blocks meanwhile (or soon after) */
    gort_timer_reset(reset_timer, 10000000);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(took < 1000000000, "reset to 10 ms, received after %.0f ms", (double)took / 1e6);
    gort_timer_free(reset_timer);
    alarm(0);
    printf("reset while waiting: ok (%.0f ms)\n", (double)took / 1e6);
}

int main(void)
{
    signal(SIGALRM, SIG_DFL);
    check_timers("before gort_main");
    check_reset();
    run_main(body, NULL);
    alarm(20);
    CHECK(pthread_join(span, NULL) == 0);
    CHECK(span_took >= 300000000 && span_took < 5000000000LL,
          "a 300 ms select timeout begun under gort_main took %.0f ms", (double)span_took / 1e6);
    alarm(0);
    check_timers("after gort_main");
    alarm(20);
    int procs = gort_maxprocs(0);
    CHECK_EQ(gort_maxprocs(procs + 1), procs);
    alarm(0);
    printf("ok\n");
    return 0;
}
