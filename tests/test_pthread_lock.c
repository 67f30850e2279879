/* pthread locks held across preemption (issue 9's target): four goroutines
 * guard a call-free section with one pthread mutex (ERRORCHECK, default,
 * RECURSIVE taken twice) and a short spin outside it, at GORTMAXPROCS=1, 2
 * and 4 with a 200 us time slice, until enough asynchronous preemptions
 * happened.  Every lock and unlock must succeed, the counter must equal
 * the sections run, no section may see another inside it, and nothing may
 * hang (watchdog).  Before the lock bookkeeping a goroutine preempted
 * inside the section let another one on the same thread fail with EDEADLK
 * (ERRORCHECK), lock it a second time (RECURSIVE) or hang (default).
 * Each configuration runs in its own child (the runtime reads the
 * environment once). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

#define NG 4
#define WANT_PREEMPTS 300 /* asynchronous preemptions to see before stopping, */
#define MIN_PREEMPTS 20   /* or at least this many after RUN_NS (MAX_NS at most) */
#define RUN_NS (1500 * 1000000LL)
#define MAX_NS (6000 * 1000000LL)

static pthread_mutex_t mu;
static int kind;
static long counter;                       /* guarded by mu */
static volatile int inside;                /* guarded by mu: 1 while a section runs */
static _Atomic long overlaps, lockerr, unlockerr, moved, done_sections;
static _Atomic int stop;
static _Atomic int finished;

static void spin(int n)
{
    for (volatile int i = 0; i < n; i++)
        ;
}

static void worker(void *arg)
{
    (void)arg;
    long mine = 0;
    int depth = kind == PTHREAD_MUTEX_RECURSIVE ? 2 : 1;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        int taken = 0;
        for (int d = 0; d < depth; d++) {
            int r = pthread_mutex_lock(&mu);
            if (r != 0) {
                atomic_fetch_add(&lockerr, 1);
                break;
            }
            taken++;
        }
        pthread_t tid = pthread_self();
        if (taken == depth) {
            /* The call-free section: the mutex alone protects it. */
            if (inside)
                atomic_fetch_add(&overlaps, 1);
            inside = 1;
            long v = counter;
            spin(200);
            counter = v + 1;
            inside = 0;
            mine++;
        }
        /* Still on the thread that owns the lock (glibc would refuse an
         * ERRORCHECK unlock, and accept a default one, from another). */
        if (taken && !pthread_equal(pthread_self(), tid))
            atomic_fetch_add(&moved, 1);
        for (int d = 0; d < taken; d++)
            if (pthread_mutex_unlock(&mu) != 0)
                atomic_fetch_add(&unlockerr, 1);
        spin(300);
    }
    atomic_fetch_add(&done_sections, mine);
    atomic_fetch_add(&finished, 1);
}

static void main_g(void *arg)
{
    (void)arg;
    for (int i = 0; i < NG; i++)
        CHECK(gort_go(worker, NULL) == 0);
    gort_stats st;
    int64_t start = gort_nanotime(), now;
    do {
        gort_sleep(2000000);
        gort_read_stats(&st);
        now = gort_nanotime() - start;
    } while (st.async_preempts < WANT_PREEMPTS &&
             (now < RUN_NS || st.async_preempts < MIN_PREEMPTS) && now < MAX_NS);
    atomic_store(&stop, 1);
    while (atomic_load(&finished) < NG)
        gort_sleep(1000000);
    gort_read_stats(&st);
    fprintf(stderr,
            "async_preempts=%llu sections=%ld lockerr=%ld unlockerr=%ld overlaps=%ld moved=%ld\n",
            (unsigned long long)st.async_preempts, (long)atomic_load(&done_sections),
            (long)atomic_load(&lockerr), (long)atomic_load(&unlockerr),
            (long)atomic_load(&overlaps), (long)atomic_load(&moved));
    CHECK_EQ(atomic_load(&lockerr), 0);
    CHECK_EQ(atomic_load(&unlockerr), 0);
    CHECK_EQ(atomic_load(&overlaps), 0);
    CHECK_EQ(atomic_load(&moved), 0);
    CHECK_EQ(counter, atomic_load(&done_sections));
    /* Otherwise the run proved nothing. */
    CHECK(st.async_preempts >= MIN_PREEMPTS, "only %llu asynchronous preemptions",
          (unsigned long long)st.async_preempts);
    CHECK(atomic_load(&done_sections) > 1000);
}

struct conf { int kind; const char *procs; const char *name; };

static void child(void *arg)
{
    const struct conf *c = arg;
    setenv("GORTMAXPROCS", c->procs, 1);
    setenv("GORTDEBUG", "quantum=200us", 1);
    watchdog_start(c->name, 30);
    kind = c->kind;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, c->kind);
    pthread_mutex_init(&mu, &a);
    run_main(main_g, NULL);
}

int main(void)
{
    static const struct { int kind; const char *name; } kinds[] = {
        {PTHREAD_MUTEX_ERRORCHECK, "errorcheck"},
        {PTHREAD_MUTEX_DEFAULT, "default"},
        {PTHREAD_MUTEX_RECURSIVE, "recursive"},
    };
    static const char *procs[] = {"1", "2", "4"};
    int failed = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (size_t p = 0; p < 3; p++) {
            char name[64];
            snprintf(name, sizeof name, "%s mutex, GORTMAXPROCS=%s", kinds[k].name, procs[p]);
            struct conf c = {kinds[k].kind, procs[p], name};
            char buf[16384];
            int st = capture_child(child, &c, buf, sizeof buf);
            bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
            fprintf(stderr, "%s %s: %s", ok ? "ok  " : "FAIL", name, buf);
            if (!ok) {
                fprintf(stderr, "    (status %#x)\n", st);
                failed++;
            }
        }
    }
    CHECK(failed == 0, "%d of 9 configurations failed", failed);
    return 0;
}
