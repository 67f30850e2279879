/* A chain that uses exactly the 2048-byte window and must pass:
 * split_caller -> ns_x1 -> ns_x2 (a leaf), counted as
 *   8 (the call into ns_x1) + ns_x1's height at its call + 8 + ns_x2's
 *   deepest byte (its frame and the red zone below it)
 * = 2048 bytes.  The frames are fixed-size volatile arrays whose sizes
 * were measured with `gort-nosplit -v` for gcc 12 and clang 14 at -O2 with
 * frame pointers; tests/nosplit/run.sh asserts the heights, and with
 * -limit 2047 the chain must be 1 byte over.  (Through calls alone a chain
 * always ends 8 bytes past a multiple of 16: every frame keeps the ABI's
 * 16-byte alignment.  The leaf's red zone gives the last 8.) */
#include "ns.h"

#ifndef X1
#define X1 1000
#endif
#ifndef X2
#define X2 1000
#endif

NS int ns_x2(int x)
{
	volatile char buf[X2];
	buf[0] = (char)x;
	return buf[x & 7] + buf[1];
}

NS int ns_x1(int x)
{
	volatile char buf[X1];
	buf[0] = (char)x;
	return ns_x2(buf[x & 7]) + buf[1];
}

SPLIT int split_caller(int x) { return ns_x1(x) + 1; }
