/*
 * split_canary.c — the smallest split-stack program, for
 * test_split_linker: the Makefile links it with GNU ld, with gold without
 * --split-stack-adjust-size, and as documented; gort must refuse the
 * first two at start-up (src/arch/splitstack_amd64.c) and run the third.
 */
#include <gort.h>
#include <stdio.h>

static void hello(void *arg)
{
    (void)arg;
    printf("split-stack program ran\n");
}

int main(void)
{
    return gort_main(hello, NULL);
}
