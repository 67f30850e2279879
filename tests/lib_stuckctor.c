/*
 * lib_stuckctor.c — a shared library whose constructor never returns, for
 * test_crash: the thread that dlopens it holds the loader's lock for good.
 * It writes one byte to the descriptor named by STUCKCTOR_FD, so the test
 * knows the lock is held, then waits for ever.
 */
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void stuck(void)
{
    const char *e = getenv("STUCKCTOR_FD");
    if (e) {
        ssize_t r = write(atoi(e), "x", 1);
        (void)r;
    }
    for (;;)
        pause();
}
