/*
 * test_cxx_rethrow.cc — the C++ exception-handling state (the stack of
 * caught exceptions, the count of uncaught ones) belongs to the goroutine:
 * `throw;`, std::current_exception and std::uncaught_exceptions inside
 * goroutines behave as on a thread across yields, channel operations,
 * sleeps and asynchronous preemptions, on whatever thread the goroutine
 * resumes (cxx_eh.c).  Built with g++ and with clang++ (Makefile).
 *
 * Without the runtime's save and restore, a goroutine that switches inside
 * a catch block finds another goroutine's stack there (or none), and the
 * `throw;` after the switch calls std::terminate ("terminate called
 * without an active exception"), or rethrows someone else's exception.
 *
 * 2 Ps, quantum=200us: several goroutines each catch, switch (one of five
 * ways, the last a spin long enough to be preempted), then check what the
 * runtime says they hold and rethrow; 10,000 rethrows in all.  Goroutines
 * that catch nothing check, after each switch, that they see nothing.
 */
#include "check.h"

#include <exception>
#include <stdexcept>

namespace {

const int kWorkers = 4;
const int kRounds = 2500;          /* per worker: 10,000 rethrows */
const int64_t kSpinNs = 300 * 1000; /* longer than the quantum */

struct Err {
    int worker, round;
};

gort_chan *pingc[kWorkers];
gort_waitgroup wg = GORT_WAITGROUP_INIT;
gort_waitgroup idle_wg = GORT_WAITGROUP_INIT;
volatile int stop_idle;
long rethrows[kWorkers];
long migrations[kWorkers];

/* A __thread address read so that the compiler cannot keep it across the
 * switch: which thread this is now. */
__thread int tls_marker;
__attribute__((noinline)) int *this_thread(void)
{
    int *p = &tls_marker;
    __asm__ volatile("" : "+r"(p));
    return p;
}

/* Mostly in this file's code, which is preemptible (the vDSO and the
 * runtime are not): the clock is read every few us.  clock_gettime, not
 * gort_nanotime: that is a preemption point, where a pending request
 * would stop the spin synchronously, and this spin is here for the
 * signal (in split-stack mode, the poisoned guard's request then always
 * ended at the clock read: 340 asynchronous preemptions of 1000). */
int64_t mono_ns()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void spin_ns(int64_t ns)
{
    int64_t end = mono_ns() + ns;
    while (mono_ns() < end)
        for (volatile int i = 0; i < 2000; i = i + 1)
            ;
}

/* One way to leave the thread and come back (maybe on another one). */
void do_switch(int worker, int how)
{
    switch (how) {
    case 0:
        gort_yield();
        break;
    case 1: { /* a channel round trip through the echo goroutine */
        int v = worker;
        gort_chan_send(pingc[worker], &v);
        gort_yield();
        break;
    }
    case 2:
        gort_sleep(20 * 1000);
        break;
    default: /* stay in user code until the preemption signal stops us */
        spin_ns(kSpinNs);
        break;
    }
}

void sink(void *arg)
{
    int w = (int)(intptr_t)arg;
    int v;
    while (gort_chan_recv(pingc[w], &v))
        CHECK(std::current_exception() == nullptr && std::uncaught_exceptions() == 0);
    gort_wg_done(&wg);
}

/* Unwinding through this destructor: uncaught_exceptions() is 1 while it
 * runs, before and after a preemption inside it. */
struct Unwinding {
    int how;
    int worker;
    ~Unwinding()
    {
        CHECK_EQ(std::uncaught_exceptions(), 1);
        do_switch(worker, how);
        CHECK_EQ(std::uncaught_exceptions(), 1);
    }
};

__attribute__((noinline)) void throw_err(int w, int r)
{
    throw Err{w, r};
}

void worker(void *arg)
{
    int w = (int)(intptr_t)arg;
    for (int r = 0; r < kRounds; r++) {
        int how = r % 5; /* 0 yield, 1 chan, 2 sleep, 3-4 spin */
        int *before = this_thread();
        try {
            try {
                throw_err(w, r);
            } catch (Err &e) {
                CHECK(e.worker == w && e.round == r);
                do_switch(w, how);
                CHECK_EQ(std::uncaught_exceptions(), 0);
                std::exception_ptr p = std::current_exception();
                CHECK(p != nullptr, "worker %d round %d: no current exception after a switch", w, r);
                /* Nested: a second caught exception on top of the first. */
                try {
                    throw std::runtime_error("inner");
                } catch (std::runtime_error &inner) {
                    do_switch(w, (how + 1) % 5);
                    try {
                        throw;
                    } catch (std::runtime_error &again) {
                        CHECK(&again == &inner);
                    }
                }
                /* Back to the outer one, which is current again. */
                try {
                    std::rethrow_exception(p);
                } catch (Err &same) {
                    CHECK(&same == &e);
                }
                do_switch(w, how);
                rethrows[w]++;
                throw; /* the rethrow under test */
            }
        } catch (Err &e) {
            CHECK(e.worker == w && e.round == r, "rethrew %d/%d, want %d/%d", e.worker,
                  e.round, w, r);
        }
        CHECK(std::current_exception() == nullptr);
        CHECK_EQ(std::uncaught_exceptions(), 0);
        if (this_thread() != before)
            migrations[w]++;
        /* A preemption in a destructor run by the unwinder. */
        if (r % 10 == 0) {
            try {
                Unwinding u{how, w};
                throw_err(w, r);
            } catch (Err &e) {
                CHECK(e.round == r);
                CHECK_EQ(std::uncaught_exceptions(), 0);
            }
        }
    }
    gort_chan_close(pingc[w]);
    gort_wg_done(&wg);
}

/* Catches nothing: after every switch it must see nothing, whichever
 * goroutines ran on its thread before. */
void idle(void *)
{
    while (!stop_idle) {
        CHECK(std::current_exception() == nullptr, "an empty goroutine sees a caught exception");
        CHECK_EQ(std::uncaught_exceptions(), 0);
        gort_yield();
    }
    gort_wg_done(&idle_wg);
}

void main_g(void *)
{
    gort_stats s0, s1;
    gort_read_stats(&s0);
    for (int w = 0; w < kWorkers; w++) {
        pingc[w] = gort_chan_make(sizeof(int), 0);
        CHECK(pingc[w]);
    }
    gort_wg_add(&idle_wg, 2);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(gort_go(idle, nullptr), 0);
    gort_wg_add(&wg, 2 * kWorkers);
    for (int w = 0; w < kWorkers; w++) {
        CHECK_EQ(gort_go(worker, (void *)(intptr_t)w), 0);
        CHECK_EQ(gort_go(sink, (void *)(intptr_t)w), 0);
    }
    gort_wg_wait(&wg);
    stop_idle = 1;
    gort_wg_wait(&idle_wg);
    gort_read_stats(&s1);
    long total = 0, moved = 0;
    for (int w = 0; w < kWorkers; w++) {
        total += rethrows[w];
        moved += migrations[w];
    }
    long pre = (long)(s1.async_preempts - s0.async_preempts);
    printf("sync preemptions %ld, switches %ld\n", (long)(s1.sync_preempts - s0.sync_preempts), (long)(s1.context_switches - s0.context_switches));
    printf("rethrows %ld, async preemptions %ld, rounds that changed thread %ld\n", total,
           pre, moved);
    fflush(stdout);
    CHECK_EQ(total, (long)kWorkers * kRounds);
    /* The test means something only if the switches happened. */
    CHECK(pre >= 1000, "only %ld asynchronous preemptions", pre);
    CHECK(moved >= 100, "only %ld rounds changed thread", moved);
}

} // namespace

int main()
{
    setenv("GORTMAXPROCS", "2", 1);
    setenv("GORTDEBUG", "quantum=200us", 1);
    /* A plain thread's own state stays its own meanwhile. */
    try {
        throw 7;
    } catch (int) {
        run_main(main_g, nullptr);
        CHECK(std::current_exception() != nullptr);
        try {
            throw;
        } catch (int v) {
            CHECK_EQ(v, 7);
        }
    }
    puts("ok");
    return 0;
}
