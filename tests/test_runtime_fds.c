/* The runtime keeps no descriptor a program could close under it.  Daemons
 * close every descriptor above 2 (close_range) and reuse the numbers; a
 * runtime that held one of them would later act on the program's file:
 * an M's exit used to close its kept /proc stat file, and the scavenger
 * kept a pidfd for process_madvise.  So: threads are made to exist (and
 * some to end), stacks to be batched and scavenged; then everything above
 * 2 is closed and the low numbers are taken again by /dev/null; then the
 * same runs again.  Every one of the program's descriptors must still be
 * open on /dev/null afterwards, and nothing else but transient /proc files
 * may be open.  And no pidfd at any moment: a seccomp filter kills the
 * child at a pidfd_open, or at a process_madvise given a real descriptor
 * (mem_linux.c names the process by the kernel's PIDFD_SELF_THREAD
 * sentinel, or advises range by range).  Nor a module's file after a
 * traceback with file:line (dwarf.c).  A second child checks that a
 * traceback's fallback pipe does not outlive the dump that made it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
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

/* A dump whose frames get file:line: libdw reads the program's DWARF.
 * It used to keep each module's file open for that, above the numbers
 * the program had just taken; the scan that follows sees any such fd. */
static void dump_with_lines(void)
{
    int fd = memfd_create("dump", MFD_CLOEXEC);
    CHECK(fd >= 0);
    CHECK_EQ(gort_dump_goroutines(fd), 0);
    static char buf[1 << 16];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    CHECK(n > 0);
    buf[n] = 0;
    if (have_libdw())
        CHECK(strstr(buf, "tests/test_runtime_fds.c:"), "no file:line in the dump:\n%s", buf);
    CHECK_CALL(close(fd), 0);
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
    dump_with_lines();

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

/* Install a seccomp filter of n instructions (threads made afterwards,
 * all of the runtime's, inherit it). */
static void install_filter(struct sock_filter *f, unsigned short n)
{
    struct sock_fprog prog = {n, f};
    CHECK_CALL(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    CHECK_CALL(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
}

/* A filter's first three instructions: load the system call's number,
 * or on another architecture jump `to_allow` instructions ahead. */
#define LOAD_NR_ON_X86_64(to_allow)                                              \
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),     \
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, (to_allow)),   \
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))

/* Kill the process at pidfd_open, and at process_madvise with a
 * descriptor (its first argument, an int, >= 0); allow everything else. */
static void forbid_pidfds(void)
{
    struct sock_filter f[] = {
        LOAD_NR_ON_X86_64(7),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_madvise, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x80000000u, 2, 0), /* negative: a sentinel */
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    install_filter(f, sizeof f / sizeof f[0]);
}

static void child(void *arg)
{
    (void)arg;
    forbid_pidfds();
    setenv("GORTMAXPROCS", "2", 1);
    exit(gort_main(body, NULL));
}

/* ---- the traceback's pipe ----
 * Where process_vm_readv is refused (a seccomp filter here), a traceback
 * reads frames of unknown stacks through a pipe (traceback.c); a dump from
 * a plain thread walks its own stack so.  Once the dump is over no pipe
 * may be left open: a kept one is the program's to close, and once the
 * program had made a pipe of its own on the same numbers, the next dump
 * read 16 of its bytes and wrote 16 of the runtime's into it. */
static int dump_fd;

static void *dump_thread(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_dump_goroutines(dump_fd), 0);
    return NULL;
}

/* The pipes open now, as a bit set of fd numbers below 1024. */
static void open_pipes(uint64_t set[16])
{
    memset(set, 0, 16 * sizeof set[0]);
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd >= 1024 || fd == dirfd(d))
            continue;
        char p[64], l[256];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        ssize_t r = readlink(p, l, sizeof l - 1);
        if (r > 0 && strncmp(l, "pipe:", 5) == 0)
            set[fd / 64] |= UINT64_C(1) << (fd % 64);
    }
    closedir(d);
}

static void pipe_body(void *arg)
{
    (void)arg;
    uint64_t before[16], after[16];
    dump_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK(dump_fd >= 0);
    open_pipes(before); /* what the test's own parent left open */
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, dump_thread, NULL), 0);
    CHECK_EQ(pthread_join(th, NULL), 0);
    open_pipes(after);
    for (int i = 0; i < 16; i++)
        CHECK((after[i] & ~before[i]) == 0, "a dump left a pipe open (fds %d-%d: %#llx)",
              64 * i, 64 * i + 63, (unsigned long long)(after[i] & ~before[i]));
}

/* process_vm_readv fails with EPERM. */
static void refuse_vm_readv(void)
{
    struct sock_filter f[] = {
        LOAD_NR_ON_X86_64(3),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    install_filter(f, sizeof f / sizeof f[0]);
}

static void pipe_child(void *arg)
{
    (void)arg;
    refuse_vm_readv();
    exit(gort_main(pipe_body, NULL));
}

int main(void)
{
    expect_child(child, NULL, 0, NULL, NULL);
    expect_child(pipe_child, NULL, 0, NULL, NULL);
    return 0;
}
