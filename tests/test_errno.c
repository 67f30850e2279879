/*
 * test_errno.c — errno belongs to the goroutine (threadstate.c).
 *
 * Async: four goroutines on 2 Ps at quantum=200us each set errno to their
 * own values and read it back ~50 instructions later, in a call-free
 * loop, until >= 1000 asynchronous preemptions have happened; 0 wrong
 * values allowed.  Without per-goroutine errno the compiler keeps errno's
 * address in a register for the whole loop (glibc declares
 * __errno_location const), and a preempted goroutine resumed on another
 * thread reads and writes that thread's errno.
 *
 * Sync: 12,000 checks that errno is kept across gort_yield, gort_sleep
 * and channel operations that succeed (the goroutine usually resumes on
 * another thread there).
 *
 * Each phase runs in its own child (configuration is read once per
 * process).  test_errno_noroute.c runs the async phase without gort.h's
 * errno route: the registers holding &errno are what keeps it right.
 */
#include "check.h"

#include <stdatomic.h>

#define NG 4
static atomic_long wrong;
static atomic_long checks;
static atomic_bool stop;
static gort_waitgroup wg;

/* About 50 instructions of arithmetic the compiler cannot fold, no call. */
static inline unsigned spin50(unsigned x)
{
    for (int i = 0; i < 12; i++) {
        x = x * 2654435761u + (unsigned)i;
        __asm__ volatile("" : "+r"(x));
    }
    return x;
}

static void async_worker(void *arg)
{
    int base = (int)(intptr_t)arg * 100000;
    unsigned x = (unsigned)base;
    long bad = 0, n = 0;
    for (int k = 0; !atomic_load_explicit(&stop, memory_order_relaxed); k = (k + 1) % 1000) {
        errno = base + k;
        x = spin50(x);
        /* Memory may have changed (as after any store through a pointer):
         * errno must be read again, not forwarded from the store. */
        __asm__ volatile("" ::: "memory");
        if (errno != base + k)
            bad++;
        n++;
    }
    atomic_fetch_add(&wrong, bad);
    atomic_fetch_add(&checks, n);
    (void)x;
    gort_wg_done(&wg);
}

static void async_main(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, NG);
    for (intptr_t i = 1; i <= NG; i++)
        CHECK(gort_go(async_worker, (void *)i) == 0);
    gort_stats s;
    int64_t t0 = gort_nanotime();
    do {
        gort_sleep(2000000);
        gort_read_stats(&s);
    } while (s.async_preempts < 1000 && gort_nanotime() - t0 < 60LL * 1000000000);
    atomic_store(&stop, true);
    gort_wg_wait(&wg);
    gort_read_stats(&s);
    fprintf(stderr, "async: %ld checks, %ld wrong, %llu async preemptions\n", atomic_load(&checks),
           atomic_load(&wrong), (unsigned long long)s.async_preempts);
    CHECK(s.async_preempts >= 1000, "only %llu async preemptions", (unsigned long long)s.async_preempts);
    CHECK_EQ(atomic_load(&wrong), 0);
}

static gort_chan *ch[NG];

static atomic_long bad_kind[3];
static atomic_int last_bad; /* a wrong value seen, to say where it came from */

static void note(int kind, int want)
{
    int e = errno;
    if (e != want) {
        atomic_fetch_add(&bad_kind[kind], 1);
        atomic_store(&last_bad, e);
    }
}

static void sync_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    int base = (id + 1) * 100000;
    for (int k = 0; k < 1000; k++) {
        errno = base + k;
        gort_yield();
        note(0, base + k);
        errno = base + k + 1;
        gort_sleep(k % 4 == 0 ? 1000 : 0);
        note(1, base + k + 1);
        /* A ring: send to the next goroutine, receive from the previous. */
        errno = base + k + 2;
        int v = k;
        gort_chan_send(ch[(id + 1) % NG], &v);
        CHECK(gort_chan_recv(ch[id], &v));
        note(2, base + k + 2);
    }
    atomic_fetch_add(&checks, 3000);
    gort_wg_done(&wg);
}

static void sync_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < NG; i++)
        CHECK(ch[i] = gort_chan_make(sizeof(int), 1));
    gort_wg_add(&wg, NG);
    for (intptr_t i = 0; i < NG; i++)
        CHECK(gort_go(sync_worker, (void *)i) == 0);
    gort_wg_wait(&wg);
    long w = atomic_load(&bad_kind[0]) + atomic_load(&bad_kind[1]) + atomic_load(&bad_kind[2]);
    atomic_store(&wrong, w);
    fprintf(stderr, "sync: %ld checks, %ld wrong (yield %ld, sleep %ld, channel %ld; last %d)\n",
            atomic_load(&checks), w, atomic_load(&bad_kind[0]), atomic_load(&bad_kind[1]),
            atomic_load(&bad_kind[2]), atomic_load(&last_bad));
    CHECK_EQ(atomic_load(&checks), 12000);
    CHECK_EQ(atomic_load(&wrong), 0);
}

static void child(void *arg)
{
    setenv("GORTMAXPROCS", "2", 1);
    setenv("GORTDEBUG", "quantum=200us", 1);
    run_main((void (*)(void *))arg, NULL);
}

int main(void)
{
    char buf[16384];
    void (*phases[])(void *) = {async_main, sync_main};
    const char *names[] = {"async", "sync"};
#ifdef ERRNO_ASYNC_ONLY
    for (int i = 0; i < 1; i++) {
#else
    for (int i = 0; i < 2; i++) {
#endif
        int st = capture_child(child, (void *)phases[i], buf, sizeof buf);
        fputs(buf, stderr);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s phase: status %#x", names[i], st);
    }
    return 0;
}
