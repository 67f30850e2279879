/*
 * stop_loop.c — issue 11's request-to-stop latency, call-free goroutines:
 * stw.c under the name stop_loop (see stw.c), built plain and
 * -fsplit-stack by bench/run.sh.  In split-stack mode the poison cannot
 * stop a loop without calls: the signal follows after
 * GORT_SYNCPREEMPT_WAIT_NS, and this measures what that wait costs.
 */
#define STW_NAME "stop_loop"
#include "stw.c"
