/*
 * sanitizer_linux.c — where a sanitizer's runtime (ASan, LSan, TSan,
 * UBSan, HWASan) keeps its code, so that gort treats that code as it
 * treats libc: never preempted (modules.c classifies it foreign), and,
 * while an ASan report is printed, its libc calls not bracketed: the P is
 * held across them (syscall.c sanitizer_own_call).
 *
 * Why.  A sanitizer is a second runtime in the process, with locks of its
 * own that gort cannot see.  Its reports run on the faulting goroutine and
 * hold them while they read the program's debug information through plain
 * open/read calls, which resolve to gort's wrappers.  With a bracket, the
 * goroutine could lose its P during such a call (sysmon's retake) and park
 * on the way out; the thread sysmon then created for the P blocked in the
 * sanitizer's pthread_create and prctl interceptors on the lock the parked
 * report held (ASan's thread registry), and the P never came back: the
 * report stopped after its first line, for ever (test_crash's "ASan
 * report, goroutines waiting").  Where the runtime is linked into the
 * executable (clang's default) its code also looked like the program's,
 * and a preemption signal parked the report in the middle of it.
 *
 * Where the code is.
 *  - Shared runtimes (gcc's default: libasan.so.8 and its siblings): found
 *    by file name among the loaded objects; their executable segments.
 *  - A runtime linked into a module (clang's default, gcc's
 *    -static-libasan): every sanitizer runtime defines
 *    __sanitizer_set_report_path; if the module holding it is not one of
 *    the above, that module's functions in address order (its symbol
 *    table), and the run around that one of functions named as the
 *    runtimes name theirs (__asan_*, __interceptor_*, the C++ namespaces
 *    __sanitizer, __asan, ...).  Functions internal to the module (static
 *    or hidden), aliases, C++ specials, the replaced operators new and
 *    delete and the hooks a program may define (__asan_default_options...)
 *    may lie in between but never begin or end the run; any other function
 *    ends it.  The linker lays an archive's members out in one piece, so
 *    the run is the runtime: measured from the program's startup code to
 *    main with clang and gcc, PIE or not, libgort.a or libgort.so.  A run
 *    that holds gort's own code or main is not trusted, and none is used
 *    (the runtime's code is then the program's, as before); so too in a
 *    stripped executable, whose dynamic symbols do not name the runtime.
 *
 * Invariants: the ranges are found once, in schedinit, before any
 * goroutine runs (a sanitizer's runtime is loaded before the program: it
 * must be first in the link map), and only read afterwards, also from
 * signal handlers.
 *
 * Rejected (docs/DESIGN.md, "Finding the calls: libc wrappers"): asking
 * only whether a report is in progress (preemption inside the runtime's
 * allocator or interceptors is as wrong outside reports); exitsyscall
 * taking back a P handed to an M still being created.
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <link.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RANGES 8

static struct {
    uintptr_t lo, hi;
} ranges[MAX_RANGES];
static int nranges;

static void add_range(uintptr_t lo, uintptr_t hi)
{
    if (nranges < MAX_RANGES && lo < hi) {
        ranges[nranges].lo = lo;
        ranges[nranges].hi = hi;
        nranges++;
    }
}

static bool prefixed(const char *s, const char *const *prefixes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

static int add_shared(struct dl_phdr_info *info, size_t size, void *data)
{
    static const char *const files[] = {"libasan.so", "liblsan.so", "libtsan.so", "libubsan.so",
                                        "libhwasan.so", "libclang_rt."};
    (void)size;
    (void)data;
    if (!info->dlpi_name)
        return 0;
    const char *base = strrchr(info->dlpi_name, '/');
    base = base ? base + 1 : info->dlpi_name;
    if (!prefixed(base, files, sizeof files / sizeof files[0]))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X))
            add_range(info->dlpi_addr + ph->p_vaddr, info->dlpi_addr + ph->p_vaddr + ph->p_memsz);
    }
    return 0;
}

/* The runtimes' names: C entry points and interceptors, and C++ functions
 * in their namespaces (mangled _ZN / _ZNK + length + namespace). */
static bool sanitizer_symbol(const char *name)
{
    static const char *const c_names[] = {"__asan_",      "__lsan_",   "__ubsan_", "__tsan_",
                                          "__hwasan_",    "__msan_",   "__sanitizer_",
                                          "__interceptor_", "__sancov_"};
    static const char *const spaces[] = {"11__sanitizer", "6__asan",  "6__lsan",
                                         "7__ubsan",      "6__tsan",  "8__hwasan",
                                         "6__msan",       "8__sancov", "14__interception"};
    if (prefixed(name, c_names, sizeof c_names / sizeof c_names[0]))
        return true;
    /* A C++ function outside their namespaces taking one of their types
     * (_Z19ubsan_GetStackTracePN11__sanitizer18BufferedStackTrace...). */
    if (strncmp(name, "_Z", 2) == 0 && name[2] >= '1' && name[2] <= '9' &&
        strstr(name, "N11__sanitizer"))
        return true;
    if (strncmp(name, "_ZN", 3) != 0)
        return false;
    name += name[3] == 'K' ? 4 : 3;
    return prefixed(name, spaces, sizeof spaces / sizeof spaces[0]);
}

/* A function symbol of the module holding the runtime, by kind. */
enum { SYM_SAN, SYM_NEUTRAL, SYM_OTHER };
typedef struct {
    uintptr_t lo, hi;
    int kind;
} fsym;

typedef struct {
    fsym *v;
    size_t n, cap;
    bool oom;
    uintptr_t main_fn; /* the program's main, if this module has it */
} fsyms;

/* Hooks the program may define to configure or observe a runtime
 * (sanitizer/common_interface_defs.h and the others): the program's code
 * when it does, so such a name never makes a run longer; nor does it end
 * one (the runtime's own weak default sits inside it otherwise). */
static bool hook_symbol(const char *name)
{
    static const char *const hooks[] = {"__sanitizer_malloc_hook", "__sanitizer_free_hook",
                                        "__sanitizer_report_error_summary",
                                        "__sanitizer_on_print", "__sanitizer_symbolize_",
                                        "__sanitizer_weak_hook_", "__sanitizer_cov_",
                                        "__asan_on_error", "__tsan_on_report",
                                        "__lsan_is_turned_off"};
    size_t n = strlen(name);
    return prefixed(name, hooks, sizeof hooks / sizeof hooks[0]) ||
           (n > 16 && strcmp(name + n - 16, "_default_options") == 0) ||
           (n > 21 && strcmp(name + n - 21, "_default_suppressions") == 0);
}

static void collect(const char *name, uintptr_t lo, uintptr_t hi, bool internal, void *arg)
{
    fsyms *fs = arg;
    if (strcmp(name, "main") == 0)
        fs->main_fn = lo;
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? 2 * fs->cap : 4096;
        fsym *v = realloc(fs->v, cap * sizeof *v);
        if (!v) {
            fs->oom = true;
            return;
        }
        fs->v = v;
        fs->cap = cap;
    }
    /* Functions internal to the module (static, or hidden: a non-PIE
     * link keeps the runtime's hidden helpers global), C++ functions with
     * internal linkage or local to a function (_ZZ: lambdas), thread-local
     * wrappers (_ZTW, _ZTH), the operators new and delete (ASan replaces
     * them) and the hooks above sit among the runtimes' named ones: they
     * neither break a run nor begin or end one. */
    static const char *const neutral[] = {"_ZL",  "_ZN12_GLOBAL__N_1", "_ZZ",  "_ZTW", "_ZTH",
                                          "_Znw", "_Zna",              "_Zdl", "_Zda"};
    int kind = hook_symbol(name)        ? SYM_NEUTRAL
               : sanitizer_symbol(name) ? SYM_SAN
               : internal || prefixed(name, neutral, sizeof neutral / sizeof neutral[0])
                   ? SYM_NEUTRAL
                   : SYM_OTHER;
    fs->v[fs->n++] = (fsym){lo, hi, kind};
}

static int by_address(const void *a, const void *b)
{
    const fsym *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return x->kind - y->kind; /* the runtime's name first among aliases */
}

/* The span of the runtime linked into the module holding `entry`: the run
 * of its functions around `entry`, in address order, that no other
 * function interrupts (an interceptor's plain alias, at the address of
 * its __interceptor_ name, does not).  A run holding main or gort's own
 * code is not trusted. */
static void add_linked(uintptr_t entry)
{
    fsyms fs = {0};
    if (!gort__symtab_each_func(entry, collect, &fs) || fs.oom || fs.n == 0) {
        free(fs.v);
        return;
    }
    qsort(fs.v, fs.n, sizeof *fs.v, by_address);
    /* Aliases of the runtime's functions (sorted after them) are its. */
    for (size_t i = 1; i < fs.n; i++)
        if (fs.v[i].kind == SYM_OTHER && fs.v[i].lo == fs.v[i - 1].lo &&
            fs.v[i - 1].kind != SYM_OTHER)
            fs.v[i].kind = fs.v[i - 1].kind;
    size_t at = fs.n;
    for (size_t i = 0; i < fs.n; i++)
        if (fs.v[i].kind == SYM_SAN && fs.v[i].lo <= entry && entry < fs.v[i].hi)
            at = i;
    uintptr_t lo = 0, hi = 0;
    if (at < fs.n) {
        size_t first = at, last = at;
        for (size_t i = at; i > 0 && fs.v[i - 1].kind != SYM_OTHER; i--)
            if (fs.v[i - 1].kind == SYM_SAN)
                first = i - 1;
        for (size_t i = at; i + 1 < fs.n && fs.v[i + 1].kind != SYM_OTHER; i++)
            if (fs.v[i + 1].kind == SYM_SAN)
                last = i + 1;
        lo = fs.v[first].lo;
        for (size_t i = first; i <= last; i++)
            if (fs.v[i].hi > hi)
                hi = fs.v[i].hi;
    }
    uintptr_t self = (uintptr_t)gort__sanitizer_init, main_fn = fs.main_fn;
    free(fs.v);
    if (lo >= hi || (self >= lo && self < hi) || (main_fn >= lo && main_fn < hi))
        return;
    add_range(lo, hi);
}

extern void __sanitizer_set_report_path(const char *path) __attribute__((weak));

void gort__sanitizer_init(void)
{
    dl_iterate_phdr(add_shared, NULL);
    uintptr_t entry = (uintptr_t)&__sanitizer_set_report_path;
    if (entry && !gort__pc_in_sanitizer(entry))
        add_linked(entry);
}

bool gort__pc_in_sanitizer(uintptr_t pc)
{
    for (int i = 0; i < nranges; i++)
        if (pc >= ranges[i].lo && pc < ranges[i].hi)
            return true;
    return false;
}
