/* A nosplit function that calls itself: an infinite cycle (the seed's
 * example, rejected at link time). */
#include "ns.h"

NS int ns_recurse(int n)
{
	volatile char buf[32];
	buf[0] = (char)n;
	if (n <= 0)
		return buf[0];
	return ns_recurse(n - 1) + buf[n & 31];
}

SPLIT int split_caller(int n) { return ns_recurse(n) + 1; }

#ifdef NS_MAIN
int main(int argc, char **argv)
{
	(void)argv;
	return split_caller(argc) & 1;
}
#endif
