/* Stacks: a goroutine can use most of its 256 KiB stack; running past it
 * hits the guard page (SIGSEGV, not silent corruption); on an unguarded
 * slab stack it is reported as a stack overflow at the next switch; and a burst of
 * goroutines that grew deep stacks does not pin that memory after they
 * exit (their pooled stacks are returned with madvise by the scavenger
 * thread, within its documented bound). */
#include "check.h"
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#define SCAVENGE_BOUND_MS 1000 /* docs/DESIGN.md "Stacks" */


static gort_waitgroup wg, reached;
static gort_chan *hold;

static void use_stack(void *arg)
{
    long levels = (long)(intptr_t)arg;
    CHECK(use_stack_kib((int)levels) >= 0);
    gort_wg_done(&reached);
    gort_chan_recv(hold, NULL); /* keep the stack alive until released */
    gort_wg_done(&wg);
}

static void burst_main(void *arg)
{
    (void)arg;
    hold = gort_chan_make(0, 0);
    /* Warm up: allocate the Gs and stacks once, shallow. */
    const int n = 300;
    long before = rss_bytes();
    gort_wg_add(&wg, n);
    gort_wg_add(&reached, n);
    for (int i = 0; i < n; i++)
        gort_go(use_stack, (void *)(intptr_t)128); /* ~128 KiB each */
    gort_wg_wait(&reached);
    long peak = rss_bytes();
    gort_chan_close(hold);
    gort_wg_wait(&wg);
    /* The scavenger thread returns the deep pages; DESIGN.md "Stacks"
     * documents the bound it works within (SCAVENGE_BOUND_MS). */
    int64_t t0 = gort_nanotime();
    long after;
    do {
        gort_sleep(1000000);
        after = rss_bytes();
    } while (after - before >= 12L * 1024 * 1024 &&
             gort_nanotime() - t0 < SCAVENGE_BOUND_MS * 1000000LL);
    printf("deep pages returned in %lld ms\n", (long long)((gort_nanotime() - t0) / 1000000));
    printf("burst of %d deep goroutines: RSS +%ld KiB at peak, +%ld KiB after exit\n",
            n, (peak - before) / 1024, (after - before) / 1024);
    printf("before %ld KiB peak %ld KiB after %ld KiB\n", before / 1024, peak / 1024, after / 1024);
    CHECK(peak - before > (long)n * 100 * 1024, "stacks were not touched?");
#if !GORT_TEST_ASAN
    /* The top 16 KiB of each pooled stack stays: 300 * 16 KiB = 4.7 MiB. */
    CHECK(after - before < 12L * 1024 * 1024, "deep pooled stacks pin %ld KiB",
          (after - before) / 1024);
#endif
}

static void ok_main(void *arg)
{
    (void)arg;
    CHECK(use_stack_kib(200) >= 0); /* ~200 KiB of a 256 KiB stack */
}

static void overflow_main(void *arg)
{
    (void)arg;
    use_stack_kib(1000); /* ~1 MiB: past the guard page */
    fprintf(stderr, "survived a stack overflow?\n");
}

/* Slab stacks (GORTDEBUG=guardedstacks=0): no guard page, so an overflow
 * must be caught at the goroutine's next switch, before the goroutines
 * around it are harmed.  The innocents yield all along on the other P and
 * check their own stack; the overflower runs ~16 KiB past its 64 KiB. */
static _Atomic int innocents_ok;

static void innocent(void *arg)
{
    (void)arg;
    volatile char mine[512];
    for (int i = 0; i < 512; i++)
        mine[i] = (char)i;
    for (;;) {
        for (int i = 0; i < 512; i++)
            if (mine[i] != (char)i) {
                fprintf(stderr, "innocent goroutine's stack corrupted\n");
                _exit(3);
            }
        atomic_fetch_add(&innocents_ok, 1);
        gort_yield();
    }
}

__attribute__((noinline)) static long deep_then_yield(int n)
{
    volatile char buf[1000];
    buf[0] = (char)n;
    __asm__ volatile("" : : "r"(buf) : "memory");
    if (n == 0) {
        gort_yield(); /* switch while still past the bottom */
        return buf[0];
    }
    return deep_then_yield(n - 1) + buf[0];
}

static void overflower(void *arg)
{
    if (arg)
        deep_then_yield(80);
    else
        use_stack_kib(80); /* returns, then switches: the red zone tells */
    gort_yield();
    fprintf(stderr, "overflow of a slab stack went unnoticed\n");
    _exit(4);
}

static void slab_main(void *arg)
{
    for (int i = 0; i < 8; i++)
        gort_go(innocent, NULL);
    while (atomic_load(&innocents_ok) < 100)
        gort_yield();
    gort_go(overflower, arg);
    for (;;)
        gort_yield();
}

static void slab_child(void *arg)
{
    setenv("GORTDEBUG", "guardedstacks=0", 1);
    setenv("GORTSTACKSIZE", "64K", 1);
    setenv("GORTMAXPROCS", "2", 1);
    exit(gort_main(slab_main, arg));
}

static void expect_slab_overflow(void *arg)
{
    char buf[16384];
    int st = capture_child(slab_child, arg, buf, sizeof buf);
    /* Split-stack mode: the prologue's check catches it before the red
     * zone is written (morestack.c), with its own wording. */
    const char *head = split_mode() ? "gort: fatal error: stack overflow\n[stack check: "
                                    : "gort: fatal error: stack overflow: goroutine ";
    const char *size = split_mode() ? "exceeded its 64 KiB stack" : "-byte stack (GORTSTACKSIZE=65536;";
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 2) || !strstr(buf, head) || !strstr(buf, size) ||
        !strstr(buf, "goroutine function: overflower") ||
        strstr(buf, "corrupted") || strstr(buf, "SIGSEGV") || strstr(buf, "SIGBUS"))
        fprintf(stderr, "slab overflow child: status %#x; stderr:\n%s\n", st, buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CHECK(strstr(buf, head));
    CHECK(strstr(buf, size));
    /* The traceback is the overflowing goroutine's. */
    CHECK(strstr(buf, "goroutine function: overflower"));
    CHECK(!strstr(buf, "corrupted") && !strstr(buf, "SIGSEGV") && !strstr(buf, "SIGBUS"));
}

/* Past the old guarded-stack budget (vm.max_map_count 65530 allowed
 * ~24.5k stacks with a PROT_NONE page each): with guard markers every
 * stack has its guard, so the 30001st goroutine's overflow still faults
 * in its guard page and is reported as a stack overflow.  Without them
 * (kernels before 6.13) such stacks are red-zone slab stacks, tested
 * above. */
#define MANY 30000
static gort_waitgroup many_parked;

static void parked(void *arg)
{
    (void)arg;
    gort_wg_done(&many_parked);
    gort_chan_recv(hold, NULL);
}

static void overflow_late(void *arg)
{
    (void)arg;
    use_stack_kib(1000);
    fprintf(stderr, "survived a stack overflow?\n");
}

static void many_main(void *arg)
{
    (void)arg;
    hold = gort_chan_make(0, 0);
    gort_wg_add(&many_parked, MANY);
    for (int i = 0; i < MANY; i++)
        CHECK_EQ(gort_go(parked, NULL), 0);
    gort_wg_wait(&many_parked);
    gort_go(overflow_late, NULL);
    gort_chan_recv(hold, NULL);
}

static bool have_guard_markers(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    bool ok = madvise(p, pg, 102 /* MADV_GUARD_INSTALL */) == 0;
    munmap(p, 2 * pg);
    return ok;
}

static void child(void *fn);

/* gort reports the fault in the guard page; under ASan, whose handler was
 * installed first, gort passes the fault on and ASan reports it. */
static void expect_many_overflow(void)
{
    char buf[16384];
    int st = capture_child(child, (void *)many_main, buf, sizeof buf);
    bool gort = strstr(buf, "gort: fatal error: stack overflow") &&
                strstr(buf, "exceeded its 256 KiB stack");
    bool asan = strstr(buf, "AddressSanitizer: stack-overflow");
    if (!(gort || asan) || !(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0)))
        fprintf(stderr, "overflow past %d goroutines: status %#x; stderr:\n%s\n", MANY, st, buf);
    CHECK(gort || asan);
    CHECK(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0));
}

static void child(void *fn)
{
    exit(gort_main((void (*)(void *))fn, NULL));
}

int main(void)
{
    /* Children first: after gort_main a forked child could not start one. */
    expect_child(child, (void *)overflow_main, -1, NULL, NULL);
    expect_child(child, (void *)burst_main, 0, NULL, NULL);
    expect_slab_overflow(NULL);
    expect_slab_overflow((void *)1);
    if (have_guard_markers() && !split_mode())
        expect_many_overflow();
    run_main(ok_main, NULL);
    return 0;
}
