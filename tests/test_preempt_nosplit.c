/*
 * test_preempt_nosplit.c — code the program marks as not preemptible is
 * never asynchronously preempted, and sysmon says so on stderr:
 *   - a GORT_NOSPLIT function spinning for 1 s with one P is not stopped
 *     (a goroutine waiting to set a flag never runs meanwhile), and the
 *     report names the function and "GORT_NOSPLIT function";
 *   - an ordinary loop inside gort_preempt_disable/enable is not stopped
 *     either, is reported as "preemption disabled (gort_preempt_disable)",
 *     and the pending request is honoured at gort_preempt_enable: the
 *     waiting goroutine has run by the time it returns.
 * Each case runs in a child (one P, quantum=1ms, stuckreport=200ms) whose
 * stderr is checked.
 */
#include "check.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

static _Atomic int flag;

static void setter(void *arg)
{
    (void)arg;
    atomic_store_explicit(&flag, 1, memory_order_relaxed);
}

/* Always inlined: a call from the GORT_NOSPLIT function to an ordinary
 * function would be a legitimate preemption point (as in Go). */
static inline __attribute__((always_inline)) int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spin for ns nanoseconds; 1 if the flag got set meanwhile.  The clock is
 * read rarely so nearly every signal lands in the loop itself, and through
 * libc/vDSO (never a runtime call, which would be a preemption point). */
#define SPIN_BODY(ns)                                                          \
    int64_t end = mono_ns() + (ns);                                            \
    for (;;) {                                                                 \
        for (uint32_t i = 0; i < 2000000; i++)                                 \
            if (atomic_load_explicit(&flag, memory_order_relaxed))             \
                return 1;                                                      \
        if (mono_ns() >= end)                                                  \
            return 0;                                                          \
    }

GORT_NOSPLIT int nosplit_spin(int64_t ns) { SPIN_BODY(ns) }

__attribute__((noinline)) int plain_spin(int64_t ns) { SPIN_BODY(ns) }

static void main_nosplit(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_go(setter, NULL), 0);
    CHECK(nosplit_spin(1000000000) == 0, "the GORT_NOSPLIT loop was preempted");
    gort_yield();
    CHECK(atomic_load(&flag) == 1);
}

static void main_disabled(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_go(setter, NULL), 0);
    gort_preempt_disable();
    gort_preempt_disable(); /* nests */
    CHECK(plain_spin(500000000) == 0, "preempted inside gort_preempt_disable");
    gort_preempt_enable();
    CHECK(plain_spin(500000000) == 0, "preempted inside the outer section");
    gort_preempt_enable(); /* the pending request is honoured here */
    CHECK(atomic_load(&flag) == 1, "gort_preempt_enable did not yield to the pending request");
    gort_stats st;
    gort_read_stats(&st);
    fprintf(stderr, "requests=%llu signals=%llu sync_preempts=%llu\n",
            (unsigned long long)st.preempt_requests, (unsigned long long)st.signals_sent,
            (unsigned long long)st.sync_preempts);
}

static void child(void *arg)
{
    setenv("GORTMAXPROCS", "1", 1);
    setenv("GORTDEBUG", "quantum=1ms,stuckreport=200ms", 1);
    alarm(30);
    int rc = gort_main((void (*)(void *))arg, NULL);
    fflush(NULL);
    _exit(rc);
}

/* Run child(fn) with stderr captured; exit status must be 0 and stderr
 * must contain each needle. */
static void run_case(void (*fn)(void *), const char *n1, const char *n2, const char *n3)
{
    char buf[16384];
    int st = capture_child(child, (void *)fn, buf, sizeof buf); /* child never returns */
    fprintf(stderr, "child stderr: %s", buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    CHECK(strstr(buf, n1), "missing '%s'", n1);
    CHECK(strstr(buf, n2), "missing '%s'", n2);
    if (n3)
        CHECK(strstr(buf, n3), "missing '%s'", n3);
    /* Once per request, not once per sysmon round. */
    const char *first = strstr(buf, "cannot be preempted");
    CHECK(!strstr(first + 1, "cannot be preempted"), "reported more than once");
}

int main(void)
{
    run_case(main_nosplit, "gort: goroutine 1 cannot be preempted for", "(GORT_NOSPLIT function)",
             "nosplit_spin");
    run_case(main_disabled, "gort: goroutine 1 cannot be preempted for",
             "(preemption disabled (gort_preempt_disable))", "plain_spin");
    printf("GORT_NOSPLIT and gort_preempt_disable sections were not preempted and were reported\n");
    return 0;
}
