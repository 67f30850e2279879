/*
 * test_split_longjmp.c — setjmp/longjmp in split-stack mode under
 * preemption: stacks are fixed, so a longjmp out of a deep chain of
 * checked calls needs nothing from the runtime, even when the goroutine
 * was stopped at one of those prologues and resumed on another thread in
 * between (the jmp_buf holds no thread's state).  4 goroutines on
 * GORTMAXPROCS=2 (quantum=200us) each make 5,000 setjmp/dive/longjmp
 * rounds (20,000 longjmps): every longjmp returns its round's value to
 * the right setjmp with the locals intact.  Once with asyncpreemptoff=1
 * (every stop a prologue stop, and there must be some), once with signals
 * too.
 */
#include "split.h"

#include <setjmp.h>
#include <stdatomic.h>

#define NG 4
#define ROUNDS 5000
#define DEPTH 24

static _Atomic long moves;

/* Checked calls for the prologue stops to land in (~1 us a level). */
long burn(int n);
__attribute__((noinline)) long burn(int n)
{
    return n == 0 ? 0 : burn(n - 1) + (n & 3);
}

long dive(jmp_buf *jb, int depth, long val);
__attribute__((noinline)) long dive(jmp_buf *jb, int depth, long val)
{
    volatile long mine = val + depth + burn(100);
    if (depth <= 0) {
        if (depth == 0)
            longjmp(*jb, (int)(val & 0x3fffffff) + 1);
        return mine;
    }
    long r = dive(jb, depth - 1, val) + mine; /* never returns */
    return r;
}

/* One round, in a function of its own: nothing of the caller's loop is
 * live across the setjmp. */
static void round_trip(long me, int i)
{
    jmp_buf jb;
    volatile long before = me * 1000000 + i;
    volatile long t0 = split_gettid();
    int r = setjmp(jb);
    if (r == 0) {
        dive(&jb, DEPTH + i % 8, me * 1000000 + i);
        CHECK(0, "dive returned");
    }
    CHECK(r == (int)((me * 1000000 + i) & 0x3fffffff) + 1, "goroutine %ld round %d: setjmp returned %d", me, i, r);
    CHECK(before == me * 1000000 + i, "a local changed across the longjmp");
    if (split_gettid() != t0)
        atomic_fetch_add(&moves, 1);
}

static void jumper(void *arg)
{
    long me = (long)(intptr_t)arg;
    for (long i = 0; split_go_on(i, ROUNDS); i++)
        round_trip(me, (int)(i % 1000000));
}

static void jumps_main(void *arg)
{
    gort_stats s1 = split_run_until(NG, jumper, 1, "longjmp rounds",
                                    arg ? SPLIT_NEED(prologue_preempts) : SPLIT_NEED(preempt_requests));
    printf("at least %d longjmps, %ld rounds ended on another thread\n", NG * ROUNDS, atomic_load(&moves));
    if (arg)
        CHECK(s1.prologue_preempts > 0, "never stopped at a prologue");
    else
        /* With signals, a signal that lands in libc's setjmp/longjmp
         * releases the goroutine's P (syscall_foreign.c) and it runs on
         * P-less, where a prologue does not stop it, until a reclaim
         * signal: under load some runs saw no prologue stop at all. */
        CHECK(s1.preempt_requests > 0, "no preemption pressure");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    run_main_child(jumps_main, (void *)1, "2", "quantum=200us,asyncpreemptoff=1");
    run_main_child(jumps_main, NULL, "2", "quantum=200us");
    return 0;
}
