/*
 * test_split_handler_checks.c — checked code in a program's signal
 * handler checks against the signal stack it runs on.  The handler runs
 * on the M's alternate stack while the thread's guard word still holds
 * the interrupted goroutine's guard (or a poison); where the signal stack
 * lies below that guard every check in the handler failed: each prologue
 * took the slow path and each alloca GORT_VLA_SLACK bytes more, so 300
 * allocas of 16 bytes ran past a 64 KiB signal stack (a stress hunt).
 * Now the first failed check puts the signal stack's own guard in the
 * word (morestack.c signal_stack_guard).
 *
 * Two ways into the handler, each by raise(SIGUSR1) from a goroutine:
 *   - on gort's signal stack, with the word poisoned inside the handler
 *     (what a preemption request arriving then, or a goroutine guard
 *     above the signal stack, looks like);
 *   - on a signal stack the goroutine maps a gigabyte below its own stack
 *     (locked to its thread for it), its guard word left as it is.
 * Checks, in the handler: after one checked call the word is a guard
 * inside the handler's signal stack; a call-free loop of allocas (as
 * many as take 16 KiB inline) spans what the inline path takes plus one
 * slow allocation's slack at most.  The goroutine then runs on, and its
 * own checks still catch nothing wrong.
 */
#define _GNU_SOURCE
#include "split.h"

#include <alloca.h>
#include <signal.h>

#if !defined(GORT_TEST_SPLIT)
int main(void)
{
    printf("test_split_handler_checks: skipped (needs -fsplit-stack)\n");
    return 0;
}
#else
enum { ALT_SIZE = 64 << 10 };

static volatile uintptr_t first_block, last_block;
static volatile uint64_t word_after;
static volatile long sink;
static volatile bool poison_in_handler;
static volatile int handled;
static stack_t hss; /* the signal stack the handler ran on */
static int na;

long burn(int n);
__attribute__((noinline)) long burn(int n)
{
    return n == 0 ? 0 : burn(n - 1) + (n & 3);
}

__attribute__((noinline)) static long allocas(int n)
{
    long s = 0;
    for (int i = 0; i < n; i++) {
        volatile char *p = alloca(16);
        if (i == 0)
            first_block = (uintptr_t)p;
        last_block = (uintptr_t)p;
        p[0] = (char)i;
        s += p[0];
    }
    return s;
}

static void handler(int sig)
{
    (void)sig;
    if (sigaltstack(NULL, &hss) != 0)
        hss.ss_flags = SS_DISABLE;
    if (poison_in_handler)
        split_poison_self();
    sink += burn(50);
    word_after = split_guard_word();
    if (poison_in_handler)
        split_poison_self();
    sink += allocas(na);
    handled++;
}

static void check_handler_run(const char *how, uintptr_t stride)
{
    CHECK(handled == 1, "%s: the handler ran %d times", how, handled);
    CHECK(hss.ss_flags & SS_ONSTACK, "%s: the handler did not run on a signal stack", how);
    uintptr_t lo = (uintptr_t)hss.ss_sp, hi = lo + hss.ss_size;
    CHECK(word_after > lo && word_after < hi,
          "%s: after a checked call the word is %#lx, not a guard in the signal stack [%#lx, %#lx)",
          how, (unsigned long)word_after, (unsigned long)lo, (unsigned long)hi);
    uintptr_t span = first_block - last_block;
    CHECK(span <= (uintptr_t)(na - 1) * stride + 1024,
          "%s: %d allocas of 16 bytes spanned %lu bytes (%lu each inline)", how, na,
          (unsigned long)span, (unsigned long)stride);
    handled = 0;
}

static void main_goroutine(void *arg)
{
    (void)arg;
    /* What one alloca(16) takes inline: 32 bytes with gcc and clang, 128
     * or more under ASan (redzones). */
    allocas(2);
    uintptr_t stride = first_block - last_block;
    CHECK(stride >= 16 && stride <= 1024, "alloca(16) took %lu bytes", (unsigned long)stride);
    na = (int)((16u << 10) / stride);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);

    /* 1: gort's signal stack, the word poisoned in the handler. */
    poison_in_handler = true;
    CHECK(raise(SIGUSR1) == 0);
    check_handler_run("poisoned word", stride);
    poison_in_handler = false;
    CHECK(burn(100) >= 0);

    /* 2: a signal stack below this goroutine's guard. */
    gort_lock_thread();
    uint64_t guard = split_guard_word();
    CHECK(guard > (2ull << 30), "guard word %#llx", (unsigned long long)guard);
    void *alt = MAP_FAILED;
    for (uintptr_t at = ((uintptr_t)guard - (1ull << 30)) & ~(uintptr_t)0xfffff;
         alt == MAP_FAILED && at > (1ull << 30); at -= 256u << 20)
        alt = mmap((void *)at, ALT_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(alt != MAP_FAILED, "no room for a signal stack below %#llx", (unsigned long long)guard);
    stack_t mine = {.ss_sp = alt, .ss_size = ALT_SIZE, .ss_flags = 0}, old;
    CHECK(sigaltstack(&mine, &old) == 0);
    CHECK(raise(SIGUSR1) == 0);
    CHECK(sigaltstack(&old, NULL) == 0);
    CHECK(hss.ss_sp == alt, "the handler ran on %p, not on %p", hss.ss_sp, alt);
    check_handler_run("signal stack below the guard", stride);
    munmap(alt, ALT_SIZE);
    gort_unlock_thread();
    CHECK(burn(100) >= 0);
    gort_yield();
    CHECK(burn(100) >= 0);
}

int main(void)
{
    run_main(main_goroutine, NULL);
    printf("ok\n");
    return 0;
}
#endif
