/*
 * test_stw_strand.c — a goroutine that a plain thread starts just before it
 * stops and restarts the world still runs.
 *
 * The race it covers (found in review): gort_go queues the goroutine on
 * the global queue and wakep hands an idle P to an idle M with the
 * spinning token; the stop takes that P back before the M runs (stw.c
 * revoke_nextp); the restart's wakep sees the token taken and wakes
 * nobody; the M, when the kernel finally runs it, finds no P.  If it then
 * only gave the token back and slept, the goroutine waited on the global
 * queue with every P idle and no M coming, for ever (29 of 40 iterations
 * before the fix).  The M gives the token back and, as the last spinner,
 * looks for work again (mstart.c gort__drop_nextp_spinning).
 *
 * Goroutine 1 blocks on a semaphore with no timer, so nothing else wakes
 * an M: only the runtime's own hand-offs can get the goroutine running.
 * Each iteration waits up to 2 s for it (a failure, not a pace: a working
 * runtime runs it within microseconds).
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

enum { ITERATIONS = 400 };
static const int64_t GIVE_UP_NS = 2000000000;

static atomic_int ran;
static gort_semaphore hold = GORT_SEMAPHORE_INIT(1);

static void task(void *arg)
{
    (void)arg;
    atomic_store(&ran, 1);
}

static void *driver(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERATIONS; i++) {
        atomic_store(&ran, 0);
        CHECK(gort_go(task, NULL) == 0);
        gort_stop_the_world();
        gort_start_the_world();
        int64_t end = gort_nanotime() + GIVE_UP_NS;
        while (!atomic_load(&ran)) {
            CHECK(gort_nanotime() < end, "iteration %d: the goroutine started before "
                  "a stop-the-world never ran", i);
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
    gort_semaphore_release(&hold, 1);
    return NULL;
}

static void gmain(void *arg)
{
    (void)arg;
    gort_maxprocs(2);
    gort_semaphore_acquire(&hold, 1); /* the only unit */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, driver, NULL) == 0);
    gort_semaphore_acquire(&hold, 1); /* parked, no timer, until the driver ends */
    CHECK(pthread_join(t, NULL) == 0);
}

int main(void)
{
    CHECK(gort_main(gmain, NULL) == 0);
    return 0;
}
