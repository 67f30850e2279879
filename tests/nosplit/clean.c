/* Split functions only, calling each other, recursing and calling libc:
 * nothing to report. */
#include <stdio.h>
#include "ns.h"

SPLIT int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

SPLIT int split_print(int n)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%d", fib(n));
	return puts(buf);
}

int main(void) { return split_print(10) < 0; }
