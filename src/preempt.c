/*
 * preempt.c — asynchronous preemption policy: which code may be stopped at
 * an arbitrary instruction (the async safe-point check), preemption
 * requests (gort__preemptone, called by sysmon and stop-the-world), the
 * registry of preemptible modules, gort_preempt_disable/enable, and the
 * "goroutine N cannot be preempted" diagnostic.
 *
 * The mechanism (Go 1.14's): a request sets g->preempt, which the goroutine
 * honours at its next runtime call (gort__preempt_check), and sends SIGURG
 * to the M's thread.  The handler (signal_linux.c) asks
 * gort__preempt_unsafe_code whether the interrupted instruction is an
 * async safe point; if so it injects a call to gort__asyncpreempt
 * (arch/preempt_amd64.S).  If not, nothing happens: the request stays
 * pending and sysmon (or the STW loop) simply asks again later.
 *
 * An async safe point is an instruction where stopping the goroutine and
 * running others (possibly on the same thread) cannot deadlock or corrupt
 * anything.  Go knows this per instruction from compiler metadata; gort
 * only knows addresses, so it is conservative:
 *   - the M is running a goroutine (curg, G_RUNNING, with a P) and the
 *     interrupted rsp is on that goroutine's stack with room for the
 *     trampoline's frame: the scheduler's own g0 code is never stopped;
 *   - no runtime lock held (m->locks) and no gort_preempt_disable section
 *     (g->preempt_off);
 *   - pc is in *registered* code: the main executable and shared objects
 *     that include gort.h (their constructor registers them).  libc, ld.so,
 *     the vDSO and every other object are never registered, because they
 *     may hold locks of their own (malloc's arena lock, stdio's FILE lock,
 *     ld.so's lock) that another goroutine on the same thread would then
 *     deadlock on, and because they keep thread-local state across
 *     instructions (errno, TLS caches) that must not migrate;
 *   - pc is not gort's own code: [__start_gort_text, __stop_gort_text) when
 *     libgort.a is linked into the executable (the Makefile renames the
 *     runtime's .text), and libgort.so, which is never registered;
 *   - pc is not in a GORT_NOSPLIT function (section gort_nosplit);
 *   - the thread's signal mask blocks nothing beyond what the M started
 *     with: otherwise we are probably inside another signal handler running
 *     on the goroutine stack, and parking that would move a handler frame
 *     to another thread.
 *
 * Registry invariants: a fixed static table (it must work from
 * constructors, before the runtime or malloc can be relied on).  Writers
 * (gort_register_module, init) serialise on a spinlock; the signal handler
 * reads lock-free: an entry is filled completely before the module count
 * is published with a release store, and a nosplit range is filled before
 * its count is; entries are never removed or changed otherwise.
 * dlclose of a registered module leaves a stale entry (documented limit).
 *
 * Alternatives rejected: per-instruction metadata (Go's PCDATA) needs
 * compiler support; signalling with SIGUSR1/2 (programs use them; SIGURG
 * is ignored by default, rare in practice, and spurious deliveries are
 * harmless, as Go found); forward simulation to a "safe" instruction
 * (single-stepping is complex and slow).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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


/* Order of the checks = priority of the reason shown by the diagnostic:
 * explicit user choices first, then where the pc is, then the stack. */
int gort__preempt_unsafe_code(uintptr_t pc, uintptr_t sp, M *m, G *g)
{
    if (m) {
        if (!g || g->m != m || !m->p ||
            atomic_load_explicit(&g->status, memory_order_relaxed) != G_RUNNING)
            return GORT_PR_NO_G;
    }
    if (g && g->preempt_off > 0)
        return GORT_PR_PREEMPT_OFF;
    if (m && m->locks > 0)
        return GORT_PR_LOCKS;
    int c = gort__pc_code(pc);
    if (c != GORT_PR_SAFE)
        return c;
    if (g && sp) {
        if (sp < g->stack_lo || sp >= g->stack_hi)
            return GORT_PR_OFFSTACK;
        if (sp - g->stack_lo < gort__asyncpreempt_frame + GORT_ASYNCPREEMPT_MARGIN)
            return GORT_PR_NOROOM;
    }
    return GORT_PR_SAFE;
}

static const char *const reason_str[GORT_PR_NREASONS] = {
    [GORT_PR_SAFE] = NULL,
    [GORT_PR_NO_G] = "not running a goroutine",
    [GORT_PR_PREEMPT_OFF] = "preemption disabled (gort_preempt_disable)",
    [GORT_PR_LOCKS] = "runtime lock held",
    [GORT_PR_RUNTIME] = "inside the gort runtime",
    [GORT_PR_NOSPLIT] = "GORT_NOSPLIT function",
    [GORT_PR_FOREIGN] = "inside libc or another unregistered object",
    [GORT_PR_OFFSTACK] = "not on the goroutine stack",
    [GORT_PR_NOROOM] = "not enough stack",
    [GORT_PR_CALLBACK] = "in a callback from libc or another unregistered object",
    [GORT_PR_SIGMASK] = "signals blocked (inside a signal handler?)",
    [GORT_PR_INSYSCALL] = "blocked in a system call gort does not wrap",
};

const char *gort__preempt_reason_str(int code)
{
    if (code <= 0 || code >= GORT_PR_NREASONS)
        return NULL;
    return reason_str[code];
}

/* ---------------------------------------------------------------------
 * gort_preempt_disable / gort_preempt_enable
 * ------------------------------------------------------------------- */

void gort_preempt_disable(void)
{
    M *m = gort__getm();
    G *g = m ? m->curg : NULL;
    if (!g)
        return; /* g0 and foreign threads are never preempted */
    g->preempt_off++;
    /* The handler runs on this thread: the store must be done before we
     * return to code that can be interrupted. */
    atomic_signal_fence(memory_order_seq_cst);
}

void gort_preempt_enable(void)
{
    M *m = gort__getm();
    G *g = m ? m->curg : NULL;
    if (!g)
        return;
    if (g->preempt_off <= 0)
        gort__throw("gort_preempt_enable without gort_preempt_disable");
    g->preempt_off--;
    atomic_signal_fence(memory_order_seq_cst);
    /* A request that arrived during the section was refused by the
     * handler; honour it now, as Go does when m.locks drops to zero. */
    if (g->preempt_off == 0 && atomic_load_explicit(&g->preempt, memory_order_relaxed))
        gort__preempt_check();
}

/* ---------------------------------------------------------------------
 * Requests
 * ------------------------------------------------------------------- */

/* Read a small /proc/self/task/<tid>/<name> file into buf (NUL-terminated);
 * length, or -1. */
static ssize_t read_task_file(pid_t tid, const char *name, char *buf, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/%s", (int)tid, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = read(fd, buf, n - 1);
    close(fd);
    if (r < 0)
        return -1;
    buf[r] = 0;
    return r;
}

/* Is thread tid's state 'R' (running or runnable) in /proc/.../stat, the
 * letter after the command name (which may contain spaces and parentheses,
 * hence the last ')')?  True if /proc cannot tell. */
static bool thread_state_running(M *m, pid_t tid)
{
    char buf[512];
    ssize_t n = m->statfd >= 0 ? pread(m->statfd, buf, sizeof buf - 1, 0) : -1;
    if (n > 0)
        buf[n] = 0;
    else if (read_task_file(tid, "stat", buf, sizeof buf) <= 0)
        return true;
    char *rp = strrchr(buf, ')');
    if (!rp || rp[1] != ' ' || !rp[2])
        return true;
    return rp[2] == 'R';
}

const char gort__preempt_cookie = 0;

bool gort__preemptone(P *pp)
{
    M *m = __atomic_load_n(&pp->m, __ATOMIC_ACQUIRE);
    if (!m)
        return false;
    G *g = __atomic_load_n(&m->curg, __ATOMIC_ACQUIRE);
    if (!g || atomic_load(&g->status) != G_RUNNING)
        return false;
    /* A new request (none pending) restarts the diagnostic's clock. */
    if (!atomic_load(&g->preempt)) {
        g->preempt_since = gort__now();
        g->preempt_reported = false;
        __atomic_store_n(&m->preempt_reqgen, __atomic_load_n(&m->preempt_gen, __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED);
    }
    atomic_store(&g->preempt, true);
    atomic_fetch_add_explicit(&sched.npreemptreq, 1, memory_order_relaxed);
    if (gort__cfg.asyncpreemptoff)
        return true;
    pid_t tid = m->tid;
    if (tid <= 0 || tid == (pid_t)syscall(SYS_gettid))
        return true; /* not started yet / ourselves: the flag is enough */
    /* A signal of this request found the thread blocked in a system call
     * gort does not wrap (a raw one): another would only interrupt the
     * call again.  The flag waits for its next gort call. */
    if (__atomic_load_n(&m->preempt_gen, __ATOMIC_RELAXED) >
            __atomic_load_n(&m->preempt_reqgen, __ATOMIC_RELAXED) &&
        __atomic_load_n(&m->preempt_lastreason, __ATOMIC_RELAXED) == GORT_PR_INSYSCALL)
        return true;
    /* Mark the signal in flight first, then check that the goroutine is
     * still running outside any system call: entersyscall publishes
     * P_SYSCALL first and then waits for a marked signal, so one of the
     * two sees the other and no signal lands inside a call (syscall.c). */
    uint32_t zero = 0;
    if (!atomic_compare_exchange_strong(&m->signal_pending, &zero, 1))
        return true; /* one already in flight: signals coalesce anyway */
    if (atomic_load(&pp->status) != P_RUNNING || __atomic_load_n(&pp->m, __ATOMIC_SEQ_CST) != m ||
        __atomic_load_n(&m->curg, __ATOMIC_SEQ_CST) != g ||
        atomic_load(&g->status) != G_RUNNING) {
        atomic_store(&m->signal_pending, 0);
        return true;
    }
    if (!gort__sigurg_send(tid, &gort__preempt_cookie))
        atomic_store(&m->signal_pending, 0);
    return true;
}

/* ---------------------------------------------------------------------
 * Diagnostic: a goroutine that ignores preemption for a long time holds
 * its P (and blocks stop-the-world).  Say where it is and why, once per
 * request.  Called by sysmon; may use stdio-free formatting only.
 * ------------------------------------------------------------------- */

void gort__preempt_diag(P *pp, int64_t now)
{
    if (gort__cfg.stuck_report_ns <= 0)
        return;
    M *m = __atomic_load_n(&pp->m, __ATOMIC_ACQUIRE);
    if (!m)
        return;
    G *g = __atomic_load_n(&m->curg, __ATOMIC_ACQUIRE);
    if (!g || atomic_load(&g->status) != G_RUNNING || !atomic_load(&g->preempt) ||
        g->preempt_reported)
        return;
    int64_t age = now - g->preempt_since;
    if (age < gort__cfg.stuck_report_ns)
        return;

    uintptr_t pc = 0;
    const char *why;
    bool sampled = __atomic_load_n(&m->preempt_gen, __ATOMIC_RELAXED) >
                   __atomic_load_n(&m->preempt_reqgen, __ATOMIC_RELAXED);
    /* A signal handled since the request began knows best where the
     * goroutine is and why it was refused; give one up to another
     * stuck_report_ns to arrive (a loaded machine delays them).  After
     * that, say what the last attempt to send one saw. */
    if (!gort__cfg.asyncpreemptoff && !sampled && age < 2 * gort__cfg.stuck_report_ns)
        return;
    int code = sampled ? __atomic_load_n(&m->preempt_lastreason, __ATOMIC_RELAXED) : -1;
    /* Merely blocked in the kernel, in a call gort does not wrap: not
     * stuck, and nothing to report (it yields at its next gort call). */
    if (code == GORT_PR_INSYSCALL)
        return;
    if (!sampled && m->tid > 0 && !thread_state_running(m, m->tid))
        return;
    if (gort__cfg.asyncpreemptoff) {
        why = "asynchronous preemption is off (GORTDEBUG=asyncpreemptoff=1)";
    } else if (sampled) {
        pc = __atomic_load_n(&m->preempt_lastpc, __ATOMIC_RELAXED);
        why = gort__preempt_reason_str(code);
        if (!why)
            why = "preemption pending";
    } else if (atomic_load(&m->signal_pending)) {
        why = "preemption signal not delivered (SIGURG blocked?)";
    } else {
        why = "no preemption signal handled yet";
    }
    /* Where it is stuck is known only if a signal sampled its pc. */
    char sym[256] = "", where[280] = "";
    if (pc) {
        gort__symbolize(pc, sym, sizeof sym);
        snprintf(where, sizeof where, ": stuck in %s", sym);
    }
    char msg[600];
    int len = snprintf(msg, sizeof msg,
                       "gort: goroutine %llu cannot be preempted for %lld.%llds%s (%s)\n",
                       (unsigned long long)g->goid, (long long)(age / 1000000000),
                       (long long)(age / 100000000 % 10), where, why);
    if (len > 0) {
        if ((size_t)len >= sizeof msg)
            len = sizeof msg - 1;
        ssize_t w = write(2, msg, (size_t)len);
        (void)w;
    }
    g->preempt_reported = true;
}
