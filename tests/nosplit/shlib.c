/* shlib.c — run.sh links it as a shared library too, where ns_mid calls
 * ns_leaf through the library's PLT (ns_leaf could be interposed): the
 * chain, 8 + 1216 + 1208 bytes, must be found through the stub, and
 * split_caller's call into split code through the PLT is no sign of a
 * link without split-stack call adjustment. */
#include "ns.h"

NS int ns_leaf(int x)
{
	volatile char b[1200];
	b[0] = (char)x;
	return b[x & 7] + b[1];
}

NS int ns_mid(int x)
{
	volatile char b[1200];
	b[0] = (char)x;
	return ns_leaf(b[x & 7]) + b[1];
}

SPLIT int split_leaf(int x)
{
	volatile char b[64];
	b[0] = (char)x;
	return b[x & 7];
}

SPLIT int split_caller(int x) { return ns_mid(x) + split_leaf(x); }
