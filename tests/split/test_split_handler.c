/*
 * test_split_handler.c — a signal handler never runs on a goroutine's
 * stack, so a split-stack prologue never parks it.  The program installs
 * its handler without SA_ONSTACK; gort adds the flag (interpose_signal.c)
 * and reports the action back as the program set it.  Parked inside a
 * handler, a goroutine would go on later on another thread, with the
 * kernel's signal frame -- the mask to restore at sigreturn -- and the
 * handler's blocked signals left behind on the first thread.
 *
 * NG goroutines run checked code; a plain thread sends SIGUSR1 to the
 * threads they last ran on, every ~300 us.  The handler runs checked code
 * for ~150 us -- several quanta at quantum=20us, with the workers' slices
 * ending around it -- with its frame chain cut as in code built without
 * frame pointers (or the foreign-caller walk, finding the return into
 * libc's __restore_rt, would refuse a park on its own), and checks that
 * it runs on the alternate signal stack and ends on the thread it began
 * on.  Once with asyncpreemptoff=1 (every stop is a prologue stop, and
 * the workers must have had some), once with signals too.  With the flag
 * not added (and nothing else changed), handlers ran on the workers'
 * stacks and 68 of 637 ended on another thread.
 */
#define _GNU_SOURCE
#include "split.h"
#include "sigload.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define NG 4
#define SIGNALS 1500
#define HANDLER_NS 150000

static sigload load = {.nworkers = NG, .sig = SIGUSR1, .count = SIGNALS, .period_ns = 300000};
static atomic_int handled, moved;
static volatile long handler_sink;

/* Checked calls for a poisoned guard to catch. */
long burn(int n);
__attribute__((noinline)) long burn(int n)
{
    return n == 0 ? 0 : burn(n - 1) + (n & 3);
}

/* fn(arg) with %rbp = 0, as code built without frame pointers may leave
 * it: no frame-pointer walk from fn reaches the handler's return into
 * libc's __restore_rt (which the runtime's foreign-caller test would
 * refuse), so only the mask test keeps the runtime from parking fn.  The
 * red zone is stepped over; two pushes keep the stack 16-byte aligned. */
static long call_unchained(long (*fn)(int), int arg)
{
    long r;
    __asm__ volatile("sub $128, %%rsp\n\t"
                     "push %%rbp\n\t"
                     "push %%rbp\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "call *%[fn]\n\t"
                     "pop %%rbp\n\t"
                     "pop %%rbp\n\t"
                     "add $128, %%rsp"
                     : "=a"(r), "+D"(arg)
                     : [fn] "r"(fn)
                     : "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "xmm0", "xmm1", "xmm2", "xmm3",
                       "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
                       "xmm13", "xmm14", "xmm15", "memory", "cc");
    return r;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_usr1(int sig)
{
    (void)sig;
    int e = errno;
    long tid = split_gettid();
    pthread_t self = pthread_self();
    long sum = 0;
    int64_t end = now_ns() + HANDLER_NS;
    while (now_ns() < end)
        sum += call_unchained(burn, 200);
    handler_sink = sum;
    if (split_gettid() != tid || !pthread_equal(pthread_self(), self))
        atomic_fetch_add(&moved, 1);
    sigload_where(&load);
    atomic_fetch_add(&handled, 1);
    errno = e;
}

static void worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    volatile long sink = 0;
    atomic_store(&load.top[me], (uintptr_t)&sink);
    for (long n = 0; !atomic_load_explicit(&load.stop, memory_order_relaxed) || split_go_on(n, 0); n++) {
        atomic_store_explicit(&load.tid[me], split_gettid(), memory_order_relaxed);
        for (int i = 0; i < 50; i++)
            sink += burn(200);
    }
}

static void handler_main(void *arg)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART; /* no SA_ONSTACK: gort adds it */
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    struct sigaction back;
    CHECK(sigaction(SIGUSR1, NULL, &back) == 0);
    CHECK(back.sa_handler == on_usr1 && !(back.sa_flags & SA_ONSTACK),
          "the action read back is not the one set (flags %#x)", (unsigned)back.sa_flags);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, sigload_sender, &load) == 0);
    gort_stats s1 = split_run_until(NG, worker, 0, "handler",
                                    arg ? SPLIT_NEED(prologue_preempts) : SPLIT_NEED(preempt_requests));
    CHECK(pthread_join(t, NULL) == 0);
    int n = atomic_load(&handled);
    printf("%d handlers ran, %d off the alternate stack, %d on a goroutine's stack, "
           "%d ended on another thread\n",
           n, atomic_load(&load.off_altstack), atomic_load(&load.on_goroutine),
           atomic_load(&moved));
    CHECK(n >= SIGNALS / 4, "too few handlers ran");
    CHECK(atomic_load(&load.on_goroutine) == 0, "a handler ran on a goroutine's stack");
    CHECK(atomic_load(&load.off_altstack) == 0, "a handler ran off the alternate stack");
    CHECK(atomic_load(&moved) == 0, "a handler was parked and went on on another thread");
    if (arg)
        CHECK(s1.prologue_preempts > 0, "never stopped at a prologue");
    else
        CHECK(s1.preempt_requests > 0, "no preemption pressure");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    run_main_child(handler_main, (void *)1, "2", "quantum=20us,asyncpreemptoff=1");
    run_main_child(handler_main, NULL, "2", "quantum=20us");
    return 0;
}
