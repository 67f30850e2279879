/*
 * test_chan_stress.c — thousands of goroutines on 2 Ps passing messages
 * over shared channels.  Producers send through a select over an
 * unbuffered and a buffered channel; consumers receive through a select
 * (some with a short timeout, so timer wake-ups race with channel ones),
 * drop each channel from their select once it is closed (Go's nil-channel
 * idiom), and mark every value they get.  Every message must arrive
 * exactly once, and nothing may hang.
 */
#include "check.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

enum { PRODUCERS = 1000, CONSUMERS = 1000, PER = 100 };

static gort_chan *ch_unbuf, *ch_buf, *ch_pdone, *ch_cdone;
static _Atomic unsigned char *seen;
static _Atomic long dup_count;

static void producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int k = 0; k < PER; k++) {
        int v = id * PER + k;
        gort_case cs[2] = {
            {.chan = ch_unbuf, .op = GORT_SEND, .elem = &v},
            {.chan = ch_buf, .op = GORT_SEND, .elem = &v},
        };
        int r = gort_select(cs, 2, -1);
        CHECK(r == 0 || r == 1);
        if (k % 16 == 0)
            gort_yield();
    }
    gort_chan_send(ch_pdone, NULL);
}

static void consumer(void *arg)
{
    /* One consumer in ten uses a short timeout: enough timer/channel
     * races without flooding 2 Ps with timer wake-ups. */
    int64_t timeout = (intptr_t)arg % 10 == 0 ? 50000 : -1;
    long got = 0;
    int v;
    gort_case cs[2] = {
        {.chan = ch_unbuf, .op = GORT_RECV, .elem = &v},
        {.chan = ch_buf, .op = GORT_RECV, .elem = &v},
    };
    while (cs[0].chan || cs[1].chan) {
        int r = gort_select(cs, 2, timeout);
        if (r < 0)
            continue;
        if (!cs[r].ok) {
            cs[r].chan = NULL; /* closed: never fires again */
            continue;
        }
        CHECK(v >= 0 && v < PRODUCERS * PER, "bad value %d", v);
        if (atomic_fetch_add(&seen[v], 1) != 0)
            atomic_fetch_add(&dup_count, 1);
        got++;
    }
    gort_chan_send(ch_cdone, &got);
}

static gort_chan **ring;

static void ring_node(void *arg)
{
    int i = (int)(intptr_t)arg;
    long tok;
    while (gort_chan_recv(ring[i], &tok)) {
        tok++;
        gort_chan_send(ring[i + 1], &tok);
    }
}

static void gmain(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_maxprocs(0), 2);
    ch_unbuf = gort_chan_make(sizeof(int), 0);
    ch_buf = gort_chan_make(sizeof(int), 64);
    ch_pdone = gort_chan_make(0, 0);
    ch_cdone = gort_chan_make(sizeof(long), 16);
    seen = calloc(PRODUCERS * PER, 1);
    CHECK(ch_unbuf && ch_buf && ch_pdone && ch_cdone && seen);

    for (int i = 0; i < CONSUMERS; i++)
        CHECK_EQ(gort_go(consumer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < PRODUCERS; i++)
        CHECK_EQ(gort_go(producer, (void *)(intptr_t)i), 0);

    for (int i = 0; i < PRODUCERS; i++)
        CHECK(gort_chan_recv(ch_pdone, NULL));
    gort_chan_close(ch_unbuf);
    gort_chan_close(ch_buf);

    long total = 0;
    for (int i = 0; i < CONSUMERS; i++) {
        long got = 0;
        CHECK(gort_chan_recv(ch_cdone, &got));
        total += got;
    }
    CHECK_EQ(atomic_load(&dup_count), 0);
    CHECK_EQ(total, PRODUCERS * PER);
    for (int i = 0; i < PRODUCERS * PER; i++)
        CHECK(atomic_load(&seen[i]) == 1, "value %d seen %d times", i,
              (int)atomic_load(&seen[i]));

    /* Plain blocking send/recv ring: 2000 goroutines each forward a token
     * to the next; the token circles the ring 5 times. */
    enum { RING = 2000, LAPS = 5 };
    ring = calloc(RING + 1, sizeof *ring);
    CHECK(ring);
    for (int i = 0; i <= RING; i++)
        ring[i] = gort_chan_make(sizeof(long), i % 3 == 0 ? 1 : 0);
    for (int i = 0; i < RING; i++)
        CHECK_EQ(gort_go(ring_node, (void *)(intptr_t)i), 0);
    long tok = 0;
    for (int lap = 0; lap < LAPS; lap++) {
        gort_chan_send(ring[0], &tok);
        CHECK(gort_chan_recv(ring[RING], &tok));
        CHECK_EQ(tok, (long)(lap + 1) * RING);
    }
    for (int i = 0; i < RING; i++)
        gort_chan_close(ring[i]);
    /* ring[RING] has no reader left; the nodes exit on close. */

    printf("test_chan_stress: ok (%ld messages)\n", total);
}

int main(void)
{
    setenv("GORTMAXPROCS", "2", 1);
    run_main(gmain, NULL);
    return 0;
}
