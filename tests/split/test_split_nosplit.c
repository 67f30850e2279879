/*
 * test_split_nosplit.c — GORT_NOSPLIT in split-stack mode is Go's nosplit:
 * no stack check in its prologue, so a poisoned guard never stops it
 * there, and an unsafe point for the signal, so it is never stopped
 * inside at all.
 *   - never preempted: 4 goroutines on GORTMAXPROCS=2 (quantum=200us, so
 *     requests keep coming, poison first and signal after 10 us) call a
 *     nosplit function that spins ~20 us without calls, and a checked
 *     function between calls.  The nosplit function marks itself inside on
 *     its thread (tid) at entry and clears the mark at exit, and checks
 *     that it left on the thread it entered on; every goroutine, between
 *     calls, looks for another's mark carrying its own thread: that
 *     goroutine would have been stopped inside.  The function
 *     also reads the guard word inside and counts poisons it sees: the
 *     requests did reach it (and it went on); the goroutines were stopped
 *     at the checked calls meanwhile (prologue_preempts).
 *   - a call-free loop is still stopped: with one P, a loop that never
 *     calls waits for a goroutine that can only run if the loop is stopped,
 *     and the signal fallback does it (async_preempts).
 */
#include "split.h"

#include <stdatomic.h>

#define NG 4
#define CALLS 3000

static _Atomic long inside[NG];          /* tid while goroutine i is inside nosplit_spin */
static _Atomic long poisoned_inside;     /* nosplit calls that found a poisoned guard */
static _Atomic long violations;

GORT_NOSPLIT void nosplit_spin(int me)
{
    long tid = split_gettid();
    atomic_store_explicit(&inside[me], tid, memory_order_relaxed);
    bool poisoned = false;
    for (volatile int i = 0; i < 20000; i++)
        if (!poisoned && split_guard_word() == SPLIT_POISON)
            poisoned = true;
    if (split_gettid() != tid)
        atomic_fetch_add(&violations, 1);
    if (poisoned)
        atomic_fetch_add_explicit(&poisoned_inside, 1, memory_order_relaxed);
    atomic_store_explicit(&inside[me], 0, memory_order_relaxed);
}

/* Checked (split) code between the nosplit calls: where the goroutines
 * are stopped, and where they look for another stopped inside.  The scan
 * itself must stay on one thread (a stop between reading the tid and
 * reading the marks would compare another thread's marks with ours):
 * gort_preempt_disable holds it there (no stop at a prologue either). */
__attribute__((noinline)) void look(int me)
{
    gort_preempt_disable();
    long tid = split_gettid();
    for (int j = 0; j < NG; j++)
        if (j != me && atomic_load_explicit(&inside[j], memory_order_relaxed) == tid) {
            fprintf(stderr, "goroutine %d runs on thread %ld while goroutine %d is inside its nosplit call there\n",
                    me, tid, j);
            atomic_fetch_add(&violations, 1);
        }
    gort_preempt_enable();
}

static void caller(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (long i = 0; split_go_on(i, CALLS); i++) {
        nosplit_spin(me);
        look(me);
    }
}

static void never_main(void *arg)
{
    (void)arg;
    gort_stats s1 = split_run_until(NG, caller, 0, "nosplit calls", SPLIT_NEED(prologue_preempts));
    printf("at least %d nosplit calls, %ld saw a poisoned guard inside\n", NG * CALLS, atomic_load(&poisoned_inside));
    CHECK(atomic_load(&violations) == 0, "a goroutine was stopped inside a GORT_NOSPLIT function");
    CHECK(atomic_load(&poisoned_inside) > 0, "no request reached a nosplit call: no pressure");
    CHECK(s1.prologue_preempts > 0, "the goroutines were never stopped at a checked call");
}

/* --- a call-free loop ------------------------------------------------- */
static _Atomic int flag;

static void setter(void *arg)
{
    (void)arg;
    atomic_store(&flag, 1);
}

__attribute__((noinline)) int spin_until_flag(void)
{
    /* No call in the loop: no prologue to stop at.  Bounded so that a
     * failure is a message, not a hang (~seconds). */
    for (unsigned long i = 0; i < 20000000000ul; i++)
        if (atomic_load_explicit(&flag, memory_order_relaxed))
            return 1;
    return 0;
}

static void callfree_main(void *arg)
{
    (void)arg;
    gort_stats s0 = split_stats();
    CHECK_EQ(gort_go(setter, NULL), 0);
    CHECK(spin_until_flag(), "a call-free loop was never stopped");
    gort_stats s1 = split_since(s0, "call-free loop");
    CHECK(s1.async_preempts >= 1 && s1.signals_sent >= 1, "stopped without the signal?");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    run_main_child(never_main, NULL, "2", "quantum=200us");
    run_main_child(callfree_main, NULL, "1", "quantum=1ms");
    return 0;
}
