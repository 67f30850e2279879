/* pointer.c — the post on //go:nosplit, "virtual nosplit functions":
 *
 *   var f func(int)
 *   //go:nosplit
 *   func x(y int) { f(y+1) }
 *   func main() { f = x; f(0) }
 *
 * Go's linker cannot follow the call through f, accepts the program, and
 * it dies with "signal: segmentation fault", no message, no traceback.
 * Here gort-nosplit accepts it too, but names what escaped its proof (an
 * indirect call from a nosplit function), and the run ends in gort's
 * fatal error "stack overflow" with the goroutine, its stack and the
 * traceback (make demo, step 2: examples/nosplit/demo.sh).  x has no
 * stack check, so it is the guard page below the goroutine's stack that
 * catches it.  Built with -DX_CHECKED, x is an ordinary function, and its
 * own prologue check stops it before it writes a byte past the guard (the
 * report then says "[stack check: x needs a ...-byte frame ...]"). */
#include <gort.h>

static void (*volatile f)(int);
static volatile int sink, stop; /* stop: never set */

/* -DX_CHECKED builds x without GORT_NOSPLIT: an ordinary function,
 * whose prologue check stops it. */
#ifdef X_CHECKED
#define X_ATTR __attribute__((noinline))
#else
#define X_ATTR GORT_NOSPLIT
#endif

X_ATTR void x(int y)
{
    if (!stop)
        f(y + 1);
    sink = y;
}

static void main_goroutine(void *arg)
{
    (void)arg;
    f = x;
    f(0);
}

int main(void)
{
    return gort_main(main_goroutine, NULL);
}
