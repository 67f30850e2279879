/* switch.c — a nosplit call reached only through a switch's jump table
 * (run.sh compiles it at -O0 too, where gcc loads the table's offset with
 * mov and cltq, not movslq). */
#include "ns.h"

NS int ns_sw_big(int x)
{
	volatile char b[1800];
	b[0] = (char)x;
	return b[x & 7] + b[1];
}

NS int ns_switch(int x)
{
	volatile char b[600];
	b[0] = (char)x;
	switch (x) {
	case 0: return 3;
	case 1: return ns_sw_big(b[1]) + 7;
	case 2: return 11;
	case 3: return 5 + b[2];
	case 4: return 13;
	case 5: return 17 + b[3];
	case 6: return 19;
	default: return b[x & 7]; /* all of b used: clang keeps its size */
	}
}

SPLIT int switch_top(int x) { return ns_switch(x) + 1; }
