/*
 * test_split_cxx.cc — C++ exceptions in split-stack mode (built with g++
 * and clang++): thrown through functions that went through the
 * __morestack slow path (stopped at their prologue and resumed: no frame
 * of the runtime's is left on the stack, and the unwinder walks the
 * functions' own CFI) and through functions whose prologue the linker
 * sent to __morestack_non_split (they call code without checks: libc,
 * libstdc++'s __cxa_throw) and that took its fast path.
 *   - deterministic: this thread's guard is poisoned right before each
 *     chain is entered, so its first prologue takes the slow path;
 *   - under preemption: 4 goroutines on GORTMAXPROCS=2 (quantum=200us,
 *     asyncpreemptoff=1: every stop a prologue stop) throw through the
 *     chains; each exception reaches its catch with its value, rethrows
 *     on the way included.
 */
#include "split.h"

#include <stdatomic.h>
#include <stdexcept>
#include <string>

struct Err {
    long code;
};

#define DEPTH 30

extern "C" {
void do_throw(long code);
long thrower(int depth, long code);
long rethrower(int depth, long code);
long thrower_libc(int depth, long code);
}

/* Calls __cxa_throw (no checks): its prologue is the linker's. */
__attribute__((noinline)) void do_throw(long code)
{
    throw Err{code};
}

/* Only checked calls: a real cmp prologue at every level. */
__attribute__((noinline)) long thrower(int depth, long code)
{
    volatile long mine = code + depth;
    if (depth <= 0) {
        if (depth == 0)
            do_throw(code);
        return mine;
    }
    return thrower(depth - 1, code) + mine;
}

/* Catches and rethrows every fifth level, adding one. */
__attribute__((noinline)) long rethrower(int depth, long code)
{
    if (depth == 0)
        return thrower(3, code);
    if (depth % 5 == 0) {
        try {
            return rethrower(depth - 1, code) + 1;
        } catch (Err &e) {
            e.code += 1;
            throw;
        }
    }
    return rethrower(depth - 1, code) + 2;
}

/* libc at every level: __morestack_non_split's fast path at each call. */
__attribute__((noinline)) long thrower_libc(int depth, long code)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", code);
    if (depth == 0)
        throw std::runtime_error(buf);
    return thrower_libc(depth - 1, code) + buf[0];
}

static long run_one(int kind, long code, bool poison)
{
    try {
        if (poison)
            split_poison_self();
        switch (kind) {
        case 0: thrower(DEPTH, code); break;
        case 1: rethrower(DEPTH, code); break;
        default: thrower_libc(DEPTH, code); break;
        }
    } catch (Err &e) {
        return e.code;
    } catch (std::runtime_error &e) {
        return std::stol(e.what());
    }
    CHECK(0, "kind %d: nothing thrown", kind);
    return -1;
}

static long want(int kind, long code)
{
    return kind == 1 ? code + DEPTH / 5 : code;
}

#define NG 4
#define ROUNDS 6000

static void worker(void *arg)
{
    long me = (long)(intptr_t)arg;
    for (long i = 0; split_go_on(i, ROUNDS); i++) {
        int kind = (int)((i + me) % 3);
        long code = me * 100000 + i % 100000;
        long got = run_one(kind, code, false);
        CHECK(got == want(kind, code), "goroutine %ld kind %d: caught %ld, want %ld", me, kind, got,
              want(kind, code));
    }
}

static void cxx_main(void *)
{
    for (int kind = 0; kind < 3; kind++)
        for (long code = 1; code < 50; code++) {
            long got = run_one(kind, code, true);
            CHECK(got == want(kind, code), "kind %d through the slow path: caught %ld, want %ld", kind, got,
                  want(kind, code));
        }
    gort_stats s1 = split_run_until(NG, worker, 1, "exceptions", SPLIT_NEED(prologue_preempts));
    CHECK(s1.prologue_preempts > 0, "never stopped at a prologue");
}

int main()
{
    setvbuf(stdout, NULL, _IONBF, 0);
    run_main_child(cxx_main, NULL, "2", "quantum=200us,asyncpreemptoff=1");
    return 0;
}
