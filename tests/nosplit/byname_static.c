/* byname_static.c — a static nosplit function named like byname_global.c's
 * global one, and small: a call by name from another object
 * (byname_call.c) reaches the global one, never this. */
#include "ns.h"

NS static int helper(int x)
{
	volatile char b[16];
	b[0] = (char)x;
	return b[x & 7];
}

SPLIT int static_use(int x) { return helper(x); }
