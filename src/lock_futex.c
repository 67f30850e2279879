/*
 * lock_futex.c — the runtime's own mutex and one-shot notes on Linux futexes
 * (Go's lock_futex.go).
 *
 * Invariants: a gort__lock's word holds `locked` (0 free, 1 held: one
 * byte, taken by an exchange) and `sleepers`, the threads that stopped
 * spinning and may sleep in the kernel on the word.  gort__lock/unlock
 * count themselves in m->locks so the
 * preemption handler can see that the M is inside a runtime critical section
 * (the runtime's code is never an async safe point anyway, but m->locks also
 * covers user-visible windows such as gort_preempt_disable).  A note is
 * cleared by its owner, slept on by one thread and woken once; its key
 * says whether the sleeper may be in the kernel, so that a wakeup nobody
 * sleeps on costs no system call (Go's notes always call futex wake: ~2
 * us on this VM, made while the stop-the-world's last P held sched.lock,
 * with the stopper spinning on the note and not asleep at all).
 *
 * The unlock is a plain store, not an atomic exchange.  Every channel
 * operation takes and drops its channel's lock, and a locked instruction
 * costs ~6 ns on the AMD EPYC VM (it also waits for the critical section's
 * stores to leave the store buffer, cache misses included): two of them
 * were three quarters of a buffered pipeline's samples, and Go's lock2 /
 * unlock2 pay the same two.  Without a fence in the unlock, the unlocker's
 * "anyone asleep?" load may run before its store is visible, so a thread
 * going to sleep could miss the store while the unlocker misses the
 * sleeper (the store-buffer race).  The sleeper, on the rare path, closes
 * that window with membarrier (lock_slow says how).  membarrier costs
 * 1-20 us on the VM (an IPI to each CPU running one of our threads), so a
 * waiter spins for up to SPIN_NS before it registers: a holder that is
 * running finishes long before, and only one that lost its CPU makes
 * anyone sleep.  Where membarrier cannot be registered, or with
 * GORTDEBUG=lockfence=1, the unlock is an exchange (a full fence) and the
 * sleeper skips membarrier.
 *
 * Alternatives rejected: pthread_mutex (not usable from code that must also
 * run with no M and whose acquisition we want to count), plain spinlocks
 * (a preempted or descheduled holder would make every other M burn CPU),
 * Go's 0/1/2 key with an exchange to unlock (the fence above), a sleeper
 * flag instead of a count (a woken sleeper must then assume others and
 * leave the flag set, so every later unlock makes a futex call).
 */
#include "runtime.h"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
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

/* membarrier(cmd, 0, 0) the same way: 0 or -errno. */
static inline long membarrier(int cmd)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"((long)SYS_membarrier), "D"((long)cmd), "S"(0L), "d"(0L)
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

/* How long a waiter spins before it sleeps.  Spinning through a running
 * holder's critical section is cheaper than a futex round trip and, with
 * the plain-store unlock, a membarrier; 20 us is where a two-P worker
 * pool of selects (bench/pool) stopped sleeping on its channel locks
 * (~15k sleeps a run at ~1 us of spinning, a dozen at 18 us). */
#define SPIN_NS 20000

/* Where membarrier(PRIVATE_EXPEDITED) is registered, an unlock is a plain
 * store; elsewhere (old kernels, seccomp filters) or with
 * GORTDEBUG=lockfence=1, an exchange.  Chosen once, from a constructor,
 * while the process has one thread: flipping it while a waiter that
 * skipped membarrier is on its way to sleep would lose that waiter's
 * wakeup.  Never written after, so its line stays shared in every cache. */
static bool fast_unlock __attribute__((aligned(64)));

__attribute__((constructor)) static void lock_init(void)
{
    fast_unlock = !gort__gortdebug_early("lockfence") &&
                  membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

bool gort__lock_fast_unlock(void)
{
    return fast_unlock;
}

/* Threads that slept on a runtime lock (gort_stats.lock_sleeps). */
static _Atomic uint64_t nsleeps;

uint64_t gort__lock_sleeps(void)
{
    return atomic_load_explicit(&nsleeps, memory_order_relaxed);
}

bool gort__trylock_raw(gort__mutex *l)
{
    return __atomic_exchange_n(&l->b.locked, 1, __ATOMIC_ACQUIRE) == 0;
}

#define SLEEPER ((uint32_t)1 << 16)

static __attribute__((noinline)) void lock_slow(gort__mutex *l)
{
    /* Spin: runtime critical sections are a few dozen instructions and
     * the holder is usually running on another core.  The clock is read
     * once per 64 pauses (~1 us here). */
    int64_t until = 0;
    for (int i = 1;; i++) {
        __builtin_ia32_pause();
        if (__atomic_load_n(&l->b.locked, __ATOMIC_RELAXED) == 0 && gort__trylock_raw(l))
            return;
        if (i % 64 == 0) {
            int64_t now = gort__nanotime();
            if (!until)
                until = now + SPIN_NS;
            else if (now >= until)
                break;
        }
    }
    atomic_fetch_add_explicit(&nsleeps, 1, memory_order_relaxed);
    /* Register as a sleeper: a locked CAS, so the count is visible to
     * every load that runs after it.  An unlock stores `locked` and then
     * loads `sleepers` with no fence between them: its load may run before
     * our CAS while its store still sits in its CPU's store buffer,
     * invisible to us.  membarrier makes every running thread of the
     * process execute a full barrier, so when it returns each unlock has
     * either made its store visible (we see the lock free below) or has
     * yet to load `sleepers` (it sees us and wakes a sleeper).  The
     * exchange unlock is a full barrier of its own.  The count saturates:
     * the 65536th thread to wait on one lock yields instead of sleeping. */
    uint32_t w = __atomic_load_n(&l->word, __ATOMIC_RELAXED);
    for (;;) {
        if ((w & 0xff) == 0 && gort__trylock_raw(l))
            return;
        if ((w >> 16) == 0xffff) {
            sched_yield();
            w = __atomic_load_n(&l->word, __ATOMIC_RELAXED);
            continue;
        }
        if (__atomic_compare_exchange_n(&l->word, &w, w + SLEEPER, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED))
            break;
    }
    if (fast_unlock && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
        (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0 ||
         membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0))
        gort__throw("membarrier failed after it was registered");
    for (;;) {
        w = __atomic_load_n(&l->word, __ATOMIC_RELAXED);
        if ((w & 0xff) == 0) {
            if (gort__trylock_raw(l))
                break;
            continue;
        }
        /* Sleeps only while the word is still w: an unlock, or another
         * sleeper coming or going, changes it and the wait returns. */
        gort__futex_wait((_Atomic uint32_t *)&l->word, w, -1);
    }
    __atomic_fetch_sub(&l->word, SLEEPER, __ATOMIC_RELAXED);
}

void gort__lock_raw(gort__mutex *l)
{
    if (likely(gort__trylock_raw(l)))
        return;
    lock_slow(l);
}

void gort__unlock_raw(gort__mutex *l)
{
    if (likely(fast_unlock)) {
        __atomic_store_n(&l->b.locked, 0, __ATOMIC_RELEASE);
        /* The compiler must not hoist the load above the store; the CPU
         * may, which is what the sleeper's membarrier is for. */
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
    } else {
        __atomic_exchange_n(&l->b.locked, 0, __ATOMIC_SEQ_CST);
    }
    if (unlikely(__atomic_load_n(&l->b.sleepers, __ATOMIC_RELAXED) != 0))
        gort__futex_wake((_Atomic uint32_t *)&l->word, 1);
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
