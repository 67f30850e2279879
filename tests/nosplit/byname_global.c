/* byname_global.c — the global helper (see byname_static.c): 1800 bytes. */
#include "ns.h"

NS int helper(int x)
{
	volatile char b[1800];
	b[0] = (char)x;
	return b[x & 7] + b[1];
}
