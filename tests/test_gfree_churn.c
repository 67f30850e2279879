/* Dead-G pools under churn (stack.c, scavenge.c): goroutines with stacks
 * of 0, 20 and 100 KiB are spawned for 2 s from four goroutines and two
 * plain threads (the P-less path takes Gs straight off the global clean
 * list), while GOMAXPROCS moves between 1 and 4 and the scavenger scans
 * and hands back what the Ps spill; every goroutine must run to its end.
 * The global free lists are stacks of chunks moved whole between Ps and
 * the scavenger: a chain left unterminated, a count out of step with its
 * list or a stack handed out while being scanned shows here as a crash,
 * a lost goroutine or a hang (its timeout).  Written from a review's
 * stress program for the chunked lists, without its internal checks. */
#define _GNU_SOURCE
#include "check.h"
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define RUN_NS 2000000000LL

static _Atomic long created, finished;
static _Atomic int stop;

static void child(void *arg)
{
    long mode = (long)arg;
    int kib = mode % 4 == 0 ? 100 : mode % 4 == 1 ? 20 : 0;
    if (kib)
        CHECK(use_stack_kib(kib) >= 0);
    if (mode % 7 == 0)
        gort_sleep(100000);
    else if (mode % 5 == 0)
        gort_yield();
    atomic_fetch_add(&finished, 1);
}

static void spawn_some(unsigned *r, int max)
{
    *r = *r * 1103515245u + 12345u;
    int n = 1 + (int)((*r >> 16) % (unsigned)max);
    for (int i = 0; i < n; i++) {
        *r = *r * 1103515245u + 12345u;
        atomic_fetch_add(&created, 1);
        CHECK(gort_go(child, (void *)(long)(*r >> 8)) == 0);
    }
}

static void spawner(void *arg)
{
    unsigned r = (unsigned)(long)arg * 2654435761u + 1;
    while (!atomic_load(&stop)) {
        spawn_some(&r, 200);
        if ((r >> 10) % 4 == 0)
            gort_sleep((int64_t)((r >> 12) % 20) * 1000000); /* Ps idle, stacks age */
        else
            gort_yield();
    }
}

static void *plain(void *arg)
{
    unsigned r = (unsigned)(long)arg * 7919u + 3;
    while (!atomic_load(&stop)) {
        spawn_some(&r, 50);
        struct timespec ts = {0, (long)((r >> 12) % 3) * 1000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void resizer(void *arg)
{
    (void)arg;
    unsigned r = 99;
    while (!atomic_load(&stop)) {
        r = r * 1103515245u + 12345u;
        gort_maxprocs(1 + (int)((r >> 16) % 4));
        gort_sleep((int64_t)((r >> 8) % 30) * 1000000);
    }
}

static void main_fn(void *arg)
{
    (void)arg;
    pthread_t th[2];
    for (long i = 0; i < 2; i++)
        CHECK(pthread_create(&th[i], NULL, plain, (void *)i) == 0);
    for (long i = 0; i < 4; i++)
        CHECK(gort_go(spawner, (void *)i) == 0);
    CHECK(gort_go(resizer, NULL) == 0);
    gort_sleep(RUN_NS);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    while (atomic_load(&finished) < atomic_load(&created))
        gort_sleep(1000000); /* a lost goroutine: the suite's timeout names the test */
    CHECK(atomic_load(&created) > 1000);
    printf("ok: %ld goroutines\n", atomic_load(&created));
}

int main(void)
{
    return gort_main(main_fn, NULL);
}
