/*
 * test_split_traceback.c — tracebacks through __morestack_non_split's
 * frames name each function once, with its caller after it.
 *
 * A checked function that calls libc runs its body from a frame of
 * __morestack_non_split whose return address is the `ret` after the
 * function's own prologue call; the frame-pointer walk must take the
 * caller's return address one word up (gort__prologue_return).  Without
 * that, each such function appeared twice and its caller's line was lost.
 */
#include "split.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char out[16384];

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Both call libc (strlen), so both run from a __morestack_non_split frame. */
__attribute__((noinline)) int tb_inner(const char *p)
{
    if (strlen(p) > 2) {
        FILE *f = tmpfile();
        CHECK(f);
        gort_dump_goroutines(fileno(f));
        rewind(f);
        size_t n = fread(out, 1, sizeof out - 1, f);
        out[n] = 0;
        fclose(f);
    }
    return 1;
}

__attribute__((noinline)) int tb_outer(const char *p) { return tb_inner(p) + (int)strlen(p); }

static void main_goroutine(void *arg)
{
    (void)arg;
    CHECK(tb_outer("hello") == 6);
    fprintf(stderr, "%s", out);
    CHECK(count(out, "\ntb_inner(") == 1, "tb_inner shown %d times", count(out, "\ntb_inner("));
    CHECK(count(out, "\ntb_outer(") == 1, "tb_outer shown %d times", count(out, "\ntb_outer("));
    const char *i = strstr(out, "\ntb_inner("), *o = strstr(out, "\ntb_outer("), *m = strstr(out, "\nmain_goroutine(");
    CHECK(i && o && m && i < o && o < m, "frames out of order");
}

int main(void)
{
    run_main(main_goroutine, NULL);
    return 0;
}
