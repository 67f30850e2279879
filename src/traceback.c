/*
 * traceback.c — goroutine tracebacks and goroutine dumps (Go's
 * traceback.go), without stack maps.
 *
 * What it does.  Walks goroutine stacks through the frame-pointer chain
 * and prints them: one goroutine parked or interrupted (gort__traceback_g,
 * gort__traceback_ctx), every goroutine (gort__dump_goroutines, and
 * gort_dump_goroutines on demand, to any descriptor, without exiting), and
 * the pieces panic.c puts together for fatal errors and the SIGQUIT dump
 * (gort__tb_*, writing into a gort__tbout).  The runtime, tests and
 * examples build with -fno-omit-frame-pointer; user code that omits frame
 * pointers just shortens the trace.  symtab.c names the addresses, dwarf.c adds file:line
 * when the binary has debug info and libdw is there.
 *
 * Output, like Go's: a header per goroutine, "goroutine 7 [chan receive,
 * 2 minutes]:" (the wait is shown from one minute on, in whole minutes, as
 * Go does), then one entry per frame:
 *     worker(...)
 *             /src/app.c:42 +0x1d          with debug info, or
 *             worker+0x1d (./app)          without
 * then "created by <function> in goroutine N" and the position of the
 * gort_go call.  GORTTRACEBACK (gort__cfg.traceback) picks what is
 * printed, with Go's meanings: none: no stacks; single (default) and all:
 * every goroutine for fatal errors and SIGQUIT (Go forces "all" for both;
 * single vs all only differs for Go's panics, which gort has not), with
 * the runtime's internal frames (gort__*) hidden; system: those frames too;
 * crash: as system, then die by SIGABRT so a core is written.  SIGQUIT is
 * a runtime crash to Go, printed at level "system" at least; we do the
 * same, but let "none" silence it (Go's runtime throws ignore "none").
 *
 * Invariants.  Everything here may run with runtime locks held, on g0, on
 * a foreign thread, or in a signal handler: no malloc (except inside libdw,
 * see dwarf.c for when), no stdio, no blocking lock.  Every memory read
 * during a walk is checked first: inside the known stack [lo, hi) of the
 * goroutine or g0, or, where no bounds are known (foreign threads, the
 * signal stack), probed with process_vm_readv, which fails with EFAULT
 * instead of faulting.  Frame pointers must strictly increase, so a corrupt
 * chain ends instead of looping.  Output goes through a 4 KiB buffer on the
 * stack (one write per 4 KiB, not per line), so a dump of a million
 * goroutines is streamed in constant memory.
 *
 * A parked G's frame is the one gort__mcall_asm pushed (asm_amd64.S):
 *     sched_sp+0 MXCSR/x87 CW, +8..+40 r15 r14 r13 r12 rbx, +48 rbp, +56 pc
 * and its chain ends at gort__gostart, whose frame has rbp = 0.
 *
 * Ownership.  sched.allgs is prepended to without a lock and Gs are never
 * freed, so the dump walks it without one (runtime.h).  Racy reads of a G that changes state
 * meanwhile can only produce a wrong but bounds-checked trace.  The frame
 * cache (resolved names and lines by pc) is a try-locked static table: a
 * million parked goroutines share a handful of pcs, and naming each frame
 * afresh (dladdr, a symbol-table scan, a DWARF lookup) would take minutes;
 * a caller that finds it busy resolves without it.
 *
 * Rejected: backtrace(3)/libgcc unwinding (may malloc and take the loader
 * lock on first use, and needs .eh_frame for every frame), stopping running
 * goroutines to trace them (Go does; a dump that needs every thread's
 * cooperation hangs exactly when a thread is stuck, so their stacks are
 * reported as unavailable instead).
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "arch/syscall_amd64.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* asm_amd64.S: the outermost frame of every goroutine. */
extern void gort__gostart(void);

#define UNKNOWN_STEP_MAX ((uintptr_t)16 << 20) /* largest frame we believe without bounds */

/* ---------------------------------------------------------------------
 * Buffered output
 * ------------------------------------------------------------------- */


void gort__tb_init(gort__tbout *o, int fd)
{
    o->fd = fd;
    o->err = 0;
    o->n = 0;
}

void gort__tb_flush(gort__tbout *o)
{
    int saved = errno;
    const char *p = o->buf;
    size_t n = o->n;
    while (n > 0 && o->err == 0) {
        ssize_t w = write(o->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            o->err = errno; /* keep formatting, write nothing more */
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    o->n = 0;
    errno = saved;
}

void gort__tb_printf(gort__tbout *o, const char *fmt, ...)
{
    for (int tries = 0; tries < 2; tries++) {
        size_t room = sizeof o->buf - o->n;
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(o->buf + o->n, room, fmt, ap);
        va_end(ap);
        if (k < 0)
            return;
        if ((size_t)k < room) {
            o->n += (size_t)k;
            return;
        }
        if (o->n == 0) { /* longer than the whole buffer: cut it */
            o->n = sizeof o->buf - 1;
            o->buf[o->n - 1] = '\n';
            return;
        }
        gort__tb_flush(o);
    }
}

/* ---------------------------------------------------------------------
 * Naming frames, with a cache
 * ------------------------------------------------------------------- */

typedef struct frameinfo {
    uintptr_t lookup;  /* key: the address looked up; 0 = empty slot */
    uintptr_t start;   /* function start; valid if named */
    uintptr_t fbase;   /* module base; valid if found */
    int line;          /* > 0 if file holds the source file */
    bool found, named, internal, dwarf_tried;
    char name[128];
    char module[128];
    char file[200];
} frameinfo;

#define FRAME_CACHE 256
static frameinfo fcache[FRAME_CACHE];
static _Atomic int fcache_busy;

static void copy_str(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = 0;
}

static void resolve(uintptr_t lookup, frameinfo *fi)
{
    gort__sym s;
    fi->lookup = lookup;
    fi->found = gort__symtab_lookup(lookup, &s);
    fi->named = fi->found && s.name != NULL;
    fi->start = s.start;
    fi->fbase = s.fbase;
    copy_str(fi->name, sizeof fi->name, fi->named ? s.name : "?");
    copy_str(fi->module, sizeof fi->module, s.module);
    /* The runtime's internal functions: hidden below GORTTRACEBACK=system
     * (Go hides runtime.* but its exported functions; the public gort_*
     * entry points are ours). */
    bool public = fi->named && strncmp(fi->name, "gort_", 5) == 0 && fi->name[5] != '_';
    fi->internal = !public && gort__pc_code(lookup) == GORT_PR_RUNTIME;
    fi->dwarf_tried = gort__dwarf_available();
    fi->line = 0;
    if (fi->dwarf_tried && !gort__dwarf_fileline(lookup, fi->file, sizeof fi->file, &fi->line))
        fi->line = 0;
}

/* The frame info for `lookup`, from the cache when possible.  The result
 * is copied to *tmp, so it stays valid whatever other threads do. */
static const frameinfo *frame_info(uintptr_t lookup, frameinfo *tmp)
{
    int want = 0;
    if (!atomic_compare_exchange_strong(&fcache_busy, &want, 1)) {
        resolve(lookup, tmp);
        return tmp;
    }
    frameinfo *e = &fcache[(lookup ^ (lookup >> 9)) % FRAME_CACHE];
    /* An entry made before libdw was available is made again. */
    if (e->lookup != lookup || (!e->dwarf_tried && gort__dwarf_available()))
        resolve(lookup, e);
    *tmp = *e;
    atomic_store(&fcache_busy, 0);
    return tmp;
}

/* Forget cached names: a module may have been unloaded and another loaded
 * at its address since the last dump.  Called at the start of each dump. */
void gort__tb_reset(void)
{
    int want = 0;
    if (!atomic_compare_exchange_strong(&fcache_busy, &want, 1))
        return;
    for (int i = 0; i < FRAME_CACHE; i++)
        fcache[i].lookup = 0;
    atomic_store(&fcache_busy, 0);
}

/* The position part of a frame: "\tfile:line +0xoff" or "\tname+0xoff (module)". */
static void print_pos(gort__tbout *o, const frameinfo *fi, uintptr_t pc)
{
    if (fi->line > 0 && fi->named)
        gort__tb_printf(o, "\t%s:%d +0x%lx\n", fi->file, fi->line, (unsigned long)(pc - fi->start));
    else if (fi->named)
        gort__tb_printf(o, "\t%s+0x%lx (%s)\n", fi->name, (unsigned long)(pc - fi->start), fi->module);
    else if (fi->found)
        gort__tb_printf(o, "\t0x%lx (%s+0x%lx)\n", (unsigned long)pc, fi->module,
             (unsigned long)(pc - fi->fbase));
    else
        gort__tb_printf(o, "\t0x%lx (?)\n", (unsigned long)pc);
}

/* One frame; false if it was hidden (a runtime-internal frame below
 * GORTTRACEBACK=system).  A return address is looked up at pc - 1, so a
 * call at the very end of a function is not named after the next one. */
bool gort__tb_frame(gort__tbout *o, uintptr_t pc, bool return_address, bool system)
{
    frameinfo tmp;
    const frameinfo *fi = frame_info(return_address && pc ? pc - 1 : pc, &tmp);
    if (fi->internal && !system)
        return false;
    if (fi->line > 0 && fi->named)
        gort__tb_printf(o, "%s(...)\n", fi->name);
    print_pos(o, fi, pc);
    return true;
}

/* ---------------------------------------------------------------------
 * Frame-pointer walking
 * ------------------------------------------------------------------- */

typedef struct bounds {
    uintptr_t lo, hi; /* hi == 0: unknown, probe every read */
} bounds;

/* Read two words at p (saved rbp, return address) if they are readable.
 * pfd: the walk's pipe, made here at need (walk closes it). */
static bool read_frame(uintptr_t p, const bounds *b, uintptr_t out[2], int pfd[2])
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
     * reading the bytes back is the copy.  The pipe lives for one walk: a
     * kept one would be the program's to close, and once it had reused
     * the numbers for a pipe of its own, the next traceback would have
     * read the program's bytes and written ours into it. */
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
static void walk(gort__tbout *o, uintptr_t fp, const bounds *b, bool system)
{
    int saved = errno;
    int depth = 0, steps = 0;
    int pfd[2] = {-1, -1};
    uintptr_t fr[2];
    bool interrupted = false; /* fr[1] is an interrupted pc, not a return address */
    while (read_frame(fp, b, fr, pfd)) {
        if (fr[1] == 0)
            break;
        if (depth == GORT_TB_MAX_FRAMES || ++steps > 4 * GORT_TB_MAX_FRAMES) {
            gort__tb_printf(o, "...additional frames elided...\n");
            break;
        }
        uintptr_t ret = fr[1];
        /* Split-stack mode: a frame __morestack_non_split made to call a
         * function's body; the function's caller is one word up. */
        if (gort__prologue_return(fr[1])) {
            uintptr_t up[2];
            if (read_frame(fp + 16, b, up, pfd))
                ret = up[0];
        }
        /* Looked up at ret - 1 as a return address, a pc preempted at a
         * function's first instruction was named after the function
         * before it (a spinner's `jmp .` printed as frame_dummy+0x10). */
        if (gort__tb_frame(o, ret, !interrupted, system))
            depth++;
        interrupted = ret == (uintptr_t)gort__asyncpreempt_ret;
        if (fr[0] <= fp)
            break; /* outermost frame (gort__gostart's rbp is 0), or a
                    * chain that does not go up */
        if (b->hi == 0 && fr[0] - fp > UNKNOWN_STEP_MAX)
            break;
        fp = fr[0];
    }
    if (pfd[0] >= 0) { /* the kernel's close: this may run in a handler */
        gort__sys3(SYS_close, pfd[0], 0, 0);
        gort__sys3(SYS_close, pfd[1], 0, 0);
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

static bool level_system(void)
{
    return gort__cfg.traceback >= GORT_TB_SYSTEM;
}

/* Our caller's frames and up (noinline: frame 0 is this function's). */
__attribute__((noinline)) static void trace_here(gort__tbout *o, bool system)
{
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    bounds b = bounds_for(fp);
    walk(o, fp, &b, system); /* first frame printed: our caller */
}

__attribute__((noinline)) void gort__traceback_here(int fd)
{
    gort__tbout o;
    gort__tb_init(&o, fd);
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    bounds b = bounds_for(fp);
    walk(&o, fp, &b, true);
    gort__tb_flush(&o);
}

int64_t gort__wait_minutes(int64_t since, int64_t now)
{
    if (since <= 0 || now <= since)
        return 0;
    return (now - since) / ((int64_t)60 * 1000 * 1000 * 1000);
}

/* gort__waitclock while sysmon publishes no value (before its first
 * round, and while it sleeps longer than 50 ms). */
int64_t gort__waitclock_slow(void)
{
    return gort__nanotime();
}

void gort__tb_header(gort__tbout *o, G *g, uint32_t st, bool running_here)
{
    const char *what;
    /* The caller's own goroutine is running, unless it is inside a system
     * call (a SIGQUIT handled on the thread of a goroutine in read()). */
    switch (running_here && st != G_SYSCALL ? G_RUNNING : st) {
    case G_IDLE: what = "idle"; break;
    case G_RUNNABLE: what = "runnable"; break;
    case G_RUNNING: what = "running"; break;
    case G_WAITING: what = g->waitreason && *g->waitreason ? g->waitreason : "waiting"; break;
    case G_DEAD: what = "dead"; break;
    case G_SYSCALL: what = "syscall"; break;
    default: what = "?"; break;
    }
    int64_t mins = 0;
    if (!running_here && st == G_WAITING)
        mins = gort__wait_minutes(__atomic_load_n(&g->waitsince, __ATOMIC_RELAXED),
                                  gort__nanotime());
    if (mins > 0) /* Go's words, "1 minutes" included */
        gort__tb_printf(o, "goroutine %llu [%s, %lld minutes]:\n", (unsigned long long)g->goid, what,
             (long long)mins);
    else
        gort__tb_printf(o, "goroutine %llu [%s]:\n", (unsigned long long)g->goid, what);
}

/* "goroutine function:" (where it started, useful when the stack is not)
 * and Go's "created by" with the position of the gort_go call. */
void gort__tb_trailer(gort__tbout *o, G *g)
{
    frameinfo tmp;
    if (g->fn) {
        const frameinfo *fi = frame_info((uintptr_t)g->fn, &tmp);
        gort__tb_printf(o, "\tgoroutine function: ");
        if (fi->named)
            gort__tb_printf(o, "%s+0x%lx (%s)\n", fi->name, (unsigned long)((uintptr_t)g->fn - fi->start),
                 fi->module);
        else
            gort__tb_printf(o, "%p\n", (void *)g->fn);
    }
    uintptr_t pc = g->gopc;
    if (g->is_main || !pc)
        return;
    const frameinfo *fi = frame_info(pc - 1, &tmp);
    if (g->parentgoid)
        gort__tb_printf(o, "created by %s in goroutine %llu\n", fi->name,
             (unsigned long long)g->parentgoid);
    else
        gort__tb_printf(o, "created by %s on a thread that is not a goroutine\n", fi->name);
    print_pos(o, fi, pc);
}

/* Frames of g, which is not the caller's own running goroutine. */
static void trace_other(gort__tbout *o, G *g, uint32_t st, bool system)
{
    if (g->foreign) {
        gort__tb_printf(o, "\tthread that is not a goroutine; stack unavailable\n");
        return;
    }
    if (st == G_RUNNING) {
        gort__tb_printf(o, "\tgoroutine running on other thread; stack unavailable\n");
        return;
    }
    if (g->unstarted) {
        gort__tb_printf(o, "\tnot started yet\n");
        return;
    }
    bounds b = {g->stack_lo, g->stack_hi};
    if (st == G_SYSCALL) {
        /* Where it entered the call (syscall.c); it may return while we
         * look, so the walk stays within its stack. */
        gort__tb_frame(o, __atomic_load_n(&g->syscallpc, __ATOMIC_RELAXED), true, system);
        walk(o, __atomic_load_n(&g->syscallfp, __ATOMIC_RELAXED), &b, system);
        return;
    }
    uintptr_t sp = __atomic_load_n(&g->sched_sp, __ATOMIC_RELAXED);
    if (sp < b.lo || b.hi < 64 || sp > b.hi - 64 || (sp & 7) != 0) {
        gort__tb_printf(o, "\tno saved context (sp=%#lx)\n", (unsigned long)sp);
        return;
    }
    const uintptr_t *frame = (const uintptr_t *)sp;
    uintptr_t rbp = frame[6], pc = frame[7];
    if (pc == (uintptr_t)gort__gostart) {
        gort__tb_printf(o, "\tnot started yet\n");
    } else {
        gort__tb_frame(o, pc, true, system);
        walk(o, rbp, &b, system);
    }
}

void gort__traceback_g(int fd, G *g)
{
    if (!g)
        return;
    gort__tbout o;
    gort__tb_init(&o, fd);
    M *m = gort__getm();
    if (m && m->curg == g)
        trace_here(&o, true);
    else
        trace_other(&o, g, atomic_load(&g->status), true);
    gort__tb_flush(&o);
}

void gort__tb_ctx(gort__tbout *o, uintptr_t pc, uintptr_t ra, uintptr_t fp, G *g, bool system)
{
    gort__tb_frame(o, pc, false, true); /* the interrupted frame itself: always */
    if (ra)
        gort__tb_frame(o, ra, true, system);
    bounds b = {0, 0};
    if (g && !g->foreign && fp >= g->stack_lo && fp < g->stack_hi) {
        b.lo = g->stack_lo;
        b.hi = g->stack_hi;
    }
    walk(o, fp, &b, system);
}

/* For the fatal-signal report (signal_fatal.c): a runtime crash to Go,
 * whose level is then "system" at least, so runtime frames are shown, as
 * they are by gort__dump_others. */
void gort__traceback_ctx(int fd, uintptr_t pc, uintptr_t ra, uintptr_t fp, G *g)
{
    gort__tbout o;
    gort__tb_init(&o, fd);
    gort__tb_ctx(&o, pc, ra, fp, g, true);
    gort__tb_flush(&o);
}

/* ---------------------------------------------------------------------
 * Goroutine dumps
 * ------------------------------------------------------------------- */

/* Every live goroutine but skip; `self` (if not skipped) is the caller's
 * own, walked from here.  Streams: nothing is allocated per goroutine. */
int gort__tb_others(gort__tbout *o, G *skip, G *self, bool system)
{
    G *cur = self;
    G *g = __atomic_load_n(&sched.allgs, __ATOMIC_ACQUIRE);
    int printed = 0;
    /* Bound the walk: a list corrupted into a cycle must not hang a fatal
     * error.  nallgs lags behind a prepend in progress; allow slack. */
    int64_t limit = (int64_t)__atomic_load_n(&sched.nallgs, __ATOMIC_RELAXED) + 1024;
    for (int64_t i = 0; g && i < limit; g = __atomic_load_n(&g->alllink, __ATOMIC_ACQUIRE), i++) {
        if (g == skip || g->foreign)
            continue;
        uint32_t st = atomic_load(&g->status);
        if (st == G_DEAD || st == G_IDLE)
            continue;
        if (printed++)
            gort__tb_printf(o, "\n");
        gort__tb_header(o, g, st, g == cur);
        if (g == cur)
            trace_here(o, system);
        else
            trace_other(o, g, st, system);
        gort__tb_trailer(o, g);
    }
    return printed;
}

int gort__dump_others(int fd, G *skip)
{
    gort__tbout o;
    gort__tb_init(&o, fd);
    M *m = gort__getm();
    int n = gort__tb_others(&o, skip, m ? m->curg : NULL, true);
    gort__tb_flush(&o);
    return n;
}

void gort__dump_goroutines(int fd)
{
    gort__dump_others(fd, NULL);
}

/* The caller's own stack under a header that says what it is. */
void gort__tb_self(gort__tbout *o, G *cur, bool system)
{
    M *m = gort__getm();
    /* Running: it is executing this very code.  Its status may say
     * syscall: sysmon found it in libc (writing the dump, loading libdw)
     * and released its P until it is back in its own code, which is not
     * a goroutine blocked in a call (test_dump saw "[syscall]" for the
     * dumping goroutine under load). */
    if (cur)
        gort__tb_header(o, cur, G_RUNNING, true);
    else if (m)
        gort__tb_printf(o, "scheduler stack (M%d):\n", m->id);
    else
        gort__tb_printf(o, "thread %d (not a goroutine) [running]:\n", (int)gettid());
    trace_here(o, system);
    if (cur)
        gort__tb_trailer(o, cur);
}

int gort_dump_goroutines(int fd)
{
    /* A preemption point, as every public call: the dump is runtime code,
     * never stopped by the signal, and a goroutine dumping in a loop held
     * its P for good (a hunt: with two such loops on two Ps, a goroutine
     * whose 100 ms sleep had ended never ran again). */
    gort__preempt_check_call();
    if (fcntl(fd, F_GETFL) < 0)
        return errno;
    gort__dwarf_open(); /* ordinary code: opening libdw is safe here */
    gort__tb_reset();
    bool system = level_system();
    M *m = gort__getm();
    G *cur = m ? m->curg : NULL;
    gort__tbout o;
    gort__tb_init(&o, fd);
    gort__tb_self(&o, cur, system);
    if (__atomic_load_n(&sched.allgs, __ATOMIC_ACQUIRE)) {
        gort__tb_printf(&o, "\n");
        gort__tb_others(&o, cur, cur, system);
    }
    gort__tb_flush(&o);
    return o.err;
}

