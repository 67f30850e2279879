// parked_rss.cpp — Boost.Fiber twin of bench/parked_rss.c: N fibers each
// bump an atomic counter and block popping one unbuffered_channel; RSS
// delta / N in bytes once all are blocked (+100 ms), then the channel is
// closed and they are joined.  Stacks are fixedsize_stack(16 KiB): Boost's
// 128 KiB default is malloc'd above the mmap threshold, and a million
// mappings exceed vm.max_map_count.
#include "common.hpp"

static const std::size_t kStack = 16 * 1024;

int main(int argc, char **argv)
{
    long n = bench::arg(argc, argv, 1000000);
    bench::Pool pool(bench::threads(2));
    boost::fibers::unbuffered_channel<int> gate;
    bench::WaitGroup wg;
    std::atomic<long> started{0};
    boost::this_fiber::sleep_for(std::chrono::milliseconds(10));
    long rss0 = bench::rss_bytes();
    int64_t t0 = bench::now();
    wg.add(n);
    for (long i = 0; i < n; i++)
        boost::fibers::fiber(std::allocator_arg, boost::fibers::fixedsize_stack(kStack),
                             [&] {
                                 started.fetch_add(1);
                                 int v;
                                 gate.pop(v);
                                 wg.done();
                             })
            .detach();
    while (started.load() < n)
        boost::this_fiber::sleep_for(std::chrono::milliseconds(1));
    int64_t t1 = bench::now();
    boost::this_fiber::sleep_for(std::chrono::milliseconds(100));
    long rss1 = bench::rss_bytes();
    gate.close();
    wg.wait();
    int64_t t2 = bench::now();
    std::printf("RESULT name=parked_rss impl=boost unit=bytes value=%.0f procs=%d n=%ld "
                "rss0_mb=%.1f rss1_mb=%.1f spawn_ms=%.1f wake_join_ms=%.1f stack_kib=%zu\n",
                double(rss1 - rss0) / double(n), pool.size(), n, rss0 / 1048576.0,
                rss1 / 1048576.0, double(t1 - t0) / 1e6, double(t2 - t1) / 1e6 - 100.0,
                kStack / 1024);
    std::fflush(stdout);
}
