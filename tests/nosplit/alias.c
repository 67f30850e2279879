/* alias.c — a nosplit chain through a second name of a function
 * (__attribute__((alias))): objdump labels the code with one name only,
 * and gcc calls the alias by its own name. */
#include "ns.h"

NS int ns_aliased(int x)
{
	volatile char b[1800];
	b[0] = (char)x;
	return b[x & 7] + b[1];
}

int ns_alias(int x) __attribute__((alias("ns_aliased")));

NS int ns_via_alias(int x)
{
	volatile char b[600];
	b[0] = (char)x;
	return ns_alias(b[x & 7]) + b[1];
}

SPLIT int alias_top(int x) { return ns_via_alias(x) + 1; }
