/*
 * test_callback.c — no goroutine is stopped, or moved to another thread,
 * while a library beneath it holds a lock of its own (not a pthread lock:
 * lib_gortcb.c's spin lock records its owner thread and counts a second
 * entry on that thread and a release on another).  Four goroutines call
 * into the library (half their time under its lock, half in their own
 * preemptible code), at GORTMAXPROCS=1 and 2 with quantum=200us, in three
 * ways that used to fail:
 *   dlopen    the library is dlopen'ed after start and used at once: gort
 *             did not know its code for up to 100 ms, so a callback it
 *             made into the program looked like ordinary program code;
 *   reuse     a registered module (includes gort.h) is dlclosed and a
 *             plain library is loaded at the same address: the stale
 *             registry entry made the plain library's own code
 *             preemptible;
 *   prologue  callbacks whose first instructions are `push %rbp` and then
 *             a stretch of code before `mov %rsp,%rbp` (a real prologue
 *             has one instruction there; the stretch makes the test hit it
 *             every time): the frame check missed the return address one
 *             word above rsp.  Under a library with and without frame
 *             pointers, the library loaded long before.
 * Each case: 0 violations and every call completed.  The split-stack
 * build runs each once more with the prologue stops off
 * (prologuepreemptoff=1), so that signals are sure to land in the library
 * there too: with the stops on, a run can end with no signal sent.
 */
#define _GNU_SOURCE
#include "check.h"

#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>

#define NWORKERS 4

typedef void (*call_fn)(void (*)(void *), void *, long);
typedef long (*spin_fn)(long);

static call_fn lib_call;
static spin_fn lib_spin;
static long *lib_reentered, *lib_moved;
static atomic_bool stop;
static atomic_int running;
static void (*the_cb)(void *);
static bool use_spin;

/* The callback with a prologue stretched between `push %rbp` and
 * `mov %rsp,%rbp`; rbp and rsp are left as the push left them. */
void gortcb_prologue_cb(void *);
__asm__(".text\n"
        ".globl gortcb_prologue_cb\n"
        ".type gortcb_prologue_cb, @function\n"
        "gortcb_prologue_cb:\n"
        "    push %rbp\n"
        "    mov $3000, %eax\n"
        "1:  dec %eax\n"
        "    jnz 1b\n"
        "    mov %rsp, %rbp\n"
        "    pop %rbp\n"
        "    ret\n"
        ".size gortcb_prologue_cb, .-gortcb_prologue_cb\n");

/* An ordinary callback: most of its time in its body. */
static void __attribute__((noinline)) body_cb(void *arg)
{
    (void)arg;
    for (volatile int i = 0; i < 3000; i++)
        ;
}

/* Preemptible work outside the library, as long as a call inside. */
static void __attribute__((noinline)) outside(void)
{
    for (volatile int i = 0; i < 3 * 3000; i++)
        ;
}

static void worker(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        if (use_spin)
            lib_spin(3 * 3000);
        else
            lib_call(the_cb, NULL, 3);
        outside();
    }
    atomic_fetch_sub(&running, 1);
}

static char libdir[4096];

static void *open_lib(const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", libdir, name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECK(h, "dlopen %s: %s", path, dlerror());
    return h;
}

static void bind(void *h)
{
    lib_call = (call_fn)dlsym(h, "gortcb_call");
    lib_spin = (spin_fn)dlsym(h, "gortcb_spin");
    lib_reentered = dlsym(h, "gortcb_reentered");
    lib_moved = dlsym(h, "gortcb_moved");
    CHECK(lib_call && lib_spin && lib_reentered && lib_moved);
}

static long violations;

/* Four workers for ms milliseconds on the bound library. */
static void run_workers(int ms)
{
    atomic_store(&stop, false);
    atomic_store(&running, NWORKERS);
    for (int i = 0; i < NWORKERS; i++)
        gort_go(worker, NULL);
    gort_sleep((int64_t)ms * 1000000);
    atomic_store(&stop, true);
    while (atomic_load(&running) > 0)
        gort_sleep(1000000);
    violations += *lib_reentered + *lib_moved;
    if (*lib_reentered + *lib_moved)
        fprintf(stderr, "under the library's lock: %ld entries on the holder's thread, "
                        "%ld releases on another thread\n", *lib_reentered, *lib_moved);
}

/* The executable range of the object holding addr. */
static uintptr_t seg_lo, seg_hi, seg_addr;
static int seg_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && seg_addr >= lo &&
            seg_addr < lo + ph->p_memsz) {
            seg_lo = lo;
            seg_hi = lo + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

static const char *mode;

static void main_g(void *arg)
{
    (void)arg;
    gort_sleep(20000000); /* well after start: sysmon is running */
    if (strcmp(mode, "dlopen") == 0) {
        /* Loaded, used at once, unloaded: 20 times, with and without
         * frame pointers in the library. */
        for (int r = 0; r < 20; r++) {
            void *h = open_lib(r % 2 ? "libgortcb_nofp.so" : "libgortcb_plain.so");
            bind(h);
            the_cb = body_cb;
            run_workers(25);
            CHECK(dlclose(h) == 0);
        }
    } else if (strcmp(mode, "reuse") == 0) {
        int same = 0;
        for (int r = 0; r < 10; r++) {
            void *h = open_lib("libgortcb_reg.so");
            seg_addr = (uintptr_t)dlsym(h, "gortcb_spin");
            dl_iterate_phdr(seg_cb, NULL);
            uintptr_t lo = seg_lo, hi = seg_hi;
            CHECK(dlclose(h) == 0);
            h = open_lib("libgortcb_plain.so");
            bind(h);
            uintptr_t spin = (uintptr_t)lib_spin;
            if (spin >= lo && spin < hi)
                same++;
            use_spin = true;
            run_workers(40);
            CHECK(dlclose(h) == 0);
        }
        printf("plain library inside the unloaded registered one's code: %d of 10\n", same);
        CHECK(same > 0, "the loader never reused the address: nothing was tested");
    } else {
        /* Loaded long before: only the prologue is tested. */
        void *h1 = open_lib("libgortcb_plain.so");
        void *h2 = open_lib("libgortcb_nofp.so");
        gort_sleep(300000000);
        for (int r = 0; r < 8; r++) {
            bind(r % 2 ? h2 : h1);
            the_cb = r % 4 < 2 ? gortcb_prologue_cb : body_cb;
            run_workers(60);
        }
        CHECK(dlclose(h1) == 0 && dlclose(h2) == 0);
    }
    gort_stats s;
    gort_read_stats(&s);
    const char *dbg = getenv("GORTDEBUG");
    printf("%s GORTMAXPROCS=%s GORTDEBUG=%s: %ld violations, %llu async preemptions, "
           "%llu at a prologue, %llu signals\n", mode, getenv("GORTMAXPROCS"), dbg ? dbg : "",
           violations, (unsigned long long)s.async_preempts,
           (unsigned long long)s.prologue_preempts, (unsigned long long)s.signals_sent);
    fflush(stdout);
    CHECK(violations == 0, "a goroutine was stopped under the library's lock");
    /* Goroutines were stopped, and, unless the stops at a prologue serve
     * every request before its signal is due (split-stack mode: its runs
     * then prove the prologue path), signals reached the threads.  With
     * prologue stops on, a fast machine can finish a 400 ms run with no
     * signal at all (seen: CI's split step, "reuse" at GORTMAXPROCS=1,
     * where 37-211 is usual): the split build runs each configuration a
     * second time with the prologue stops off, and those runs must have
     * sent signals. */
#ifdef GORT_TEST_SPLIT
    bool signals_only = dbg && strstr(dbg, "prologuepreemptoff=1");
    CHECK(s.async_preempts + s.prologue_preempts > 0 && (!signals_only || s.signals_sent > 0),
          "no preemption at all: nothing was tested");
#else
    CHECK(s.async_preempts > 0 && s.signals_sent > 0, "no preemption at all: nothing was tested");
#endif
}

int main(int argc, char **argv)
{
    ssize_t n = readlink("/proc/self/exe", libdir, sizeof libdir - 1);
    CHECK(n > 0);
    libdir[n] = 0;
    *strrchr(libdir, '/') = 0;
    const char *modes[] = {"dlopen", "reuse", "prologue"};
    for (int i = 0; i < 3; i++) {
        if (argc > 1 && strcmp(argv[1], modes[i]) != 0)
            continue;
        mode = modes[i]; /* the children inherit it */
        run_main_child(main_g, NULL, "1", "quantum=200us");
        run_main_child(main_g, NULL, "2", "quantum=200us");
#ifdef GORT_TEST_SPLIT
        run_main_child(main_g, NULL, "1", "quantum=200us,prologuepreemptoff=1");
        run_main_child(main_g, NULL, "2", "quantum=200us,prologuepreemptoff=1");
#endif
    }
    printf("ok\n");
    return 0;
}
