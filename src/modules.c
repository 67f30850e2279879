/*
 * modules.c — which code is preemptible: the registry of preemptible
 * modules (the main executable, and shared objects that include gort.h
 * and register from a constructor) with their GORT_NOSPLIT ranges, and
 * gort__pc_code, which classifies an address for the preemption handler
 * (preempt.c): preemptible, the runtime's own, nosplit, or foreign.
 *
 * Registry invariants: a fixed static table (it must work from
 * constructors, before the runtime or malloc can be relied on).  Writers
 * (gort_register_module, init, the dlclose bracket) serialise on a
 * spinlock; the signal handler reads lock-free.  The table only grows
 * (the count is published with a release store after the entry is
 * filled); an entry's life is LIVE -> RETIRED (a dlclose is running: it
 * may unmap the module, so its code is not preemptible meanwhile) ->
 * LIVE again or DEAD (unloaded; the slot is reused by a later
 * registration).  Every change of an entry's state or contents happens
 * inside its sequence count (odd while written); a reader that sees the
 * count odd or changed ignores the entry, which can only make code look
 * foreign: not preemptible, never the reverse.  A nosplit range is filled
 * before its count is published.
 *
 * dlclose (interpose_dl.c) retires every registered module but the
 * executable before calling libc's, and afterwards gives back those still
 * loaded: a module it unloads is never LIVE while its address range may
 * already hold another object (a plain library mapped there at once by
 * another thread would otherwise be preemptible).  Several dlcloses at
 * once: the last to finish settles, from a look at the loaded objects
 * taken after every one of them returned.  sysmon's codemap check
 * (preempt_frames.c) drops entries of modules unloaded behind the
 * wrappers' back.
 *
 * Rejected: reading DWARF or symbol tables in the handler (not
 * async-signal-safe, and too slow); a mutex (the handler must not block).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <link.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------
 * The registry of preemptible code.
 * ------------------------------------------------------------------- */

#define MAX_MODULES 128
#define MAX_SEGS 8     /* executable PT_LOAD segments per module */
#define MAX_NOSPLIT 8  /* nosplit ranges per module (normally one) */

typedef struct { uintptr_t lo, hi; } range;

enum { MOD_LIVE, MOD_RETIRED, MOD_DEAD };

typedef struct module {
    _Atomic uint32_t seq;       /* odd while the entry is being changed */
    _Atomic int state;          /* MOD_*; only LIVE entries are preemptible code */
    uintptr_t key;              /* dlpi_addr + first executable vaddr: identity */
    uint64_t epoch;             /* reg_epoch at its last registration; reglock */
    int nseg;
    range seg[MAX_SEGS];
    _Atomic int nnosplit;       /* published after nosplit[i] is filled */
    range nosplit[MAX_NOSPLIT];
} module;

static module modules[MAX_MODULES];
static _Atomic int nmodules;          /* published after modules[i] is filled */
static atomic_flag reglock = ATOMIC_FLAG_INIT;
static int closing;          /* dlcloses in progress; reglock */
static uint64_t close_gen;   /* bumped by each dlclose as it ends; reglock */
static uint64_t reg_epoch;   /* bumped by each registration; reglock */
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

/* A writer's bracket around any change of an entry (reglock held). */
static void entry_begin(module *md)
{
    atomic_store_explicit(&md->seq, atomic_load_explicit(&md->seq, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void entry_end(module *md)
{
    atomic_store_explicit(&md->seq, atomic_load_explicit(&md->seq, memory_order_relaxed) + 1,
                          memory_order_release);
}

static void set_state(module *md, int st)
{
    entry_begin(md);
    atomic_store_explicit(&md->state, st, memory_order_relaxed);
    entry_end(md);
}

/* Add (or extend) the registry entry for the module described by c.
 * Caller holds reglock. */
static void add_module_locked(const find_ctx *c, uintptr_t nlo, uintptr_t nhi)
{
    int n = atomic_load_explicit(&nmodules, memory_order_relaxed);
    module *md = NULL, *dead = NULL;
    for (int i = 0; i < n; i++) {
        int st = atomic_load_explicit(&modules[i].state, memory_order_relaxed);
        if (st == MOD_DEAD) {
            if (!dead)
                dead = &modules[i];
        } else if (modules[i].key == c->key) {
            md = &modules[i];
        }
    }
    if (!md) {
        bool append = !dead;
        if (append && n == MAX_MODULES) {
            if (!atomic_exchange(&reg_overflow_warned, true))
                gort__print("gort: warning: more than %d modules registered; "
                            "the rest are not preemptible\n", MAX_MODULES);
            return;
        }
        md = append ? &modules[n] : dead;
        entry_begin(md);
        md->key = c->key;
        md->nseg = c->nseg;
        memcpy(md->seg, c->seg, sizeof md->seg);
        atomic_store_explicit(&md->nnosplit, 0, memory_order_relaxed);
        if (nlo < nhi) {
            md->nosplit[0] = (range){nlo, nhi};
            atomic_store_explicit(&md->nnosplit, 1, memory_order_relaxed);
        }
        atomic_store_explicit(&md->state, MOD_LIVE, memory_order_relaxed);
        md->epoch = ++reg_epoch;
        entry_end(md);
        if (append)
            atomic_store_explicit(&nmodules, n + 1, memory_order_release);
        return;
    }
    /* Registered again (each translation unit does; or loaded again at
     * the same address): newer than any look at the loaded objects
     * already under way, which must not drop it. */
    md->epoch = ++reg_epoch;
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
    /* A fork's child runs no preemption, and reglock may have been held
     * by a thread the fork did not copy (fork_linux.c). */
    if (gort__in_forked_child())
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

/* pc against one entry: -1 if not in it (or not LIVE, or changed while
 * read), else its GORT_PR_* code. */
static int entry_code(module *md, uintptr_t pc)
{
    uint32_t s1 = atomic_load_explicit(&md->seq, memory_order_acquire);
    if ((s1 & 1) || atomic_load_explicit(&md->state, memory_order_relaxed) != MOD_LIVE)
        return -1;
    int code = -1;
    int ns = md->nseg;
    for (int j = 0; j < ns && j < MAX_SEGS; j++) {
        if (pc < md->seg[j].lo || pc >= md->seg[j].hi)
            continue;
        int k = atomic_load_explicit(&md->nnosplit, memory_order_acquire);
        if (k > MAX_NOSPLIT)
            k = MAX_NOSPLIT;
        if (in_ranges(md->nosplit, k, pc))
            code = GORT_PR_NOSPLIT;
        else
            code = in_plt_stub(pc, md->seg[j]) ? GORT_PR_FOREIGN : GORT_PR_SAFE;
        break;
    }
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&md->seq, memory_order_relaxed) != s1)
        return -1;
    return code;
}

int gort__pc_code(uintptr_t pc)
{
    if (pc >= (uintptr_t)__start_gort_text && pc < (uintptr_t)__stop_gort_text)
        return GORT_PR_RUNTIME;
    int nrt = atomic_load_explicit(&rt_nseg, memory_order_acquire);
    if (in_ranges(rt_seg, nrt, pc))
        return GORT_PR_RUNTIME;
    /* A sanitizer's runtime inside a registered module (clang links it
     * into the executable): foreign, as libc is. */
    if (gort__pc_in_sanitizer(pc))
        return GORT_PR_FOREIGN;
    int n = atomic_load_explicit(&nmodules, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        int code = entry_code(&modules[i], pc);
        if (code >= 0)
            return code;
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
        if (k > MAX_NOSPLIT)
            k = MAX_NOSPLIT;
        if (k && in_ranges(md->nosplit, k, pc))
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------------
 * Unloading: dlclose's bracket (interpose_dl.c) and sysmon's backstop.
 * ------------------------------------------------------------------- */

/* The loaded objects' identities (key, end of the last executable
 * segment), for telling a module still loaded from one unloaded and
 * replaced at the same address. */
typedef struct {
    int n, cap;
    uintptr_t (*id)[2];
} loaded_set;

static int loaded_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    loaded_set *ls = arg;
    uintptr_t key = 0, end = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (!key)
            key = lo;
        end = lo + ph->p_memsz;
    }
    if (!key)
        key = info->dlpi_addr;
    if (ls->n == ls->cap) {
        int cap = ls->cap ? 2 * ls->cap : 64;
        void *p = realloc(ls->id, (size_t)cap * sizeof *ls->id);
        if (!p)
            return 1;
        ls->id = p;
        ls->cap = cap;
    }
    ls->id[ls->n][0] = key;
    ls->id[ls->n][1] = end;
    ls->n++;
    return 0;
}

static bool still_loaded(const loaded_set *ls, const module *md)
{
    uintptr_t end = md->nseg ? md->seg[md->nseg - 1].hi : 0;
    for (int i = 0; i < ls->n; i++)
        if (ls->id[i][0] == md->key && (!md->nseg || ls->id[i][1] == end))
            return true;
    return false;
}

void gort__modules_close_begin(void)
{
    if (gort__in_forked_child())
        return;
    reg_lock();
    closing++;
    int n = atomic_load_explicit(&nmodules, memory_order_relaxed);
    /* Entry 0 is the executable (gort__preempt_init), never unloaded. */
    for (int i = 1; i < n; i++)
        if (atomic_load_explicit(&modules[i].state, memory_order_relaxed) == MOD_LIVE)
            set_state(&modules[i], MOD_RETIRED);
    reg_unlock();
}

/* Settle entries against the objects loaded now: retired ones come back
 * or die (only when no dlclose is running), live ones that are gone die. */
static void settle(bool closed)
{
    uint64_t gen = 0;
    if (closed) {
        reg_lock();
        closing--;
        gen = ++close_gen;
        bool last = closing == 0;
        reg_unlock();
        if (!last)
            return; /* the last dlclose to end settles */
    }
    loaded_set ls = {0, 0, NULL};
    reg_lock();
    uint64_t snap_epoch = reg_epoch; /* entries registered later may be missing below */
    reg_unlock();
    /* Not under reglock: a module's constructor registers it holding the
     * loader's lock, and dl_iterate_phdr takes the loader's list lock. */
    dl_iterate_phdr(loaded_cb, &ls);
    if (!ls.id)
        return; /* out of memory: retired entries stay retired (not preemptible) */
    reg_lock();
    bool settle_retired = closing == 0 && (!closed || close_gen == gen);
    int n = atomic_load_explicit(&nmodules, memory_order_relaxed);
    for (int i = 1; i < n; i++) {
        module *md = &modules[i];
        int st = atomic_load_explicit(&md->state, memory_order_relaxed);
        if (st == MOD_DEAD || (st == MOD_RETIRED && !settle_retired))
            continue;
        if (md->epoch > snap_epoch) { /* registered since the look: loaded */
            if (st == MOD_RETIRED)
                set_state(md, MOD_LIVE);
            continue;
        }
        if (!still_loaded(&ls, md))
            set_state(md, MOD_DEAD);
        else if (st == MOD_RETIRED)
            set_state(md, MOD_LIVE);
    }
    reg_unlock();
    free(ls.id);
}

void gort__modules_close_end(void)
{
    if (gort__in_forked_child())
        return;
    settle(true);
}

void gort__modules_revalidate(void)
{
    if (gort__in_forked_child())
        return;
    settle(false);
}
