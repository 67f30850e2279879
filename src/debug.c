/*
 * debug.c — configuration (GORTMAXPROCS, GORTSTACKSIZE, GORTDEBUG), the
 * monotonic clock, the runtime's PRNG and its stdio-free printer.
 *
 * Configuration.  gort__cfg holds compiled-in defaults until
 * gort__parse_env() runs (once, from scheduler init; later calls are
 * no-ops), after which it is read-only except for fields the scheduler
 * itself changes under its own rules.  A bad value never stops the
 * program: it is reported once on stderr and the default is kept, like
 * Go's GODEBUG.  The default GORTMAXPROCS is the number of CPUs this
 * process may actually use: the affinity mask, lowered by a cgroup CPU
 * quota (v2 cpu.max or v1 cpu.cfs_quota_us/period) anywhere on the path
 * from our cgroup up to the hierarchy's root, rounded up — a container
 * limited to 1.5 CPUs gets 2 Ps, not one per host core.
 *
 * Printing.  gort__print formats into a stack buffer and write(2)s it, so
 * it can be used with runtime locks held, on g0, from fatal paths and
 * (with care: vsnprintf of integers and strings does not allocate in
 * glibc) from a signal handler.  stdio would take FILE locks that a
 * preempted or crashed thread may hold.
 *
 * Randomness.  gort__fastrand is on hot paths (select's case order, steal
 * victims), so it is a per-M xorshift with no atomics: each M owns its
 * m->fastrand.  Threads without an M use a __thread state instead.
 *
 * Rejected: parsing with sscanf/strtol on unchecked input (silently
 * accepts "10xyz"), reading cgroup limits only at /sys/fs/cgroup/cpu.max
 * (wrong inside nested cgroups and on v1 hosts: we follow
 * /proc/self/cgroup through /proc/self/mountinfo instead).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAXPROCS_LIMIT 1024               /* like Go's _MaxGomaxprocs */
#define STACK_MIN (16 * 1024)
#define STACK_MAX ((size_t)1 << 30)

gort__config gort__cfg = {
    .maxprocs = 0,                        /* 0 until parse_env computes it */
    .stacksize = 256 * 1024,
    .schedtrace_ms = 0,
    .quantum_ns = 10 * 1000 * 1000,
    .asyncpreemptoff = false,
    .stuck_report_ns = 1000 * 1000 * 1000,
    .scheddetail = false,
};

/* ---------------------------------------------------------------------
 * Clock
 * ------------------------------------------------------------------- */

int64_t gort_nanotime(void)
{
    struct timespec ts;
    /* vDSO: no syscall.  Cannot fail for CLOCK_MONOTONIC on Linux. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---------------------------------------------------------------------
 * Printing without stdio or malloc
 * ------------------------------------------------------------------- */

static void write_all(int fd, const char *p, size_t n)
{
    int saved = errno; /* a handler or a goroutine's errno must not change */
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break; /* nowhere to report it */
        }
        p += w;
        n -= (size_t)w;
    }
    errno = saved;
}

/* Shared with traceback.c (declared there): print to any fd. */
GORT_HIDDEN void gort__vfdprint(int fd, const char *fmt, va_list ap);
void gort__vfdprint(int fd, const char *fmt, va_list ap)
{
    /* 2 KiB: one schedtrace line for a few hundred Ps fits, and it is small
     * enough for a signal alternate stack.  Longer output is cut, marked. */
    char buf[2048];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf) {
        static const char mark[] = "...[truncated]\n";
        n = sizeof buf - 1;
        memcpy(buf + n - (sizeof mark - 1), mark, sizeof mark - 1);
    }
    write_all(fd, buf, (size_t)n);
}

void gort__print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gort__vfdprint(2, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------
 * PRNG
 * ------------------------------------------------------------------- */

static __thread uint64_t tls_rand;

static uint64_t rand_seed(void)
{
    /* splitmix64 of tid and time: distinct per thread and per run. */
    uint64_t x = (uint64_t)gort_nanotime() ^ ((uint64_t)syscall(SYS_gettid) << 32) ^
                 (uint64_t)(uintptr_t)&tls_rand;
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x ? x : 0x2545f4914f6cdd1dull; /* xorshift's state must not be 0 */
}

static inline uint32_t xorshift_next(uint64_t *state)
{
    uint64_t s = *state;
    if (unlikely(s == 0))
        s = rand_seed();
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    *state = s;
    /* xorshift64*: the multiply mixes the weak low bits into the top. */
    return (uint32_t)((s * 0x2545f4914f6cdd1dull) >> 32);
}

uint32_t gort__fastrand(void)
{
    M *m = gort__getm();
    /* A goroutine that moves to another M between these lines only makes
     * the old M's sequence skip a value; runtime code is not preempted
     * asynchronously, so two threads never share one state for long. */
    return xorshift_next(m ? &m->fastrand : &tls_rand);
}

/* ---------------------------------------------------------------------
 * Parsing helpers
 * ------------------------------------------------------------------- */

/* Unsigned decimal [s, e) into *out; false on empty/garbage/overflow. */
static bool parse_u64(const char *s, const char *e, uint64_t *out)
{
    if (s == e)
        return false;
    uint64_t v = 0;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Duration of the substring [s, e): digits then ns|us|µs|ms|s or nothing
 * (nanoseconds).  -1 if bad or it does not fit in int64. */
static int64_t parse_duration_n(const char *s, const char *e)
{
    const char *d = s;
    while (d < e && *d >= '0' && *d <= '9')
        d++;
    uint64_t v;
    if (!parse_u64(s, d, &v))
        return -1;
    size_t ulen = (size_t)(e - d);
    uint64_t mul;
    if (ulen == 0 || (ulen == 2 && memcmp(d, "ns", 2) == 0))
        mul = 1;
    else if ((ulen == 2 && memcmp(d, "us", 2) == 0) ||
             (ulen == 3 && memcmp(d, "\xc2\xb5s", 3) == 0))
        mul = 1000;
    else if (ulen == 2 && memcmp(d, "ms", 2) == 0)
        mul = 1000 * 1000;
    else if (ulen == 1 && *d == 's')
        mul = 1000 * 1000 * 1000;
    else
        return -1;
    if (v > (uint64_t)INT64_MAX / mul)
        return -1;
    return (int64_t)(v * mul);
}

int64_t gort__parse_duration(const char *s)
{
    if (!s)
        return -1;
    return parse_duration_n(s, s + strlen(s));
}

/* Size in bytes with an optional K/M/G suffix (powers of 1024; "k", "KB",
 * "KiB" too).  0 if bad. */
static size_t parse_size(const char *s)
{
    const char *e = s + strlen(s);
    const char *d = s;
    while (d < e && *d >= '0' && *d <= '9')
        d++;
    uint64_t v;
    if (!parse_u64(s, d, &v))
        return 0;
    uint64_t mul = 1;
    if (d < e) {
        switch (*d) {
        case 'k': case 'K': mul = 1ull << 10; break;
        case 'm': case 'M': mul = 1ull << 20; break;
        case 'g': case 'G': mul = 1ull << 30; break;
        case 'b': case 'B': mul = 1; break;
        default: return 0;
        }
        const char *rest = d + 1;
        if (mul != 1 && (strcmp(rest, "B") == 0 || strcmp(rest, "iB") == 0 ||
                         strcmp(rest, "b") == 0))
            rest = e;
        if (rest != e)
            return 0;
    }
    if (v > UINT64_MAX / mul || v * mul > SIZE_MAX)
        return 0;
    return (size_t)(v * mul);
}

/* ---------------------------------------------------------------------
 * CPU count: affinity mask and cgroup quota
 * ------------------------------------------------------------------- */

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
        if (!parse_u64(a, sp, &quota) || !parse_u64(sp + 1, sp + 1 + strlen(sp + 1), &period))
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
        if (!parse_u64(a, a + strlen(a), &quota) || !parse_u64(b, b + strlen(b), &period))
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

static int default_maxprocs(void)
{
    int n = affinity_cpus();
    int q = cgroup_cpus();
    if (q > 0 && q < n)
        n = q;
    if (n > MAXPROCS_LIMIT)
        n = MAXPROCS_LIMIT;
    return n < 1 ? 1 : n;
}

/* ---------------------------------------------------------------------
 * Environment
 * ------------------------------------------------------------------- */

static void warn_value(const char *var, const char *key, size_t keylen, const char *val,
                      size_t vallen)
{
    if (key)
        gort__print("gort: warning: %s: bad value '%.*s' for key '%.*s' (ignored)\n", var,
                    (int)vallen, val, (int)keylen, key);
    else
        gort__print("gort: warning: %s: bad value '%.*s' (ignored)\n", var, (int)vallen, val);
}

static bool key_is(const char *k, size_t kl, const char *name)
{
    return strlen(name) == kl && memcmp(k, name, kl) == 0;
}

/* True if an earlier item of the GORTDEBUG string s, before `item`, has
 * the same key (key_only) or is the same key=value, so its warning was
 * already printed. */
static bool seen_before(const char *s, const char *item, size_t il, size_t kl, bool key_only)
{
    for (const char *p = s; p < item; ) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (key_only) {
            const char *eq = memchr(p, '=', len);
            size_t pkl = eq ? (size_t)(eq - p) : len;
            if (pkl == kl && memcmp(p, item, kl) == 0)
                return true;
        } else if (len == il && memcmp(p, item, il) == 0) {
            return true;
        }
        if (!c)
            break;
        p = c + 1;
    }
    return false;
}

static void parse_gortdebug(const char *s)
{
    for (const char *p = s; *p; ) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *k = p;
        size_t kl = (size_t)((eq ? eq : end) - p);
        const char *v = eq ? eq + 1 : end;
        size_t vl = (size_t)(end - v);
        bool ok = eq != NULL;
        bool known = true;
        uint64_t u = 0;
        int64_t d;

        if (kl == 0 && !eq) {
            /* empty item ("a=1,,b=2"): ignore */
        } else if (key_is(k, kl, "schedtrace")) {
            if ((ok = ok && parse_u64(v, end, &u) && u <= (uint64_t)INT32_MAX))
                gort__cfg.schedtrace_ms = (int64_t)u;
        } else if (key_is(k, kl, "scheddetail")) {
            if ((ok = ok && parse_u64(v, end, &u) && u <= 1))
                gort__cfg.scheddetail = u != 0;
        } else if (key_is(k, kl, "asyncpreemptoff")) {
            if ((ok = ok && parse_u64(v, end, &u) && u <= 1))
                gort__cfg.asyncpreemptoff = u != 0;
        } else if (key_is(k, kl, "quantum")) {
            /* 0 would make sysmon preempt everything it sees. */
            if ((ok = ok && (d = parse_duration_n(v, end)) > 0))
                gort__cfg.quantum_ns = d;
        } else if (key_is(k, kl, "stuckreport")) {
            if ((ok = ok && (d = parse_duration_n(v, end)) >= 0))
                gort__cfg.stuck_report_ns = d;
        } else {
            known = false;
        }
        if (!known && !seen_before(s, p, (size_t)(end - p), kl, true))
            gort__print("gort: warning: GORTDEBUG: unknown key '%.*s'\n", (int)kl, k);
        else if (known && !ok && !(kl == 0 && !eq) &&
                 !seen_before(s, p, (size_t)(end - p), kl, false))
            warn_value("GORTDEBUG", k, kl, v, vl);
        p = *end ? end + 1 : end;
    }
}

static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void parse_env_once(void)
{
    const char *s;

    int procs = default_maxprocs();
    if ((s = getenv("GORTMAXPROCS")) && *s) {
        uint64_t u;
        if (parse_u64(s, s + strlen(s), &u) && u >= 1 && u <= MAXPROCS_LIMIT)
            procs = (int)u;
        else
            warn_value("GORTMAXPROCS", NULL, 0, s, strlen(s));
    }
    gort__cfg.maxprocs = procs;

    if ((s = getenv("GORTSTACKSIZE")) && *s) {
        size_t sz = parse_size(s);
        if (sz == 0 || sz > STACK_MAX) {
            warn_value("GORTSTACKSIZE", NULL, 0, s, strlen(s));
        } else {
            long pg = sysconf(_SC_PAGESIZE);
            size_t page = pg > 0 ? (size_t)pg : 4096;
            if (sz < STACK_MIN)
                sz = STACK_MIN;
            gort__cfg.stacksize = (sz + page - 1) & ~(page - 1);
        }
    }

    if ((s = getenv("GORTDEBUG")) && *s)
        parse_gortdebug(s);
}

void gort__parse_env(void)
{
    pthread_once(&env_once, parse_env_once);
}
