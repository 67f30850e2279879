/* recursive.c — the post on //go:nosplit, first program:
 *
 *   //go:nosplit
 *   func x(y int) { x(y+1) }
 *
 * Go's linker refuses it: "x.x: nosplit stack over 792 byte limit ...
 * infinite cycle".  Compiled -fsplit-stack, GORT_NOSPLIT is Go's nosplit
 * (no stack check), and gort-nosplit, run on the linked program, refuses
 * it the same way (make demo, step 1: examples/nosplit/demo.sh).  It is
 * never meant to run; if it did, the guard page would stop it.
 *
 * The store after the call keeps the recursion a call (a C compiler
 * turns the seed's tail call into a jump: a loop, not a chain of frames);
 * the test of `stop`, never set, only keeps the compilers from warning
 * about infinite recursion. */
#include <gort.h>

static volatile int sink, stop; /* stop: never set */

GORT_NOSPLIT void x(int y)
{
    if (!stop)
        x(y + 1);
    sink = y;
}

static void main_goroutine(void *arg)
{
    (void)arg;
    x(0);
}

int main(void)
{
    return gort_main(main_goroutine, NULL);
}
