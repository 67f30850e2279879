/*
 * cpus_linux.c — how many CPUs this process may actually use, for the
 * default GORTMAXPROCS: the affinity mask, lowered by a cgroup CPU quota
 * (v2 cpu.max or v1 cpu.cfs_quota_us/period) anywhere on the path from our
 * cgroup up to the hierarchy's root, rounded up — a container limited to
 * 1.5 CPUs gets 2 Ps, not one per host core.  And the moves of a woken
 * M (mstart.c mpark): off its running waker's CPU (gort__cpu_leave), or
 * pinned to its sleeping waker's until it runs (gort__cpu_pin_here,
 * gort__cpu_unpin).  And the short time slice asked for sysmon's thread,
 * undone in the threads it creates (gort__cpu_sysmon_thread).
 *
 * Rejected: sysconf(_SC_NPROCESSORS_ONLN) (ignores affinity and quotas),
 * reading cgroup limits only at /sys/fs/cgroup/cpu.max (wrong inside
 * nested cgroups and on v1 hosts: we follow /proc/self/cgroup through
 * /proc/self/mountinfo instead).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <ctype.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int affinity_cpus(void)
{
    /* Retry with larger masks: hosts with > 1024 CPUs need more than the
     * fixed cpu_set_t. */
    for (int ncpu = 1024; ncpu <= (1 << 16); ncpu *= 2) {
        size_t sz = CPU_ALLOC_SIZE(ncpu);
        cpu_set_t *set = CPU_ALLOC(ncpu);
        if (!set)
            break;
        CPU_ZERO_S(sz, set);
        if (sched_getaffinity(0, sz, set) == 0) {
            int n = CPU_COUNT_S(sz, set);
            CPU_FREE(set);
            return n > 0 ? n : 1;
        }
        CPU_FREE(set);
        if (errno != EINVAL)
            break;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Read a small file into buf (NUL-terminated, trailing newline cut). */
static bool read_small(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t r = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[r] = 0;
    while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == ' '))
        buf[--r] = 0;
    return r > 0;
}

/* CPUs allowed by the quota files in dir, or 0 for "no limit here". */
static int cgroup_dir_limit(const char *dir, bool v2)
{
    char path[PATH_MAX], a[64], b[64];
    uint64_t quota, period;
    if (v2) {
        /* cpu.max: "max 100000" or "<quota> <period>" */
        if (snprintf(path, sizeof path, "%s/cpu.max", dir) >= (int)sizeof path ||
            !read_small(path, a, sizeof a))
            return 0;
        char *sp = strchr(a, ' ');
        if (!sp)
            return 0;
        if (!gort__parse_u64(a, sp, &quota) || !gort__parse_u64(sp + 1, sp + 1 + strlen(sp + 1), &period))
            return 0; /* "max" lands here */
    } else {
        if (snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir) >= (int)sizeof path ||
            !read_small(path, a, sizeof a))
            return 0;
        if (a[0] == '-') /* -1: unlimited */
            return 0;
        if (snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir) >= (int)sizeof path ||
            !read_small(path, b, sizeof b))
            return 0;
        if (!gort__parse_u64(a, a + strlen(a), &quota) || !gort__parse_u64(b, b + strlen(b), &period))
            return 0;
    }
    if (quota == 0 || period == 0)
        return 0;
    uint64_t cpus = (quota + period - 1) / period;
    return cpus > INT_MAX ? INT_MAX : (int)cpus;
}

/* Undo mountinfo's octal escapes (\040 for space) in place. */
static void unescape_mountinfo(char *s)
{
    char *w = s;
    for (char *r = s; *r; ) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
}

static bool has_item(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list; p && *p; ) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == n && memcmp(p, item, n) == 0)
            return true;
        p = c ? c + 1 : NULL;
    }
    return false;
}

/* Smallest CPU quota on our cgroup's path (v2 or v1 "cpu" hierarchy), 0 if
 * none.  Best effort: any parse problem means "no limit found". */
static int cgroup_cpus(void)
{
    char v2path[PATH_MAX] = "", v1path[PATH_MAX] = "";
    bool have_v2 = false, have_v1 = false;
    char *line = NULL;
    size_t cap = 0;
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return 0;
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = 0;
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = *c2 = 0;
        if (strcmp(line, "0") == 0 && c1[1] == 0) {
            snprintf(v2path, sizeof v2path, "%s", c2 + 1);
            have_v2 = true;
        } else if (has_item(c1 + 1, "cpu")) {
            snprintf(v1path, sizeof v1path, "%s", c2 + 1);
            have_v1 = true;
        }
    }
    fclose(f);

    int best = 0;
    f = fopen("/proc/self/mountinfo", "re");
    if (!f) {
        free(line);
        return 0;
    }
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = 0;
        /* id parent maj:min root mountpoint opts [optional...] - fstype src superopts */
        char *fld[6] = {0};
        char *save = NULL, *tok = strtok_r(line, " ", &save);
        int nf = 0;
        while (tok && nf < 5) {
            fld[nf++] = tok;
            tok = strtok_r(NULL, " ", &save);
        }
        if (nf < 5)
            continue;
        while (tok && strcmp(tok, "-") != 0)
            tok = strtok_r(NULL, " ", &save);
        char *fstype = tok ? strtok_r(NULL, " ", &save) : NULL;
        char *src = fstype ? strtok_r(NULL, " ", &save) : NULL;
        char *superopts = src ? strtok_r(NULL, " ", &save) : NULL;
        if (!fstype)
            continue;
        bool v2;
        const char *cgpath;
        if (strcmp(fstype, "cgroup2") == 0 && have_v2) {
            v2 = true;
            cgpath = v2path;
        } else if (strcmp(fstype, "cgroup") == 0 && have_v1 && has_item(superopts, "cpu")) {
            v2 = false;
            cgpath = v1path;
        } else {
            continue;
        }
        char *root = fld[3], *mnt = fld[4];
        unescape_mountinfo(root);
        unescape_mountinfo(mnt);
        /* Our cgroup relative to what is mounted here.  If it is not below
         * the mount's root (a cgroup namespace boundary), the mount point
         * itself is the closest directory we can see. */
        size_t rl = strlen(root);
        const char *rel = "";
        if (strcmp(root, "/") == 0)
            rel = cgpath;
        else if (strncmp(cgpath, root, rl) == 0 && (cgpath[rl] == '/' || cgpath[rl] == 0))
            rel = cgpath + rl;
        char dir[PATH_MAX];
        if (snprintf(dir, sizeof dir, "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel) >=
            (int)sizeof dir)
            continue;
        /* Walk up to the mount point: a parent's quota limits us too. */
        size_t mntlen = strlen(mnt);
        for (;;) {
            int lim = cgroup_dir_limit(dir, v2);
            if (lim > 0 && (best == 0 || lim < best))
                best = lim;
            size_t dl = strlen(dir);
            if (dl <= mntlen)
                break;
            char *slash = strrchr(dir, '/');
            if (!slash || (size_t)(slash - dir) < mntlen)
                break;
            *slash = 0;
            if (strlen(dir) < mntlen)
                break;
        }
    }
    fclose(f);
    free(line);
    return best;
}

int gort__affinity_ncpu(void)
{
    return affinity_cpus();
}

int gort__ncpu(void)
{
    int n = affinity_cpus();
    int q = cgroup_cpus();
    if (q > 0 && q < n)
        n = q;
    return n < 1 ? 1 : n;
}

/* Put `back` on the calling thread if its mask is still `set`, what we
 * made it: a mask changed meanwhile from outside (taskset, a cpuset, the
 * program) is the newer word and stays.  The window left between the
 * check and the write is a system call's; the kernel has no
 * compare-and-set for masks. */
static void restore_if_ours(const cpu_set_t *set, const cpu_set_t *back)
{
    cpu_set_t now;
    if (sched_getaffinity(0, sizeof now, &now) == 0 && CPU_EQUAL(&now, set))
        sched_setaffinity(0, sizeof *back, back);
}

void gort__cpu_leave(int cpu)
{
    cpu_set_t cur, other;
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof cur, &cur) != 0)
        return;
    other = cur;
    CPU_CLR(cpu, &other);
    if (CPU_COUNT(&other) == 0)
        return;
    /* Allowed elsewhere only, the kernel moves the thread at once; the
     * old mask back, it stays where it landed. */
    if (sched_setaffinity(0, sizeof other, &other) == 0)
        restore_if_ours(&other, &cur);
}

_Static_assert(sizeof(((M *)0)->pinmask) == sizeof(cpu_set_t), "M.pinmask is a cpu_set_t");

void gort__cpu_pin_here(M *m)
{
    int cpu = sched_getcpu();
    cpu_set_t *mask = (cpu_set_t *)m->pinmask;
    if (cpu < 0 || cpu >= CPU_SETSIZE || m->tid <= 0 ||
        sched_getaffinity(m->tid, sizeof *mask, mask) != 0 || !CPU_ISSET(cpu, mask) ||
        CPU_COUNT(mask) < 2)
        return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(m->tid, sizeof one, &one) == 0)
        m->pinned = cpu + 1;
}

void gort__cpu_unpin(M *m)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(m->pinned - 1, &one);
    m->pinned = 0;
    restore_if_ours(&one, (cpu_set_t *)m->pinmask);
}

/* sched_setattr(2)'s argument, declared here: glibc 2.36 has no wrapper
 * and <linux/sched/types.h> is missing from older kernel headers. */
struct sched_attr_ {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};

/* sysmon's thread: what it had before it asked (its creator's) and what
 * it asked for.  Written once by sysmon at its start, read only by it. */
static struct sched_attr_ before_attr, sysmon_attr;
static bool attr_ok;
static char before_name[16];
static const char *sysmon_name;
static __thread bool on_sysmon;

/* Ask the kernel for slices of `ns` for the calling thread: EEVDF (Linux
 * 6.12 and later) reads sched_runtime of a SCHED_OTHER thread as its
 * slice request, and a waking thread whose slice is shorter than the
 * running one's may preempt it at once (PREEMPT_SHORT) instead of waiting
 * for that thread's slice or the next tick.  sysmon needs that: it wakes
 * every few dozen microseconds to time slices, and when every P's thread
 * is running a goroutine, sysmon shares their CPUs.  With the default
 * slice, 2 Ps running 4 goroutines at quantum=200us, sysmon woke 3-4 ms
 * past its deadline (a 4 ms tick) often enough that in 41-56 runs of 300
 * no preemption was asked for at all in 5 ms; with a 100 us slice, 9-13.
 * The policy and nice value are kept (a thread the user made real-time,
 * batch or idle is left alone); an older kernel ignores the field and a
 * refusal (a seccomp filter) only costs the hint.  No privilege is
 * needed: it asks for shorter slices, not for more CPU.
 *
 * The kernel copies a thread's slice (and its name) to the threads and
 * processes it creates, and sysmon creates Ms (a hand-off, a wakep for a
 * timer): a review found 5 of 6 Ms named gort-sysmon with its slice, and
 * a program one of them exec'd with the slice too.  So sysmon takes both
 * off around pthread_create (gort__cpu_sysmon_creating, four system calls
 * on a path that creates a thread).  Rejected: the new thread putting
 * them back itself (until it has, it shows sysmon's name and slice), and
 * SCHED_FLAG_RESET_ON_FORK on sysmon (it also resets a negative nice to 0
 * in the threads created). */
static bool set_attr(const struct sched_attr_ *want)
{
    struct sched_attr_ a = *want;
    a.size = sizeof a;
    a.flags &= 1; /* SCHED_FLAG_RESET_ON_FORK, as it was; the others ask for more */
    return syscall(SYS_sched_setattr, 0, &a, 0) == 0;
}

void gort__cpu_sysmon_thread(bool slice, int64_t ns, const char *name)
{
    on_sysmon = true;
    if (prctl(PR_GET_NAME, before_name, 0, 0, 0) != 0)
        before_name[0] = 0;
    sysmon_name = name;
    if (slice && syscall(SYS_sched_getattr, 0, &before_attr, (unsigned)sizeof before_attr, 0) == 0 &&
        before_attr.policy == SCHED_OTHER) {
        sysmon_attr = before_attr;
        sysmon_attr.runtime = (uint64_t)ns;
        attr_ok = set_attr(&sysmon_attr);
    }
    prctl(PR_SET_NAME, sysmon_name, 0, 0, 0);
}

/* Around a pthread_create on sysmon's thread.  The slice before it
 * asked, as read then, not "the default" (runtime 0): the kernel reports
 * a slice without saying whether one was asked for, and a program that
 * set one for its threads keeps it in its Ms. */
void gort__cpu_sysmon_creating(bool creating)
{
    if (!on_sysmon)
        return;
    if (before_name[0])
        prctl(PR_SET_NAME, creating ? before_name : sysmon_name, 0, 0, 0);
    if (attr_ok)
        set_attr(creating ? &before_attr : &sysmon_attr);
}
