/*
 * lock_futex.c — the runtime's own mutex and one-shot notes on Linux futexes
 * (Go's lock_futex.go).
 *
 * Invariants: a gort__lock key is 0 (free), 1 (held) or 2 (held, maybe
 * sleepers).  gort__lock/unlock count themselves in m->locks so the
 * preemption handler can see that the M is inside a runtime critical section
 * (the runtime's code is never an async safe point anyway, but m->locks also
 * covers user-visible windows such as gort_preempt_disable).  A note is
 * cleared by its owner, slept on by one thread and woken once; its key
 * says whether the sleeper may be in the kernel, so that a wakeup nobody
 * sleeps on costs no system call (Go's notes always call futex wake: ~2
 * us on this VM, made while the stop-the-world's last P held sched.lock,
 * with the stopper spinning on the note and not asleep at all).
 *
 * Alternatives rejected: pthread_mutex (not usable from code that must also
 * run with no M and whose acquisition we want to count), plain spinlocks
 * (a preempted or descheduled holder would make every other M burn CPU).
 */
#include "runtime.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The futex call without libc: libc's syscall() sets errno (EAGAIN when
 * the word changed, ETIMEDOUT, EINTR), and a contended runtime lock taken
 * inside a gort call would hand the goroutine an errno it never caused
 * (test_errno saw EAGAIN after successful channel operations). */
static inline long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
    register long r10 __asm__("r10") = (long)ts;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"((long)SYS_futex), "D"(addr), "S"((long)op), "d"((long)val), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

void gort__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline)
{
    /* In a fork's child nobody else is left to wake us (fork_linux.c). */
    if (gort__in_forked_child())
        gort__forked_fatal("waiting for another thread (a runtime lock, a park)");
    struct timespec ts, *tsp = NULL;
    if (deadline >= 0) {
        int64_t ns = deadline - gort__nanotime();
        if (ns <= 0)
            return;
        ts.tv_sec = ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        tsp = &ts;
    }
    /* EINTR/EAGAIN/ETIMEDOUT all just return: every caller re-checks its
     * condition in a loop, which is the EINTR retry. */
    futex(addr, FUTEX_WAIT_PRIVATE, val, tsp);
}

void gort__futex_wake(_Atomic uint32_t *addr, int n)
{
    futex(addr, FUTEX_WAKE_PRIVATE, (uint32_t)n, NULL);
}

void gort__lock_raw(gort__mutex *l)
{
    uint32_t c = 0;
    if (likely(atomic_compare_exchange_strong_explicit(&l->key, &c, 1,
                                                       memory_order_acquire,
                                                       memory_order_relaxed)))
        return;
    /* Spin a little: runtime critical sections are a few dozen instructions
     * and the holder is usually running on another core. */
    for (int i = 0; i < 64; i++) {
        __builtin_ia32_pause();
        c = 0;
        if (atomic_load_explicit(&l->key, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->key, &c, 1,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            return;
    }
    /* Announce a sleeper (2) and sleep until the holder releases. */
    while (atomic_exchange_explicit(&l->key, 2, memory_order_acquire) != 0)
        gort__futex_wait(&l->key, 2, -1);
}

void gort__unlock_raw(gort__mutex *l)
{
    if (atomic_exchange_explicit(&l->key, 0, memory_order_release) == 2)
        gort__futex_wake(&l->key, 1);
}

/* The M straight from TLS, not through gort__getm (a call, 3% of the
 * samples of a two-P pipeline of buffered channels, where every operation
 * takes and drops a channel lock): no goroutine switch happens inside
 * these two functions, so the thread cannot change between the read and
 * the use, which is all gort__getm's out-of-line call protects against
 * (syscall.c and interpose_lock.c read it the same way). */
void gort__lock(gort__mutex *l)
{
    /* A vfork child shares its parent's memory: a runtime lock it took
     * and died holding would stop the parent (a channel operation takes
     * one before it could find it must not park: fork_linux.c). */
    if (gort__in_vfork_child())
        gort__forked_fatal("taking a runtime lock");
    M *m = gort__m_tls;
    if (m)
        m->locks++;
    gort__lock_raw(l);
}

void gort__unlock(gort__mutex *l)
{
    gort__unlock_raw(l);
    M *m = gort__m_tls;
    if (m) {
        if (unlikely(--m->locks < 0))
            gort__throw("runtime lock count went negative");
    }
}

void gort__noteclear(gort__note *n)
{
    atomic_store_explicit(&n->key, NOTE_CLEAR, memory_order_relaxed);
}

void gort__notewakeup(gort__note *n)
{
    uint32_t old = atomic_exchange_explicit(&n->key, NOTE_WOKEN, memory_order_release);
    if (old == NOTE_WOKEN)
        gort__throw("notewakeup: double wakeup");
    if (old == NOTE_SLEEPING)
        gort__futex_wake(&n->key, 1);
}

void gort__notewakeup_hint(gort__note *n)
{
    if (atomic_exchange_explicit(&n->key, NOTE_WOKEN, memory_order_release) == NOTE_SLEEPING)
        gort__futex_wake(&n->key, 1);
}

/* One look before a sleep: true if woken; otherwise the key says that a
 * sleeper is (about to be) in the kernel, so the wakeup makes the call. */
static inline bool note_announce(gort__note *n)
{
    uint32_t v = atomic_load_explicit(&n->key, memory_order_acquire);
    if (v == NOTE_CLEAR) /* on failure v is what the waker wrote */
        atomic_compare_exchange_strong_explicit(&n->key, &v, NOTE_SLEEPING, memory_order_acquire,
                                                memory_order_acquire);
    return v == NOTE_WOKEN;
}

void gort__notesleep(gort__note *n)
{
    while (!note_announce(n))
        gort__futex_wait(&n->key, NOTE_SLEEPING, -1);
}

bool gort__notetsleep_until(gort__note *n, int64_t deadline)
{
    while (!note_announce(n)) {
        if (gort__nanotime() >= deadline)
            return false;
        gort__futex_wait(&n->key, NOTE_SLEEPING, deadline);
    }
    return true;
}
