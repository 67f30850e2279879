/* A nosplit function that calls through a pointer: the call escapes the
 * proof (the target is assumed to check its stack). */
#include "ns.h"

int (*ns_hook)(int);

NS int ns_indirect(int x) { return ns_hook(x) + 1; }

SPLIT int split_caller(int x) { return ns_indirect(x); }
