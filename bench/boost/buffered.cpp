// buffered.cpp — Boost.Fiber twin of bench/buffered.c: a producer fiber
// pushes N int64s into buffered_channel<int64_t>(128) (Boost requires a
// power of two and holds 127) and closes it; the main fiber pops until
// closed.  ns per message.
#include "common.hpp"

using chan = boost::fibers::buffered_channel<int64_t>;

static int64_t run(long n)
{
    chan c(128);
    bench::WaitGroup wg;
    wg.add(1);
    boost::fibers::fiber([&c, &wg, n] {
        for (int64_t i = 0; i < n; i++)
            c.push(i);
        c.close();
        wg.done();
    }).detach();
    int64_t v, sum = 0;
    while (c.pop(v) == boost::fibers::channel_op_status::success)
        sum += v;
    wg.wait(); // the channel lives on this stack: wait for the producer to leave it
    return sum;
}

int main(int argc, char **argv)
{
    long n = bench::arg(argc, argv, 2000000);
    bench::Pool pool(bench::threads(2));
    run(10000);
    int64_t t0 = bench::now();
    int64_t sum = run(n);
    int64_t t1 = bench::now();
    if (sum != int64_t(n) * (n - 1) / 2)
        bench::die("buffered: wrong sum");
    std::printf("RESULT name=buffered impl=boost unit=ns/op value=%.2f procs=%d n=%ld\n",
                double(t1 - t0) / double(n), pool.size(), n);
    std::fflush(stdout);
}
