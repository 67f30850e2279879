/*
 * rand.c — the runtime's PRNG (Go's fastrand).
 *
 * gort__fastrand is on hot paths (select's case order, steal victims), so
 * it is a per-M xorshift64* with no atomics: each M owns its m->fastrand.
 * Threads without an M use a __thread state instead.  Seeds mix the
 * thread id, the clock and a TLS address, so threads and runs differ.
 * Rejected: rand(3) (a global lock), getrandom per call (a system call).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <sys/syscall.h>
#include <unistd.h>

static __thread uint64_t tls_rand;

static uint64_t rand_seed(void)
{
    /* splitmix64 of tid and time: distinct per thread and per run. */
    uint64_t x = (uint64_t)gort__nanotime() ^ ((uint64_t)syscall(SYS_gettid) << 32) ^
                 (uint64_t)(uintptr_t)&tls_rand;
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x ? x : 0x2545f4914f6cdd1dull; /* xorshift's state must not be 0 */
}

static inline uint32_t xorshift_next(uint64_t *state)
{
    uint64_t s = *state;
    if (unlikely(s == 0))
        s = rand_seed();
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    *state = s;
    /* xorshift64*: the multiply mixes the weak low bits into the top. */
    return (uint32_t)((s * 0x2545f4914f6cdd1dull) >> 32);
}

uint32_t gort__fastrand(void)
{
    M *m = gort__getm();
    /* A goroutine that moves to another M between these lines only makes
     * the old M's sequence skip a value; runtime code is not preempted
     * asynchronously, so two threads never share one state for long. */
    return xorshift_next(m ? &m->fastrand : &tls_rand);
}
