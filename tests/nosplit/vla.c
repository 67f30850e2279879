/* A nosplit function with a variable-length array: its size escapes the
 * proof. */
#include "ns.h"

NS int ns_vla(int n)
{
	volatile char buf[n];
	buf[0] = (char)n;
	return buf[n - 1];
}

SPLIT int split_caller(int n) { return ns_vla(n); }
