/*
 * lock_futex.c — the runtime's own mutex and one-shot notes on Linux futexes
 * (Go's lock_futex.go).
 *
 * Invariants: a gort__lock's key is 0 (free) or 1 (held); the threads
 * that stopped spinning and may sleep on it are counted in sleepers[],
 * under a hash of its address.  gort__lock/unlock count themselves in
 * m->locks so the preemption handler can see that the M is inside a
 * runtime critical section (the runtime's code is never an async safe
 * point anyway, but m->locks also covers user-visible windows such as
 * gort_preempt_disable).  A note is
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
 * waiter spins for up to GORT__LOCK_SPIN_NS before it registers: a holder
 * that is running finishes long before, and only one that lost its CPU
 * makes anyone sleep.  Until schedinit, where membarrier cannot be
 * registered, or with GORTDEBUG=lockfence=1, the unlock is an exchange
 * (a full fence).  schedinit registers, publishes that, and only then
 * turns plain stores on; a sleeper that registered itself before it saw
 * the registration is seen by every plain-store unlock anyway, so the
 * switch needs no quiet moment (gort__lock_init).
 *
 * The sleeper count lives outside the lock because the woken side may
 * free the lock the moment the key reads 0 (a goroutine woken by a
 * channel operation frees the channel): the unlock computes its slot
 * before the release and touches nothing of the lock after it but the
 * futex wake, which for a private futex does not read the memory.  Locks
 * that share a slot only cost each other a useless wake.
 *
 * Alternatives rejected: pthread_mutex (not usable from code that must also
 * run with no M and whose acquisition we want to count), plain spinlocks
 * (a preempted or descheduled holder would make every other M burn CPU),
 * Go's 0/1/2 key with an exchange to unlock (the fence above), a sleeper
 * flag instead of a count (a woken sleeper must then assume others and
 * leave the flag set, so every later unlock makes a futex call), the
 * count inside the lock word (read after the release: a use after free),
 * deciding the mode in a constructor (a program's own constructors run
 * before a static library's and may already use channels; and it put a
 * membarrier call into every process that merely links gort).
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

/* How unlocks are made, fixed by gort__lock_init (schedinit) and never
 * changed after; one line of its own, read by every unlock.
 *   mb_state: membarrier(PRIVATE_EXPEDITED) 0 not asked yet, 1 registered,
 *     -1 not available (old kernel, seccomp filter) or not wanted
 *     (lockfence=1).  Only gort__lock_init writes it: a waiter never
 *     registers, so lockfence=1 keeps gort from the call entirely.
 *   fast_unlock: plain-store unlocks; set only after mb_state became 1.
 *   nospin: this thread's affinity allows one CPU (not a cgroup quota:
 *     a quota still lets the holder run on another CPU while we spin). */
static struct {
    _Atomic int mb_state;
    bool fast_unlock;
    bool nospin;
} mode __attribute__((aligned(64)));

void gort__lock_init(void)
{
    __atomic_store_n(&mode.nospin, gort__affinity_ncpu() == 1, __ATOMIC_RELAXED);
    if (!gort__cfg.lockfence && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0) {
        /* In this order: a waiter that still reads 0 after its locked add
         * made the add visible before any unlock could read fast_unlock
         * set and then load the count (stores and loads each stay in
         * order on x86; release and acquire say so to the compiler). */
        atomic_store_explicit(&mode.mb_state, 1, memory_order_seq_cst);
        __atomic_store_n(&mode.fast_unlock, true, __ATOMIC_RELEASE);
    } else {
        atomic_store_explicit(&mode.mb_state, -1, memory_order_seq_cst);
    }
}

bool gort__lock_fast_unlock(void)
{
    return __atomic_load_n(&mode.fast_unlock, __ATOMIC_RELAXED);
}

/* Threads that went to sleep on a runtime lock (gort_stats.lock_sleeps). */
static _Atomic uint64_t nsleeps __attribute__((aligned(64)));

uint64_t gort__lock_sleeps(void)
{
    return atomic_load_explicit(&nsleeps, memory_order_relaxed);
}

/* Sleeper counts by lock address.  Never freed; 1 KiB, written only by
 * sleepers, so the line an unlock reads stays in its cache. */
#define NSLEEPSLOTS 256
static _Atomic uint32_t sleepers[NSLEEPSLOTS] __attribute__((aligned(64)));

static inline _Atomic uint32_t *sleepers_of(const gort__mutex *l)
{
    uint64_t h = (uint64_t)(uintptr_t)l * 0x9e3779b97f4a7c15ull;
    return &sleepers[h >> 56];
}

bool gort__trylock_raw(gort__mutex *l)
{
    return atomic_exchange_explicit(&l->key, 1, memory_order_acquire) == 0;
}

/* After registering as a sleeper: whether it may now sleep.  An unlock
 * stores the key and then loads the count with no fence between them
 * (plain-store mode): its load may run before our registration is
 * visible while its store still sits in its CPU's store buffer, unseen
 * by us.  membarrier makes every running thread of the process execute
 * a full barrier, so when it returns each unlock has either made its
 * store visible (we see the lock free before sleeping) or has yet to
 * load the count (it sees us and wakes a sleeper).  mb_state read after
 * the registration as 0 or -1 means no plain-store unlock can miss us
 * (gort__lock_init's order; -1 is for good): the exchange is a full
 * barrier.  If a seccomp filter installed later makes the call fail,
 * sleeping could lose the wakeup, so the waiter yields instead. */
static bool sleep_fenced(void)
{
    if (atomic_load_explicit(&mode.mb_state, memory_order_seq_cst) != 1)
        return true;
    return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0;
}

static __attribute__((noinline)) void lock_slow(gort__mutex *l)
{
    /* Spin: runtime critical sections are a few dozen instructions and
     * the holder is usually running on another core.  The clock is read
     * once per 64 pauses (~1 us here).  With one CPU the holder cannot
     * run while we spin: yield it the CPU once instead (Go's lock2). */
    if (__atomic_load_n(&mode.nospin, __ATOMIC_RELAXED)) {
        sched_yield();
        if (atomic_load_explicit(&l->key, memory_order_relaxed) == 0 && gort__trylock_raw(l))
            return;
    } else {
        int64_t until = 0;
        for (int i = 1;; i++) {
            __builtin_ia32_pause();
            if (atomic_load_explicit(&l->key, memory_order_relaxed) == 0 && gort__trylock_raw(l))
                return;
            if (i % 64 == 0) {
                int64_t now = gort__nanotime();
                if (!until)
                    until = now + GORT__LOCK_SPIN_NS;
                else if (now >= until)
                    break;
            }
        }
    }
    /* Register (a locked add: visible to every load that runs after it),
     * fence, then sleep only while the key still reads held. */
    _Atomic uint32_t *count = sleepers_of(l);
    atomic_fetch_add_explicit(count, 1, memory_order_seq_cst);
    bool can_sleep = sleep_fenced(), slept = false;
    for (;;) {
        if (atomic_load_explicit(&l->key, memory_order_relaxed) == 0 && gort__trylock_raw(l))
            break;
        if (!can_sleep) {
            sched_yield();
            continue;
        }
        if (!slept) {
            slept = true;
            atomic_fetch_add_explicit(&nsleeps, 1, memory_order_relaxed);
        }
        gort__futex_wait(&l->key, 1, -1);
    }
    atomic_fetch_sub_explicit(count, 1, memory_order_relaxed);
}

void gort__lock_raw(gort__mutex *l)
{
    if (likely(gort__trylock_raw(l)))
        return;
    lock_slow(l);
}

void gort__unlock_raw(gort__mutex *l)
{
    /* The slot first: after the release the lock may be freed. */
    _Atomic uint32_t *count = sleepers_of(l);
    if (likely(__atomic_load_n(&mode.fast_unlock, __ATOMIC_ACQUIRE))) {
        atomic_store_explicit(&l->key, 0, memory_order_release);
        /* The compiler must not hoist the load above the store; the CPU
         * may, which is what the sleeper's membarrier is for. */
        atomic_signal_fence(memory_order_seq_cst);
    } else {
        atomic_exchange_explicit(&l->key, 0, memory_order_seq_cst);
    }
    if (unlikely(atomic_load_explicit(count, memory_order_relaxed) != 0))
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
