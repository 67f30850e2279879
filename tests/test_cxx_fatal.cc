/*
 * test_cxx_fatal.cc — an exception that escapes a goroutine's function is
 * a gort fatal error (exit status 2) naming the goroutine, the exception's
 * demangled type and what(), with a traceback that shows the throwing
 * function (gort.h's terminate handler, cxx_eh.c).  std::terminate on a
 * goroutine for other reasons (`throw;` with nothing caught, a noexcept
 * function left by an exception) is reported the same way; on a thread
 * that is not a goroutine the handler gort.h replaced runs as before.
 * Built with g++ and with clang++ (Makefile).
 */
#include "check.h"

#include <pthread.h>
#include <stdexcept>
#include <string>

namespace app {
struct Custom {
    int code;
};
} // namespace app

namespace {

/* The traceback must name these: they are where the throw happened. */
__attribute__((noinline)) void deep_thrower_runtime(int n)
{
    if (n > 0)
        throw std::runtime_error("boom-" + std::to_string(n));
    gort_yield();
}

__attribute__((noinline)) void deep_thrower_custom(int n)
{
    if (n > 0)
        throw app::Custom{n};
}

__attribute__((noinline)) void bare_rethrow(void)
{
    throw; /* nothing caught: std::terminate */
}

__attribute__((noinline)) void noexcept_wall(void) noexcept
{
    deep_thrower_runtime(5);
}

__attribute__((noinline)) void goroutine_body(void *arg)
{
    long which = (long)(intptr_t)arg;
    gort_yield(); /* on some thread, after a switch */
    switch (which) {
    case 0:
        deep_thrower_runtime(42);
        break;
    case 1:
        deep_thrower_custom(7);
        break;
    case 2:
        bare_rethrow();
        break;
    case 3:
        noexcept_wall();
        break;
    case 4:
        throw 3.5;
    }
}

gort_chan *forever;

void main_g(void *arg)
{
    forever = gort_chan_make(0, 0);
    /* Another goroutine, parked, so the report has more than one. */
    CHECK_EQ(gort_go([](void *) { gort_chan_recv(forever, nullptr); }, nullptr), 0);
    long which = (long)(intptr_t)arg;
    if (which == 5) { /* goroutine 1 itself */
        deep_thrower_runtime(99);
        return;
    }
    CHECK_EQ(gort_go(goroutine_body, arg), 0);
    gort_chan_recv(forever, nullptr);
}

void child(void *arg)
{
    setenv("GORTMAXPROCS", "2", 1);
    gort_main(main_g, arg);
    _exit(0); /* not reached: the fatal error exits 2 */
}

/* A thread that is not a goroutine: the previous handler (libstdc++'s
 * verbose one, which aborts) runs. */
void *thread_throws(void *)
{
    deep_thrower_runtime(8);
    return nullptr;
}

void child_thread(void *)
{
    gort_main([](void *) {
        pthread_t t;
        CHECK_EQ(pthread_create(&t, nullptr, thread_throws, nullptr), 0);
        pthread_join(t, nullptr);
    }, nullptr);
    _exit(0);
}

void expect(long which, const char *const *needles)
{
    char buf[16384];
    int st = capture_child(child, (void *)(intptr_t)which, buf, sizeof buf);
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 2;
    for (const char *const *n = needles; *n; n++)
        if (!strstr(buf, *n)) {
            fprintf(stderr, "case %ld: missing '%s'\n", which, *n);
            ok = false;
        }
    if (!ok) {
        fprintf(stderr, "case %ld: status %#x; stderr:\n%s\n", which, st, buf);
        CHECK(0, "case %ld: not the expected report", which);
    }
}

} // namespace

int main()
{
    {
        const char *n[] = {"gort: fatal error: goroutine ",
                           ": C++ exception not caught: std::runtime_error: what(): boom-42",
                           "deep_thrower_runtime", "goroutine_body", "[running]",
                           "goroutine function:", "[chan receive]", nullptr};
        expect(0, n);
    }
    {
        const char *n[] = {"C++ exception not caught: app::Custom\n", "deep_thrower_custom",
                           "goroutine_body", nullptr};
        expect(1, n);
    }
    {
        const char *n[] = {"std::terminate called without an active exception", "bare_rethrow",
                           nullptr};
        expect(2, n);
    }
    {
        const char *n[] = {"std::runtime_error: what(): boom-5", "noexcept_wall", nullptr};
        expect(3, n);
    }
    {
        const char *n[] = {"C++ exception not caught: double\n", "goroutine_body", nullptr};
        expect(4, n);
    }
    {
        const char *n[] = {"gort: fatal error: goroutine 1: C++ exception not caught: "
                           "std::runtime_error: what(): boom-99",
                           "deep_thrower_runtime", "main_g", nullptr};
        expect(5, n);
    }
    /* Not a goroutine: libstdc++'s own message and abort(). */
    char buf[16384];
    int st = capture_child(child_thread, nullptr, buf, sizeof buf);
    if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) || !strstr(buf, "boom-8") ||
        strstr(buf, "gort: fatal error")) {
        fprintf(stderr, "thread: status %#x; stderr:\n%s\n", st, buf);
        CHECK(0, "a thread's terminate was not left to the previous handler");
    }
    puts("ok");
    return 0;
}
