/*
 * semaphore_util.h — helpers shared by test_semaphore.c and
 * test_semaphore_ctx.c: a gort_semaphore's units in use and its queue of
 * waiters, read from outside.
 */
#ifndef GORT_TEST_SEMAPHORE_UTIL_H
#define GORT_TEST_SEMAPHORE_UTIL_H

#include <gort.h>

static int64_t cur_of(gort_semaphore *s)
{
    return __atomic_load_n(&s->cur, __ATOMIC_SEQ_CST);
}

/* Waiters queued now.  The waiter's first field is its `next` link
 * (semaphore.c); read under the semaphore's lock, which we cannot take,
 * so only when the queue is quiet: callers wait for a count they expect. */
static int queued(gort_semaphore *s)
{
    int n = 0;
    for (void *w = __atomic_load_n(&s->head, __ATOMIC_SEQ_CST); w; w = *(void **)w)
        n++;
    return n;
}

static void wait_queued(gort_semaphore *s, int n)
{
    while (queued(s) != n)
        gort_yield();
}

#endif /* GORT_TEST_SEMAPHORE_UTIL_H */
