/*
 * split.h — helpers for the split-stack tests (tests/split/test_split_*):
 * programs that the Makefile always compiles -fsplit-stack and links with
 * gold (and again with lld, binaries *_lld, when ld.lld is installed), so
 * that plain `make test` covers split-stack mode (docs/DESIGN.md "Stack
 * checks"; the runtime side is src/morestack.c).
 */
#ifndef GORT_TEST_SPLIT_H
#define GORT_TEST_SPLIT_H
#include "check.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

/* The thread's kernel id, with no libc call in between (usable in
 * GORT_NOSPLIT code: always inlined, no call). */
static inline __attribute__((always_inline)) long split_gettid(void)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_gettid) : "rcx", "r11", "memory");
    return ret;
}

/* Poison this thread's guard word (%fs:0x70, the value gort__preemptone
 * writes): the next checked prologue takes the __morestack slow path.
 * With no preemption request pending the runtime puts the guard back and
 * the function goes on at its continuation: the resume path of a
 * prologue stop, made deterministic. */
#define SPLIT_POISON 0xfffffffffffffadeull
static inline __attribute__((always_inline)) void split_poison_self(void)
{
    __asm__ volatile("movq %0, %%fs:0x70" : : "r"((uint64_t)SPLIT_POISON) : "memory");
}

static inline __attribute__((always_inline)) uint64_t split_guard_word(void)
{
    uint64_t w;
    __asm__ volatile("movq %%fs:0x70, %0" : "=r"(w));
    return w;
}

/* Memory that a forked child writes and its parent reads afterwards. */
static inline void *split_shared(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    memset(p, 0, n);
    return p;
}

static inline gort_stats split_stats(void)
{
    gort_stats s;
    gort_read_stats(&s);
    return s;
}

/* The preemption counters' change since s0, printed after what. */
static inline gort_stats split_since(gort_stats s0, const char *what)
{
    gort_stats s = split_stats();
    s.prologue_preempts -= s0.prologue_preempts;
    s.async_preempts -= s0.async_preempts;
    s.sync_preempts -= s0.sync_preempts;
    s.signals_sent -= s0.signals_sent;
    s.preempt_requests -= s0.preempt_requests;
    printf("%s: prologue_preempts=%llu async_preempts=%llu signals_sent=%llu preempt_requests=%llu "
           "sync_preempts=%llu\n",
           what, (unsigned long long)s.prologue_preempts, (unsigned long long)s.async_preempts,
           (unsigned long long)s.signals_sent, (unsigned long long)s.preempt_requests,
           (unsigned long long)s.sync_preempts);
    return s;
}

/* Run fn(arg0 + i) in n goroutines (n <= 16), wait for them all, and
 * return (and print) the counters' change meanwhile. */
typedef struct { void (*fn)(void *); void *arg; } split_job_;
static gort_waitgroup split_wg_;
static inline void split_job_run_(void *p)
{
    split_job_ *j = (split_job_ *)p;
    j->fn(j->arg);
    gort_wg_done(&split_wg_);
}
static inline gort_stats split_run(int n, void (*fn)(void *), intptr_t arg0, const char *what)
{
    static split_job_ jobs[16];
    CHECK(n <= 16);
    gort_stats s0 = split_stats();
    gort_wg_add(&split_wg_, n);
    for (int i = 0; i < n; i++) {
        jobs[i].fn = fn;
        jobs[i].arg = (void *)(arg0 + i);
        CHECK_EQ(gort_go(split_job_run_, &jobs[i]), 0);
    }
    gort_wg_wait(&split_wg_);
    return split_since(s0, what);
}

#endif
