/* Goroutines that have not run yet hold no stack (src/unstarted.c).
 *
 * On one P, goroutine 1 makes N goroutines inside gort_preempt_disable,
 * so none of them runs before the last is made; then it waits for them.
 * Each records the frame address it runs at and the argument it was
 * given.  Checks:
 *   - every goroutine ran once, with its own argument, and the ids they
 *     see are N distinct ones;
 *   - while they are queued (200 of them, first), a dump lists them as
 *     runnable, "not started yet", with their creator;
 *   - they ran on few stacks: each finishes before the next starts, so
 *     the next takes the stack the last one left (at most a handful of
 *     distinct 64 KiB regions).  With GORTDEBUG=lazystacks=0 (a stack
 *     made with each goroutine) the same count is N: the check can fail;
 *   - a goroutine made by a goroutine that blocked a signal starts with
 *     that signal blocked (the record carries the mask into its G).
 * Frame addresses, not RSS: they mean the same under ASan and valgrind. */
#define _GNU_SOURCE
#include "check.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

enum { N = 5000, DUMPED = 200 };
static uintptr_t *frames;
static uint64_t *ids;
static _Atomic long ran, argsum;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static void child(void *arg)
{
    long i = (long)(intptr_t)arg;
    frames[i] = (uintptr_t)__builtin_frame_address(0);
    ids[i] = gort_self();
    atomic_fetch_add(&argsum, i);
    atomic_fetch_add(&ran, 1);
    gort_wg_done(&wg);
}

static int cmp_u(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

/* Distinct values of v[0..n) >> shift (sorts v). */
static long distinct(uintptr_t *v, long n, int shift)
{
    for (long i = 0; i < n; i++)
        v[i] >>= shift;
    qsort(v, (size_t)n, sizeof *v, cmp_u);
    long d = 0;
    for (long i = 0; i < n; i++)
        d += i == 0 || v[i] != v[i - 1];
    return d;
}

static bool lazy;

static void count_dump(int fd, long *runnable, long *unstarted, long *created)
{
    char *buf = malloc(1 << 22);
    CHECK(buf);
    ssize_t len = pread(fd, buf, (1 << 22) - 1, 0);
    CHECK(len > 0);
    buf[len] = 0;
    *runnable = *unstarted = *created = 0;
    for (char *p = buf; (p = strstr(p, "[runnable]")); p++)
        ++*runnable;
    for (char *p = buf; (p = strstr(p, "not started yet")); p++)
        ++*unstarted;
    for (char *p = buf; (p = strstr(p, "created by gmain")); p++)
        ++*created;
    free(buf);
}

static void masked_child(void *arg)
{
    sigset_t s;
    CHECK(pthread_sigmask(SIG_SETMASK, NULL, &s) == 0);
    *(int *)arg = sigismember(&s, SIGUSR2) == 1 ? 1 : 2;
    gort_wg_done(&wg);
}

static void gmain(void *arg)
{
    (void)arg;
    frames = calloc(N, sizeof *frames);
    ids = calloc(N, sizeof *ids);
    CHECK(frames && ids);

    /* DUMPED of them queued: a dump shows them (a dump of all N takes a
     * minute under ASan, which symbolizes every creator). */
    gort_wg_add(&wg, DUMPED);
    gort_preempt_disable();
    for (long i = 0; i < DUMPED; i++)
        CHECK_EQ(gort_go(child, (void *)(intptr_t)i), 0);
    CHECK_EQ(atomic_load(&ran), 0); /* one P, and we never let it go */
    char path[] = "/tmp/gort-unstarted-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK_EQ(gort_dump_goroutines(fd), 0);
    gort_preempt_enable();
    long runnable, unstarted, created;
    count_dump(fd, &runnable, &unstarted, &created);
    close(fd);
    printf("dump while queued: %ld runnable, %ld not started yet, %ld created by gmain\n",
           runnable, unstarted, created);
    CHECK(runnable >= DUMPED && unstarted >= DUMPED && created >= DUMPED);
    gort_wg_wait(&wg);
    CHECK_EQ(atomic_load(&ran), DUMPED);

    /* All N made before any runs. */
    atomic_store(&ran, 0);
    atomic_store(&argsum, 0);
    gort_wg_add(&wg, N);
    gort_preempt_disable();
    for (long i = 0; i < N; i++)
        CHECK_EQ(gort_go(child, (void *)(intptr_t)i), 0);
    CHECK_EQ(atomic_load(&ran), 0);
    gort_preempt_enable();
    gort_wg_wait(&wg);
    CHECK_EQ(atomic_load(&ran), N);
    CHECK_EQ(atomic_load(&argsum), (long)N * (N - 1) / 2);
    long nid = distinct((uintptr_t *)ids, N, 0);
    CHECK_EQ(nid, N);
    long stacks = distinct(frames, N, 16);
    printf("%d goroutines made before any ran: %ld distinct stacks (lazystacks=%d)\n", N,
           stacks, lazy);
    if (lazy)
        CHECK(stacks <= 8, "%ld stacks for goroutines that ran one after another", stacks);
    else
        CHECK(stacks >= N / 2, "only %ld stacks with a stack per goroutine made", stacks);

    /* The mask a record carries. */
    sigset_t s, old;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    CHECK(pthread_sigmask(SIG_BLOCK, &s, &old) == 0);
    int seen = 0;
    gort_wg_add(&wg, 1);
    gort_preempt_disable();
    CHECK_EQ(gort_go(masked_child, &seen), 0);
    gort_preempt_enable();
    CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
    gort_wg_wait(&wg);
    CHECK(seen == 1, "the child did not start with SIGUSR2 blocked (%d)", seen);
    free(frames);
    free(ids);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    lazy = true;
    run_main_child(gmain, NULL, "1", NULL);
    lazy = false;
    run_main_child(gmain, NULL, "1", "lazystacks=0");
    printf("goroutines not started yet hold no stack\n");
    return 0;
}
