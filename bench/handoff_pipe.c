/*
 * handoff_pipe.c — handoff.c with a blocking pipe read() instead of
 * usleep(1000): the same program built with HANDOFF_PIPE (see handoff.c).
 */
#define HANDOFF_PIPE 1
#include "handoff.c"
