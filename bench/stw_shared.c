/*
 * stw_shared.c — stop-the-world latency with EVERY P spinning call-free
 * and the stopper sharing a P: stw.c built with STW_SHARED (see stw.c).
 */
#define STW_SHARED 1
#include "stw.c"
