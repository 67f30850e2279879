/*
 * stop_fib.c — issue 11's request-to-stop latency, call-heavy goroutines:
 * stw.c with STW_FIB (P-1 goroutines computing fib(25) in a loop; see
 * stw.c), built plain and -fsplit-stack by bench/run.sh.
 */
#define STW_NAME "stop_fib"
#define STW_FIB 1
#include "stw.c"
