// spawn.cpp — Boost.Fiber twin of bench/spawn.c: N detached fibers that
// each call WaitGroup::done; ns per fiber from launch to join.  N/10 warm-up
// first.  Work-stealing scheduler on 2 threads.  Stacks: fixedsize_stack of
// 16 KiB (malloc'd from the heap); with Boost's 128 KiB default every stack
// is a separate mmap and the run measures page faults (~25 us per fiber).
#include "common.hpp"

static bench::WaitGroup wg;
static const std::size_t kStack = 16 * 1024;

static void round_of(long n)
{
    wg.add(n);
    for (long i = 0; i < n; i++)
        boost::fibers::fiber(std::allocator_arg, boost::fibers::fixedsize_stack(kStack),
                             [] { wg.done(); })
            .detach();
    wg.wait();
}

int main(int argc, char **argv)
{
    long n = bench::arg(argc, argv, 1000000);
    bench::Pool pool(bench::threads(2));
    round_of(n / 10);
    int64_t t0 = bench::now();
    round_of(n);
    int64_t t1 = bench::now();
    std::printf("RESULT name=spawn impl=boost unit=ns/op value=%.2f procs=%d n=%ld total_ms=%.1f stack_kib=%zu\n",
                double(t1 - t0) / double(n), pool.size(), n, double(t1 - t0) / 1e6, kStack / 1024);
    std::fflush(stdout);
}
