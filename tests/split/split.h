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

#include <stddef.h>
#include <stdint.h>
#include <string.h>
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
 * return (and print) the counters' change meanwhile.
 *
 * A test that checks that some kind of stop happened must not assume its
 * planned rounds last long enough for one: the stops are asked for by
 * sysmon, a thread that shares the CPUs with the goroutines' threads, and
 * the kernel may keep it off them for milliseconds (CI once saw no request
 * at all in a run of ~20 ms).  split_run_until(..., SPLIT_NEED(field))
 * makes split_more() true while that counter has not moved since the run
 * began, for at most SPLIT_MORE_NS: the goroutines go on past their
 * planned rounds while it is (split_go_on), and the test's check of the
 * counter still fails if nothing happened in that time. */
typedef struct { void (*fn)(void *); void *arg; } split_job_;
static gort_waitgroup split_wg_;
static size_t split_need_ = (size_t)-1;
static gort_stats split_s0_;
static int64_t split_until_;
#define SPLIT_NEED(field) offsetof(gort_stats, field)
#define SPLIT_MORE_NS (20LL * 1000000000)

static inline uint64_t split_field_(const gort_stats *s, size_t off)
{
    uint64_t v;
    memcpy(&v, (const char *)s + off, sizeof v);
    return v;
}

/* Has the run not yet seen what it needs (and is there time left)? */
static inline bool split_more(void)
{
    if (split_need_ == (size_t)-1 || gort_nanotime() > split_until_)
        return false;
    gort_stats s = split_stats();
    return split_field_(&s, split_need_) == split_field_(&split_s0_, split_need_);
}

/* The loop condition of a goroutine with `planned` rounds: those, then
 * more while split_more() (asked every 256 rounds: it reads the stats). */
static inline bool split_go_on(long i, long planned)
{
    return i < planned || (i - planned) % 256 != 0 || split_more();
}

static inline void split_job_run_(void *p)
{
    split_job_ *j = (split_job_ *)p;
    j->fn(j->arg);
    gort_wg_done(&split_wg_);
}

static inline gort_stats split_run_until(int n, void (*fn)(void *), intptr_t arg0, const char *what,
                                         size_t need)
{
    static split_job_ jobs[16];
    CHECK(n <= 16);
    gort_stats s0 = split_stats();
    split_s0_ = s0;
    split_until_ = gort_nanotime() + SPLIT_MORE_NS;
    split_need_ = need;
    gort_wg_add(&split_wg_, n);
    for (int i = 0; i < n; i++) {
        jobs[i].fn = fn;
        jobs[i].arg = (void *)(arg0 + i);
        CHECK_EQ(gort_go(split_job_run_, &jobs[i]), 0);
    }
    gort_wg_wait(&split_wg_);
    split_need_ = (size_t)-1;
    return split_since(s0, what);
}

static inline gort_stats split_run(int n, void (*fn)(void *), intptr_t arg0, const char *what)
{
    return split_run_until(n, fn, arg0, what, (size_t)-1);
}

#endif
