/*
 * preempt_frames.c — is the interrupted goroutine running a callback from
 * code that must not move between threads?
 *
 * The pc test (preempt.c) keeps preemption out of libc and other
 * unregistered objects.  That is not enough when user code is *called by*
 * such an object: a comparator under qsort (which sanitizers intercept
 * through a thread-local), a fopencookie write function under its FILE's
 * recursive lock (owned by the thread), a dl_iterate_phdr callback under
 * the loader lock.  Stopping the goroutine there and resuming it on another
 * thread would hand that thread-bound state to the wrong thread.  Go has
 * the same rule for cgo callbacks, which stay on their thread.
 *
 * So the handler also walks the frame-pointer chain of the goroutine's
 * stack: if any return address (or the word at rsp, which is the return
 * address during a function's first instructions, before it sets up its
 * frame) lies in the executable code of a loaded object that is neither
 * registered nor gort, the goroutine is not at a safe point.  Only
 * addresses inside real code segments count: in code built without frame
 * pointers rbp holds arbitrary data, and treating every unknown word as
 * "foreign" would make such goroutines unpreemptible.  The walk stays on
 * the goroutine's stack and follows strictly increasing frame pointers, so
 * garbage cannot make it fault or loop.
 *
 * Which words are looked at: the word at rsp (a function's first
 * instruction, before `push %rbp`, and its `ret`), the word above it when
 * the word at rsp equals rbp (just after `push %rbp`, before
 * `mov %rsp,%rbp`: the return address is one word up, and rbp is still the
 * caller's, garbage in libc), and the frame-pointer chain (everywhere
 * else, from the first instruction after `mov %rsp,%rbp`).  A callback
 * compiled without frame pointers, or whose prologue saves other
 * registers before rbp, is not covered past its first instruction
 * (DESIGN.md, "Callbacks").
 *
 * The table of code segments of all loaded objects is built with
 * dl_iterate_phdr at init, rebuilt by the dlopen/dlclose wrappers
 * (interpose_dl.c) before they return, and by sysmon when the loader's
 * add/sub counters change behind them.  One table under a sequence
 * count; the handler reads it lock-free and refuses if a rewrite overlapped
 * its read.  Rejected: parsing /proc/self/maps in the handler (not
 * async-signal-safe), unwinding with CFI (libgcc's unwinder takes locks
 * and allocates), two tables flipped by a pointer (a handler slow to read
 * the old one could see it rewritten by the second refresh after).
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "valgrind_hooks.h"

#include <link.h>

#define MAX_CODESEGS 512
#define MAX_WALK 4096

/* One table, rewritten in place under a sequence count: odd while a
 * writer is at work.  The handler reads it lock-free and, if the count
 * was odd or changed under it, answers "foreign caller" (not a safe
 * point: only a delay).  Writers: the dlopen/dlclose wrappers
 * (interpose_dl.c), before those return, and sysmon's periodic check of
 * the loader's counters (objects loaded or unloaded behind the wrappers'
 * back: by libc itself, or through an unexported dlopen in a static
 * link); they serialise on refresh_lock. */
typedef struct codemap {
    int n;
    uintptr_t lo[MAX_CODESEGS], hi[MAX_CODESEGS];
    unsigned long long adds, subs; /* loader counters when built */
} codemap;

static codemap map;
static _Atomic uint32_t map_seq;
static _Atomic bool map_built;
static gort__mutex refresh_lock;

static int collect_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    codemap *cm = arg;
    (void)size;
    cm->adds = info->dlpi_adds;
    cm->subs = info->dlpi_subs;
    for (int i = 0; i < info->dlpi_phnum && cm->n < MAX_CODESEGS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        cm->lo[cm->n] = info->dlpi_addr + ph->p_vaddr;
        cm->hi[cm->n] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        cm->n++;
    }
    return 0;
}

static int counters_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    unsigned long long *c = arg;
    c[0] = info->dlpi_adds;
    c[1] = info->dlpi_subs;
    return 1; /* the counters are the same in every entry */
}

static void refresh(bool force)
{
    /* A fork's child runs no preemption, and refresh_lock may have been
     * held by a thread the fork did not copy (fork_linux.c). */
    if (gort__in_forked_child())
        return;
    unsigned long long c[2] = {0, 0};
    dl_iterate_phdr(counters_cb, c);
    gort__lock_raw(&refresh_lock);
    bool stale = !atomic_load_explicit(&map_built, memory_order_relaxed) ||
                 map.adds != c[0] || map.subs != c[1];
    if (stale || force) {
        uint32_t sq = atomic_load_explicit(&map_seq, memory_order_relaxed);
        atomic_store_explicit(&map_seq, sq + 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
        map.n = 0;
        dl_iterate_phdr(collect_cb, &map);
        atomic_store_explicit(&map_seq, sq + 2, memory_order_release);
        atomic_store_explicit(&map_built, true, memory_order_release);
    }
    gort__unlock_raw(&refresh_lock);
    /* Registered modules unloaded by a dlclose no wrapper saw. */
    if (stale && c[1] != 0)
        gort__modules_revalidate();
}

void gort__codemap_refresh(void) { refresh(false); }
void gort__codemap_reload(void) { refresh(true); }

static bool in_foreign_code(const codemap *cm, int n, uintptr_t a)
{
    for (int i = 0; i < n; i++)
        if (a >= cm->lo[i] && a < cm->hi[i])
            return gort__pc_code(a) == GORT_PR_FOREIGN;
    return false;
}

/* The walk proper; true if a foreign return address is found. */
__attribute__((no_sanitize_address)) static bool walk(const codemap *cm, int n, uintptr_t sp,
                                                      uintptr_t fp, G *g)
{
    uintptr_t lo = g->stack_lo, hi = g->stack_hi;
    if (sp >= lo && sp <= hi - 16) { /* not sp + 16: it may wrap */
        const uintptr_t *w = (const uintptr_t *)sp;
        /* A function's first instruction (and its last, the ret): the
         * return address is the word at rsp. */
        if (in_foreign_code(cm, n, w[0]))
            return true;
        /* Just after `push %rbp`, before `mov %rsp,%rbp`: the word at rsp
         * is the caller's rbp, still in rbp, and the return address is
         * the next word; rbp is the foreign caller's (garbage, in code
         * without frame pointers), so the chain below cannot find it.
         * Elsewhere a local equal to rbp only costs this one extra look. */
        if (w[0] == fp && in_foreign_code(cm, n, w[1]))
            return true;
    }
    uintptr_t prev = sp;
    for (int depth = 0; depth < MAX_WALK; depth++) {
        /* fp > hi - 16, not fp + 16 > hi: code without frame pointers
         * leaves anything in rbp, -8 too, and the sum would wrap. */
        if (fp < prev || fp < lo || fp > hi - 16 || (fp & 7))
            return false; /* end of the chain, or not a frame pointer */
        uintptr_t ret = ((const uintptr_t *)fp)[1];
        if (in_foreign_code(cm, n, ret))
            return true;
        /* Split-stack mode: a frame __morestack_non_split made to call a
         * function's body holds the `ret` after that function's prologue
         * call; the function's own return address, which may be into a
         * foreign caller (a comparator under qsort), is one word up. */
        if (fp <= hi - 24 && gort__prologue_return(ret) &&
            in_foreign_code(cm, n, ((const uintptr_t *)fp)[2]))
            return true;
        prev = fp + 16;
        fp = ((const uintptr_t *)fp)[0];
    }
    return false;
}

/* Called from the signal handler once pc itself is known to be safe.
 * Reads raw stack words (saved frame pointers, redzones included), like
 * any unwinder: not instrumented by ASan. */
__attribute__((no_sanitize_address)) bool gort__foreign_caller(uintptr_t sp, uintptr_t fp, G *g)
{
    if (!atomic_load_explicit(&map_built, memory_order_acquire))
        return false;
    uint32_t s1 = atomic_load_explicit(&map_seq, memory_order_acquire);
    if (s1 & 1)
        return true; /* being rewritten: not now */
    int n = map.n;
    if (n < 0 || n > MAX_CODESEGS)
        return true;
    /* Words nobody wrote are compared: see valgrind_hooks.h. */
    VALGRIND_DISABLE_ERROR_REPORTING;
    bool found = walk(&map, n, sp, fp, g);
    VALGRIND_ENABLE_ERROR_REPORTING;
    VALGRIND_MAKE_MEM_DEFINED(&found, sizeof found);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&map_seq, memory_order_relaxed) != s1)
        return true; /* rewritten under us: what we read may be torn */
    return found;
}
