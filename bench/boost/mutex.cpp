// mutex.cpp — Boost.Fiber twin of bench/mutex.c: 8 fibers lock a shared
// boost::fibers::mutex, increment a counter and unlock, N/8 times each;
// ns per lock+increment+unlock.
#include "common.hpp"

static boost::fibers::mutex mu;
static long counter;
static bench::WaitGroup wg;

static void run(int g, long per)
{
    wg.add(g);
    for (int k = 0; k < g; k++)
        boost::fibers::fiber([per] {
            for (long i = 0; i < per; i++) {
                mu.lock();
                counter++;
                mu.unlock();
            }
            wg.done();
        }).detach();
    wg.wait();
}

int main(int argc, char **argv)
{
    const int g = 8;
    long n = bench::arg(argc, argv, 4000000);
    long per = n / g;
    n = per * g;
    bench::Pool pool(bench::threads(2));
    run(g, 10000);
    counter = 0;
    int64_t t0 = bench::now();
    run(g, per);
    int64_t t1 = bench::now();
    if (counter != n)
        bench::die("mutex: lost increments");
    std::printf("RESULT name=mutex impl=boost unit=ns/op value=%.2f procs=%d n=%ld goroutines=%d\n",
                double(t1 - t0) / double(n), pool.size(), n, g);
    std::fflush(stdout);
}
