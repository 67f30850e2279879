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
 * process may have a broken heap.  Lookups need stack: they are skipped
 * when less than DWARF_STACK_NEED bytes remain on the current stack
 * (goroutine stack, signal stack), and the frame is printed without
 * file:line.  Modules loaded after the session opened have no file:line.
 *
 * Ownership.  The session is not thread-safe: every use is under dw_busy,
 * a try-lock; a caller that finds it busy (another thread dumping, or a
 * signal that interrupted a lookup on this thread) prints without file:line
 * instead of waiting.  The session is never closed.
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

#include <dlfcn.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* The parts of <elfutils/libdwfl.h> we use.  Dwfl_Callbacks is four
 * pointers; we only pass libdw's own standard callbacks through it. */
typedef struct Dwfl Dwfl;
typedef struct Dwfl_Module Dwfl_Module;
typedef struct Dwfl_Line Dwfl_Line;
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
} dw;

static dwfl_callbacks callbacks;
static char *debuginfo_path; /* NULL: libdw's default search path */
static Dwfl *session;
static _Atomic int dw_state; /* 0 not tried, 1 opening, 2 open, 3 unavailable */
static _Atomic int dw_busy;

/* A lookup and its callees in libdw stay well below this (measured peak
 * about 10 KiB for the first lookup in a module, which reads its line
 * table); the margin covers libdw versions and inflation under ASan. */
#define DWARF_STACK_NEED (32 * 1024)

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
    callbacks.find_elf = dlsym(h, "dwfl_linux_proc_find_elf");
    callbacks.find_debuginfo = dlsym(h, "dwfl_standard_find_debuginfo");
    callbacks.debuginfo_path = &debuginfo_path;
    if (!dw.begin || !dw.proc_report || !dw.report_end || !dw.addrmodule || !dw.getsrc ||
        !dw.lineinfo || !callbacks.find_elf || !callbacks.find_debuginfo)
        return false; /* the handle stays open: harmless, and dlclose is not */
    Dwfl *d = dw.begin(&callbacks);
    if (!d)
        return false;
    if (dw.proc_report(d, getpid()) != 0 || dw.report_end(d, NULL, NULL) != 0)
        return false; /* d leaks once; it is not worth a dwfl_end lookup */
    session = d;
    return true;
}

void gort__dwarf_open(void)
{
    int want = 0;
    if (atomic_load_explicit(&dw_state, memory_order_acquire) != 0 ||
        !atomic_compare_exchange_strong(&dw_state, &want, 1))
        return; /* open, unavailable, or being opened by another thread */
    int saved = errno;
    bool ok = open_session();
    errno = saved;
    atomic_store_explicit(&dw_state, ok ? 2 : 3, memory_order_release);
    /* libdw's code is not registered as the program's, so the preemption
     * check already treats it as foreign: nothing to refresh. */
}

bool gort__dwarf_available(void)
{
    return atomic_load_explicit(&dw_state, memory_order_acquire) == 2;
}

/* Bytes left below sp on the stack we are running on, or SIZE_MAX when the
 * bounds are unknown (a plain thread's own stack: assumed large). */
static size_t stack_left(void)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK) && ss.ss_sp &&
        sp >= (uintptr_t)ss.ss_sp && sp < (uintptr_t)ss.ss_sp + ss.ss_size)
        return sp - (uintptr_t)ss.ss_sp;
    M *m = gort__getm();
    if (m && m->curg && !m->curg->foreign && sp >= m->curg->stack_lo && sp < m->curg->stack_hi)
        return sp - m->curg->stack_lo;
    if (m && m->g0_hi && sp >= m->g0_lo && sp < m->g0_hi)
        return sp - m->g0_lo;
    return SIZE_MAX;
}

bool gort__dwarf_fileline(uintptr_t pc, char *file, size_t n, int *line)
{
    if (!gort__dwarf_available() || n == 0)
        return false;
    if (stack_left() < DWARF_STACK_NEED)
        return false;
    int want = 0;
    if (!atomic_compare_exchange_strong(&dw_busy, &want, 1))
        return false;
    int saved = errno;
    bool ok = false;
    Dwfl_Module *mod = dw.addrmodule(session, pc);
    Dwfl_Line *l = mod ? dw.getsrc(mod, pc) : NULL;
    int ln = 0;
    const char *f = l ? dw.lineinfo(l, NULL, &ln, NULL, NULL, NULL) : NULL;
    if (f && *f && ln > 0) {
        size_t len = strlen(f);
        if (len >= n)
            len = n - 1;
        memcpy(file, f, len);
        file[len] = 0;
        *line = ln;
        ok = true;
    }
    atomic_store(&dw_busy, 0);
    errno = saved;
    return ok;
}
