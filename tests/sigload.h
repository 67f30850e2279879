/*
 * sigload.h — for the tests that aim a program's signal handler at the
 * threads goroutines run on (test_syscall_handler,
 * split/test_split_handler): where the workers are, a plain thread that
 * sends them signals, and where each handler found itself running.
 */
#ifndef GORT_TEST_SIGLOAD_H
#define GORT_TEST_SIGLOAD_H
#include "check.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>

#define SIGLOAD_MAX 16

typedef struct {
    _Atomic long tid[SIGLOAD_MAX];      /* the thread each worker last ran on */
    _Atomic uintptr_t top[SIGLOAD_MAX]; /* an address near the top of each worker's stack */
    int nworkers, sig;
    long count;     /* signals to send; < 0: until stop */
    long period_ns; /* between two */
    atomic_int stop; /* set by the sender after count signals, or by the test */
    atomic_int on_goroutine, off_altstack; /* handlers that ran on a worker's stack / off the alternate stack */
} sigload;

/* In a handler (async-signal-safe): count it if it runs on a worker's
 * stack, or anywhere but the thread's alternate signal stack.  Counts of
 * what must not happen: a handler still running when the test reads them
 * cannot make a count of what must happen look short. */
static inline __attribute__((always_inline)) void sigload_where(sigload *l)
{
    int local;
    uintptr_t sp = (uintptr_t)&local;
    for (int k = 0; k < l->nworkers; k++) {
        uintptr_t w = atomic_load(&l->top[k]);
        if (w && sp < w && w - sp < 256 * 1024)
            atomic_fetch_add(&l->on_goroutine, 1);
    }
    stack_t ss;
    if (sigaltstack(NULL, &ss) != 0 || !(ss.ss_flags & SS_ONSTACK))
        atomic_fetch_add(&l->off_altstack, 1);
}

/* The sender (a pthread_create start routine): l->sig to each worker's
 * last thread in turn, blocked on its own thread. */
__attribute__((unused)) static void *sigload_sender(void *arg)
{
    sigload *l = (sigload *)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, l->sig);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    pid_t pid = getpid();
    for (long i = 0; l->count < 0 ? !atomic_load(&l->stop) : i < l->count; i++) {
        long tid = atomic_load(&l->tid[i % l->nworkers]);
        if (tid > 0)
            syscall(SYS_tgkill, pid, tid, l->sig);
        struct timespec ts = {0, l->period_ns};
        nanosleep(&ts, NULL);
    }
    atomic_store(&l->stop, 1);
    return NULL;
}

#endif
