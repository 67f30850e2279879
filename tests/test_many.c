/* Many goroutines: 100k goroutines parked on one channel, four times as
 * many as the default vm.max_map_count (65530) would allow stacks with a
 * PROT_NONE guard page (two VMAs each).  The program must finish and print
 * nothing (no warning about the runtime's internals: stack.c), the resident
 * memory per parked goroutine must stay near one page, and where the
 * kernel has guard markers (MADV_GUARD_INSTALL, Linux 6.13+) the stacks
 * must not cost a VMA each: fewer than one new mapping per 64 goroutines.
 * Run again with the guarded stacks capped where an older kernel's
 * budget ends (GORTDEBUG=guardedstacks=24574): the red-zone stacks past
 * it are silent too. */
#include "check.h"
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#define N 100000
static gort_chan *gate;
static gort_waitgroup started, finished;
static _Atomic long sum;

static void parked(void *arg)
{
    gort_wg_done(&started);
    int v = 0;
    CHECK(gort_chan_recv(gate, &v));
    atomic_fetch_add(&sum, v + (long)(intptr_t)arg);
    gort_wg_done(&finished);
}

static long count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f);
    long n = 0;
    int c;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
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

/* Whether a read of never-written anonymous memory commits a page: most
 * kernels map the shared zero page (no RSS), some (seen: a 6.18 VM kernel)
 * allocate one.  A red-zone stack's check reads the 4 KiB below its stack
 * at every switch (stack.c), so there it costs one page more. */
static bool read_fault_commits(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    enum { PAGES = 256 };
    char *p = mmap(NULL, PAGES * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    long before = rss_bytes();
    for (long i = 0; i < PAGES; i++)
        (void)*(volatile char *)(p + i * pg);
    bool commits = rss_bytes() - before >= PAGES / 2 * pg;
    munmap(p, PAGES * pg);
    return commits;
}

#define GUARDED_CAP 24574 /* the cap of the second run (main) */
#define STR_(x) #x
#define STR(x) STR_(x)

static void gmain(void *arg)
{
    (void)arg;
    gate = gort_chan_make(sizeof(int), 0);
    long maps_before = count_maps();
    long before = rss_bytes();
    gort_wg_add(&started, N);
    gort_wg_add(&finished, N);
    for (long i = 0; i < N; i++)
        CHECK_EQ(gort_go(parked, (void *)(intptr_t)i), 0);
    gort_wg_wait(&started);
    long after = rss_bytes();
    double per = (double)(after - before) / N;
    fprintf(stderr, "RSS per parked goroutine: %.0f bytes\n", per);
    /* Near one page each; in the capped run, plus one page per red-zone
     * stack where reading its red zone commits memory. */
    double bound = 6000;
    if (arg && read_fault_commits())
        bound += 4096.0 * (N - GUARDED_CAP) / N;
    /* ASan's shadow and redzones inflate RSS: no bound there. */
    CHECK(GORT_TEST_ASAN || per < bound, "%.0f bytes per parked goroutine (bound %.0f)", per, bound);
    CHECK(gort_num_goroutine() >= N);
    long maps = count_maps() - maps_before;
    fprintf(stderr, "new mappings for %d parked goroutines: %ld\n", N, maps);
    if (have_guard_markers() && !arg)
        CHECK(maps < N / 64, "%ld new mappings for %d goroutines", maps, N);
    for (int i = 0; i < N; i++) {
        int one = 1;
        gort_chan_send(gate, &one);
    }
    gort_wg_wait(&finished);
    CHECK_EQ(atomic_load(&sum), (long)N + (long)N * (N - 1) / 2);
}

static void child(void *arg)
{
    exit(gort_main(gmain, arg));
}

static void run(const char *debug)
{
    if (debug)
        setenv("GORTDEBUG", debug, 1);
    char buf[16384];
    int st = capture_child(child, (void *)debug, buf, sizeof buf);
    fputs(buf, stderr);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    CHECK(!strstr(buf, "gort:"), "the runtime printed something");
    unsetenv("GORTDEBUG");
}

int main(void)
{
    run(NULL);
    /* What a kernel without guard markers allows at vm.max_map_count
     * 65530: the rest are red-zone slab stacks, silently too. */
    run("guardedstacks=" STR(GUARDED_CAP));
    return 0;
}
