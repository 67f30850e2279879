// common.hpp — helpers for the Boost.Fiber twins of gort's benchmarks.
//
// Pool installs Boost.Fiber's work-stealing scheduler on the calling thread
// and on nthreads-1 helper threads
// (boost::fibers::use_scheduling_algorithm<algo::work_stealing>(nthreads)
// on each, as Boost's own work_stealing example does); the helpers park
// their main fiber on a fiber condition variable until the Pool is
// destroyed, so their schedulers run (and steal) the program's fibers.
// work_stealing is used with its default suspend=false: idle threads spin.
//
// WaitGroup is Go's sync.WaitGroup built from an atomic counter, a fiber
// mutex and a fiber condition variable (Boost.Fiber has none).
//
// Output: one line, RESULT name=<bench> impl=boost unit=<u> value=<v> ...
#ifndef GORT_BENCH_BOOST_COMMON_HPP
#define GORT_BENCH_BOOST_COMMON_HPP

#include <boost/fiber/all.hpp>
#include <boost/fiber/algo/work_stealing.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

namespace bench {

inline int64_t now()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

inline long arg(int argc, char **argv, long def)
{
    if (argc > 1) {
        long v = std::strtol(argv[1], nullptr, 0);
        if (v > 0)
            return v;
    }
    return def;
}

// Threads: $BENCH_THREADS, else def (run.sh passes 2, or 1 for yield).
inline int threads(int def)
{
    const char *s = std::getenv("BENCH_THREADS");
    int v = s ? std::atoi(s) : 0;
    return v > 0 ? v : def;
}

inline long rss_bytes()
{
    long size = 0, rss = 0;
    FILE *f = std::fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (std::fscanf(f, "%ld %ld", &size, &rss) != 2)
        rss = -1;
    std::fclose(f);
    return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

[[noreturn]] inline void die(const char *msg)
{
    std::fprintf(stderr, "bench: %s\n", msg);
    std::exit(2);
}

class Pool {
public:
    explicit Pool(int n) : n_(n)
    {
        for (int i = 1; i < n; i++)
            threads_.emplace_back([this] {
                boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(n_);
                std::unique_lock<boost::fibers::mutex> lk(mtx_);
                cv_.wait(lk, [this] { return fini_; });
            });
        boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(n_);
    }
    ~Pool()
    {
        {
            std::unique_lock<boost::fibers::mutex> lk(mtx_);
            fini_ = true;
        }
        cv_.notify_all();
        for (auto &t : threads_)
            t.join();
    }
    int size() const { return n_; }

private:
    int n_;
    bool fini_ = false;
    boost::fibers::mutex mtx_;
    boost::fibers::condition_variable_any cv_;
    std::vector<std::thread> threads_;
};

class WaitGroup {
public:
    void add(long d) { n_.fetch_add(d); }
    void done()
    {
        if (n_.fetch_sub(1) == 1) {
            std::unique_lock<boost::fibers::mutex> lk(m_);
            cv_.notify_all();
        }
    }
    void wait()
    {
        std::unique_lock<boost::fibers::mutex> lk(m_);
        cv_.wait(lk, [this] { return n_.load() == 0; });
    }

private:
    std::atomic<long> n_{0};
    boost::fibers::mutex m_;
    boost::fibers::condition_variable cv_;
};

} // namespace bench

#endif
