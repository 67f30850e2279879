/*
 * test_cxx_main_thread.cc — gort_main_thread called inside a catch block:
 * the caught exception is the caller's, and `throw;` after the call must
 * still rethrow it.  The thread becomes an M for goroutine 1, and an M's
 * thread must hold no C++ exception state while no goroutine runs; the
 * caller's was moved into goroutine 1 at its first switch and dropped
 * when it exited, so `throw;` called std::terminate ("terminate called
 * without an active exception", a reviewer's reproducer, every run).
 */
#include <gort.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

static void g1(void *)
{
    gort_yield(); /* goroutine 1 switches out and back */
    gort_sleep(1000000);
    if (std::current_exception()) {
        std::fprintf(stderr, "FAIL: goroutine 1 sees the caller's exception\n");
        std::exit(1);
    }
}

int main()
{
    try {
        try {
            throw std::runtime_error("the caller's");
        } catch (const std::exception &) {
            if (gort_main_thread(g1, nullptr) != 0) {
                std::fprintf(stderr, "FAIL: gort_main_thread\n");
                return 1;
            }
            if (!std::current_exception()) {
                std::fprintf(stderr, "FAIL: the caller's caught exception is gone\n");
                return 1;
            }
            throw;
        }
    } catch (const std::exception &e) {
        if (std::string(e.what()) != "the caller's") {
            std::fprintf(stderr, "FAIL: rethrew '%s'\n", e.what());
            return 1;
        }
        std::printf("ok\n");
        return 0;
    }
    return 1;
}
