/*
 * test_chan_poll.c — a loop of non-blocking channel calls is preempted.
 * Such a loop spends nearly all its time inside the runtime, where the
 * preemption signal cannot stop it, and the calls that do not block were
 * no preemption points: at one P the goroutine it waited for stayed
 * runnable for hundreds of milliseconds, seconds in a longer program (an
 * adversarial hunt; "goroutine 3 cannot be preempted for 1.8s").  Go
 * stops such a loop at its next call once its slice is over.
 *
 * One P, the default 10 ms slice: the main goroutine sends a request to a
 * peer (now runnable) and polls for its reply with gort_chan_tryrecv,
 * then with gort_select(..., 0); each round trip must end within 150 ms
 * (a slice, plus sysmon's look, plus a loaded host's scheduling; before,
 * the select loop's worst was 300-900 ms).
 */
#include "check.h"

enum { ROUNDS = 20 };
static const int64_t BOUND = 150000000;

static gort_chan *req, *rep;

static void peer(void *arg)
{
    (void)arg;
    long v;
    while (gort_chan_recv(req, &v)) {
        v++;
        gort_chan_send(rep, &v);
    }
}

static int64_t round_trips(int mode)
{
    int64_t worst = 0;
    for (long i = 0; i < ROUNDS; i++) {
        int64_t t0 = gort_nanotime();
        long v = i, w = -1;
        gort_chan_send(req, &v);
        for (;;) {
            if (mode == 0) {
                bool ok;
                if (gort_chan_tryrecv(rep, &w, &ok))
                    break;
            } else {
                gort_case cs[1] = {{.chan = rep, .op = GORT_RECV, .elem = &w}};
                if (gort_select(cs, 1, 0) == 0)
                    break;
            }
        }
        CHECK_EQ(w, i + 1);
        int64_t d = gort_nanotime() - t0;
        if (d > worst)
            worst = d;
    }
    return worst;
}

static void body(void *arg)
{
    (void)arg;
    req = gort_chan_make(sizeof(long), 0);
    rep = gort_chan_make(sizeof(long), 1);
    CHECK_EQ(gort_go(peer, NULL), 0);
    int64_t w0 = round_trips(0), w1 = round_trips(1);
    printf("worst round trip: tryrecv %.2f ms, select %.2f ms\n", (double)w0 / 1e6,
           (double)w1 / 1e6);
    CHECK(w0 < BOUND, "tryrecv polling: a round trip took %.1f ms", (double)w0 / 1e6);
    CHECK(w1 < BOUND, "select polling: a round trip took %.1f ms", (double)w1 / 1e6);
    gort_chan_close(req);
    printf("ok\n");
}

int main(void)
{
    setenv("GORTMAXPROCS", "1", 1);
    run_main(body, NULL);
    return 0;
}
