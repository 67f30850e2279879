/*
 * traceback.c — fatal errors and goroutine tracebacks (Go's panic.go throw
 * and traceback.go, without stack maps or DWARF).
 *
 * What it does.  gort__throw prints "gort: fatal error: <msg>", the
 * current goroutine's stack and every other goroutine's, then exits with
 * status 2 as Go does.  gort__fatal_exit2 (deadlock) prints every
 * goroutine and exits 2.  Stacks are walked through the frame-pointer
 * chain (the runtime, tests and examples build with
 * -fno-omit-frame-pointer; user code that omits frame pointers just
 * shortens the trace), and addresses are named with dladdr, falling back
 * to the module's own ELF .symtab, which also names static and hidden
 * functions (the whole runtime is hidden).
 *
 * Invariants.  Everything here may run with runtime locks held, on g0, on
 * a foreign thread, or in a signal handler: no malloc, no stdio, no
 * blocking lock.  Every memory read during a walk is checked first: inside
 * the known stack [lo, hi) of the goroutine or g0, or, where no bounds are
 * known (foreign threads, the signal stack), probed with process_vm_readv,
 * which fails with EFAULT instead of faulting.  Frame pointers must strictly
 * increase, so a corrupt chain ends instead of looping.
 *
 * A parked G's frame is the one gort__mcall_asm pushed (asm_amd64.S):
 *     sched_sp+0 MXCSR/x87 CW, +8..+40 r15 r14 r13 r12 rbx, +48 rbp, +56 pc
 * and its chain ends at gort__gostart, whose frame has rbp = 0.
 *
 * Ownership.  sched.allgs is append-only and Gs are never freed, so the
 * dump walks it even when allglock cannot be taken (a fatal error raised
 * with allglock held, or by a thread that is stuck holding it): it tries the
 * lock briefly, then reads without it.  Racy reads of a G that changes state
 * meanwhile can only produce a wrong but bounds-checked trace.
 *
 * Rejected: backtrace(3)/libgcc unwinding (may malloc and take the loader
 * lock on first use, and needs .eh_frame for every frame), abort() on a
 * fatal error (a core dump and SIGABRT where Go exits 2; tests check the
 * status), exit() (atexit handlers may re-enter the runtime while we hold
 * its locks).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* asm_amd64.S: the outermost frame of every goroutine. */
extern void gort__gostart(void);

#define MAX_FRAMES 64
#define UNKNOWN_STEP_MAX ((uintptr_t)16 << 20) /* largest frame we believe without bounds */

__attribute__((format(printf, 2, 3))) static void fdprint(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gort__vfdprint(fd, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------
 * Symbolization
 * ------------------------------------------------------------------- */

/* One module's mapped ELF file, cached so a dump of many goroutines does
 * not map the file once per frame.  Entries are only appended, under
 * cache_busy; a caller that finds the cache busy maps privately. */
typedef struct elfmod {
    const void *fbase;       /* dli_fbase identifying the module */
    const unsigned char *map;
    size_t len;
    const Elf64_Sym *syms;
    size_t nsyms;
    const char *strs;
    size_t strslen;
    uintptr_t bias;          /* runtime address - link-time address */
} elfmod;

#define ELF_CACHE 16
static elfmod elf_cache[ELF_CACHE];
static int elf_ncache;
static _Atomic int cache_busy;

static bool main_program(const void *fbase)
{
    /* The kernel maps the executable's program headers in its first page:
     * AT_PHDR lies just above the main program's dli_fbase. */
    uintptr_t phdr = (uintptr_t)getauxval(AT_PHDR);
    return phdr >= (uintptr_t)fbase && phdr - (uintptr_t)fbase < 4096;
}

/* Map the file and find its symbol table; false if it is not usable. */
static bool elf_open(const char *path, const void *fbase, elfmod *em)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
        close(fd);
        return false;
    }
    size_t len = (size_t)st.st_size;
    const unsigned char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return false;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_phentsize != sizeof(Elf64_Phdr) ||
        eh->e_shoff > len || eh->e_shnum > (len - eh->e_shoff) / sizeof(Elf64_Shdr) ||
        eh->e_phoff > len || eh->e_phnum > (len - eh->e_phoff) / sizeof(Elf64_Phdr))
        goto bad;

    /* Load bias: where the lowest PT_LOAD landed versus its p_vaddr. */
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(map + eh->e_phoff);
    uintptr_t minva = UINTPTR_MAX;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr < minva)
            minva = ph[i].p_vaddr;
    if (minva == UINTPTR_MAX)
        goto bad;
    minva &= ~(uintptr_t)4095;

    const Elf64_Shdr *sh = (const Elf64_Shdr *)(map + eh->e_shoff);
    const Elf64_Shdr *symsh = NULL;
    for (int i = 0; i < eh->e_shnum; i++)
        if (sh[i].sh_type == SHT_SYMTAB)
            symsh = &sh[i];
    if (!symsh) /* stripped: the dynamic table is better than nothing */
        for (int i = 0; i < eh->e_shnum; i++)
            if (sh[i].sh_type == SHT_DYNSYM)
                symsh = &sh[i];
    if (!symsh || symsh->sh_link >= eh->e_shnum || symsh->sh_offset > len ||
        symsh->sh_size > len - symsh->sh_offset)
        goto bad;
    const Elf64_Shdr *strsh = &sh[symsh->sh_link];
    if (strsh->sh_offset > len || strsh->sh_size > len - strsh->sh_offset)
        goto bad;

    em->fbase = fbase;
    em->map = map;
    em->len = len;
    em->syms = (const Elf64_Sym *)(map + symsh->sh_offset);
    em->nsyms = symsh->sh_size / sizeof(Elf64_Sym);
    em->strs = (const char *)(map + strsh->sh_offset);
    em->strslen = strsh->sh_size;
    em->bias = (uintptr_t)fbase - minva;
    return true;
bad:
    munmap((void *)map, len);
    return false;
}

/* Function containing link-time address `addr`: name and start, or NULL. */
static const char *elf_lookup(const elfmod *em, uintptr_t addr, uintptr_t *start)
{
    const Elf64_Sym *best = NULL;
    for (size_t i = 0; i < em->nsyms; i++) {
        const Elf64_Sym *s = &em->syms[i];
        int type = ELF64_ST_TYPE(s->st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE) ||
            s->st_shndx == SHN_UNDEF || s->st_shndx >= SHN_LORESERVE || s->st_name == 0 ||
            s->st_name >= em->strslen || s->st_value > addr)
            continue;
        if (s->st_size != 0) {
            if (addr - s->st_value < s->st_size) {
                best = s;
                break; /* exact containment beats any sizeless label */
            }
        } else if (type != STT_NOTYPE || em->strs[s->st_name] != '.') {
            /* sizeless symbol (hand-written asm): nearest one below */
            if (!best || s->st_value > best->st_value)
                best = s;
        }
    }
    if (!best)
        return NULL;
    /* a sizeless match far away is more misleading than no name */
    if (best->st_size == 0 && addr - best->st_value > 4096)
        return NULL;
    *start = best->st_value;
    return em->strs + best->st_name;
}

/* Look up pc in the module at fbase/path via the cache (or a private
 * mapping when another thread is using the cache). */
static const char *elf_name(const char *path, const void *fbase, uintptr_t pc,
                            uintptr_t *symaddr)
{
    const char *file = (main_program(fbase) || !path || !*path) ? "/proc/self/exe" : path;
    const char *name = NULL;
    uintptr_t start = 0;
    int expected = 0;
    if (atomic_compare_exchange_strong(&cache_busy, &expected, 1)) {
        elfmod *em = NULL;
        for (int i = 0; i < elf_ncache; i++)
            if (elf_cache[i].fbase == fbase)
                em = &elf_cache[i];
        if (!em && elf_ncache < ELF_CACHE && elf_open(file, fbase, &elf_cache[elf_ncache]))
            em = &elf_cache[elf_ncache++];
        if (em && (name = elf_lookup(em, pc - em->bias, &start)))
            *symaddr = start + em->bias;
        atomic_store(&cache_busy, 0);
        if (em || elf_ncache < ELF_CACHE)
            return name;
    }
    elfmod tmp;
    if (!elf_open(file, fbase, &tmp))
        return NULL;
    /* The name points into the mapping, so copy it out before unmapping. */
    static __thread char namebuf[256];
    if ((name = elf_lookup(&tmp, pc - tmp.bias, &start))) {
        snprintf(namebuf, sizeof namebuf, "%s", name);
        name = namebuf;
        *symaddr = start + tmp.bias;
    }
    munmap((void *)tmp.map, tmp.len);
    return name;
}

/* Name `pc`, looking it up at `lookup` (pc - 1 for a return address, so a
 * call at the very end of a function is not attributed to the next one). */
static void symbolize_at(uintptr_t pc, uintptr_t lookup, char *buf, size_t n)
{
    Dl_info info;
    memset(&info, 0, sizeof info);
    if (!dladdr((void *)lookup, &info) || !info.dli_fbase) {
        snprintf(buf, n, "0x%lx (?)", (unsigned long)pc);
        return;
    }
    const char *mod = info.dli_fname && *info.dli_fname ? info.dli_fname : "?";
    const char *name = info.dli_sname;
    uintptr_t sym = (uintptr_t)info.dli_saddr;
    if (!name || !sym) {
        name = elf_name(info.dli_fname, info.dli_fbase, lookup, &sym);
    }
    if (name)
        snprintf(buf, n, "%s+0x%lx (%s)", name, (unsigned long)(pc - sym), mod);
    else
        snprintf(buf, n, "0x%lx (%s+0x%lx)", (unsigned long)pc, mod,
                 (unsigned long)(pc - (uintptr_t)info.dli_fbase));
}

void gort__symbolize(uintptr_t pc, char *buf, size_t n)
{
    symbolize_at(pc, pc, buf, n);
}

static void print_frame(int fd, uintptr_t pc, bool return_address)
{
    char buf[512];
    symbolize_at(pc, return_address && pc ? pc - 1 : pc, buf, sizeof buf);
    fdprint(fd, "\t%s\n", buf);
}

/* ---------------------------------------------------------------------
 * Frame-pointer walking
 * ------------------------------------------------------------------- */

typedef struct bounds {
    uintptr_t lo, hi; /* hi == 0: unknown, probe every read */
} bounds;

/* Read two words at p (saved rbp, return address) if they are readable. */
static bool read_frame(uintptr_t p, const bounds *b, uintptr_t out[2])
{
    if (p == 0 || (p & 7) != 0)
        return false;
    if (b->hi != 0) {
        if (p < b->lo || p > b->hi - 16 || b->hi < 16)
            return false;
        memcpy(out, (const void *)p, 16);
        return true;
    }
    struct iovec local = {out, 16}, remote = {(void *)p, 16};
    ssize_t r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (r == 16)
        return true;
    if (r < 0 && errno == EFAULT)
        return false;
    /* process_vm_readv refused (seccomp, no ptrace rights): let the kernel
     * copy through a pipe instead.  write() fails with EFAULT on memory we
     * cannot read (a guard page, which mincore would call mapped), and
     * reading the bytes back is the copy.  The pipe is made once and kept. */
    static int pfd[2] = {-1, -1};
    if (pfd[0] < 0 && pipe2(pfd, O_CLOEXEC | O_NONBLOCK) != 0)
        return false;
    ssize_t w;
    do
        w = write(pfd[1], (const void *)p, 16);
    while (w < 0 && errno == EINTR);
    if (w != 16) {
        char drain[16];
        while (w > 0 && read(pfd[0], drain, (size_t)w) < 0 && errno == EINTR)
            ;
        return false;
    }
    ssize_t rd;
    do
        rd = read(pfd[0], out, 16);
    while (rd < 0 && errno == EINTR);
    return rd == 16;
}

/* Print the return addresses along the chain that starts at frame fp. */
static void walk(int fd, uintptr_t fp, const bounds *b)
{
    int saved = errno;
    int depth = 0;
    uintptr_t fr[2];
    while (read_frame(fp, b, fr)) {
        if (fr[1] == 0)
            break;
        if (depth == MAX_FRAMES) {
            fdprint(fd, "\t...additional frames elided...\n");
            break;
        }
        print_frame(fd, fr[1], true);
        depth++;
        if (fr[0] <= fp)
            break; /* outermost frame (gort__gostart's rbp is 0), or a
                    * chain that does not go up */
        if (b->hi == 0 && fr[0] - fp > UNKNOWN_STEP_MAX)
            break;
        fp = fr[0];
    }
    errno = saved;
}

/* The stack fp lies on: the current goroutine's, this M's g0, or unknown. */
static bounds bounds_for(uintptr_t fp)
{
    bounds b = {0, 0};
    M *m = gort__getm();
    if (m && m->curg && fp >= m->curg->stack_lo && fp < m->curg->stack_hi) {
        b.lo = m->curg->stack_lo;
        b.hi = m->curg->stack_hi;
    } else if (m && m->g0_hi && fp >= m->g0_lo && fp < m->g0_hi) {
        b.lo = m->g0_lo;
        b.hi = m->g0_hi;
    }
    return b;
}

__attribute__((noinline)) void gort__traceback_here(int fd)
{
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    bounds b = bounds_for(fp);
    walk(fd, fp, &b); /* first frame printed: our caller */
}

static const char *status_string(G *g, uint32_t st)
{
    switch (st) {
    case G_IDLE: return "idle";
    case G_RUNNABLE: return "runnable";
    case G_RUNNING: return "running";
    case G_WAITING: return g->waitreason && *g->waitreason ? g->waitreason : "waiting";
    case G_DEAD: return "dead";
    default: return "?";
    }
}

/* Frames of g, which is not the caller's own running goroutine. */
static void traceback_other(int fd, G *g, uint32_t st)
{
    if (g->foreign) {
        fdprint(fd, "\tthread that is not a goroutine; stack unavailable\n");
        return;
    }
    if (st == G_RUNNING) {
        fdprint(fd, "\tgoroutine running on other thread; stack unavailable\n");
        return;
    }
    bounds b = {g->stack_lo, g->stack_hi};
    uintptr_t sp = __atomic_load_n(&g->sched_sp, __ATOMIC_RELAXED);
    if (sp < b.lo || b.hi < 64 || sp > b.hi - 64 || (sp & 7) != 0) {
        fdprint(fd, "\tno saved context (sp=%#lx)\n", (unsigned long)sp);
        return;
    }
    const uintptr_t *frame = (const uintptr_t *)sp;
    uintptr_t rbp = frame[6], pc = frame[7];
    if (pc == (uintptr_t)gort__gostart) {
        fdprint(fd, "\tnot started yet\n");
    } else {
        print_frame(fd, pc, true);
        walk(fd, rbp, &b);
    }
}

static void print_entry(int fd, G *g)
{
    if (!g->fn)
        return;
    char buf[512];
    gort__symbolize((uintptr_t)g->fn, buf, sizeof buf);
    fdprint(fd, "\tgoroutine function: %s\n", buf);
}

void gort__traceback_g(int fd, G *g)
{
    if (!g)
        return;
    M *m = gort__getm();
    if (m && m->curg == g) {
        uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
        bounds b = bounds_for(fp);
        walk(fd, fp, &b);
        return;
    }
    traceback_other(fd, g, atomic_load(&g->status));
}

void gort__traceback_ctx(int fd, uintptr_t pc, uintptr_t fp, G *g)
{
    print_frame(fd, pc, false);
    bounds b = {0, 0};
    if (g && !g->foreign && fp >= g->stack_lo && fp < g->stack_hi) {
        b.lo = g->stack_lo;
        b.hi = g->stack_hi;
    }
    walk(fd, fp, &b);
}

/* ---------------------------------------------------------------------
 * Goroutine dumps
 * ------------------------------------------------------------------- */

/* allglock without blocking: a fatal error may be raised by a thread that
 * holds it, or while another thread that holds it is stuck.  Uses the
 * 0/1/2 futex protocol of lock_futex.c. */
static bool allglock_try(void)
{
    for (int i = 0; i < 1000; i++) {
        uint32_t want = 0;
        if (atomic_compare_exchange_weak(&sched.allglock.key, &want, 1))
            return true;
        struct timespec ts = {0, 100 * 1000}; /* up to ~100ms in all */
        nanosleep(&ts, NULL);
    }
    return false;
}

static void allglock_release(void)
{
    if (atomic_exchange(&sched.allglock.key, 0) == 2)
        gort__futex_wake(&sched.allglock.key, 1);
}

int gort__dump_others(int fd, G *skip)
{
    M *m = gort__getm();
    G *cur = m ? m->curg : NULL;
    bool locked = allglock_try();
    G *g = __atomic_load_n(&sched.allgs, __ATOMIC_ACQUIRE);
    int printed = 0;
    /* Bound the walk: a list corrupted into a cycle must not hang a fatal
     * error.  nallgs may lag behind appends when unlocked; allow slack. */
    int64_t limit = (int64_t)__atomic_load_n(&sched.nallgs, __ATOMIC_RELAXED) + 1024;
    for (int64_t i = 0; g && i < limit; g = __atomic_load_n(&g->alllink, __ATOMIC_ACQUIRE), i++) {
        if (g == skip || g->foreign)
            continue;
        uint32_t st = atomic_load(&g->status);
        if (st == G_DEAD || st == G_IDLE)
            continue;
        if (printed++)
            fdprint(fd, "\n");
        fdprint(fd, "goroutine %llu [%s]:\n", (unsigned long long)g->goid,
                g == cur ? "running" : status_string(g, st));
        if (g == cur) {
            uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
            bounds b = bounds_for(fp);
            walk(fd, fp, &b);
        } else {
            traceback_other(fd, g, st);
        }
        print_entry(fd, g);
    }
    if (locked)
        allglock_release();
    return printed;
}

void gort__dump_goroutines(int fd)
{
    gort__dump_others(fd, NULL);
}

/* ---------------------------------------------------------------------
 * Fatal errors
 * ------------------------------------------------------------------- */

static _Atomic int fatal_owner;      /* 0, or tid+1 of the thread that is dying */
static __thread int fatal_depth;

/* Make user output written before the crash visible, without waiting on
 * a FILE lock some stuck thread may hold. */
static void flush_std(void)
{
    FILE *fs[2] = {stdout, stderr};
    for (int i = 0; i < 2; i++)
        if (ftrylockfile(fs[i]) == 0) {
            fflush_unlocked(fs[i]);
            funlockfile(fs[i]);
        }
}

/* Enter the fatal path: only one thread prints; a second fatal error on
 * this thread (while printing) or elsewhere is reported in one line. */
static void fatal_enter(const char *msg)
{
    M *m = gort__getm();
    if (m) {
        m->locks++; /* not preemptible while we print */
        atomic_signal_fence(memory_order_seq_cst);
    }
    if (fatal_depth++ > 0) {
        fdprint(2, "gort: fatal error while printing a fatal error: %s\n", msg);
        _exit(2);
    }
    int want = 0;
    int me = (int)gettid() + 1;
    if (!atomic_compare_exchange_strong(&fatal_owner, &want, me)) {
        fdprint(2, "gort: fatal error: %s (on another thread too)\n", msg);
        /* Give the first thread time to finish its traceback. */
        struct timespec ts = {5, 0};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        _exit(2);
    }
    flush_std();
    fdprint(2, "gort: fatal error: %s\n\n", msg);
}

void gort__throw(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fatal_enter(msg);

    M *m = gort__getm();
    G *cur = m ? m->curg : NULL;
    if (cur)
        fdprint(2, "goroutine %llu [running]:\n", (unsigned long long)cur->goid);
    else if (m)
        fdprint(2, "scheduler stack (M%d):\n", m->id);
    else
        fdprint(2, "thread %d (not a goroutine) [running]:\n", (int)gettid());
    gort__traceback_here(2);
    if (cur)
        print_entry(2, cur);
    /* Like Go's throw: the other goroutines too, they are often the clue. */
    if (__atomic_load_n(&sched.allgs, __ATOMIC_ACQUIRE)) {
        fdprint(2, "\n");
        gort__dump_others(2, cur);
    }
    _exit(2);
}

void gort__fatal_exit2(const char *msg)
{
    fatal_enter(msg);
    gort__dump_others(2, NULL);
    _exit(2);
}
