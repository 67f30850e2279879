/*
 * test_preempt_nosplit.c — code the program marks as not preemptible is
 * never asynchronously preempted, and sysmon says so on stderr:
 *   - a GORT_NOSPLIT function spinning for 1 s of CPU with one P is not stopped
 *     (a goroutine waiting to set a flag never runs meanwhile), and the
 *     report names the function and "GORT_NOSPLIT function";
 *   - an ordinary loop inside gort_preempt_disable/enable is not stopped
 *     either, is reported as "preemption disabled (gort_preempt_disable)",
 *     and the pending request is honoured at gort_preempt_enable: the
 *     waiting goroutine has run by the time it returns.
 *   - a goroutine whose P was released in a long libc call (the signal
 *     found it in memset while another goroutine waited: syscall_foreign.c)
 *     takes a P back at gort_preempt_disable, so at one P nothing else runs
 *     during its section (before, the section ran P-less beside the other
 *     goroutine, which the reclaim signal, refused inside it, never ended).
 * Each case runs in a child (one P, quantum=1ms, stuckreport=200ms) whose
 * stderr is checked.
 */
#include "check.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

static _Atomic int flag;

static void setter(void *arg)
{
    (void)arg;
    atomic_store_explicit(&flag, 1, memory_order_relaxed);
}

/* Spin until the timer t (check.h's cpu_timer) has seen its CPU time
 * used; 1 if the flag got set meanwhile.  CPU time, not wall time: the
 * stuck report waits for stuckreport of the thread's CPU, and on a loaded
 * machine a 1 s wall-time spin gave the thread too little of it.  No call
 * and no system call inside (the timers are started by the callers, before
 * the setter exists): a call from the GORT_NOSPLIT function to an
 * ordinary function would be a legitimate preemption point (as in Go),
 * and a signal that finds the goroutine in a system call may hand its P
 * away. */
#define SPIN_BODY(t)                                                           \
    while (!cpu_timer_done(t))                                                 \
        if (atomic_load_explicit(&flag, memory_order_relaxed))                 \
            return 1;                                                          \
    return 0;

GORT_NOSPLIT int nosplit_spin(cpu_timer *t) { SPIN_BODY(t) }

__attribute__((noinline)) int plain_spin(cpu_timer *t) { SPIN_BODY(t) }

static void main_nosplit(void *arg)
{
    (void)arg;
    cpu_timer t;
    cpu_timer_start(&t, 1000000000);
    CHECK_EQ(gort_go(setter, NULL), 0);
    CHECK(nosplit_spin(&t) == 0, "the GORT_NOSPLIT loop was preempted");
    cpu_timer_stop(&t);
    gort_yield();
    CHECK(atomic_load(&flag) == 1);
}

static void main_disabled(void *arg)
{
    (void)arg;
    /* Both timers before the setter exists (nothing wants the P yet), so
     * starting them is not itself a preemption point: 500 ms each. */
    cpu_timer t1, t2;
    cpu_timer_start(&t1, 500000000);
    cpu_timer_start(&t2, 1000000000);
    CHECK_EQ(gort_go(setter, NULL), 0);
    gort_preempt_disable();
    gort_preempt_disable(); /* nests */
    CHECK(plain_spin(&t1) == 0, "preempted inside gort_preempt_disable");
    gort_preempt_enable();
    CHECK(plain_spin(&t2) == 0, "preempted inside the outer section");
    gort_preempt_enable(); /* the pending request is honoured here */
    CHECK(atomic_load(&flag) == 1, "gort_preempt_enable did not yield to the pending request");
    cpu_timer_stop(&t1);
    cpu_timer_stop(&t2);
    gort_stats st;
    gort_read_stats(&st);
    fprintf(stderr, "requests=%llu signals=%llu sync_preempts=%llu\n",
            (unsigned long long)st.preempt_requests, (unsigned long long)st.signals_sent,
            (unsigned long long)st.sync_preempts);
}

static _Atomic long counter;

static void counting(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&flag, memory_order_relaxed))
        atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
}

static void main_foreign(void *arg)
{
    (void)arg;
    /* 256 MiB, faulted in before the other goroutine exists (huge pages
     * where the kernel gives them), so that the memset below is a long
     * call into libc and nothing else. */
    size_t n = (size_t)256 << 20;
    char *big = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(big != MAP_FAILED);
    (void)madvise(big, n, MADV_HUGEPAGE);
    memset(big, 1, n);
    CHECK_EQ(gort_go(counting, NULL), 0);
    for (int i = 0; i < 4; i++) /* ~100 ms in libc with counting waiting */
        memset(big, i, n);
    cpu_timer t; /* pthread_create: libc too, still P-less */
    cpu_timer_start(&t, 50000000);
    gort_preempt_disable();
    long c1 = atomic_load(&counter);
    plain_spin(&t);
    long c2 = atomic_load(&counter);
    gort_preempt_enable();
    cpu_timer_stop(&t);
    atomic_store(&flag, 1);
    gort_stats st;
    gort_read_stats(&st);
    fprintf(stderr, "handoffs=%llu counted=%ld\n", (unsigned long long)st.handoffs, c1);
    CHECK(c2 == c1, "another goroutine ran during the section: %ld increments", c2 - c1);
    munmap(big, n);
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
    CHECK(!first || !strstr(first + 1, "cannot be preempted"), "reported more than once");
}

int main(void)
{
    run_case(main_nosplit, "gort: goroutine 1 cannot be preempted for", "(GORT_NOSPLIT function)",
             "nosplit_spin");
    run_case(main_disabled, "gort: goroutine 1 cannot be preempted for",
             "(preemption disabled (gort_preempt_disable))", "plain_spin");
    run_case(main_foreign, "handoffs=", "counted=", NULL);
    printf("GORT_NOSPLIT and gort_preempt_disable sections were not preempted and were reported\n");
    return 0;
}
