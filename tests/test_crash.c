/* Fatal signals (signal_fatal.c): a goroutine's stack overflow and its
 * faults (SIGSEGV, SIGFPE, SIGILL, SIGTRAP) are reported with the goroutine's
 * traceback, as GORTTRACEBACK asks, and the process then dies of the signal
 * itself (or SIGABRT with GORTTRACEBACK=crash); SIGBUS and a trap on the
 * scheduler's stack (g0) too; faults on plain threads and signals owned by
 * a handler installed before gort (the program's, a sanitizer's) are left
 * alone.  Each case runs in a child with core dumps off.
 *
 * A sanitizer build may own some signals before main runs (ASan: SIGSEGV,
 * SIGBUS, SIGFPE; clang's UBSan too).  gort forwards those unchanged, so for
 * them the check is the forwarding itself: the sanitizer's report, no gort
 * report. */
#define _GNU_SOURCE /* memfd_create */
#include "check.h"
#include "../src/runtime.h" /* gort__mcall_asm, gort__getm: a fault on g0 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/resource.h>

static bool owned[NSIG]; /* a handler was installed before main */

typedef struct crash_case {
    const char *name;
    void (*fn)(void *);
    const char *traceback; /* GORTTRACEBACK, NULL: unset */
    const char *stacksize; /* GORTSTACKSIZE, NULL: unset */
    const char *maxprocs;  /* GORTMAXPROCS, NULL: unset */
    bool prev_handler;     /* install marker_handler before gort_main */
} crash_case;

static void marker_handler(int sig)
{
    static const char msg[] = "program's own handler ran\n";
    (void)sig;
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    _exit(42);
}

static void child(void *arg)
{
    const crash_case *c = arg;
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl); /* no core files from the tests */
    unsetenv("GORTTRACEBACK");
    if (c->traceback)
        setenv("GORTTRACEBACK", c->traceback, 1);
    if (c->stacksize)
        setenv("GORTSTACKSIZE", c->stacksize, 1);
    if (c->maxprocs)
        setenv("GORTMAXPROCS", c->maxprocs, 1);
    if (c->prev_handler) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = marker_handler;
        sigemptyset(&sa.sa_mask);
        CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);
    }
    gort_main(c->fn, NULL);
    _exit(0); /* the fault did not kill us: the caller's checks fail */
}

static char out[65536];

static int run_case(const crash_case *c)
{
    int st = capture_child(child, (void *)c, out, sizeof out);
    return st;
}

static void fail_case(const crash_case *c, int st, const char *why)
{
    fprintf(stderr, "case %s: status %#x; stderr:\n%s\n", c->name, st, out);
    CHECK(0, "case %s: %s", c->name, why);
}

static void want(const crash_case *c, int st, const char *needle)
{
    if (!strstr(out, needle))
        fail_case(c, st, needle);
}

static void want_not(const crash_case *c, int st, const char *needle)
{
    if (strstr(out, needle))
        fail_case(c, st, needle);
}

/* name is a frame of the report: "\tname+0x..." without file:line,
 * "name(...)" on a line of its own with it (a compiler's suffix such as
 * ".isra.0" allowed either way). */
static bool frame_named(const char *name)
{
    size_t n = strlen(name);
    for (const char *p = out; (p = strstr(p, name)) != NULL; p += n) {
        char before = p == out ? '\n' : p[-1], after = p[n];
        if ((before == '\t' || before == '\n') && (after == '+' || after == '(' || after == '.'))
            return true;
    }
    return false;
}

static void want_frame(const crash_case *c, int st, const char *name)
{
    if (!frame_named(name))
        fail_case(c, st, name);
}

static void want_no_frame(const crash_case *c, int st, const char *name)
{
    if (frame_named(name))
        fail_case(c, st, name);
}

static void want_killed(const crash_case *c, int st, int sig)
{
    if (!WIFSIGNALED(st) || WTERMSIG(st) != sig) {
        char why[64];
        snprintf(why, sizeof why, "not killed by signal %d", sig);
        fail_case(c, st, why);
    }
}

/* How an overflow report ends: a fault in the guard page kills with
 * SIGSEGV; in split-stack mode the prologue's check caught it first and
 * the fatal error exits 2, with the check's line for the signal's. */
static void want_overflow_end(const crash_case *c, int st)
{
    if (split_mode()) {
        want(c, st, "\n[stack check: ");
        want_not(c, st, "SIGSEGV");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 2)
            fail_case(c, st, "did not exit 2");
        return;
    }
    /* SEGV_ACCERR from an mprotect'd guard page, SEGV_MAPERR from a
     * guard marker (MADV_GUARD_INSTALL, stack.c). */
    want(c, st, "[signal SIGSEGV: segmentation violation code=SEGV_");
    if (!strstr(out, "code=SEGV_ACCERR") && !strstr(out, "code=SEGV_MAPERR"))
        fail_case(c, st, "neither SEGV_ACCERR nor SEGV_MAPERR");
    want_killed(c, st, SIGSEGV);
}

/* The signal belongs to a sanitizer: gort must have passed it on. */
static bool forwarded(const crash_case *c, int st, int sig)
{
    if (!owned[sig])
        return false;
    want_not(c, st, "gort: fatal error");
    want(c, st, "Sanitizer");
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        fail_case(c, st, "exited 0");
    printf("  %s: signal %d owned by the sanitizer, forwarded\n", c->name, sig);
    return true;
}

/* ---------------------------------------------------------------------
 * What the goroutines do
 * ------------------------------------------------------------------- */

/* Keeps the entry function's frame in the traceback: a call in tail
 * position would become a jump. */
#define no_tail_call() __asm__ volatile("" ::: "memory")

static volatile int depth_limit = 1 << 30;

__attribute__((noinline)) static int recurse(int n)
{
    volatile char frame[256];
    frame[0] = (char)n;
    if (n >= depth_limit)
        return n;
    return recurse(n + 1) + frame[0];
}

static void overflow_recursion(void *arg)
{
    (void)arg;
    recurse(0);
}

__attribute__((noinline)) static void big_frame(void)
{
    /* 300 KiB of locals on a 256 KiB stack.  Touched from the top down, in
     * page steps, as a compiler's stack-clash probes would: the first page
     * off the stack is its guard page. */
    volatile char a[300 * 1024];
    for (long i = (long)sizeof a - 1; i >= 0; i -= 4096)
        a[i] = 1;
}

static void overflow_big_frame(void *arg)
{
    (void)arg;
    big_frame();    no_tail_call();
}

/* A libc frame that skips a page: printf's %.9000f allocas ~36 KiB for
 * its digits (glibc allocas up to 64 KiB without probing each page), so
 * called with 8 KiB of stack left its first writes land ~28 KiB below
 * stack_lo.  With a one-page guard they went past it into whatever lay
 * below (another goroutine's G, or an M's thread stack and TLS: the
 * process died with no report); the gap below a stack (stack.c) is
 * larger than any frame libc makes. */
__attribute__((noinline)) static int near_bottom(uintptr_t stop)
{
    volatile char frame[256];
    frame[0] = 1;
    if ((uintptr_t)__builtin_frame_address(0) > stop)
        return near_bottom(stop) + frame[0];
    char buf[64];
    volatile int digits = 9000;
    return snprintf(buf, sizeof buf, "%.*f", digits, 1.0) + frame[0];
}

static void overflow_libc_frame(void *arg)
{
    (void)arg;
    near_bottom(gort__getm()->curg->stack_lo + 8192);
    no_tail_call();
}

/* An overflow inside libc under a deep recursion of small frames: the
 * fault's walk looks for the program's call into libc above sp, and each
 * candidate's chain is checked up to the goroutine's first frame.  With
 * 16-byte frames every other word was a candidate whose whole chain
 * (deeper than the check's limit) was walked again: the report took 97 s
 * (a review).  The call through a pointer keeps the compiler from making
 * the recursion a loop. */
static void (*volatile deep_next)(void);
static volatile long deep_sink;
__attribute__((noinline)) static void deep_libc(void)
{
    deep_sink += strtol("12345", NULL, 10);
    deep_next();
    deep_sink++;
}

static void overflow_deep_libc(void *arg)
{
    (void)arg;
    deep_next = deep_libc;
    deep_libc();
    no_tail_call();
}

static void overflow_in_child_goroutine(void *arg)
{
    gort_chan *done = arg;
    recurse(0);
    gort_chan_send(done, NULL);
}

static void overflow_other(void *arg)
{
    (void)arg;
    gort_chan *done = gort_chan_make(0, 0);
    gort_go(overflow_in_child_goroutine, done);
    gort_chan_recv(done, NULL);
}

/* A handler that recurses without end: it runs on the M's alternate
 * signal stack (gort adds SA_ONSTACK), whose guard page it reaches. */
static void recursing_handler(int sig)
{
    (void)sig;
    recurse(0);
}

static void overflow_in_handler(void *arg)
{
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = recursing_handler;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    raise(SIGUSR1);
    no_tail_call();
}

static int *volatile null_ptr;

/* The store is written in asm: UBSan would report a C store through NULL
 * (and stop the program) before the CPU faults. */
__attribute__((noinline)) static void null_deref(void)
{
    __asm__ volatile("movl $1, (%0)" : : "r"(null_ptr) : "memory");
}

static void segv_main(void *arg)
{
    (void)arg;
    null_deref();    no_tail_call();
}

/* A fault in a process whose heap is broken: a freed small chunk's
 * free-list link overwritten, so the second malloc of its size after this
 * aborts inside malloc.  The report allocates nothing, so it is whole. */
#if !GORT_TEST_ASAN /* ASan reports the broken heap's write itself */
static void broken_heap_main(void *arg)
{
    (void)arg;
    char *volatile a = malloc(24), *volatile b = malloc(24);
    free(a);
    free(b);
    memset(b, 0x5a, 16); /* b heads the free list: its link and key */
    null_deref();    no_tail_call();
}
#endif

/* A fault while a plain thread is inside dlopen, its library's
 * constructor never returning: the loader's lock stays held.  The report
 * names frames without it (symtab.c: _dl_find_object, not dladdr, which
 * waited for the lock for ever). */
static void *stuck_dlopen(void *arg)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/libstuckctor.so", (const char *)arg);
    dlopen(path, RTLD_NOW | RTLD_LOCAL);
    return NULL;
}

static void loader_locked_main(void *arg)
{
    (void)arg;
    static char dir[4096];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    CHECK(n > 0);
    dir[n] = 0;
    *strrchr(dir, '/') = 0;
    int p[2];
    CHECK(pipe(p) == 0);
    char fd[16];
    snprintf(fd, sizeof fd, "%d", p[1]);
    setenv("STUCKCTOR_FD", fd, 1);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, stuck_dlopen, dir) == 0);
    char c;
    CHECK(read(p[0], &c, 1) == 1, "the library's constructor did not run");
    null_deref();    no_tail_call();
}

/* Integer division by zero in the instruction itself: C's `/` would be
 * undefined behaviour that UBSan reports before the CPU ever divides. */
__attribute__((noinline)) static int divide(int a, int b)
{
    int q;
    __asm__ volatile("cltd\n\tidivl %2" : "=a"(q) : "0"(a), "r"(b) : "edx", "cc");
    return q;
}

static volatile int zero;

static void fpe_main(void *arg)
{
    (void)arg;
    printf("%d\n", divide(1, zero));
}

__attribute__((noinline)) static void trap_here(void)
{
    __builtin_trap(); /* ud2 on x86-64: SIGILL */
}

static void ill_main(void *arg)
{
    (void)arg;
    trap_here();    no_tail_call();
}

__attribute__((noinline)) static void breakpoint_here(void)
{
    /* int3: SIGTRAP with the pc already past it, so only re-raising (not
     * returning to let the fault repeat) can end the process. */
    __asm__ volatile("int3");
}

static void trap_main(void *arg)
{
    (void)arg;
    breakpoint_here();    no_tail_call();
}

/* A page of a file mapping past the file's end: SIGBUS (BUS_ADRERR). */
__attribute__((noinline)) static void past_eof(void)
{
    int fd = memfd_create("gort-test-crash", MFD_CLOEXEC);
    CHECK(fd >= 0);
    volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    p[0] = 1; /* the file is empty */
}

static void bus_main(void *arg)
{
    (void)arg;
    past_eof();
    no_tail_call();
}

/* abort() (so a failed assert()): SIGABRT, raised inside libc. */
__attribute__((noinline)) static void call_abort(void)
{
    abort();
}

static void abort_main(void *arg)
{
    (void)arg;
    call_abort();
    no_tail_call();
}

/* A fault inside libc, which keeps no frame pointers: the traceback must
 * still find the program's frames.  Through a pointer, so that UBSan's
 * nonnull check does not see the call. */
static size_t (*volatile strlen_ptr)(const char *) = strlen;
static const char *volatile null_str;

__attribute__((noinline)) static void libc_fault(void)
{
    printf("%zu\n", strlen_ptr(null_str));
}

static void libc_fault_main(void *arg)
{
    (void)arg;
    libc_fault();
    no_tail_call();
}

static void *thread_fault(void *arg)
{
    (void)arg;
    null_deref();
    return NULL;
}

static void plain_thread_main(void *arg)
{
    (void)arg;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_fault, NULL) == 0);
    pthread_join(th, NULL);
}

static gort_chan *started, *never;

__attribute__((noinline)) static void parked_helper(void *arg)
{
    (void)arg;
    gort_chan_send(started, NULL);
    gort_chan_recv(never, NULL);
    no_tail_call();
}

/* With GORTMAXPROCS=1 the helper has parked on `never` before main runs
 * again: its send makes main runnable but keeps the only P. */
static void with_parked_helper(void *arg)
{
    (void)arg;
    started = gort_chan_make(0, 0);
    never = gort_chan_make(0, 0);
    gort_go(parked_helper, NULL);
    gort_chan_recv(started, NULL);
    null_deref();    no_tail_call();
}

/* Runtime code faulting on the scheduler's stack (g0), as a gort bug would:
 * switch to g0 the way every park does, and trap there.  SIGILL, which no
 * sanitizer takes, so every build sees gort's report. */
static void g0_trap(G *g)
{
    (void)g;
    __builtin_trap();
}

static void g0_main(void *arg)
{
    (void)arg;
    M *m = gort__getm();
    gort__mcall_asm(gort__getg(), g0_trap, m->g0_sp);
}

#if GORT_TEST_ASAN
static void heap_overflow_main(void *arg)
{
    (void)arg;
    volatile char *p = malloc(16);
    p[16] = 1;
    free((void *)p);
}

static volatile int spin_on = 1;

static void spin_runnable(void *arg)
{
    (void)arg;
    while (spin_on)
        ;
}

/* The same report with goroutines waiting for the P (GORTMAXPROCS=1): a
 * report whose open/read calls were bracketed (or, with the runtime
 * linked in, that was preempted) lost its P to them and parked, and the
 * thread made for the P blocked on the lock the report holds (ASan's
 * thread registry): hung after the report's first line (sanitizer_linux.c). */
static void heap_overflow_busy_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 4; i++)
        gort_go(spin_runnable, NULL);
    gort_yield();
    heap_overflow_main(NULL);
}
#endif

/* ---------------------------------------------------------------------
 * The cases
 * ------------------------------------------------------------------- */

static void test_overflow(void)
{
    static const crash_case cases[] = {
        {"recursion", overflow_recursion, NULL, NULL, NULL, false},
        {"big frame", overflow_big_frame, NULL, NULL, NULL, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const crash_case *c = &cases[i];
        int st = run_case(c);
        if (forwarded(c, st, SIGSEGV))
            continue;
        want(c, st, "gort: fatal error: stack overflow\n");
        want(c, st, "goroutine 1 exceeded its 256 KiB stack");
        want(c, st, "raise the limit with GORTSTACKSIZE=512K\n");
        want(c, st, "\ngoroutine 1 [running]:\n");
        /* The fault's report prints the faulting pc's frame indented;
         * the check's report starts at the function that did not fit,
         * and names it. */
        if (split_mode()) {
            want(c, st, i == 0 ? "[stack check: recurse" : "[stack check: big_frame needs a 30");
            const char *tb = strstr(out, "[running]:\n");
            if (!tb || !strstr(tb, i == 0 ? "recurse" : "big_frame"))
                fail_case(c, st, "function not in the traceback");
        } else {
            want_frame(c, st, i == 0 ? "recurse" : "big_frame");
        }
        want_not(c, st, "unexpected signal");
        want_overflow_end(c, st);
    }
    /* A signal handler off the alternate signal stack: named as such, not
     * "unexpected signal" (an adversarial hunt).  Split-stack mode's
     * checks do not cover the signal stack; the guard page still does. */
    crash_case h = {"signal handler", overflow_in_handler, NULL, NULL, NULL, false};
    int hst = run_case(&h);
    if (!forwarded(&h, hst, SIGSEGV)) {
        want(&h, hst, "gort: fatal error: stack overflow in a signal handler\n");
        want(&h, hst, "alternate signal stack");
        want(&h, hst, "recurse");
        want_not(&h, hst, "unexpected signal");
        want_killed(&h, hst, SIGSEGV);
    }
    /* A goroutine other than main, with a smaller stack. */
    crash_case c = {"other goroutine, 64K", overflow_other, NULL, "64K", NULL, false};
    int st = run_case(&c);
    if (!forwarded(&c, st, SIGSEGV)) {
        want(&c, st, "gort: fatal error: stack overflow\n");
        want(&c, st, "exceeded its 64 KiB stack");
        want(&c, st, "GORTSTACKSIZE=128K\n");
        want_frame(&c, st, "recurse");
        want_not(&c, st, "goroutine 1 exceeded");
        /* The check's report is a fatal error, which lists every
         * goroutine (Go's throw); the fault's only the faulting one. */
        if (split_mode())
            want(&c, st, "\ngoroutine 1 [chan receive]:\n");
        else
            want_not(&c, st, "goroutine 1 [");
        want_overflow_end(&c, st);
    }
    /* Overflow inside libc under a deep recursion: reported, and in
     * seconds (97 s before the walk's scan was bounded). */
    crash_case d = {"deep recursion into libc", overflow_deep_libc, NULL, NULL, NULL, false};
    int64_t t0 = clock_ns(CLOCK_MONOTONIC);
    int dst = run_case(&d);
    double took = (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
    if (!forwarded(&d, dst, SIGSEGV)) {
        want(&d, dst, "gort: fatal error: stack overflow\n");
        want(&d, dst, "\ngoroutine 1 [running]:\n");
        want_frame(&d, dst, "deep_libc");
        want_overflow_end(&d, dst);
        if (took > 30)
            fail_case(&d, dst, "the report took more than 30 s");
    }
    /* A libc frame larger than a page, with little stack left. */
    crash_case l = {"libc frame past a page", overflow_libc_frame, NULL, NULL, NULL, false};
    int lst = run_case(&l);
    if (!forwarded(&l, lst, SIGSEGV)) {
        want(&l, lst, "gort: fatal error: stack overflow\n");
        want(&l, lst, "goroutine 1 exceeded its 256 KiB stack");
        want(&l, lst, "\ngoroutine 1 [running]:\n");
        /* The program's frames below libc's (the fault's walk finds the
         * call into libc above sp, which lies below the stack). */
        want_frame(&l, lst, "near_bottom");
        want_not(&l, lst, "unexpected signal");
        want_overflow_end(&l, lst);
    }
}

static void test_signals(void)
{
    static const struct {
        crash_case c;
        int sig;
        const char *title, *line, *frame, *entry;
    } cases[] = {
        {{"NULL", segv_main, NULL, NULL, NULL, false}, SIGSEGV,
         "gort: fatal error: unexpected signal SIGSEGV: segmentation violation\n",
         "[signal SIGSEGV: segmentation violation code=SEGV_MAPERR addr=0x0 pc=0x",
         "null_deref", "segv_main"},
        {{"divide by zero", fpe_main, NULL, NULL, NULL, false}, SIGFPE,
         "gort: fatal error: unexpected signal SIGFPE: floating-point exception\n",
         "[signal SIGFPE: floating-point exception code=FPE_INTDIV addr=0x",
         "divide", "fpe_main"},
        {{"mapping past EOF", bus_main, NULL, NULL, NULL, false}, SIGBUS,
         "gort: fatal error: unexpected signal SIGBUS: bus error\n",
         "[signal SIGBUS: bus error code=BUS_ADRERR addr=0x",
         "past_eof", "bus_main"},
        {{"__builtin_trap", ill_main, NULL, NULL, NULL, false}, SIGILL,
         "gort: fatal error: unexpected signal SIGILL: illegal instruction\n",
         "[signal SIGILL: illegal instruction code=ILL_ILLOPN addr=0x",
         "trap_here", "ill_main"},
        {{"int3", trap_main, NULL, NULL, NULL, false}, SIGTRAP,
         "gort: fatal error: unexpected signal SIGTRAP: trace trap\n",
         "[signal SIGTRAP: trace trap code=SI_KERNEL addr=0x0 pc=0x",
         "breakpoint_here", "trap_main"},
        {{"abort()", abort_main, NULL, NULL, NULL, false}, SIGABRT,
         "gort: fatal error: unexpected signal SIGABRT: abort\n",
         "[signal SIGABRT: abort code=SI_TKILL pid=",
         "call_abort", "abort_main"},
        {{"NULL into strlen", libc_fault_main, NULL, NULL, NULL, false}, SIGSEGV,
         "gort: fatal error: unexpected signal SIGSEGV: segmentation violation\n",
         "[signal SIGSEGV: segmentation violation code=SEGV_MAPERR addr=0x0 pc=0x",
         "libc_fault", "libc_fault_main"},
#if !GORT_TEST_ASAN /* ASan reports the broken heap's write itself */
        /* A broken heap does not stop the report. */
        {{"broken heap", broken_heap_main, NULL, NULL, NULL, false}, SIGSEGV,
         "gort: fatal error: unexpected signal SIGSEGV: segmentation violation\n",
         "[signal SIGSEGV: segmentation violation code=SEGV_MAPERR addr=0x0 pc=0x",
         "null_deref", "broken_heap_main"},
#endif
        /* The loader's lock held for good by another thread: the report
         * still comes (it waited for ever in dladdr). */
        {{"loader lock held", loader_locked_main, NULL, NULL, NULL, false}, SIGSEGV,
         "gort: fatal error: unexpected signal SIGSEGV: segmentation violation\n",
         "[signal SIGSEGV: segmentation violation code=SEGV_MAPERR addr=0x0 pc=0x",
         "null_deref", "loader_locked_main"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const crash_case *c = &cases[i].c;
        int st = run_case(c);
        if (forwarded(c, st, cases[i].sig))
            continue;
        want(c, st, cases[i].title);
        want(c, st, cases[i].line);
        want(c, st, "\ngoroutine 1 [running]:\n");
        want_frame(c, st, cases[i].frame);
        want_frame(c, st, cases[i].entry);
        want_not(c, st, "stack overflow");
        want_killed(c, st, cases[i].sig);
    }
}

/* Not gort's: a plain thread's fault, and a signal the program handles. */
static void test_not_ours(void)
{
    crash_case c = {"plain pthread", plain_thread_main, NULL, NULL, NULL, false};
    int st = run_case(&c);
    if (!forwarded(&c, st, SIGSEGV)) {
        want_not(&c, st, "gort:");
        want_killed(&c, st, SIGSEGV);
    }

    /* Installed before gort (so gort saw it as the previous handler): it
     * runs, in place of any report, in every build. */
    crash_case p = {"previous handler", segv_main, NULL, NULL, NULL, true};
    st = run_case(&p);
    want(&p, st, "program's own handler ran\n");
    want_not(&p, st, "gort: fatal error");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 42)
        fail_case(&p, st, "did not exit 42 from the program's handler");
}

static void test_traceback_levels(void)
{
    /* SIGILL: no sanitizer handles it, so every build checks these. */
    crash_case none = {"GORTTRACEBACK=none", ill_main, "none", NULL, NULL, false};
    int st = run_case(&none);
    want(&none, st, "gort: fatal error: unexpected signal SIGILL: illegal instruction\n");
    want(&none, st, "[signal SIGILL: illegal instruction code=ILL_ILLOPN");
    want_not(&none, st, "goroutine 1");
    want_not(&none, st, "trap_here");
    want_killed(&none, st, SIGILL);

    crash_case crash = {"GORTTRACEBACK=crash", ill_main, "crash", NULL, NULL, false};
    st = run_case(&crash);
    want(&crash, st, "gort: fatal error: unexpected signal SIGILL: illegal instruction\n");
    want_frame(&crash, st, "trap_here");
    want_killed(&crash, st, SIGABRT);

    /* The parked helper goroutine shows up only at all (and above). */
    crash_case single = {"GORTTRACEBACK=single", with_parked_helper, "single", NULL, "1", false};
    st = run_case(&single);
    if (!forwarded(&single, st, SIGSEGV)) {
        want_frame(&single, st, "null_deref");
        want_frame(&single, st, "with_parked_helper");
        want_no_frame(&single, st, "parked_helper");
        want_killed(&single, st, SIGSEGV);
    }
    crash_case all = {"GORTTRACEBACK=all", with_parked_helper, "all", NULL, "1", false};
    st = run_case(&all);
    if (!forwarded(&all, st, SIGSEGV)) {
        want(&all, st, "\ngoroutine 1 [running]:\n");
        want_frame(&all, st, "null_deref");
        want_frame(&all, st, "parked_helper");
        want(&all, st, "chan receive");
        want_killed(&all, st, SIGSEGV);
    }
}

static void test_scheduler_fault(void)
{
    crash_case c = {"fault on g0", g0_main, NULL, NULL, NULL, false};
    int st = run_case(&c);
    want(&c, st, "gort: fatal error: unexpected signal SIGILL: illegal instruction in the "
                 "scheduler (M");
    want(&c, st, "[signal SIGILL: illegal instruction code=ILL_ILLOPN");
    want(&c, st, "\nscheduler stack (M");
    want_frame(&c, st, "g0_trap");
    want_not(&c, st, "goroutine 1 [running]");
    want_killed(&c, st, SIGILL);
}

/* ASan's own reports (not signals at all) come out as they always did. */
static void test_asan(void)
{
#if GORT_TEST_ASAN
    static const crash_case cases[] = {
        {"ASan heap overflow", heap_overflow_main, NULL, NULL, NULL, false},
        {"ASan report, goroutines waiting", heap_overflow_busy_main, NULL, NULL, "1", false},
    };
    /* The second hung in 8 runs of 20 beside two busy loops (gcc's
     * libasan): it runs 5 times. */
    for (int i = 0; i < 6; i++) {
        const crash_case *c = &cases[i == 0 ? 0 : 1];
        int st = run_case(c);
        want(c, st, "AddressSanitizer: heap-buffer-overflow");
        want(c, st, "SUMMARY: AddressSanitizer"); /* the report's end */
        want_not(c, st, "gort: fatal error");
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            fail_case(c, st, "exited 0");
    }
#else
    printf("  ASan report case: not an ASan build, skipped\n");
#endif
}

int main(void)
{
    for (int s = 1; s < NSIG; s++) {
        struct sigaction sa;
        if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN)
            owned[s] = true;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    test_overflow();
    test_signals();
    test_not_ours();
    test_traceback_levels();
    test_scheduler_fault();
    test_asan();
    printf("ok\n");
    return 0;
}
