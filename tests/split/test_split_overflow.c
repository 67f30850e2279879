/*
 * test_split_overflow.c — split-stack mode catches a stack overflow in the
 * overflowing function's prologue (src/morestack.c), before the function
 * writes a byte of its frame, for each way a frame can be too big:
 *   small  deep recursion of small frames (< 256 bytes: the compiler
 *          compares rsp itself with the guard);
 *   large  one function with a frame larger than the whole stack (the
 *          check is lea -N(%rsp); a frame that big would run past the
 *          stack's end, into the guard page or a neighbour's slab);
 *   vla    a variable-length array as large (gcc: the allocation itself is
 *          checked, __morestack_allocate_stack_space);
 *   libc   recursion that calls libc at every level (the linker sends the
 *          prologue to __morestack_non_split, which demands room for code
 *          without checks and reports the level that lacks it).
 * Each runs in a child, in the main goroutine on a guarded 256 KiB stack
 * and in another goroutine on a 64 KiB slab stack without guard page
 * (GORTDEBUG=guardedstacks=0).  The child must exit 2 with
 * "gort: fatal error: stack overflow", the check's line naming the
 * function and its frame size, the goroutine, its stack size, the
 * GORTSTACKSIZE advice and a traceback of that goroutine, and no SIGSEGV.
 * "Before any byte past the stack is written": the functions record in
 * memory shared with the parent the lowest byte they wrote and whether
 * the overflowing body ran at all; the parent compares that with the
 * bounds the report prints.
 */
#include "split.h"

#include <limits.h>

enum { C_SMALL, C_LARGE, C_VLA, C_LIBC, NCASES };
static const char *const case_fn[NCASES] = {"small_rec", "large_frame", "vla_frame", "libc_rec"};

#define BIG (320 * 1024) /* larger than either stack */

struct shared {
    uintptr_t lowest;    /* lowest byte a body wrote */
    int body_ran;        /* large_frame/vla_frame got past their prologue/allocation */
    uint64_t goid;       /* the overflowing goroutine */
};
static struct shared *sh;
static volatile long vla_size = BIG;
static volatile long never_stop = -1; /* the recursions end only by overflow */

static inline void wrote(volatile char *p)
{
    if ((uintptr_t)p < sh->lowest)
        sh->lowest = (uintptr_t)p;
}

/* Not static: the report names them as written (no .isra clones). */
long small_rec(long n);
long large_frame(long n);
long vla_frame(long n);
long libc_rec(long n);

__attribute__((noinline)) long small_rec(long n)
{
    volatile char b[32];
    b[0] = (char)n;
    wrote(b);
    if (n == never_stop)
        return 0;
    return small_rec(n + 1) + b[0];
}

/* The frame is written from the top down at once: run past the stack, the
 * writes would reach the guard page (a SIGSEGV) or, on a slab stack, the
 * red zone and the neighbour below, before anything else. */
__attribute__((noinline)) long large_frame(long n)
{
    volatile char b[BIG];
    sh->body_ran = 1;
    for (long i = BIG - 1; i >= 0; i--)
        b[i] = (char)i;
    wrote(b);
    return b[n];
}

__attribute__((noinline)) long vla_frame(long n)
{
    volatile char b[n];
    sh->body_ran = 1; /* past the allocation */
    for (long i = n - 1; i >= 0; i--)
        b[i] = (char)i;
    wrote(b);
    return b[0];
}

__attribute__((noinline)) long libc_rec(long n)
{
    char b[64];
    snprintf(b, sizeof b, "%ld", n);
    wrote(b);
    __asm__ volatile("" : : "r"(b) : "memory");
    if (n == never_stop)
        return 0;
    return libc_rec(n + 1) + b[0];
}

static void overflow(void *arg)
{
    sh->goid = gort_self();
    switch ((int)(intptr_t)arg) {
    case C_SMALL: small_rec(0); break;
    case C_LARGE: large_frame(3); break;
    case C_VLA: vla_frame(vla_size); break;
    default: libc_rec(0); break;
    }
    fprintf(stderr, "survived a stack overflow?\n");
}

static gort_chan *never;

static void in_goroutine(void *arg)
{
    never = gort_chan_make(0, 0);
    gort_go(overflow, arg);
    gort_chan_recv(never, NULL);
}

struct run { int c; bool slab; };

static void child(void *p)
{
    const struct run *r = p;
    if (r->slab) {
        setenv("GORTDEBUG", "guardedstacks=0", 1);
        setenv("GORTSTACKSIZE", "64K", 1);
        exit(gort_main(in_goroutine, (void *)(intptr_t)r->c));
    }
    unsetenv("GORTSTACKSIZE");
    exit(gort_main(overflow, (void *)(intptr_t)r->c));
}

#if defined(__SANITIZE_ADDRESS__) || defined(GORT_TEST_SANITIZED)
static const bool sanitized = true;
#else
static const bool sanitized = false;
#endif

static const char *after(const char *buf, const char *needle)
{
    const char *p = strstr(buf, needle);
    return p ? p + strlen(needle) : NULL;
}

static void check_case(int c, bool slab)
{
    static char buf[65536];
    sh->lowest = UINTPTR_MAX;
    sh->body_ran = 0;
    sh->goid = 0;
    struct run r = {c, slab};
    int st = capture_child(child, &r, buf, sizeof buf);
    const char *fn = case_fn[c];
    size_t kib = slab ? 64 : 256;
    printf("--- %s, %s: status %#x, lowest write %#lx\n%.600s\n", fn, slab ? "slab 64K" : "guarded 256K",
           st, (unsigned long)sh->lowest, buf);
    bool ok = false;
    do {
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 2 || strstr(buf, "SIGSEGV") || strstr(buf, "SIGBUS") ||
            strstr(buf, "survived"))
            break;
        static const char head[] = "gort: fatal error: stack overflow\n[stack check: ";
        if (strncmp(buf, head, strlen(head)) != 0)
            break;
        /* The function, then what did not fit. */
        const char *p = buf + strlen(head);
        if (strncmp(p, fn, strlen(fn)) != 0 || p[strlen(fn)] != ' ')
            break;
        p += strlen(fn) + 1;
        unsigned long need = 0, room = 0;
        long left = 0;
        int k = -1;
        /* Sanitizers: instrumented functions call the sanitizer's runtime,
         * which has no checks, so the linker sends their prologues to
         * __morestack_non_split, and the overflow is reported in its
         * words. */
        if (c == C_LIBC || (sanitized && (c == C_SMALL || c == C_LARGE)))
            sscanf(p, "(frame %lu bytes) calls code without stack checks, which needs %lu more, with %ld bytes "
                      "of stack left]%n", &need, &room, &left, &k);
        if (k >= 0)
            ;
        else if (c == C_VLA && strncmp(p, "allocates", 9) == 0)
            sscanf(p, "allocates %lu bytes on the stack (VLA or alloca), with %ld bytes of stack left]%n", &need,
                   &left, &k);
        else if (c != C_LIBC)
            sscanf(p, "needs a %lu-byte frame, with %ld bytes of stack left]%n", &need, &left, &k);
        if (k < 0) {
            fprintf(stderr, "the check's line is not as expected\n");
            break;
        }
        left -= 4096; /* the report counts from stack_lo; the bounds below from the guard */
        char want[128];
        snprintf(want, sizeof want, "\ngoroutine %llu exceeded its %zu KiB stack (sp=",
                 (unsigned long long)sh->goid, kib);
        const char *q = after(buf, want);
        unsigned long sp = 0, lo = 0, hi = 0, advice = 0;
        k = -1;
        if (!q || (sscanf(q, "%lx, stack=[%lx, %lx)); raise the limit with GORTSTACKSIZE=%luK\n%n", &sp, &lo, &hi,
                          &advice, &k),
                   k < 0)) {
            fprintf(stderr, "no '%s...' line as expected\n", want);
            break;
        }
        if (advice != 2 * kib || hi - lo < kib * 1024 || sp <= lo || sp >= hi ||
            left != (long)(sp - lo) - 4096) {
            fprintf(stderr, "bounds: advice %lu sp %#lx [%#lx, %#lx) left %ld\n", advice, sp, lo, hi, left);
            break;
        }
        /* The traceback: the overflowing goroutine, from the function. */
        snprintf(want, sizeof want, "\ngoroutine %llu [running]:\n", (unsigned long long)sh->goid);
        q = after(buf, want);
        if (!q || !strstr(q, fn) || !strstr(q, "goroutine function: overflow")) {
            fprintf(stderr, "no traceback of goroutine %llu from %s\n", (unsigned long long)sh->goid, fn);
            break;
        }
        /* Nothing written below what the contract allows. */
        switch (c) {
        case C_SMALL:
            if (sanitized && room)
                goto libc; /* the non_split form: room for libc at each level */
            /* Each frame fits the 256 bytes a small frame may use below
             * the guard: the deepest body wrote at or above that. */
            if (need >= 256 || sh->lowest == UINTPTR_MAX || sh->lowest < lo + 4096 - 256 || sh->lowest <= sp ||
                sp >= lo + 4096) {
                fprintf(stderr, "small: need %lu lowest %#lx sp %#lx lo %#lx\n", need, (unsigned long)sh->lowest,
                        sp, lo);
                goto out;
            }
            break;
        case C_LARGE:
        case C_VLA:
            /* The frame would have ended below the stack; its body never
             * ran (and wrote nothing). */
            if (need + 512 < BIG || need > BIG + 4096 || sp - need >= lo || sh->body_ran) {
                fprintf(stderr, "big: need %lu sp %#lx lo %#lx ran %d\n", need, sp, lo, sh->body_ran);
                goto out;
            }
            break;
        default:
        libc:
            /* The room for libc is a sixteenth of the stack (1-16 KiB);
             * the level that lacked it was stopped, none above was. */
            if (room != kib * 1024 / 16 || need >= 256 || left < 0 || (unsigned long)left >= need + room ||
                sh->lowest <= sp || sh->lowest < lo + 4096 + room) {
                fprintf(stderr, "libc: need %lu room %lu left %ld lowest %#lx\n", need, room, left,
                        (unsigned long)sh->lowest);
                goto out;
            }
        }
        ok = true;
    } while (0);
out:
    if (!ok)
        fprintf(stderr, "%s (%s): status %#x; stderr:\n%s\n", fn, slab ? "slab" : "guarded", st, buf);
    CHECK(ok, "%s: overflow not reported as the prologue check's", fn);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (sanitized)
        printf("sanitizer build: functions call the sanitizer's runtime, so their checks are "
               "__morestack_non_split's, and the report is accepted in its words\n");
    sh = split_shared(sizeof *sh);
    for (int c = 0; c < NCASES; c++) {
        check_case(c, false);
        check_case(c, true);
    }
    return 0;
}
