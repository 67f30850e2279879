/* The runtime keeps no descriptor a program could close under it.  Daemons
 * close every descriptor above 2 (close_range) and reuse the numbers; a
 * runtime that held one of them would later act on the program's file:
 * an M's exit used to close its kept /proc stat file, and the scavenger
 * kept a pidfd for process_madvise.  So: threads are made to exist (and
 * some to end), stacks to be batched and scavenged; then everything above
 * 2 is closed and the low numbers are taken again by /dev/null; then the
 * same runs again.  Every one of the program's descriptors must still be
 * open on /dev/null afterwards, and nothing else but transient /proc files
 * may be open: in particular no pidfd (mem_linux.c names the process by
 * the kernel's PIDFD_SELF sentinel, or advises range by range). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "check.h"

#define NFILES 48
#define BOUND_MS 1000

static gort_waitgroup wg, reached;
static gort_chan *hold;

/* A goroutine that returns locked to its thread takes the thread (its M)
 * with it. */
static void locked_exit(void *arg)
{
    (void)arg;
    gort_lock_thread();
    gort_wg_done(&wg);
}

static void deep(void *arg)
{
    CHECK(use_stack_kib((int)(intptr_t)arg) >= 0);
    gort_wg_done(&reached);
    gort_chan_recv(hold, NULL);
    gort_wg_done(&wg);
}

/* Ms that end, a burst of 200 living goroutines (new stacks in batches,
 * guards installed by process_madvise where the kernel has guard
 * markers), whose 128 KiB deep stacks the scavenger then drops: RSS
 * settles back within the bound. */
static void exercise(void)
{
    gort_wg_add(&wg, 8);
    for (int i = 0; i < 8; i++)
        CHECK(gort_go(locked_exit, NULL) == 0);
    gort_wg_wait(&wg);

    long before = rss_bytes();
    const int n = 200;
    hold = gort_chan_make(0, 0);
    gort_wg_add(&wg, n);
    gort_wg_add(&reached, n);
    for (int i = 0; i < n; i++)
        CHECK(gort_go(deep, (void *)(intptr_t)128) == 0);
    gort_wg_wait(&reached);
    gort_chan_close(hold);
    gort_wg_wait(&wg);
    gort_chan_free(hold);
    /* The kept tops are 16 KiB each; the deep parts (~25 MiB) go back. */
    int64_t t0 = gort_nanotime();
    while (rss_bytes() > before + 12L * 1024 * 1024) {
        if (gort_nanotime() - t0 > BOUND_MS * 1000000LL) {
            CHECK(GORT_TEST_ASAN, "RSS +%ld KiB after %d ms: nothing scavenged",
                  (rss_bytes() - before) / 1024, BOUND_MS);
            break; /* ASan's shadow of the stacks stays resident */
        }
        gort_sleep(1000000);
    }
}

static void body(void *arg)
{
    (void)arg;
    exercise();

    /* What a daemon does once the runtime runs. */
    CHECK_CALL(syscall(SYS_close_range, 3, ~0U, 0), 0);
    int fds[NFILES];
    struct stat null_st;
    CHECK_CALL(stat("/dev/null", &null_st), 0);
    for (int i = 0; i < NFILES; i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(fds[i] == 3 + i, "open gave %d, not the lowest free number %d", fds[i], 3 + i);
    }

    exercise();
    exercise();

    for (int i = 0; i < NFILES; i++) {
        struct stat st;
        CHECK(fstat(fds[i], &st) == 0, "fd %d was closed under the program: %s", fds[i],
              strerror(errno));
        CHECK(st.st_rdev == null_st.st_rdev && S_ISCHR(st.st_mode),
              "fd %d is no longer /dev/null", fds[i]);
    }
    /* Nothing the program did not open, but a /proc file read for a moment. */
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d) || (fd >= 3 && fd < 3 + NFILES))
            continue;
        char p[64], l[256];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        ssize_t r = readlink(p, l, sizeof l - 1);
        if (r < 0)
            continue; /* closed meanwhile */
        l[r] = 0;
        CHECK(strncmp(l, "/proc/", 6) == 0, "the runtime holds fd %d: %s", fd, l);
    }
    closedir(d);
    for (int i = 0; i < NFILES; i++)
        CHECK_CALL(close(fds[i]), 0);
}

static void child(void *arg)
{
    (void)arg;
    setenv("GORTMAXPROCS", "2", 1);
    exit(gort_main(body, NULL));
}

int main(void)
{
    expect_child(child, NULL, 0, NULL, NULL);
    return 0;
}
