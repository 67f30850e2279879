/* Two nosplit functions calling each other: an infinite cycle. */
#include "ns.h"

NS int ns_odd(int n);

NS int ns_even(int n)
{
	volatile char buf[16];
	buf[0] = (char)n;
	return n == 0 ? 1 : ns_odd(n - 1) + buf[n & 15];
}

NS int ns_odd(int n)
{
	volatile char buf[16];
	buf[0] = (char)n;
	return n == 0 ? 0 : ns_even(n - 1) + buf[n & 15];
}

SPLIT int split_caller(int n) { return ns_even(n); }
