/*
 * test_sigaction_race.c — concurrent sigaction calls on one signal keep
 * the action the program reads back consistent with the one installed.
 *
 * gort's sigaction wrapper adds SA_ONSTACK to a handler installed without
 * it and hides the flag again when the action is read back, so that the
 * program sees what it set (interpose_signal.c).  Two goroutines on two
 * Ps and a plain thread install, over and over, one handler without
 * SA_ONSTACK (plain) and one with it (stacked).  After each round, with
 * nobody racing, the action read back must match the handler installed:
 * plain without SA_ONSTACK, stacked with it; and the kernel's action (a
 * raw rt_sigaction, which no wrapper sees) must have SA_ONSTACK either
 * way.  A per-signal "the flag was ours" mark updated outside the window
 * in which the action is replaced lets the last writer of the mark differ
 * from the last installer: the plain handler then read back with
 * SA_ONSTACK, or the stacked one without it.
 */
#include "check.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>

enum { ROUNDS = 200, PER_ROUND = 300, NGOR = 2 };

static void plain(int sig) { (void)sig; }
static void stacked(int sig) { (void)sig; }

static _Atomic int go_round = -1, done_count;

static void install(int which)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = which ? stacked : plain;
    sa.sa_flags = which ? SA_ONSTACK | SA_RESTART : SA_RESTART;
    CHECK(sigaction(SIGUSR2, &sa, &old) == 0);
    /* The old action, whichever it was, reads back as it was set. */
    if (old.sa_handler == plain)
        CHECK(!(old.sa_flags & SA_ONSTACK), "plain's old flags %#x", (unsigned)old.sa_flags);
    else if (old.sa_handler == stacked)
        CHECK(old.sa_flags & SA_ONSTACK, "stacked's old flags %#x", (unsigned)old.sa_flags);
}

/* One racer's share of round r: alternate the two handlers, starting
 * with a different one on each racer. */
static void race_round(int id, int r)
{
    for (int i = 0; i < PER_ROUND; i++)
        install((i + id + r) & 1);
}

static void racer_loop(int id, bool goroutine)
{
    for (int r = 0; r < ROUNDS; r++) {
        while (atomic_load(&go_round) < r) {
            if (goroutine)
                gort_yield();
            else
                sched_yield();
        }
        race_round(id, r);
        atomic_fetch_add(&done_count, 1);
    }
}

static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static void racer_g(void *arg)
{
    racer_loop((int)(intptr_t)arg, true);
    gort_wg_done(&wg);
}

static void *racer_t(void *arg)
{
    racer_loop((int)(intptr_t)arg, false);
    return NULL;
}

static void check_round(int r)
{
    struct sigaction back;
    CHECK(sigaction(SIGUSR2, NULL, &back) == 0);
    struct kernel_sigaction k = kernel_sigaction(SIGUSR2);
    CHECK(k.handler == (void *)back.sa_handler, "round %d: read back %p, kernel has %p", r,
          (void *)back.sa_handler, k.handler);
    CHECK(k.flags & SA_ONSTACK, "round %d: the kernel's action lacks SA_ONSTACK (%#lx)", r, k.flags);
    if (back.sa_handler == plain)
        CHECK(!(back.sa_flags & SA_ONSTACK), "round %d: plain reads back with SA_ONSTACK", r);
    else
        CHECK(back.sa_handler == stacked && (back.sa_flags & SA_ONSTACK),
              "round %d: stacked reads back without SA_ONSTACK (flags %#x)", r,
              (unsigned)back.sa_flags);
}

static void race_main(void *arg)
{
    (void)arg;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, racer_t, (void *)(intptr_t)NGOR) == 0);
    gort_wg_add(&wg, NGOR);
    for (int i = 0; i < NGOR; i++)
        CHECK_EQ(gort_go(racer_g, (void *)(intptr_t)i), 0);
    for (int r = 0; r < ROUNDS; r++) {
        atomic_store(&go_round, r);
        while (atomic_load(&done_count) < (r + 1) * (NGOR + 1))
            gort_yield();
        check_round(r);
    }
    gort_wg_wait(&wg);
    CHECK(pthread_join(t, NULL) == 0);
}

int main(void)
{
    CHECK_EQ(gort_main(race_main, NULL), 0);
    puts("ok");
    return 0;
}
