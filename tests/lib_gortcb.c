/*
 * lib_gortcb.c — a small shared library for test_callback.c: it takes its
 * own lock, one that is not a pthread lock (a spin lock that records its
 * owner thread, as stdio's FILE lock and ld.so's lock do), and calls back
 * into the program, or spins in its own code, while holding it.  The lock
 * counts what must never happen under it: a second goroutine entering on
 * the owner's thread (the holder was preempted and another goroutine got
 * the thread) and a release on another thread (the holder moved).
 *
 * Built three ways by the Makefile: libgortcb_plain.so (frame pointers),
 * libgortcb_nofp.so (-fomit-frame-pointer: rbp is whatever the caller
 * left, as in libc), and libgortcb_reg.so (-DGORTCB_REGISTER: includes
 * gort.h, so its constructor registers it as preemptible code; used to
 * leave a registry entry behind after dlclose).
 */
#ifdef GORTCB_REGISTER
#include <gort.h>
#endif
#include <sys/syscall.h>
#include <unistd.h>

static volatile int owner;    /* tid of the holder, 0 if free */
static __thread int my_tid;
long gortcb_reentered, gortcb_moved, gortcb_calls;

static int tid(void)
{
    if (!my_tid)
        my_tid = (int)syscall(SYS_gettid);
    return my_tid;
}

static void lock(void)
{
    int me = tid();
    if (__atomic_load_n(&owner, __ATOMIC_RELAXED) == me)
        __atomic_fetch_add(&gortcb_reentered, 1, __ATOMIC_RELAXED);
    int zero = 0;
    while (!__atomic_compare_exchange_n(&owner, &zero, me, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        zero = 0;
        __builtin_ia32_pause();
    }
}

static void unlock(void)
{
    if (tid() != __atomic_load_n(&owner, __ATOMIC_RELAXED))
        __atomic_fetch_add(&gortcb_moved, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&owner, 0, __ATOMIC_RELEASE);
}

/* Call cb(arg) n times under the lock. */
void gortcb_call(void (*cb)(void *), void *arg, long n)
{
    lock();
    for (long i = 0; i < n; i++)
        cb(arg);
    __atomic_fetch_add(&gortcb_calls, n, __ATOMIC_RELAXED);
    unlock();
}

/* Spin in the library's own code under the lock. */
long gortcb_spin(long n)
{
    lock();
    long x = 0;
    for (long i = 0; i < n; i++)
        __asm__ volatile("add %1, %0" : "+r"(x) : "r"(i));
    unlock();
    return x;
}
