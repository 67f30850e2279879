/* ns.h — shared by the gort-nosplit corpus (tests/nosplit/).  These
 * files are compiled with -fsplit-stack and analysed, never run. */
#ifndef NS_H
#define NS_H
/* nosplit, as GORT_NOSPLIT is in split-stack mode; noipa (gcc) keeps the
 * functions, their names and their frames as written: no clones, no
 * inlining, no recursion turned into a loop. */
#ifdef __clang__
#define NS_KEEP_O __attribute__((noinline))
#else
#define NS_KEEP_O __attribute__((noipa))
#endif
#define NS __attribute__((no_split_stack, section("gort_nosplit"))) NS_KEEP_O
#define SPLIT NS_KEEP_O
#endif
