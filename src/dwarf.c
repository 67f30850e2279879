/*
 * dwarf.c — file:line for code addresses, from the program's DWARF debug
 * information, read by libdw (elfutils).  Go prints file:line from its own
 * pclntab; C programs have DWARF, and reading DWARF is a library's job,
 * not ours: libdw is maintained, handles DWARF 5, split and compressed
 * debug info and separate .debug files (build-id, debuglink).
 *
 * What it does.  gort__dwarf_open() loads libdw with dlopen("libdw.so.1")
 * and starts a Dwfl session over this process's mapped modules;
 * gort__dwarf_fileline(pc) asks that session for the source line of pc.
 * Without libdw, without debug info for a module, or before the session is
 * open, there is simply no file:line and tracebacks keep their
 * "function+0xoff (module)" form.
 *
 * The trade-off, and where each step may run.  Opening (dlopen, Dwfl
 * setup) allocates and takes the loader lock, so it is done only where
 * that is safe: from gort_dump_goroutines and gort__throw (ordinary code),
 * and from the SIGQUIT handler only when the interrupted instruction is in
 * the program or the runtime (gort__pc_code != FOREIGN), i.e. the thread
 * is not inside malloc, the loader or any other libc code whose locks it
 * could hold.  A lookup in an open session may still allocate inside libdw
 * (it reads a compilation unit's line table the first time it is needed);
 * that is accepted for the same callers under the same rule.  The
 * fatal-signal report (signal_fatal.c) never opens the session: it prints
 * file:line only if an earlier dump or throw opened it, since a crashing
 * process may have a broken heap (a copy of the process opening it
 * instead was tried and rejected: DESIGN.md "Fatal signals").  libdw
 * needs much stack (below), so it
 * always runs on a 1 MiB stack of its own, whatever stack the caller is on
 * (signal stack, small goroutine stack).  Modules loaded after the session
 * opened have no file:line.
 *
 * Ownership.  The session is not thread-safe: every use is under dw_busy,
 * a try-lock; a caller that finds it busy (another thread dumping, or a
 * signal that interrupted a lookup on this thread) prints without file:line
 * instead of waiting.  The session is never closed.
 *
 * No descriptor kept.  libdw's own find_elf callback opens each module's
 * file and the session keeps that descriptor for its lazy reads.  A C
 * program does not know about it; a daemon that closes every descriptor
 * and reuses the numbers would have later tracebacks read its file as ELF
 * (docs/DESIGN.md "Descriptors the runtime holds").  So find_elf below
 * maps the file, closes it at once and hands libdw an in-memory ELF
 * (elf_memory): the mapping is what libdw reads, and a mapping outlives
 * close().  Only a module whose DWARF lives in a separate .debug file
 * (Debian's -dbgsym packages) still leaves libdw a descriptor, because the
 * find_debuginfo callback can only return one; libelf maps that file whole
 * too, so its contents no longer go through the descriptor after it is
 * opened, but the number stays taken until the program closes it.
 *
 * Why dlopen and our own prototypes instead of linking -ldw with
 * <elfutils/libdwfl.h>: the runtime then neither needs libdw-dev to build
 * nor libdw.so.1 to run, and a program pays for libdw (its own dependencies:
 * libelf, zlib, lzma, bzip2, zstd) only when it prints a traceback.  The few
 * functions used below are part of libdw's versioned, stable ABI
 * (ELFUTILS_0.122 and later).
 *
 * Rejected: a hand-written DWARF line-table reader (large, and DWARF has
 * many forms to get right); addr2line in a child process (fork/exec from a
 * dying process, and slow per frame); opening the session at startup in
 * every program (its cost falls on programs that never print a traceback).
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "valgrind_hooks.h"

#include <dlfcn.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The parts of <elfutils/libdwfl.h> we use.  Dwfl_Callbacks is four
 * pointers; we only pass libdw's own standard callbacks through it. */
typedef struct Dwfl Dwfl;
typedef struct Dwfl_Module Dwfl_Module;
typedef struct Dwfl_Line Dwfl_Line;
typedef struct Dwarf_Die Dwarf_Die; /* only handled through libdw's pointers */
typedef struct Dwarf_Line Dwarf_Line;
typedef struct Elf Elf;
typedef struct {
    void *find_elf;
    void *find_debuginfo;
    void *section_address;
    char **debuginfo_path;
} dwfl_callbacks;

static struct {
    Dwfl *(*begin)(const dwfl_callbacks *);
    int (*proc_report)(Dwfl *, pid_t);
    int (*report_end)(Dwfl *, void *, void *);
    Dwfl_Module *(*addrmodule)(Dwfl *, uint64_t);
    Dwfl_Line *(*getsrc)(Dwfl_Module *, uint64_t);
    const char *(*lineinfo)(Dwfl_Line *, uint64_t *, int *, int *, uint64_t *, uint64_t *);
    /* for modules without .debug_aranges (clang does not emit it by
     * default), where dwfl_module_getsrc finds nothing: */
    Dwarf_Die *(*nextcu)(Dwfl_Module *, Dwarf_Die *, uint64_t *);
    int (*haspc)(Dwarf_Die *, uint64_t);
    Dwarf_Line *(*getsrc_die)(Dwarf_Die *, uint64_t);
    int (*lineno)(Dwarf_Line *, int *);
    const char *(*linesrc)(Dwarf_Line *, uint64_t *, uint64_t *);
    /* libdw's own find_elf, for what find_elf below leaves to it (the
     * vdso, a file it cannot map), and libelf's (a dependency of libdw): */
    int (*proc_find_elf)(Dwfl_Module *, void **, const char *, uint64_t, char **, Elf **);
    Elf *(*elf_memory)(char *, size_t);
} dw;

static dwfl_callbacks callbacks;
static char *debuginfo_path; /* NULL: libdw's default search path */
static Dwfl *session;
static _Atomic int dw_state; /* 0 not tried, 1 opening, 2 open, 3 unavailable */
static _Atomic int dw_busy;

/* libdw runs on a stack of its own: reading a line table keeps up to a
 * few thousand line records on the stack (measured: 150 KiB for a small
 * compilation unit, elfutils 0.188), more than a signal stack (64 KiB) or
 * a small goroutine stack has.  Mapped once, used under dw_busy. */
#define DW_STACK_SIZE ((size_t)1 << 20)
static char *dw_stack_top;

/* Call fn(arg) with rsp at top (16-byte aligned), then come back.  Every
 * caller-saved register is declared clobbered; rbx keeps our rsp. */
static void call_on_stack(void (*fn)(void *), void *arg, char *top)
{
    __asm__ volatile("mov %%rsp, %%rbx\n\t"
                     "mov %[top], %%rsp\n\t"
                     "call *%[fn]\n\t"
                     "mov %%rbx, %%rsp"
                     : "+D"(arg), [fn] "+r"(fn)
                     : [top] "r"(top)
                     : "rbx", "rax", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "memory",
                       "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/* Under valgrind, the stack sits between two reservations this wide.
 * memcheck takes a move of rsp out of a registered stack into one it does
 * not know (a signal stack, a thread's stack) for a frame pushed or popped
 * unless the move is longer than --max-stackframe (2 MB by default); a
 * caller's stack mapped just below ours then had its live frames declared
 * undefined on the way back (test_dump under memcheck, a dump from the
 * SIGQUIT handler: every value it printed afterwards was "uninitialised").
 * With the gaps every caller is more than 16 MiB away. */
#define DW_VALGRIND_GAP ((size_t)16 << 20)

static bool map_stack(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t page = pg > 0 ? (size_t)pg : 4096;
    size_t gap = RUNNING_ON_VALGRIND ? DW_VALGRIND_GAP : 0;
    char *mem = mmap(NULL, gap + page + DW_STACK_SIZE + gap, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED)
        return false;
    /* The page below the stack stays PROT_NONE: an overflow faults
     * instead of scribbling. */
    char *lo = mem + gap + page;
    if (mprotect(lo, DW_STACK_SIZE, PROT_READ | PROT_WRITE) != 0) {
        munmap(mem, gap + page + DW_STACK_SIZE + gap);
        return false;
    }
    dw_stack_top = lo + DW_STACK_SIZE;
    /* Otherwise memcheck takes the switch onto it for a frame of the
     * goroutine's stack and the way back for a return over it: the
     * caller's locals become unaddressable. */
    (void)VALGRIND_STACK_REGISTER(lo, dw_stack_top);
    return true;
}

/* Dwfl_Callbacks.find_elf: a module that is a regular file is mapped
 * (private, so libelf may convert in place) and given to libdw as an
 * in-memory ELF; the descriptor lives only for the open/fstat/mmap.  The
 * mapping is never unmapped: the session, which owns the Elf, lives as long
 * as the process.  Anything else goes to libdw's own callback. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, uint64_t base,
                    char **file_name, Elf **elfp)
{
    struct stat st;
    /* Only a regular file, checked before it is opened: opening a mapped
     * device may block or act (libdw's callback checks the same). */
    if (name[0] == '/' && stat(name, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 4) {
        int fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        void *p = MAP_FAILED;
        if (fd >= 0) {
            if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 4)
                p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
            close(fd); /* never retried: the descriptor is gone even on EINTR */
        }
        /* Not ELF: libdw would drop our Elf and never unmap the file. */
        if (p != MAP_FAILED && memcmp(p, "\177ELF", 4) != 0) {
            munmap(p, (size_t)st.st_size);
            p = MAP_FAILED;
        }
        if (p != MAP_FAILED) {
            Elf *e = dw.elf_memory(p, (size_t)st.st_size);
            char *copy = e ? strdup(name) : NULL;
            if (copy) {
                *file_name = copy; /* libdw frees it with the module */
                *elfp = e;
                return -1; /* no descriptor: the ELF is in *elfp */
            }
            munmap(p, (size_t)st.st_size);
            /* e leaks with its few bytes of header; this is the
             * out-of-memory path, and elf_end is one more dlsym */
        }
    }
    return dw.proc_find_elf(mod, userdata, name, base, file_name, elfp);
}

static bool open_session(void)
{
    void *h = dlopen("libdw.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!h)
        return false;
    *(void **)&dw.begin = dlsym(h, "dwfl_begin");
    *(void **)&dw.proc_report = dlsym(h, "dwfl_linux_proc_report");
    *(void **)&dw.report_end = dlsym(h, "dwfl_report_end");
    *(void **)&dw.addrmodule = dlsym(h, "dwfl_addrmodule");
    *(void **)&dw.getsrc = dlsym(h, "dwfl_module_getsrc");
    *(void **)&dw.lineinfo = dlsym(h, "dwfl_lineinfo");
    *(void **)&dw.nextcu = dlsym(h, "dwfl_module_nextcu");
    *(void **)&dw.haspc = dlsym(h, "dwarf_haspc");
    *(void **)&dw.getsrc_die = dlsym(h, "dwarf_getsrc_die");
    *(void **)&dw.lineno = dlsym(h, "dwarf_lineno");
    *(void **)&dw.linesrc = dlsym(h, "dwarf_linesrc");
    *(void **)&dw.proc_find_elf = dlsym(h, "dwfl_linux_proc_find_elf");
    *(void **)&dw.elf_memory = dlsym(h, "elf_memory"); /* found in libdw's libelf */
    callbacks.find_elf = (void *)find_elf;
    callbacks.find_debuginfo = dlsym(h, "dwfl_standard_find_debuginfo");
    callbacks.debuginfo_path = &debuginfo_path;
    if (!dw.begin || !dw.proc_report || !dw.report_end || !dw.addrmodule || !dw.getsrc ||
        !dw.lineinfo || !dw.nextcu || !dw.haspc || !dw.getsrc_die || !dw.lineno ||
        !dw.linesrc || !dw.proc_find_elf || !dw.elf_memory || !callbacks.find_debuginfo)
        return false; /* the handle stays open: harmless, and dlclose is not */
    Dwfl *d = dw.begin(&callbacks);
    if (!d)
        return false;
    if (dw.proc_report(d, getpid()) != 0 || dw.report_end(d, NULL, NULL) != 0)
        return false; /* d leaks once; it is not worth a dwfl_end lookup */
    session = d;
    return true;
}

static void open_on_stack(void *ok)
{
    *(bool *)ok = open_session();
}

void gort__dwarf_open(void)
{
    int want = 0;
    if (atomic_load_explicit(&dw_state, memory_order_acquire) != 0 ||
        !atomic_compare_exchange_strong(&dw_state, &want, 1))
        return; /* open, unavailable, or being opened by another thread */
    int saved = errno;
    bool ok = false;
    if (map_stack())
        call_on_stack(open_on_stack, &ok, dw_stack_top);
    errno = saved;
    atomic_store_explicit(&dw_state, ok ? 2 : 3, memory_order_release);
    /* libdw's code is not registered as the program's, so the preemption
     * check already treats it as foreign: nothing to refresh. */
}

bool gort__dwarf_available(void)
{
    return atomic_load_explicit(&dw_state, memory_order_acquire) == 2;
}

typedef struct lookup {
    uintptr_t pc;
    char *file;
    size_t n;
    int line;
    bool ok;
} lookup;

static void lookup_on_stack(void *arg)
{
    lookup *lk = arg;
    Dwfl_Module *mod = dw.addrmodule(session, lk->pc);
    Dwfl_Line *l = mod ? dw.getsrc(mod, lk->pc) : NULL;
    int ln = 0;
    const char *f = l ? dw.lineinfo(l, NULL, &ln, NULL, NULL, NULL) : NULL;
    if (!l && mod) {
        /* No address index: find the compilation unit covering pc.  Linear
         * in the module's units, once per distinct pc (traceback.c caches). */
        uint64_t bias = 0;
        for (Dwarf_Die *cu = dw.nextcu(mod, NULL, &bias); cu; cu = dw.nextcu(mod, cu, &bias)) {
            if (dw.haspc(cu, lk->pc - bias) <= 0)
                continue;
            Dwarf_Line *dl = dw.getsrc_die(cu, lk->pc - bias);
            if (dl && dw.lineno(dl, &ln) == 0)
                f = dw.linesrc(dl, NULL, NULL);
            break;
        }
    }
    if (f && *f && ln > 0) {
        size_t len = strlen(f);
        if (len >= lk->n)
            len = lk->n - 1;
        memcpy(lk->file, f, len);
        lk->file[len] = 0;
        lk->line = ln;
        lk->ok = true;
    }
}

bool gort__dwarf_fileline(uintptr_t pc, char *file, size_t n, int *line)
{
    if (!gort__dwarf_available() || n == 0)
        return false;
    int want = 0;
    if (!atomic_compare_exchange_strong(&dw_busy, &want, 1))
        return false;
    int saved = errno;
    lookup lk = {pc, file, n, 0, false};
    call_on_stack(lookup_on_stack, &lk, dw_stack_top);
    atomic_store(&dw_busy, 0);
    errno = saved;
    if (lk.ok)
        *line = lk.line;
    return lk.ok;
}
