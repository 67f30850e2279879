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
 * Each phase under an alarm, so a hang is a named failure.
 */
#include "check.h"

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

static void body(void *arg)
{
    (void)arg;
    gort_sleep(1000000);
}

int main(void)
{
    signal(SIGALRM, SIG_DFL);
    check_timers("before gort_main");
    run_main(body, NULL);
    check_timers("after gort_main");
    alarm(20);
    int procs = gort_maxprocs(0);
    CHECK_EQ(gort_maxprocs(procs + 1), procs);
    alarm(0);
    printf("ok\n");
    return 0;
}
