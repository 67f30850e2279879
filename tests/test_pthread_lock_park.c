/* pthread locks held across gort calls, and the bookkeeping of every lock
 * wrapper.  A goroutine holding a pthread mutex (ERRORCHECK, default,
 * RECURSIVE), a write-locked rwlock or a spinlock that parks (gort_sleep,
 * a channel, a yield) resumes on the same thread and unlocks without
 * error, beside goroutines competing for the Ps; condition variables keep
 * working with an ERRORCHECK mutex between goroutines; a robust mutex
 * whose owner died is acquired (EOWNERDEAD) and counted; every wrapper
 * counts exactly the acquisitions that succeeded (g->plocks), failed calls
 * count nothing, and an unlock by another goroutine (a mutex used as a
 * semaphore) does not go below zero; a goroutine spinning with a mutex
 * held is reported by the stuck report as holding a pthread lock, also
 * when the last signal landed in the clock (libc's vDSO).  Before
 * the bookkeeping, a goroutine parked under an ERRORCHECK mutex came back
 * on another thread and its unlock failed with EPERM. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <threads.h>
#include <time.h>

#include "check.h"
#include "../src/runtime.h"

static int plocks(void) { return gort__getg()->plocks; }
static bool locked_here(void) { return gort__getg()->lockedm == gort__getm(); }

static void spin(long n)
{
    for (volatile long i = 0; i < n; i++)
        ;
}

/* ---- parking while holding a lock ------------------------------------- */
static _Atomic long errors, moved, rounds;
static _Atomic int hogs_stop;

static void hog(void *arg)
{
    (void)arg;
    while (!atomic_load(&hogs_stop)) {
        spin(10000);
        gort_yield();
    }
}

static gort_chan *pingc;

static void ponger(void *arg)
{
    (void)arg;
    int v;
    while (gort_chan_recv(pingc, &v))
        gort_chan_send(pingc, &v);
}

enum { K_ERRORCHECK, K_DEFAULT, K_RECURSIVE, K_RWLOCK, K_SPIN, K_MTX, NKINDS };
static pthread_mutex_t mus[3];
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_spinlock_t sl;
static mtx_t mtx;

static int lock_kind(int k)
{
    switch (k) {
    case K_RWLOCK: return pthread_rwlock_wrlock(&rw);
    case K_SPIN: return pthread_spin_lock(&sl);
    case K_MTX: return mtx_lock(&mtx) == thrd_success ? 0 : -1;
    default: return pthread_mutex_lock(&mus[k]);
    }
}

static int unlock_kind(int k)
{
    switch (k) {
    case K_RWLOCK: return pthread_rwlock_unlock(&rw);
    case K_SPIN: return pthread_spin_unlock(&sl);
    case K_MTX: return mtx_unlock(&mtx) == thrd_success ? 0 : -1;
    default: return pthread_mutex_unlock(&mus[k]);
    }
}

struct parker { int kind; gort_chan *done; };

static void parker(void *arg)
{
    struct parker *p = arg;
    for (int i = 0; i < 40; i++) {
        if (lock_kind(p->kind) != 0) {
            atomic_fetch_add(&errors, 1);
            continue;
        }
        pid_t t = gettid();
        CHECK(plocks() == 1 && locked_here());
        switch (i % 3) {
        case 0: gort_sleep(50000); break;
        case 1: {
            int v = i;
            gort_chan_send(pingc, &v);
            gort_chan_recv(pingc, &v);
            break;
        }
        default: gort_yield(); break;
        }
        if (gettid() != t)
            atomic_fetch_add(&moved, 1);
        if (unlock_kind(p->kind) != 0)
            atomic_fetch_add(&errors, 1);
        CHECK(plocks() == 0);
        atomic_fetch_add(&rounds, 1);
        gort_yield();
    }
    gort_chan_send(p->done, NULL);
}

static void park_main(void *arg)
{
    (void)arg;
    for (int k = 0; k < 3; k++) {
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_settype(&a, k == K_ERRORCHECK   ? PTHREAD_MUTEX_ERRORCHECK
                                      : k == K_RECURSIVE ? PTHREAD_MUTEX_RECURSIVE
                                                         : PTHREAD_MUTEX_DEFAULT);
        pthread_mutex_init(&mus[k], &a);
    }
    pthread_spin_init(&sl, PTHREAD_PROCESS_PRIVATE);
    CHECK(mtx_init(&mtx, mtx_plain) == thrd_success);
    pingc = gort_chan_make(sizeof(int), 0);
    CHECK(gort_go(ponger, NULL) == 0);
    for (int i = 0; i < 2; i++)
        CHECK(gort_go(hog, NULL) == 0);
    gort_chan *done = gort_chan_make(0, 0);
    /* Two goroutines per kind: they also contend for the lock. */
    struct parker ps[NKINDS * 2];
    for (int i = 0; i < NKINDS * 2; i++) {
        ps[i] = (struct parker){i % NKINDS, done};
        CHECK(gort_go(parker, &ps[i]) == 0);
    }
    for (int i = 0; i < NKINDS * 2; i++)
        gort_chan_recv(done, NULL);
    atomic_store(&hogs_stop, 1);
    fprintf(stderr, "rounds=%ld errors=%ld moved=%ld\n", (long)atomic_load(&rounds),
            (long)atomic_load(&errors), (long)atomic_load(&moved));
    CHECK_EQ(atomic_load(&errors), 0);
    CHECK_EQ(atomic_load(&moved), 0);
    CHECK_EQ(atomic_load(&rounds), NKINDS * 2 * 40);
}

/* ---- condition variables with an ERRORCHECK mutex -------------------- */
static pthread_mutex_t cmu;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int items, consumed;
static _Atomic long cerrors;

static void producer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        if (pthread_mutex_lock(&cmu) != 0)
            atomic_fetch_add(&cerrors, 1);
        items++;
        pthread_cond_signal(&cv);
        if (pthread_mutex_unlock(&cmu) != 0)
            atomic_fetch_add(&cerrors, 1);
        if (i % 16 == 0)
            gort_yield();
    }
}

static void consumer(void *arg)
{
    gort_chan *done = arg;
    for (int i = 0; i < 1000; i++) {
        if (pthread_mutex_lock(&cmu) != 0)
            atomic_fetch_add(&cerrors, 1);
        while (items == 0)
            if (pthread_cond_wait(&cv, &cmu) != 0)
                atomic_fetch_add(&cerrors, 1);
        CHECK(plocks() == 1);
        items--;
        consumed++;
        if (pthread_mutex_unlock(&cmu) != 0)
            atomic_fetch_add(&cerrors, 1);
        CHECK(plocks() == 0);
    }
    gort_chan_send(done, NULL);
}

static void cond_main(void *arg)
{
    (void)arg;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&cmu, &a);
    gort_chan *done = gort_chan_make(0, 0);
    CHECK(gort_go(consumer, done) == 0);
    CHECK(gort_go(consumer, done) == 0);
    CHECK(gort_go(producer, NULL) == 0);
    gort_chan_recv(done, NULL);
    gort_chan_recv(done, NULL);
    CHECK_EQ(atomic_load(&cerrors), 0);
    CHECK_EQ(consumed, 2000);
}

/* ---- bookkeeping of every wrapper -------------------------------------- */
static pthread_mutex_t robust;

static void *die_holding(void *arg)
{
    (void)arg;
    CHECK(pthread_mutex_lock(&robust) == 0);
    return NULL; /* the owner dies */
}

static pthread_mutex_t sem_mu = PTHREAD_MUTEX_INITIALIZER;

static void sem_unlocker(void *arg)
{
    CHECK(plocks() == 0);
    CHECK(pthread_mutex_unlock(&sem_mu) == 0); /* not ours: a semaphore's use */
    CHECK(plocks() == 0);
    gort_chan_send(arg, NULL);
}

static void count_main(void *arg)
{
    (void)arg;
    struct timespec soon;
    clock_gettime(CLOCK_REALTIME, &soon);
    soon.tv_nsec += 1000000;
    if (soon.tv_nsec >= 1000000000) {
        soon.tv_sec++;
        soon.tv_nsec -= 1000000000;
    }
    struct timespec msoon;
    clock_gettime(CLOCK_MONOTONIC, &msoon);
    msoon.tv_sec += 0;
    msoon.tv_nsec = 0;

    pthread_mutex_t ec;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&ec, &a);
    CHECK(plocks() == 0 && gort__getg()->lockedm == NULL);
    CHECK(pthread_mutex_unlock(&ec) == EPERM && plocks() == 0); /* failed: no change */
    CHECK(pthread_mutex_lock(&ec) == 0 && plocks() == 1 && locked_here());
    CHECK(pthread_mutex_lock(&ec) == EDEADLK && plocks() == 1);
    CHECK(pthread_mutex_trylock(&ec) == EBUSY && plocks() == 1);
    CHECK(pthread_mutex_timedlock(&ec, &soon) == EDEADLK && plocks() == 1);
    CHECK(pthread_mutex_unlock(&ec) == 0 && plocks() == 0 && gort__getg()->lockedm == NULL);
    CHECK(pthread_mutex_trylock(&ec) == 0 && plocks() == 1);
    CHECK(pthread_mutex_unlock(&ec) == 0 && plocks() == 0);
    CHECK(pthread_mutex_timedlock(&ec, &soon) == 0 && plocks() == 1);
    CHECK(pthread_mutex_unlock(&ec) == 0 && plocks() == 0);
    CHECK(pthread_mutex_clocklock(&ec, CLOCK_MONOTONIC, &msoon) == 0 && plocks() == 1);
    CHECK(pthread_mutex_unlock(&ec) == 0 && plocks() == 0);

    pthread_mutex_t rec;
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&rec, &a);
    CHECK(pthread_mutex_lock(&rec) == 0 && pthread_mutex_lock(&rec) == 0 &&
          pthread_mutex_trylock(&rec) == 0 && plocks() == 3);
    gort_sleep(10000);
    CHECK(pthread_mutex_unlock(&rec) == 0 && plocks() == 2 && locked_here());
    CHECK(pthread_mutex_unlock(&rec) == 0 && pthread_mutex_unlock(&rec) == 0 && plocks() == 0);

    pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER;
    CHECK(pthread_rwlock_rdlock(&l) == 0 && pthread_rwlock_tryrdlock(&l) == 0 && plocks() == 2);
    CHECK(pthread_rwlock_trywrlock(&l) == EBUSY && plocks() == 2);
    CHECK(pthread_rwlock_timedwrlock(&l, &soon) == ETIMEDOUT && plocks() == 2);
    CHECK(pthread_rwlock_clockwrlock(&l, CLOCK_MONOTONIC, &msoon) == ETIMEDOUT && plocks() == 2);
    CHECK(pthread_rwlock_unlock(&l) == 0 && pthread_rwlock_unlock(&l) == 0 && plocks() == 0);
    CHECK(pthread_rwlock_wrlock(&l) == 0 && plocks() == 1);
    CHECK(pthread_rwlock_unlock(&l) == 0 && plocks() == 0);
    CHECK(pthread_rwlock_timedrdlock(&l, &soon) == 0 && plocks() == 1);
    CHECK(pthread_rwlock_clockrdlock(&l, CLOCK_MONOTONIC, &msoon) == 0 && plocks() == 2);
    CHECK(pthread_rwlock_unlock(&l) == 0 && pthread_rwlock_unlock(&l) == 0 && plocks() == 0);
    CHECK(pthread_rwlock_trywrlock(&l) == 0 && plocks() == 1);
    CHECK(pthread_rwlock_unlock(&l) == 0 && plocks() == 0);

    pthread_spinlock_t s;
    pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE);
    CHECK(pthread_spin_lock(&s) == 0 && plocks() == 1);
    CHECK(pthread_spin_trylock(&s) == EBUSY && plocks() == 1);
    CHECK(pthread_spin_unlock(&s) == 0 && plocks() == 0);
    CHECK(pthread_spin_trylock(&s) == 0 && plocks() == 1);
    CHECK(pthread_spin_unlock(&s) == 0 && plocks() == 0);

    mtx_t m;
    CHECK(mtx_init(&m, mtx_timed) == thrd_success);
    CHECK(mtx_lock(&m) == thrd_success && plocks() == 1);
    CHECK(mtx_trylock(&m) == thrd_busy && plocks() == 1);
    CHECK(mtx_unlock(&m) == thrd_success && plocks() == 0);
    CHECK(mtx_timedlock(&m, &soon) == thrd_success && plocks() == 1);
    CHECK(mtx_unlock(&m) == thrd_success && plocks() == 0);

    /* stdio stream locks (recursive, per thread). */
    flockfile(stderr);
    CHECK(ftrylockfile(stderr) == 0 && plocks() == 2 && locked_here());
    funlockfile(stderr);
    funlockfile(stderr);
    CHECK(plocks() == 0 && gort__getg()->lockedm == NULL);

    /* A robust mutex whose owner died: acquired, so counted. */
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&robust, &a);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, die_holding, NULL) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(pthread_mutex_lock(&robust) == EOWNERDEAD && plocks() == 1);
    CHECK(pthread_mutex_consistent(&robust) == 0);
    gort_yield();
    CHECK(pthread_mutex_unlock(&robust) == 0 && plocks() == 0);

    /* Unlocked by another goroutine: the locker stays counted, the
     * unlocker does not go negative. */
    CHECK(pthread_mutex_lock(&sem_mu) == 0 && plocks() == 1);
    gort_chan *done = gort_chan_make(0, 0);
    CHECK(gort_go(sem_unlocker, done) == 0);
    gort_chan_recv(done, NULL);
    CHECK(plocks() == 1 && locked_here());
}

/* ---- the stuck report names the lock --------------------------------- */
static pthread_mutex_t stuck_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int stuck_go;

static void waiter(void *arg)
{
    (void)arg;
    atomic_store(&stuck_go, 1);
}

/* arg NULL: a loop that reads the clock rarely, so signals land in spin();
 * non-NULL: one that only reads the clock, so they land in libc's vDSO or
 * in gort_nanotime.  The report must give the lock as the reason wherever
 * the last signal landed (it says where in "stuck in"), and at a prologue
 * in split-stack mode. */
static void stuck_main(void *arg)
{
    /* 700 ms of CPU, not of wall time: the report waits for stuckreport
     * of the thread's CPU, which a loaded machine may not give it in
     * 700 ms (check.h's cpu_timer; started before the waiter exists, so
     * nothing wants the P while it starts). */
    cpu_timer t;
    cpu_timer_start(&t, 700000000);
    CHECK(gort_go(waiter, NULL) == 0);
    CHECK(pthread_mutex_lock(&stuck_mu) == 0);
    /* And until sysmon has reported it: on a machine loaded far past its
     * CPUs, sysmon itself may first look when most of the 700 ms are
     * spent, and the report then wanted more CPU than was left (one run
     * of the suite beside stress programs, load ~15 on 2 CPUs).  30 s is
     * the bound. */
    G *self = gort__getg();
    int64_t cap = gort_nanotime() + 30000000000LL;
    while (!cpu_timer_done(&t) || !__atomic_load_n(&self->preempt_reported, __ATOMIC_RELAXED)) {
        CHECK(gort_nanotime() < cap, "no report 30 s into the stuck loop");
        if (!arg)
            spin(200000);
        else
            (void)gort_nanotime();
    }
    CHECK(atomic_load(&stuck_go) == 0); /* not preempted while holding it */
    CHECK(pthread_mutex_unlock(&stuck_mu) == 0);
    cpu_timer_stop(&t); /* a blocking call: not while holding the lock */
    int64_t end2 = gort_nanotime() + 5000000000LL;
    while (!atomic_load(&stuck_go) && gort_nanotime() < end2)
        spin(1000);
    CHECK(atomic_load(&stuck_go) == 1); /* preempted once released */
}

/* ---- the exit with a goroutine spinning under a pthread mutex -------- */
static pthread_mutex_t exit_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int exit_holding;

static void hold_and_spin(void *arg)
{
    (void)arg;
    CHECK(pthread_mutex_lock(&exit_mu) == 0);
    atomic_store(&exit_holding, 1);
    for (;;)
        spin(1000);
}

static void exit_main(void *arg)
{
    (void)arg;
    CHECK(gort_go(hold_and_spin, NULL) == 0);
    while (!atomic_load(&exit_holding))
        gort_sleep(1000000);
}

static void stuck_clock_main(void *arg)
{
    (void)arg;
    stuck_main("clock");
}

static void child(void *arg)
{
    void (*fn)(void *) = (void (*)(void *))arg;
    bool stuck = fn == stuck_main || fn == stuck_clock_main;
    setenv("GORTMAXPROCS", stuck ? "1" : "2", 1);
    setenv("GORTDEBUG", stuck ? "quantum=200us,stuckreport=200ms" : "quantum=200us", 1);
    watchdog_start("test_pthread_lock_park", 60);
    run_main(fn, NULL);
}

int main(void)
{
    expect_child(child, (void *)park_main, 0, NULL, NULL);
    expect_child(child, (void *)cond_main, 0, NULL, NULL);
    expect_child(child, (void *)count_main, 0, NULL, NULL);
    expect_child(child, (void *)exit_main, 0, NULL, NULL);
    expect_child(child, (void *)stuck_main, 0, "cannot be preempted",
                 "holds a pthread mutex, rwlock or spinlock");
    expect_child(child, (void *)stuck_clock_main, 0, "cannot be preempted",
                 "holds a pthread mutex, rwlock or spinlock");
    return 0;
}
