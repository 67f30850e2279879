/*
 * test_select_seed.c — select's random choice differs from run to run,
 * as Go's does.  Each M's generator was seeded with a constant per M id,
 * so every run of a program chose the same cases in the same order (an
 * adversarial hunt: five runs, one sequence).  Two runs (forked
 * children, each a fresh runtime) make 64 selects over four ready
 * channels and send their choices here; the sequences must differ (the
 * chance that two fair ones agree is 4^-64) and each must use all four
 * cases.
 */
#include "check.h"

enum { PICKS = 64 };

static void body(void *arg)
{
    int fd = (int)(intptr_t)arg;
    gort_chan *c[4];
    gort_case cs[4];
    int v = 0;
    for (int i = 0; i < 4; i++) {
        c[i] = gort_chan_make(sizeof(int), 1);
        cs[i] = (gort_case){.chan = c[i], .op = GORT_RECV, .elem = &v};
    }
    char seq[PICKS];
    for (int k = 0; k < PICKS; k++) {
        for (int i = 0; i < 4; i++)
            if (gort_chan_len(c[i]) == 0)
                gort_chan_send(c[i], &i);
        int r = gort_select(cs, 4, 0);
        CHECK(r >= 0 && r < 4);
        seq[k] = (char)('0' + r);
    }
    CHECK_EQ(write(fd, seq, PICKS), PICKS);
}

static void run(char *seq)
{
    int p[2];
    CHECK(pipe(p) == 0);
    run_main_child(body, (void *)(intptr_t)p[1], "1", NULL);
    close(p[1]);
    CHECK_EQ(read(p[0], seq, PICKS), PICKS);
    close(p[0]);
    for (char want = '0'; want < '4'; want++)
        CHECK(memchr(seq, want, PICKS) != NULL, "case %c never chosen in %.*s", want, PICKS, seq);
}

int main(void)
{
    char a[PICKS], b[PICKS];
    run(a);
    run(b);
    CHECK(memcmp(a, b, PICKS) != 0, "two runs chose the same sequence %.*s", PICKS, a);
    printf("ok (%.16s... vs %.16s...)\n", a, b);
    return 0;
}
