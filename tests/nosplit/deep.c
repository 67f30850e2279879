/* A chain of nosplit functions that ends in a split one and goes over the
 * 2048-byte window: split_caller -> ns_a -> ns_b -> ns_c -> split_use. */
#include "ns.h"

SPLIT int split_use(int x)
{
	volatile char buf[8];
	buf[0] = (char)x;
	return buf[0];
}

NS int ns_c(int x)
{
	volatile char buf[900];
	buf[0] = (char)x;
	return split_use(buf[x & 7]) + buf[1];
}

NS int ns_b(int x)
{
	volatile char buf[700];
	buf[0] = (char)x;
	return ns_c(buf[x & 7]) + buf[1];
}

NS int ns_a(int x)
{
	volatile char buf[500];
	buf[0] = (char)x;
	return ns_b(buf[x & 7]) + buf[1];
}

SPLIT int split_caller(int x) { return ns_a(x) + 1; }

#ifdef NS_MAIN
int main(int argc, char **argv)
{
	(void)argv;
	return (int)split_caller(argc);
}
#endif
