/*
 * test_sysmon_slice.c — sysmon asks the kernel for a 100 us time slice
 * (sched_setattr's sched_runtime, src/cpus_linux.c gort__cpu_short_slice),
 * so that on Linux 6.12+ it preempts a busy M when it wakes; the Ms keep
 * the kernel's default, and GORTDEBUG=sysmonslice=0 leaves sysmon's alone.
 * sysmon is found by its thread name, gort-sysmon, which it takes after
 * the request.  The kernel copies a thread's slice and name to the threads
 * it creates, and sysmon creates Ms (hand-offs from goroutines in calls):
 * goroutines sleep in gort_syscall_enter/exit brackets until sysmon has
 * handed Ps off, and then no thread but sysmon may have its slice or
 * name.  A kernel that does not keep a custom slice (before 6.12,
 * probed on a plain thread first) skips the checks, saying so.
 */
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

struct sattr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};

/* Thread tid's scheduling attributes (0: the caller's); false if the
 * kernel refused (the thread ended, no sched_getattr). */
static bool attr_of(long tid, struct sattr *a)
{
    memset(a, 0, sizeof *a);
    return syscall(SYS_sched_getattr, tid, a, (unsigned)sizeof *a, 0) == 0;
}

static uint64_t slice_of(long tid)
{
    struct sattr a;
    CHECK(attr_of(tid, &a), "sched_getattr(%ld): %s", tid, strerror(errno));
    return a.runtime;
}

static uint64_t default_slice;

/* Does the kernel keep (and report) a slice set on a thread? */
static void *probe(void *arg)
{
    struct sattr a;
    if (!attr_of(0, &a))
        return NULL;
    default_slice = a.runtime;
    a.size = sizeof a;
    a.flags = 0;
    a.runtime = 100000;
    if (syscall(SYS_sched_setattr, 0, &a, 0) != 0)
        return NULL;
    *(bool *)arg = slice_of(0) == 100000 && default_slice != 100000;
    return NULL;
}

/* Call fn(tid, name) for every thread of the process; stops at a true. */
static long each_thread(bool (*fn)(long tid, const char *name, void *arg), void *arg)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL);
    long found = 0;
    struct dirent *e;
    while ((e = readdir(d)) && !found) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue; /* ended meanwhile */
        if (fgets(comm, sizeof comm, f))
            comm[strcspn(comm, "\n")] = 0;
        fclose(f);
        if (fn(atol(e->d_name), comm, arg))
            found = atol(e->d_name);
    }
    closedir(d);
    return found;
}

static bool named_sysmon(long tid, const char *name, void *arg)
{
    (void)tid;
    (void)arg;
    return strcmp(name, "gort-sysmon") == 0;
}

/* Every thread but sysmon: not its name, not its slice. */
static int others;
static bool check_other(long tid, const char *name, void *arg)
{
    if (tid == *(long *)arg)
        return false;
    CHECK(strcmp(name, "gort-sysmon") != 0, "thread %ld is named gort-sysmon too", tid);
    struct sattr a;
    if (!attr_of(tid, &a))
        return false; /* ended meanwhile */
    CHECK(a.runtime == default_slice, "thread %ld (%s) has a %llu ns slice", tid, name,
          (unsigned long long)a.runtime);
    others++;
    return false;
}

/* Goroutines that sleep in call brackets, so that sysmon hands their Ps
 * to Ms it starts itself. */
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static void in_calls(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        gort_syscall_enter();
        usleep(2000);
        gort_syscall_exit();
    }
    gort_wg_done(&wg);
}

static void check_slices(void *arg)
{
    bool want_short = arg != NULL;
    long sysmon = 0;
    for (int64_t t0 = gort_nanotime(); !(sysmon = each_thread(named_sysmon, NULL));) {
        CHECK(gort_nanotime() - t0 < 10LL * 1000000000, "no thread named gort-sysmon after 10 s");
        gort_sleep(1000000);
    }
    uint64_t s = slice_of(sysmon);
    printf("sysmon (thread %ld): slice %llu ns, default %llu\n", sysmon, (unsigned long long)s,
           (unsigned long long)default_slice);
    if (want_short)
        CHECK(s == 100000, "sysmon's slice is %llu ns, not 100 us", (unsigned long long)s);
    else
        CHECK(s == default_slice, "sysmonslice=0, yet sysmon's slice is %llu ns", (unsigned long long)s);
    gort_stats s0, s1;
    gort_read_stats(&s0);
    gort_wg_add(&wg, 6);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(gort_go(in_calls, NULL), 0);
    gort_wg_wait(&wg);
    gort_read_stats(&s1);
    others = 0;
    each_thread(check_other, &sysmon);
    printf("%llu hand-offs; %d other threads, none named gort-sysmon, all with the default slice\n",
           (unsigned long long)(s1.handoffs - s0.handoffs), others);
    CHECK(s1.handoffs > s0.handoffs, "no P was handed off: sysmon started no M");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    bool kept = false;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, probe, &kept) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    if (!kept) {
        printf("skipped: this kernel does not keep a custom time slice (Linux 6.12+ does)\n");
        return 0;
    }
    run_main_child(check_slices, (void *)1, "2", NULL);
    run_main_child(check_slices, NULL, "2", "sysmonslice=0");
    printf("sysmon asks for a 100 us slice, and only sysmon; sysmonslice=0 turns it off\n");
    return 0;
}
