// yield.cpp — Boost.Fiber twin of bench/yield.c: two fibers each call
// boost::this_fiber::yield() N times on one thread (work_stealing(1));
// ns per yield = wall time / 2N.
#include "common.hpp"

static bench::WaitGroup wg;

static void run(long n)
{
    wg.add(2);
    for (int k = 0; k < 2; k++)
        boost::fibers::fiber([n] {
            for (long i = 0; i < n; i++)
                boost::this_fiber::yield();
            wg.done();
        }).detach();
    wg.wait();
}

int main(int argc, char **argv)
{
    long n = bench::arg(argc, argv, 2000000);
    bench::Pool pool(bench::threads(1));
    run(10000);
    int64_t t0 = bench::now();
    run(n);
    int64_t t1 = bench::now();
    std::printf("RESULT name=yield impl=boost unit=ns/op value=%.2f procs=%d n=%ld\n",
                double(t1 - t0) / double(2 * n), pool.size(), n);
    std::fflush(stdout);
}
