// pingpong.cpp — Boost.Fiber twin of bench/pingpong.c: the main fiber sends
// an int64 on an unbuffered_channel and waits for it back on another; an
// echo fiber returns it.  ns per round trip, 10k warm-up round trips.
#include "common.hpp"

using chan = boost::fibers::unbuffered_channel<int64_t>;

int main(int argc, char **argv)
{
    long n = bench::arg(argc, argv, 500000);
    bench::Pool pool(bench::threads(2));
    chan ping, pong;
    bench::WaitGroup wg;
    wg.add(1);
    boost::fibers::fiber([&] {
        int64_t v;
        while (ping.pop(v) == boost::fibers::channel_op_status::success)
            pong.push(v);
        wg.done();
    }).detach();
    int64_t v = 0;
    for (long i = 0; i < 10000; i++) {
        ping.push(v);
        pong.pop(v);
    }
    int64_t t0 = bench::now();
    for (long i = 0; i < n; i++) {
        ping.push(int64_t(i));
        pong.pop(v);
    }
    int64_t t1 = bench::now();
    ping.close();
    wg.wait();
    if (v != n - 1)
        bench::die("pingpong: wrong value echoed");
    std::printf("RESULT name=pingpong impl=boost unit=ns/op value=%.2f procs=%d n=%ld\n",
                double(t1 - t0) / double(n), pool.size(), n);
    std::fflush(stdout);
}
