/*
 * splitstack_thread.c — pthread_create for split-stack programs.
 *
 * The compiler drivers link every -fsplit-stack program with
 * --wrap=pthread_create, so that libgcc can set up each new thread's
 * stack bounds; this object is that wrapper when the program uses gort's
 * __morestack (libgort.a provides it before libgcc is searched, and
 * libgcc's morestack.o, which would bring a second __morestack, is then
 * never pulled in).  All it does: the new thread starts with 0 in its
 * guard word (%fs:0x70), because glibc reuses cached thread stacks and
 * their TCBs with the word a dead thread left there, which may be a
 * goroutine's guard or a poison.  With 0 no check of a plain thread ever
 * fails: plain threads keep their pthread stacks and guard pages, as in
 * the default build.
 *
 * Only in libgort.a, and only linked when --wrap=pthread_create asks for
 * it (nothing else refers to it): __real_pthread_create exists only under
 * that option.  The reference to it is strong on purpose: a weak one
 * resolved to the wrapper itself in static links and recursed forever.
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
    __attribute__((visibility("hidden")));

struct start { void *(*fn)(void *); void *arg; };

static void *thread_start(void *p)
{
    struct start s = *(struct start *)p;
    free(p);
    *gort__arch_tcb_stackguard() = 0;
    return s.fn(s.arg);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    struct start *s = malloc(sizeof *s);
    if (!s)
        return EAGAIN;
    s->fn = fn;
    s->arg = arg;
    int rc = __real_pthread_create(t, attr, thread_start, s);
    if (rc != 0)
        free(s);
    return rc;
}
