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
 * The table of code segments of all loaded objects is built with
 * dl_iterate_phdr at init and rebuilt (by sysmon) when the loader's add/sub
 * counters change.  Two tables, one published pointer: the handler reads
 * lock-free and never sees a half-written table.  Rejected: parsing
 * /proc/self/maps in the handler (not async-signal-safe), unwinding with
 * CFI (libgcc's unwinder takes locks and allocates).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <link.h>

#define MAX_CODESEGS 512
#define MAX_WALK 4096

typedef struct codemap {
    int n;
    uintptr_t lo[MAX_CODESEGS], hi[MAX_CODESEGS];
    unsigned long long adds, subs; /* loader counters when built */
} codemap;

static codemap maps[2];
static codemap *_Atomic current;
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

void gort__codemap_refresh(void)
{
    unsigned long long c[2] = {0, 0};
    codemap *cur = atomic_load(&current);
    dl_iterate_phdr(counters_cb, c);
    if (cur && cur->adds == c[0] && cur->subs == c[1])
        return;
    gort__lock_raw(&refresh_lock);
    codemap *next = cur == &maps[0] ? &maps[1] : &maps[0];
    next->n = 0;
    dl_iterate_phdr(collect_cb, next);
    atomic_store_explicit(&current, next, memory_order_release);
    gort__unlock_raw(&refresh_lock);
}

static bool in_foreign_code(const codemap *cm, uintptr_t a)
{
    for (int i = 0; i < cm->n; i++)
        if (a >= cm->lo[i] && a < cm->hi[i])
            return gort__pc_code(a) == GORT_PR_FOREIGN;
    return false;
}

/* Called from the signal handler once pc itself is known to be safe.
 * Reads raw stack words (saved frame pointers, redzones included), like
 * any unwinder: not instrumented by ASan. */
__attribute__((no_sanitize_address)) bool gort__foreign_caller(uintptr_t sp, uintptr_t fp, G *g)
{
    const codemap *cm = atomic_load_explicit(&current, memory_order_acquire);
    if (!cm)
        return false;
    uintptr_t lo = g->stack_lo, hi = g->stack_hi;
    if (sp >= lo && sp + 8 <= hi && in_foreign_code(cm, *(const uintptr_t *)sp))
        return true;
    uintptr_t prev = sp;
    for (int depth = 0; depth < MAX_WALK; depth++) {
        if (fp < prev || fp < lo || fp + 16 > hi || (fp & 7))
            return false; /* end of the chain, or not a frame pointer */
        uintptr_t ret = ((const uintptr_t *)fp)[1];
        if (in_foreign_code(cm, ret))
            return true;
        prev = fp + 16;
        fp = ((const uintptr_t *)fp)[0];
    }
    return false;
}
