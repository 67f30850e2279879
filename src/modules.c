/*
 * modules.c — which code is preemptible: the registry of preemptible
 * modules (the main executable, and shared objects that include gort.h
 * and register from a constructor) with their GORT_NOSPLIT ranges, and
 * gort__pc_code, which classifies an address for the preemption handler
 * (preempt.c): preemptible, the runtime's own, nosplit, or foreign.
 *
 * Registry invariants: a fixed static table (it must work from
 * constructors, before the runtime or malloc can be relied on).  Writers
 * (gort_register_module, init) serialise on a spinlock; the signal handler
 * reads lock-free: an entry is filled completely before the module count
 * is published with a release store, and a nosplit range is filled before
 * its count is; entries are never removed or changed otherwise.
 * dlclose of a registered module leaves a stale entry (documented limit).
 *
 * Rejected: reading DWARF or symbol tables in the handler (not
 * async-signal-safe, and too slow); a mutex (the handler must not block).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <link.h>
#include <string.h>

/* ---------------------------------------------------------------------
 * The registry of preemptible code.
 * ------------------------------------------------------------------- */

#define MAX_MODULES 128
#define MAX_SEGS 8     /* executable PT_LOAD segments per module */
#define MAX_NOSPLIT 8  /* nosplit ranges per module (normally one) */

typedef struct { uintptr_t lo, hi; } range;

typedef struct module {
    uintptr_t key;              /* dlpi_addr + first executable vaddr: identity */
    int nseg;
    range seg[MAX_SEGS];
    _Atomic int nnosplit;       /* published after nosplit[i] is filled */
    range nosplit[MAX_NOSPLIT];
} module;

static module modules[MAX_MODULES];
static _Atomic int nmodules;          /* published after modules[i] is filled */
static atomic_flag reglock = ATOMIC_FLAG_INIT;
static _Atomic bool reg_overflow_warned;

/* The runtime's own code when it is a shared object (never registered,
 * only recorded so the diagnostic can say "inside the gort runtime"). */
static range rt_seg[MAX_SEGS];
static _Atomic int rt_nseg;

/* The runtime's code inside the executable (static link): the Makefile
 * renames the runtime's .text to gort_text.  Weak: in a link without that
 * section (or in libgort.so, where these are libgort.so's own bounds) they
 * still resolve. */
extern char __start_gort_text[] __attribute__((weak, visibility("hidden")));
extern char __stop_gort_text[] __attribute__((weak, visibility("hidden")));

static void reg_lock(void)
{
    while (atomic_flag_test_and_set_explicit(&reglock, memory_order_acquire))
        __builtin_ia32_pause();
}

static void reg_unlock(void) { atomic_flag_clear_explicit(&reglock, memory_order_release); }

static inline bool in_ranges(const range *r, int n, uintptr_t pc)
{
    for (int i = 0; i < n; i++)
        if (pc >= r[i].lo && pc < r[i].hi)
            return true;
    return false;
}

/* What dl_iterate_phdr found for one address. */
typedef struct {
    uintptr_t addr;  /* address to look for; 0 = the main executable */
    int index;       /* callback counter: index 0 is the main program */
    bool found, is_main;
    uintptr_t key;
    int nseg;
    range seg[MAX_SEGS];
} find_ctx;

static int find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    find_ctx *c = arg;
    int idx = c->index++;
    range seg[MAX_SEGS];
    int n = 0;
    bool hit = false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (c->addr && c->addr >= lo && c->addr < hi)
            hit = true;
        if ((ph->p_flags & PF_X) && n < MAX_SEGS)
            seg[n++] = (range){lo, hi};
    }
    if (c->addr == 0 ? idx != 0 : !hit)
        return 0;
    c->found = true;
    c->is_main = idx == 0;
    c->nseg = n;
    memcpy(c->seg, seg, sizeof seg);
    c->key = n ? seg[0].lo : info->dlpi_addr;
    return 1;
}

static bool find_module(uintptr_t addr, find_ctx *c)
{
    memset(c, 0, sizeof *c);
    c->addr = addr;
    dl_iterate_phdr(find_cb, c);
    return c->found;
}

/* Add (or extend) the registry entry for the module described by c.
 * Caller holds reglock. */
static void add_module_locked(const find_ctx *c, uintptr_t nlo, uintptr_t nhi)
{
    int n = atomic_load_explicit(&nmodules, memory_order_relaxed);
    module *md = NULL;
    for (int i = 0; i < n; i++)
        if (modules[i].key == c->key)
            md = &modules[i];
    if (!md) {
        if (n == MAX_MODULES) {
            if (!atomic_exchange(&reg_overflow_warned, true))
                gort__print("gort: warning: more than %d modules registered; "
                            "the rest are not preemptible\n", MAX_MODULES);
            return;
        }
        md = &modules[n];
        md->key = c->key;
        md->nseg = c->nseg;
        memcpy(md->seg, c->seg, sizeof md->seg);
        atomic_store_explicit(&md->nnosplit, 0, memory_order_relaxed);
        if (nlo < nhi) {
            md->nosplit[0] = (range){nlo, nhi};
            atomic_store_explicit(&md->nnosplit, 1, memory_order_relaxed);
        }
        atomic_store_explicit(&nmodules, n + 1, memory_order_release);
        return;
    }
    if (nlo >= nhi)
        return;
    int k = atomic_load_explicit(&md->nnosplit, memory_order_relaxed);
    for (int i = 0; i < k; i++)
        if (md->nosplit[i].lo == nlo && md->nosplit[i].hi == nhi)
            return; /* every translation unit of a module registers the same range */
    if (k == MAX_NOSPLIT) {
        gort__print("gort: warning: too many GORT_NOSPLIT ranges in one module\n");
        return;
    }
    md->nosplit[k] = (range){nlo, nhi};
    atomic_store_explicit(&md->nnosplit, k + 1, memory_order_release);
}

static bool is_runtime_module(const find_ctx *c)
{
    return in_ranges(c->seg, c->nseg, (uintptr_t)&gort__asyncpreempt);
}

void gort_register_module(const void *addr_in_module, const void *nosplit_lo,
                          const void *nosplit_hi)
{
    find_ctx c;
    if (!addr_in_module || !find_module((uintptr_t)addr_in_module, &c))
        return;
    /* libgort.so itself is never preemptible code.  When the runtime is
     * linked into the executable, the executable is registered as usual
     * and the runtime's part is excluded by the gort_text bounds. */
    if (is_runtime_module(&c) && !c.is_main)
        return;
    reg_lock();
    add_module_locked(&c, (uintptr_t)nosplit_lo, (uintptr_t)nosplit_hi);
    reg_unlock();
}

void gort__preempt_init(void)
{
    find_ctx c;
    /* The main executable is preemptible even if no file of it includes
     * gort.h (its constructor, if any, adds its nosplit range). */
    if (find_module(0, &c)) {
        reg_lock();
        add_module_locked(&c, 0, 0);
        reg_unlock();
    }
    if (find_module((uintptr_t)&gort__asyncpreempt, &c) && !c.is_main) {
        memcpy(rt_seg, c.seg, sizeof rt_seg);
        atomic_store_explicit(&rt_nseg, c.nseg, memory_order_release);
    }
}

/* ---------------------------------------------------------------------
 * The safe-point check.  Called from the signal handler: no locks, no
 * allocation, nothing but loads.
 * ------------------------------------------------------------------- */

/* Is pc on an instruction of a PLT stub (a call's trampoline into another
 * object, normally libc)?  Such stubs sit in the calling object's text,
 * which is registered, but stopping there is stopping inside the call to
 * the foreign function.  The stubs have fixed shapes; recognised from the
 * code bytes (the text is mapped readable):
 *   ff 25 rel32          jmp *GOT(%rip)             (.plt, .plt.got)
 *   f2 ff 25 rel32       bnd jmp *GOT(%rip)         (.plt.sec, MPX/IBT)
 *   f3 0f 1e fa          endbr64, before either     (.plt.sec)
 *   68 imm32 / e9 rel32  push index; jmp PLT0       (lazy .plt tail)
 *   ff 35 rel32          push GOT+8                 (PLT0)
 * An ordinary function starting with `jmp *x(%rip)` (a hand-written
 * tail call through a pointer) is also refused: only a delay. */
static bool in_plt_stub(uintptr_t pc, range seg)
{
    /* Every byte read stays inside the mapped segment. */
    if (pc + 10 > seg.hi || pc < seg.lo + 5)
        return false;
    const unsigned char *c = (const unsigned char *)pc;
    if (c[0] == 0xf3 && c[1] == 0x0f && c[2] == 0x1e && c[3] == 0xfa)
        c += 4;
    if (c[0] == 0xf2)
        c++;
    if (c[0] == 0xff && (c[1] == 0x25 || c[1] == 0x35))
        return true;
    if (c[0] == 0x68 && c[5] == 0xe9)
        return true;
    /* The jmp after a lazy stub's push: preceded by 68 imm32. */
    return c[0] == 0xe9 && ((const unsigned char *)pc)[-5] == 0x68;
}

int gort__pc_code(uintptr_t pc)
{
    if (pc >= (uintptr_t)__start_gort_text && pc < (uintptr_t)__stop_gort_text)
        return GORT_PR_RUNTIME;
    int nrt = atomic_load_explicit(&rt_nseg, memory_order_acquire);
    if (in_ranges(rt_seg, nrt, pc))
        return GORT_PR_RUNTIME;
    int n = atomic_load_explicit(&nmodules, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        const module *md = &modules[i];
        for (int j = 0; j < md->nseg; j++) {
            if (pc < md->seg[j].lo || pc >= md->seg[j].hi)
                continue;
            int k = atomic_load_explicit(&md->nnosplit, memory_order_acquire);
            if (in_ranges(md->nosplit, k, pc))
                return GORT_PR_NOSPLIT;
            return in_plt_stub(pc, md->seg[j]) ? GORT_PR_FOREIGN : GORT_PR_SAFE;
        }
    }
    return GORT_PR_FOREIGN;
}

/* Is pc inside a GORT_NOSPLIT function of a registered module?  Cheaper
 * than gort__pc_code when only that matters (most modules have none). */
bool gort__pc_in_nosplit(uintptr_t pc)
{
    int n = atomic_load_explicit(&nmodules, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        const module *md = &modules[i];
        int k = atomic_load_explicit(&md->nnosplit, memory_order_acquire);
        if (k && in_ranges(md->nosplit, k, pc))
            return true;
    }
    return false;
}
