/*
 * misuse_child.h — the children of the misuse tests (test_rwmutex.c,
 * test_semaphore.c), for expect_child: child_misuse runs misuse(kind) as
 * goroutine 1, child_misuse_thread on a plain thread, and each exits 0 if
 * it returns, so only a caught misuse (a fatal error) fails the child.
 * The includer defines misuse(kind) (noinline, so that the traceback
 * names it).
 */
#ifndef GORT_TEST_MISUSE_CHILD_H
#define GORT_TEST_MISUSE_CHILD_H

#include <pthread.h>
#include <unistd.h>

static void misuse(long kind);

static void misuse_main(void *arg)
{
    misuse((long)arg);
}

static void child_misuse(void *arg)
{
    gort_main(misuse_main, arg);
    _exit(0); /* unreachable if the misuse is caught */
}

static void *misuse_thread(void *arg)
{
    misuse((long)arg);
    return NULL;
}

static void child_misuse_thread(void *arg)
{
    pthread_t t;
    pthread_create(&t, NULL, misuse_thread, arg);
    pthread_join(t, NULL);
    _exit(0);
}

#endif /* GORT_TEST_MISUSE_CHILD_H */
